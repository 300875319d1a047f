"""The console's security primitives without a server: signed values, purpose separation, CSRF tokens, password
policy and hashing, and the bounded login rate limiter."""

from __future__ import annotations

import pytest

from bot.console._security import (
    LoginRateLimiter,
    PasswordPolicyError,
    Signer,
    check_password_policy,
    check_username,
    hash_password,
    verify_password,
)


def test_signed_values_round_trip_and_refuse_any_change():
    signer = Signer(b"k" * 48)
    token = signer.dumps("session", {"sid": "abc", "exp": 10})
    assert signer.loads("session", token) == {"sid": "abc", "exp": 10}
    assert signer.loads("csrf", token) is None  # another purpose
    assert Signer(b"j" * 48).loads("session", token) is None  # another key
    payload, signature = token.split(".")
    for broken in (
        payload + "." + signature[:-1],
        payload[:-1] + "." + signature,
        payload,
        "",
        "a.b.c",
        "é.é",
        "x" * 5000,
    ):
        assert signer.loads("session", broken) is None, broken


def test_csrf_tokens_are_bound_to_their_subject():
    signer = Signer(b"k" * 48)
    token = signer.token("csrf", "session-1")
    assert signer.check_token("csrf", "session-1", token)
    assert not signer.check_token("csrf", "session-2", token)
    assert not signer.check_token("login-csrf", "session-1", token)
    assert not signer.check_token("csrf", "session-1", None)
    assert not signer.check_token("csrf", "session-1", "")


def test_password_hashes_are_argon2id_and_salted():
    first, second = hash_password("correct-horse-1"), hash_password("correct-horse-1")
    assert first.startswith("$argon2id$") and first != second
    assert verify_password(first, "correct-horse-1") and not verify_password(first, "correct-horse-2")
    assert not verify_password(None, "anything") and not verify_password("not-a-hash", "x")


@pytest.mark.parametrize("password", ["", "short", " " * 12, "x" * 257])
def test_password_policy(password):
    with pytest.raises(PasswordPolicyError):
        check_password_policy(password)


@pytest.mark.parametrize(
    "username, ok",
    [("wang.li", True), ("王丽", True), ("a b", False), ("", False), ("x" * 65, False), ("<script>", False)],
)
def test_usernames(username, ok):
    if ok:
        assert check_username(f" {username} ") == username
    else:
        with pytest.raises(PasswordPolicyError):
            check_username(username)


def test_rate_limiter_counts_failures_in_a_sliding_window():
    limiter = LoginRateLimiter(per_user=3, per_address=5, window_seconds=60)
    for t in range(3):
        assert limiter.retry_after("wang", "1.2.3.4", t) == 0
        limiter.failure("wang", "1.2.3.4", t)
    assert limiter.retry_after("WANG ", "9.9.9.9", 10) == pytest.approx(50)  # usernames are case-folded
    assert limiter.retry_after("li", "1.2.3.4", 10) == 0  # another name, same address: under 5
    assert limiter.retry_after("wang", "1.2.3.4", 60.5) == 0  # the first failure left the window
    limiter.success("wang")
    assert limiter.retry_after("wang", "1.2.3.4", 10) == 0


def test_rate_limiter_memory_is_bounded():
    limiter = LoginRateLimiter(per_user=2, per_address=2, window_seconds=60, max_keys=100)
    for i in range(10_000):
        limiter.failure(f"user{i}", f"10.0.{i // 256}.{i % 256}", 0)
    assert len(limiter) == 100
    limiter.failure("victim", "10.9.9.9", 1)
    limiter.failure("victim", "10.9.9.9", 1)
    assert limiter.retry_after("victim", "10.9.9.9", 2) > 0  # the most recent keys are kept


def test_production_hashes_use_argon2id_with_the_recommended_parameters():
    """RFC 9106's second recommended option (64 MiB, 3 passes, 4 lanes); the server tests use cheaper ones."""
    from bot.console import _security

    assert _security._DUMMY_HASH.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
