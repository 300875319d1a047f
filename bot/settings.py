"""All configuration that is not Rasa's own, read from the environment once per process.

Rasa reads config.yml, domain/, credentials.yml and endpoints.yml itself; endpoints.yml and credentials.yml take
their variable parts from environment variables that `Settings.rasa_environment()` fills in, so one place decides
every port, path and URL. Nothing here has a secret default: credentials come only from the environment.

Each entry point (the launcher, the Rasa server wrapper, the console, the CLIs) builds its Settings once with
`use(Settings.from_env())` and passes them down; code that Rasa instantiates itself (channels from credentials.yml,
the actions) asks `current()`, which returns that one (or builds it once from the environment). No other module
reads `os.environ`.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

__all__ = [
    "Settings",
    "ROOT",
    "DEVELOPMENT_CHANNEL_ENV",
    "OPTIONAL_CHANNEL_ENV",
    "PROCESS_SECRETS",
    "current",
    "is_loopback",
    "use",
]

# Stand-ins for the channels' secrets in development. credentials.yml reads them as ${VAR} and Rasa refuses to start
# on an unset variable; in development (NXA_ENV unset or "development") on a loopback NXA_HOST an unset one takes
# these public, obviously fake values, so `make run` serves the WeChat and SMS webhooks with no account (the
# launcher prints a warning for each). Production, and any host beyond loopback, never gets them: the launcher
# refuses to start naming the missing variables (`Settings.missing_secrets()`), and the channels refuse these
# values if someone sets them by hand.
DEVELOPMENT_CHANNEL_ENV = {
    "WECHAT_TOKEN": "dev-wechat-token",
    "WECHAT_APP_ID": "wxdev00000000000000",
    "WECHAT_APP_SECRET": "dev-wechat-app-secret",
    "SMS_WEBHOOK_SECRET": "dev-sms-webhook-secret",
    "SMS_PROVIDER": "outbox",
}
# Optional channel settings, filled in every environment: plain-mode WeChat only, the real WeChat API.
OPTIONAL_CHANNEL_ENV = {"WECHAT_ENCODING_AES_KEY": "", "WECHAT_API_BASE": "https://api.weixin.qq.com"}


def is_loopback(host: str) -> bool:
    """True for an address (or `localhost`) that only this machine can reach; "0.0.0.0", "::" and any real
    address are not."""
    host = host.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# Least privilege (each child process of the launcher gets only the secrets it needs): a variable whose name is
# listed here, or starts with a listed prefix ending in "_", reaches only the processes named; the first match
# wins. Every other variable (ports, paths, PATH, LANG, LOG_LEVEL, ...) reaches every process.
PROCESS_SECRETS: tuple[tuple[str, frozenset[str]], ...] = (
    ("CONSOLE_", frozenset({"console"})),  # the cookie key, the admin bootstrap, trusted proxies
    ("RASA_AUTH_TOKEN", frozenset({"rasa", "console"})),  # Rasa's HTTP API: the console reads transcripts there
    ("ACTION_SERVER_TOKEN", frozenset({"rasa", "actions"})),  # Rasa -> action server
    ("REST_", frozenset({"rasa"})),  # REST client keys and token secrets: only the REST channel checks them
    ("WECHAT_TOKEN", frozenset({"rasa"})),  # inbound signatures: only the webhooks check them
    ("WECHAT_ENCODING_AES_KEY", frozenset({"rasa"})),
    ("SMS_WEBHOOK_SECRET", frozenset({"rasa"})),
    # outbound (customer-service and template API): the channel, operator replies, case notifications
    ("WECHAT_", frozenset({"rasa", "console", "notifier"})),
    ("SMS_", frozenset({"rasa", "console", "notifier"})),  # outbound SMS provider
    ("TRACKER_DB_", frozenset({"rasa"})),  # the PostgreSQL tracker store's address and credentials
    ("REDIS_", frozenset({"rasa"})),  # the lock store
    ("EVENTS_DB_URL", frozenset({"rasa", "console"})),  # the event broker (the console's overview reads it)
)


def _process_may_see(process: str, name: str) -> bool:
    for pattern, processes in PROCESS_SECRETS:
        if name == pattern or (pattern.endswith("_") and name.startswith(pattern)):
            return process in processes
    return True


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    """Ports, paths and URLs for every process of the assistant."""

    root: Path = ROOT
    var_dir: Path = ROOT / "var"
    models_dir: Path = ROOT / "models"
    host: str = "127.0.0.1"
    rasa_port: int = 5005
    action_port: int = 5055
    console_port: int = 8080
    app_db_url: str = ""
    tracker_db: str = ""
    # Where Rasa's SQL event broker writes every conversation event (the console's overview reads them): its own
    # SQLite file next to the tracker's, or the app store's database when that is a server (PostgreSQL).
    events_db_url: str = ""
    environment: str = "development"
    # Scaling out (RASA_ENDPOINTS=endpoints.postgres.yml): which Rasa endpoints file the Rasa server reads.
    endpoints: Path = ROOT / "endpoints.yml"
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from `env` (default: the process environment); unset variables take the embedded defaults."""
        env = dict(os.environ if env is None else env)
        var_dir = Path(env.get("NXA_VAR_DIR") or ROOT / "var").resolve()
        environment = env.get("NXA_ENV", "").strip() or "development"
        if environment not in ("development", "production"):
            raise ValueError(f"NXA_ENV must be 'development' or 'production', got {environment!r}")
        app_db_url = env.get("APP_DB_URL") or f"sqlite:///{var_dir / 'assistant.db'}"
        events_db_url = env.get("EVENTS_DB_URL") or (
            f"sqlite:///{var_dir / 'events.db'}" if app_db_url.startswith("sqlite") else app_db_url
        )
        return cls(
            var_dir=var_dir,
            models_dir=Path(env.get("NXA_MODELS_DIR") or ROOT / "models").resolve(),
            host=env.get("NXA_HOST", "127.0.0.1"),
            rasa_port=_int(env, "RASA_PORT", 5005),
            action_port=_int(env, "ACTION_PORT", 5055),
            console_port=_int(env, "CONSOLE_PORT", 8080),
            app_db_url=app_db_url,
            tracker_db=env.get("TRACKER_DB") or str(var_dir / "tracker.db"),
            events_db_url=events_db_url,
            environment=environment,
            endpoints=(ROOT / (env.get("RASA_ENDPOINTS") or "endpoints.yml")).resolve(),
            env=env,
        )

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def loopback(self) -> bool:
        """NXA_HOST is reachable only from this machine (the default 127.0.0.1)."""
        return is_loopback(self.host)

    @property
    def stand_ins_allowed(self) -> bool:
        """Public development stand-ins may fill unset secrets: development on a loopback host only."""
        return not self.production and self.loopback

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return f"http://{self.host}:{self.action_port}/webhook"

    @property
    def console_url(self) -> str:
        return f"http://{self.host}:{self.console_port}"

    # -- operator console (bot/console) ------------------------------------------------------------------------

    @property
    def console_admin(self) -> tuple[str, str] | None:
        """(user, password) from CONSOLE_ADMIN_USER / CONSOLE_ADMIN_PASSWORD when both are set (development only:
        the console then creates that operator if it does not exist)."""
        user = self.env.get("CONSOLE_ADMIN_USER", "").strip()
        password = self.env.get("CONSOLE_ADMIN_PASSWORD", "")
        return (user, password) if user and password and not self.production else None

    @property
    def console_cookie_secure(self) -> bool:
        """CONSOLE_COOKIE_SECURE=1 marks the session cookie Secure (set it when the console is served over HTTPS)."""
        return self.env.get("CONSOLE_COOKIE_SECURE", "").strip().lower() in ("1", "true", "yes")

    def console_secret_key(self) -> bytes:
        """The key that signs console cookies: CONSOLE_SECRET_KEY (required in production), or in development one
        generated once into var/console-secret-key with mode 600. Changing it logs every operator out."""
        if key := self.env.get("CONSOLE_SECRET_KEY", "").strip():
            if len(key) < 32:
                raise ValueError("CONSOLE_SECRET_KEY must be at least 32 characters")
            return key.encode()
        if self.production:
            raise ValueError("CONSOLE_SECRET_KEY must be set in production (at least 32 random characters)")
        return self._generated_secret("console-secret-key", 48)

    # -- REST channel clients (channels/rest_auth.py) -------------------------------------------------------------

    @property
    def rest_client_keys(self) -> str:
        """REST_CLIENT_KEYS: `name=<sha256 hex of the key>,…`, one entry per REST client (parsed by channels.rest_auth)."""
        return self.env.get("REST_CLIENT_KEYS", "").strip()

    def rest_token_secret(self) -> bytes | None:
        """The key that signs widgets' conversation tokens: REST_TOKEN_SECRET (at least 32 characters), or in
        development one generated once into var/rest-token-secret; None in production without it (tokens off)."""
        if secret := self.env.get("REST_TOKEN_SECRET", "").strip():
            if len(secret) < 32:
                raise ValueError("REST_TOKEN_SECRET must be at least 32 characters")
            return secret.encode()
        return None if self.production else self._generated_secret("rest-token-secret", 32)

    def rasa_auth_token(self) -> str:
        """The token that guards Rasa's HTTP API: RASA_AUTH_TOKEN, or one generated once into var/rasa-auth-token
        (mode 600) that the launcher hands to Rasa and the console reads."""
        if token := self.env.get("RASA_AUTH_TOKEN"):
            return token
        return self._generated_secret("rasa-auth-token", 24).decode()

    def action_server_token(self) -> str:
        """The shared secret Rasa sends the action server (endpoints*.yml `action_endpoint.token`, a query
        parameter): ACTION_SERVER_TOKEN, required beyond loopback (every replica must share it); on a loopback host
        without it, one generated once into var/action-server-token (mode 600), so that no other local user can
        call the actions either."""
        if token := self.env.get("ACTION_SERVER_TOKEN", "").strip():
            if len(token) < 16:
                raise ValueError("ACTION_SERVER_TOKEN must be at least 16 characters")
            return token
        if not self.loopback:
            raise ValueError(
                f"ACTION_SERVER_TOKEN must be set when NXA_HOST ({self.host}) is beyond loopback "
                "(the action server would otherwise accept any caller)"
            )
        return self._generated_secret("action-server-token", 24).decode()

    def ensure_var_dir(self) -> Path:
        """var/ (NXA_VAR_DIR), created mode 700 (conversations, cases and secrets live there); an existing one is
        narrowed to 700 as well."""
        self.var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.var_dir.stat().st_mode & 0o077:
            self.var_dir.chmod(0o700)
        return self.var_dir

    def _generated_secret(self, name: str, size: int) -> bytes:
        path = self.var_dir / name
        if not path.exists():
            self.ensure_var_dir()
            # O_EXCL: two processes starting together cannot both write a different secret.
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as file:
                    file.write(secrets.token_urlsafe(size))
        for _ in range(100):  # another process may have created the file and not written it yet
            if value := path.read_text().strip():
                return value.encode()
            time.sleep(0.02)
        raise ValueError(f"{path} is empty: delete it to have a new secret generated")

    def rasa_environment(self) -> dict[str, str]:
        """Environment for the Rasa and action-server processes (fills the ${...} of endpoints/credentials)."""
        env = dict(self.env)
        defaults = {**OPTIONAL_CHANNEL_ENV, **(DEVELOPMENT_CHANNEL_ENV if self.stand_ins_allowed else {})}
        env.update({name: value for name, value in defaults.items() if not env.get(name)})
        env.update(
            NXA_HOST=self.host,
            SANIC_HOST=self.host,  # rasa-sdk's action server binds here (its own default is 0.0.0.0)
            NXA_VAR_DIR=str(self.var_dir),
            APP_DB_URL=self.app_db_url,
            TRACKER_DB=self.tracker_db,
            EVENTS_DB_URL=self.events_db_url,
            ACTION_ENDPOINT_URL=self.action_url,
            # endpoints*.yml's action_endpoint.token; empty only beyond loopback without it (the launcher refuses)
            ACTION_SERVER_TOKEN=self.action_server_token() if self.loopback or env.get("ACTION_SERVER_TOKEN") else "",
            RASA_TELEMETRY_ENABLED="false",
            PYTHONPATH=os.pathsep.join(filter(None, [str(self.root), env.get("PYTHONPATH", "")])),
            # TensorFlow would otherwise print pages of CPU-feature notices on every start.
            TF_CPP_MIN_LOG_LEVEL=env.get("TF_CPP_MIN_LOG_LEVEL", "2"),
            # Rasa 3.6's dependencies print pages of deprecation notices at every start; they say nothing to an
            # operator reading the logs (errors and Rasa's own warnings still show).
            PYTHONWARNINGS=env.get("PYTHONWARNINGS", "ignore::DeprecationWarning,ignore::PendingDeprecationWarning"),
            SQLALCHEMY_SILENCE_UBER_WARNING=env.get("SQLALCHEMY_SILENCE_UBER_WARNING", "1"),
        )
        for name, default in _SCALE_OUT_DEFAULTS.items():
            env.setdefault(name, default)
        return env

    def process_environment(self, process: str) -> dict[str, str]:
        """`rasa_environment()` narrowed to what the launcher's child `process` ("rasa", "actions" or "console")
        needs (PROCESS_SECRETS): no console secrets outside the console, no channel secrets in the action server."""
        return {name: value for name, value in self.rasa_environment().items() if _process_may_see(process, name)}

    @staticmethod
    def process_may_see(process: str, name: str) -> bool:
        """Whether the launcher's child `process` gets the variable `name` (PROCESS_SECRETS)."""
        return _process_may_see(process, name)

    def stand_ins_used(self) -> list[str]:
        """The secrets that take a public development stand-in now (the launcher warns about each)."""
        if not self.stand_ins_allowed:
            return []
        return sorted(name for name in DEVELOPMENT_CHANNEL_ENV if name != "SMS_PROVIDER" and not self.env.get(name))

    def missing_secrets(self) -> list[str]:
        """The variables that must be set before the assistant may start: none in development on a loopback host
        (stand-ins fill them); in production or beyond loopback every channel secret (a value equal to its public
        stand-in counts as unset), the console's cookie key, and beyond loopback the action server's token."""
        if self.stand_ins_allowed:
            return []
        missing = [
            name
            for name, stand_in in DEVELOPMENT_CHANNEL_ENV.items()
            if not self.env.get(name, "").strip() or (name != "SMS_PROVIDER" and self.env.get(name) == stand_in)
        ]
        if not self.env.get("CONSOLE_SECRET_KEY", "").strip():
            missing.append("CONSOLE_SECRET_KEY")
        if not self.loopback and not self.env.get("ACTION_SERVER_TOKEN", "").strip():
            missing.append("ACTION_SERVER_TOKEN")
        return missing

    def unset_endpoint_variables(self) -> list[str]:
        """The ${VAR}s of the endpoints file that the Rasa environment leaves unset (Rasa would refuse to start)."""
        text = self.endpoints.read_text(encoding="utf-8")
        environment = self.rasa_environment()
        return sorted({name for name in re.findall(r"\$\{(\w+)\}", text) if name not in environment})


# Scaling out: the non-secret parts of endpoints.postgres.yml (PostgreSQL tracker store, Redis lock store). The
# database user and password (TRACKER_DB_USER, TRACKER_DB_PASSWORD) have no default; REDIS_PASSWORD may be empty.
_SCALE_OUT_DEFAULTS = {
    "TRACKER_DB_HOST": "127.0.0.1",
    "TRACKER_DB_PORT": "5432",
    "TRACKER_DB_NAME": "rasa",
    "REDIS_HOST": "127.0.0.1",
    "REDIS_PORT": "6379",
    "REDIS_DB": "0",
    "REDIS_PASSWORD": "",
}


_current: Settings | None = None


def use(settings: Settings) -> Settings:
    """Make `settings` the process's Settings (what `current()` returns); an entry point calls it once."""
    global _current
    _current = settings
    return settings


def current() -> Settings:
    """The process's Settings: the ones the entry point passed to `use`, else built once from the environment."""
    return _current if _current is not None else use(Settings.from_env())
