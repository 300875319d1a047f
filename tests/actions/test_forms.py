"""Leaving a form: action_leave_form, and the interruption rule shared by the forms' validation actions."""

from __future__ import annotations

import pytest
import yaml
from rasa_sdk.events import ActiveLoop, SlotSet

from actions.eligibility import ValidateEligibilityForm
from actions.forms import INTERRUPTIONS, ActionLeaveForm, is_interruption
from actions.intake import ValidateCaseIntakeForm, case_type_of
from bot.cases import CASE_TYPE_LABELS
from bot.settings import ROOT
from tests.actions.conftest import make_tracker, message, run
from tests.actions.test_intake import FILLED
from tests.nlu.test_answers import YES_NO_ANSWERS

SEGMENT_CHARS = 67  # one UCS-2 SMS segment (channels/sms.py)


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
    rules = [
        rule
        for name in ("rules_forms.yml", "rules_topics.yml")  # the topic questions' rules are generated
        for rule in yaml.safe_load((ROOT / "data" / name).read_text(encoding="utf-8"))["rules"]
        if rule.get("condition")
    ]
    by_form: dict[str, set[str]] = {}
    for rule in rules:
        form = rule["condition"][0]["active_loop"]
        first = rule["steps"][0]
        intents = [step["intent"] for step in first["or"]] if "or" in first else [first["intent"]]
        by_form.setdefault(form, set()).update(intents)
    assert by_form == {form: set(intents) for form, intents in INTERRUPTIONS.items()}


# ---------------------------------------------------------------------------------------------- one vocabulary

# The yes / no answers nlu.answers is tested on, plus the NLU-free ones both forms see most.
SAME_ANSWERS = [*YES_NO_ANSWERS, ("没问题", True), ("不清楚", None), ("是不是要交钱", None)]


@pytest.mark.parametrize("text, expected", SAME_ANSWERS)
def test_the_intake_form_and_the_eligibility_check_understand_the_same_answers(domain, text, expected):
    # NLU unsure (confidence 0.3), so the words alone decide, in both forms.
    intake = make_tracker(
        text,
        intent="inform",
        confidence=0.3,
        active_loop="case_intake_form",
        slots={**FILLED, "consent": None, "case_confirmed": None, "requested_slot": "consent"},
    )
    events, _ = run(ValidateCaseIntakeForm(), intake, domain)
    consent = next(event["value"] for event in events if event["name"] == "consent")
    check = make_tracker(
        text,
        intent="inform",
        confidence=0.3,
        active_loop="eligibility_form",
        slots={
            "eligibility_rule": "insurance.unemployment_benefit",
            "facts": {"unemployment_insurance_years": 3},
            "requested_slot": "fact_answer",
            "fact_retries": 0,
        },
    )
    events, _ = run(ValidateEligibilityForm(), check, domain)
    facts = next((event["value"] for event in events if event["name"] == "facts"), {})
    assert consent is expected
    assert facts.get("left_involuntarily") is expected


# ---------------------------------------------------------------------------------------------- the questions


def test_every_question_of_the_intake_and_lookup_forms_is_a_response_or_an_action_of_the_domain(domain):
    for form in ("case_intake_form", "case_status_form"):
        for slot in domain["forms"][form]["required_slots"]:
            askers = [
                name for name in (f"action_ask_{form}_{slot}", f"action_ask_{slot}") if name in domain["actions"]
            ] + [name for name in (f"utter_ask_{form}_{slot}", f"utter_ask_{slot}") if name in domain["responses"]]
            assert len(askers) == 1, (slot, askers)
    dynamic = {name for name in domain["actions"] if name.startswith("action_ask_")}
    assert dynamic == {"action_ask_fact_answer", "action_ask_county", "action_ask_case_confirmed"}


def test_the_case_type_buttons_are_the_case_types(domain):
    (response,) = [r for r in domain["responses"]["utter_ask_case_type"] if "channel" not in r]
    assert [(b["title"], b["payload"]) for b in response["buttons"]] == [(v, v) for v in CASE_TYPE_LABELS.values()]
    assert {case_type_of(button["payload"]) for button in response["buttons"]} == set(CASE_TYPE_LABELS)


def test_sms_variants_are_shorter_and_fit_one_segment(domain):
    for name, variants in domain["responses"].items():
        default = [v for v in variants if "channel" not in v]
        for variant in (v for v in variants if v.get("channel") == "sms"):
            assert len(variant["text"]) < len(default[0]["text"]), name
            assert len(variant["text"]) <= SEGMENT_CHARS, name
            assert variant.get("buttons", []) == default[0].get("buttons", []), name


def test_no_stale_names_in_the_domain_comments():
    import re

    from actions import case_status, eligibility, intake

    text = (ROOT / "domain" / "domain.yml").read_text(encoding="utf-8")
    for cls_name, method in re.findall(r"(Validate\w+Form)\.(\w+)", text):
        cls = next(getattr(m, cls_name) for m in (intake, case_status, eligibility) if hasattr(m, cls_name))
        assert method in vars(cls), f"domain.yml names {cls_name}.{method}, which is not defined there"
