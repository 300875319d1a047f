"""Configuration checks shared by the channels: required values, and no development stand-ins in production.

The values themselves come from credentials.yml (`${VAR}`, filled by `bot.settings.Settings.rasa_environment()`,
which supplies public development stand-ins outside production) or, for the clients the console reuses, from the
same environment through `channel_environment()`.
"""

from __future__ import annotations

from collections.abc import Mapping

from rasa.shared.exceptions import RasaException

from bot.settings import DEVELOPMENT_CHANNEL_ENV, Settings

__all__ = ["ChannelConfigError", "channel_environment", "check_values", "is_production"]


class ChannelConfigError(RasaException):
    """A channel's configuration is missing or unusable; the message names the variables to set."""


def channel_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment as the Rasa process sees it: `env` (default os.environ) with the channel defaults applied."""
    return Settings.from_env(env).rasa_environment()


def is_production(env: Mapping[str, str] | None = None) -> bool:
    """NXA_ENV=production: no development stand-ins, every channel secret must be real."""
    return Settings.from_env(env).production


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
