"""Tencent Cloud SMS: the TC3-HMAC-SHA256 request signer and `SendSms` (API version 2021-01-11) over aiohttp.

Each `SmsMessage` goes out as its configured template (SMS_TENCENT_REPLY_TEMPLATE_ID for replies,
SMS_TENCENT_CASE_TEMPLATE_ID for case updates) with the message's variables as `TemplateParamSet`; the returned id
is the status's `SerialNo`, which Tencent's delivery reports call `sid`.

The Python SDK is synchronous, so the 25-line signer is ours, tested against Tencent's documented example
(cloud.tencent.com/document/api/213/30654).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import aiohttp
from yarl import URL

from channels.sms.providers import SmsSendError
from channels.sms.templates import SmsMessage

__all__ = ["DEFAULT_TENCENT_API_BASE", "DEFAULT_TENCENT_REGION", "TencentSmsProvider", "tc3_authorization"]

DEFAULT_TENCENT_API_BASE = "https://sms.tencentcloudapi.com"
DEFAULT_TENCENT_REGION = "ap-guangzhou"
_CONTENT_TYPE = "application/json; charset=utf-8"


def _hmac_sha256(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def tc3_authorization(
    *,
    secret_id: str,
    secret_key: str,
    service: str,
    host: str,
    payload: bytes,
    timestamp: int,
    content_type: str = _CONTENT_TYPE,
) -> str:
    """The `Authorization` header of a Tencent Cloud API 3.0 POST request, signed with TC3-HMAC-SHA256
    (cloud.tencent.com/document/api/213/30654: canonical request → string to sign → key derived from the date and
    service → signature). Signs content-type and host."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical_request = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{content_type}\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(
        [
            "TC3-HMAC-SHA256",
            str(timestamp),
            scope,
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        ]
    )
    key = _hmac_sha256(_hmac_sha256(_hmac_sha256(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    signature = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={signature}"


def _e164(to: str) -> str:
    return to if to.startswith("+") else f"+86{to}"


class TencentSmsProvider:
    """Tencent Cloud SMS `SendSms` (API version 2021-01-11) over aiohttp.

    Chinese SMS may only be sent with an approved signature (签名) and templates (模板): `template_ids` maps each
    template name of `channels.sms.templates` ("reply", "case_update") to its approved template's id; a message
    of a template with no id is refused (`SmsSendError`, code "TemplateNotConfigured") before any request.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        secret_id: str,
        secret_key: str,
        sdk_app_id: str,
        sign_name: str,
        template_ids: Mapping[str, str],
        api_base: str = DEFAULT_TENCENT_API_BASE,
        region: str = DEFAULT_TENCENT_REGION,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.session = session
        self.secret_id = secret_id
        self._secret_key = secret_key
        self.sdk_app_id = sdk_app_id
        self.sign_name = sign_name
        self.template_ids = {name: value for name, value in template_ids.items() if value}
        self.url = URL(api_base.rstrip("/") + "/")
        self.region = region
        self._clock = clock

    @property
    def host(self) -> str:
        """The Host header, as signed: the host, with the port only when it is not the scheme's default."""
        return str(self.url.host) if self.url.is_default_port() else f"{self.url.host}:{self.url.port}"

    async def send(self, to: str, message: SmsMessage) -> list[str]:
        """Send one SMS as its template; Tencent's serial number of it. Raises `SmsSendError` with Tencent's code
        when the request or the send is refused."""
        template_id = self.template_ids.get(message.template)
        if template_id is None:
            raise SmsSendError(f"no Tencent template id for {message.template!r} messages", "TemplateNotConfigured")
        payload = json.dumps(
            {
                "PhoneNumberSet": [_e164(to)],
                "SmsSdkAppId": self.sdk_app_id,
                "SignName": self.sign_name,
                "TemplateId": template_id,
                "TemplateParamSet": list(message.params),
            },
            ensure_ascii=False,
        ).encode("utf-8")
        timestamp = int(self._clock())
        headers = {
            "Authorization": tc3_authorization(
                secret_id=self.secret_id,
                secret_key=self._secret_key,
                service="sms",
                host=self.host,
                payload=payload,
                timestamp=timestamp,
            ),
            "Content-Type": _CONTENT_TYPE,
            "Host": self.host,
            "X-TC-Action": "SendSms",
            "X-TC-Version": "2021-01-11",
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": self.region,
        }
        async with self.session.post(self.url, data=payload, headers=headers) as answer:
            answer.raise_for_status()
            data = await answer.json(content_type=None)
        result = data.get("Response") if isinstance(data, dict) else None
        if not isinstance(result, dict):
            raise SmsSendError("unexpected answer from Tencent Cloud SMS")
        if error := result.get("Error"):
            raise SmsSendError(
                f"Tencent Cloud SMS refused the request: {error.get('Code')}: {error.get('Message')}",
                str(error.get("Code") or ""),
            )
        statuses = result.get("SendStatusSet") or []
        status = statuses[0] if statuses and isinstance(statuses[0], dict) else {}
        if status.get("Code") != "Ok":
            raise SmsSendError(
                f"Tencent Cloud SMS did not send: {status.get('Code')}: {status.get('Message')}",
                str(status.get("Code") or ""),
            )
        serial = status.get("SerialNo")
        return [serial] if isinstance(serial, str) and serial else []
