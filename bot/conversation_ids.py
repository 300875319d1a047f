"""Conversation ids scoped by channel: a conversation belongs to the channel it came from.

Every conversation id the assistant stores or looks up (Rasa's tracker store, takeovers, handoffs, cases, pending
operator messages, remembered menus, the console) starts with its channel's name::

    wechat:<openid>              a WeChat Official Account follower
    sms:+8613812345678           an SMS sender (the normalised phone number)
    rest:<client>:<id>           a conversation of an authenticated REST client (REST_CLIENT_KEYS)
    rest:<id>                    a REST conversation in development (open REST on a loopback host, no keys)

The channel builds the id from what it authenticated (WeChat's signed push, the SMS provider's signed callback, the
REST client's key or token), never from what a client claims, so a REST caller can never name an SMS or WeChat
conversation. Outbound delivery derives the channel from the prefix and the address (phone number, OpenID) from
the rest (`address`), never from the tracker's `latest_input_channel`.

Plain functions without dependencies: the channels (Rasa process), the actions (action server) and the console
all import this module.
"""

from __future__ import annotations

__all__ = [
    "CHANNELS",
    "ConversationIdError",
    "address",
    "channel_of",
    "conversation_id",
    "is_scoped",
    "rest_conversation_id",
    "split",
]

CHANNELS: tuple[str, ...] = ("wechat", "sms", "rest")
SEPARATOR = ":"


class ConversationIdError(ValueError):
    """The id is not a conversation id of the expected channel."""


def conversation_id(channel: str, local_id: str) -> str:
    """The scoped id of `local_id` (an OpenID, a phone number) in `channel`."""
    if channel not in CHANNELS:
        raise ConversationIdError(f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})")
    if not local_id:
        raise ConversationIdError(f"an empty {channel} sender id")
    return f"{channel}{SEPARATOR}{local_id}"


def rest_conversation_id(sender: str, client: str | None) -> str:
    """A REST conversation's id: `rest:<client>:<sender>` for an authenticated client, `rest:<sender>` for the
    open development REST channel (`client` None)."""
    return conversation_id("rest", f"{client}{SEPARATOR}{sender}" if client else sender)


def split(conversation: str) -> tuple[str, str] | None:
    """(channel, local id) of a scoped id, or None for an unscoped (legacy) one."""
    channel, separator, local_id = (conversation or "").partition(SEPARATOR)
    if not separator or channel not in CHANNELS or not local_id:
        return None
    return channel, local_id


def is_scoped(conversation: str) -> bool:
    return split(conversation) is not None


def channel_of(conversation: str) -> str | None:
    """The channel a scoped conversation id belongs to; None for an unscoped (legacy) id."""
    parts = split(conversation)
    return parts[0] if parts else None


def address(channel: str, conversation: str) -> str:
    """The channel's address of `conversation` (the OpenID of `wechat:<openid>`, the phone of `sms:<phone>`).

    Raises ConversationIdError when the id is not of `channel`: a message is never sent to an address that the
    conversation's own channel did not give it."""
    parts = split(conversation)
    if parts is None or parts[0] != channel:
        raise ConversationIdError(f"not a {channel} conversation id: {conversation[:40]!r}")
    return parts[1]
