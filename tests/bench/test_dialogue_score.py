"""The conversation scorer (bench/dialogue_score.py) on hand-made replies: no assistant, no Rasa."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.dialogue_score import (
    ConversationFormatError,
    ScoredConversation,
    load_conversations,
    parse_conversations,
    score_turn,
    summarize,
)

REPO = Path(__file__).resolve().parents[2]


def text(value: str) -> dict:
    return {"recipient_id": "x", "text": value}


def custom(**payload) -> dict:
    return {"recipient_id": "x", "custom": payload}


ANSWER = custom(
    kind="answer", topic="housing", rule_id="housing.how_to_apply", facet="bring", superseded=None, sources=[]
)
CHECK = custom(kind="check_question", rule_id="settlement.county_town_settlement", fact="has_stable_residence")
ELIGIBLE = custom(
    kind="eligibility",
    topic="insurance",
    rule_ids=["insurance.unemployment_benefit"],
    outcome="not_eligible",
    facts={"unemployment_insurance_years": 5, "left_involuntarily": False},
)
HANDOFF = custom(kind="handoff", target="12333", phone="0951-12333")


def failed(expect: dict, reply: list[dict], previous: list[dict] | None = None) -> list[str]:
    return [r.check for r in score_turn(expect, reply, previous) if not r.passed]


def test_every_check_passes_on_a_matching_reply():
    reply = [text("公租房要带身份证、户口本"), ANSWER]
    expect = {
        "kind": "answer",
        "topic": "housing",
        "rule": "housing.how_to_apply",
        "facet": "bring",
        "text_contains": ["身份证", "户口本"],
    }
    results = score_turn(expect, reply)
    assert [r.check for r in results] == ["kind", "topic", "rule", "facet", "text_contains"]
    assert all(r.passed for r in results)


def test_each_check_fails_on_its_own():
    reply = [text("公租房要带身份证"), ANSWER]
    assert failed({"kind": "check_question"}, reply) == ["kind"]
    assert failed({"topic": "settlement"}, reply) == ["topic"]
    assert failed({"rule": "housing.public_rental_housing"}, reply) == ["rule"]
    assert failed({"facet": "where"}, reply) == ["facet"]
    assert failed({"facet": None}, reply) == ["facet"]
    assert failed({"text_contains": "12333"}, reply) == ["text_contains"]
    assert failed({"text_contains": ["身份证", "12333"]}, reply) == ["text_contains"]


def test_facet_null_is_the_rules_main_answer():
    main = custom(kind="answer", topic="housing", rule_id="housing.how_to_apply", facet=None)
    assert failed({"kind": "answer", "facet": None}, [main]) == []
    assert failed({"kind": "answer", "facet": "bring"}, [main]) == ["facet"]


def test_kind_none_means_no_payload_at_all():
    assert failed({"kind": "none"}, [text("不客气")]) == []
    assert failed({"kind": "none"}, [text("不客气"), custom(kind="fallback")]) == ["kind"]
    assert failed({"kind": "none"}, []) == []


def test_kind_restricts_the_other_checks_to_payloads_of_that_kind():
    # The rule is named by the check question, not by an answer: {kind: answer, rule: X} must fail.
    reply = [text("您在县城有房吗"), CHECK]
    assert failed({"kind": "check_question", "rule": "settlement.county_town_settlement"}, reply) == []
    assert failed({"kind": "answer", "rule": "settlement.county_town_settlement"}, reply) == ["kind", "rule"]
    assert failed({"rule": "settlement.county_town_settlement"}, reply) == []


def test_several_payloads_any_may_carry_the_kind():
    reply = [text("对不起，我转人工"), custom(kind="fallback"), HANDOFF]
    assert failed({"kind": "handoff", "target": "12333"}, reply) == []
    assert failed({"kind": "fallback"}, reply) == []
    assert failed({"kind": "handoff", "target": "case_intake"}, reply) == ["target"]


def test_eligibility_outcome_rule_ids_and_facts():
    reply = [text("领不了"), ELIGIBLE]
    ok = {
        "kind": "eligibility",
        "rule": "insurance.unemployment_benefit",
        "outcome": "not_eligible",
        "facts": {"unemployment_insurance_years": 5.0, "left_involuntarily": False},
    }
    assert failed(ok, reply) == []
    assert failed({"outcome": "eligible"}, reply) == ["outcome"]
    assert failed({"facts": {"unemployment_insurance_years": 3}}, reply) == ["facts"]
    assert failed({"facts": {"registered_unemployed": True}}, reply) == ["facts"]  # a fact it does not hold
    # false is not 0: a boolean fact must be a boolean
    zero = custom(kind="eligibility", rule_ids=[], outcome="refer", facts={"left_involuntarily": 0})
    assert failed({"facts": {"left_involuntarily": False}}, [zero]) == ["facts"]


def test_a_missed_check_says_what_came_instead():
    (result,) = score_turn({"rule": "housing.public_rental_housing"}, [ANSWER])
    assert not result.passed
    assert result.got["value"] == ["housing.how_to_apply"]
    assert result.got["payloads"][0]["rule_id"] == "housing.how_to_apply"
    assert "sources" not in result.got["payloads"][0]


def test_differs_from_previous():
    first = [text("公租房要带身份证"), ANSWER]
    assert failed({"differs_from_previous": True}, first, first) == ["differs_from_previous"]
    same_answer_new_words = [text("还是那句：带身份证"), ANSWER]
    assert failed({"differs_from_previous": True}, same_answer_new_words, first) == ["differs_from_previous"]
    same_text_no_payload = [text("公租房要带身份证")]
    assert failed({"differs_from_previous": True}, same_text_no_payload, first) == ["differs_from_previous"]
    other = [text("要不我帮您看看能不能申请？"), custom(kind="check_question", rule_id="x.y", fact="f")]
    assert failed({"differs_from_previous": True}, other, first) == []
    other_facet = [text("去区里住建部门"), {**ANSWER, "custom": {**ANSWER["custom"], "facet": "where"}}]
    assert failed({"differs_from_previous": True}, other_facet, first) == []


FILE = """
- name: first
  tags: [facet_followup]
  turns:
    - user: 公租房在哪报
      expect: {kind: answer, rule: housing.how_to_apply}
    - user: 要带啥
      expect: {kind: answer, facet: bring}
- name: second
  turns:
    - user: 3
      expect: {kind: check_question}
"""


def test_summary_counts_turns_checks_conversations_and_tags(tmp_path):
    conversations = parse_conversations(tmp_path / "a.yaml", FILE)
    assert conversations[1].turns[0].user == "3"
    first, second = conversations
    good = [text("区住建局"), custom(kind="answer", topic="housing", rule_id="housing.how_to_apply", facet=None)]
    bring = [text("身份证"), ANSWER]
    one = ScoredConversation(first, replies=[good, bring])
    one.turns = [score_turn(t.expect, r) for t, r in zip(first.turns, one.replies, strict=True)]
    two = ScoredConversation(second, replies=[[text("没太明白"), custom(kind="fallback")]])
    two.turns = [score_turn(second.turns[0].expect, two.replies[0])]
    summary = summarize([one, two])
    assert summary["conversations"] == 2 and summary["conversations_passed"] == 1
    assert summary["conversation_pass_share"] == 0.5
    assert summary["turns"] == 3 and summary["turns_passed"] == 2
    assert summary["checks"] == 5 and summary["checks_passed"] == 4
    assert summary["per_check_pass_share"]["kind"] == pytest.approx(2 / 3, abs=1e-4)
    assert summary["per_tag"]["facet_followup"] == {
        "conversations": 1,
        "conversation_pass_share": 1.0,
        "turn_pass_share": 1.0,
    }
    assert summary["per_tag"]["untagged"]["conversation_pass_share"] == 0.0
    (miss,) = summary["misses"]
    assert miss["conversation"] == "second" and miss["turn"] == 1 and miss["failed"][0]["check"] == "kind"
    assert "没太明白" in miss["reply_text"]


def test_a_conversation_cut_short_by_an_error_fails_its_remaining_turns(tmp_path):
    first = parse_conversations(tmp_path / "a.yaml", FILE)[0]
    cut = ScoredConversation(first, replies=[[ANSWER]], error="turn 2: ConnectionResetError")
    cut.turns = [score_turn(first.turns[0].expect, [ANSWER])]
    summary = summarize([cut])
    assert not cut.passed
    assert summary["turns"] == 2 and summary["turns_passed"] == 1
    assert summary["checks"] == 4 and summary["checks_passed"] == 2
    assert any(m.get("error") for m in summary["misses"])


@pytest.mark.parametrize(
    "content, message",
    [
        ("- name: a\n  turns: []\n", "`turns` must be a non-empty list"),
        ("- name: a\n  turns:\n    - user: 你好\n      expect: {kind: answr}\n", "kind 'answr'"),
        ("- name: a\n  turns:\n    - user: 你好\n      expect: {rul: x.y}\n", "unknown check(s) ['rul']"),
        ("- name: a\n  turns:\n    - user: 你好\n", "`expect` must be a mapping"),
        ("- name: a\n  turns:\n    - user: 你好\n      expect: {kind: none, rule: x.y}\n", "cannot be combined"),
        ("- name: a\n  turns:\n    - user: 你好\n      expect: {facet: price}\n", "facet 'price'"),
        ("- name: a\n  turns:\n    - user: 你好\n      expect: {outcome: yes}\n", "outcome True"),
        ("- name: a\n  on: 2026-13-01\n  turns:\n    - user: 你好\n      expect: {kind: none}\n", "month must be"),
        ("- name: a\n  on: tomorrow\n  turns:\n    - user: 你好\n      expect: {kind: none}\n", "`on`"),
        ("- name: a\n  colour: red\n  turns:\n    - user: 你好\n      expect: {kind: none}\n", "unknown key"),
        ("- turns:\n    - user: 你好\n      expect: {kind: none}\n", "`name` is required"),
        ("- name: a\n  turns:\n    - user: ''\n      expect: {kind: none}\n", "`user`"),
        ("{}", "non-empty YAML list"),
        ("- name: a\n  turns: [\n", "not valid YAML"),
    ],
)
def test_malformed_files_are_refused_with_file_and_conversation(tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    with pytest.raises(ConversationFormatError) as raised:
        parse_conversations(path, content)
    assert str(path) in str(raised.value)
    assert message in str(raised.value)


def test_names_are_unique_across_the_folder(tmp_path):
    (tmp_path / "a.yaml").write_text(FILE, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(FILE.split("- name: second")[0], encoding="utf-8")
    with pytest.raises(ConversationFormatError, match="'first' is also used in"):
        load_conversations(tmp_path)


def test_an_empty_folder_is_refused(tmp_path):
    with pytest.raises(ConversationFormatError, match="no conversation files"):
        load_conversations(tmp_path)


def test_the_day_key_on_is_read_although_yaml_takes_it_for_true(tmp_path):
    (conversation,) = parse_conversations(
        tmp_path / "a.yaml", "- name: a\n  on: 2026-12-02\n  turns:\n    - user: 你好\n      expect: {kind: none}\n"
    )
    assert str(conversation.on) == "2026-12-02"


def test_the_held_out_set_parses_and_covers_issue_12():
    conversations = load_conversations(REPO / "bench" / "conversations")
    assert len(conversations) >= 40
    tags = {tag for c in conversations for tag in c.tags}
    for behaviour in (
        "facet_followup",
        "related_rule",
        "check_request",
        "volunteered_fact",
        "no_repeat",
        "frustration",
        "two_misses",
        "case_status",
        "superseded",
        "old_names",
    ):
        assert behaviour in tags, behaviour
