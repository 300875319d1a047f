"""Turning a Rasa tracker into the transcript the operator reads."""

from __future__ import annotations

from bot.console._transcript import turns_from_tracker
from tests.console.test_handoff_pages import TRACKER


def test_user_and_bot_turns_in_order_with_payloads_folded_in():
    turns = turns_from_tracker(TRACKER)
    assert [(t.who, t.text) for t in turns] == [
        ("worker", "在县城落户要啥条件"),
        ("bot", "在县城、镇上落户，有合法稳定住所就能落。"),
        ("bot", "来源：《关于开展县域农民工市民化质量提升行动的通知》（宁人社函〔2023〕81号）"),
        ("worker", "转人工"),
        ("bot", "好的，给您转人工。"),
    ]
    assert turns[2].payloads == (
        {"kind": "answer", "topic": "settlement", "rule_id": "settlement.county_town_settlement"},
    )
    assert turns[4].payloads[0]["kind"] == "handoff" and turns[4].buttons == ("继续问",)
    assert turns[0].at.isoformat() == "2026-11-29T03:00:01+00:00"


def test_consecutive_payloads_all_attach_to_the_reply_before_them():
    turns = turns_from_tracker(
        {
            "events": [
                {"event": "user", "text": "落户"},
                {"event": "bot", "text": "答案"},
                {"event": "bot", "data": {"custom": {"kind": "answer", "rule_id": "r"}}},
                {"event": "bot", "data": {"custom": {"kind": "handoff", "target": "12333"}}},
            ]
        }
    )
    assert [(t.who, t.text, [p["kind"] for p in t.payloads]) for t in turns] == [
        ("worker", "落户", []),
        ("bot", "答案", ["answer", "handoff"]),
    ]


def test_an_empty_or_odd_tracker():
    assert turns_from_tracker({}) == []
    assert turns_from_tracker({"events": [{"event": "bot", "data": {"custom": {"kind": "fallback"}}}]})[0].payloads == (
        {"kind": "fallback"},
    )
