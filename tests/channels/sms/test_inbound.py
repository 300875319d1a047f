"""channels/sms/inbound.py: phone numbers, the two callback forms and their authentication (pure functions)."""

from __future__ import annotations

import pytest

from channels.sms.inbound import (
    STALE,
    MalformedSms,
    authenticate,
    keyword,
    mainland_mobile,
    normalize_phone,
    parse,
    sign_body,
    tencent_callback_token,
)

PHONE = "13812341234"
SECRET = "test-sms-secret"
NOW = 1_790_000_000


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
    signature = sign_body(SECRET, body, NOW)

    def generic(signature: str, timestamp: object = NOW, secret: str = SECRET) -> str | None:
        return authenticate(secret, {"x-signature": signature, "x-timestamp": str(timestamp)}, {}, body, now=NOW)

    assert generic(signature) == "generic"
    assert generic(f" {signature.upper()} ") == "generic"  # hex: any case
    assert generic(sign_body("other", body, NOW)) is None
    assert authenticate(SECRET, {}, {"token": tencent_callback_token(SECRET)}, body, now=NOW) == "tencent"
    assert authenticate(SECRET, {}, {"token": tencent_callback_token("other")}, body, now=NOW) is None
    assert authenticate(SECRET, {}, {}, body, now=NOW) is None


def test_the_generic_signature_covers_a_timestamp_within_five_minutes():
    body = b'{"from": "13812341234", "text": "hi", "msg_id": "1"}'

    def generic(timestamp: object, signed: object | None = None) -> str | None:
        headers = {"x-signature": sign_body(SECRET, body, signed if signed is not None else timestamp)}
        if timestamp is not None:
            headers["x-timestamp"] = str(timestamp)
        return authenticate(SECRET, headers, {}, body, now=NOW)

    assert generic(NOW - 300) == generic(NOW + 300) == "generic"  # clocks drift either way
    assert generic(NOW - 301) == generic(NOW + 301) == generic(NOW - 86400 * 31) == STALE
    assert generic(NOW + 1, signed=NOW) is None  # the timestamp is signed: changing it breaks the signature
    assert generic(None, signed="") is None  # the old body-only form (no X-Timestamp) is refused
    old_form = __import__("hmac").new(SECRET.encode(), body, "sha256").hexdigest()
    assert authenticate(SECRET, {"x-signature": old_form}, {}, body, now=NOW) is None
    for malformed in ("", "12.5", "-1", "1e9", "١٧٩٠٠٠٠٠٠٠"):  # the last one: Arabic-Indic digits
        assert generic(malformed) is None


@pytest.mark.parametrize(
    "number, expected",
    [
        ("13812341234", "13812341234"),
        ("+8619912341234", "19912341234"),
        ("8613812341234", "13812341234"),
        ("12812341234", None),  # 12x is not a mobile prefix
        ("+85291234567", None),
        ("+447700900123", None),
        ("095112333", None),
        ("1381234123", None),
        ("138123412345", None),
    ],
)
def test_mainland_mobile_accepts_only_chinese_mobile_numbers(number, expected):
    assert mainland_mobile(number) == expected


def test_the_callback_token_does_not_reveal_the_signing_key():
    token = tencent_callback_token(SECRET)
    assert len(token) == 40 and SECRET not in token and token != sign_body(SECRET, b"", "")[:40]


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
