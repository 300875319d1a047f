"""`rasa` with two measured speed-ups, for the Rasa server the launcher starts (`python -m bot.rasa_server run ...`).

Profiling the server under load (py-spy, 8 concurrent REST senders, knowledge-base questions) showed two costs in
Rasa 3.6 itself that grow with every turn and do no useful work twice:

- `RemoteAction._validate_action_result` calls `jsonschema.validate`, which checks the (constant) response schema
  against the JSON-Schema meta-schema and builds a new validator on every action call: about 20 % of the server's
  CPU. Here the validator is built once; the response is validated against the same schema, and an invalid one
  raises the same `ValidationError` (jsonschema's best match, with Rasa's hint appended).
- `Event.resolve_by_type` walks every subclass of `Event` (recursively, with `inspect.isabstract`) for each event
  read back from the tracker store: about 10 %. Here the walk's result is kept per type name; a name not found
  falls through to Rasa's own lookup, so an event class imported later is still found.

Both keep Rasa's behaviour (tests/bot/test_rasa_server.py) and apply only to this process.

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

import functools
import os
import sys
from typing import Any

from bot.settings import Settings, use

__all__ = ["MAX_BODY_BYTES", "install", "main"]

MAX_BODY_BYTES = 64 * 1024  # a chat message, a WeChat push or an SMS callback is a few KB at most

_installed = False


def install() -> None:
    """Apply both speed-ups (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    _cache_action_response_validator()
    _cache_event_types()
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
