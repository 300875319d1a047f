"""security (issue 14 F1): conversation ids scoped by channel in every app-store table.

Before this revision a conversation was its bare sender id (a phone number, an OpenID, whatever a REST client sent),
one namespace for every channel. From now on it is `<channel>:<sender>` (`bot.conversation_ids`); this rewrites the
rows written before, each by the channel recorded with it: takeovers, takeover messages, handoffs, cases and
remembered menus. An id that already has a channel prefix is left alone, so the revision is safe to re-run on a
partly written database. Rasa's tracker store is not in the app store: `python -m bot migrate-conversation-ids`
rewrites it (README, docs/security-conversations.md).

Downgrade strips the prefixes again.

Revision ID: console_sec_scope
Revises: console_0001
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "console_sec_scope"
down_revision = "console_sec_console"
branch_labels = None
# It rewrites the cases and channels branches' tables too, but needs no depends_on: a table that does not exist yet
# (a fresh database) has no rows to rewrite, and a depends_on would stop those branches' revisions being heads.
depends_on = None

CHANNELS = ("wechat", "sms", "rest")
# (table, the sender column, the channel column)
TABLES = (
    ("takeovers", "sender_id", "channel"),
    ("takeover_messages", "sender_id", "channel"),
    ("handoffs", "sender_id", "channel"),
    ("cases", "sender_id", "channel"),
    ("channel_menus", "sender_id", "channel"),
)


def _unscoped(sender: Any) -> Any:
    return sa.and_(*(sa.not_(sender.like(f"{channel}:%")) for channel in CHANNELS))


def upgrade() -> None:
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    for name, sender_column, channel_column in TABLES:
        if name not in existing:
            continue
        table = sa.table(name, sa.column(sender_column, sa.String), sa.column(channel_column, sa.String))
        sender, channel = table.c[sender_column], table.c[channel_column]
        for known in CHANNELS:
            op.execute(
                table.update()
                .where(channel == known, _unscoped(sender))
                .values({sender_column: sa.literal(f"{known}:", sa.String) + sender})
            )


def downgrade() -> None:
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    for name, sender_column, channel_column in TABLES:
        if name not in existing:
            continue
        table = sa.table(name, sa.column(sender_column, sa.String), sa.column(channel_column, sa.String))
        sender, channel = table.c[sender_column], table.c[channel_column]
        for known in CHANNELS:
            prefix = f"{known}:"
            op.execute(
                table.update()
                .where(channel == known, sender.like(f"{prefix}%"))
                .values({sender_column: sa.func.substr(sender, len(prefix) + 1)})
            )
