"""The command line, run in-process on the fixture knowledge base."""

from __future__ import annotations

import json
from pathlib import Path

from policies_kb.__main__ import main

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DIRS = ["--rules-dir", str(FIXTURES / "rules"), "--facts-dir", str(FIXTURES / "facts")]


def run(capsys, *args):
    code = main([*args, *DIRS])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_search_json(capsys):
    code, out, _ = run(capsys, "search", "老板不给工钱咋办", "--json", "--on", "2026-11-29", "--limit", "2")
    data = json.loads(out)
    assert code == 0 and data["hits"][0]["id"] == "labor_rights.wage_arrears_complaint"
    assert len(data["hits"]) <= 2 and 0 <= data["hits"][0]["score"] <= 1
    assert data["hits"][0]["citation"].startswith("《保障农民工工资支付条例》")


def test_search_text_shows_id_score_citation(capsys):
    code, out, _ = run(capsys, "search", "创业担保贷款额度", "--on", "2026-11-29", "--topic", "startup_loan")
    assert code == 0 and "startup_loan.loan_limits" in out and "《宁夏回族自治区创业担保贷款实施办法》" in out


def test_show_and_export(capsys):
    code, out, _ = run(capsys, "show", "insurance.pension_15_years", "--json")
    assert code == 0 and json.loads(out)["sources"][0]["article"] == "第十六条"
    code, _, err = run(capsys, "show", "insurance.nope")
    assert code == 1 and "no rule" in err
    code, out, _ = run(capsys, "export", "--json")
    assert code == 0 and len(json.loads(out)) == 7


def test_evaluate_parses_free_text_values(capsys):
    code, out, _ = run(
        capsys, "evaluate", "insurance.pension_15_years", "contribution_years=十二年", "--json", "--on", "2026-11-29"
    )
    result = json.loads(out)
    assert code == 0 and result["outcome"] == "not_eligible" and result["facts_used"] == {"contribution_years": 12}
    code, out, _ = run(capsys, "evaluate", "startup_loan.loan_limits", "--on", "2026-11-29")
    assert code == 0 and "applicant_type" in out and "is_priority_group" in out
    code, _, err = run(capsys, "evaluate", "startup_loan.loan_limits", "applicant_type=合作社", "--on", "2026-11-29")
    assert code == 2 and "cannot read" in err
