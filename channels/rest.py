"""The REST channel (`/webhooks/rest/…`) with the operator takeover gate.

Rasa's own `RestInput`, registered under the same name ("rest") in credentials.yml; its `receive()` route runs
unchanged, around a handler that adds the takeover gate:

- every message first asks `bot.takeover.intercept`: while a 12333 operator has the conversation, Rasa does not see the
  message (the operator's console shows it) and the answer carries no assistant reply;
- the operator's replies reach the REST client, which has no address to push to, in two ways: they are put in front
  of the next webhook response, and `GET /webhooks/rest/messages?sender=<id>` returns the ones not yet fetched (a
  client polls it while the conversation is taken over). Each operator message is handed out once, marked
  ``"from": "operator"``::

      POST /webhooks/rest/webhook   {"sender": "w1", "message": "还在吗"}
      → [{"recipient_id": "w1", "text": "您好，我是12333的小王……", "from": "operator"}]
      GET  /webhooks/rest/messages?sender=w1
      → [] (nothing new)

Bad input (no JSON object, no sender, a message that is not text) gets a 400 with the reason instead of Rasa's 500
(checked before Rasa's route runs); ID-card and bank-card numbers are masked before Rasa sees the text; a turn that
produced no reply gets `bot.safety_net`'s apology with 12333.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import QueueOutputChannel
from rasa.core.channels.rest import RestInput as RasaRestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import takeover
from bot.safety_net import with_safety_net
from bot.store.cases import utcnow
from channels._base import Intercept, OnNewMessage, WebhookLimits, client_address, redact

__all__ = ["BadRequest", "RestInput", "MAX_MESSAGE_CHARS", "MAX_SENDER_CHARS"]

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
MAX_SENDER_CHARS = 255

PendingMessages = Callable[[str], Awaitable[list[Any]]]


async def _pending_from_store(sender_id: str) -> list[Any]:
    return await asyncio.to_thread(takeover.default_service().take_pending_for_rest, sender_id, utcnow())


class BadRequest(ValueError):
    """The request cannot be a chat message; the text says why."""


class RestInput(RasaRestInput):
    """Rasa's REST channel behind the takeover gate, delivering operator messages to the REST client."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> RestInput:
        """The channel from credentials.yml (it takes no credentials)."""
        return cls()

    def __init__(
        self,
        *,
        intercept: Intercept | None = None,
        pending: PendingMessages | None = None,
        limits: WebhookLimits | None = None,
    ) -> None:
        self._intercept = intercept or takeover.intercept
        self._pending = pending or _pending_from_store
        if limits is None:
            from bot.settings import current

            limits = WebhookLimits.from_env(current().env)
        self.limits = limits  # per-sender and per-address rate limits (429), see channels._base

    async def operator_messages(self, sender_id: str) -> list[dict[str, str]]:
        """Operator messages of this conversation not yet handed out, as REST messages (each handed out once)."""
        return [
            {"recipient_id": sender_id, "text": message.text, "from": "operator"}
            for message in await self._pending(sender_id)
        ]

    @staticmethod
    def parse(request: Request) -> tuple[str, str]:
        """(sender, message) of a webhook request; raises BadRequest."""
        try:
            payload = request.json
        except Exception:  # sanic raises its own InvalidUsage for a body that is not JSON
            raise BadRequest('the body must be JSON: {"sender": "…", "message": "…"}') from None
        if not isinstance(payload, dict):
            raise BadRequest("the body must be a JSON object with sender and message")
        sender, text = payload.get("sender"), payload.get("message")
        if isinstance(sender, int) and not isinstance(sender, bool):
            sender = str(sender)
        if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS:
            raise BadRequest(f"sender must be a non-empty string of at most {MAX_SENDER_CHARS} characters")
        if not isinstance(text, str):
            raise BadRequest("message must be a string")
        if len(text) > MAX_MESSAGE_CHARS:
            raise BadRequest(f"message is longer than {MAX_MESSAGE_CHARS} characters")
        return sender, text

    # Rasa's receive() reads the request through these: the checked sender, the masked text.

    async def _extract_sender(self, req: Request) -> str:
        return self.parse(req)[0]

    def _extract_message(self, req: Request) -> str:
        return redact(self.parse(req)[1])  # ID and bank card numbers never reach the tracker store

    def gated(self, on_new_message: OnNewMessage) -> OnNewMessage:
        """`on_new_message` behind the takeover gate: operator messages waiting for this conversation go first into
        the message's output, then the turn runs unless an operator has the conversation."""

        async def handle(message: UserMessage) -> None:
            taken_over = await self._intercept(self.name(), message.sender_id, message.text)
            try:
                waiting = await self.operator_messages(message.sender_id)
            except Exception as error:  # they stay pending for GET /messages; the worker still gets an answer
                logger.error("rest: could not fetch operator messages: %s", type(error).__name__)
                waiting = []
            output = message.output_channel
            if isinstance(output, QueueOutputChannel):  # ?stream=true: Rasa writes the queue out line by line
                for item in waiting:
                    await output.messages.put(item)
            else:
                output.messages.extend(waiting)
            if not taken_over:
                await on_new_message(message)

        return handle

    def blueprint(self, on_new_message: Callable[..., Awaitable[Any]]) -> Blueprint:
        """Rasa's REST routes (`GET /`, `POST /webhook`) behind the gate, with request checks and `GET /messages`."""
        # a turn that produced nothing still gets an answer
        webhook = super().blueprint(self.gated(with_safety_net(on_new_message)))

        @webhook.middleware("request")
        async def refuse_bad_requests(request: Request) -> HTTPResponse | None:
            route = request.route  # Rasa's own POST /webhook handler is named "receive"
            if route is None or f"{webhook.name}." not in route.name:
                return None
            if not self.limits.address_allowed(client_address(request)):
                logger.warning("rest: request from %r over the per-address limit refused", client_address(request))
                return response.json({"error": "too many requests"}, status=429)
            if route.name.endswith(f"{webhook.name}.receive"):
                try:
                    sender = self.parse(request)[0]
                except BadRequest as bad:
                    return response.json({"error": str(bad)}, status=400)
                if not self.limits.sender_allowed(self.name(), sender):
                    logger.warning("rest: message from %r over the per-sender limit refused", sender[:64])
                    return response.json({"error": "too many requests"}, status=429)
            return None

        @webhook.route("/messages", methods=["GET"])
        async def messages(request: Request) -> HTTPResponse:
            sender = (request.args.get("sender") or "").strip()
            if not sender or len(sender) > MAX_SENDER_CHARS:
                return response.json({"error": "sender is required: /webhooks/rest/messages?sender=<id>"}, status=400)
            return response.json(await self.operator_messages(sender))

        return webhook
