"""action_handoff: the numbers, the handoff payload, and a handoff record with the conversation's summary."""

from __future__ import annotations

from rasa_sdk.events import SlotSet

from actions.handoff import APOLOGY_TEXT, ActionHandoff
from bot.cases import CaseStoreUnavailable
from tests.actions.conftest import make_tracker, message, run

HANDOFF_TEXT = "好的，给您转人工。请拨打宁夏人社政策咨询电话 0951-12333（在外省也可以拨 12333），工作人员会帮您解答。"


def test_a_request_for_a_person_gets_the_numbers_the_payload_and_a_recorded_summary(domain, handoff_service):
    tracker = make_tracker(
        "转人工",
        intent="request_human",
        channel="wechat",
        sender_id="openid-1",
        slots={
            "topic": "insurance",
            "facts": {"contribution_years": 12},
            "last_question": "我电话13812345678 养老金咋领",
        },
    )
    events, messages = run(ActionHandoff(), tracker, domain)
    assert messages == [
        message(HANDOFF_TEXT),
        message(custom={"kind": "handoff", "target": "12333", "phone": "0951-12333"}),
    ]
    assert events == [SlotSet("miss_count", 0), SlotSet("pending_question", None)]
    (handoff,) = handoff_service.list_handoffs()
    assert (handoff.sender_id, handoff.channel, handoff.target, handoff.reason) == (
        "openid-1",
        "wechat",
        "12333",
        "user_request",
    )
    assert handoff.topic == "insurance" and handoff.facts == {"contribution_years": 12}
    assert handoff.last_question == "我电话138****5678 养老金咋领"  # the console never sees the full number


def test_the_button_under_a_locally_decided_answer_records_why(domain, handoff_service):
    tracker = make_tracker(
        "/request_human",
        intent="request_human",
        slots={"topic": "housing", "last_rule_id": "housing.public_rental_housing"},
    )
    run(ActionHandoff(), tracker, domain)
    assert handoff_service.list_handoffs()[0].reason == "decided_locally"


def test_the_worker_gets_the_numbers_when_the_store_is_down(domain, monkeypatch):
    from actions import services

    class Down:
        def record_handoff(self, *args, **kwargs):
            raise CaseStoreUnavailable("database is locked")

    monkeypatch.setattr(services, "handoffs", lambda: Down())
    events, messages = run(ActionHandoff(), make_tracker("转人工", intent="request_human"), domain)
    assert messages[0] == message(HANDOFF_TEXT)
    assert messages[1]["custom"] == {"kind": "handoff", "target": "12333", "phone": "0951-12333"}


def test_frustration_gets_an_apology_and_the_summary_carries_the_last_rule(domain, handoff_service):
    tracker = make_tracker(
        "说了半天你也不明白 算了找人",
        intent="request_human",
        slots={
            "topic": "insurance",
            "last_rule_id": "insurance.unemployment_benefit",
            "facts": {"unemployment_insurance_years": 5},
        },
    )
    events, messages = run(ActionHandoff(), tracker, domain)
    assert messages == [
        message(APOLOGY_TEXT),
        message(custom={"kind": "handoff", "target": "12333", "phone": "0951-12333"}),
    ]
    assert APOLOGY_TEXT.startswith("对不起") and "0951-12333" in APOLOGY_TEXT
    assert events == [SlotSet("miss_count", 0), SlotSet("pending_question", None)]
    (handoff,) = handoff_service.list_handoffs()
    assert handoff.reason == "frustration"
    assert handoff.facts == {"unemployment_insurance_years": 5, "last_rule": "insurance.unemployment_benefit"}
