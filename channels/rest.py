"""The REST channel (`/webhooks/rest/…`) with the operator takeover gate.

Rasa's own `RestInput`, registered under the same name ("rest") in credentials.yml, with two changes:

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

Bad input (no JSON object, no sender, a message that is not text) gets a 400 with the reason instead of Rasa's 500;
a turn that produced no reply gets `bot.safety_net`'s apology with 12333.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Awaitable, Callable
from typing import Any

import rasa.utils.endpoints
import structlog
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.privacy import redact_incoming

__all__ = ["RestInput", "MAX_MESSAGE_CHARS", "MAX_SENDER_CHARS"]

structlogger = structlog.get_logger()

MAX_MESSAGE_CHARS = 2000
MAX_SENDER_CHARS = 255

Intercept = Callable[[str, str, str], Awaitable[bool]]
PendingMessages = Callable[[str], Awaitable[list]]


async def _pending_from_store(sender_id: str) -> list:
    from bot.store.cases import utcnow
    from bot.takeover import default_service

    return await asyncio.to_thread(default_service().take_pending_for_rest, sender_id, utcnow())


class BadRequest(ValueError):
    """The request cannot be a chat message; the text says why."""


class RestInput(RasaRestInput):
    """Rasa's REST channel behind the takeover gate, delivering operator messages to the REST client."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> RestInput:
        return cls()

    def __init__(self, *, intercept: Intercept | None = None, pending: PendingMessages | None = None) -> None:
        if intercept is None:
            from bot.takeover import intercept as takeover_intercept

            intercept = takeover_intercept
        self._intercept = intercept
        self._pending = pending or _pending_from_store

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
            raise BadRequest("the body must be JSON: {\"sender\": \"…\", \"message\": \"…\"}") from None
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

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        from bot.safety_net import with_safety_net

        on_new_message = with_safety_net(on_new_message)  # a turn that produced nothing still gets an answer
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/messages", methods=["GET"])
        async def messages(request: Request) -> HTTPResponse:
            sender = (request.args.get("sender") or "").strip()
            if not sender or len(sender) > MAX_SENDER_CHARS:
                return response.json({"error": "sender is required: /webhooks/rest/messages?sender=<id>"}, status=400)
            return response.json(await self.operator_messages(sender))

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                sender, text = self.parse(request)
            except BadRequest as bad:
                return response.json({"error": str(bad)}, status=400)
            text = redact_incoming(text)  # ID and bank card numbers never reach the tracker store
            stream = rasa.utils.endpoints.bool_arg(request, "stream", default=False)
            taken_over = await self._intercept(self.name(), sender, text)
            waiting = await self.operator_messages(sender)
            if taken_over:
                if stream:
                    return response.text(
                        "".join(json.dumps(m) + "\n" for m in waiting), content_type="text/event-stream"
                    )
                return response.json(waiting)
            input_channel = self._extract_input_channel(request)
            metadata = self.get_metadata(request)
            if stream:
                inner = self.stream_response(on_new_message, text, sender, input_channel, metadata)

                async def stream_with_operator_messages(resp: Any) -> None:
                    for message in waiting:
                        await resp.write(json.dumps(message) + "\n")
                    await inner(resp)

                return response.stream(stream_with_operator_messages, content_type="text/event-stream")
            collector = CollectingOutputChannel()
            try:
                await on_new_message(
                    UserMessage(text, collector, sender, input_channel=input_channel, metadata=metadata)
                )
            except asyncio.CancelledError:
                structlogger.error("rest.message.received.timeout", text=copy.deepcopy(text))
            except Exception:
                structlogger.exception("rest.message.received.failure", text=copy.deepcopy(text))
            return response.json(waiting + collector.messages)

        return webhook
