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
