"""channels/sms/providers.py: the outbox file and the opt-out guard."""

from __future__ import annotations

import asyncio

import pytest

from channels._state import ChannelState
from channels.sms.providers import OptOutGuard, OutboxProvider, SmsOptedOut, SmsRecipientRefused
from channels.sms.templates import SmsMessage
from tests.channels.support import outbox_lines, run_async


def reply(text: str) -> SmsMessage:
    return SmsMessage("reply", (text,), f"宁夏农民工政策助手答复您的咨询：{text}")


@run_async
async def test_outbox_lines_from_concurrent_sends_stay_whole(tmp_path):
    outbox = OutboxProvider(tmp_path / "var" / "sms-outbox.jsonl")
    ids = await asyncio.gather(*[outbox.send(f"1380000{n:04d}", reply(f"第{n}条" * 30)) for n in range(50)])
    lines = outbox_lines(outbox.path)
    assert len(lines) == 50 and {line["params"][0] for line in lines} == {f"第{n}条" * 30 for n in range(50)}
    assert all(set(line) == {"id", "to", "template", "params", "text", "time"} for line in lines)
    assert sorted(line["id"] for line in lines) == sorted(message_id for [message_id] in ids)  # one id each
    assert len(set(line["id"] for line in lines)) == 50


@run_async
async def test_opt_out_guard_refuses_opted_out_numbers_and_sends_the_rest(db_url, tmp_path):
    state = ChannelState(db_url)
    state.set_subscription("13812341234", "opted_out", "退订")
    state.record_contact("13812341234")
    state.record_contact("13900001111")
    guard = OptOutGuard(OutboxProvider(tmp_path / "outbox.jsonl"), state)
    with pytest.raises(SmsOptedOut, match=r"138\*\*\*\*1234"):
        await guard.send("13812341234", reply("不该发出"))
    await guard.send("13900001111", reply("可以发"))
    assert [(line["to"], line["text"]) for line in outbox_lines(tmp_path / "outbox.jsonl")] == [
        ("13900001111", "宁夏农民工政策助手答复您的咨询：可以发")
    ]


@run_async
async def test_guard_texts_only_mainland_mobiles_that_wrote_to_the_service(db_url, tmp_path):
    state = ChannelState(db_url)
    state.record_contact("13812341234")
    state.record_contact("+447700900123")  # an international number may write; it is never texted
    guard = OptOutGuard(OutboxProvider(tmp_path / "outbox.jsonl"), state)
    for refused in ("13900001111", "+447700900123", "+8612345678901", "095112333", "10086", "sms:13900001111"):
        with pytest.raises(SmsRecipientRefused):
            await guard.send(refused, reply("不该发出"))
    await guard.send("+8613812341234", reply("可以发"))  # the E.164 form of a number that wrote
    assert [(line["to"], line["text"]) for line in outbox_lines(tmp_path / "outbox.jsonl")] == [
        ("13812341234", "宁夏农民工政策助手答复您的咨询：可以发")
    ]
