"""The case store service: record a worker's case, look it up, move it through its statuses.

    service = CaseService(app_store(settings))               # the schema must exist: `bot.store.migrate(url)` first
    case = service.create_case(CaseSubmission(...))          # idempotent on dedupe_key
    service.case_status(case.case_id, "13812345678")         # the phone number is the proof of ownership

Case numbers read well over SMS: "NX" + yymmdd (China time, UTC+8) + a per-day sequence of four digits (more only
after the 9999th case of a day) + three random letters and a check letter, e.g. NX2612020007KQFX. The letters make a
number unguessable by stepping the sequence (23³ possibilities per case) and the check letter lets a mistyped or
made-up number be refused before any database look-up (`valid_case_id`). Numbers recorded before the letters
(NX2611290007, dated up to LEGACY_CASE_IDS_UNTIL) are still found.

Case-status look-ups (`look_up`) are guarded against guessing: every failed look-up is counted in the app store
against the conversation that asked, the case number tried and the phone tried (`case_lookup_failures`, keys hashed);
after a failure a key backs off exponentially (1 s, 2 s, 4 s, 8 s) and after LOOKUP_LIMIT failures in 24 hours the
look-up is refused without checking anything. A look-up refused because its number or phone is backing off still
counts against that number and phone (spreading guesses over fresh conversations reaches the limit sooner, never
more checks); one refused because its conversation is backing off counts nothing more. A refused key does not lock out the worker: a look-up from the
conversation that recorded the case, with its number and phone, is still answered. `lookup_failure_summary` is the
console's alert line.

A status change (or a note without one) carries two texts: `note`, internal to operators, and `worker_message`, the
only text a worker's look-up shows (the newest non-empty one). Statuses are 新建 → 处理中 → 已办结; an operator may also put a
case back from 处理中 to 新建 (it goes back to the queue: someone else picks it up), and reopen a closed case
(已办结 → 处理中); both backward steps need a note saying why. Every change appends a `case_events` row, and a change the
worker should hear of (a status change forward or a reopening, any message to the worker) queues a case notification
in the same transaction (`bot.notifications`: the outbox the notifier sends from).

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
import secrets
import time
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from bot.notifications import queue_case_notification
from bot.store import AppStore, StoreUnavailable, storage_errors
from bot.store.cases import Case, CaseEvent, CaseLookupFailure
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
    "CaseLookup",
    "LookupFailureSummary",
    "CaseService",
    "CaseStoreUnavailable",
    "CaseNotFound",
    "InvalidTransition",
    "normalize_case_id",
    "valid_case_id",
    "case_id_check_letter",
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
# Letters that cannot be misread for a digit or each other over SMS or the phone (no I, L, O).
CASE_ID_LETTERS = "ABCDEFGHJKMNPQRSTUVWXYZ"
CASE_ID_RANDOM_LETTERS = 3
_CASE_ID_RE = re.compile(r"^NX(\d{6})(\d{4,})([A-Z]{4})?$")
# The day the check letters came in: a number without them dated later was never issued.
LEGACY_CASE_IDS_UNTIL = "261202"
_CHECK_VALUES = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# Guessing case look-ups: per key (sender, case number, phone) at most LOOKUP_LIMIT failures per LOOKUP_WINDOW, and
# after the n-th failure the key waits LOOKUP_BACKOFF * 2^(n-1) before the next look-up is checked.
LOOKUP_LIMIT = 5
LOOKUP_WINDOW = timedelta(hours=24)
LOOKUP_BACKOFF = timedelta(seconds=1)
LOOKUP_KINDS = ("sender", "case", "phone")

MAX_NAME = 64
MAX_EMPLOYER = 200
MAX_PERIOD = 100
MAX_DESCRIPTION = 2000
MAX_AMOUNT = 100_000_000
MAX_DEDUPE_KEY = 128
MAX_WORKER_MESSAGE = 500
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
    note: str  # internal: operators only
    actor: str
    worker_message: str = ""  # shown to the worker who looks the case up


@dataclass(frozen=True)
class CaseLookup:
    """The answer to a worker's look-up. `refused`: backing off, nothing was checked (say "call 12333").
    `case` is set only when number and phone matched; `worker_message` is the newest message to the worker."""

    case: CaseRecord | None
    worker_message: str = ""
    refused: bool = False


@dataclass(frozen=True)
class LookupFailureSummary:
    """Failed look-ups in the window and the keys with the most of them: (kind, label, count)."""

    failures: int
    top_keys: list[tuple[str, str, int]]
    since: datetime


def normalize_case_id(text: str) -> str:
    """A case number as typed ("nx 2611-29 0007 kqfx", full-width digits) in canonical form ("NX2611290007KQFT")."""
    text = unicodedata.normalize("NFKC", text or "")
    return re.sub(r"[\s\-_]", "", text).upper()


def case_id_check_letter(body: str) -> str:
    """The check letter of a case number's first part (NX, date, sequence, random letters): a weighted sum modulo 23
    (a prime), so one wrong character or two swapped neighbours change it. A digit counts its value (0-9) and a letter
    its place among the 23 case-number letters (0-22): two different characters of one kind never differ by a
    multiple of 23, so swapping them always changes the sum (with values 0-35 a Z and a C, 23 apart, did not)."""
    total = sum((position + 1) * _check_value(char) for position, char in enumerate(body.upper()))
    return CASE_ID_LETTERS[total % len(CASE_ID_LETTERS)]


def _check_value(char: str) -> int:
    if char.isdigit():
        return int(char)
    return CASE_ID_LETTERS.index(char) if char in CASE_ID_LETTERS else _CHECK_VALUES.index(char)


def valid_case_id(case_id: str) -> bool:
    """Whether a canonical case number could have been issued: new numbers need their check letter, old ones (no
    letters) a date up to LEGACY_CASE_IDS_UNTIL. Checked before any database look-up."""
    match = _CASE_ID_RE.match(case_id or "")
    if match is None:
        return False
    letters = match.group(3)
    if letters is None:
        return match.group(1) <= LEGACY_CASE_IDS_UNTIL
    if any(char not in CASE_ID_LETTERS for char in letters):
        return False
    return case_id_check_letter(case_id[:-1]) == case_id[-1]


def _sequence_part(case_id: str) -> str:
    """NX + date + sequence: the case number without its letters."""
    return case_id.rstrip(CASE_ID_LETTERS)


def _key_hash(kind: str, key: str) -> str:
    return hashlib.sha256(f"{kind}:{key}".encode()).hexdigest()


def _sender_label(sender_id: str) -> str:
    masked = mask_phone(sender_id) if parse_phone(sender_id) else sender_id
    return masked if len(masked) <= 24 else masked[:23] + "…"


class CaseService:
    """Queries and commands of the case store. Thread-safe: every call uses its own session and transaction.

    The schema must already exist (`bot.store.migrate(url)`, run by the launcher); the service never migrates.
    """

    def __init__(
        self, store: AppStore, *, clock: Callable[[], datetime] = utcnow, legacy_case_ids: bool = False
    ) -> None:
        """`legacy_case_ids=True` issues numbers as before the check letters (NX + date + sequence): only for
        seeding old-form cases (the dialogue benchmark's conversations, migration tests), never in the assistant."""
        self._store = store
        self._clock = clock
        self._legacy_case_ids = legacy_case_ids
        self._county_names = frozenset(c.name for c in counties())

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
                        case_id = self._next_case_id(session, now, legacy=self._legacy_case_ids)
                        case = Case(
                            case_id=case_id,
                            sequence_id=_sequence_part(case_id),
                            status=STATUS_NEW,
                            created_at=now,
                            updated_at=now,
                            **values,
                        )
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
        """The case only if both its number and its phone number match (the phone proves it is the worker's).

        Not guarded against guessing: a worker's look-up goes through `look_up`."""
        canonical_phone = parse_phone(phone or "")
        if canonical_phone is None:
            return None
        case = self.get_case(case_id)
        if case is None or case.phone != canonical_phone:
            return None
        return case

    def look_up(self, case_id: str, phone: str, sender_id: str) -> CaseLookup:
        """A worker's look-up from conversation `sender_id`, guarded against guessing (see the module's docstring).

        The attempt is counted first (one row per key, in the transaction that decides), so parallel guesses cannot
        all slip under the limit; a successful look-up removes its rows again. Raises CaseStoreUnavailable.
        """
        now = self._clock()
        canonical_id = normalize_case_id(case_id or "")[:32]
        canonical_phone = parse_phone(phone or "")
        sender = (sender_id or "").strip()
        keys = [("sender", sender, _sender_label(sender))]
        if canonical_id:
            keys.append(("case", canonical_id, canonical_id[:24]))
        if canonical_phone:
            keys.append(("phone", canonical_phone, mask_phone(canonical_phone)))
        attempt = uuid.uuid4().hex
        with storage_errors(), self._store.begin() as session:
            # Write first: on SQLite this takes the write lock, so concurrent look-ups decide one after another.
            for kind, key, label in keys:
                session.add(
                    CaseLookupFailure(at=now, kind=kind, key_hash=_key_hash(kind, key), label=label, attempt=attempt)
                )
            session.flush()
            blocked = {kind for kind, key, _label in keys if self._backing_off(session, kind, key, attempt, now)}
            if "sender" in blocked:
                self._forget(session, attempt)
                log.warning("case look-up refused: backing off (%s)", ", ".join(sorted(blocked)))
                return CaseLookup(None, refused=True)
            if canonical_phone is None or not valid_case_id(canonical_id):
                return CaseLookup(None)  # counted: a made-up or mistyped number never reaches the cases table
            case = session.get(Case, canonical_id)
            matched = case is not None and case.phone == canonical_phone
            if blocked:
                # The number or the phone is under attack: only the conversation that recorded the case is answered,
                # and every other asker gets the same refusal whether or not the guess was right.
                if matched and case.sender_id == sender:
                    self._forget(session, attempt)
                    return self._found(session, case)
                # The refused attempt stays counted against the number and the phone: a guesser who spreads the
                # attempts over fresh conversations pushes the key to the daily limit instead of waiting out the
                # back-off (the refusal is not a check, so at most LOOKUP_LIMIT guesses are ever compared).
                log.warning("case look-up refused: backing off (%s)", ", ".join(sorted(blocked)))
                return CaseLookup(None, refused=True)
            if not matched:
                return CaseLookup(None)
            self._forget(session, attempt)
            return self._found(session, case)

    def lookup_failure_summary(self, top: int = 5) -> LookupFailureSummary:
        """Failed look-ups in the last LOOKUP_WINDOW and the `top` keys with the most (for the console's alert)."""
        since = self._clock() - LOOKUP_WINDOW
        recent = CaseLookupFailure.at >= since
        count = sa.func.count().label("n")
        with storage_errors(), self._store.begin() as session:
            failures = session.execute(
                sa.select(sa.func.count()).where(recent, CaseLookupFailure.kind == "sender")
            ).scalar_one()
            rows = session.execute(
                sa.select(
                    CaseLookupFailure.kind, CaseLookupFailure.key_hash, sa.func.max(CaseLookupFailure.label), count
                )
                .where(recent)
                .group_by(CaseLookupFailure.kind, CaseLookupFailure.key_hash)
                .order_by(count.desc())
                .limit(max(0, int(top)))
            ).all()
        return LookupFailureSummary(int(failures), [(kind, label, int(n)) for kind, _hash, label, n in rows], since)

    def _backing_off(self, session: Session, kind: str, key: str, attempt: str, now: datetime) -> bool:
        earlier = session.execute(
            sa.select(sa.func.count(), sa.func.max(CaseLookupFailure.at)).where(
                CaseLookupFailure.kind == kind,
                CaseLookupFailure.key_hash == _key_hash(kind, key),
                CaseLookupFailure.at > now - LOOKUP_WINDOW,
                CaseLookupFailure.attempt != attempt,
            )
        ).one()
        failures, last = int(earlier[0]), earlier[1]
        if failures >= LOOKUP_LIMIT:
            return True
        if failures == 0 or last is None:
            return False
        if last.tzinfo is None:  # aggregates bypass the column type
            last = last.replace(tzinfo=UTC)
        return now < last + LOOKUP_BACKOFF * 2 ** (failures - 1)

    @staticmethod
    def _forget(session: Session, attempt: str) -> None:
        session.execute(sa.delete(CaseLookupFailure).where(CaseLookupFailure.attempt == attempt))

    @staticmethod
    def _found(session: Session, case: Case) -> CaseLookup:
        message = session.execute(
            sa.select(CaseEvent.worker_message)
            .where(CaseEvent.case_id == case.case_id, CaseEvent.worker_message != "")
            .order_by(CaseEvent.at.desc(), CaseEvent.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        return CaseLookup(to_record(CaseRecord, case), worker_message=message or "")

    def list_cases(
        self,
        status: str | None = None,
        case_type: str | None = None,
        county: str | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> list[CaseRecord]:
        """Cases newest first, filtered by status, case type and county (full name); unknown filter values raise.
        `limit` and `offset` page through them (the waiting ones are status 新建: nobody has taken them on)."""
        query = self._filtered(sa.select(Case), status, case_type, county)
        query = query.order_by(Case.created_at.desc(), Case.case_id.desc())
        query = query.limit(max(0, int(limit))).offset(max(0, int(offset)))
        with storage_errors(), self._store.begin() as session:
            return [to_record(CaseRecord, case) for case in session.execute(query).scalars()]

    def count_cases(self, status: str | None = None, case_type: str | None = None, county: str | None = None) -> int:
        """How many cases `list_cases` pages through with these filters."""
        query = self._filtered(sa.select(sa.func.count()).select_from(Case), status, case_type, county)
        with storage_errors(), self._store.begin() as session:
            return int(session.execute(query).scalar_one())

    @staticmethod
    def _filtered(query: Any, status: str | None, case_type: str | None, county: str | None) -> Any:
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; expected one of {STATUSES}")
        if case_type is not None and case_type not in CASE_TYPES:
            raise ValueError(f"unknown case_type {case_type!r}; expected one of {CASE_TYPES}")
        if status is not None:
            query = query.where(Case.status == status)
        if case_type is not None:
            query = query.where(Case.case_type == case_type)
        if county is not None:
            query = query.where(Case.county == county)
        return query

    def change_status(
        self, case_id: str, status: str, actor: str, note: str = "", worker_message: str = ""
    ) -> CaseRecord:
        """Move a case to `status` (see TRANSITIONS) and append a history row; returns the updated case. `note` is
        internal; `worker_message` is what the worker's look-up shows from now on (when not empty).

        Raises CaseNotFound, InvalidTransition (not allowed, same status, or a backward step without a note),
        ValueError (empty actor) or CaseStoreUnavailable.
        """
        if status not in STATUSES:
            raise InvalidTransition(f"unknown status {status!r}; expected one of {STATUSES}")
        actor = (actor or "").strip()
        if not actor:
            raise ValueError("actor is required (who changes the status)")
        note = (note or "").strip()
        worker_message = _text(worker_message, "worker_message", MAX_WORKER_MESSAGE)
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
            previous_status = case.status
            # Compare-and-set on the old status so two operators changing the same case cannot both win.
            updated = session.execute(
                sa.update(Case)
                .where(Case.case_id == case.case_id, Case.status == case.status)
                .values(status=status, updated_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if updated != 1:
                raise InvalidTransition(f"case {case.case_id} changed meanwhile; reload it and try again")
            event = CaseEvent(
                case_id=case.case_id, at=now, status=status, note=note, actor=actor, worker_message=worker_message
            )
            session.add(event)
            session.flush()
            # The worker's notification commits with the change or not at all (the outbox: bot.notifications).
            queue_case_notification(session, case, event, previous_status, now)
            session.expire(case)
            record = to_record(CaseRecord, session.get(Case, case.case_id))
        log.info("case %s: %s by %s", record.case_id, status, actor)
        return record

    def add_note(self, case_id: str, actor: str, note: str = "", worker_message: str = "") -> CaseEventRecord:
        """A history row without a status change: an internal note, a new message to the worker, or both."""
        actor = (actor or "").strip()
        if not actor:
            raise ValueError("actor is required (who writes the note)")
        note = (note or "").strip()
        worker_message = _text(worker_message, "worker_message", MAX_WORKER_MESSAGE)
        if not note and not worker_message:
            raise ValueError("a note or a message to the worker is required")
        with storage_errors(), self._store.begin() as session:
            case = session.get(Case, normalize_case_id(case_id))
            if case is None:
                raise CaseNotFound(case_id)
            now = self._clock()
            event = CaseEvent(
                case_id=case.case_id, at=now, status=case.status, note=note, actor=actor, worker_message=worker_message
            )
            session.add(event)
            case.updated_at = now
            session.flush()
            queue_case_notification(session, case, event, case.status, now)
            record = to_record(CaseEventRecord, event)
        log.info("case %s: note by %s", record.case_id, actor)
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
    def _next_case_id(session: Session, now: datetime, *, legacy: bool = False) -> str:
        prefix = CASE_ID_PREFIX + now.astimezone(CHINA_TZ).strftime("%y%m%d")
        last = session.execute(
            sa.select(Case.case_id)
            .where(Case.case_id.like(prefix + "%"))
            .order_by(sa.func.length(Case.case_id).desc(), Case.case_id.desc())
            .limit(1)
        ).scalar_one_or_none()
        sequence = int(re.match(r"\d+", last[len(prefix) :]).group(0)) + 1 if last else 1  # type: ignore[union-attr]
        if legacy:
            return f"{prefix}{sequence:04d}"
        letters = "".join(secrets.choice(CASE_ID_LETTERS) for _ in range(CASE_ID_RANDOM_LETTERS))
        body = f"{prefix}{sequence:04d}{letters}"
        return body + case_id_check_letter(body)


def _text(value: str | None, name: str, max_length: int, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValueError(f"{name} is required")
    if len(text) > max_length:
        raise ValueError(f"{name} is too long ({len(text)} characters, at most {max_length})")
    return text
