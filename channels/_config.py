"""Configuration checks shared by the channels: required values, and no development stand-ins in production.

The values come from credentials.yml (`${VAR}`, filled by `bot.settings.Settings.rasa_environment()`, which supplies
public development stand-ins outside production) or, for the outbound clients, from the process's `Settings`
through `channel_values()`. Nothing here reads the environment: the entry point built the Settings once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rasa.core.channels.channel import InputChannel
from rasa.shared.exceptions import RasaException

from bot.settings import DEVELOPMENT_CHANNEL_ENV, Settings, current

__all__ = ["ChannelConfigError", "channel_values", "check_values", "credentials_and_settings"]


class ChannelConfigError(RasaException):
    """A channel's configuration is missing or unusable; the message names the variables to set."""


def channel_values(settings: Settings) -> Mapping[str, str]:
    """The channel variables as the Rasa process sees them: the settings' environment with the channel defaults
    (development stand-ins outside production) applied."""
    return settings.rasa_environment()


def check_values(
    channel: str, values: Mapping[str, str | None], *, required: tuple[str, ...], production: bool
) -> None:
    """Raise when a required value (named by its environment variable) is empty, or when production would run with
    a development stand-in (they are public, so they authenticate nobody)."""
    missing = [name for name in required if not (values.get(name) or "").strip()]
    if missing:
        raise ChannelConfigError(f"the {channel} channel needs these environment variables: {', '.join(missing)}")
    if production:
        stand_ins = [
            name
            for name, value in values.items()
            if value and DEVELOPMENT_CHANNEL_ENV.get(name) == value and name != "SMS_PROVIDER"
        ]
        if stand_ins:
            raise ChannelConfigError(
                f"NXA_ENV=production but the {channel} channel has development values for: {', '.join(stand_ins)}; "
                "set the real ones"
            )


def credentials_and_settings(
    channel: type[InputChannel], credentials: dict[str, Any] | None, settings: Settings | None
) -> tuple[dict[str, Any], Settings]:
    """For a channel's `from_credentials`: its credentials (Rasa's missing-credentials error when there are none) and
    the settings, by default the process's (`bot.settings.current()`, since Rasa builds the channel itself)."""
    if not credentials:
        channel.raise_missing_credentials_exception()
    assert credentials is not None  # raise_missing_credentials_exception raised otherwise
    return credentials, settings or current()
