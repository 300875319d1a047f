"""The app store: the assistant's own durable records (cases, handoffs, channel state, operators).

One SQLAlchemy `Base` for all of them, one database (SQLite under var/ by default, PostgreSQL when `APP_DB_URL` says
so), and a schema versioned by Alembic: `migrate(url)` brings any database to the newest schema; the entry points
that own the store run it (`python -m bot run|chat`, `python -m bot.console serve|create-operator`). Each feature
keeps its models in its own module here and its migrations on its own Alembic branch (see migrations/versions), so
features evolve their tables without stepping on each other.

One `AppStore` (engine + session factory) per process, `app_store(settings)`; the services take it in their
constructor (`CaseService(store)`, `HandoffService(store)`, `TakeoverService(store)`, `Accounts(store)`,
`ChannelState(store)`). Shared column types and `utcnow` are in `bot.store.types`.
"""

from bot.store._base import (
    AppStore,
    Base,
    StoreUnavailable,
    app_store,
    create_engine_for,
    migrate,
    storage_errors,
)

__all__ = ["AppStore", "Base", "StoreUnavailable", "app_store", "create_engine_for", "migrate", "storage_errors"]
