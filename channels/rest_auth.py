"""Who may use the REST channel: one key per integrating client, and short-lived signed tokens for browser widgets.

- **Client keys.** `REST_CLIENT_KEYS="shop=<sha256 hex>,miniapp=<sha256 hex>"` names each client (a web page's back
  end, a mini-program server) with the SHA-256 hash of its key; the key itself stays with the client, which sends
  `Authorization: Bearer <key>`. The client's name becomes part of its conversations' ids (`rest:shop:<sender>`), so
  one client can never reach another's conversations, nor any SMS or WeChat one. Make a key and its hash with
  `python -m channels.rest_auth new-key shop`.
- **Conversation tokens.** A browser widget must not hold its site's key. Its back end asks for a token naming one
  conversation (`POST /webhooks/rest/token` with the key, or `mint_token()` / `python -m channels.rest_auth
  mint-token` where the back end has `REST_TOKEN_SECRET`) and hands it to the page, which sends
  `Authorization: Bearer <token>`. The token is an HMAC-SHA256-signed (client, sender, expiry); it is good for that
  one conversation until it expires (at most `MAX_TOKEN_TTL`).
- **Open in development.** With `NXA_ENV` unset, the assistant on a loopback host (`NXA_HOST` 127.0.0.1) and no
  `REST_CLIENT_KEYS`, REST stays open as Rasa's is (conversation `rest:<sender>`), so `make chat`, the README's curl
  line and local tests work without a key. Anywhere else every call needs a key or a token; without one it gets 401
  and reaches nothing.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import re
import secrets
import sys
import time
from dataclasses import dataclass

from bot.settings import Settings, current, is_loopback

__all__ = [
    "DEFAULT_TOKEN_TTL",
    "MAX_TOKEN_TTL",
    "InvalidToken",
    "Principal",
    "RestAuth",
    "Unauthorized",
    "hash_key",
    "mint_token",
    "new_key",
    "parse_client_keys",
    "verify_token",
]

DEFAULT_TOKEN_TTL = 3600
MAX_TOKEN_TTL = 24 * 3600
CLIENT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_HEX_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TOKEN_CONTEXT = b"nxa-rest-conversation-token.v1."
MAX_SENDER_CHARS = 128


class Unauthorized(Exception):
    """The request carries no valid key or token; the text says why (safe to show the caller)."""


class InvalidToken(Unauthorized):
    """A conversation token that is malformed, forged or expired."""


def hash_key(key: str) -> str:
    """The SHA-256 hex digest of a client key, as REST_CLIENT_KEYS lists it."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> tuple[str, str]:
    """A new random client key and its hash."""
    key = secrets.token_urlsafe(32)  # letters, digits, - and _: never a "." (which marks a token)
    return key, hash_key(key)


def parse_client_keys(text: str) -> dict[str, str]:
    """`name=<sha256 hex>,…` as {hash: name}; raises ValueError naming what is wrong."""
    clients: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in (text or "").replace("\n", ",").split(","))):
        name, equals, digest = (piece.strip() for piece in entry.partition("="))
        if not equals or not CLIENT_NAME.match(name):
            raise ValueError(
                f"REST_CLIENT_KEYS: {entry[:20]!r} is not name=<sha256 hex> (a name of lower-case letters, digits, "
                "- and _, at most 32)"
            )
        digest = digest.lower()
        if not _HEX_SHA256.match(digest):
            raise ValueError(
                f"REST_CLIENT_KEYS: the hash of {name!r} must be 64 hex digits (python -m channels.rest_auth new-key)"
            )
        if name in clients.values():
            raise ValueError(f"REST_CLIENT_KEYS: client {name!r} is listed twice")
        clients[digest] = name
    return clients


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, _TOKEN_CONTEXT + payload.encode("ascii"), hashlib.sha256).digest())


def mint_token(
    secret: bytes, client: str, sender: str, *, ttl: int = DEFAULT_TOKEN_TTL, now: float | None = None
) -> str:
    """A token for conversation `sender` of `client`, good for `ttl` seconds (at most MAX_TOKEN_TTL)."""
    if not CLIENT_NAME.match(client or ""):
        raise ValueError(f"not a client name: {client!r}")
    if not sender or len(sender) > MAX_SENDER_CHARS:
        raise ValueError(f"the sender must be 1 to {MAX_SENDER_CHARS} characters")
    if not 0 < ttl <= MAX_TOKEN_TTL:
        raise ValueError(f"ttl must be between 1 and {MAX_TOKEN_TTL} seconds")
    expires = int((time.time() if now is None else now) + ttl)
    payload = _b64(json.dumps({"c": client, "s": sender, "exp": expires}, separators=(",", ":")).encode())
    return f"{payload}.{_signature(secret, payload)}"


def verify_token(secret: bytes, token: str, *, now: float | None = None) -> tuple[str, str, int]:
    """(client, sender, expiry) of a valid token; raises InvalidToken for a forged, malformed or expired one."""
    payload, dot, signature = (token or "").partition(".")
    if not dot or not payload or not signature:
        raise InvalidToken("malformed token")
    if not hmac.compare_digest(_signature(secret, payload).encode(), signature.encode("ascii", "replace")):
        raise InvalidToken("bad token signature")
    try:
        data = json.loads(_unb64(payload))
        client, sender, expires = data["c"], data["s"], data["exp"]
    except (ValueError, KeyError, TypeError):
        raise InvalidToken("malformed token") from None
    if not isinstance(client, str) or not isinstance(sender, str) or not isinstance(expires, int):
        raise InvalidToken("malformed token")
    if expires <= (time.time() if now is None else now):
        raise InvalidToken("token expired")
    return client, sender, expires


@dataclass(frozen=True)
class Principal:
    """Who is calling: `client` None on the open development channel; `sender` set when a token fixes the
    conversation."""

    client: str | None
    sender: str | None = None


class RestAuth:
    """The REST channel's authentication, from the settings (see the module's docstring)."""

    def __init__(self, clients: dict[str, str], token_secret: bytes | None, *, open_dev: bool) -> None:
        self.clients = clients  # {sha256 hex: client name}
        self.token_secret = token_secret
        self.open = open_dev

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> RestAuth:
        settings = settings or current()
        clients = parse_client_keys(settings.rest_client_keys)
        open_dev = not settings.production and is_loopback(settings.host) and not clients
        return cls(clients, settings.rest_token_secret(), open_dev=open_dev)

    def authenticate(self, authorization: str | None) -> Principal:
        """The caller of a request with this Authorization header; raises Unauthorized."""
        if self.open:
            return Principal(None)
        scheme, _, credential = (authorization or "").strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise Unauthorized("Authorization: Bearer <client key or conversation token> is required")
        if "." in credential:  # a conversation token (keys never contain a dot)
            if self.token_secret is None:
                raise InvalidToken("conversation tokens are not enabled (REST_TOKEN_SECRET)")
            client, sender, _ = verify_token(self.token_secret, credential)
            if client not in self.clients.values():
                raise InvalidToken("the token's client is not configured")
            return Principal(client, sender)
        # one dictionary look-up by hash: the time taken does not depend on how much of a key is right
        known = self.clients.get(hash_key(credential))
        if known is None:
            raise Unauthorized("unknown client key")
        return Principal(known)

    def client_sender(self, conversation: str) -> str:
        """The sender id a client used for `conversation` (what it sees as `recipient_id`)."""
        local = conversation.partition(":")[2]
        return local if self.open else local.partition(":")[2]


# -- CLI --------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m channels.rest_auth", description="REST client keys and tokens")
    commands = parser.add_subparsers(dest="command", required=True)
    key = commands.add_parser("new-key", help="make a client key and the REST_CLIENT_KEYS entry with its hash")
    key.add_argument("client", help="the client's name (lower-case letters, digits, - and _)")
    token = commands.add_parser("mint-token", help="a conversation token for a widget (needs REST_TOKEN_SECRET)")
    token.add_argument("client")
    token.add_argument("sender", nargs="?", help="the conversation (default: a new random one)")
    token.add_argument("--ttl", type=int, default=DEFAULT_TOKEN_TTL, help="seconds (default 3600, at most 86400)")
    args = parser.parse_args(argv)
    if args.command == "new-key":
        if not CLIENT_NAME.match(args.client):
            parser.error("the client name must be lower-case letters, digits, - and _ (at most 32)")
        secret, digest = new_key()
        print(f"key (give it to the client, keep it secret): {secret}")
        print(f"REST_CLIENT_KEYS entry (add it to the assistant's environment): {args.client}={digest}")
        return 0
    secret_key = current().rest_token_secret()
    if secret_key is None:
        print("REST_TOKEN_SECRET is not set", file=sys.stderr)
        return 2
    try:
        print(mint_token(secret_key, args.client, args.sender or secrets.token_urlsafe(16), ttl=args.ttl))
    except ValueError as invalid:
        print(invalid, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
