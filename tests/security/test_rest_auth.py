"""Issue 14 F1: who may use the REST channel (`channels.rest_auth`): when it is open, client keys, widget tokens,
the key CLI, and the channel-scoped conversation ids. The attacks over HTTP are in test_conversation_scope.py."""

from __future__ import annotations

import time

import pytest

from bot.conversation_ids import ConversationIdError, address, channel_of, conversation_id, rest_conversation_id
from bot.settings import Settings
from channels.rest_auth import (
    InvalidToken,
    RestAuth,
    Unauthorized,
    hash_key,
    main,
    mint_token,
    parse_client_keys,
    verify_token,
)

KEY = "k" * 43
SECRET = b"s" * 32


def auth_for(tmp_path, **env) -> RestAuth:
    return RestAuth.from_settings(Settings.from_env({"NXA_VAR_DIR": str(tmp_path), **env}))


def test_rest_is_open_only_in_development_on_loopback_without_client_keys(tmp_path):
    assert auth_for(tmp_path).open
    assert auth_for(tmp_path, NXA_HOST="::1").open
    assert not auth_for(tmp_path, NXA_HOST="0.0.0.0").open
    assert not auth_for(tmp_path, NXA_HOST="10.0.0.5").open
    assert not auth_for(tmp_path, NXA_ENV="production", REST_TOKEN_SECRET="x" * 32).open
    assert not auth_for(tmp_path, REST_CLIENT_KEYS=f"shop={hash_key(KEY)}").open
    with pytest.raises(Unauthorized):
        auth_for(tmp_path, NXA_HOST="0.0.0.0").authenticate(None)


def test_a_client_is_known_by_its_keys_hash_only(tmp_path):
    auth = auth_for(tmp_path, REST_CLIENT_KEYS=f"shop={hash_key(KEY)}, miniapp={hash_key('m' * 43)}")
    assert auth.authenticate(f"Bearer {KEY}").client == "shop"
    assert auth.authenticate(f"bearer   {'m' * 43}").client == "miniapp"
    for header in (None, "", KEY, f"Basic {KEY}", "Bearer ", f"Bearer {KEY[:-1]}", f"Bearer {hash_key(KEY)}"):
        with pytest.raises(Unauthorized):
            auth.authenticate(header)


@pytest.mark.parametrize(
    "value, complaint",
    [
        ("shop", "name=<sha256 hex>"),
        ("Shop=" + "a" * 64, "name=<sha256 hex>"),
        ("shop=abc", "64 hex digits"),
        ("shop=" + "a" * 64 + ",shop=" + "b" * 64, "listed twice"),
    ],
)
def test_bad_client_keys_are_refused_with_the_reason(value, complaint):
    with pytest.raises(ValueError, match=complaint):
        parse_client_keys(value)


def test_tokens_name_client_conversation_and_expiry_and_cannot_be_forged():
    token = mint_token(SECRET, "shop", "visitor-1", ttl=60, now=1000.0)
    assert verify_token(SECRET, token, now=1059.0) == ("shop", "visitor-1", 1060)
    with pytest.raises(InvalidToken, match="expired"):
        verify_token(SECRET, token, now=1060.0)
    with pytest.raises(InvalidToken, match="signature"):
        verify_token(b"t" * 32, token, now=1000.0)
    other = mint_token(SECRET, "miniapp", "visitor-1", ttl=60, now=1000.0)
    with pytest.raises(InvalidToken):  # another token's payload under this signature
        verify_token(SECRET, other.partition(".")[0] + "." + token.partition(".")[2], now=1000.0)
    for bad in ("", ".", "abc", "a.b", token + "x"):
        with pytest.raises(InvalidToken):
            verify_token(SECRET, bad, now=1000.0)
    with pytest.raises(ValueError):
        mint_token(SECRET, "shop", "v", ttl=2 * 24 * 3600)


def test_a_token_authenticates_one_conversation_of_a_configured_client(tmp_path):
    auth = auth_for(tmp_path, REST_CLIENT_KEYS=f"shop={hash_key(KEY)}", REST_TOKEN_SECRET="z" * 32)
    principal = auth.authenticate("Bearer " + mint_token(b"z" * 32, "shop", "visitor-2", ttl=60))
    assert (principal.client, principal.sender) == ("shop", "visitor-2")
    with pytest.raises(InvalidToken, match="not configured"):
        auth.authenticate("Bearer " + mint_token(b"z" * 32, "nobody", "visitor-2", ttl=60))
    with pytest.raises(InvalidToken, match="expired"):
        auth.authenticate("Bearer " + mint_token(b"z" * 32, "shop", "visitor-2", ttl=1, now=time.time() - 5))


def test_production_without_a_token_secret_refuses_tokens_but_not_keys(tmp_path):
    auth = auth_for(tmp_path, NXA_ENV="production", REST_CLIENT_KEYS=f"shop={hash_key(KEY)}")
    assert auth.token_secret is None
    assert auth.authenticate(f"Bearer {KEY}").client == "shop"
    with pytest.raises(InvalidToken, match="not enabled"):
        auth.authenticate("Bearer " + mint_token(SECRET, "shop", "v", ttl=60))


def test_the_cli_makes_a_key_whose_hash_is_the_entry(capsys):
    assert main(["new-key", "shop"]) == 0
    lines = capsys.readouterr().out.splitlines()
    key = lines[0].rpartition(" ")[2]
    entry = lines[1].rpartition(" ")[2]
    assert entry == f"shop={hash_key(key)}" and "." not in key
    assert parse_client_keys(entry) == {hash_key(key): "shop"}


def test_conversation_ids_are_scoped_and_delivery_addresses_come_from_them():
    assert conversation_id("sms", "13812345678") == "sms:13812345678"
    assert rest_conversation_id("w1", "shop") == "rest:shop:w1" and rest_conversation_id("w1", None) == "rest:w1"
    assert channel_of("wechat:oAbc") == "wechat" and channel_of("13812345678") is None
    assert channel_of("rest:sms:13812345678") == "rest"  # a REST sender that looks like an SMS id stays REST
    assert address("sms", "sms:13812345678") == "13812345678"
    for channel, conversation in (("sms", "rest:13812345678"), ("sms", "13812345678"), ("wechat", "sms:oAbc")):
        with pytest.raises(ConversationIdError):
            address(channel, conversation)
