"""How the console delivers a reply it has recorded: a REST reply becomes pending for its client's pickup, SMS goes
through `channels.outbound` (the development outbox), an unknown channel is refused with a reason."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import aiohttp
import pytest

from bot.console.app import create_app
from bot.console.web import CONSOLE, Console
from bot.settings import Settings
from bot.store import AppStore
from channels._state import ChannelState
from channels.outbound import DeliveryRefused

NOW = datetime(2026, 12, 1, 2, tzinfo=UTC)


@pytest.fixture
def console(db_url, tmp_path, kb) -> Console:
    settings = Settings.from_env({"NXA_VAR_DIR": str(tmp_path), "APP_DB_URL": db_url, "RASA_AUTH_TOKEN": "t"})
    return create_app(settings, store=AppStore(db_url), kb=kb)[CONSOLE]


@pytest.fixture(scope="session")
def kb():
    from policies_kb import KnowledgeBase

    return KnowledgeBase.load()


def send(console: Console, channel: str, conversation: str, text: str) -> None:
    async def run() -> None:
        async with aiohttp.ClientSession() as console.http:
            await console.outbound(channel).send(conversation, text)

    asyncio.run(run())


def test_a_recorded_rest_reply_becomes_pending_for_the_rest_client(console):
    takeovers = console.takeovers
    takeovers.take_over("rest:w1", "rest", "op1", NOW)
    message = takeovers.record_operator_message("rest:w1", "op1", "您好", NOW, delivery="sending")
    assert takeovers.take_pending_for_rest("rest:w1", NOW) == []  # not yet handed to the outbound
    send(console, "rest", "rest:w1", "您好")
    takeovers.mark_delivery(message.id, "sent", NOW)  # what the console does after any send: leaves it pending
    assert [m.text for m in takeovers.take_pending_for_rest("rest:w1", NOW)] == ["您好"]
    assert [m.delivery for m in takeovers.messages("rest:w1")] == ["sent"]  # fetched once, recorded once


def test_sms_goes_through_the_channels_outbound_to_the_outbox(console, tmp_path, db_url):
    ChannelState(AppStore(db_url)).record_contact("13812345678")  # replies go only to a number that wrote
    send(console, "sms", "sms:13812345678", "请带上合同")  # the conversation; the outbox gets its number
    [line] = (tmp_path / "sms-outbox.jsonl").read_text().splitlines()
    assert (
        json.loads(line)["to"] == "13812345678"
        and json.loads(line)["text"] == "宁夏农民工政策助手答复您的咨询：请带上合同"
    )


def test_an_unknown_channel_is_refused_with_a_reason(console):
    with pytest.raises(DeliveryRefused) as refused:
        send(console, "fax", "x", "y")
    assert "渠道未配置" in refused.value.reason
