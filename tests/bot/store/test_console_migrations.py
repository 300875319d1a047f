"""The "console" Alembic branch: starts at the root, creates exactly the models' tables, and migrating twice is a
no-op."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from bot.store import (
    create_engine_for,
    migrate,
    operators,  # noqa: F401  (registers the console's tables)
)
from bot.store._base import MIGRATIONS_DIR

CONSOLE_TABLES = {"console_operators", "console_sessions", "takeovers", "takeover_messages", "console_audit"}


def test_branch_starts_at_the_root():
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    scripts = ScriptDirectory.from_config(config)
    revisions = [r for r in scripts.walk_revisions() if r.revision.startswith("console_")]
    first = next(r for r in revisions if r.revision == "console_0001")
    assert first.down_revision == "0001_root" and first.branch_labels == {"console"}


def test_the_console_tables_exist_and_migrating_twice_is_a_no_op(db_url):
    engine = create_engine_for(db_url)
    try:
        with engine.connect() as connection:
            assert set(sa.inspect(connection).get_table_names()) >= CONSOLE_TABLES
    finally:
        engine.dispose()
    migrate(db_url)  # again: nothing to do, nothing fails
