"""All configuration that is not Rasa's own, read from the environment once.

Rasa reads config.yml, domain.yml, credentials.yml and endpoints.yml itself; endpoints.yml and credentials.yml take
their variable parts from environment variables that `Settings.rasa_environment()` fills in, so one place decides
every port, path and URL. Nothing here has a secret default: credentials come only from the environment.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["Settings", "ROOT"]


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
    lock_store: str = "in_memory"
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Settings from `env` (default: the process environment); unset variables take the embedded defaults."""
        env = dict(os.environ if env is None else env)
        var_dir = Path(env.get("NXA_VAR_DIR") or ROOT / "var").resolve()
        return cls(
            var_dir=var_dir,
            models_dir=Path(env.get("NXA_MODELS_DIR") or ROOT / "models").resolve(),
            host=env.get("NXA_HOST", "127.0.0.1"),
            rasa_port=_int(env, "RASA_PORT", 5005),
            action_port=_int(env, "ACTION_PORT", 5055),
            console_port=_int(env, "CONSOLE_PORT", 8080),
            app_db_url=env.get("APP_DB_URL") or f"sqlite:///{var_dir / 'assistant.db'}",
            tracker_db=env.get("TRACKER_DB") or str(var_dir / "tracker.db"),
            env=env,
        )

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return f"http://{self.host}:{self.action_port}/webhook"

    @property
    def console_url(self) -> str:
        return f"http://{self.host}:{self.console_port}"

    def rasa_environment(self) -> dict[str, str]:
        """Environment for the Rasa and action-server processes (fills the ${...} of endpoints/credentials)."""
        env = dict(self.env)
        env.update(
            NXA_VAR_DIR=str(self.var_dir),
            APP_DB_URL=self.app_db_url,
            TRACKER_DB=self.tracker_db,
            ACTION_ENDPOINT_URL=self.action_url,
            RASA_TELEMETRY_ENABLED="false",
            PYTHONPATH=os.pathsep.join(filter(None, [str(self.root), env.get("PYTHONPATH", "")])),
            # TensorFlow would otherwise print pages of CPU-feature notices on every start.
            TF_CPP_MIN_LOG_LEVEL=env.get("TF_CPP_MIN_LOG_LEVEL", "2"),
        )
        return env
