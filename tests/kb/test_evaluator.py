"""Three-valued evaluation of rule conditions, and free-text answers to typed facts."""

from __future__ import annotations

import ast
import datetime
from pathlib import Path

import pytest

from policies_kb._evaluator import evaluate_expression, evaluate_rule
from policies_kb._schema import FactSpec, Rule

T = {"always": True}


def fact(name, op, value):
    return {"fact": name, "op": op, "value": value}


A_TRUE, B_FALSE = fact("a", "==", 1), fact("b", "==", 1)
FACTS = {"a": 1, "b": 2}  # a == 1 is true, b == 1 is false; c is unknown


@pytest.mark.parametrize(
    "expr, value, missing",
    [
        ({"all": [A_TRUE, fact("c", "==", 1)]}, None, ["c"]),
        ({"all": [B_FALSE, fact("c", "==", 1)]}, False, []),  # false AND unknown = false: c need not be asked
        ({"all": [fact("c", "==", 1), B_FALSE]}, False, []),  # order does not matter
        ({"any": [A_TRUE, fact("c", "==", 1)]}, True, []),  # true OR unknown = true
        ({"any": [B_FALSE, fact("c", "==", 1)]}, None, ["c"]),
        ({"any": [B_FALSE, B_FALSE]}, False, []),
        ({"not": fact("c", "==", 1)}, None, ["c"]),
        ({"not": A_TRUE}, False, []),
        ({"all": [fact("d", "<", 3), {"any": [fact("c", ">", 1), fact("d", "==", 0)]}]}, None, ["d", "c"]),
        (fact("a", "in", [1, 2]), True, []),
        (fact("b", "!=", 2), False, []),
        (T, True, []),
    ],
)
def test_kleene_logic(expr, value, missing):
    assert evaluate_expression(expr, FACTS) == (value, missing)


def _rule(outcomes) -> Rule:
    day = datetime.date(2020, 1, 1)
    return Rule(
        "insurance.test",
        "insurance",
        "t",
        ("q1", "q2", "q3"),
        "a",
        "q",
        (),
        "national",
        False,
        day,
        None,
        day,
        {"outcomes": outcomes},
    )


def test_first_true_outcome_wins_with_its_amount():
    rule = _rule(
        [
            {"if": fact("a", "==", 2), "outcome": "not_eligible", "reason": "no"},
            {"if": A_TRUE, "outcome": "eligible", "reason": "yes", "amount": {"value": 5, "unit": "元"}},
            {"if": T, "outcome": "refer", "reason": "ask"},
        ]
    )
    result = evaluate_rule(rule, FACTS)
    assert (result.outcome, result.amount, result.reason, result.missing_facts) == (
        "eligible",
        {"value": 5, "unit": "元"},
        "yes",
        [],
    )
    assert result.facts_used == {"a": 1}
    assert result.rule_ids == ["insurance.test"]


def test_an_unknown_earlier_outcome_means_missing_facts_even_if_a_later_one_is_true():
    rule = _rule(
        [
            {"if": {"all": [fact("x", "==", 1), fact("y", "==", 1)]}, "outcome": "eligible", "reason": "yes"},
            {"if": {"any": [fact("z", "==", 1), fact("x", "==", 2)]}, "outcome": "partly_eligible", "reason": "part"},
            {"if": T, "outcome": "not_eligible", "reason": "no"},
        ]
    )
    result = evaluate_rule(rule, {})
    assert result.outcome is None and result.reason is None and result.amount is None
    assert result.missing_facts == ["x", "y", "z"]  # rule order, each once
    assert evaluate_rule(rule, {"x": 2}).outcome == "partly_eligible"  # y no longer matters; x == 2 settles #2
    assert evaluate_rule(rule, {"x": 1}).missing_facts == ["y", "z"]  # z matters if y turns out false
    assert evaluate_rule(rule, {"x": 3, "z": 0}).outcome == "not_eligible"


def test_no_true_outcome_refers_to_12333():
    rule = _rule([{"if": B_FALSE, "outcome": "eligible", "reason": "yes"}])
    result = evaluate_rule(rule, FACTS)
    assert result.outcome == "refer" and "12333" in result.reason


def test_evaluator_never_uses_eval_or_exec():
    for module in ("_evaluator.py", "_schema.py", "_search.py", "_knowledge_base.py"):
        tree = ast.parse((Path(__file__).resolve().parents[2] / "policies_kb" / module).read_text(encoding="utf-8"))
        names = {
            node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        assert not names & {"eval", "exec", "compile"}, module


def test_kb_evaluate_on_fixture(fixture_kb, day):
    result = fixture_kb.evaluate("startup_loan.loan_limits", {}, on=day)
    assert result.missing_facts == ["applicant_type", "is_priority_group"]
    result = fixture_kb.evaluate("startup_loan.loan_limits", {"applicant_type": "small_firm"}, on=day)
    assert result.outcome == "eligible" and result.amount["value"] == 4000000
    result = fixture_kb.evaluate(
        "startup_loan.loan_limits", {"applicant_type": "个人创业", "is_priority_group": "是的"}, on=day
    )
    assert result.outcome == "eligible" and result.amount["value"] == 300000
    result = fixture_kb.evaluate("insurance.pension_15_years", {"contribution_years": 12}, on=day)
    assert result.outcome == "not_eligible"


def test_kb_evaluate_refuses_what_it_cannot_decide(fixture_kb, day):
    with pytest.raises(KeyError):
        fixture_kb.evaluate("insurance.nope", {}, on=day)
    with pytest.raises(ValueError, match="no conditions"):
        fixture_kb.evaluate("labor_rights.wage_arrears_complaint", {}, on=day)
    with pytest.raises(ValueError, match="not in force"):
        fixture_kb.evaluate("insurance.pension_15_years", {}, on=datetime.date(2010, 1, 1))
    with pytest.raises(ValueError, match="not a valid number"):
        fixture_kb.evaluate("insurance.pension_15_years", {"contribution_years": "好多年"}, on=day)


NUMBER = FactSpec("years", "number", "几年？", "年")
INTEGER = FactSpec("age", "integer", "几岁？", "岁")
BOOLEAN = FactSpec("flag", "boolean", "是不是？")
CHOICE = FactSpec(
    "kind",
    "choice",
    "哪种？",
    choices={"individual": "个人创业", "small_firm": "小微企业"},
    choice_words={"individual": ("自己干", "一个人"), "small_firm": ("公司", "企业")},
)


@pytest.mark.parametrize(
    "spec, text, value",
    [
        (NUMBER, "交了三年多", 3),
        (NUMBER, "3年", 3),
        (NUMBER, "三年", 3),
        (NUMBER, "十五年", 15),
        (NUMBER, "一年半", 1.5),
        (NUMBER, "半年", 0.5),
        (NUMBER, "１２年", 12),
        (NUMBER, "我一共交了十二年", 12),
        (NUMBER, "30万", 300000),
        (NUMBER, "两年", 2),
        (NUMBER, "没有", 0),
        (NUMBER, "五六年", None),
        (NUMBER, "3到5年", None),
        (NUMBER, "不记得", None),
        (NUMBER, "12.5", 12.5),
        (INTEGER, "四十五岁", 45),
        (INTEGER, "一年半", 1),
        (BOOLEAN, "是的", True),
        (BOOLEAN, "对", True),
        (BOOLEAN, "有", True),
        (BOOLEAN, "嗯", True),
        (BOOLEAN, "不是", False),
        (BOOLEAN, "没有", False),
        (BOOLEAN, "否", False),
        (BOOLEAN, "不知道", None),
        (BOOLEAN, "true", True),
        (BOOLEAN, "是嘅", True),
        (BOOLEAN, "", None),
        (BOOLEAN, "随便", None),
        (CHOICE, "small_firm", "small_firm"),
        (CHOICE, "小微企业", "small_firm"),
        (CHOICE, "个人", "individual"),
        (CHOICE, "我开了个小微企业", "small_firm"),
        (CHOICE, "创业", "individual"),
        (CHOICE, "个人创业还是小微企业", None),
        (CHOICE, "合作社", None),
        (CHOICE, "就我自己干", "individual"),
        (CHOICE, "我们几个人开的小公司", "small_firm"),
        (CHOICE, "一个人开了个公司", None),  # words of both choices: ask again
        (BOOLEAN, "到了", True),
        (BOOLEAN, "早就到了", True),
        (BOOLEAN, "还没到", False),
        (BOOLEAN, "够了", True),
    ],
)
def test_parse_fact_text(spec, text, value):
    from policies_kb._evaluator import parse_fact_text

    assert parse_fact_text(spec, text) == value


def test_kb_parse_fact_knows_declared_facts_only(fixture_kb):
    assert fixture_kb.parse_fact("contribution_years", "交了十五年") == 15
    assert fixture_kb.parse_fact("applicant_type", "小微企業") == "small_firm"  # traditional characters
    with pytest.raises(KeyError):
        fixture_kb.parse_fact("nope", "1")
