"""channels: processed inbound messages, SMS opt-outs, last numbered menu per user.

Starts the "channels" branch from the root; later revisions continue it linearly (`down_revision = "channels_0001"`).

Revision ID: channels_0001
Revises: 0001_root
"""

import sqlalchemy as sa
from alembic import op

revision = "channels_0001"
down_revision = "0001_root"
branch_labels = ("channels",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_messages",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("message_key", sa.String(128), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_channel_messages_received_at", "channel_messages", ["received_at"])
    op.create_table(
        "sms_opt_outs",
        sa.Column("phone", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("keyword", sa.String(16), nullable=False),
        sa.Column("changed_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "channel_menus",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("sender_id", sa.String(128), primary_key=True),
        sa.Column("payloads", sa.Text, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("channel_menus")
    op.drop_table("sms_opt_outs")
    op.drop_index("ix_channel_messages_received_at", table_name="channel_messages")
    op.drop_table("channel_messages")
