"""channels/wechat/inbound.py: signatures, AES decryption and parsing, called directly (pure functions); the same
checks through the served channel are in test_channel.py."""

from __future__ import annotations

import pytest
from wechatpy.crypto import WeChatCrypto

from channels.wechat.inbound import (
    MalformedMessage,
    decrypt,
    is_signed,
    parse_message,
    signature,
    valid_aes_key,
)
from tests.channels.support import AES_KEY, APP_ID, TOKEN, encrypt_for_wechat, event_xml, signed_query, text_xml

OPENID = "oInbound_0123456789abcdefghijk"


def test_signature_is_the_sha1_of_the_sorted_parts():
    assert signature("b", "a", "c") == signature("c", "b", "a") == "a9993e364706816aba3e25717850c26c9cd0d89d"  # abc


def test_is_signed_needs_timestamp_nonce_and_the_exact_signature():
    query = signed_query()
    assert is_signed(TOKEN, query)
    assert not is_signed("another-token", query)
    assert not is_signed(TOKEN, {**query, "signature": query["signature"].upper()})  # WeChat's own value, exact
    assert not is_signed(TOKEN, {**query, "nonce": ""})
    assert not is_signed(TOKEN, {})


def test_text_and_event_messages_parse_into_the_fields_the_channel_uses():
    text = parse_message(text_xml(OPENID, "社保怎么转", 4242, create_time=1700000000).encode())
    assert (text.kind, text.openid, text.content, text.msg_id, text.dedupe_key) == (
        "text",
        OPENID,
        "社保怎么转",
        4242,
        "msg:4242",
    )
    event = parse_message(event_xml(OPENID, "CLICK", 1700000001, key="/ask_hukou"))
    assert (event.kind, event.event, event.event_key, event.dedupe_key) == (
        "event",
        "click",
        "/ask_hukou",
        f"event:{OPENID}:1700000001",
    )


@pytest.mark.parametrize(
    "body",
    [b"", b"not xml", b"<html/>", b"<xml><MsgType>text</MsgType></xml>", b"\xff\xfe<xml>"],
)
def test_unreadable_bodies_raise_malformed_message(body):
    with pytest.raises(MalformedMessage):
        parse_message(body)


def test_decrypt_checks_msg_signature_and_the_appid():
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    inner = text_xml(OPENID, "加密的消息", 77)
    query, body = encrypt_for_wechat(inner)
    assert decrypt(crypto, TOKEN, query, body.encode()) == inner.encode()
    with pytest.raises(PermissionError, match="msg_signature"):
        decrypt(crypto, TOKEN, {**query, "msg_signature": "0" * 40}, body.encode())
    other_app, other_body = encrypt_for_wechat(inner, app_id="wx0000000000000000")
    with pytest.raises(PermissionError, match="AppID"):
        decrypt(crypto, TOKEN, other_app, other_body.encode())
    with pytest.raises(MalformedMessage, match="not configured"):
        decrypt(None, TOKEN, query, body.encode())


@pytest.mark.parametrize("key, valid", [(AES_KEY, True), (AES_KEY[:-1], False), ("!" * 43, False), ("", False)])
def test_valid_aes_key(key, valid):
    assert valid_aes_key(key) is valid
