"""cases: the case store's first tables (cases, case_events, handoffs).

Starts the "cases" branch from the root. Later revisions of the case store continue this branch linearly
(`down_revision = "cases_0001"`); they must keep every recorded case (tests/bot/store/test_migrations.py checks that a
database written at each earlier revision keeps its rows).

Revision ID: cases_0001
Revises: 0001_root
"""

import sqlalchemy as sa
from alembic import op

revision = "cases_0001"
down_revision = "0001_root"
branch_labels = ("cases",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(20), primary_key=True),
        sa.Column("case_type", sa.String(32), nullable=False),
        sa.Column("worker_name", sa.String(64), nullable=False),
        sa.Column("phone", sa.String(11), nullable=False),
        sa.Column("county", sa.String(16), nullable=False),
        sa.Column("employer", sa.String(200), nullable=False),
        sa.Column("amount_owed", sa.Integer, nullable=True),
        sa.Column("owed_period", sa.String(100), nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("consent", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("dedupe_key", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("consent", name="ck_cases_consent"),
        sa.UniqueConstraint("dedupe_key", name="uq_cases_dedupe_key"),
    )
    op.create_index("ix_cases_case_type", "cases", ["case_type"])
    op.create_index("ix_cases_phone", "cases", ["phone"])
    op.create_index("ix_cases_county", "cases", ["county"])
    op.create_index("ix_cases_status", "cases", ["status"])
    op.create_index("ix_cases_created_at", "cases", ["created_at"])

    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "case_id",
            sa.String(20),
            sa.ForeignKey("cases.case_id", name="fk_case_events_case_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
    )
    op.create_index("ix_case_events_case_id", "case_events", ["case_id"])

    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("target", sa.String(16), nullable=False),
        sa.Column("topic", sa.String(64), nullable=True),
        sa.Column("facts", sa.JSON, nullable=False),
        sa.Column("last_question", sa.Text, nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_handoffs_sender_id", "handoffs", ["sender_id"])
    op.create_index("ix_handoffs_created_at", "handoffs", ["created_at"])


def downgrade() -> None:
    op.drop_table("handoffs")
    op.drop_table("case_events")
    op.drop_table("cases")
