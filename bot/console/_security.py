"""The console's security primitives, free of any web framework: password hashes, signed values, CSRF tokens, and
the login rate limiter. Pure functions and small classes, each with the time passed in."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass

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
    "LoginRateLimiter",
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


class LoginRateLimiter:
    """Failed logins per username and per client address within a sliding window.

    `retry_after()` says how many seconds a login must wait (0: go ahead); it is asked before the password is even
    checked, so a flood of guesses costs no hashing. Memory is bounded: at most `max_keys` usernames and addresses
    are tracked (the least recently failed are forgotten first), each with at most its limit of timestamps.
    """

    def __init__(
        self, *, per_user: int = 5, per_address: int = 20, window_seconds: float = 15 * 60, max_keys: int = 10_000
    ) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.window = window_seconds
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _keys(username: str, address: str) -> tuple[str, str]:
        return "u:" + (username or "").strip().casefold(), "a:" + (address or "?")

    def _wait(self, key: str, limit: int, now: float) -> float:
        times = self._failures.get(key)
        if not times:
            return 0.0
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) < limit:
            return 0.0
        return max(0.0, times[0] + self.window - now)

    def retry_after(self, username: str, address: str, now: float) -> float:
        user_key, address_key = self._keys(username, address)
        with self._lock:
            return max(self._wait(user_key, self.per_user, now), self._wait(address_key, self.per_address, now))

    def failure(self, username: str, address: str, now: float) -> None:
        user_key, address_key = self._keys(username, address)
        with self._lock:
            for key, limit in ((user_key, self.per_user), (address_key, self.per_address)):
                times = self._failures.pop(key, None) or deque(maxlen=limit)
                times.append(now)
                self._failures[key] = times  # re-inserted last: the most recently failed key
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def success(self, username: str) -> None:
        """A successful login clears the username's failures (not the address's: one address may try many names)."""
        user_key, _ = self._keys(username, "")
        with self._lock:
            self._failures.pop(user_key, None)

    def __len__(self) -> int:
        return len(self._failures)
