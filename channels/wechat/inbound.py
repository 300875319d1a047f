"""What WeChat pushes, read safely: signatures, AES "safe mode" decryption, and the message itself (pure functions).

Every request must carry a valid `signature` (SHA-1 of the sorted token, timestamp and nonce) and a `timestamp` within
±5 minutes of our clock (`is_fresh`); AES messages also a valid `msg_signature` (the same over token, timestamp, nonce
and the Encrypt value). Both are compared in constant time. The signature does not cover a plain-mode body, so the
channel also accepts each (timestamp, nonce) only once (`nonce_key`, remembered in the app store). XML goes through defusedxml first, which refuses DTDs and entities (billion laughs, XXE); only then does
wechatpy turn it into a message.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from wechatpy import parse_message as wechatpy_parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException
from wechatpy.utils import WeChatSigner

from channels._base import verify_equal

__all__ = [
    "InboundMessage",
    "MalformedMessage",
    "MAX_CLOCK_SKEW_SECONDS",
    "decrypt",
    "is_fresh",
    "is_signed",
    "nonce_key",
    "parse_message",
    "signature",
    "valid_aes_key",
]


MAX_CLOCK_SKEW_SECONDS = 300  # a push signed more than 5 minutes before (or after) our clock is refused


class MalformedMessage(ValueError):
    """The body is not a WeChat message we can read (answer 400)."""


@dataclass(frozen=True)
class InboundMessage:
    """What the channel needs from one pushed message or event."""

    kind: str  # text, image, voice, video, shortvideo, location, link, event, ...
    openid: str  # FromUserName: the user, our sender id
    account: str  # ToUserName: our official account
    create_time: int
    msg_id: int = 0  # 0 for events
    content: str = ""  # text: the content; voice: WeChat's speech recognition, when enabled
    event: str = ""  # subscribe, unsubscribe, click, templatesendjobfinish, ...
    event_key: str = ""
    status: str = ""  # templatesendjobfinish: success, "failed:user block", "failed: system failed"

    @property
    def dedupe_key(self) -> str:
        """MsgId for messages; FromUserName + CreateTime for events (a template message's report: + its MsgID)."""
        if self.kind == "event":
            suffix = f":{self.msg_id}" if self.msg_id else ""
            return f"event:{self.openid}:{self.create_time}{suffix}"
        return f"msg:{self.msg_id}"


def signature(*parts: str) -> str:
    """WeChat's SHA-1 signature of `parts` (sorted, then joined)."""
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


def is_signed(token: str, args: Mapping[str, Any]) -> bool:
    """Whether the query `args` carry a valid `signature` of timestamp and nonce (exact, constant-time compare)."""
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    return bool(timestamp and nonce) and verify_equal(signature(token, timestamp, nonce), args.get("signature"))


def signed_time(args: Mapping[str, Any]) -> int | None:
    """The request's `timestamp` as UNIX seconds, or None when it is missing or not a number."""
    raw = str(args.get("timestamp", "") or "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 12 else None


def is_fresh(args: Mapping[str, Any], now: float, window: float = MAX_CLOCK_SKEW_SECONDS) -> bool:
    """Whether the request's `timestamp` is within `window` seconds of `now` (either side: clocks drift)."""
    timestamp = signed_time(args)
    return timestamp is not None and abs(now - timestamp) <= window


def nonce_key(args: Mapping[str, Any]) -> str:
    """What a signed request is remembered by: its timestamp and nonce, as signed (a retry of a push is signed
    afresh by WeChat; the same pair again is a replay of one request)."""
    return f"{args.get('timestamp', '')}:{args.get('nonce', '')}"


def valid_aes_key(key: str) -> bool:
    """Whether `key` is an EncodingAESKey: 43 characters of base64 for a 32-byte key."""
    try:
        return len(key) == 43 and len(base64.b64decode(key + "=", validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def _safe_root(xml: bytes | str) -> Element:
    try:
        return SafeET.fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError, ValueError) as error:
        raise MalformedMessage(f"unreadable XML: {type(error).__name__}") from None


def decrypt(crypto: WeChatCrypto | None, token: str, args: Mapping[str, Any], body: bytes) -> bytes:
    """The inner XML of an AES message, after checking `msg_signature` in constant time.

    Raises `PermissionError` (answer 403) for a bad msg_signature or another AppID, `MalformedMessage` (400) for
    anything unreadable or when no EncodingAESKey is configured (`crypto` None).
    """
    if crypto is None:
        raise MalformedMessage("encrypted message, but WECHAT_ENCODING_AES_KEY is not configured")
    root = _safe_root(body)
    encrypt = root.findtext("Encrypt")
    if root.tag != "xml" or not encrypt:
        raise MalformedMessage("encrypted message without <Encrypt>")
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    if not verify_equal(signature(token, timestamp, nonce, encrypt), args.get("msg_signature")):
        raise PermissionError("bad msg_signature")
    try:
        plain = crypto.decrypt_message({"Encrypt": encrypt}, args.get("msg_signature"), timestamp, nonce)
    except InvalidAppIdException:
        raise PermissionError("message encrypted for another AppID") from None
    except Exception as error:  # bad base64, padding or length: wechatpy raises whatever the bytes cause
        raise MalformedMessage(f"cannot decrypt: {type(error).__name__}") from None
    return str(plain).encode("utf-8")


def parse_message(xml: bytes | str) -> InboundMessage:
    """Parse a (decrypted) pushed message. defusedxml validates it first (no DTD, no entities, well-formed, root
    `<xml>`), so wechatpy's own parser then reads a document that cannot expand anything."""
    root = _safe_root(xml)
    if root.tag != "xml" or root.find("MsgType") is None or root.find("FromUserName") is None:
        raise MalformedMessage("not a WeChat message (needs <xml> with MsgType and FromUserName)")
    text = xml.decode("utf-8") if isinstance(xml, bytes) else xml
    try:
        message = wechatpy_parse_message(text)
        kind = str(message.type or "unknown")
        openid = str(message.source or "")
        parsed = InboundMessage(
            kind=kind,
            openid=openid,
            account=str(message.target or ""),
            create_time=int(message.time or 0),
            msg_id=int(getattr(message, "id", 0) or 0),
            content=str(getattr(message, "content", None) or getattr(message, "recognition", None) or ""),
            event=str(getattr(message, "event", "") or "") if kind == "event" else "",
            event_key=str(getattr(message, "key", None) or getattr(message, "scene_id", None) or ""),
            status=str(getattr(message, "status", None) or "") if kind == "event" else "",
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise MalformedMessage(f"unreadable message fields: {type(error).__name__}") from None
    if not openid or len(openid) > 128:
        raise MalformedMessage("FromUserName missing or too long")
    return parsed
