"""Engine, sessions, the YAML-to-SQL synchronisation and the read queries of the SQL copy.

Written in SQLAlchemy 2.0 style (``future=True`` engines, ``select()``, ``session.execute(...).scalars()``) so that
the move from the pinned 1.4 to 2.0 changes nothing here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import json
from collections.abc import Iterable, Iterator

from sqlalchemy import create_engine, delete, func, or_, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from policies_kb._models import Base, FactRow, RuleRow, SourceRow
from policies_kb._schema import FactSpec, Rule

__all__ = ["SyncReport", "make_engine", "session_scope", "sync_store", "rule_ids_valid_on", "row_counts"]


@dataclasses.dataclass(frozen=True)
class SyncReport:
    """What one synchronisation changed (all zero when the store already matched the YAML)."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0


def make_engine(db_url: str) -> Engine:
    """A ``future=True`` engine for ``db_url`` with the tables created if missing.

    An in-memory SQLite database (``sqlite://``) is one connection shared by all threads (``StaticPool``): with
    the default per-thread pool each thread of a Sanic/Rasa worker would see its own empty database.
    """
    url = make_url(db_url)
    options: dict = {"future": True}
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        options.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    engine = create_engine(url, **options)
    Base.metadata.create_all(engine)
    return engine


@contextlib.contextmanager
def session_scope(session_maker: sessionmaker) -> Iterator[Session]:
    """Provide a transactional scope around a series of operations (commit on success, roll back on error)."""
    session = session_maker()
    try:
        yield session
        session.commit()
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()


def content_hash(rule: Rule) -> str:
    """A stable digest of everything a rule says (its ``to_dict()``)."""
    canonical = json.dumps(rule.to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _rule_row_values(rule: Rule) -> dict:
    return dict(
        topic=rule.topic,
        title=rule.title,
        questions=list(rule.questions),
        answer=rule.answer,
        quote=rule.quote,
        scope=rule.scope,
        decided_locally=rule.decided_locally,
        effective_from=rule.effective_from,
        effective_until=rule.effective_until,
        last_verified=rule.last_verified,
        conditions=rule.to_dict()["conditions"],
        content_hash=content_hash(rule),
    )


def _source_rows(rule: Rule) -> list[SourceRow]:
    return [
        SourceRow(
            position=position,
            title=source.title,
            doc_no=source.doc_no,
            issuer=source.issuer,
            date=source.date,
            article=source.article,
            url=source.url,
        )
        for position, source in enumerate(rule.sources)
    ]


def sync_store(session: Session, rules: Iterable[Rule], facts: dict[str, FactSpec]) -> SyncReport:
    """Make the SQL copy equal to the validated YAML: insert new rules, rewrite changed ones (by content hash),
    delete rows whose file is gone. Running it twice on the same files changes nothing the second time."""
    wanted = {rule.id: rule for rule in rules}
    existing = {row.id: row for row in session.execute(select(RuleRow)).scalars()}
    inserted = updated = unchanged = 0
    for rule_id, rule in wanted.items():
        values = _rule_row_values(rule)
        row = existing.get(rule_id)
        if row is None:
            session.add(RuleRow(id=rule_id, sources=_source_rows(rule), **values))
            inserted += 1
        elif row.content_hash != values["content_hash"]:
            for key, value in values.items():
                setattr(row, key, value)
            row.sources.clear()
            session.flush()  # delete the old source rows before reusing their (rule_id, position) slots
            row.sources.extend(_source_rows(rule))
            updated += 1
        else:
            unchanged += 1
    stale = [rule_id for rule_id in existing if rule_id not in wanted]
    for rule_id in stale:
        session.delete(existing[rule_id])

    stored_facts = {row.name: row for row in session.execute(select(FactRow)).scalars()}
    for name, spec in facts.items():
        values = dict(type=spec.type, question=spec.question, unit=spec.unit, choices=spec.to_dict()["choices"])
        row = stored_facts.get(name)
        if row is None:
            session.add(FactRow(name=name, **values))
        elif any(getattr(row, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
    gone = [name for name in stored_facts if name not in facts]
    if gone:
        session.execute(delete(FactRow).where(FactRow.name.in_(gone)))
    return SyncReport(inserted=inserted, updated=updated, deleted=len(stale), unchanged=unchanged)


def rule_ids_valid_on(session: Session, day: datetime.date, topic: str | None = None) -> list[str]:
    """Ids of the rules in force on ``day`` (optionally of one topic), sorted."""
    query = select(RuleRow.id).where(
        RuleRow.effective_from <= day,
        or_(RuleRow.effective_until.is_(None), RuleRow.effective_until >= day),
    )
    if topic is not None:
        query = query.where(RuleRow.topic == topic)
    return list(session.execute(query.order_by(RuleRow.id)).scalars())


def row_counts(session: Session) -> dict[str, int]:
    """Rows per table (used by tests and the CLI to show that a second load changed nothing)."""
    return {
        model.__tablename__: session.execute(select(func.count()).select_from(model)).scalar_one()
        for model in (RuleRow, SourceRow, FactRow)
    }
