"""The topic registry (policies_kb/topics.yaml) and every place that lists topics agrees with it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.settings import ROOT
from policies_kb.topics import FOLLOW_UPS, REGISTRY, TOPICS, load_follow_ups, load_topics
from tests.support.domain import load_domain

INTENTS = [topic.intent for topic in REGISTRY]


def _yaml(path: str) -> dict:
    return yaml.safe_load((ROOT / path).read_text(encoding="utf-8"))


def test_the_registry_is_in_menu_order_with_unique_codes_and_intents():
    assert TOPICS == tuple(topic.code for topic in REGISTRY)
    assert len(set(TOPICS)) == len(TOPICS) and len(set(INTENTS)) == len(INTENTS)


def test_every_topic_has_its_rules_folder_and_every_folder_is_a_topic():
    folders = {path.name for path in (ROOT / "policies_kb" / "rules").iterdir() if path.is_dir()}
    assert folders == set(TOPICS)


def test_the_python_lists_come_from_the_registry():
    from actions._catalogue import TOPIC_MENU
    from actions._dialogue import INTENT_TOPICS, TOPIC_INTENTS
    from actions._messages import TOPIC_LABELS as WORKER
    from actions.forms import INTERRUPTIONS
    from bot.console._labels import TOPIC_LABELS as OPERATOR
    from policies_kb import TOPICS as SCHEMA_TOPICS

    assert SCHEMA_TOPICS == TOPICS
    assert list(WORKER.items()) == [(topic.code, topic.worker) for topic in REGISTRY]
    assert list(OPERATOR.items()) == [(topic.code, topic.operator) for topic in REGISTRY]
    assert TOPIC_INTENTS == {topic.code: topic.intent for topic in REGISTRY}
    assert {intent: INTENT_TOPICS[intent] for intent in INTENTS} == {topic.intent: topic.code for topic in REGISTRY}
    assert TOPIC_MENU == {topic.code: topic.menu for topic in REGISTRY}
    assert set(INTENTS) <= INTERRUPTIONS["eligibility_form"] and set(INTENTS) <= INTERRUPTIONS["case_status_form"]
    assert {intent for intent in INTENTS if intent in INTERRUPTIONS["case_intake_form"]} == {
        topic.intent for topic in REGISTRY if topic.leaves_case_intake
    }


def test_each_menu_offers_existing_rules_of_its_own_topic():
    for topic in REGISTRY:
        assert topic.menu, topic.code
        for rule_id in topic.menu:
            assert rule_id.split(".")[0] == topic.code
            assert (ROOT / "policies_kb" / "rules" / topic.code / f"{rule_id.split('.', 1)[1]}.yaml").exists(), rule_id


def test_the_domain_and_the_nlu_data_know_every_topic_intent():
    intents = load_domain()["intents"]
    assert set(INTENTS) <= set(intents)
    other_questions = {"ask_capabilities", "ask_followup"}
    assert {i for i in intents if i.startswith("ask_")} - other_questions == set(INTENTS)
    examples = {block["intent"] for block in _yaml("data/nlu/topics.yml")["nlu"] if "intent" in block}
    assert set(INTENTS) <= examples


def test_the_policy_question_rule_answers_every_topic_intent():
    rules = [rule for path in ("data/rules.yml", "data/rules_topics.yml") for rule in _yaml(path)["rules"]]
    (rule,) = [
        rule
        for rule in rules
        if any(step.get("action") == "action_answer_policy" for step in rule["steps"])
        and "or" in rule["steps"][0]
        and "condition" not in rule  # the rules that leave a form first are tests/actions/test_forms.py's
    ]
    listed = {step["intent"] for step in rule["steps"][0]["or"]}
    assert set(INTENTS) <= listed


EXAMPLES = "examples: '- 法律援助咋申请'"


@pytest.mark.parametrize(
    "text, message",
    [
        ("topics: []", "non-empty list"),
        ("topics:\n  - code: x\n    intent: ask_x", "exactly the fields"),
        (
            "topics:\n  - {code: x, intent: ask_x, worker: 甲, operator: 甲, menu: [], leaves_case_intake: 1, "
            f"{EXAMPLES}}}",
            "true or false",
        ),
        (
            "topics:\n"
            f"  - {{code: x, intent: ask_x, worker: 甲, operator: 甲, menu: [], leaves_case_intake: true, {EXAMPLES}}}\n"
            f"  - {{code: x, intent: ask_y, worker: 乙, operator: 乙, menu: [], leaves_case_intake: true, {EXAMPLES}}}",
            "share one code",
        ),
        (
            "topics:\n  - {code: x, intent: ask_x, worker: 甲, operator: 甲, menu: [], leaves_case_intake: true, "
            "examples: ''}",
            "block of '- example' lines",
        ),
        (
            "topics:\n  - code: x\n    intent: ask_x\n    worker: 甲\n    operator: 甲\n    menu: []\n"
            "    leaves_case_intake: true\n    examples: |\n      - 法律援助咋申请\n      法律援助要钱不\n",
            "'法律援助要钱不' must be a line '- example'",
        ),
        (
            "topics:\n  - code: x\n    intent: ask_x\n    worker: 甲\n    operator: 甲\n    menu: []\n"
            "    leaves_case_intake: true\n    examples: |\n      - 法律援助咋申请\n      - 法律援助咋申请\n",
            "listed twice",
        ),
    ],
)
def test_a_malformed_registry_is_refused_with_the_reason(tmp_path: Path, text, message):
    path = tmp_path / "topics.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_topics(path)


def test_a_new_topic_in_a_registry_file_is_read_in_its_place(tmp_path: Path):
    source = (ROOT / "policies_kb" / "topics.yaml").read_text(encoding="utf-8")
    extra = (
        "  - code: legal_aid\n    intent: ask_legal_aid\n    worker: 法律援助\n    operator: 法律援助\n"
        "    menu: []\n    leaves_case_intake: true\n    examples: |\n      - 法律援助咋申请\n      - 打官司没钱咋办\n"
    )
    path = tmp_path / "topics.yaml"
    path.write_text(source + extra, encoding="utf-8")
    topics = load_topics(path)
    assert topics[:-1] == REGISTRY and topics[-1].code == "legal_aid" and topics[-1].intent == "ask_legal_aid"
    assert topics[-1].examples == ("法律援助咋申请", "打官司没钱咋办")


def test_the_follow_ups_sit_beside_the_topics_with_their_own_intent():
    assert FOLLOW_UPS.intent == "ask_followup" and FOLLOW_UPS.intent not in INTENTS
    assert len(FOLLOW_UPS.examples) >= 40 and "那要带啥" in FOLLOW_UPS.examples


@pytest.mark.parametrize(
    "text, message",
    [
        ("topics: []", "follow_ups must have exactly the fields intent, examples"),
        ("follow_ups: {intent: ask_followup}\ntopics: []", "exactly the fields intent, examples"),
        ("follow_ups: {intent: '', examples: '- 在哪办'}\ntopics: []", "intent must be non-empty text"),
        (
            "follow_ups: {intent: ask_followup, examples: '- 在哪办'}\nfaq: []",
            "the sections 'topics' and 'follow_ups' only",
        ),
    ],
)
def test_malformed_follow_ups_are_refused_with_the_reason(tmp_path: Path, text, message):
    path = tmp_path / "topics.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_follow_ups(path)
