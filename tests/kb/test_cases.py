"""Runs every case in tests/kb_cases/*.yaml against the shipped knowledge base (format: tests/kb_cases/README.md)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from policies_kb import MIN_CONFIDENT_SCORE, KnowledgeBase
from policies_kb._loader import parse_yaml
from policies_kb._schema import parse_iso_date

CASES_DIR = Path(__file__).resolve().parents[1] / "kb_cases"
SHAPES = {
    "search": ({"name", "question", "on", "expect_rule"}, {"topic"}),
    "evaluate": ({"name", "rule", "on", "expect"}, {"facts", "answers"}),
    "in_force": ({"name", "rule", "on", "expect_in_force"}, set()),
}
EXPECT_KEYS = {"outcome", "amount", "missing_facts", "reason_contains"}


def _collect():
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        data, errors = parse_yaml(path.read_text(encoding="utf-8"), str(path))
        if errors or not isinstance(data, list):
            params.append(
                pytest.param(path, None, errors or ["a case file must be a YAML list"], id=f"{path.stem}::(file)")
            )
            continue
        seen = set()
        for index, case in enumerate(data):
            name = case.get("name") if isinstance(case, dict) else None
            problems = [] if name else [f"case #{index + 1} has no name"]
            if name in seen:
                problems.append(f"duplicate name {name!r}")
            seen.add(name)
            params.append(pytest.param(path, case, problems, id=f"{path.stem}::{name or index + 1}"))
    return params or [pytest.param(None, None, [], id="no-cases", marks=pytest.mark.skip("no case files yet"))]


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load()


def _shape(case: dict) -> str:
    keys = set(case)
    matches = [shape for shape, (required, optional) in SHAPES.items() if required <= keys <= required | optional]
    if len(matches) != 1:
        raise AssertionError(f"case keys {sorted(keys)} match none of the shapes in tests/kb_cases/README.md")
    return matches[0]


@pytest.mark.parametrize("path, case, problems", _collect())
def test_case(kb, path, case, problems):
    assert not problems, problems
    shape = _shape(case)
    day = parse_iso_date(case["on"])
    assert isinstance(day, datetime.date), f"on: {case['on']!r} is not an ISO date"

    if shape == "search":
        hits = kb.search(case["question"], on=day, topic=case.get("topic"))
        expected = case["expect_rule"]
        got = [(hit.rule.id, round(hit.score, 3)) for hit in hits[:3]]
        if expected is None:
            assert not hits or hits[0].score < MIN_CONFIDENT_SCORE, f"expected no confident hit, got {got}"
            return
        assert kb.get(expected) is not None, f"expect_rule {expected!r} does not exist"
        assert hits and hits[0].rule.id == expected, f"top hits {got}"
        assert hits[0].score >= MIN_CONFIDENT_SCORE, f"right rule but not confident: {got}"

    elif shape == "evaluate":
        assert kb.get(case["rule"]) is not None, f"rule {case['rule']!r} does not exist"
        expect = case["expect"]
        assert isinstance(expect, dict) and expect and set(expect) <= EXPECT_KEYS, f"expect keys: {EXPECT_KEYS}"
        facts = dict(case.get("facts") or {})
        for name in facts:
            assert name in kb.facts, f"fact {name!r} is not declared"
        for name, text in (case.get("answers") or {}).items():
            value = kb.parse_fact(name, text)
            assert value is not None, f"parse_fact could not read {text!r} for {name}"
            facts[name] = value
        result = kb.evaluate(case["rule"], facts, on=day)
        if "outcome" in expect:
            assert result.outcome == expect["outcome"], result
        if "amount" in expect:
            value = result.amount["value"] if result.amount else None
            assert value == expect["amount"], result
        if "missing_facts" in expect:
            assert result.missing_facts == list(expect["missing_facts"]), result
        if "reason_contains" in expect:
            assert expect["reason_contains"] in (result.reason or ""), result

    else:
        rule = kb.get(case["rule"])
        assert rule is not None, f"rule {case['rule']!r} does not exist"
        assert (rule in kb.rules_valid_on(day)) is bool(case["expect_in_force"])
