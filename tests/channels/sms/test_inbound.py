"""channels/sms/inbound.py: phone numbers, the two callback forms and their authentication (pure functions)."""

from __future__ import annotations

import pytest

from channels.sms.inbound import (
    MalformedSms,
    authenticate,
    keyword,
    normalize_phone,
    parse,
    sign_body,
    tencent_callback_token,
)

PHONE = "13812341234"
SECRET = "test-sms-secret"


@pytest.mark.parametrize(
    "raw, code, expected",
    [
        ("13812341234", "86", "13812341234"),
        ("+8613812341234", "86", "13812341234"),
        ("008613812341234", "", "13812341234"),
        ("138 1234 1234", "86", "13812341234"),
        ("8613812341234", "86", "13812341234"),
        ("91234567", "852", "+85291234567"),
        ("+85291234567", "", "+85291234567"),
    ],
)
def test_normalize_phone(raw, code, expected):
    assert normalize_phone(raw, code) == expected


@pytest.mark.parametrize("raw", ["12345", "0951-12333x", "", None, "23812341234", "+1"])
def test_normalize_phone_rejects_non_numbers(raw):
    with pytest.raises(MalformedSms):
        normalize_phone(raw)


def test_authenticate_tells_the_two_forms_apart_and_refuses_the_rest():
    body = b'{"from": "13812341234", "text": "hi", "msg_id": "1"}'
    signature = sign_body(SECRET, body)
    assert authenticate(SECRET, {"x-signature": signature}, {}, body) == "generic"
    assert authenticate(SECRET, {"x-signature": f" {signature.upper()} "}, {}, body) == "generic"  # hex: any case
    assert authenticate(SECRET, {"x-signature": sign_body("other", body)}, {}, body) is None
    assert authenticate(SECRET, {}, {"token": tencent_callback_token(SECRET)}, body) == "tencent"
    assert authenticate(SECRET, {}, {"token": tencent_callback_token("other")}, body) is None
    assert authenticate(SECRET, {}, {}, body) is None


def test_the_callback_token_does_not_reveal_the_signing_key():
    token = tencent_callback_token(SECRET)
    assert len(token) == 40 and SECRET not in token and token != sign_body(SECRET, b"")[:40]


def test_both_forms_parse_and_tencents_key_is_a_hash_of_number_time_and_text():
    generic = parse("generic", b'{"from": "+8613812341234", "text": " \\u4f60\\u597d ", "msg_id": 7}')
    assert (generic.phone, generic.text, generic.key, generic.form) == (PHONE, "你好", "generic:7", "generic")
    body = b'{"mobile": "13812341234", "nationcode": "86", "text": "hi", "time": 1700000000}'
    tencent = parse("tencent", body)
    assert (
        tencent.form == "tencent" and tencent.key.startswith("tencent:") and tencent.key == parse("tencent", body).key
    )
    later = parse("tencent", body.replace(b"1700000000", b"1700000001"))
    assert later.key != tencent.key


@pytest.mark.parametrize(
    "form, body",
    [
        ("generic", b'{"from": "13812341234", "text": "hi"}'),
        ("generic", b'{"from": "13812341234", "text": "", "msg_id": "1"}'),
        ("tencent", b'{"mobile": "13812341234", "text": "hi", "time": "yesterday"}'),
        ("tencent", b"[]"),
    ],
)
def test_malformed_bodies_raise_malformed_sms(form, body):
    with pytest.raises(MalformedSms):
        parse(form, body)


@pytest.mark.parametrize(
    "text, word", [("退订", "退订"), (" td。", "TD"), ("Ｓｔｏｐ！", "STOP"), ("怎么退订社保", "怎么退订社保")]
)
def test_keyword(text, word):
    assert keyword(text) == word
