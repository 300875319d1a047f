"""The app store: the assistant's own durable records (cases, handoffs, channel state, operators).

One SQLAlchemy `Base` for all of them, one database (SQLite under var/ by default, PostgreSQL when `APP_DB_URL` says
so), and a schema versioned by Alembic: `migrate(url)` brings any database to the newest schema and is run at the
start of every process that uses the store. Each feature keeps its models in its own module here and its migrations
on its own Alembic branch (see migrations/versions), so features evolve their tables without stepping on each other.
"""

from bot.store._base import Base, create_engine_for, migrate, session_scope, sessionmaker_for

__all__ = ["Base", "create_engine_for", "migrate", "session_scope", "sessionmaker_for"]
