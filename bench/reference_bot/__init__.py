"""The reference bot of the latency benchmark: Rasa's own starter bot, exactly as `rasa init --no-prompt` makes it.

It is never committed: `prepare()` makes it in a temporary folder at bench time. Its trained model is cached under
var/bench/ keyed by the Rasa version and a hash of the starter project, so only the first bench on a machine (or
after a Rasa upgrade) trains it: then `rasa init --no-prompt` scaffolds *and* trains (timed, reported as the bare
bot's train time); later benches scaffold the same project with the function `rasa init` itself calls
(`rasa.cli.scaffold.create_initial_project`) and reuse the cached model. It runs as `rasa run --enable-api` in that
folder: the starter's own config (Rasa's default pipeline and policies), in-memory tracker store, no action server.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bot.settings import ROOT

CACHE_DIR = ROOT / "var" / "bench"
INIT_TIMEOUT_SECONDS = 900


@dataclass
class ReferenceBot:
    """A scaffolded starter project in `folder` with a trained `model`; `train_seconds` if trained in this run."""

    folder: Path
    model: Path
    train_seconds: float | None
    cached: bool

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _rasa() -> str:
    return str(Path(sys.executable).with_name("rasa"))


def _starter_fingerprint() -> tuple[str, str]:
    import rasa
    from rasa.cli.scaffold import scaffold_path

    digest = hashlib.sha256()
    base = Path(scaffold_path())
    for path in sorted(p for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(base)).encode() + b"\0" + path.read_bytes() + b"\0")
    return rasa.__version__, digest.hexdigest()[:12]


def cached_model_path(cache_dir: Path = CACHE_DIR) -> Path:
    version, digest = _starter_fingerprint()
    return cache_dir / f"rasa-init-{version}-{digest}.tar.gz"


def prepare(cache_dir: Path = CACHE_DIR, timeout: float = INIT_TIMEOUT_SECONDS) -> ReferenceBot:
    """Scaffold the starter bot in a new temporary folder and return it with its trained model (cached)."""
    folder = Path(tempfile.mkdtemp(prefix="nxa-bare-rasa-"))
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    cached = cached_model_path(cache_dir)
    if cached.exists():
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from rasa.cli.scaffold import create_initial_project; create_initial_project(sys.argv[1])",
                str(folder),
            ],
            check=True,
            env=env,
            timeout=120,
            capture_output=True,
        )
        meta = cached.with_suffix(".json")
        trained = json.loads(meta.read_text()) if meta.exists() else {}
        return ReferenceBot(folder, cached, trained.get("train_seconds"), cached=True)
    started = time.perf_counter()
    completed = subprocess.run(
        [_rasa(), "init", "--no-prompt", "--init-dir", str(folder)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.perf_counter() - started
    models = sorted((folder / "models").glob("*.tar.gz"))
    if completed.returncode != 0 or not models:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(
            f"rasa init --no-prompt failed ({completed.returncode}):\n{(completed.stdout + completed.stderr)[-2000:]}"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(models[-1], cached)
    cached.with_suffix(".json").write_text(json.dumps({"train_seconds": round(seconds, 1)}))
    return ReferenceBot(folder, cached, round(seconds, 1), cached=False)


def command(bot: ReferenceBot, port: int) -> list[str]:
    """The command that serves the reference bot's REST webhook on 127.0.0.1:`port`."""
    return [
        _rasa(),
        "run",
        "--model",
        str(bot.model),
        "--enable-api",
        "--interface",
        "127.0.0.1",
        "--port",
        str(port),
        "--credentials",
        "credentials.yml",
        "--endpoints",
        "endpoints.yml",
    ]
