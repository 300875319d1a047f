"""channels/wechat/api.py: the customer-service client against a fake WeChat API on 127.0.0.1 (token cache, refresh, retry, 45015)."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from channels.wechat import (
    CustomerServiceClient,
    CustomerServiceWindowClosed,
    customer_service_from_env,
)
from tests.channels.support import (
    APP_ID,
    FakeWeChatApi,
    run_async,
    serve_aiohttp,
)

OPENID = "oUser_0123456789abcdefghijklm"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@run_async
async def test_access_token_is_cached_refreshed_before_expiry_and_fetched_once_under_concurrency():
    api = FakeWeChatApi(expires_in=7200, token_delay=0.2)
    clock = Clock()
    async with serve_aiohttp(api.app()) as api_base, aiohttp.ClientSession() as session:
        client = CustomerServiceClient(session, APP_ID, "test-app-secret", api_base, clock=clock)
        await asyncio.gather(*[client.send_text(f"o{n}", "你好") for n in range(5)])
        assert len(api.token_requests) == 1
        clock.now += 6800  # 400 s before expiry: still cached
        await client.send_text("o1", "还在")
        assert len(api.token_requests) == 1
        clock.now += 150  # 250 s before expiry: refreshed ahead of time
        await client.send_text("o1", "刷新")
        assert len(api.token_requests) == 2
        assert api.send_tokens[-1] == "TOKEN-2"
    assert api.token_requests[0] == {
        "grant_type": "client_credential",
        "appid": APP_ID,
        "secret": "test-app-secret",
        "force_refresh": False,
    }


@run_async
async def test_token_refused_by_wechat_is_fetched_again_once():
    api = FakeWeChatApi(refuse_tokens={"TOKEN-1"})
    async with serve_aiohttp(api.app()) as api_base, aiohttp.ClientSession() as session:
        client = CustomerServiceClient(session, APP_ID, "test-app-secret", api_base)
        await client.send_text("o1", "你好")
    assert api.send_tokens == ["TOKEN-1", "TOKEN-2"] and len(api.sent) == 1


@run_async
async def test_expired_48_hour_window_raises_and_is_logged_clearly(caplog):
    api = FakeWeChatApi(send_errcode=45015)
    async with serve_aiohttp(api.app()) as api_base, aiohttp.ClientSession() as session:
        client = CustomerServiceClient(session, APP_ID, "test-app-secret", api_base)
        with caplog.at_level(logging.WARNING, logger="channels.wechat"):
            with pytest.raises(CustomerServiceWindowClosed) as error:
                await client.send_text("oOld", "太晚了")
    assert error.value.errcode == 45015
    assert any("45015" in r.getMessage() and "48 hours" in r.getMessage() for r in caplog.records)


@run_async
async def test_customer_service_from_env_uses_the_channel_environment(monkeypatch):
    api = FakeWeChatApi()
    async with serve_aiohttp(api.app()) as api_base, aiohttp.ClientSession() as session:
        env = {"WECHAT_APP_ID": APP_ID, "WECHAT_APP_SECRET": "test-app-secret", "WECHAT_API_BASE": api_base}
        client = customer_service_from_env(session, env)
        await client.send_text(OPENID, "接线员的回复")
    assert api.sent == [{"touser": OPENID, "msgtype": "text", "text": {"content": "接线员的回复"}}]
