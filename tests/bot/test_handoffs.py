"""HandoffService on a real SQLite file: recording a handoff with its summary, reading the queue, refusing bad input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.handoffs import HandoffRecord, HandoffService
from bot.store import AppStore
from tests.cases.conftest import count_rows
from tests.support.clock import FakeClock


@pytest.fixture
def handoffs(db_url: str) -> HandoffService:
    return HandoffService(AppStore(db_url))


def test_record_and_read_handoffs(db_url):
    clock = FakeClock(datetime(2026, 5, 1, 2, 0, tzinfo=UTC))
    service = HandoffService(AppStore(db_url), clock=clock)
    first = service.record_handoff(
        "worker-1",
        "rest",
        "12333",
        summary={"topic": "insurance", "facts": {"years_paid": 12, "hukou": "rural"}, "last_question": "能领养老金吗"},
        reason="decided_locally",
    )
    clock.advance(minutes=1)
    second = service.record_handoff("wx-2", "wechat", "case_intake", summary={"topic": "labor_rights"}, reason="wages")
    assert isinstance(first, HandoffRecord)
    assert (first.sender_id, first.channel, first.target, first.topic) == ("worker-1", "rest", "12333", "insurance")
    assert first.facts == {"years_paid": 12, "hukou": "rural"}
    assert (first.last_question, first.reason) == ("能领养老金吗", "decided_locally")
    assert (second.facts, second.last_question) == ({}, "")
    assert service.list_handoffs() == [second, first]
    assert service.list_handoffs(limit=1) == [second]
    assert service.get_handoff(first.id) == first
    assert service.get_handoff(999) is None


def test_handoff_facts_are_stored_as_json(handoffs):
    handoff = handoffs.record_handoff(
        "w", "sms", "12333", summary={"facts": {"start": datetime(2026, 1, 2).date(), "amount": 1.5}}
    )
    assert handoffs.get_handoff(handoff.id).facts == {"start": "2026-01-02", "amount": 1.5}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"target": "110"}, "target"),
        ({"sender_id": ""}, "sender_id"),
        ({"summary": {"topic": "x", "mood": "angry"}}, "summary"),
        ({"summary": {"facts": {"x": float("nan")}}}, "JSON"),
        ({"channel": "c" * 33}, "channel"),
    ],
)
def test_bad_handoffs_are_refused(handoffs, db_path, kwargs, message):
    arguments = {"sender_id": "w", "channel": "rest", "target": "12333", "summary": {}, "reason": ""} | kwargs
    with pytest.raises(ValueError, match=message):
        handoffs.record_handoff(**arguments)
    assert count_rows(db_path, "handoffs") == 0


def test_a_conversation_asking_again_while_it_waits_updates_its_handoff(db_url):
    from bot.takeover import TakeoverService

    clock = FakeClock(datetime(2026, 12, 2, 2, 0, tzinfo=UTC))
    store = AppStore(db_url)
    service = HandoffService(store, clock=clock)
    first = service.record_handoff("rest:flood", "rest", "12333", {"last_question": "转人工"}, "asked")
    for i in range(199):
        clock.advance(seconds=1)
        again = service.record_handoff("rest:flood", "rest", "12333", {"last_question": f"转人工{i}"}, "asked")
    assert again.id == first.id and again.requests == 200
    assert again.last_question == "转人工198" and again.created_at == first.created_at
    assert again.last_requested_at == clock.now
    other = service.record_handoff("rest:worker", "rest", "12333", {"last_question": "我要找人"}, "asked")
    assert service.count_handoffs() == 2 and service.list_handoffs() == [other, service.get_handoff(first.id)]
    assert count_rows(db_url.removeprefix("sqlite:///"), "handoffs") == 2

    # Once an operator has taken the conversation over, it no longer waits: asking again is a new handoff.
    takeovers = TakeoverService(store)
    clock.advance(seconds=1)
    takeovers.take_over("rest:flood", "rest", "op", clock.now)
    assert service.list_handoffs(waiting=True) == [other] and service.count_handoffs(waiting=True) == 1
    takeovers.release("rest:flood", "op", clock.now)
    clock.advance(seconds=1)
    later = service.record_handoff("rest:flood", "rest", "12333", {"last_question": "还是不行"}, "asked")
    assert later.id != first.id and later.requests == 1
    assert [h.id for h in service.list_handoffs(waiting=True)] == [later.id, other.id]


def test_the_queue_pages(db_url):
    clock = FakeClock(datetime(2026, 12, 2, 2, 0, tzinfo=UTC))
    service = HandoffService(AppStore(db_url), clock=clock)
    recorded = []
    for i in range(7):
        clock.advance(seconds=1)
        recorded.append(service.record_handoff(f"rest:{i}", "rest", "12333", {}, "asked"))
    newest_first = list(reversed(recorded))
    assert service.list_handoffs(limit=3) == newest_first[:3]
    assert service.list_handoffs(limit=3, offset=3) == newest_first[3:6]
    assert service.list_handoffs(limit=3, offset=6) == newest_first[6:]
    assert service.count_handoffs() == 7
