from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, declarative_base, sessionmaker

if TYPE_CHECKING:
    from bot.settings import Settings

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

Base: Any = declarative_base()

log = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the console read while the action server writes; busy_timeout waits for a lock instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine_for(url: str) -> Engine:
    """An engine for `url`; for a SQLite file, its folder is created and WAL mode and a busy timeout are set."""
    sa_url = sa.engine.make_url(url)
    if sa_url.get_backend_name() == "sqlite":
        if sa_url.database and sa_url.database != ":memory:":
            Path(sa_url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, future=True, connect_args={"timeout": 5})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, future=True, pool_pre_ping=True)


class AppStore:
    """The app store of one database: its engine (one pool) and its session factory, shared by every service.

    `with store.begin() as session:` is SQLAlchemy's `sessionmaker.begin()`: one transaction, committed when the
    block ends, rolled back when it raises. Objects stay usable after the commit (`expire_on_commit=False`). The
    engine connects on first use, not here.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine_for(url)
        self.sessions = sessionmaker(bind=self.engine, future=True, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> AppStore:
        return cls(settings.app_db_url)

    def begin(self) -> contextlib.AbstractContextManager[Session]:
        return self.sessions.begin()

    def migrate(self) -> None:
        migrate(self.url)

    def dispose(self) -> None:
        self.engine.dispose()


_stores: dict[str, AppStore] = {}
_stores_lock = threading.Lock()


def app_store(settings: Settings | None = None) -> AppStore:
    """The process's app store for `settings` (default `bot.settings.current()`), built on the first call.

    One per database per process: every service of the process shares its engine and pool.
    """
    if settings is None:
        from bot.settings import current

        settings = current()
    url = settings.app_db_url
    with _stores_lock:
        store = _stores.get(url)
        if store is None:
            store = _stores[url] = AppStore(url)
        return store


class StoreUnavailable(RuntimeError):
    """The app store cannot be read or written right now (locked, full disk, lost connection); nothing was saved.

    The caller apologises and offers 12333; retrying later is safe (case creation is idempotent on its dedupe key).
    """


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    """Turn driver-level failures into StoreUnavailable; IntegrityError (handled by the caller) and programming
    errors (bugs: they should be loud) pass through unchanged."""
    try:
        yield
    except sa_exc.IntegrityError:
        raise
    except (
        sa_exc.OperationalError,
        sa_exc.InterfaceError,
        sa_exc.InternalError,
        sa_exc.DataError,
        sa_exc.TimeoutError,
    ) as error:
        detail = str(getattr(error, "orig", None) or error).splitlines()[0]
        log.warning("app store unavailable: %s", detail)
        raise StoreUnavailable(f"app store unavailable: {detail}") from error
    except OSError as error:  # the SQLite file's folder cannot be created or read
        log.warning("app store unavailable: %s", error)
        raise StoreUnavailable(f"app store unavailable: {error}") from error


def migrate(url: str) -> None:
    """Upgrade the database at `url` to every branch's newest revision (idempotent)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "heads")
