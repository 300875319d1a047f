"""Tables of the channels' durable state: processed inbound messages, SMS opt-outs and the last numbered menu.

Models only: the queries live in `channels._state.ChannelState`, the schema's versions in the Alembic branch
"channels" (migrations/versions/channels_*.py). Datetimes are `bot.store.types.UTCDateTime` (naive UTC in the
column, timezone-aware in Python).

- `channel_messages`: one row per inbound message a channel has accepted (its provider message id, or a key derived
  from sender and time when the provider has none). SMS providers retry a callback for hours and across our restarts,
  so "processed once" must survive a restart: the primary key is the de-duplication.
- `sms_opt_outs`: a phone number's latest subscription choice (退订/TD/STOP, or 订阅/START to come back), kept as an
  audit of consent rather than deleted.
- `channel_menus`: the button payloads of the last numbered menu ("回复1 …") sent to a user, so that a digit reply maps
  back to the payload even after a restart; rows expire.
- `channel_nonces`: the (timestamp, nonce) of every signed WeChat push of the last minutes: a signed query string is
  accepted once, on whichever replica, even after a restart (a URL copied from an access log cannot be replayed);
  pruned once its timestamp is outside the accepted window.
- `sms_contacts`: the numbers that have written to the SMS channel (authenticated callbacks only): outbound SMS goes
  only to them, so neither the console nor the Rasa API can make the service text a number that never wrote.

`channel_messages.reply` keeps, for WeChat, the passive reply a message's turn gave, so that WeChat's retry of that
message reaching another replica (or a restarted one) gets the same answer, never a second turn.
"""

from __future__ import annotations

import sqlalchemy as sa

from bot.store._base import Base
from bot.store.types import UTCDateTime

__all__ = ["ChannelMessage", "ChannelMenu", "ChannelNonce", "SmsContact", "SmsOptOut"]


class ChannelMessage(Base):
    """An inbound message a channel accepted; a second delivery of the same key is a duplicate."""

    __tablename__ = "channel_messages"

    channel = sa.Column(sa.String(16), primary_key=True)
    message_key = sa.Column(sa.String(128), primary_key=True)
    # "processing" while the turn runs, "done" once it ran; a failed turn deletes its row so the retry can run it.
    status = sa.Column(sa.String(16), nullable=False)
    received_at = sa.Column(UTCDateTime, nullable=False, index=True)
    # WeChat: the passive reply given to the first delivery (NULL: "success", the reply went or goes out
    # asynchronously), for a retry that reaches another process.
    reply = sa.Column(sa.Text, nullable=True)


class SmsOptOut(Base):
    """The subscription state of one phone number: "opted_out" (send nothing) or "subscribed" (came back)."""

    __tablename__ = "sms_opt_outs"

    phone = sa.Column(sa.String(32), primary_key=True)
    status = sa.Column(sa.String(16), nullable=False)
    keyword = sa.Column(sa.String(16), nullable=False)  # the word that set the state: 退订, TD, STOP, 订阅, START
    changed_at = sa.Column(UTCDateTime, nullable=False)


class ChannelMenu(Base):
    """The payloads of the numbered menu last shown to a user (JSON list, index 0 = "回复1")."""

    __tablename__ = "channel_menus"

    channel = sa.Column(sa.String(16), primary_key=True)
    sender_id = sa.Column(sa.String(128), primary_key=True)
    payloads = sa.Column(sa.Text, nullable=False)
    expires_at = sa.Column(UTCDateTime, nullable=False)


class ChannelNonce(Base):
    """A signed request's nonce (with its timestamp), seen once; a second request carrying it is a replay."""

    __tablename__ = "channel_nonces"

    channel = sa.Column(sa.String(16), primary_key=True)
    nonce = sa.Column(sa.String(96), primary_key=True)  # "<timestamp>:<nonce>" as the request signed them
    signed_at = sa.Column(UTCDateTime, nullable=False, index=True)  # the request's own timestamp (for pruning)


class SmsContact(Base):
    """A number that wrote to the SMS channel through an authenticated callback (outbound goes only to these)."""

    __tablename__ = "sms_contacts"

    phone = sa.Column(sa.String(32), primary_key=True)
    first_seen_at = sa.Column(UTCDateTime, nullable=False)
    last_seen_at = sa.Column(UTCDateTime, nullable=False)
