"""Every flow of the assistant end to end (README "What the assistant does"): the real launcher, Rasa and action server, over the REST channel.

Intake tests read the case rows straight from the assistant's own SQLite app store.
"""

from __future__ import annotations

import datetime
import json
import sqlite3

import pytest

from tests.support.assistant import customs, texts

pytestmark = pytest.mark.e2e

HANDOFF_12333 = {"kind": "handoff", "target": "12333", "phone": "0951-12333"}


def rows(assistant, query: str, *args) -> list[tuple]:
    path = assistant.settings.app_db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        return db.execute(query, args).fetchall()


def kinds(messages) -> list[str]:
    return [payload["kind"] for payload in customs(messages)]


def test_an_answer_carries_its_source_line_and_payload_and_a_follow_up_stays_in_topic(assistant):
    messages = assistant.say("flow-answer", "俺在县城打工 户口能落到县城不")
    answer = customs(messages)[0]
    assert answer["kind"] == "answer" and answer["topic"] == "settlement"
    assert answer["sources"] and set(answer["sources"][0]) == {"title", "doc_no", "issuer", "date", "url"}
    source_lines = [m["text"] for m in messages if m.get("text", "").startswith("来源：")]
    assert len(source_lines) == 1 and source_lines[0].endswith(f"（截至{answer['valid_on']}有效）")
    follow_up = customs(assistant.say("flow-answer", "那要带什么材料?"))
    assert follow_up[0]["kind"] == "answer" and follow_up[0]["topic"] == "settlement"


def test_a_weak_question_is_asked_back_and_a_second_miss_gets_12333(assistant):
    first = assistant.say("flow-miss", "那个东西")
    assert kinds(first) == ["fallback"]
    assert [b["payload"] for b in first[0]["buttons"]][-1] == "/request_human"
    second = assistant.say("flow-miss", "那个表格咋填")
    assert HANDOFF_12333 in customs(second) and "0951-12333" in texts(second)
    assert rows(assistant, "SELECT channel, target, reason FROM handoffs WHERE sender_id = ?", "rest:flow-miss") == [
        ("rest", "12333", "repeated_fallback")
    ]


def test_a_button_choice_is_answered(assistant):
    messages = assistant.say("flow-button", '/ask_housing{"rule_id":"housing.how_to_apply"}')
    assert customs(messages)[0]["rule_id"] == "housing.how_to_apply"


def test_a_request_for_a_person_records_a_handoff_with_the_summary(assistant):
    assistant.say("flow-human", "失业金咋领")
    messages = assistant.say("flow-human", "给我转人工")
    assert HANDOFF_12333 in customs(messages)
    assert rows(
        assistant, "SELECT channel, topic, last_question, reason FROM handoffs WHERE sender_id = ?", "rest:flow-human"
    ) == [("rest", "insurance", "失业金咋领", "user_request")]


def test_an_eligibility_check_in_free_text(assistant):
    # the pension check of the 2024 decision: birth month and sex decide the retirement age (a man born 1964-05
    # reached 60 in 2024-05, before the gradual rise began in 2025, when 15 years were the minimum)
    first = assistant.say("flow-pension", "帮我算算我能不能领养老金")
    assert "哪年哪月出生" in texts(first)
    assistant.say("flow-pension", "64年5月的")
    assistant.say("flow-pension", "男的")
    result = assistant.say("flow-pension", "交了十六年多")
    (payload,) = [p for p in customs(result) if p["kind"] == "eligibility"]
    assert (payload["outcome"], payload["rule_ids"]) == ("eligible", ["insurance.pension_15_years"])
    assert payload["facts"]["contribution_years"] == 16
    assert payload["valid_on"] == datetime.date.today().isoformat()
    assert "结果：符合条件" in texts(result) and "来源：《中华人民共和国社会保险法》第十六条" in texts(result)


def test_switching_topic_inside_a_check_answers_and_leaves_the_check(assistant):
    assistant.say("flow-switch", "帮我看看能不能申请创业担保贷款")
    assistant.say("flow-switch", "在银川")  # the check first asks where the business is (银川 criteria only there)
    switched = assistant.say("flow-switch", "那娃娃上学要带啥材料")
    assert [p["topic"] for p in customs(switched) if p["kind"] == "answer"] == ["schooling"]
    assert "停下" in texts(switched)
    after = assistant.say("flow-switch", "谢谢")
    assert "不客气" in texts(after)  # not read as an answer to the loan check's question
    tracker = assistant.tracker("flow-switch")
    assert tracker["active_loop"] in ({}, None) or not tracker["active_loop"].get("name")


def test_unpaid_wages_recorded_as_one_case_even_when_confirmed_twice(assistant):
    sender = "flow-intake"
    report = assistant.say(sender, "老板欠了俺三个月工钱不给")
    assert kinds(report) == ["answer", "handoff"]
    assert customs(report)[1] == {"kind": "handoff", "target": "case_intake", "phone": "0951-12333"}
    for text in (
        "要",
        "马小兵",
        "我电话138 9501 2345",
        "在银川",
        "金凤区",
        "宁夏某某建筑公司",
        "三个月工资一万二",
        "干了三个月钢筋工，老板一直说没钱",
    ):
        assistant.say(sender, text)
    confirmation = texts(assistant.say(sender, "同意"))
    assert "电话：138****2345" in confirmation and "13895012345" not in confirmation
    created = assistant.say(sender, "确认")
    (case_id,) = [p["case_id"] for p in customs(created) if p["kind"] == "case_created"]
    assert case_id in texts(created)
    again = assistant.say(sender, "确认")  # the same confirmation delivered again
    assert {"kind": "case_created", "case_id": case_id} in customs(again)
    assert rows(
        assistant,
        "SELECT case_id, case_type, worker_name, phone, county, employer, amount_owed, owed_period, "
        "consent, status, channel FROM cases WHERE sender_id = ?",
        f"rest:{sender}",  # the open development REST channel's conversation
    ) == [
        (
            case_id,
            "wage_arrears",
            "马小兵",
            "13895012345",
            "金凤区",
            "宁夏某某建筑公司",
            12000,
            "3个月",
            1,
            "新建",
            "rest",
        )
    ]

    status = texts(assistant.say("flow-status", f"查一下案件 {case_id}"))
    assert "手机号" in status
    status = texts(assistant.say("flow-status", "13895012345"))
    assert f"案件 {case_id}（拖欠工资，金凤区）现在的状态是：新建" in status
    # Issue 12: number and phone in one message, in either order, spaced or full-width, find the case at once.
    wide = case_id.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789NX"})
    for sender, text in (
        ("flow-status-3", f"查案件 {case_id} 13895012345"),
        ("flow-status-4", f"查案件 138 9501 2345 {case_id}"),
        ("flow-status-5", f"查案件{wide}　１３８９５０１２３４５"),
    ):
        assert f"案件 {case_id}（拖欠工资，金凤区）现在的状态是：新建" in texts(assistant.say(sender, text)), text
    # A wrong phone finds nothing (last: a failed look-up backs the case number off, issue 14 §5).
    wrong = texts(assistant.say("flow-status-2", f"查案件 {case_id} 手机13700000000"))
    assert "没查到" in wrong and "新建" not in wrong


def test_an_id_number_offered_during_intake_is_not_stored(assistant):
    sender = "flow-privacy"
    assistant.say(sender, "帮我登记欠薪")
    assistant.say(sender, "王海")
    reply = texts(assistant.say(sender, "我身份证号640102199001011234"))
    assert "不用发给我" in reply and "根治欠薪" in reply
    stopped = texts(assistant.say(sender, "算了不登记了"))
    assert "不弄了" in stopped
    assert rows(assistant, "SELECT COUNT(*) FROM cases WHERE sender_id = ?", f"rest:{sender}") == [(0,)]
    stored = json.dumps(assistant.tracker(sender), ensure_ascii=False)
    assert "640102199001011234" not in stored  # the tracker store keeps only the masked number
    assert "640102********1234" in stored


def test_a_bank_card_number_never_reaches_the_tracker_store_but_a_phone_number_does(assistant):
    sender = "flow-privacy-card"
    assistant.say(sender, "工资卡号6222021234567890123 电话13912345678 老板不发工资咋办")
    stored = json.dumps(assistant.tracker(sender), ensure_ascii=False)
    assert "6222021234567890123" not in stored and "6222***********0123" in stored
    assert "13912345678" in stored  # intake and status look-ups need the phone number


# -- issue 12: the conversations quoted at the top of the issue ------------------------------------------------


def only(messages, kind):
    (payload,) = [p for p in customs(messages) if p["kind"] == kind]
    return payload


def test_a_settlement_check_asked_for_in_dialect_starts_and_a_volunteered_fact_decides_it(assistant):
    first = assistant.say("flow-q-settle", "我想把户口落到同心县城 帮我瞅瞅")
    assert only(first, "check_question")["rule_id"] == "settlement.county_town_settlement"
    result = only(assistant.say("flow-q-settle", "有房子，自己买的"), "eligibility")
    assert result["rule_ids"][0] == "settlement.county_town_settlement"
    assert result["facts"]["has_stable_residence"] is True
    assert customs(assistant.say("flow-q-settle", "好的谢谢")) == []


def test_a_schooling_check_asked_for_with_the_question_takes_the_childs_age(assistant):
    first = assistant.say("flow-q-school", "孩子跟着我在吴忠 能上学不 给看看")
    assert only(first, "check_question") == {
        "kind": "check_question",
        "rule_id": "schooling.migrant_children_enrollment",
        "fact": "child_age",
    }
    result = only(assistant.say("flow-q-school", "三岁多"), "eligibility")
    assert result["facts"] == {"child_age": 3, "parent_works_or_lives_locally": True}
    assert "没太明白" not in texts(assistant.say("flow-q-school", "谢谢"))


def test_a_rental_question_gets_the_rental_rule_and_a_materials_follow_up_stays_on_housing(assistant):
    answer = only(assistant.say("flow-q-rental", "公租房外地人能申请吗"), "answer")
    assert answer["rule_id"] == "housing.public_rental_housing"  # not the 住房公积金 rule
    follow_up = only(assistant.say("flow-q-rental", "要准备啥材料"), "answer")
    assert follow_up["topic"] == "housing"


def test_an_unclear_question_then_frustration_gets_an_apology_and_12333(assistant):
    first = assistant.say("flow-q-angry", "这个咋整")
    assert kinds(first) == ["fallback"]
    second = assistant.say("flow-q-angry", "你到底懂不懂")
    assert HANDOFF_12333 in customs(second) and "对不起" in texts(second)
    assert rows(assistant, "SELECT reason FROM handoffs WHERE sender_id = ?", "rest:flow-q-angry") == [("frustration",)]


def test_the_unemployment_check_still_starts_at_once_and_is_decided_by_free_text(assistant):
    first = assistant.say("flow-q-unemp", "失业金我能领吗 帮我算算")
    assert only(first, "check_question")["rule_id"] == "insurance.unemployment_benefit"
    assistant.say("flow-q-unemp", "交了五年多")
    result = assistant.say("flow-q-unemp", "是我自己不干了")
    payload = only(result, "eligibility")
    assert payload["outcome"] == "not_eligible"
    assert payload["facts"] == {"unemployment_insurance_years": 5, "left_involuntarily": False}
    assert "结果：暂时不符合" in texts(result) and "来源：" in texts(result)


def test_the_same_question_twice_is_not_answered_twice(assistant):
    first = only(assistant.say("flow-q-repeat", "县城落户要啥条件"), "answer")
    again = assistant.say("flow-q-repeat", "县城落户要啥条件")
    assert [p for p in customs(again) if p["kind"] == "answer" and p["rule_id"] == first["rule_id"]] == []
    assert "帮我看看" in [b["title"] for m in again for b in m.get("buttons", [])]


def test_where_to_ask_after_an_answer_is_that_rules_where_facet_not_the_menu(assistant):
    """NLU reads "这事上哪问" as a question about the assistant; after an answer it asks where to go about it."""
    first = only(assistant.say("flow-q-where", "公租房外地人能申请吗"), "answer")
    where = only(assistant.say("flow-q-where", "这事上哪问"), "answer")
    assert (where["rule_id"], where["facet"]) == (first["rule_id"], "where")


def test_three_facts_in_one_statement_decide_the_offered_check(assistant):
    """After the 就业困难人员 answer, one statement gives all three facts its check needs, though NLU hears 居住证."""
    first = only(assistant.say("flow-q-hard", "进城打工的没活干了 能认定就业困难人员不"), "answer")
    assert first["rule_id"] == "employment.hard_to_employ_migrant"
    result = only(assistant.say("flow-q-hard", "在宁夏干了八个多月 居住证办了 眼下没活干"), "eligibility")
    assert result["outcome"] == "partly_eligible"
    assert result["facts"] == {
        "ningxia_work_months": 8,
        "has_urban_residence_permit": True,
        "currently_unemployed": True,
    }
