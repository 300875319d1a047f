"""channels (security, webhooks): WeChat nonces seen, the passive reply of a processed message, SMS contacts.

- `channel_nonces`: each signed WeChat push's timestamp+nonce, accepted once (replays refused across replicas);
- `channel_messages.reply`: the passive reply a WeChat turn gave, for retries reaching another replica;
- `sms_contacts`: the numbers that have written (outbound SMS goes only to them).

Revision ID: channels_sec_webhooks
Revises: channels_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "channels_sec_webhooks"
down_revision = "channels_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_nonces",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("nonce", sa.String(96), primary_key=True),
        sa.Column("signed_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_channel_nonces_signed_at", "channel_nonces", ["signed_at"])
    with op.batch_alter_table("channel_messages") as batch:
        batch.add_column(sa.Column("reply", sa.Text, nullable=True))
    op.create_table(
        "sms_contacts",
        sa.Column("phone", sa.String(32), primary_key=True),
        sa.Column("first_seen_at", sa.DateTime, nullable=False),
        sa.Column("last_seen_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sms_contacts")
    with op.batch_alter_table("channel_messages") as batch:
        batch.drop_column("reply")
    op.drop_index("ix_channel_nonces_signed_at", table_name="channel_nonces")
    op.drop_table("channel_nonces")
