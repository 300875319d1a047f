"""The case store service: record a worker's case, look it up, move it through its statuses.

    service = CaseService(app_store(settings))               # the schema must exist: `bot.store.migrate(url)` first
    case = service.create_case(CaseSubmission(...))          # idempotent on dedupe_key
    service.case_status(case.case_id, "13812345678")         # the phone number is the proof of ownership

Case numbers read well over SMS: "NX" + yymmdd (China time, UTC+8) + a per-day sequence of four digits (more only
after the 9999th case of a day), e.g. NX2611290007. Statuses are 新建 → 处理中 → 已办结; an operator may also put a
case back from 处理中 to 新建 (it goes back to the queue: someone else picks it up), and reopen a closed case
(已办结 → 处理中); both backward steps need a note saying why. Every change appends a `case_events` row.

Every storage failure (a locked SQLite file, a full disk, a lost PostgreSQL connection) raises `CaseStoreUnavailable`
(`bot.store.StoreUnavailable`), which the actions turn into an apology; a case is written in one transaction, so
nothing half-written remains. Records handed out are frozen dataclasses: no ORM object leaves this module. Handoffs
are `bot.handoffs.HandoffService`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from bot.handoffs import HandoffRecord, HandoffService
from bot.store import AppStore, StoreUnavailable, storage_errors
from bot.store.cases import Case, CaseEvent
from bot.store.types import to_record, utcnow
from nlu.extract import mask_phone, parse_phone
from nlu.places import counties

__all__ = [
    "CASE_TYPES",
    "CASE_TYPE_LABELS",
    "STATUSES",
    "STATUS_NEW",
    "STATUS_IN_PROGRESS",
    "STATUS_CLOSED",
    "TRANSITIONS",
    "CaseSubmission",
    "CaseRecord",
    "CaseEventRecord",
    "CaseService",
    "CaseStoreUnavailable",
    "CaseNotFound",
    "InvalidTransition",
    "normalize_case_id",
]

log = logging.getLogger(__name__)

CASE_TYPE_LABELS: dict[str, str] = {
    "wage_arrears": "拖欠工资",
    "labor_contract": "劳动合同",
    "work_injury": "工伤",
    "social_insurance": "社会保险",
    "other": "其他",
}
CASE_TYPES: tuple[str, ...] = tuple(CASE_TYPE_LABELS)

STATUS_NEW = "新建"
STATUS_IN_PROGRESS = "处理中"
STATUS_CLOSED = "已办结"
STATUSES: tuple[str, ...] = (STATUS_NEW, STATUS_IN_PROGRESS, STATUS_CLOSED)

# Allowed status changes; the value says whether the change needs a note (backward steps must say why).
TRANSITIONS: dict[tuple[str, str], bool] = {
    (STATUS_NEW, STATUS_IN_PROGRESS): False,
    (STATUS_IN_PROGRESS, STATUS_CLOSED): False,
    (STATUS_IN_PROGRESS, STATUS_NEW): True,
    (STATUS_CLOSED, STATUS_IN_PROGRESS): True,
}

CASE_ID_PREFIX = "NX"
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
_CASE_ID_RE = re.compile(r"^NX\d{6}\d{4,}$")

MAX_NAME = 64
MAX_EMPLOYER = 200
MAX_PERIOD = 100
MAX_DESCRIPTION = 2000
MAX_AMOUNT = 100_000_000
MAX_DEDUPE_KEY = 128
_CREATE_ATTEMPTS = 30


# The app store's own error under the name the actions and the console know it by.
CaseStoreUnavailable = StoreUnavailable


class CaseNotFound(LookupError):
    """No case with this number."""


class InvalidTransition(ValueError):
    """A status change that `TRANSITIONS` does not allow (or a backward step without a note)."""


@dataclass(frozen=True)
class _CaseFields:
    """What a worker tells about their case, and the conversation it came from."""

    case_type: str
    worker_name: str
    phone: str
    county: str
    employer: str
    amount_owed: int | None
    owed_period: str | None
    description: str
    consent: bool
    sender_id: str
    channel: str


@dataclass(frozen=True)
class CaseSubmission(_CaseFields):
    """What the intake form collected. `create_case` validates and normalises it.

    `dedupe_key` identifies one submission: deliver the same key twice and you get the same case. When it is None,
    the key is a hash of the sender, channel and every collected field, so an identical submission from the same
    conversation is recorded once.
    """

    dedupe_key: str | None = None

    def effective_dedupe_key(self) -> str:
        """The dedupe key given, or the content hash described above."""
        if self.dedupe_key is not None:
            return self.dedupe_key
        content = [
            self.sender_id,
            self.channel,
            self.case_type,
            (self.worker_name or "").strip(),
            parse_phone(self.phone or "") or self.phone,
            (self.county or "").strip(),
            (self.employer or "").strip(),
            self.amount_owed,
            (self.owed_period or "").strip(),
            (self.description or "").strip(),
        ]
        digest = hashlib.sha256(json.dumps(content, ensure_ascii=False).encode("utf-8")).hexdigest()
        return f"sha256:{digest[:48]}"


@dataclass(frozen=True)
class CaseRecord(_CaseFields):
    """A recorded case as stored (phone in full: mask it with `phone_masked` wherever it is shown or logged)."""

    case_id: str
    status: str
    dedupe_key: str
    created_at: datetime
    updated_at: datetime

    @property
    def phone_masked(self) -> str:
        """138****5678."""
        return mask_phone(self.phone)

    @property
    def case_type_label(self) -> str:
        """The case type in Chinese (拖欠工资, 工伤, …)."""
        return CASE_TYPE_LABELS.get(self.case_type, self.case_type)


@dataclass(frozen=True)
class CaseEventRecord:
    """One row of a case's history."""

    id: int
    case_id: str
    at: datetime
    status: str
    note: str
    actor: str


def normalize_case_id(text: str) -> str:
    """A case number as typed ("nx 2611-29 0007", full-width digits) in canonical form ("NX2611290007")."""
    text = unicodedata.normalize("NFKC", text or "")
    return re.sub(r"[\s\-_]", "", text).upper()


class CaseService:
    """Queries and commands of the case store. Thread-safe: every call uses its own session and transaction.

    The schema must already exist (`bot.store.migrate(url)`, run by the launcher); the service never migrates.
    """

    def __init__(self, store: AppStore, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._clock = clock
        self._county_names = frozenset(c.name for c in counties())
        self._handoffs = HandoffService(store, clock=clock)

    @classmethod
    def from_url(cls, db_url: str, *, clock: Callable[[], datetime] = utcnow) -> CaseService:
        """A service on a store of its own: kept for the action and fault tests until they build an AppStore."""
        return cls(AppStore(db_url), clock=clock)

    # ---------------------------------------------------------------- cases

    def create_case(self, submission: CaseSubmission) -> CaseRecord:
        """Record a case with status 新建 and its first history row, or return the case already recorded under the
        same dedupe key (whatever its content). Raises ValueError on invalid input (consent not given, a phone that
        is not a mobile number, an unknown county, …) and CaseStoreUnavailable when the store cannot be written.

        Concurrency: the dedupe key's UNIQUE constraint and the case number's primary key decide; a submission that
        loses a race reads the winner's case (same key) or takes the next number (other key) and tries again.
        """
        values = self._validated(submission)
        dedupe_key = values["dedupe_key"]
        for attempt in range(_CREATE_ATTEMPTS):
            with storage_errors():
                existing = self._by_dedupe_key(dedupe_key)
                if existing is not None:
                    return existing
                now = self._clock()
                try:
                    with self._store.begin() as session:
                        case_id = self._next_case_id(session, now)
                        case = Case(case_id=case_id, status=STATUS_NEW, created_at=now, updated_at=now, **values)
                        session.add(case)
                        session.flush()
                        note = f"登记（{values['channel']}）"
                        session.add(CaseEvent(case_id=case_id, at=now, status=STATUS_NEW, note=note, actor="worker"))
                        session.flush()
                        record = to_record(CaseRecord, case)
                except sa_exc.IntegrityError:
                    # Another writer took this case number or this dedupe key first: look again.
                    time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
                    continue
            log.info(
                "case %s recorded (%s, %s, phone %s)",
                record.case_id,
                record.case_type,
                record.county,
                record.phone_masked,
            )
            return record
        raise CaseStoreUnavailable(f"could not allocate a case number after {_CREATE_ATTEMPTS} attempts")

    def get_case(self, case_id: str) -> CaseRecord | None:
        """The case with this number (any spacing or case accepted), or None."""
        with storage_errors(), self._store.begin() as session:
            case = session.get(Case, normalize_case_id(case_id))
            return to_record(CaseRecord, case) if case is not None else None

    def case_status(self, case_id: str, phone: str) -> CaseRecord | None:
        """The case only if both its number and its phone number match (the phone proves it is the worker's)."""
        canonical_phone = parse_phone(phone or "")
        if canonical_phone is None:
            return None
        case = self.get_case(case_id)
        if case is None or case.phone != canonical_phone:
            return None
        return case

    def list_cases(
        self,
        status: str | None = None,
        case_type: str | None = None,
        county: str | None = None,
        limit: int = 200,
    ) -> list[CaseRecord]:
        """Cases newest first, filtered by status, case type and county (full name); unknown filter values raise."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; expected one of {STATUSES}")
        if case_type is not None and case_type not in CASE_TYPES:
            raise ValueError(f"unknown case_type {case_type!r}; expected one of {CASE_TYPES}")
        query = sa.select(Case)
        if status is not None:
            query = query.where(Case.status == status)
        if case_type is not None:
            query = query.where(Case.case_type == case_type)
        if county is not None:
            query = query.where(Case.county == county)
        query = query.order_by(Case.created_at.desc(), Case.case_id.desc()).limit(max(0, int(limit)))
        with storage_errors(), self._store.begin() as session:
            return [to_record(CaseRecord, case) for case in session.execute(query).scalars()]

    def change_status(self, case_id: str, status: str, actor: str, note: str = "") -> CaseRecord:
        """Move a case to `status` (see TRANSITIONS) and append a history row; returns the updated case.

        Raises CaseNotFound, InvalidTransition (not allowed, same status, or a backward step without a note),
        ValueError (empty actor) or CaseStoreUnavailable.
        """
        if status not in STATUSES:
            raise InvalidTransition(f"unknown status {status!r}; expected one of {STATUSES}")
        actor = (actor or "").strip()
        if not actor:
            raise ValueError("actor is required (who changes the status)")
        note = (note or "").strip()
        with storage_errors(), self._store.begin() as session:
            case = session.get(Case, normalize_case_id(case_id))
            if case is None:
                raise CaseNotFound(case_id)
            needs_note = TRANSITIONS.get((case.status, status))
            if needs_note is None:
                raise InvalidTransition(f"case {case.case_id}: {case.status} → {status} is not allowed")
            if needs_note and not note:
                raise InvalidTransition(f"case {case.case_id}: {case.status} → {status} needs a note saying why")
            now = self._clock()
            # Compare-and-set on the old status so two operators changing the same case cannot both win.
            updated = session.execute(
                sa.update(Case)
                .where(Case.case_id == case.case_id, Case.status == case.status)
                .values(status=status, updated_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if updated != 1:
                raise InvalidTransition(f"case {case.case_id} changed meanwhile; reload it and try again")
            session.add(CaseEvent(case_id=case.case_id, at=now, status=status, note=note, actor=actor))
            session.flush()
            session.expire(case)
            record = to_record(CaseRecord, session.get(Case, case.case_id))
        log.info("case %s: %s by %s", record.case_id, status, actor)
        return record

    def case_history(self, case_id: str) -> list[CaseEventRecord]:
        """The case's history, oldest first (empty for an unknown case)."""
        query = (
            sa.select(CaseEvent)
            .where(CaseEvent.case_id == normalize_case_id(case_id))
            .order_by(CaseEvent.at, CaseEvent.id)
        )
        with storage_errors(), self._store.begin() as session:
            return [to_record(CaseEventRecord, event) for event in session.execute(query).scalars()]

    # ---------------------------------------------------------------- handoffs (moved to bot.handoffs)
    # The action server's `actions.handoff` still records handoffs through the case service; these three forward to
    # `HandoffService` on the same store until it calls that service itself.

    def record_handoff(self, *args: Any, **kwargs: Any) -> HandoffRecord:
        return self._handoffs.record_handoff(*args, **kwargs)

    def list_handoffs(self, limit: int = 200) -> list[HandoffRecord]:
        return self._handoffs.list_handoffs(limit)

    def get_handoff(self, handoff_id: int) -> HandoffRecord | None:
        return self._handoffs.get_handoff(handoff_id)

    # ---------------------------------------------------------------- internals

    def _validated(self, submission: CaseSubmission) -> dict[str, Any]:
        if submission.consent is not True:
            raise ValueError("the worker's consent to pass the case to the 人社 department is required")
        if submission.case_type not in CASE_TYPES:
            raise ValueError(f"unknown case_type {submission.case_type!r}; expected one of {CASE_TYPES}")
        phone = parse_phone(submission.phone or "")
        if phone is None:
            masked = mask_phone(submission.phone or "")
            raise ValueError(f"phone {masked!r} is not a mobile number (11 digits starting with 1[3-9])")
        county = (submission.county or "").strip()
        if county not in self._county_names:
            raise ValueError(
                f"county {county!r} is not a Ningxia county-level division (use its full name, e.g. 金凤区)"
            )
        amount = submission.amount_owed
        if amount is not None:
            if isinstance(amount, bool) or not isinstance(amount, int):
                raise ValueError(f"amount_owed must be whole yuan (int) or None, got {amount!r}")
            if not 0 <= amount <= MAX_AMOUNT:
                raise ValueError(f"amount_owed {amount} is out of range 0..{MAX_AMOUNT}")
        dedupe_key = submission.effective_dedupe_key()
        if not dedupe_key or len(dedupe_key) > MAX_DEDUPE_KEY:
            raise ValueError(f"dedupe_key must be 1..{MAX_DEDUPE_KEY} characters")
        if not (submission.sender_id or "").strip() or not (submission.channel or "").strip():
            raise ValueError("sender_id and channel are required")
        if len(submission.sender_id.strip()) > 255 or len(submission.channel.strip()) > 32:
            raise ValueError("sender_id (at most 255 characters) or channel (at most 32) is too long")
        return {
            "case_type": submission.case_type,
            "worker_name": _text(submission.worker_name, "worker_name", MAX_NAME, required=True),
            "phone": phone,
            "county": county,
            "employer": _text(submission.employer, "employer", MAX_EMPLOYER, required=True),
            "amount_owed": amount,
            "owed_period": _text(submission.owed_period, "owed_period", MAX_PERIOD) or None,
            "description": _text(submission.description, "description", MAX_DESCRIPTION),
            "consent": True,
            "sender_id": submission.sender_id.strip(),
            "channel": submission.channel.strip(),
            "dedupe_key": dedupe_key,
        }

    def _by_dedupe_key(self, dedupe_key: str) -> CaseRecord | None:
        with self._store.begin() as session:
            case = session.execute(sa.select(Case).where(Case.dedupe_key == dedupe_key)).scalar_one_or_none()
            return to_record(CaseRecord, case) if case is not None else None

    @staticmethod
    def _next_case_id(session: Session, now: datetime) -> str:
        prefix = CASE_ID_PREFIX + now.astimezone(CHINA_TZ).strftime("%y%m%d")
        last = session.execute(
            sa.select(Case.case_id)
            .where(Case.case_id.like(prefix + "%"))
            .order_by(sa.func.length(Case.case_id).desc(), Case.case_id.desc())
            .limit(1)
        ).scalar_one_or_none()
        sequence = int(last[len(prefix) :]) + 1 if last else 1
        return f"{prefix}{sequence:04d}"


def _text(value: str | None, name: str, max_length: int, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValueError(f"{name} is required")
    if len(text) > max_length:
        raise ValueError(f"{name} is too long ({len(text)} characters, at most {max_length})")
    return text
