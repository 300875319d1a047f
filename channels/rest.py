"""The REST channel (`/webhooks/rest/…`): authenticated clients, conversations of their own, the takeover gate.

Rasa's own `RestInput`, registered under the same name ("rest") in credentials.yml; its `receive()` route runs
unchanged, behind:

- **authentication** (`channels.rest_auth`): `Authorization: Bearer <client key>` (REST_CLIENT_KEYS) or a widget's
  `Bearer <conversation token>`; without a valid one the request gets 401 before anything runs (no tracker). Only in
  development on a loopback host without REST_CLIENT_KEYS is the channel open, as Rasa's is;
- **the conversation id** is the channel's, not the client's: `rest:<client>:<sender>` (`rest:<sender>` when open),
  and the input channel is always "rest" (a client's `input_channel` is ignored), so no REST call can continue an SMS
  or WeChat conversation or have operator replies sent by SMS or WeChat. Replies name the client's own `sender` as
  `recipient_id`;
- the takeover gate: every message first asks `bot.takeover.intercept`: while a 12333 operator has the
  conversation, Rasa does not see the message (the operator's console shows it) and the answer carries no assistant
  reply. The operator's replies reach the REST client, which has no address to push to, in two ways: they are put
  in front of the next webhook response, and `GET /webhooks/rest/messages?sender=<id>` (same key or token) returns
  the ones of that client's conversation not yet fetched. Each is handed out once, marked ``"from": "operator"``::

      POST /webhooks/rest/webhook   {"sender": "w1", "message": "还在吗"}     Authorization: Bearer <key>
      → [{"recipient_id": "w1", "text": "您好，我是12333的小王……", "from": "operator"}]
      GET  /webhooks/rest/messages?sender=w1                                 Authorization: Bearer <key>
      → [] (nothing new)
      POST /webhooks/rest/token     {"sender": "w1", "ttl": 3600}             Authorization: Bearer <key>
      → {"token": "…", "sender": "w1", "expires_at": 1790000000}  (for the widget: Authorization: Bearer <token>)

Bad input (no JSON object, no sender, a message that is not text) gets a 400 with the reason instead of Rasa's 500
(checked before Rasa's route runs); ID-card and bank-card numbers are masked before Rasa sees the text; a turn that
produced no reply gets `bot.safety_net`'s apology with 12333.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import QueueOutputChannel
from rasa.core.channels.rest import RestInput as RasaRestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import takeover
from bot.conversation_ids import rest_conversation_id
from bot.safety_net import with_safety_net
from bot.store.types import utcnow
from channels._base import Intercept, OnNewMessage, WebhookLimits, client_address, redact
from channels.rest_auth import DEFAULT_TOKEN_TTL, MAX_TOKEN_TTL, Principal, RestAuth, Unauthorized, mint_token

__all__ = ["BadRequest", "RestInput", "MAX_MESSAGE_CHARS", "MAX_SENDER_CHARS"]

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
MAX_SENDER_CHARS = 128  # the client's part of `rest:<client>:<sender>`, which must fit the stores' 255

PendingMessages = Callable[[str], Awaitable[list[Any]]]


async def _pending_from_store(sender_id: str) -> list[Any]:
    return await asyncio.to_thread(takeover.default_service().take_pending_for_rest, sender_id, utcnow())


def _gate_and_pending(channel: str, sender_id: str, text: str) -> tuple[bool, list[Any] | Exception]:
    """The takeover gate, then the operator messages waiting (or the error that kept them), in one worker-thread trip:
    on a busy loop every trip is a wait behind every other turn, and these two run on each REST message."""
    now = utcnow()
    taken_over = takeover.gate(channel, sender_id, text, now)
    try:
        return taken_over, takeover.default_service().take_pending_for_rest(sender_id, now)
    except Exception as error:
        return taken_over, error


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
        auth: RestAuth | None = None,
    ) -> None:
        self._intercept = intercept or takeover.intercept
        self._pending = pending or _pending_from_store
        if limits is None:
            from bot.settings import current

            limits = WebhookLimits.from_env(current().env)
        self.limits = limits  # per-sender and per-address rate limits (429), see channels._base
        self._auth = auth

    @property
    def auth(self) -> RestAuth:
        """Who may call (from the process's settings on first use)."""
        if self._auth is None:
            self._auth = RestAuth.from_settings()
        return self._auth

    async def operator_messages(self, conversation: str) -> list[dict[str, str]]:
        """Operator messages of this conversation not yet handed out, as REST messages (each handed out once)."""
        return self._as_rest(conversation, await self._pending(conversation))

    def _as_rest(self, conversation: str, messages: list[Any]) -> list[dict[str, str]]:
        recipient = self.auth.client_sender(conversation)
        return [{"recipient_id": recipient, "text": message.text, "from": "operator"} for message in messages]

    async def _gate(self, message: UserMessage) -> tuple[bool, list[dict[str, str]]]:
        """(an operator has the conversation, the operator messages waiting for it as REST messages)."""
        pending: list[Any] | Exception
        if self._intercept is takeover.intercept and self._pending is _pending_from_store:  # both in the app store
            taken_over, pending = await asyncio.to_thread(
                _gate_and_pending, self.name(), message.sender_id, message.text
            )
        else:
            taken_over = await self._intercept(self.name(), message.sender_id, message.text)
            try:
                pending = await self._pending(message.sender_id)
            except Exception as error:
                pending = error
        if isinstance(pending, Exception):  # they stay pending for GET /messages; the worker still gets an answer
            logger.error("rest: could not fetch operator messages: %s", type(pending).__name__)
            return taken_over, []
        return taken_over, self._as_rest(message.sender_id, pending)

    def conversation(self, request: Request, sender: str) -> str:
        """The conversation id of `sender` for the request's authenticated caller (see `authorize`)."""
        principal: Principal = request.ctx.rest_principal
        return rest_conversation_id(sender, principal.client)

    def authorize(self, request: Request, sender: str | None) -> HTTPResponse | None:
        """Authenticate the request (its principal goes to `request.ctx.rest_principal`); a 401/403 response when it
        may not use conversation `sender`, None when it may."""
        try:
            principal = self.auth.authenticate(request.headers.get("Authorization"))
        except Unauthorized as refused:
            logger.warning("rest: unauthenticated %s %s refused: %s", request.method, request.path, refused)
            return response.json({"error": str(refused)}, status=401, headers={"WWW-Authenticate": "Bearer"})
        if principal.sender is not None and sender is not None and sender != principal.sender:
            return response.json({"error": "this token is for another conversation"}, status=403)
        request.ctx.rest_principal = principal
        return None

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
        return self.conversation(req, self.parse(req)[0])

    def _extract_input_channel(self, req: Request) -> str:
        return self.name()  # never the client's `input_channel`: a REST message is a REST message

    def _extract_message(self, req: Request) -> str:
        return redact(self.parse(req)[1])  # ID and bank card numbers never reach the tracker store

    def gated(self, on_new_message: OnNewMessage) -> OnNewMessage:
        """`on_new_message` behind the takeover gate: operator messages waiting for this conversation go first into
        the message's output, then the turn runs unless an operator has the conversation."""

        async def handle(message: UserMessage) -> None:
            taken_over, waiting = await self._gate(message)
            output = message.output_channel
            if isinstance(output, QueueOutputChannel):  # ?stream=true: Rasa writes the queue out line by line
                for item in waiting:
                    await output.messages.put(item)
            else:
                output.messages.extend(waiting)
            if not taken_over:
                await on_new_message(message)
            if not isinstance(output, QueueOutputChannel):
                recipient = self.auth.client_sender(message.sender_id)
                for item in output.messages:  # the client knows its conversation by its own sender id
                    if isinstance(item, dict) and item.get("recipient_id") == message.sender_id:
                        item["recipient_id"] = recipient

        return handle

    def blueprint(self, on_new_message: Callable[..., Awaitable[Any]]) -> Blueprint:
        """Rasa's REST routes (`GET /`, `POST /webhook`) behind the gate, with request checks and `GET /messages`."""
        # a turn that produced nothing still gets an answer
        webhook = super().blueprint(self.gated(with_safety_net(on_new_message)))

        @webhook.middleware("request")
        async def authenticate_and_check(request: Request) -> HTTPResponse | None:
            route = request.route  # Rasa's own POST /webhook handler is named "receive"
            prefix, _, name = route.name.rpartition(".") if route is not None else ("", "", "")
            if not prefix.endswith(webhook.name):
                return None
            if not self.limits.address_allowed(client_address(request)):
                logger.warning("rest: request from %r over the per-address limit refused", client_address(request))
                return response.json({"error": "too many requests"}, status=429)
            if name == "receive":
                if refused := self.authorize(request, None):  # 401 before the body is even looked at
                    return refused
                try:
                    sender = self.parse(request)[0]
                except BadRequest as bad:
                    return response.json({"error": str(bad)}, status=400)
                if refused := self.authorize(request, sender):
                    return refused
                if not self.limits.sender_allowed(self.name(), self.conversation(request, sender)):
                    logger.warning("rest: message from %r over the per-sender limit refused", sender[:64])
                    return response.json({"error": "too many requests"}, status=429)
                return None
            if name in ("messages", "token"):
                return self.authorize(request, None)
            return None

        @webhook.route("/messages", methods=["GET"])
        async def messages(request: Request) -> HTTPResponse:
            sender = (request.args.get("sender") or "").strip()
            if not sender or len(sender) > MAX_SENDER_CHARS:
                return response.json({"error": "sender is required: /webhooks/rest/messages?sender=<id>"}, status=400)
            if refused := self.authorize(request, sender):
                return refused
            return response.json(await self.operator_messages(self.conversation(request, sender)))

        @webhook.route("/token", methods=["POST"])
        async def token(request: Request) -> HTTPResponse:
            """A widget's conversation token, asked for by its back end with the client's key."""
            principal: Principal = request.ctx.rest_principal
            if principal.client is None or principal.sender is not None:
                return response.json({"error": "a client key is required to mint conversation tokens"}, status=403)
            secret = self.auth.token_secret
            if secret is None:
                return response.json({"error": "conversation tokens are not enabled (REST_TOKEN_SECRET)"}, status=503)
            try:
                body = request.json or {}
            except Exception:
                body = None
            if not isinstance(body, dict):
                return response.json({"error": 'the body must be a JSON object: {"sender": "…", "ttl": 3600}'}, 400)
            sender, ttl = body.get("sender") or secrets.token_urlsafe(16), body.get("ttl", DEFAULT_TOKEN_TTL)
            if not isinstance(sender, str) or len(sender) > MAX_SENDER_CHARS or not sender.strip():
                return response.json({"error": f"sender must be a string of at most {MAX_SENDER_CHARS}"}, 400)
            if not isinstance(ttl, int) or isinstance(ttl, bool) or not 0 < ttl <= MAX_TOKEN_TTL:
                return response.json({"error": f"ttl must be 1 to {MAX_TOKEN_TTL} seconds"}, status=400)
            now = time.time()
            minted = mint_token(secret, principal.client, sender, ttl=ttl, now=now)
            return response.json({"token": minted, "sender": sender, "expires_at": int(now + ttl)})

        return webhook
