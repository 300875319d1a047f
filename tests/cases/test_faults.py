"""Storage faults: a locked SQLite file, a full disk, an I/O error in the middle of a case. Every one raises
CaseStoreUnavailable within a bounded time, leaves no half-written case, and loses nothing already recorded."""

from __future__ import annotations

import sqlite3
import time

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from bot.cases import CaseService, CaseStoreUnavailable
from bot.handoffs import HandoffService
from bot.store import AppStore
from tests.cases.conftest import count_rows, make_submission


def _store_with_pragmas(db_url: str, *pragmas: str) -> AppStore:
    """A store whose connections run extra PRAGMAs after the store's own (listeners run in order)."""
    store = AppStore(db_url)

    def extra(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(pragma)
        cursor.close()

    event.listen(store.engine, "connect", extra)
    return store


@pytest.fixture
def exclusive_lock(db_path):
    """Another process's view: a plain sqlite3 connection holding BEGIN EXCLUSIVE on the file."""
    holder = sqlite3.connect(db_path, isolation_level=None, timeout=0)
    holder.execute("BEGIN EXCLUSIVE")
    yield holder
    holder.execute("ROLLBACK")
    holder.close()


def test_a_locked_database_gives_case_store_unavailable_in_bounded_time(db_url, db_path, exclusive_lock):
    """With the production engine settings (5 s busy timeout): an error after the wait, not a hang."""
    service = CaseService(AppStore(db_url))
    started = time.monotonic()
    with pytest.raises(CaseStoreUnavailable, match="locked"):
        service.create_case(make_submission())
    elapsed = time.monotonic() - started
    assert 4 <= elapsed < 15  # it waited for the lock (busy timeout), then gave up
    exclusive_lock.execute("ROLLBACK")
    exclusive_lock.execute("BEGIN")  # the fixture's teardown rolls this back
    assert count_rows(db_path, "cases") == 0
    assert count_rows(db_path, "case_events") == 0
    # Once the lock is gone the same submission goes through: nothing was half-recorded under its key.
    case = service.create_case(make_submission())
    assert case.case_id[8:12] == "0001"
    assert count_rows(db_path, "cases") == 1


def test_under_a_lock_every_write_fails_cleanly_and_reads_still_work(db_url, db_path):
    service = CaseService(AppStore(db_url))
    existing = service.create_case(make_submission(dedupe_key="before"))
    fast_store = _store_with_pragmas(db_url, "PRAGMA busy_timeout=200")
    fast = CaseService(fast_store)
    holder = sqlite3.connect(db_path, isolation_level=None, timeout=0)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(CaseStoreUnavailable):
            fast.create_case(make_submission(dedupe_key="during"))
        with pytest.raises(CaseStoreUnavailable):
            fast.change_status(existing.case_id, "处理中", actor="op")
        with pytest.raises(CaseStoreUnavailable):
            HandoffService(fast_store).record_handoff("w", "rest", "12333", summary={"topic": "insurance"}, reason="x")
        # WAL: a worker can still ask for the status of a recorded case while a writer holds the lock.
        assert fast.case_status(existing.case_id, "13812345678") == existing
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert count_rows(db_path, "cases") == 1
    assert count_rows(db_path, "case_events") == 1
    assert count_rows(db_path, "handoffs") == 0
    assert service.get_case(existing.case_id).status == "新建"


def test_a_full_disk_gives_case_store_unavailable_and_keeps_earlier_cases(db_url, db_path):
    """SQLite's SQLITE_FULL ("database or disk is full"), produced by capping the file's page count."""
    service = CaseService(AppStore(db_url))
    confirmed = service.create_case(make_submission(dedupe_key="confirmed"))
    with sqlite3.connect(db_path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
    full = CaseService(_store_with_pragmas(db_url, f"PRAGMA max_page_count={pages}"))
    long_story = "老板说过年前一定给，结果到现在一分钱没见到，" * 60  # needs overflow pages the file may not grow by
    with pytest.raises(CaseStoreUnavailable, match="full"):
        full.create_case(make_submission(dedupe_key="on-full-disk", description=long_story[:2000]))
    assert count_rows(db_path, "cases") == 1
    assert count_rows(db_path, "case_events") == 1
    assert service.get_case(confirmed.case_id) == confirmed
    # Space again: the same submission is recorded, with the next number.
    case = service.create_case(make_submission(dedupe_key="on-full-disk", description=long_story[:2000]))
    assert int(case.case_id[8:12]) == int(confirmed.case_id[8:12]) + 1


def test_an_io_error_after_the_case_row_leaves_no_half_written_case(db_url, db_path):
    """The case row and its first history row are one transaction: a failure on the second undoes the first."""
    store = AppStore(db_url)
    failures = []

    def fail_on_history(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO CASE_EVENTS"):
            failures.append(statement)
            # What SQLAlchemy raises when the driver reports SQLITE_IOERR on this statement.
            raise sa.exc.OperationalError(statement, parameters, sqlite3.OperationalError("disk I/O error"))

    event.listen(store.engine, "before_cursor_execute", fail_on_history)
    service = CaseService(store)
    with pytest.raises(CaseStoreUnavailable, match="disk I/O error"):
        service.create_case(make_submission())
    assert failures
    assert count_rows(db_path, "cases") == 0
    assert count_rows(db_path, "case_events") == 0


def test_an_unreadable_store_gives_case_store_unavailable_on_reads_too(tmp_path):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    service = CaseService(AppStore(f"sqlite:///{folder}"))  # a directory, not a database file
    with pytest.raises(CaseStoreUnavailable):
        service.get_case("NX2611290001")
    with pytest.raises(CaseStoreUnavailable):
        HandoffService(AppStore(f"sqlite:///{folder}")).list_handoffs()


def test_a_store_that_was_never_migrated_is_unavailable_not_created(tmp_path):
    path = tmp_path / "not-migrated.db"
    service = CaseService(AppStore(f"sqlite:///{path}"))
    with pytest.raises(CaseStoreUnavailable, match="no such table"):
        service.create_case(make_submission())
    engine = sa.create_engine(f"sqlite:///{path}")
    assert sa.inspect(engine).get_table_names() == []  # the service never creates tables itself
    engine.dispose()


def test_case_store_unavailable_keeps_the_cause():
    assert issubclass(CaseStoreUnavailable, RuntimeError)
    assert not issubclass(CaseStoreUnavailable, ValueError)  # bad input and a broken store are told apart
