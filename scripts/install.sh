#!/usr/bin/env bash
# Build .venv with Rasa Open Source 3.6.21 on this machine's Python 3.11 (see README.md, "Install notes").
# Idempotent: `make install` only calls this when a requirements file is newer than the .venv stamp.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
quiet() { "$@" 2> >(grep -v "WARNING: Location 'file://" >&2); }

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=".venv/bin/pip --disable-pip-version-check -q"
echo "[install] Rasa's dependencies (requirements/base.txt, locked by requirements/constraints.txt)"
quiet $PIP install -r requirements/base.txt -c requirements/constraints.txt
echo "[install] rasa 3.6.21 and rasa-sdk 3.6.2 (their metadata says Python <3.11; everything they need is installed above)"
quiet $PIP install --no-deps --ignore-requires-python rasa==3.6.21 rasa-sdk==3.6.2
echo "[install] the project's own packages (requirements/extra.txt)"
quiet $PIP install -r requirements/extra.txt -c requirements/constraints.txt
touch .venv/.installed
echo "[install] done"
