"""cases (issue 15): case notifications (the outbox), their attempts, and the delivery log.

- `case_notifications`: one row per message to a worker about their case, written with the case change;
- `notification_attempts`: every call to a provider for one of them;
- `deliveries`: messages sent through a provider that may report on them, by provider message id.

New tables only: every recorded case, event and handoff is kept.

Revision ID: cases_notifications
Revises: cases_sec_cases
"""

import sqlalchemy as sa
from alembic import op

revision = "cases_notifications"
down_revision = "cases_sec_cases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(96), nullable=False),
        sa.Column(
            "case_id",
            sa.String(20),
            sa.ForeignKey("cases.case_id", name="fk_case_notifications_case_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("case_event_id", sa.Integer, nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("case_status", sa.String(8), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("conversation", sa.String(255), nullable=False),
        sa.Column("progress", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("resends", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime, nullable=True),
        sa.Column("via", sa.String(16), nullable=False, server_default=""),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime, nullable=True),
        sa.Column("delivered_at", sa.DateTime, nullable=True),
        sa.UniqueConstraint("key", name="uq_case_notifications_key"),
    )
    op.create_index("ix_case_notifications_case_id", "case_notifications", ["case_id"])
    op.create_index("ix_case_notifications_state", "case_notifications", ["state"])
    op.create_index("ix_case_notifications_next_attempt_at", "case_notifications", ["next_attempt_at"])
    op.create_index("ix_case_notifications_created_at", "case_notifications", ["created_at"])
    op.create_index("ix_case_notifications_conversation", "case_notifications", ["conversation", "state"])
    op.create_table(
        "notification_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "notification_id",
            sa.Integer,
            sa.ForeignKey("case_notifications.id", name="fk_notification_attempts_notification", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("worker", sa.String(64), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False, server_default=""),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("provider_ids", sa.JSON, nullable=False),
    )
    op.create_index("ix_notification_attempts_notification_id", "notification_attempts", ["notification_id"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("provider_id", sa.String(128), nullable=False),
        sa.Column("conversation", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column(
            "notification_id",
            sa.Integer,
            sa.ForeignKey("case_notifications.id", name="fk_deliveries_notification", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("sent_at", sa.DateTime, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("reported_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_deliveries_provider_id", "deliveries", ["channel", "provider_id"])
    op.create_index("ix_deliveries_notification_id", "deliveries", ["notification_id"])
    op.create_index("ix_deliveries_sent_at", "deliveries", ["sent_at"])


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("notification_attempts")
    op.drop_table("case_notifications")
