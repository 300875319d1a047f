"""The "console" Alembic branch: starts at the root, creates exactly the models' tables, and migrating twice is a
no-op."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.store import (
    Base,
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


def test_the_migrated_schema_matches_the_models(db_url):
    engine = create_engine_for(db_url)

    def ours(obj, name, type_, reflected, compare_to):
        table = obj if type_ == "table" else getattr(obj, "table", None)
        return table is None or table.name in CONSOLE_TABLES

    try:
        with engine.connect() as connection:
            assert set(sa.inspect(connection).get_table_names()) >= CONSOLE_TABLES
            context = MigrationContext.configure(
                connection, opts={"include_object": ours, "compare_type": True, "render_as_batch": True}
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
    migrate(db_url)  # again: nothing to do, nothing fails
