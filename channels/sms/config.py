"""Which SMS provider the settings name, built once: SMS_PROVIDER ("outbox", the development default, "tencent"
with SMS_TENCENT_*, or "smpp" with SMS_SMPP_*), checked at start-up so a misconfigured delivery fails before the first
message; and the template limits (`template_limits`: SMS_TENCENT_ACCOUNT_TYPE, SMS_REPLY_MAX_CHARS, the signature).

Tencent needs a template id per template (`channels.sms.templates`): SMS_TENCENT_REPLY_TEMPLATE_ID (its old name
SMS_TENCENT_TEMPLATE_ID still works) and SMS_TENCENT_CASE_TEMPLATE_ID. A personal account (6 characters a variable)
cannot carry replies: it needs only the case template, and `check_replies` refuses it for the SMS channel."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from bot.settings import Settings
from channels._config import ChannelConfigError, channel_values, check_values
from channels._state import ChannelState
from channels.sms.providers import OptOutGuard, OutboxProvider, SmsProvider
from channels.sms.smpp.provider import SmppProvider, smpp_config
from channels.sms.templates import CASE_UPDATE, REPLY, TemplateLimits
from channels.sms.tencent import DEFAULT_TENCENT_API_BASE, DEFAULT_TENCENT_REGION, TencentSmsProvider

__all__ = ["check_provider_config", "check_replies", "provider_for", "provider_from_env", "template_limits"]

_TENCENT_VARIABLES = (
    "SMS_TENCENT_SECRET_ID",
    "SMS_TENCENT_SECRET_KEY",
    "SMS_TENCENT_SDK_APP_ID",
    "SMS_TENCENT_SIGN_NAME",
    "SMS_TENCENT_CASE_TEMPLATE_ID",
)
_REPLY_TEMPLATE_VARIABLE = "SMS_TENCENT_REPLY_TEMPLATE_ID"
_OLD_REPLY_TEMPLATE_VARIABLE = "SMS_TENCENT_TEMPLATE_ID"  # before issue 15; the reply template's old name


def _tencent_values(values: Mapping[str, str]) -> dict[str, str]:
    tencent = {name: values.get(name, "") for name in _TENCENT_VARIABLES}
    tencent[_REPLY_TEMPLATE_VARIABLE] = values.get(_REPLY_TEMPLATE_VARIABLE) or values.get(
        _OLD_REPLY_TEMPLATE_VARIABLE, ""
    )
    return tencent


def template_limits(settings: Settings) -> TemplateLimits:
    """The template limits of the configured account (`ChannelConfigError` for a bad SMS_TENCENT_ACCOUNT_TYPE or
    SMS_REPLY_MAX_CHARS). The account type and the signature count only for Tencent: other providers send the
    whole text, with no per-variable limit."""
    values = channel_values(settings)
    tencent = (values.get("SMS_PROVIDER") or "").strip().lower() == "tencent"
    if not tencent:
        values = {**values, "SMS_TENCENT_ACCOUNT_TYPE": ""}
    try:
        return TemplateLimits.from_values(values, signature=values.get("SMS_TENCENT_SIGN_NAME", "") if tencent else "")
    except ValueError as error:
        raise ChannelConfigError(str(error)) from None


def check_replies(settings: Settings) -> TemplateLimits:
    """The limits, when the configured account can send replies; else `ChannelConfigError` saying why (a
    personal Tencent account: 6 characters a variable cannot carry an answer)."""
    limits = template_limits(settings)
    if not limits.carries_replies:
        raise ChannelConfigError(
            "SMS_TENCENT_ACCOUNT_TYPE=personal: a personal Tencent account allows 6 characters a template variable, "
            "too few for any reply, so the SMS channel cannot answer workers. Use an enterprise or government "
            "account (SMS_TENCENT_ACCOUNT_TYPE=enterprise) or a carrier gateway; a personal account can send only "
            "the fixed case notification (remove channels.sms.SmsInput from credentials.yml)"
        )
    return limits


def check_provider_config(settings: Settings) -> str:
    """The configured provider's name ("outbox", "tencent" or "smpp"), or `ChannelConfigError` naming what is
    missing."""
    values = channel_values(settings)
    kind = (values.get("SMS_PROVIDER") or "").strip().lower()
    if kind == "tencent":
        limits = template_limits(settings)
        required = _TENCENT_VARIABLES + ((_REPLY_TEMPLATE_VARIABLE,) if limits.carries_replies else ())
        check_values("sms", _tencent_values(values), required=required, production=settings.production)
    elif kind == "smpp":
        smpp_config(settings, transceiver=False)
        template_limits(settings)
    elif not kind:
        raise ChannelConfigError("SMS_PROVIDER is not set (outbox, tencent or smpp); production has no default")
    elif kind != "outbox":
        raise ChannelConfigError(f"unknown SMS_PROVIDER {kind!r} (outbox, tencent or smpp)")
    else:
        template_limits(settings)
    return kind


def provider_for(settings: Settings, session: aiohttp.ClientSession) -> SmsProvider:
    """The provider the settings name (no opt-out check: wrap it in `OptOutGuard` where opt-outs are not checked
    by the caller). An SMPP provider outside the Rasa server binds as a transmitter (`channels.sms.smpp.provider`)."""
    kind = check_provider_config(settings)
    if kind == "outbox":
        return OutboxProvider(settings.var_dir / "sms-outbox.jsonl")
    if kind == "smpp":
        return SmppProvider.transmitter(smpp_config(settings, transceiver=False))
    values = channel_values(settings)
    tencent = _tencent_values(values)
    return TencentSmsProvider(
        session,
        secret_id=values["SMS_TENCENT_SECRET_ID"],
        secret_key=values["SMS_TENCENT_SECRET_KEY"],
        sdk_app_id=values["SMS_TENCENT_SDK_APP_ID"],
        sign_name=values["SMS_TENCENT_SIGN_NAME"],
        template_ids={
            REPLY: tencent[_REPLY_TEMPLATE_VARIABLE],
            CASE_UPDATE: tencent["SMS_TENCENT_CASE_TEMPLATE_ID"],
        },
        api_base=values.get("SMS_TENCENT_API_BASE") or DEFAULT_TENCENT_API_BASE,
        region=values.get("SMS_TENCENT_REGION") or DEFAULT_TENCENT_REGION,
    )


def provider_from_env(
    session: aiohttp.ClientSession, env: Mapping[str, str], *, respect_opt_outs: bool = True
) -> SmsProvider:
    """`provider_for()` with Settings built from the environment mapping `env`, wrapped in `OptOutGuard` unless
    `respect_opt_outs=False` (the console's name for it, until it calls `channels.outbound.outbound_for`)."""
    settings = Settings.from_env(env)
    provider = provider_for(settings, session)
    return OptOutGuard(provider, ChannelState(settings.app_db_url)) if respect_opt_outs else provider
