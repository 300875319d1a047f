"""Validity queries, the public value types, and what loading the package costs (no SQL, no Rasa)."""

from __future__ import annotations

import datetime
from pathlib import Path

from policies_kb import Rule

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_rules_valid_on_respects_both_ends(fixture_kb):
    def ids(day):
        return {rule.id for rule in fixture_kb.rules_valid_on(day)}

    assert "startup_loan.loan_limits_2021" in ids(datetime.date(2024, 10, 27))  # its last day
    assert "startup_loan.loan_limits_2021" not in ids(datetime.date(2024, 10, 28))
    assert "training.new_subsidy_2027" not in ids(datetime.date(2026, 12, 31))
    assert "training.new_subsidy_2027" in ids(datetime.date(2027, 1, 1))
    assert [rule.id for rule in fixture_kb.rules_by_topic("startup_loan", datetime.date(2026, 11, 29))] == [
        "startup_loan.loan_limits"
    ]
    assert [rule.id for rule in fixture_kb.rules_by_topic("startup_loan", datetime.date(2024, 10, 27))] == [
        "startup_loan.loan_limits_2021"
    ]
    assert fixture_kb.rules_by_topic("housing", datetime.date(2026, 11, 29)) == []


def test_get_and_to_dict(fixture_kb):
    rule = fixture_kb.get("startup_loan.loan_limits")
    assert isinstance(rule, Rule) and fixture_kb.get("startup_loan.nope") is None
    data = rule.to_dict()
    assert list(data) == [
        "id",
        "topic",
        "title",
        "questions",
        "answer",
        "quote",
        "sources",
        "scope",
        "decided_locally",
        "effective_from",
        "effective_until",
        "last_verified",
        "verified_by",
        "superseded_by",
        "change_note",
        "facets",
        "related",
        "conditions",
    ]
    assert list(data["sources"][0]) == ["title", "doc_no", "issuer", "date", "article", "url", "quality", "text"]
    assert data["effective_from"] == "2024-10-28" and data["effective_until"] is None
    assert data["sources"][0]["date"] == "2024-10-28"


def test_citation_is_one_short_line(fixture_kb):
    assert fixture_kb.get("startup_loan.loan_limits").citation() == (
        "《宁夏回族自治区创业担保贷款实施办法》（宁人社规字〔2024〕8号）第二条，自治区人力资源和社会保障厅等，2024-10-28"
    )
    assert fixture_kb.get("insurance.pension_15_years").citation() == (
        "《中华人民共和国社会保险法》第十六条，全国人民代表大会常务委员会，2018-12-29"
    )


def test_facts_are_exposed(fixture_kb):
    spec = fixture_kb.facts["applicant_type"]
    assert (spec.type, spec.choices["small_firm"]) == ("choice", "小微企业")


def test_package_does_not_import_rasa_or_sqlalchemy_or_look_up_today():
    import subprocess
    import sys

    code = (
        "import sys, policies_kb; policies_kb.KnowledgeBase.load(); "
        "print(any(m.split('.')[0] in ('rasa', 'rasa_sdk', 'sqlalchemy') for m in sys.modules))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2]
    )
    assert run.stdout.strip() == "False", run.stderr
    package = Path(__file__).resolve().parents[2] / "policies_kb"
    offenders = [
        path.name
        for path in package.glob("*.py")
        if "date.today()" in path.read_text(encoding="utf-8") and path.name != "__main__.py"
    ]
    assert offenders == []
