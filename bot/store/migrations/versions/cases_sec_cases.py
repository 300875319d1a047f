"""cases (security): a message to the worker apart from the internal note, collapsed handoffs, failed look-ups.

- `case_events.worker_message`: what the worker sees when looking the case up; `note` stays internal (existing
  notes are never shown to workers any more, since operators wrote them as internal notes).
- `handoffs.updated_at` and `handoffs.requests`: a conversation asking again while its handoff waits updates it.
- `cases.sequence_id`: the readable part of the case number (NX + date + sequence), a UNIQUE index, so that two writers
  racing for one sequence number cannot both win with different random letters; existing rows get their case_id.
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
    # Plain ADD COLUMN and CREATE INDEX only: a batch (table-copying) change of `cases` on SQLite would drop the old
    # table, and its ON DELETE CASCADE would take every case's history with it.
    op.add_column("cases", sa.Column("sequence_id", sa.String(20), nullable=True))
    op.execute("UPDATE cases SET sequence_id = case_id")
    op.create_index("ux_cases_sequence_id", "cases", ["sequence_id"], unique=True)
    op.add_column("case_events", sa.Column("worker_message", sa.Text, nullable=False, server_default=""))
    op.add_column("handoffs", sa.Column("updated_at", sa.DateTime, nullable=True))
    op.add_column("handoffs", sa.Column("requests", sa.Integer, nullable=False, server_default="1"))
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
    op.drop_column("handoffs", "requests")
    op.drop_column("handoffs", "updated_at")
    op.drop_column("case_events", "worker_message")
    op.drop_index("ux_cases_sequence_id", table_name="cases")
    op.drop_column("cases", "sequence_id")
