"""channels/sms/providers.py: the outbox file and the opt-out guard."""

from __future__ import annotations

import asyncio

import pytest

from channels._state import ChannelState
from channels.sms.providers import OptOutGuard, OutboxProvider, SmsOptedOut
from tests.channels.support import outbox_lines, run_async


@run_async
async def test_outbox_lines_from_concurrent_sends_stay_whole(tmp_path):
    outbox = OutboxProvider(tmp_path / "var" / "sms-outbox.jsonl")
    await asyncio.gather(*[outbox.send(f"1380000{n:04d}", f"第{n}条" * 30) for n in range(50)])
    lines = outbox_lines(outbox.path)
    assert len(lines) == 50 and {line["text"] for line in lines} == {f"第{n}条" * 30 for n in range(50)}
    assert all(set(line) == {"to", "text", "time"} for line in lines)


@run_async
async def test_opt_out_guard_refuses_opted_out_numbers_and_sends_the_rest(db_url, tmp_path):
    state = ChannelState(db_url)
    state.set_subscription("13812341234", "opted_out", "退订")
    guard = OptOutGuard(OutboxProvider(tmp_path / "outbox.jsonl"), state)
    with pytest.raises(SmsOptedOut, match=r"138\*\*\*\*1234"):
        await guard.send("13812341234", "不该发出")
    await guard.send("13900001111", "可以发")
    assert [(line["to"], line["text"]) for line in outbox_lines(tmp_path / "outbox.jsonl")] == [
        ("13900001111", "可以发")
    ]
