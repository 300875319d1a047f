"""The console's outbound interface: the contract's exceptions, the REST outbound that queues a reply for its
client's pickup, SMS into the development outbox, and a clear refusal for a channel that does not exist."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import aiohttp
import pytest

from bot.console._outbound import DeliveryError, DeliveryRefused, OptedOut, WindowClosed, outbound_for
from bot.settings import Settings
from bot.store import AppStore
from bot.takeover import TakeoverService

NOW = datetime(2026, 12, 1, 2, tzinfo=UTC)


def send(channel: str, settings: Settings, store: AppStore, conversation: str, text: str) -> None:
    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            await outbound_for(channel, settings=settings, store=store, session=session).send(conversation, text)

    asyncio.run(run())


@pytest.fixture
def setup(db_url, tmp_path):
    return Settings.from_env({"NXA_VAR_DIR": str(tmp_path), "APP_DB_URL": db_url}), AppStore(db_url)


def test_the_rest_outbound_makes_the_reply_pending_for_the_rest_client(setup):
    settings, store = setup
    takeovers = TakeoverService(store)
    takeovers.take_over("rest:w1", "rest", "op1", NOW)
    message = takeovers.record_operator_message("rest:w1", "op1", "您好", NOW, delivery="sending")
    assert takeovers.take_pending_for_rest("rest:w1", NOW) == []  # not yet handed to the outbound
    send("rest", settings, store, "rest:w1", "您好")
    takeovers.mark_delivery(message.id, "sent", NOW)  # what the console does after any send: leaves it pending
    assert [m.text for m in takeovers.take_pending_for_rest("rest:w1", NOW)] == ["您好"]
    assert [m.delivery for m in takeovers.messages("rest:w1")] == ["sent"]  # fetched once, then sent


def test_sms_goes_to_the_outbox_in_development(setup, tmp_path):
    settings, store = setup
    send("sms", settings, store, "sms:13812345678", "请带上合同")
    [line] = (tmp_path / "sms-outbox.jsonl").read_text().splitlines()
    assert json.loads(line)["to"] == "13812345678" and json.loads(line)["text"] == "请带上合同"


def test_unknown_channels_are_refused_with_a_reason(setup):
    settings, store = setup
    with pytest.raises(DeliveryRefused) as refused:
        send("fax", settings, store, "x", "y")
    assert "不支持的渠道" in refused.value.reason


def test_the_contracts_exceptions():
    for kind in (WindowClosed, OptedOut, DeliveryRefused):
        error = kind("原因")
        assert isinstance(error, DeliveryError) and error.reason == "原因" and str(error) == "原因"
