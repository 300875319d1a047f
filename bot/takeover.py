"""Operator takeover: while a hotline operator has a conversation, the assistant stays silent in it.

Every input channel (REST, WeChat, SMS) asks `intercept()` before handing a user's message to Rasa. When an operator
has taken the conversation over, the message is recorded for the operator's console and the channel answers nothing
itself; when the conversation is released, or after 30 minutes without an operator message, the assistant answers
again. (The console implements the state behind this; until a conversation is taken over, `intercept` is False.)
"""
from __future__ import annotations

__all__ = ["intercept"]


async def intercept(channel: str, sender_id: str, text: str) -> bool:
    """True when an operator has this conversation: the message was recorded for them and the bot must not answer."""
    return False
