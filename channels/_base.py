"""What every channel runs for one inbound message, and the one constant-time comparison of secrets.

The pipeline: **redact** the worker's text (ID-card and bank-card numbers never reach Rasa) → **claim** the message
(a provider's retry never runs a turn twice) → ask the operator **takeover** gate (while a 12333 operator has the
conversation the assistant stays silent) → map a **menu digit** to the payload of the last menu shown → run the
**turn** → **remember the menu** the reply shows → **send** it. `MenuChannel` owns the steps every channel shares;
each channel keeps only what is its own: how it claims (both durably in the app store; WeChat also shares the running
turn with the retries of one push in its process), what comes between claim and takeover (SMS opt-outs), how a reply
is rendered and delivered.

Before the claim, the **rate limit**: a token bucket per sender (OpenID, phone number, REST sender) and one per
client address (`WebhookLimits`). The buckets are kept per process, on purpose: the check runs on every message, so a
database round trip for it would add a write to the app store per message, which is what a flood is trying to cause;
a bucket in memory costs nothing, and a flood spread over N replicas gets at most N times the limit, which is still
a limit (nginx's `limit_req` in docs/nginx-scale-out.conf adds the shared per-address limit in front). The buckets
forget full (idle) keys first, so their memory stays bounded whatever the number of senders.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage

from bot.privacy import redact_incoming
from channels._render import CollectingOutput, Reply, collect_reply, menu_number
from channels._state import ChannelState

__all__ = [
    "ADDRESS_LIMIT_PER_MINUTE",
    "Intercept",
    "MenuChannel",
    "OnNewMessage",
    "PushOutput",
    "RateLimit",
    "SENDER_LIMIT_PER_MINUTE",
    "TokenBuckets",
    "TurnRequest",
    "WebhookLimits",
    "client_address",
    "redact",
    "verify_equal",
]

Intercept = Callable[[str, str, str], Awaitable[bool]]
"""The takeover gate `(channel, sender_id, text) -> True when an operator has the conversation`."""
OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

redact = redact_incoming
"""A worker's message with ID-card and bank-card numbers masked: the first step of every channel's pipeline."""


def verify_equal(expected: str, given: str | None, *, hex_digest: bool = False) -> bool:
    """Whether `given` equals the secret `expected`, in time that does not depend on where they differ.

    A missing value never matches. With `hex_digest`, `given` is a hexadecimal digest or token written by another
    system, so surrounding spaces and the letters' case do not count (the SMS signature and callback token);
    without it, the comparison is exact (WeChat's signatures, which WeChat sends exactly as computed).
    """
    candidate = (given or "").strip().lower() if hex_digest else given or ""
    return hmac.compare_digest(expected.encode("utf-8"), candidate.encode("utf-8"))


SENDER_LIMIT_PER_MINUTE = 30
"""Messages per minute one sender may send (also the burst): a worker answering the intake form types far slower,
a script does not. `WEBHOOK_SENDER_LIMIT` overrides it."""
ADDRESS_LIMIT_PER_MINUTE = 3000
"""Requests per minute from one client address (also the burst): a backstop for a port exposed without nginx. WeChat's
and the SMS provider's pushes come from a handful of their servers carrying every user, so this stays generous.
Behind a proxy the app sees the proxy's address unless Sanic is told to trust it (`SANIC_PROXIES_COUNT=1`).
`WEBHOOK_ADDRESS_LIMIT` overrides it."""


@dataclass(frozen=True)
class RateLimit:
    """`per_minute` requests per minute, in bursts of at most `burst` (default: as many as per minute)."""

    per_minute: float
    burst: float = 0.0

    @property
    def capacity(self) -> float:
        return self.burst or self.per_minute

    @classmethod
    def from_setting(cls, raw: str | None, default: float) -> RateLimit:
        """The limit a setting such as `WEBHOOK_SENDER_LIMIT=30` gives (requests per minute; empty: `default`)."""
        text = (raw or "").strip()
        if not text:
            return cls(default)
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"a rate limit must be a number of requests per minute, not {text!r}") from None
        if value <= 0:
            raise ValueError(f"a rate limit must be positive, not {text!r}")
        return cls(value)


class TokenBuckets:
    """One token bucket per key, in this process: `take(key)` spends a token, False when the key has none left.

    A bucket holds `limit.capacity` tokens and refills at `limit.per_minute` a minute. At most `max_keys` buckets are
    kept: beyond that, full buckets (keys idle long enough to have refilled, so forgetting them changes nothing) go
    first, then the fullest ones, so a flooder's emptied bucket is the last to be forgotten. Thread-safe (a lock
    around a few float operations).
    """

    def __init__(
        self, limit: RateLimit, *, max_keys: int = 20_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._lock = threading.Lock()

    def _tokens(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (self.limit.capacity, now))
        return min(self.limit.capacity, tokens + (now - at) * self.limit.per_minute / 60.0)

    def take(self, key: str) -> bool:
        """Spend one of `key`'s tokens; False (nothing spent) when it has none."""
        with self._lock:
            now = self._clock()
            tokens = self._tokens(key, now)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
            self._buckets.move_to_end(key)
            if len(self._buckets) > self.max_keys:
                self._shrink(now)
            return allowed

    def _shrink(self, now: float) -> None:
        tokens = {key: self._tokens(key, now) for key in self._buckets}
        for key in [key for key, left in tokens.items() if left >= self.limit.capacity]:
            del self._buckets[key]
        if len(self._buckets) > self.max_keys:  # then the fullest (forgetting an emptied bucket would reset it)
            keep = max(1, int(self.max_keys * 0.9))  # shrink by a tenth at once: sorting stays rare
            for key in sorted(self._buckets, key=lambda key: -tokens[key])[: len(self._buckets) - keep]:
                del self._buckets[key]


class WebhookLimits:
    """The per-sender and per-address buckets of one public webhook (see the module's docstring)."""

    def __init__(
        self,
        sender: RateLimit | None = None,
        address: RateLimit | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.senders = TokenBuckets(sender or RateLimit(SENDER_LIMIT_PER_MINUTE), clock=clock)
        self.addresses = TokenBuckets(address or RateLimit(ADDRESS_LIMIT_PER_MINUTE), clock=clock)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WebhookLimits:
        """The limits `WEBHOOK_SENDER_LIMIT` and `WEBHOOK_ADDRESS_LIMIT` (requests per minute) set, else the
        defaults."""
        return cls(
            RateLimit.from_setting(env.get("WEBHOOK_SENDER_LIMIT"), SENDER_LIMIT_PER_MINUTE),
            RateLimit.from_setting(env.get("WEBHOOK_ADDRESS_LIMIT"), ADDRESS_LIMIT_PER_MINUTE),
        )

    def sender_allowed(self, channel: str, sender_id: str) -> bool:
        return self.senders.take(f"{channel}:{sender_id}")

    def address_allowed(self, address: str) -> bool:
        return self.addresses.take(address or "-")


def client_address(request: Any) -> str:
    """The client's address: the one a trusted proxy forwarded (Sanic's `remote_addr`, set only when the app is
    told to trust the proxy, e.g. `SANIC_PROXIES_COUNT=1`), else the TCP peer. Never a header the client chose."""
    return str(getattr(request, "remote_addr", "") or getattr(request, "ip", "") or "")


@dataclass(frozen=True)
class TurnRequest:
    """What one turn is asked: who, what (already redacted), the message's id and the metadata Rasa stores with it.

    `sender_id` is the conversation's channel-scoped id (`bot.conversation_ids`: `wechat:<openid>`, `sms:<phone>`),
    formed by the channel from what it authenticated; `deliver()` takes the same id and finds the address in it."""

    sender_id: str
    text: str
    message_id: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


class MenuChannel:
    """The steps of the pipeline every menu-rendering channel shares (mixed into its `InputChannel`).

    The channel sets `state` (its `ChannelState`), `intercept` (the takeover gate), `menu_ttl` and `log` (its module's
    logger, so a channel's records stay under its name), and implements
    `render()` (a reply as the texts to send) and `deliver()` (send them); `name()` comes from `InputChannel`.
    Failures of the menu store are logged and tolerated: a menu is a convenience, so without it a digit reply goes
    through as text.
    """

    state: ChannelState
    intercept: Intercept
    menu_ttl: timedelta
    limits: WebhookLimits
    log: logging.Logger = logging.getLogger(__name__)

    @classmethod
    def name(cls) -> str:
        raise NotImplementedError

    def log_id(self, sender_id: str) -> str:
        """The sender id as logs show it (SMS masks phone numbers)."""
        return sender_id

    def render(self, reply: Reply) -> list[str]:
        """The reply as the messages this channel sends."""
        raise NotImplementedError

    async def deliver(self, sender_id: str, parts: list[str]) -> int:
        """Send rendered parts to `sender_id` in order; how many were sent (a failure is logged, the rest dropped)."""
        raise NotImplementedError

    # -- rate limit ----------------------------------------------------------------------------------------------

    def address_allowed(self, request: Any) -> bool:
        """Spend a token of the request's client address; False (logged) when it has none left."""
        address = client_address(request)
        if self.limits.address_allowed(address):
            return True
        self.log.warning("%s: request from %r over the per-address limit refused", self.name(), address)
        return False

    def sender_allowed(self, sender_id: str) -> bool:
        """Spend a token of the sender; False (logged) when the sender is over its limit."""
        if self.limits.sender_allowed(self.name(), sender_id):
            return True
        self.log.warning("%s: message from %s over the per-sender limit refused", self.name(), self.log_id(sender_id))
        return False

    # -- claim ---------------------------------------------------------------------------------------------------

    async def claim(self, key: str) -> bool:
        """Record message `key` as being processed; False when it already was (a duplicate delivery)."""
        return await asyncio.to_thread(self.state.claim_message, self.name(), key)

    async def finish(self, key: str, reply: str | None = None) -> None:
        """Mark a claimed message as done: it never runs again (`reply`: what a retry of it is answered)."""
        await asyncio.to_thread(self.state.finish_message, self.name(), key, reply)

    async def release(self, key: str) -> None:
        """Forget a claim whose turn never ran, so the provider's retry runs it."""
        await asyncio.to_thread(self.state.release_message, self.name(), key)

    # -- takeover, menu, turn ------------------------------------------------------------------------------------

    async def taken_over(self, sender_id: str, text: str) -> bool:
        """Ask the takeover gate; True when an operator has the conversation (the message was recorded for them)."""
        if await self.intercept(self.name(), sender_id, text):
            self.log.info("%s: message from %s handed to the operator", self.name(), self.log_id(sender_id))
            return True
        return False

    async def menu_payload(self, sender_id: str, text: str) -> str:
        """The payload of the menu option a digit reply chooses, or the text itself."""
        if (number := menu_number(text)) is None:
            return text
        try:
            choice = await asyncio.to_thread(self.state.menu_choice, self.name(), sender_id, number)
        except Exception as error:
            self.log.warning("%s: could not read the menu of %s: %s", self.name(), self.log_id(sender_id), error)
            return text
        return choice or text

    async def remember_menu(self, sender_id: str, reply: Reply) -> None:
        """Remember the menu `reply` shows (none: forget the last one, digits then mean themselves)."""
        payloads = [button.payload for button in reply.buttons]
        try:
            await asyncio.to_thread(self.state.remember_menu, self.name(), sender_id, payloads, self.menu_ttl)
        except Exception as error:
            self.log.warning("%s: could not remember the menu of %s: %s", self.name(), self.log_id(sender_id), error)

    async def turn(self, on_new_message: OnNewMessage, output: CollectingOutput, request: TurnRequest) -> Reply:
        """Run the assistant's turn for the request's text (sent as is: no menu mapping) and remember the menu of
        its reply."""
        await on_new_message(
            UserMessage(
                request.text,
                output,
                request.sender_id,
                input_channel=self.name(),
                message_id=request.message_id,
                metadata=dict(request.metadata),
            )
        )
        reply = output.reply()
        await self.remember_menu(request.sender_id, reply)
        return reply

    async def converse(
        self, on_new_message: OnNewMessage, output: CollectingOutput, request: TurnRequest
    ) -> Reply | None:
        """Takeover → menu digit → turn → remember menu for a worker's (redacted) text; None when an operator has
        the conversation and the assistant must stay silent."""
        if await self.taken_over(request.sender_id, request.text):
            return None
        text = await self.menu_payload(request.sender_id, request.text)
        return await self.turn(on_new_message, output, dataclasses.replace(request, text=text))

    # -- outside a turn ------------------------------------------------------------------------------------------

    async def push(self, sender_id: str, reply: Reply) -> None:
        """Send a message outside a worker's turn: remember its menu, render it, deliver it."""
        await self.remember_menu(sender_id, reply)
        await self.deliver(sender_id, self.render(reply))


class PushOutput(OutputChannel):
    """The output Rasa uses outside a worker's turn (`get_output_channel()`, e.g.
    `POST /conversations/<id>/trigger_intent?output_channel=latest`): each message is sent at once through the
    channel's `push()`. Custom payloads and images have no text form and are dropped."""

    def __init__(self, channel: MenuChannel) -> None:
        self.channel = channel

    @classmethod
    def name(cls) -> str:
        raise NotImplementedError  # each channel's subclass names itself, so `channel:` response variants apply

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.channel.push(recipient_id, collect_reply([{"text": text}]))

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict], **kwargs: Any) -> None:
        await self.channel.push(recipient_id, collect_reply([{"text": text, "buttons": buttons}]))

    async def send_custom_json(self, recipient_id: str, json_message: dict, **kwargs: Any) -> None:
        pass  # machine-readable payloads have no text form

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        pass
