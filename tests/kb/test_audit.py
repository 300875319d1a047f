"""``python -m policies_kb audit``: qualities, quotes verified / not verifiable, stale and never-verified rules."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from policies_kb._audit import audit, format_audit
from policies_kb._loader import load_files

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
REPO = HERE.parent.parent


def _first_sources() -> dict[str, dict]:
    """The fixture rules' first sources, read straight from the YAML (independently of the loader)."""
    found = {}
    for path in sorted((FIXTURES / "rules").glob("*/*.yaml")):
        found[f"{path.parent.name}.{path.stem}"] = yaml.safe_load(path.read_text(encoding="utf-8"))["sources"][0]
    return found


def test_audit_counts_qualities_and_quotes_of_the_fixture_kb():
    data = audit(load_files(FIXTURES / "rules", FIXTURES / "facts"), datetime.date(2026, 12, 2))
    firsts = _first_sources()
    assert data["rules"] == len(firsts) == 7
    for quality, count in data["rules_per_quality"].items():
        assert count == sum(1 for source in firsts.values() if source["quality"] == quality), quality
    with_text = sorted(rule for rule, source in firsts.items() if "text" in source)
    assert data["quotes"]["verified"] == len(with_text) == 4
    assert data["quotes"]["not_verifiable_rules"] == sorted(set(firsts) - set(with_text))
    assert data["never_verified"] == [] and data["verified_over_a_year_ago"] == []
    assert data["errors"] == 0


def test_a_year_after_last_verified_every_rule_is_stale():
    result = load_files(FIXTURES / "rules", FIXTURES / "facts")
    last = {rule.id: rule.last_verified for rule in result.rules}
    day = max(last.values()).replace(year=max(last.values()).year + 1) + datetime.timedelta(days=1)
    assert audit(result, day)["verified_over_a_year_ago"] == sorted(last)
    exactly_a_year = min(last.values()).replace(year=min(last.values()).year + 1)
    assert audit(result, exactly_a_year)["verified_over_a_year_ago"] == []


def test_never_verified_and_altered_quotes_and_doc_numbers_are_listed(tmp_path):
    shutil.copytree(FIXTURES / "rules", tmp_path / "rules")
    pension = tmp_path / "rules/insurance/pension_15_years.yaml"
    text = pension.read_text(encoding="utf-8")
    text = text.replace(
        'verified_by: "test fixture: written by hand for the loader tests"', 'verified_by: "unverified"'
    )
    text = text.replace("累计缴费满十五年的", "累计缴费满十年的").replace('doc_no: ""', "doc_no: 主席令第35号")
    pension.write_text(text, encoding="utf-8")
    result = load_files(tmp_path / "rules", FIXTURES / "facts")
    data = audit(result, datetime.date(2026, 12, 2))
    assert data["never_verified"] == ["insurance.pension_15_years"]
    assert data["quotes"]["not_verified"] == ["insurance.pension_15_years"]
    assert data["quotes"]["verified"] == 3
    [mismatch] = data["doc_no_differs_from_text"]
    assert (mismatch["rule"], mismatch["cited"], mismatch["text"]) == (
        "insurance.pension_15_years",
        "主席令第35号",
        "social_insurance_law",
    )
    table = format_audit(data)
    assert "not verified (check refuses)         1" in table and "insurance.pension_15_years" in table


def test_audit_command_json_and_exit_code():
    run = subprocess.run(
        [sys.executable, "-m", "policies_kb", "audit", "--json", "--on", "2026-12-02"]
        + ["--rules-dir", str(FIXTURES / "rules"), "--facts-dir", str(FIXTURES / "facts")],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["on"] == "2026-12-02" and data["quotes"]["verified"] == 4
    broken = subprocess.run(
        [sys.executable, "-m", "policies_kb", "audit"]
        + [
            "--rules-dir",
            str(HERE / "broken/quote_altered/rules"),
            "--facts-dir",
            str(HERE / "broken/quote_altered/facts"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert broken.returncode == 1 and "not verified (check refuses)         1" in broken.stdout
