"""The console's security primitives, free of any web framework: password hashes, signed values, CSRF tokens, the
login back-off, the client address behind a trusted proxy, and the check of a redirect target. Pure functions and
small classes, each with the time passed in."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "MIN_PASSWORD_CHARS",
    "PasswordPolicyError",
    "check_password_policy",
    "check_username",
    "hash_password",
    "verify_password",
    "needs_rehash",
    "Signer",
    "Backoff",
    "Network",
    "USER_BACKOFF",
    "ADDRESS_BACKOFF",
    "parse_trusted_proxies",
    "client_address",
    "local_path",
]

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 256
_USERNAME = re.compile(r"^[\w.\-]{1,64}$")

_hasher = PasswordHasher()  # argon2id with the library's current defaults (RFC 9106 low-memory profile)
# Verified against when the username is unknown, so a wrong name costs as much time as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class PasswordPolicyError(ValueError):
    """A username or password that the console does not accept (the message says why, in Chinese)."""


def check_username(username: str) -> str:
    """The username stripped; raises PasswordPolicyError unless it is 1–64 letters, digits, '.', '-' or '_'."""
    username = (username or "").strip()
    if not _USERNAME.fullmatch(username):
        raise PasswordPolicyError("用户名须为 1–64 个字母、数字、汉字或 . - _")
    return username


def check_password_policy(password: str) -> None:
    """Raise PasswordPolicyError for a password too short, too long, or only whitespace."""
    if len(password or "") < MIN_PASSWORD_CHARS or not password.strip():
        raise PasswordPolicyError(f"密码至少 {MIN_PASSWORD_CHARS} 个字符")
    if len(password) > MAX_PASSWORD_CHARS:
        raise PasswordPolicyError(f"密码最多 {MAX_PASSWORD_CHARS} 个字符")


def hash_password(password: str) -> str:
    """An argon2id hash of `password` (salted; the parameters are part of the hash)."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches `password_hash`; with no hash (unknown user) a dummy hash is checked so the
    answer takes as long as a real check."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password or "") and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash uses weaker parameters than today's defaults (rehash it at the next login)."""
    return _hasher.check_needs_rehash(password_hash)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Signer:
    """HMAC-SHA256 signatures with one secret key, separated by purpose so a value signed for one use (a session
    cookie) is never accepted for another (a CSRF token)."""

    key: bytes

    def _mac(self, purpose: str, data: bytes) -> bytes:
        return hmac.new(self.key, purpose.encode() + b"\x00" + data, hashlib.sha256).digest()

    def dumps(self, purpose: str, value: dict) -> str:
        """`value` as JSON, base64url, and its signature: `<payload>.<signature>`."""
        payload = json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(payload)}.{_b64(self._mac(purpose, payload))}"

    def loads(self, purpose: str, token: str | None) -> dict | None:
        """The value of a token made by `dumps` for the same purpose, or None when it is malformed or its signature
        does not match (compared in constant time)."""
        if not token or token.count(".") != 1 or len(token) > 4096:
            return None
        payload_b64, signature_b64 = token.split(".")
        try:
            payload, signature = _unb64(payload_b64), _unb64(signature_b64)
        except (ValueError, TypeError):
            return None
        if not hmac.compare_digest(signature, self._mac(purpose, payload)):
            return None
        try:
            value = json.loads(payload)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def token(self, purpose: str, subject: str) -> str:
        """A token bound to `subject` (e.g. a CSRF token for one session id)."""
        return _b64(self._mac(purpose, subject.encode()))

    def check_token(self, purpose: str, subject: str, token: str | None) -> bool:
        return (
            token is not None
            and bool(token)
            and hmac.compare_digest(token.encode(), self.token(purpose, subject).encode())
        )


@dataclass(frozen=True)
class Backoff:
    """How long a login key (a username, a client address) must wait after `failures` attempts: nothing for the
    first `free - 1`, then `base` seconds doubling with each further attempt, never more than `cap` — a slow-down,
    never a ban, so the real operator can always log in once the delay has passed. A key quiet for `forget` seconds
    after its delay ended starts over."""

    free: int
    base: float
    cap: float
    forget: float

    def delay(self, failures: int) -> float:
        """The wait before the attempt after `failures` attempts (0 while `failures` < `free`)."""
        if failures < self.free:
            return 0.0
        return float(min(self.cap, self.base * 2 ** min(failures - self.free, 32)))


# 5 guesses per username, then 30 s, 1 min, 2 min, … at most 15 min between guesses; 20 per address, then likewise.
USER_BACKOFF = Backoff(free=5, base=30, cap=15 * 60, forget=15 * 60)
ADDRESS_BACKOFF = Backoff(free=20, base=60, cap=15 * 60, forget=15 * 60)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted_proxies(text: str | None) -> tuple[Network, ...]:
    """CONSOLE_TRUSTED_PROXIES ("127.0.0.1, 10.0.0.0/8, ::1"): the proxies whose X-Forwarded-For is believed.
    Raises ValueError naming an entry that is neither an address nor a CIDR."""
    networks = []
    for entry in re.split(r"[\s,]+", text or ""):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"CONSOLE_TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR") from None
    return tuple(networks)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None, trusted: tuple[Network, ...]) -> bool:
    return address is not None and any(address.version == net.version and address in net for net in trusted)


def client_address(peer: str | None, forwarded_for: list[str], trusted: tuple[Network, ...]) -> str:
    """The login's client: the TCP peer, unless the peer is a trusted proxy; then the right-most X-Forwarded-For
    entry that is not itself a trusted proxy (entries to its left were written by the client and prove nothing). A
    malformed entry reached that way means a misconfigured proxy: the peer is used."""
    peer = peer or "?"
    if not trusted or not _trusted(_ip(peer), trusted):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    chosen = peer
    for hop in reversed(hops):
        address = _ip(hop)
        if address is None:
            return peer
        chosen = str(address)
        if not _trusted(address, trusted):
            return chosen
    return chosen


def local_path(target: str | None, default: str = "/") -> str:
    """`target` if it is a path on this site, else `default`: no open redirects. A path starts with exactly one "/",
    has no backslash, no control character or whitespace (browsers and yarl drop a TAB or newline, so "/<TAB>/evil"
    would become "//evil"), and no scheme or host."""
    if not target or not isinstance(target, str) or len(target) > 2048:
        return default
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return default
    return target
