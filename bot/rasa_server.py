"""`rasa` with three measured speed-ups, for the Rasa server the launcher starts (`python -m bot.rasa_server run ...`).

Profiling the server under load (py-spy, 8 and 20 concurrent REST senders, knowledge-base questions) showed costs in
Rasa 3.6 itself that grow with every turn and do no useful work twice:

- `RemoteAction._validate_action_result` calls `jsonschema.validate`, which checks the (constant) response schema
  against the JSON-Schema meta-schema and builds a new validator on every action call: about 20 % of the server's
  CPU. Here the validator is built once; the response is validated against the same schema, and an invalid one
  raises the same `ValidationError` (jsonschema's best match, with Rasa's hint appended).
- `Event.resolve_by_type` walks every subclass of `Event` (recursively, with `inspect.isabstract`) for each event
  read back from the tracker store: about 10 %. Here the walk's result is kept per type name; a name not found
  falls through to Rasa's own lookup, so an event class imported later is still found.
- The SQL event broker (endpoints.yml `event_broker: SQL`, the console's overview) costs most of all: before every
  tracker save Rasa's `TrackerStore.stream_events` reads the whole tracker back from the store (a query and a replay
  of every event) only to count its events, then `SQLEventBroker.publish` opens a connection and commits — a
  synchronous SQLite commit on the event loop — once per new event, ~10 per turn. At 20 concurrent users that was
  half the server's time, every other conversation waiting behind each commit (p50 2.1 s). The SQL tracker store's
  own reads and writes (a query, a JSON decode of every event, a commit per turn) are synchronous on the loop too.
  Here `SQLTrackerStore.save` counts its stored events (the number the read-back gave) and writes the new ones to the
  SQL broker in one transaction, then to the store in one; it and Rasa's own read run in a worker thread (one per
  SQLite file, so SQLite's file lock is never fought over inside the process), the loop serving other turns
  meanwhile. The rows are Rasa's own (same tables, same JSON, same order); another broker gets Rasa's `publish` on
  the loop. Each conversation's turns still run one at a time (Rasa's lock store).

All keep Rasa's behaviour (tests/bot/test_rasa_server.py) and apply only to this process.

It also hardens the server (tests/security/test_processes.py):

- Rasa's HTTP API token comes from the environment (RASA_AUTH_TOKEN), never from the command line, so `ps` and
  /proc/<pid>/cmdline do not show it; `main` hands it to Rasa's argument parser in-process. Rasa 3.6 accepts the
  plain token only as the query parameter `?token=` (rasa/server.py `requires_auth`), so callers (the console)
  still send it in the URL; the log filter redacts `token=` from every logged URL.
- Logs are masked (bot.privacy) on the root logger's handlers and on Sanic's loggers, which Rasa configures with
  `propagate=False` after the app is built: installed when the app is built and again before the server starts.
- Request bodies are capped at MAX_BODY_BYTES (Sanic's default is 100 MB, buffered before any channel sees it).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import os
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.settings import Settings, use

__all__ = ["MAX_BODY_BYTES", "install", "main"]

MAX_BODY_BYTES = 64 * 1024  # a chat message, a WeChat push or an SMS callback is a few KB at most

_installed = False


def install() -> None:
    """Apply the speed-ups and the hardening (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    _cache_action_response_validator()
    _cache_event_types()
    _tracker_store_off_the_loop()
    _harden_app()
    from bot import privacy

    privacy.install_rasa_anonymizer()  # before rasa.__main__ configures structlog


def _harden_app() -> None:
    """Wrap rasa.core.run.configure_app: every app it builds gets the body cap and the log masking."""
    import rasa.core.run

    from bot import privacy

    configure_app = rasa.core.run.configure_app

    @functools.wraps(configure_app)
    def hardened(*args: Any, **kwargs: Any):
        app = configure_app(*args, **kwargs)
        app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
        privacy.install_everywhere()
        # serve_application configures Sanic's loggers after building the app: mask them again at start
        app.register_listener(lambda *_: privacy.install_everywhere(), "before_server_start")
        return app

    rasa.core.run.configure_app = hardened


def _cache_action_response_validator() -> None:
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    @functools.lru_cache(maxsize=1)
    def validator():
        schema = RemoteAction.action_response_format_spec()
        cls = validator_for(schema)
        cls.check_schema(schema)  # once, as jsonschema.validate does on every call
        return cls(schema)

    def _validate_action_result(self, result: dict[str, Any]) -> bool:
        error: ValidationError | None = best_match(validator().iter_errors(result))
        if error is None:
            return True
        error.message += (
            ". Failed to validate Action server response from API, make sure your response from the Action endpoint "
            f"is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error

    RemoteAction._validate_action_result = _validate_action_result


def _cache_event_types() -> None:
    import rasa.shared.utils.common
    from rasa.shared.core.events import Event

    original = Event.resolve_by_type
    known: dict[str, type] = {}

    def resolve_by_type(type_name: str, default: type | None = None) -> type | None:
        if not known:
            for cls in rasa.shared.utils.common.all_subclasses(Event):
                known.setdefault(cls.type_name, cls)  # the first match, as Rasa's own loop returns
        found = known.get(type_name)
        return found if found is not None else original(type_name, default)

    Event.resolve_by_type = staticmethod(resolve_by_type)


def _tracker_store_off_the_loop() -> None:
    from rasa.core.brokers.sql import SQLEventBroker
    from rasa.core.tracker_store import SQLTrackerStore

    read = SQLTrackerStore._retrieve

    async def _retrieve(self: Any, sender_id: str, fetch_events_from_all_sessions: bool) -> Any:
        return await in_store_thread(self, run_awaitless, read(self, sender_id, fetch_events_from_all_sessions))

    SQLTrackerStore._retrieve = _retrieve
    SQLTrackerStore.save = save_off_the_loop
    SQLEventBroker.publish_many = publish_many


_store_threads: dict[str, ThreadPoolExecutor] = {}


def in_store_thread(store: Any, function: Callable[..., Any], *args: Any) -> Awaitable[Any]:
    """`function(*args)` in the tracker store's worker thread: one thread per SQLite file, whose writers SQLite takes
    one at a time anyway (threads of their own would only wait on its file lock); a server database gets the loop's
    default pool."""
    url = store.engine.url
    if url.get_backend_name() != "sqlite":
        return asyncio.to_thread(function, *args)
    key = str(url)
    if key not in _store_threads:
        _store_threads[key] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracker-store")
    return asyncio.get_running_loop().run_in_executor(_store_threads[key], function, *args)


async def save_off_the_loop(store: Any, tracker: Any) -> None:
    """`SQLTrackerStore.save`: the tracker's events not yet stored are published to the event broker (the SQL broker:
    in one transaction) and stored, in the store's worker thread; the stored events are counted, not read back."""
    from rasa.core.brokers.sql import SQLEventBroker

    events = list(tracker.events)  # a copy: the thread must not iterate the deque the loop may append to
    broker = store.event_broker
    if broker is None or isinstance(broker, SQLEventBroker):
        await in_store_thread(store, _save, store, broker, tracker.sender_id, events)
        return
    stored = await in_store_thread(store, stored_event_count, store, tracker.sender_id)
    await store._stream_new_events(broker, events[stored:], tracker.sender_id)  # another broker publishes on the loop
    await in_store_thread(store, _save, store, None, tracker.sender_id, events)


def run_awaitless(coroutine: Any) -> Any:
    """The result of a coroutine that never awaits (Rasa's `SQLTrackerStore._retrieve`: synchronous SQL in an async
    def), run to its end in the calling thread."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError(f"{coroutine.__qualname__} awaited: it cannot run outside the event loop")


def stored_event_count(store: Any, sender_id: str) -> int:
    """How many events of the conversation's latest session `store` (a SQLTrackerStore) holds: the length of the
    tracker Rasa's `stream_events` retrieves to tell the new events, and the count `SQLTrackerStore.save` uses."""
    with store.session_scope() as session:
        return _stored_count_in(store, session, sender_id)


def _stored_count_in(store: Any, session: Any, sender_id: str) -> int:
    return store._event_query(session, sender_id, fetch_events_from_all_sessions=False).count()


def _save(store: Any, broker: Any, sender_id: str, events: list) -> None:
    """Rasa's save: new events to the SQL broker first (in one transaction), then to the store (in one). The rows are
    inserted as one statement each (the ORM's unit of work per row cost more than the inserts)."""
    from rasa.shared.nlu.constants import INTENT_NAME_KEY

    with store.session_scope() as session:
        unstored = [
            (event, event.as_dict())
            for event in itertools.islice(events, _stored_count_in(store, session, sender_id), None)
        ]
        if broker is not None:
            broker.publish_many([{"sender_id": sender_id, **data} for _, data in unstored])
        if unstored:
            session.execute(
                store.SQLEvent.__table__.insert(),
                [
                    {
                        "sender_id": sender_id,
                        "type_name": event.type_name,
                        "timestamp": data.get("timestamp"),
                        "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                        "action_name": data.get("name"),
                        "data": json.dumps(data),
                    }
                    for event, data in unstored
                ],
            )
        session.commit()


def publish_many(broker: Any, bodies: list[dict[str, Any]]) -> None:
    """`SQLEventBroker.publish` for several events in one transaction: the same rows, in order."""
    if not bodies:
        return
    with broker.session_scope() as session:
        session.execute(
            broker.SQLBrokerEvent.__table__.insert(),
            [{"sender_id": body.get("sender_id"), "data": json.dumps(body)} for body in bodies],
        )
        session.commit()


def main() -> None:
    """`rasa` with the speed-ups: the same command line as the `rasa` script. The process's Settings are built
    here, once, for the channels and the takeover gate that Rasa loads."""
    use(Settings.from_env())
    install()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    sys.argv[1:] = with_auth_token(sys.argv[1:], os.environ.get("RASA_AUTH_TOKEN", ""))
    rasa_main()


def with_auth_token(argv: list[str], token: str) -> list[str]:
    """`argv` with `--auth-token <token>` added for a server with `--enable-api` (the token from the environment,
    so it is never on the process's real command line); a token already on `argv` wins."""
    if (
        not token
        or "--enable-api" not in argv
        or any(a == "--auth-token" or a.startswith("--auth-token=") for a in argv)
    ):
        return argv
    return [*argv, "--auth-token", token]


if __name__ == "__main__":
    main()
