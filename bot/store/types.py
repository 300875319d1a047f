"""What every table of the app store shares: the UTC datetime column type, `utcnow`, and rows handed out as records.

Every datetime is stored as naive UTC (SQLite has no time zones; the same on PostgreSQL keeps ordering and
comparisons identical) and handed back timezone-aware. Services hand out frozen dataclasses, never ORM objects:
`to_record(Record, row)` fills a record's fields from the row's attributes of the same names.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

__all__ = ["UTCDateTime", "utcnow", "to_record"]

R = TypeVar("R")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A DateTime stored as naive UTC on every backend and returned timezone-aware (UTC); naive input is refused."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def to_record(record_type: type[R], row: Any, **extra: Any) -> R:
    """`record_type` (a dataclass) with each init field taken from `row`'s attribute of that name, or from `extra`."""
    values = {
        f.name: getattr(row, f.name)
        for f in dataclasses.fields(record_type)  # type: ignore[arg-type]
        if f.init and f.name not in extra and hasattr(row, f.name)
    }
    return record_type(**values, **extra)
