"""Case intake: the offer, the form's checks (free text, privacy), the confirmation, storage and its duplicates."""

from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet

from actions import services
from actions.intake import (
    SLOTS,
    ActionAskCaseConfirmed,
    ActionAskCounty,
    ActionOfferCaseIntake,
    ActionSubmitCase,
    ValidateCaseIntakeForm,
    dedupe_key,
)
from bot.cases import CaseStoreUnavailable
from tests.actions.conftest import make_tracker, message, run

FORM = "case_intake_form"
PRIVACY = (
    "为了您的安全，身份证号、银行卡号不用发给我，我也不会记下来。需要实名反映欠薪的，可以用全国根治欠薪线索反映平台"
    "（微信搜“国务院客户端”小程序，或人社部公众号里的“根治欠薪”入口）。"
)
FILLED = {
    "case_type": "wage_arrears",
    "worker_name": "马小兵",
    "phone": "13895012345",
    "county": "金凤区",
    "employer": "宁夏某某建筑公司",
    "amount_owed": 12000,
    "owed_period": "3个月",
    "description": "干了三个月钢筋工，老板一直说没钱",
    "consent": True,
    "case_confirmed": True,
}


def answering(slot, text, *, intent="inform", confidence=0.95, **slots):
    """The form asking for `slot`, every slot before it answered (as in FILLED unless given)."""
    values = {name: None for name in SLOTS}
    for name in SLOTS[: SLOTS.index(slot)]:
        values[name] = FILLED[name]
    values.update(slots)
    values["requested_slot"] = slot
    return make_tracker(text, intent=intent, confidence=confidence, active_loop=FORM, slots=values)


def test_the_offer_has_buttons_and_the_case_intake_payload(domain):
    _, messages = run(ActionOfferCaseIntake(), make_tracker("老板欠钱", intent="report_wage_arrears"), domain)
    assert messages == [
        message(
            "要不要我帮您把这件事登记下来，转给人社部门处理？登记后给您一个案件号，可以随时查进度。",
            buttons=[
                {"title": "要，帮我登记", "payload": '/start_case{"case_type":"wage_arrears"}'},
                {"title": "先不用", "payload": "/deny"},
            ],
        ),
        message(custom={"kind": "handoff", "target": "case_intake", "phone": "0951-12333"}),
    ]


def test_the_form_starts_empty_and_keeps_what_the_report_said(domain):
    tracker = make_tracker(
        "要",
        intent="affirm",
        slots={
            **FILLED,
            "last_rule_id": "labor_rights.wage_arrears_complaint",
            "last_question": "在银川金凤区工地干活 老板欠了俺三个月工资一万二",
        },
    )
    events, messages = run(ValidateCaseIntakeForm(), tracker, domain)
    assert messages == [
        message(
            "好的，帮您登记，登记完给您一个案件号。一共几个问题，随时说“取消”就停下。身份证号、银行卡号都不用提供。"
        )
    ]
    assert events == [
        SlotSet("case_type", "wage_arrears"),
        SlotSet("worker_name", None),
        SlotSet("phone", None),
        SlotSet("county", "金凤区"),
        SlotSet("employer", None),
        SlotSet("amount_owed", 12000),
        SlotSet("owed_period", "3个月"),
        SlotSet("description", None),
        SlotSet("consent", None),
        SlotSet("case_confirmed", None),
        SlotSet("requested_slot", "worker_name"),
    ]


def test_a_button_names_the_case_type(domain):
    tracker = make_tracker(
        '/start_case{"case_type":"work_injury"}',
        intent="start_case",
        entities=[{"entity": "case_type", "value": "work_injury"}],
    )
    events, _ = run(ValidateCaseIntakeForm(), tracker, domain)
    assert SlotSet("case_type", "work_injury") in events and events[-1] == SlotSet("requested_slot", "worker_name")


@pytest.mark.parametrize(
    "slot, text, stored",
    [
        ("case_type", "拖欠工资", "wage_arrears"),
        ("case_type", "干活摔伤了", "work_injury"),
        ("worker_name", "我叫马小兵", "马小兵"),
        ("phone", "我电话138 9501 2345", "13895012345"),
        ("county", "在银川金凤区", "金凤区"),
        ("county", "闽宁镇的工地", "永宁县"),
        ("employer", "老板叫刘某", "刘某"),
        ("description", "干了三个月钢筋工，老板一直说没钱。", "干了三个月钢筋工，老板一直说没钱"),
        ("consent", "同意", True),
        ("consent", "不同意", False),
    ],
)
def test_each_answer_is_read_from_free_text(domain, slot, text, stored):
    intent = {"同意": "affirm", "不同意": "deny"}.get(text, "inform")
    events, messages = run(ValidateCaseIntakeForm(), answering(slot, text, intent=intent), domain)
    assert messages == []
    assert events[0] == SlotSet(slot, stored)


def test_amount_and_period_come_from_one_answer(domain):
    events, _ = run(ValidateCaseIntakeForm(), answering("amount_owed", "三个月工资一万二"), domain)
    assert events[:2] == [SlotSet("amount_owed", 12000), SlotSet("owed_period", "3个月")]
    assert events[-1] == SlotSet("requested_slot", "description")


def test_a_rate_is_not_taken_for_the_amount_owed(domain):
    events, messages = run(ValidateCaseIntakeForm(), answering("amount_owed", "每月4000"), domain)
    assert messages == [message("没算出一共欠多少。请说个总数，比如“一共一万二”或者“12000元”。")]
    assert events == [SlotSet("amount_owed", None), SlotSet("requested_slot", "amount_owed")]


def test_a_wrong_phone_number_is_asked_again(domain):
    events, messages = run(ValidateCaseIntakeForm(), answering("phone", "1389501234"), domain)
    assert messages == [message("手机号是11位、1开头的，请再发一次。")]
    assert events == [SlotSet("phone", None), SlotSet("requested_slot", "phone")]


def test_an_id_number_is_neither_asked_for_nor_kept(domain):
    events, messages = run(ValidateCaseIntakeForm(), answering("phone", "身份证640102199001011234"), domain)
    assert messages == [message(PRIVACY), message("手机号是11位、1开头的，请再发一次。")]
    assert SlotSet("phone", None) in events
    events, messages = run(
        ValidateCaseIntakeForm(),
        answering("description", "老板欠钱不给，我卡号6222021234567890123你们帮我查查"),
        domain,
    )
    assert messages == [message(PRIVACY)]
    assert events[0] == SlotSet("description", "老板欠钱不给，我卡号6222***********0123你们帮我查查")


def test_a_city_alone_gets_its_counties_as_buttons(domain):
    tracker = answering("county", "在银川")
    events, messages = run(ValidateCaseIntakeForm(), tracker, domain)
    assert messages == [] and events == [SlotSet("county", None), SlotSet("requested_slot", "county")]
    _, messages = run(ActionAskCounty(), tracker, domain)
    assert [b["title"] for b in messages[0]["buttons"]] == ["兴庆区", "金凤区", "西夏区", "永宁县", "贺兰县", "灵武市"]


def test_other_cases_skip_amount_and_period(domain):
    events, _ = run(ValidateCaseIntakeForm(), answering("employer", "某某物业公司", case_type="labor_contract"), domain)
    assert events[-1] == SlotSet("requested_slot", "description")


def test_a_question_on_another_topic_makes_the_form_reject(domain):
    tracker = answering("employer", "娃娃上学要带啥材料", intent="ask_schooling", confidence=0.99)
    assert run(ValidateCaseIntakeForm(), tracker, domain) == ([], [])


def test_a_description_that_reads_like_a_labour_question_is_taken(domain):
    tracker = answering("description", "老板跑了这钱还能要回来吗", intent="ask_labor_rights", confidence=0.99)
    events, _ = run(ValidateCaseIntakeForm(), tracker, domain)
    assert events[0] == SlotSet("description", "老板跑了这钱还能要回来吗")


def test_the_confirmation_shows_the_details_with_the_phone_masked(domain):
    tracker = make_tracker("同意", active_loop=FORM, slots={**FILLED, "case_confirmed": None})
    _, messages = run(ActionAskCaseConfirmed(), tracker, domain)
    assert messages == [
        message(
            "请核对一下：\n类型：拖欠工资\n姓名：马小兵\n电话：138****2345\n地点：金凤区\n对方：宁夏某某建筑公司\n"
            "欠款：12000元（3个月）\n情况：干了三个月钢筋工，老板一直说没钱\n"
            "没问题就回“确认”；要改哪项就说“改电话”这样；不登记了说“取消”。",
            buttons=[
                {"title": "确认提交", "payload": "确认"},
                {"title": "有错要改", "payload": "有错要改"},
                {"title": "取消", "payload": "取消"},
            ],
        )
    ]


def test_changing_one_detail_asks_for_it_again_then_confirms_again(domain):
    tracker = answering("case_confirmed", "电话不对 改一下", **{**FILLED, "case_confirmed": None})
    events, _ = run(ValidateCaseIntakeForm(), tracker, domain)
    assert events == [SlotSet("case_confirmed", None), SlotSet("phone", None), SlotSet("requested_slot", "phone")]


def test_confirming_ends_the_form(domain):
    tracker = answering("case_confirmed", "确认", intent="affirm", **{**FILLED, "case_confirmed": None})
    events, _ = run(ValidateCaseIntakeForm(), tracker, domain)
    assert events == [SlotSet("case_confirmed", True), SlotSet("requested_slot", None)]


def test_submission_stores_the_case_and_gives_its_number(domain, case_service):
    tracker = make_tracker("确认", intent="affirm", slots=FILLED, sender_id="worker-7", channel="sms")
    events, messages = run(ActionSubmitCase(), tracker, domain)
    (case,) = case_service.list_cases()
    assert messages == [
        message(
            f"登记好了！您的案件号是 {case.case_id}，请记下来。人社部门会尽快处理，可能会打您留的电话 138****2345 联系您。"
            "查进度就说“查案件”。"
        ),
        message(custom={"kind": "case_created", "case_id": case.case_id}),
    ]
    # Stored: the intake slots are reset, so the worker's details do not stay in the tracker.
    assert events == [SlotSet("case_id", case.case_id)] + [SlotSet(slot, None) for slot in SLOTS]
    assert (
        case.worker_name,
        case.phone,
        case.county,
        case.amount_owed,
        case.owed_period,
        case.channel,
        case.sender_id,
        case.status,
    ) == ("马小兵", "13895012345", "金凤区", 12000, "3个月", "sms", "worker-7", "新建")
    assert case.dedupe_key == dedupe_key("worker-7", FILLED)


def test_the_same_submission_delivered_twice_is_one_case(domain, case_service):
    tracker = make_tracker("确认", intent="affirm", slots=FILLED)
    events, _ = run(ActionSubmitCase(), tracker, domain)
    again = make_tracker("确认", intent="affirm", slots={**FILLED, "case_id": events[0]["value"]})
    _, messages = run(ActionSubmitCase(), again, domain)
    assert messages[0] == message(f"这件事已经登记过了，案件号是 {events[0]['value']}，不用再登记。")
    assert len(case_service.list_cases()) == 1
    other_conversation = make_tracker("确认", intent="affirm", slots=FILLED, sender_id="someone-else")
    run(ActionSubmitCase(), other_conversation, domain)
    assert len(case_service.list_cases()) == 2


def test_without_consent_nothing_is_stored(domain, case_service):
    tracker = make_tracker("不同意", intent="deny", slots={**FILLED, "consent": False, "case_confirmed": None})
    _, messages = run(ActionSubmitCase(), tracker, domain)
    assert messages == [
        message(
            "没有您的同意，就不能转给人社部门，这次先不登记。您也可以自己打 0951-12333，"
            "或者到干活所在地的县（区）人社局投诉。"
        )
    ]
    assert case_service.list_cases() == []


def test_a_storage_failure_apologises_keeps_the_details_and_the_retry_records_once(domain, case_service, monkeypatch):
    class Down:
        def create_case(self, submission):
            raise CaseStoreUnavailable("disk full")

    monkeypatch.setattr(services, "cases", lambda: Down())
    tracker = make_tracker("确认", intent="affirm", slots=FILLED)
    events, messages = run(ActionSubmitCase(), tracker, domain)
    assert messages == [
        message(
            "对不起，登记系统现在出了点问题，这次还没存上。您确认过的内容我都记着：过一会儿回“确认”我再提交一次；"
            "着急的话请直接打 0951-12333。"
        ),
        message(custom={"kind": "handoff", "target": "12333", "phone": "0951-12333"}),
    ]
    assert events == []  # the form's slots stay as confirmed
    monkeypatch.setattr(services, "cases", lambda: case_service)
    run(ActionSubmitCase(), tracker, domain)
    run(ActionSubmitCase(), tracker, domain)
    assert len(case_service.list_cases()) == 1


def test_a_change_without_saying_what_asks_which_detail_once(domain):
    tracker = answering("case_confirmed", "有错要改", **{**FILLED, "case_confirmed": None})
    events, messages = run(ValidateCaseIntakeForm(), tracker, domain)
    assert messages == [] and events == [SlotSet("case_confirmed", None), SlotSet("requested_slot", "case_confirmed")]
    _, messages = run(ActionAskCaseConfirmed(), tracker, domain)
    assert messages == [
        message(
            "哪一项要改？",
            buttons=[
                {"title": f"改{label}", "payload": f"改{label}"}
                for label in ("姓名", "电话", "地点", "单位", "金额", "情况")
            ],
        )
    ]
    other_case = answering(
        "case_confirmed",
        "不对",
        **{**FILLED, "case_type": "work_injury", "amount_owed": None, "owed_period": None, "case_confirmed": None},
    )
    _, messages = run(ActionAskCaseConfirmed(), other_case, domain)
    assert [b["title"] for b in messages[0]["buttons"]] == ["改姓名", "改电话", "改地点", "改单位", "改情况"]
