"""Leaving a form: action_leave_form, and the interruption rule shared by the forms' validation actions."""

from __future__ import annotations

import pytest
import yaml
from rasa_sdk.events import ActiveLoop, SlotSet

from actions.forms import INTERRUPTIONS, ActionLeaveForm, is_interruption
from bot.settings import ROOT
from tests.actions.conftest import make_tracker, message, run


def test_leaving_the_eligibility_check_for_a_question_says_so_and_keeps_the_facts(domain):
    tracker = make_tracker(
        "公租房咋申请",
        intent="ask_housing",
        active_loop="eligibility_form",
        slots={"eligibility_rule": "insurance.pension_15_years", "facts": {"contribution_years": 3}},
    )
    events, messages = run(ActionLeaveForm(), tracker, domain)
    assert messages == [message("（刚才的条件查询先停下了，想接着查随时说。）")]
    assert events == [
        ActiveLoop(None),
        SlotSet("requested_slot", None),
        SlotSet("eligibility_rule", None),
        SlotSet("fact_answer", None),
        SlotSet("fact_retries", 0),
    ]


def test_stopping_case_intake_is_silent_here(domain):
    tracker = make_tracker("算了", intent="stop", active_loop="case_intake_form")
    events, messages = run(ActionLeaveForm(), tracker, domain)
    assert (events, messages) == ([ActiveLoop(None), SlotSet("requested_slot", None)], [])


@pytest.mark.parametrize(
    "text, intent, confidence, answers, expected",
    [
        ("那公租房呢", "ask_housing", 0.99, False, True),
        ("我是返乡创业的农民工", "ask_startup_loan", 0.99, True, False),  # a valid answer stays an answer
        ("有营业执照吗", "ask_startup_loan", 0.99, True, True),  # ... unless it asks something
        ("不问了", "stop", 0.95, True, True),
        ("公租房", "ask_housing", 0.6, False, False),  # NLU unsure: an answer to re-ask, not a new topic
        ("三个月", "inform", 0.99, True, False),
    ],
)
def test_is_interruption(text, intent, confidence, answers, expected):
    tracker = make_tracker(text, intent=intent, confidence=confidence, active_loop="eligibility_form")
    assert is_interruption(tracker, "eligibility_form", answers=answers) is expected


def test_the_interruptions_are_exactly_the_intents_the_rules_leave_each_form_with():
    rules = yaml.safe_load((ROOT / "data" / "rules_forms.yml").read_text(encoding="utf-8"))["rules"]
    by_form: dict[str, set[str]] = {}
    for rule in rules:
        form = rule["condition"][0]["active_loop"]
        first = rule["steps"][0]
        intents = [step["intent"] for step in first["or"]] if "or" in first else [first["intent"]]
        by_form.setdefault(form, set()).update(intents)
    assert by_form == {form: set(intents) for form, intents in INTERRUPTIONS.items()}
