"""What every channel runs for one inbound message, and the one constant-time comparison of secrets.

The pipeline: **redact** the worker's text (ID-card and bank-card numbers never reach Rasa) → **claim** the message
(a provider's retry never runs a turn twice) → ask the operator **takeover** gate (while a 12333 operator has the
conversation the assistant stays silent) → map a **menu digit** to the payload of the last menu shown → run the
**turn** → **remember the menu** the reply shows → **send** it. `MenuChannel` owns the steps every channel shares;
each channel keeps only what is its own: how it claims (SMS durably in the app store, WeChat per process for the
retries of one push), what comes between claim and takeover (SMS opt-outs), how a reply is rendered and delivered.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage

from bot.privacy import redact_incoming
from channels._render import CollectingOutput, Reply, collect_reply, menu_number
from channels._state import ChannelState

__all__ = ["Intercept", "MenuChannel", "PushOutput", "OnNewMessage", "TurnRequest", "redact", "verify_equal"]

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

    # -- claim ---------------------------------------------------------------------------------------------------

    async def claim(self, key: str) -> bool:
        """Record message `key` as being processed; False when it already was (a duplicate delivery)."""
        return await asyncio.to_thread(self.state.claim_message, self.name(), key)

    async def finish(self, key: str) -> None:
        """Mark a claimed message as done: it never runs again."""
        await asyncio.to_thread(self.state.finish_message, self.name(), key)

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
