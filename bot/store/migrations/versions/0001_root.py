"""The root of every branch: an empty schema.

Each feature starts its own branch from here (`down_revision = "0001_root"`, `branch_labels = ("cases",)` etc.) and
continues it linearly; `bot.store.migrate` upgrades to all heads.

Revision ID: 0001_root
Revises:
"""

revision = "0001_root"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
