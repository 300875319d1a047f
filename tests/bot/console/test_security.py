"""The console's security primitives without a server: signed values, purpose separation, CSRF tokens, password
policy and hashing, the login back-off, redirect targets and the client address behind a proxy."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from yarl import URL

from bot.console._security import (
    Backoff,
    PasswordPolicyError,
    Signer,
    check_password_policy,
    check_username,
    client_address,
    hash_password,
    local_path,
    parse_trusted_proxies,
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


def test_backoff_is_free_then_doubles_up_to_its_cap_and_never_bans():
    policy = Backoff(free=3, base=10, cap=100, forget=600)
    assert [policy.delay(n) for n in range(9)] == [0, 0, 0, 10, 20, 40, 80, 100, 100]
    assert policy.delay(10**6) == 100  # a huge count is still only the cap


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r/evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "//evil.example",
        "///evil.example",
        "https://evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/ /evil.example",
        "/\u3000/evil",
        "/\x7f/evil",
        "/\x85/evil",
        "",
        None,
    ],
)
def test_local_path_refuses_everything_but_a_same_site_path(target):
    assert local_path(target, "/home") == "/home"


@pytest.mark.parametrize("target", ["/cases", "/cases?status=新建", "/rules/a.b#x", "/search?q=%2F%2Fevil"])
def test_local_path_keeps_a_same_site_path(target):
    assert local_path(target, "/home") == target


def test_client_address_believes_x_forwarded_for_only_from_a_trusted_proxy():
    trusted = parse_trusted_proxies("127.0.0.1, 10.0.0.0/8 ::1")
    assert client_address("203.0.113.9", ["198.51.100.1"], trusted) == "203.0.113.9"  # not from a proxy
    assert client_address("127.0.0.1", ["198.51.100.1"], ()) == "127.0.0.1"  # no proxy configured
    assert client_address("127.0.0.1", ["198.51.100.1"], trusted) == "198.51.100.1"
    # What the client wrote in front is ignored: the right-most address not a proxy is the client.
    assert client_address("127.0.0.1", ["6.6.6.6, 198.51.100.1, 10.1.2.3"], trusted) == "198.51.100.1"
    assert client_address("127.0.0.1", ["6.6.6.6", "198.51.100.1"], trusted) == "198.51.100.1"
    assert client_address("127.0.0.1", [], trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", ["not-an-ip"], trusted) == "127.0.0.1"
    with pytest.raises(ValueError, match="CONSOLE_TRUSTED_PROXIES"):
        parse_trusted_proxies("127.0.0.1, proxy.local")


def test_production_hashes_use_argon2id_with_the_recommended_parameters():
    """RFC 9106's second recommended option (64 MiB, 3 passes, 4 lanes); the server tests use cheaper ones."""
    from bot.console import _security

    assert _security._DUMMY_HASH.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


_TRICKY = st.sampled_from(
    ["/", "\\", "\t", "\n", "\r", " ", ":", "@", "?", "#", "%", ".", "evil.example", "http", "\x00"]
)


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text(max_size=40),
        st.lists(_TRICKY, max_size=12).map("".join),
        st.lists(_TRICKY, max_size=4).map(lambda parts: "/" + "".join(parts) + "/evil.example"),
    )
)
@example("/\t/evil.example")
@example("/\r\n/evil.example")
def test_a_redirect_target_that_local_path_keeps_never_leaves_the_site(target):
    """Whatever `next` holds, the Location aiohttp builds from what local_path returns resolves on the console."""
    kept = local_path(target, "/home")
    assert kept == "/home" or kept == target
    location = str(URL(kept))  # what aiohttp puts in the Location header (yarl drops TAB, CR and LF)
    resolved = urlsplit(urljoin("https://console.example/login", location))
    assert resolved.netloc == "console.example" and resolved.scheme == "https"
