"""console: operators, sessions, takeovers, takeover messages and the audit log.

Starts the "console" branch from the root; later revisions continue it linearly (`down_revision = "console_0001"`).

Revision ID: console_0001
Revises: 0001_root
"""

import sqlalchemy as sa
from alembic import op

revision = "console_0001"
down_revision = "0001_root"
branch_labels = ("console",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_operators",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.UniqueConstraint("username", name="uq_console_operators_username"),
    )
    op.create_table(
        "console_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column(
            "operator_id",
            sa.Integer,
            sa.ForeignKey("console_operators.id", name="fk_console_sessions_operator", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_console_sessions_operator_id", "console_sessions", ["operator_id"])
    op.create_index("ix_console_sessions_expires_at", "console_sessions", ["expires_at"])
    op.create_table(
        "takeovers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("operator", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("last_operator_at", sa.DateTime, nullable=False),
        sa.Column("released_at", sa.DateTime, nullable=True),
        sa.Column("release_reason", sa.String(16), nullable=True),
    )
    op.create_index("ix_takeovers_sender_id", "takeovers", ["sender_id"])
    op.create_index(
        "uq_takeovers_open_sender",
        "takeovers",
        ["sender_id"],
        unique=True,
        sqlite_where=sa.text("released_at IS NULL"),
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.create_table(
        "takeover_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "takeover_id",
            sa.Integer,
            sa.ForeignKey("takeovers.id", name="fk_takeover_messages_takeover", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("operator", sa.String(64), nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("delivery", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("delivered_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_takeover_messages_takeover_id", "takeover_messages", ["takeover_id"])
    op.create_index("ix_takeover_messages_sender_id", "takeover_messages", ["sender_id"])
    op.create_table(
        "console_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("operator", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_console_audit_at", "console_audit", ["at"])


def downgrade() -> None:
    op.drop_table("console_audit")
    op.drop_table("takeover_messages")
    op.drop_table("takeovers")
    op.drop_table("console_sessions")
    op.drop_table("console_operators")
