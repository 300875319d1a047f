"""console: the login throttle's counters in the app store (shared by every console process).

Revision ID: console_sec_console
Revises: console_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "console_sec_console"
down_revision = "console_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_login_throttle",
        sa.Column("key", sa.String(160), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("not_before", sa.Float, nullable=False),
        sa.Column("last_at", sa.Float, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("console_login_throttle")
