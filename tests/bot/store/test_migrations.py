"""The "cases" Alembic branch: creates its tables, is idempotent, and never loses a recorded case on upgrade.

`test_upgrade_keeps_rows_written_at_every_earlier_revision` runs once per revision of the branch: it builds a
database at that revision, writes cases, events and handoffs with plain SQL (only the columns that revision has),
then runs `migrate()` to the newest heads and reads everything back through `CaseService`. While the branch has one
revision this checks that re-running the migrations keeps the rows; as soon as a revision is added, the parameter for
the older revision checks the real upgrade path.
"""

from __future__ import annotations

import itertools
import sqlite3
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.cases import CaseService
from bot.handoffs import HandoffService
from bot.store import AppStore, Base, cases, channel_state, create_engine_for, migrate, notifications, operators  # noqa: F401  (register every table on Base.metadata)
from bot.store._base import MIGRATIONS_DIR
from tests.cases.conftest import count_rows, make_submission

CASE_TABLES = {"cases", "case_events", "handoffs"}


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    return config


def _cases_revisions() -> list[str]:
    """The revisions of the "cases" branch, oldest first (the root excluded)."""
    script = ScriptDirectory.from_config(_config("sqlite://"))
    revisions = [rev.revision for rev in script.iterate_revisions("cases@head", "base")]
    return [rev for rev in reversed(revisions) if rev != "0001_root"]


def _schema(path) -> list[tuple]:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name").fetchall()


def _versions(path) -> set[str]:
    with sqlite3.connect(path) as connection:
        return {row[0] for row in connection.execute("SELECT version_num FROM alembic_version")}


def test_the_branch_starts_at_the_root_and_is_linear():
    script = ScriptDirectory.from_config(_config("sqlite://"))
    revisions = _cases_revisions()
    assert revisions[0] == "cases_0001"
    first = script.get_revision("cases_0001")
    assert first.down_revision == "0001_root" and "cases" in first.branch_labels
    for older, newer in itertools.pairwise(revisions):
        assert script.get_revision(newer).down_revision == older


def test_migrate_creates_the_tables_on_an_empty_file(tmp_path):
    path = tmp_path / "fresh.db"
    url = f"sqlite:///{path}"
    migrate(url)
    engine = create_engine_for(url)
    try:
        assert set(sa.inspect(engine).get_table_names()) >= CASE_TABLES
        with engine.connect() as connection:
            heads = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
    assert _cases_revisions()[-1] in heads
    # The service works on it straight away.
    case = CaseService(AppStore(url)).create_case(make_submission())
    assert case.status == "新建"


def test_the_migrated_schema_matches_every_model(db_url):
    """No drift between the models of every branch (cases, console, channels) and the migrations (what autogenerate
    would add, drop or retype)."""
    ours = set(Base.metadata.tables)
    assert {"cases", "handoffs", "takeovers", "console_operators", "channel_messages", "sms_opt_outs"} <= ours
    engine = create_engine_for(db_url)

    def included(obj, name, type_, reflected, compare_to):
        table = obj if type_ == "table" else getattr(obj, "table", None)
        return table is None or table.name in ours

    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"include_object": included, "compare_type": True, "render_as_batch": True}
            )
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_a_second_migrate_is_a_no_op(db_path, db_url, service):
    service.create_case(make_submission())
    schema, versions = _schema(db_path), _versions(db_path)
    migrate(db_url)
    assert _schema(db_path) == schema
    assert _versions(db_path) == versions
    assert count_rows(db_path, "cases") == 1


# Values for every column a revision of the branch may have. A new NOT NULL column without a server default that
# is missing here makes the test fail with its name: add a realistic value for it.
SAMPLE_ROWS = {
    "cases": {
        "case_id": "NX2601050003",
        "sequence_id": "NX2601050003",
        "case_type": "wage_arrears",
        "worker_name": "李秀兰",
        "phone": "13995112233",
        "county": "原州区",
        "employer": "固原某物业公司",
        "amount_owed": 8500,
        "owed_period": "2025年10月至12月",
        "description": "保洁工资拖了三个月",
        "consent": True,
        "status": "处理中",
        "sender_id": "wx-openid-1",
        "channel": "wechat",
        "dedupe_key": "wx-openid-1:intake:7",
        "created_at": datetime(2026, 1, 5, 2, 30),
        "updated_at": datetime(2026, 1, 6, 8, 0),
    },
    "case_events": [
        {
            "case_id": "NX2601050003",
            "at": datetime(2026, 1, 5, 2, 30),
            "status": "新建",
            "note": "登记（wechat）",
            "actor": "worker",
        },
        {
            "case_id": "NX2601050003",
            "at": datetime(2026, 1, 6, 8, 0),
            "status": "处理中",
            "note": "已联系用人单位",
            "actor": "op-zhang",
        },
    ],
    "handoffs": {
        "sender_id": "sms-13995112233",
        "channel": "sms",
        "target": "12333",
        "topic": "insurance",
        "facts": {"years_paid": 12},
        "last_question": "养老保险交了十二年能领吗",
        "reason": "decided locally",
        "created_at": datetime(2026, 1, 7, 1, 0),
    },
}


def _insert(connection, table: sa.Table, row: dict) -> None:
    values = {}
    for column in table.columns:
        if column.name in row:
            values[column.name] = row[column.name]
        elif (
            not column.nullable
            and column.server_default is None
            and column.autoincrement is not True
            and not (column.primary_key and isinstance(column.type, sa.Integer))
        ):
            pytest.fail(f"column {table.name}.{column.name} is NOT NULL without a default: add it to SAMPLE_ROWS")
    connection.execute(table.insert().values(**values))


@pytest.mark.parametrize("revision", _cases_revisions())
def test_upgrade_keeps_rows_written_at_every_earlier_revision(tmp_path, revision):
    path = tmp_path / f"at-{revision}.db"
    url = f"sqlite:///{path}"
    command.upgrade(_config(url), revision)
    engine = create_engine_for(url)
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        with engine.begin() as connection:
            _insert(connection, metadata.tables["cases"], SAMPLE_ROWS["cases"])
            for event in SAMPLE_ROWS["case_events"]:
                _insert(connection, metadata.tables["case_events"], event)
            _insert(connection, metadata.tables["handoffs"], SAMPLE_ROWS["handoffs"])
    finally:
        engine.dispose()

    migrate(url)

    service = CaseService(AppStore(url))
    case = service.case_status("NX2601050003", "13995112233")
    assert case is not None
    expected = SAMPLE_ROWS["cases"]
    for name in (
        "case_type",
        "worker_name",
        "phone",
        "county",
        "employer",
        "amount_owed",
        "owed_period",
        "description",
        "consent",
        "status",
        "sender_id",
        "channel",
        "dedupe_key",
    ):
        # console_sec_scope (issue 14 F1) scopes the sender by its channel: "wechat:<openid>"
        wanted = f"{expected['channel']}:{expected[name]}" if name == "sender_id" else expected[name]
        assert getattr(case, name) == wanted, name
    assert case.created_at == expected["created_at"].replace(tzinfo=UTC)
    history = service.case_history("NX2601050003")
    assert [(event.status, event.actor) for event in history] == [("新建", "worker"), ("处理中", "op-zhang")]
    [handoff] = HandoffService(AppStore(url)).list_handoffs()
    assert (handoff.target, handoff.topic, handoff.facts) == ("12333", "insurance", {"years_paid": 12})
    assert (handoff.requests, handoff.last_requested_at) == (1, handoff.created_at)
    # Notes written before the message to the worker existed were internal: a worker's look-up shows none of them.
    lookup = service.look_up("NX2601050003", "13995112233", "wx-openid-1")
    assert lookup.case is not None and lookup.worker_message == ""
    # The upgraded store keeps working: the old case moves on, and the same dedupe key still finds it.
    assert service.change_status("NX2601050003", "已办结", actor="op-zhang").status == "已办结"
    again = service.create_case(make_submission(dedupe_key="wx-openid-1:intake:7"))
    assert again.case_id == "NX2601050003"
    assert count_rows(path, "cases") == 1
