"""Case status lookup: the number and the phone it was recorded with, in one message or two."""

from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet

from actions.case_status import ActionCaseStatus, ValidateCaseStatusForm, find_case_id
from tests.actions.conftest import make_tracker, message, run
from tests.actions.test_intake import FILLED


def recorded(case_service):
    from actions.intake import ActionSubmitCase

    events, _ = run(ActionSubmitCase(), make_tracker("确认", intent="affirm", slots=FILLED), {})
    return events[0]["value"]


def test_case_numbers_are_read_however_typed():
    assert find_case_id("我的案件号是nx 2611-29 0007") == "NX2611290007"
    assert find_case_id("我的案件号是nx 2612-02 0007 kqfx") == "NX2612020007KQFX"
    assert find_case_id("查案件NX2612020007KQFX 13895123456") == "NX2612020007KQFX"
    assert find_case_id("查案件ＮＸ２６１２０２０００７ＫＱＦＸ") == "NX2612020007KQFX"
    assert find_case_id("NX2612020007KQF") is None  # a letter missing: asked again, not looked up as another case
    assert find_case_id("查一下ＮＸ２６１１２９０００７") == "NX2611290007"
    assert find_case_id("查一下我的案子") is None


def test_both_details_in_the_request_need_no_question(domain):
    tracker = make_tracker("查案件 NX2611290001 手机13709561234", intent="check_case_status")
    events, _ = run(ValidateCaseStatusForm(), tracker, domain)
    assert events == [
        SlotSet("lookup_case_id", "NX2611290001"),
        SlotSet("lookup_phone", "13709561234"),
        SlotSet("requested_slot", None),
    ]


def test_a_missing_detail_is_asked_and_a_wrong_one_asked_again(domain):
    events, _ = run(ValidateCaseStatusForm(), make_tracker("查一下我的案子", intent="check_case_status"), domain)
    assert events[-1] == SlotSet("requested_slot", "lookup_case_id")
    tracker = make_tracker(
        "13709561234", intent="inform", active_loop="case_status_form", slots={"requested_slot": "lookup_case_id"}
    )
    events, messages = run(ValidateCaseStatusForm(), tracker, domain)
    assert messages == [message("案件号是NX开头加10位数字和4个字母，请再发一次。")]
    assert events == [
        SlotSet("lookup_case_id", None),
        SlotSet("lookup_phone", "13709561234"),
        SlotSet("requested_slot", "lookup_case_id"),
    ]


def test_the_status_is_told_only_when_number_and_phone_match(domain, case_service):
    case_id = recorded(case_service)
    case_service.change_status(
        case_id,
        "处理中",
        actor="operator-1",
        note="老板说工人闹事，先别告诉他",
        worker_message="已转金凤区劳动监察大队",
    )
    tracker = make_tracker("", slots={"lookup_case_id": case_id, "lookup_phone": "138 9501 2345"})
    events, messages = run(ActionCaseStatus(), tracker, domain)
    # Only the message to the worker is shown, never the internal note.
    assert messages == [
        message(
            f"案件 {case_id}（拖欠工资，金凤区）现在的状态是：处理中。\n"
            f"最近更新：{case_service.get_case(case_id).updated_at:%Y-%m-%d}。\n"
            "工作人员留言：已转金凤区劳动监察大队"
        )
    ]
    assert events == [SlotSet("lookup_case_id", None), SlotSet("lookup_phone", None)]
    tracker = make_tracker("", slots={"lookup_case_id": case_id, "lookup_phone": "13700000000"})
    _, messages = run(ActionCaseStatus(), tracker, domain)
    assert messages == [message("没查到。请核对案件号和登记时留的手机号；也可以打 0951-12333 问。")]


@pytest.mark.parametrize(
    "text",
    [
        "查案件 NX2611300002 13895123456",  # issue 12: this found nothing (the phone's digits ran into the number)
        "查案件 13895123456 NX2611300002",
        "查案件 NX2611300002 138 9512 3456",
        "查案件ＮＸ２６１１３００００２　１３８９５１２３４５６",
        "我要查案件 nx 2611-30 0002 电话13895123456",
        "13895123456NX2611300002",
    ],
)
def test_number_and_phone_in_one_message_in_any_order(domain, text):
    events, messages = run(ValidateCaseStatusForm(), make_tracker(text, intent="check_case_status"), domain)
    assert messages == []
    assert events == [
        SlotSet("lookup_case_id", "NX2611300002"),
        SlotSet("lookup_phone", "13895123456"),
        SlotSet("requested_slot", None),
    ]


def test_the_number_alone_asks_for_the_phone(domain):
    events, messages = run(
        ValidateCaseStatusForm(), make_tracker("查案件 NX2611300002", intent="check_case_status"), domain
    )
    assert messages == []
    assert events == [
        SlotSet("lookup_case_id", "NX2611300002"),
        SlotSet("lookup_phone", None),
        SlotSet("requested_slot", "lookup_phone"),
    ]
    tracker = make_tracker(
        "１３８ ９５１２ ３４５６",
        intent="inform",
        active_loop="case_status_form",
        slots={"lookup_case_id": "NX2611300002", "requested_slot": "lookup_phone"},
    )
    events, messages = run(ValidateCaseStatusForm(), tracker, domain)
    assert (events, messages) == ([SlotSet("lookup_phone", "13895123456"), SlotSet("requested_slot", None)], [])


def test_a_number_with_too_many_digits_is_no_case_number():
    assert find_case_id("NX26113000021") is None and find_case_id("NX261130000") is None


def test_a_case_found_from_one_message(domain, case_service):
    case_id = recorded(case_service)
    events, _ = run(
        ValidateCaseStatusForm(), make_tracker(f"查案件 {case_id} 13895012345", intent="check_case_status"), domain
    )
    slots = {event["name"]: event["value"] for event in events}
    _, messages = run(ActionCaseStatus(), make_tracker("", slots=slots), domain)
    assert messages[0]["text"].startswith(f"案件 {case_id}（拖欠工资，金凤区）现在的状态是：新建。")


def test_a_new_question_during_the_lookup_makes_the_form_reject(domain):
    tracker = make_tracker(
        "公租房咋申请",
        intent="ask_housing",
        confidence=0.99,
        active_loop="case_status_form",
        slots={"requested_slot": "lookup_phone", "lookup_case_id": "NX2611300002"},
    )
    assert run(ValidateCaseStatusForm(), tracker, domain) == ([], [])
