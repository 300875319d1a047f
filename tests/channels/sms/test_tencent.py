"""channels/sms/tencent.py: the TC3 signer against Tencent's documented example, SendSms against a local fake
Tencent Cloud SMS that checks each signature."""

from __future__ import annotations

import hashlib

import aiohttp
import pytest

from channels.sms import (
    SmsSendError,
    tc3_authorization,
)
from channels.sms.templates import SmsMessage, TemplateLimits, case_update_message, reply_messages
from tests.channels.support import FakeTencentSms, run_async, serve_aiohttp, tencent_provider

PHONE = "13812341234"


def test_tc3_signature_matches_tencents_documented_example():
    # cloud.tencent.com/document/api/213/30654, "签名方法 v3": the worked CVM example and its published signature.
    payload = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    assert hashlib.sha256(payload).hexdigest() == "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    authorization = tc3_authorization(
        secret_id="AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
        secret_key="Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        service="cvm",
        host="cvm.tencentcloudapi.com",
        payload=payload,
        timestamp=1551113065,
    )
    assert authorization == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, "
        "SignedHeaders=content-type;host, "
        "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    )


@run_async
async def test_tencent_provider_sends_each_template_with_its_id_and_parameters():
    fake = FakeTencentSms()
    limits = TemplateLimits(signature="宁夏人社")
    [reply] = reply_messages("您好，电话0951-12333", limits)
    update = case_update_message("NX2612020007KQFX", "处理中", limits)
    async with serve_aiohttp(fake.app()) as base, aiohttp.ClientSession() as session:
        provider = tencent_provider(session, base)
        [reply_id] = await provider.send(PHONE, reply)
        [update_id] = await provider.send(PHONE, update)
        wrong = tencent_provider(session, base, secret_key="wrong-key")
        with pytest.raises(SmsSendError, match="SignatureFailure"):
            await wrong.send(PHONE, reply)
    first, second = fake.requests[:2]
    assert first["valid"] is True and second["valid"] is True
    assert first["body"] == {
        "PhoneNumberSet": ["+8613812341234"],
        "SmsSdkAppId": "1400000001",
        "SignName": "宁夏人社",
        "TemplateId": "123456",
        "TemplateParamSet": ["您好，电话0951-12333"],
    }
    assert (second["body"]["TemplateId"], second["body"]["TemplateParamSet"]) == (
        "654321",
        ["NX2612020007KQFX", "处理中"],
    )
    assert reply_id != update_id and reply_id.startswith("2433:")  # Tencent's SerialNo, which reports call sid
    headers = first["headers"]
    assert headers["X-TC-Action"] == "SendSms" and headers["X-TC-Version"] == "2021-01-11"
    assert headers["X-TC-Region"] == "ap-guangzhou"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["Authorization"].startswith("TC3-HMAC-SHA256 Credential=AKIDtest/")


@run_async
async def test_tencent_provider_reports_a_failed_send_status():
    fake = FakeTencentSms(
        answer={
            "Response": {
                "SendStatusSet": [{"Code": "LimitExceeded.PhoneNumberDailyLimit", "Message": "daily limit"}],
                "RequestId": "r",
            }
        }
    )
    async with serve_aiohttp(fake.app()) as base, aiohttp.ClientSession() as session:
        provider = tencent_provider(session, base, template_id="1")
        with pytest.raises(SmsSendError) as error:
            await provider.send(PHONE, SmsMessage("reply", ("x",), "宁夏农民工政策助手答复您的咨询：x"))
    assert error.value.code == "LimitExceeded.PhoneNumberDailyLimit"


@run_async
async def test_a_template_without_an_id_is_refused_before_any_request():
    fake = FakeTencentSms()
    async with serve_aiohttp(fake.app()) as base, aiohttp.ClientSession() as session:
        provider = tencent_provider(session, base, case_template_id="")
        with pytest.raises(SmsSendError) as error:
            await provider.send(PHONE, case_update_message("NX2612020007KQFX", "已办结", TemplateLimits()))
    assert error.value.code == "TemplateNotConfigured" and fake.requests == []
