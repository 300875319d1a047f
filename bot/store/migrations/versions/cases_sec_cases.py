"""cases (security): a message to the worker apart from the internal note, collapsed handoffs, failed look-ups.

- `case_events.worker_message`: what the worker sees when looking the case up; `note` stays internal (existing
  notes are never shown to workers any more, since operators wrote them as internal notes).
- `handoffs.updated_at` and `handoffs.requests`: a conversation asking again while its handoff waits updates it.
- `case_lookup_failures`: failed case-status look-ups per sender, case number and phone (hashed), for the back-off.

Every recorded case, event and handoff is kept (existing handoffs get requests = 1, updated_at NULL = created_at).

Revision ID: cases_sec_cases
Revises: cases_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "cases_sec_cases"
down_revision = "cases_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_events") as batch:
        batch.add_column(sa.Column("worker_message", sa.Text, nullable=False, server_default=""))
    with op.batch_alter_table("handoffs") as batch:
        batch.add_column(sa.Column("updated_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("requests", sa.Integer, nullable=False, server_default="1"))
    op.create_index("ix_handoffs_updated_at", "handoffs", ["updated_at"])
    op.create_table(
        "case_lookup_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("attempt", sa.String(32), nullable=False),
    )
    op.create_index("ix_case_lookup_failures_at", "case_lookup_failures", ["at"])
    op.create_index("ix_case_lookup_failures_attempt", "case_lookup_failures", ["attempt"])
    op.create_index("ix_case_lookup_failures_key", "case_lookup_failures", ["kind", "key_hash", "at"])


def downgrade() -> None:
    op.drop_table("case_lookup_failures")
    op.drop_index("ix_handoffs_updated_at", table_name="handoffs")
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_column("requests")
        batch.drop_column("updated_at")
    with op.batch_alter_table("case_events") as batch:
        batch.drop_column("worker_message")
