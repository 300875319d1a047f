"""The WeChat message APIs: the `stable_token` access-token cache, customer-service (客服) messages
(`message/custom/send`) and template messages (`message/template/send`).

Customer-service messages carry the channel's replies that miss the passive deadline or do not fit one passive
reply, and the operator console's replies (through `channels.outbound`); they are allowed within 48 hours of the
user's last message, otherwise WeChat answers 45015 (`CustomerServiceWindowClosed`). Template messages are the case
notifications' way outside that window (`bot.notifier`, the template configured by WECHAT_CASE_TEMPLATE_ID).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from bot.settings import Settings
from channels._config import channel_values, check_values

__all__ = [
    "CustomerServiceClient",
    "CustomerServiceWindowClosed",
    "DEFAULT_API_BASE",
    "WINDOW_EXPIRED",
    "WeChatApiError",
    "customer_service_for",
    "customer_service_from_env",
]

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.weixin.qq.com"

# errcode values of the WeChat API (developers.weixin.qq.com/doc/offiaccount/Getting_Started/Global_Return_Code.html)
_TOKEN_INVALID = {40001, 40014, 42001}  # invalid, malformed or expired access token: fetch a new one and retry once
WINDOW_EXPIRED = 45015  # the user has not written for 48 h: customer-service messages are refused


class WeChatApiError(Exception):
    """The WeChat API answered with an error code."""

    def __init__(self, errcode: int, errmsg: str = "") -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class CustomerServiceWindowClosed(WeChatApiError):
    """45015: the user's last message is more than 48 hours old, so WeChat refuses customer-service messages."""


class CustomerServiceClient:
    """Sends customer-service (客服) text messages, with one cached access token per client.

    The token comes from `cgi-bin/stable_token` (normal mode): unlike `cgi-bin/token`, fetching it does not invalidate
    the token another process (the console, another replica) holds, so every process can keep its own cache. It is
    refreshed before it expires (at the later of expiry − 5 min and half its lifetime), fetched once however many
    requests need it at the same moment (an asyncio lock), and fetched again once if WeChat calls it invalid.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        app_id: str,
        app_secret: str,
        api_base: str = DEFAULT_API_BASE,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.app_id = app_id
        self._app_secret = app_secret
        self.api_base = api_base.rstrip("/")
        self._clock = clock
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()
        self.token_fetches = 0

    async def _post(self, path: str, payload: dict[str, Any], params: dict[str, str] | None = None) -> dict[str, Any]:
        # ensure_ascii=False: the API shows \uXXXX escapes literally instead of the characters.
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        async with self.session.post(
            f"{self.api_base}{path}",
            data=body,
            params=params,
            headers={"Content-Type": "application/json; charset=utf-8"},
        ) as answer:
            answer.raise_for_status()
            data = await answer.json(content_type=None)
        if not isinstance(data, dict):
            raise WeChatApiError(-1, f"unexpected answer from {path}")
        return data

    async def access_token(self) -> str:
        """A valid access token, from the cache or freshly fetched."""
        if self._token and self._clock() < self._refresh_at:
            return self._token
        async with self._lock:
            if self._token and self._clock() < self._refresh_at:  # another request fetched it while we waited
                return self._token
            data = await self._post(
                "/cgi-bin/stable_token",
                {
                    "grant_type": "client_credential",
                    "appid": self.app_id,
                    "secret": self._app_secret,
                    "force_refresh": False,
                },
            )
            if not data.get("access_token"):
                raise WeChatApiError(int(data.get("errcode") or -1), str(data.get("errmsg") or "no access_token"))
            lifetime = float(data.get("expires_in") or 7200)
            token = str(data["access_token"])
            self._token = token
            self._refresh_at = self._clock() + max(lifetime - 300, lifetime / 2)
            self.token_fetches += 1
            logger.info("wechat: fetched an access token (valid %d s)", lifetime)
            return token

    def _forget(self, token: str) -> None:
        if self._token == token:
            self._token = None

    async def _call(self, path: str, payload: dict[str, Any], openid: str) -> dict[str, Any]:
        """POST `payload` to an API that needs the access token (fetched again once if WeChat calls it invalid);
        the answer on errcode 0, else `CustomerServiceWindowClosed` (45015) or `WeChatApiError`."""
        for attempt in range(2):
            token = await self.access_token()
            data = await self._post(path, payload, params={"access_token": token})
            errcode = int(data.get("errcode") or 0)
            if errcode == 0:
                return data
            if errcode in _TOKEN_INVALID and attempt == 0:
                logger.warning("wechat: access token refused (%s); fetching a new one", errcode)
                self._forget(token)
                continue
            if errcode == WINDOW_EXPIRED:
                logger.warning(
                    "wechat: customer-service message to %s refused with 45015: the user's last message is older "
                    "than 48 hours, so this reply cannot be delivered",
                    openid,
                )
                raise CustomerServiceWindowClosed(errcode, str(data.get("errmsg") or ""))
            raise WeChatApiError(errcode, str(data.get("errmsg") or ""))
        raise AssertionError("unreachable")  # pragma: no cover  (the second attempt returns or raises)

    async def send_text(self, openid: str, text: str) -> None:
        """Send one text message to `openid`; raises `CustomerServiceWindowClosed` (45015) or `WeChatApiError`."""
        await self._call(
            "/cgi-bin/message/custom/send", {"touser": openid, "msgtype": "text", "text": {"content": text}}, openid
        )

    async def send_template(
        self, openid: str, template_id: str, data: Mapping[str, str], *, client_msg_id: str = ""
    ) -> str:
        """Send a template message (allowed outside the 48-hour window) with the template's fields `data`
        ({"thing3": "…"}); returns WeChat's msgid, which the TEMPLATESENDJOBFINISH event reports on.

        `client_msg_id` is the idempotency key: WeChat sends one message per openid and key within 10 minutes, so a
        send repeated after a crash is dropped. Raises `WeChatApiError` (43004: the user does not follow the
        account, 40037: no such template, …)."""
        payload: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {name: {"value": value} for name, value in data.items()},
        }
        if client_msg_id:
            payload["client_msg_id"] = client_msg_id[:64]
        answer = await self._call("/cgi-bin/message/template/send", payload, openid)
        return str(answer.get("msgid") or "")


def customer_service_for(settings: Settings, session: aiohttp.ClientSession) -> CustomerServiceClient:
    """A `CustomerServiceClient` configured from the settings' WECHAT_APP_ID, WECHAT_APP_SECRET and WECHAT_API_BASE
    (one client per process, so one cached token); `ChannelConfigError` names what is missing."""
    values = channel_values(settings)
    required = ("WECHAT_APP_ID", "WECHAT_APP_SECRET")
    check_values(
        "wechat", {name: values.get(name, "") for name in required}, required=required, production=settings.production
    )
    return CustomerServiceClient(
        session,
        values["WECHAT_APP_ID"],
        values["WECHAT_APP_SECRET"],
        values.get("WECHAT_API_BASE") or DEFAULT_API_BASE,
    )


def customer_service_from_env(session: aiohttp.ClientSession, env: Mapping[str, str]) -> CustomerServiceClient:
    """`customer_service_for()` with Settings built from the environment mapping `env` (the console's name for it,
    until it calls `channels.outbound.outbound_for`)."""
    return customer_service_for(Settings.from_env(env), session)
