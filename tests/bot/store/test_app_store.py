"""The app store: one per database per process, transactions by `sessionmaker.begin()`, storage errors translated,
UTC datetimes, rows handed out as records."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from bot.settings import Settings
from bot.store import AppStore, StoreUnavailable, app_store, migrate, storage_errors
from bot.store.channel_state import ChannelMenu
from bot.store.types import UTCDateTime, to_record


def settings_for(url: str) -> Settings:
    return Settings.from_env({"APP_DB_URL": url})


def test_one_store_per_database_per_process(tmp_path):
    one, two = f"sqlite:///{tmp_path / 'one.db'}", f"sqlite:///{tmp_path / 'two.db'}"
    assert app_store(settings_for(one)) is app_store(settings_for(one))
    assert app_store(settings_for(one)).engine is app_store(settings_for(one)).engine
    assert app_store(settings_for(two)) is not app_store(settings_for(one))
    assert app_store(settings_for(two)).url == two


def test_begin_commits_a_block_and_rolls_back_a_failing_one(db_url):
    store = AppStore(db_url)
    expires = datetime(2026, 12, 1, 8, tzinfo=UTC)
    with store.begin() as session:
        session.add(ChannelMenu(channel="sms", sender_id="a", payloads="[]", expires_at=expires))
    with pytest.raises(RuntimeError), store.begin() as session:
        session.add(ChannelMenu(channel="sms", sender_id="b", payloads="[]", expires_at=expires))
        session.flush()
        raise RuntimeError("after the insert")
    with store.begin() as session:
        rows = session.execute(sa.select(ChannelMenu)).scalars().all()
        assert [(row.sender_id, row.expires_at) for row in rows] == [("a", expires)]  # aware UTC back


def test_storage_failures_become_store_unavailable(tmp_path):
    store = AppStore(f"sqlite:///{tmp_path / 'never-migrated.db'}")
    with pytest.raises(StoreUnavailable, match="no such table"), storage_errors(), store.begin() as session:
        session.execute(sa.select(ChannelMenu))


def test_utc_datetimes_refuse_naive_values_and_store_utc(db_url):
    column = UTCDateTime()
    china = timezone(timedelta(hours=8))
    assert column.process_bind_param(datetime(2026, 12, 1, 16, tzinfo=china), None) == datetime(2026, 12, 1, 8)
    with pytest.raises(ValueError, match="naive"):
        column.process_bind_param(datetime(2026, 12, 1, 8), None)
    assert column.process_result_value(datetime(2026, 12, 1, 8), None) == datetime(2026, 12, 1, 8, tzinfo=UTC)


def test_rows_become_records_by_field_name():
    @dataclasses.dataclass(frozen=True)
    class Record:
        id: int
        name: str
        extra: str = "default"

    class Row:
        id, name, ignored = 7, "x", "not a field"

    assert to_record(Record, Row()) == Record(7, "x")
    assert to_record(Record, Row(), extra="given") == Record(7, "x", "given")


def test_migrate_is_idempotent_through_the_store(db_url):
    AppStore(db_url).migrate()
    migrate(db_url)
