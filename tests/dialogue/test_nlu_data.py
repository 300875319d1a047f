"""The NLU training data: enough varied examples per intent, generated files up to date, the held-out set apart."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter

import yaml

from bot.settings import ROOT
from nlu.text import normalize_keep_offsets
from tests.support.domain import load_domain

NLU_DIR = ROOT / "data" / "nlu"
# Derived from other data; data/nlu/topics.yml is generated too, but from the examples written by hand in the registry
# (policies_kb/topics.yaml), so it counts as hand-written here.
GENERATED = {"kb_questions.yml", "lookups.yml"}
BUTTON_ONLY_ENTITIES = {"rule_id", "eligibility_rule", "case_type"}


def examples(paths) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in paths:
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            if "intent" in block:
                lines = [line.strip()[2:].strip() for line in block["examples"].splitlines() if line.strip()]
                found.setdefault(block["intent"], []).extend(lines)
    return found


def plain(example: str) -> str:
    return "".join(
        ch for ch in normalize_keep_offsets(re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", example)) if ch.isalnum()
    )


def test_every_intent_has_at_least_40_handwritten_examples():
    domain = load_domain()
    handwritten = examples(p for p in sorted(NLU_DIR.glob("*.yml")) if p.name not in GENERATED)
    counts = {intent: len(handwritten.get(intent, [])) for intent in domain["intents"]}
    assert {intent: n for intent, n in counts.items() if n < 40} == {}


def test_the_data_speaks_like_the_workers():
    text = "\n".join(line for lines in examples(NLU_DIR.glob("*.yml")).values() for line in lines)
    for word in ("咋办", "娃娃", "工钱", "整", "俺", "啥", "咋"):
        assert word in text
    assert re.search(r"[們這麼讓請說話學費錢對過還會來個時]", text), "traditional characters"
    for place in ("金凤区", "闽宁镇", "同心", "红寺堡"):
        assert place in text


def test_entities_are_annotated_and_counties_come_from_the_places_file():
    text = "\n".join(path.read_text(encoding="utf-8") for path in NLU_DIR.glob("*.yml"))
    annotated = Counter(re.findall(r"\]\((\w+)", text))
    assert {"county", "insurance_type", "amount", "duration"} <= set(annotated)
    domain = load_domain()
    assert set(domain["entities"]) - BUTTON_ONLY_ENTITIES <= set(annotated)


def test_generated_files_are_up_to_date():
    result = subprocess.run(
        [sys.executable, str(ROOT / "data" / "generate.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_the_held_out_set_is_never_trained_on_and_covers_every_intent():
    training = {plain(line) for lines in examples(NLU_DIR.glob("*.yml")).values() for line in lines}
    held_out = examples(sorted((ROOT / "tests" / "nlu_holdout").glob("*.yml")))
    leaked = [line for lines in held_out.values() for line in lines if plain(line) in training]
    assert leaked == []
    domain = load_domain()
    assert set(held_out) == set(domain["intents"])
    assert min(len(lines) for lines in held_out.values()) >= 10
