"""`python -m bot migrate-conversation-ids`: give every stored conversation its channel-scoped id (issue 14 F1).

The app store is rewritten by its Alembic revision `console_sec_scope` (run by every start, and by this command);
Rasa's tracker store and the SQL event broker's table are Rasa's own, so this one-shot command rewrites them: each
conversation with an unscoped sender id becomes `<channel>:<sender id>`, the channel being the input channel its
user messages recorded (`rest` when none did). A conversation whose scoped id is already taken is left as it is and
reported (two conversations are never merged). Ids that already carry a channel prefix are skipped, so running the
command twice changes nothing the second time. Stop the assistant first (`make run` / the launcher), back up
var/ (or the databases), then run it once::

    python -m bot migrate-conversation-ids                 # var/tracker.db, var/events.db and the app store
    python -m bot migrate-conversation-ids --dry-run       # only say what would change
    python -m bot migrate-conversation-ids --tracker-url postgresql://…   # the scale-out tracker store
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from bot.conversation_ids import CHANNELS, conversation_id, is_scoped
from bot.settings import Settings

__all__ = ["MigrationReport", "migrate_events_table", "run"]

log = logging.getLogger(__name__)

DEFAULT_CHANNEL = "rest"  # Rasa's REST channel records "rest"; a conversation with no user message came over it


@dataclass
class MigrationReport:
    """What one events table's rewrite did."""

    url: str
    renamed: dict[str, str] = field(default_factory=dict)  # old id -> new id
    conflicts: list[tuple[str, str]] = field(default_factory=list)  # (old id, its new id that was taken)
    rows: int = 0

    def lines(self) -> list[str]:
        target = self.url.rpartition("@")[2]  # never print a password from the URL
        lines = [f"{target}: {len(self.renamed)} conversation(s), {self.rows} row(s) rewritten"]
        lines += [
            f"  not rewritten (the id {conversation!r} is taken): {old!r}" for old, conversation in self.conflicts
        ]
        return lines


def _channel_of_events(datas: Iterable[str | None]) -> str:
    """The latest known input channel among a conversation's event rows (oldest first)."""
    found = DEFAULT_CHANNEL
    for data in datas:
        try:
            event = json.loads(data or "{}")
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "user" and event.get("input_channel") in CHANNELS:
            found = event["input_channel"]
    return found


def migrate_events_table(url: str, *, dry_run: bool = False) -> MigrationReport:
    """Rewrite the sender ids of the `events` table at `url` (Rasa's SQL tracker store or SQL event broker)."""
    report = MigrationReport(url)
    engine = sa.create_engine(url)
    try:
        if not sa.inspect(engine).has_table("events"):
            return report
        events = sa.table("events", sa.column("id", sa.Integer), sa.column("sender_id"), sa.column("data", sa.Text))
        with engine.begin() as connection:
            senders = set(connection.execute(sa.select(events.c.sender_id).distinct()).scalars())
            for old in sorted(s for s in senders if s is not None and not is_scoped(s)):
                datas = connection.execute(
                    sa.select(events.c.data).where(events.c.sender_id == old).order_by(events.c.id)
                ).scalars()
                new = conversation_id(_channel_of_events(datas), old)
                if new in senders:
                    report.conflicts.append((old, new))
                    continue
                report.renamed[old] = new
                if dry_run:
                    continue
                report.rows += connection.execute(
                    events.update().where(events.c.sender_id == old).values(sender_id=new)
                ).rowcount
                # The event broker's rows carry the sender id inside their JSON as well.
                for row_id, data in connection.execute(
                    sa.select(events.c.id, events.c.data).where(
                        events.c.sender_id == new, events.c.data.like('%"sender_id"%')
                    )
                ).all():
                    event = json.loads(data)
                    if isinstance(event, dict) and event.get("sender_id") == old:
                        event["sender_id"] = new
                        connection.execute(events.update().where(events.c.id == row_id).values(data=json.dumps(event)))
    finally:
        engine.dispose()
    return report


def run(
    settings: Settings,
    *,
    tracker_url: str | None = None,
    events_url: str | None = None,
    dry_run: bool = False,
) -> list[MigrationReport]:
    """Migrate the app store (Alembic), the tracker store and the event broker's table of `settings`."""
    if not dry_run:
        from bot.store import migrate

        migrate(settings.app_db_url)
    urls = [tracker_url or f"sqlite:///{Path(settings.tracker_db).resolve()}", events_url or settings.events_db_url]
    reports = []
    for url in dict.fromkeys(urls):  # the event broker may share the tracker's database
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
            continue
        reports.append(migrate_events_table(url, dry_run=dry_run))
    return reports
