"""Fixtures of the case-store tests: a migrated SQLite file per test and a valid submission to vary."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from bot.cases import CaseService, CaseSubmission
from bot.store import AppStore, migrate


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "assistant.db"


@pytest.fixture
def db_url(db_path: Path) -> str:
    url = f"sqlite:///{db_path}"
    migrate(url)
    return url


@pytest.fixture
def service(db_url: str) -> CaseService:
    return CaseService(AppStore(db_url))


@pytest.fixture
def submission() -> CaseSubmission:
    return make_submission()


def make_submission(**changes) -> CaseSubmission:
    """A valid wage-arrears submission, with `changes` applied."""
    base = CaseSubmission(
        case_type="wage_arrears",
        worker_name="马建国",
        phone="13812345678",
        county="金凤区",
        employer="宁夏某建筑劳务公司",
        amount_owed=12000,
        owed_period="3个月",
        description="在工地干了三个月，老板一直拖着不给工钱",
        consent=True,
        sender_id="worker-1",
        channel="rest",
        dedupe_key="worker-1:intake:1",
    )
    return dataclasses.replace(base, **changes)


def count_rows(db_path: Path, table: str) -> int:
    """Rows in `table`, read with a separate plain sqlite3 connection (what is really on disk)."""
    with sqlite3.connect(db_path) as connection:
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
