# 宁夏农民工政策助手: `make run` to run the assistant, `make test` to test it (see README.md).
PY := .venv/bin/python
REQUIREMENTS := requirements/base.txt requirements/constraints.txt requirements/extra.txt

.PHONY: install system-deps train run chat lint test bench soak clean

install: .venv/.installed

.venv/.installed: $(REQUIREMENTS) scripts/install.sh
	bash scripts/install.sh

system-deps:
	bash scripts/install-system.sh

train: install
	$(PY) -m bot train

run: install
	$(PY) -m bot run

chat: install
	$(PY) -m bot chat

# ruff (lint and format) and mypy, settings in pyproject.toml; `make test` runs it first.
lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

test: install system-deps lint
	bash scripts/test.sh

# Figures, not a gate: bench/results/latest.json and latest.md (see bench/README.md), with the held-out conversations
# (bench/conversations/, issue 12) and single questions; under ~25 min on 2 cores.
bench: install
	$(PY) bench/run.py

# The reliability suite with longer load runs (NXA_SOAK=1: 50 senders × 100 turns per channel), bounded in time.
soak: install system-deps
	NXA_SOAK=1 RASA_TELEMETRY_ENABLED=false timeout 3600 $(PY) -m pytest tests/reliability -q

clean:
	rm -rf var models .rasa results .pytest_cache
