"""The action server (rasa-sdk) as the launcher starts it: `python -m bot.action_server run actions --actions actions`.

The same command line as `rasa run actions` (rasa-sdk's own arguments), with what rasa-sdk lacks:

- It listens on NXA_HOST (127.0.0.1 by default), never on rasa-sdk's default 0.0.0.0.
- Every call but `/health` must carry the shared secret Rasa sends (endpoints*.yml `action_endpoint.token`, which
  Rasa's EndpointConfig appends as the query parameter `token`; `Authorization: Bearer <token>` is accepted too),
  compared in constant time; a call without it gets 401 and runs nothing. The secret is ACTION_SERVER_TOKEN (the
  launcher fills it, see `Settings.action_server_token`); beyond loopback the server refuses to start without one.
- Logs are masked (bot.privacy) on the root logger's handlers and on Sanic's own loggers, which do not propagate.
- Request bodies are capped (REQUEST_MAX_SIZE): a tracker is a few KB.
"""

from __future__ import annotations

import hmac
import logging
import sys
from collections.abc import Sequence

from bot import privacy
from bot.settings import Settings, is_loopback, use

__all__ = ["MAX_BODY_BYTES", "create_app", "main"]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # a tracker with a long conversation is tens of KB; Sanic's default is 100 MB
# Sanic closes a connection whose request has not been read within KEEP_ALIVE_TIMEOUT (5 s by default) — counted from
# the accept, so a loop busy for 5 s (a burst of actions writing to SQLite on a loaded machine) made it drop Rasa's
# fresh connections unread ("Cannot write to closing transport", the turn lost to the apology). Rasa, the only
# client, opens a new connection per call and waits up to 300 s for it; Rasa's own server uses 120 s.
KEEP_ALIVE_TIMEOUT_SECONDS = 120
OPEN_PATHS = frozenset({"/health"})  # the launcher's readiness probe; says only {"status": "ok"}


def provided_token(request) -> str:
    """The secret a request carries: the `token` query parameter (what Rasa sends) or a Bearer header."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.args.get("token", "") or ""


def create_app(action_package: str, token: str, cors_origins: str | list[str] | None = None):
    """rasa-sdk's Sanic app for `action_package`, guarded by `token` (empty: open, loopback development only)."""
    from rasa_sdk.endpoint import create_app as sdk_create_app
    from rasa_sdk.plugin import plugin_manager
    from sanic import response

    app = sdk_create_app(action_package, cors_origins=cors_origins or "")
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
    app.config.KEEP_ALIVE_TIMEOUT = KEEP_ALIVE_TIMEOUT_SECONDS
    expected = token.encode()

    @app.middleware("request")
    async def require_token(request):
        if not expected or request.path in OPEN_PATHS:
            return None
        if hmac.compare_digest(provided_token(request).encode(), expected):
            return None
        logger.warning("refused a call to %r without the action server's token from %r", request.path, request.ip)
        return response.json({"error": "the action server needs Rasa's token"}, status=401)

    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    return app


def _install_masking() -> None:
    privacy.install()
    privacy.install_sanic()


def main(argv: Sequence[str] | None = None) -> int:
    from rasa_sdk import utils
    from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
    from rasa_sdk.endpoint import create_argument_parser

    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:2] == ["run", "actions"]:  # `rasa run actions`'s own words, kept so the command line reads the same
        args_in = args_in[2:]
    args = create_argument_parser().parse_args(args_in)
    settings = use(Settings.from_env())

    level = settings.env.get("LOG_LEVEL", "").strip().upper()
    if args.loglevel == logging.INFO and level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        args.loglevel = getattr(logging, level)  # Rasa's LOG_LEVEL, so one variable sets both servers' level
    logging.getLogger("matplotlib").setLevel(logging.WARN)
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(
        logging.getLogger(APPLICATION_ROOT_LOGGER_NAME), args.log_file, args.loglevel, args.logging_config_file
    )
    utils.update_sanic_log_level()
    _install_masking()

    token = settings.env.get("ACTION_SERVER_TOKEN", "").strip()
    if not token and not is_loopback(settings.host):
        print(
            f"[actions] refusing to listen on {settings.host} without ACTION_SERVER_TOKEN: beyond loopback the "
            "action server needs Rasa's shared secret (set the same ACTION_SERVER_TOKEN for Rasa and the actions)",
            file=sys.stderr,
            flush=True,
        )
        return 2
    if not token:
        logger.warning(
            "ACTION_SERVER_TOKEN is not set: the action server on %s accepts any local caller", settings.host
        )

    app = create_app(args.actions, token, args.cors)
    app.register_listener(lambda *_: _install_masking(), "before_server_start")  # Sanic may add handlers at start
    from rasa_sdk.endpoint import create_ssl_context

    ssl_context = create_ssl_context(args.ssl_certificate, args.ssl_keyfile, args.ssl_password)
    logger.info("Action endpoint is up and running on %s:%s", settings.host, args.port)
    app.run(settings.host, args.port, ssl=ssl_context, workers=utils.number_of_sanic_workers(), access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
