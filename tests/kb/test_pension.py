"""The pension check per issue 11 §3b: birth month, sex and (for women) job decide the retirement month (2024
decision), the minimum contribution years are those in force in the year the worker reaches it.

Every expected value below is worked out by hand from the two parameter files:

* statutory_retirement_age.yaml: original retirement month R = birth + original age (men 60, women cadres 55, women
  workers 50); if R >= 2025-01 the delay is floor(months(2025-01 → R) / every) + 1 months, every = 4 (men, women 55)
  or 2 (women 50), at most 36 / 36 / 60 months;
* pension_minimum_contribution_years.yaml: 15 before 2030-01-01, then 15.5 (2030), 16 (2031), … 20 (2039 on).
"""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import pytest

from policies_kb import KnowledgeBase
from policies_kb._derived import retirement
from policies_kb._parameters import load_parameters
from policies_kb._year_month import parse_year_month

REPO = Path(__file__).resolve().parents[2]
RULE = "insurance.pension_15_years"
TODAY = datetime.date(2026, 12, 2)


@pytest.fixture(scope="module")
def kb(tmp_path_factory) -> KnowledgeBase:
    """Only the pension rule (this module's subject) and the facts file it uses, so that rules being rewritten
    elsewhere cannot break these tests."""
    root = tmp_path_factory.mktemp("pension")
    (root / "rules/insurance").mkdir(parents=True)
    shutil.copy(REPO / "policies_kb/rules/insurance/pension_15_years.yaml", root / "rules/insurance")
    return KnowledgeBase.load(root / "rules", REPO / "policies_kb/facts/people.yaml")


@pytest.fixture(scope="module")
def parameters():
    loaded, errors = load_parameters()
    assert errors == []
    return loaded


@pytest.mark.parametrize(
    "text, value",
    [
        ("75年3月的", "1975-03"),
        ("1975.3", "1975-03"),
        ("1975-03", "1975-03"),
        ("我是1966年5月生的", "1966-05"),
        ("七五年三月", "1975-03"),
        ("一九八〇年一月份", "1980-01"),
        ("80.1", "1980-01"),
        ("198001", "1980-01"),
        ("1975年", None),  # no month: ask again
        ("1975.13", None),
        ("75年3月还是76年3月", None),  # two dates
        ("不记得了", None),
    ],
)
def test_birth_month_parses_from_free_text(text, value):
    assert parse_year_month(text) == value


@pytest.mark.parametrize(
    "facts, month",
    [
        # man born 1966-05: R = 2026-05, 16 months after 2025-01 -> 16 // 4 + 1 = 5 months -> 60y5m, 2026-10
        ({"birth_month": "1966-05", "sex": "male"}, ("2026-10", 60 * 12 + 5)),
        # man born 1964-12: R = 2024-12, before 2025-01 -> no delay
        ({"birth_month": "1964-12", "sex": "male"}, ("2024-12", 720)),
        # man born 1965-01: R = 2025-01, 0 months -> 1 month -> 2025-02
        ({"birth_month": "1965-01", "sex": "male"}, ("2025-02", 721)),
        # man born 1976-09: R = 2036-09, 140 months -> 36 (cap) -> 63y, 2039-09
        ({"birth_month": "1976-09", "sex": "male"}, ("2039-09", 63 * 12)),
        # woman worker born 1980-01: R = 2030-01, 60 months -> 60 // 2 + 1 = 31 -> 52y7m, 2032-08
        ({"birth_month": "1980-01", "sex": "female", "female_job": "worker"}, ("2032-08", 50 * 12 + 31)),
        # woman worker born 1975-03: R = 2025-03, 2 months -> 2 // 2 + 1 = 2 -> 50y2m, 2025-05
        ({"birth_month": "1975-03", "sex": "female", "female_job": "worker"}, ("2025-05", 602)),
        # woman worker born 1984-11: R = 2034-11, 118 months -> 60 (cap) -> 55y, 2039-11
        ({"birth_month": "1984-11", "sex": "female", "female_job": "worker"}, ("2039-11", 55 * 12)),
        # woman cadre born 1970-06: R = 2025-06, 5 months -> 5 // 4 + 1 = 2 -> 55y2m, 2025-08
        ({"birth_month": "1970-06", "sex": "female", "female_job": "cadre"}, ("2025-08", 55 * 12 + 2)),
    ],
)
def test_retirement_month_follows_the_2024_schedule(parameters, facts, month):
    assert retirement(facts, parameters) == month


def test_minimum_years_change_on_their_dates(parameters):
    minimum = parameters.dated["pension_minimum_contribution_years"]
    assert minimum.value_on(datetime.date(2029, 12, 31)) == 15
    assert minimum.value_on(datetime.date(2030, 1, 1)) == 15.5
    assert minimum.value_on(datetime.date(2032, 8, 1)) == 16.5
    assert minimum.value_on(datetime.date(2039, 1, 1)) == 20 and minimum.value_on(datetime.date(2050, 1, 1)) == 20
    assert minimum.value_on(datetime.date(2010, 1, 1)) is None
    assert minimum.entry_on(datetime.date(2030, 1, 1)).reference.article == "第二条"
    assert minimum.entry_on(datetime.date(2029, 1, 1)).reference.text == "social_insurance_law"


def test_the_check_asks_birth_month_sex_then_job_for_women_only(kb):
    assert kb.evaluate(RULE, {}, on=TODAY).missing_facts == ["birth_month", "sex", "contribution_years"]
    man = kb.evaluate(RULE, {"birth_month": "1980-01", "sex": "男的"}, on=TODAY)
    assert man.missing_facts == ["contribution_years"]
    woman = kb.evaluate(RULE, {"birth_month": "1980-01", "sex": "女的"}, on=TODAY)
    assert woman.missing_facts == ["female_job", "contribution_years"]


def test_a_man_born_1966_05_has_retired_and_needs_15_years(kb):
    # retired 2026-10 (above), before 2030 -> minimum 15
    enough = kb.evaluate(RULE, {"birth_month": "1966年5月", "sex": "男", "contribution_years": 15}, on=TODAY)
    assert enough.outcome == "eligible" and "够了最低年限" in enough.reason
    assert enough.facts_used["minimum_contribution_years"] == 15
    short = kb.evaluate(RULE, {"birth_month": "1966-05", "sex": "男", "contribution_years": "交了十二年"}, on=TODAY)
    assert short.outcome == "not_eligible" and "不满15年" in short.reason and "还差3年" in short.reason
    # the same man asked about in 2026-09 has not reached it yet
    before = kb.evaluate(
        RULE, {"birth_month": "1966-05", "sex": "male", "contribution_years": 15}, on=datetime.date(2026, 9, 30)
    )
    assert before.outcome == "not_eligible" and "2026年10月" in before.reason and "60岁5个月" in before.reason


def test_a_woman_worker_born_1980_01_needs_16_and_a_half_years_in_2032(kb):
    facts = {"birth_month": "80年1月的", "sex": "女的", "female_job": "在厂里干活", "contribution_years": 16}
    result = kb.evaluate(RULE, facts, on=TODAY)
    assert result.outcome == "not_eligible"
    assert "2032年8月" in result.reason and "52岁7个月" in result.reason
    assert "16年半" in result.reason and "还差半年" in result.reason
    assert (
        result.facts_used["retirement_month"] == "2032-08" and result.facts_used["minimum_contribution_years"] == 16.5
    )
    assert result.facts_used["female_job"] == "worker"
    enough = kb.evaluate(RULE, {**facts, "contribution_years": 17}, on=TODAY)
    assert enough.outcome == "not_eligible" and "已经交够了" in enough.reason  # enough, but not retired yet


def test_a_worker_who_says_they_retired_needs_no_birth_month_before_2030(kb):
    result = kb.evaluate(RULE, {"reached_retirement_age": "已经到了", "contribution_years": 14.5}, on=TODAY)
    assert result.outcome == "not_eligible" and "不满15年" in result.reason and "还差半年" in result.reason
    # from 2031 a retiree may have needed 15.5 (retired 2030) or 16 (retired 2031): ask the birth month
    later = kb.evaluate(RULE, {"reached_retirement_age": True, "contribution_years": 15}, on=datetime.date(2031, 6, 1))
    assert later.outcome is None and later.missing_facts[0] == "birth_month"


def test_the_result_says_which_day_it_was_computed_for(kb):
    result = kb.evaluate(RULE, {"birth_month": "1966-05", "sex": "male", "contribution_years": 20}, on=TODAY)
    assert result.on == TODAY and result.to_dict()["on"] == "2026-12-02"


def test_a_broken_parameter_file_is_refused_naming_file_and_field(tmp_path):
    shutil.copytree(REPO / "policies_kb/parameters", tmp_path / "parameters")
    path = tmp_path / "parameters/pension_minimum_contribution_years.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("value: 15.5", "value: fifteen"), encoding="utf-8")
    _, errors = load_parameters(tmp_path / "parameters")
    assert [(Path(e.path).name, e.field) for e in errors] == [
        ("pension_minimum_contribution_years.yaml", "values.2030-01-01.value")
    ]
