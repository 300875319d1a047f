"""Which SMS provider the settings name, built once: SMS_PROVIDER ("outbox", the development default, "tencent"
with SMS_TENCENT_*, or "smpp" with SMS_SMPP_*), checked at start-up so a misconfigured delivery fails before the first
message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import aiohttp

from bot.settings import Settings
from channels._config import ChannelConfigError, channel_values, check_values
from channels._state import ChannelState
from channels.sms.providers import OptOutGuard, OutboxProvider, SmsProvider
from channels.sms.smpp.provider import SmppProvider, smpp_config
from channels.sms.tencent import DEFAULT_TENCENT_API_BASE, DEFAULT_TENCENT_REGION, TencentSmsProvider

__all__ = ["check_provider_config", "provider_for", "provider_from_env"]

_TENCENT_VARIABLES = (
    "SMS_TENCENT_SECRET_ID",
    "SMS_TENCENT_SECRET_KEY",
    "SMS_TENCENT_SDK_APP_ID",
    "SMS_TENCENT_SIGN_NAME",
    "SMS_TENCENT_TEMPLATE_ID",
)


def check_provider_config(settings: Settings) -> str:
    """The configured provider's name ("outbox", "tencent" or "smpp"), or `ChannelConfigError` naming what is
    missing."""
    values = channel_values(settings)
    kind = (values.get("SMS_PROVIDER") or "").strip().lower()
    if kind == "tencent":
        tencent = {name: values.get(name, "") for name in _TENCENT_VARIABLES}
        check_values("sms", tencent, required=_TENCENT_VARIABLES, production=settings.production)
    elif kind == "smpp":
        smpp_config(settings, transceiver=False)
    elif not kind:
        raise ChannelConfigError("SMS_PROVIDER is not set (outbox, tencent or smpp); production has no default")
    elif kind != "outbox":
        raise ChannelConfigError(f"unknown SMS_PROVIDER {kind!r} (outbox, tencent or smpp)")
    return kind


def provider_for(settings: Settings, session: aiohttp.ClientSession) -> SmsProvider:
    """The provider the settings name (no opt-out check: wrap it in `OptOutGuard` where opt-outs are not checked
    by the caller). An SMPP provider outside the Rasa server binds as a transmitter (`channels.sms.smpp.provider`)."""
    kind = check_provider_config(settings)
    if kind == "outbox":
        return OutboxProvider(settings.var_dir / "sms-outbox.jsonl")
    if kind == "smpp":
        # cast until the provider protocol returns the message ids (issue 15: "SmsMessage and the provider protocol")
        return cast(SmsProvider, SmppProvider.transmitter(smpp_config(settings, transceiver=False)))
    values = channel_values(settings)
    return TencentSmsProvider(
        session,
        secret_id=values["SMS_TENCENT_SECRET_ID"],
        secret_key=values["SMS_TENCENT_SECRET_KEY"],
        sdk_app_id=values["SMS_TENCENT_SDK_APP_ID"],
        sign_name=values["SMS_TENCENT_SIGN_NAME"],
        template_id=values["SMS_TENCENT_TEMPLATE_ID"],
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
