"""Train the Rasa model only when what it is trained from has changed.

The fingerprint is a SHA-256 over config.yml, every file under domain/, data/ and nlu/ (training data, jieba
dictionaries, the custom components' code). The model is saved as `models/nx-<fingerprint>.tar.gz`, so "is the model
fresh?" is "does that file exist?", and an unchanged checkout never trains twice. The generated training files
(data/generate.py: the topic registry's intents, examples and rules, the rules' questions, the lookups) are rewritten
first when out of date, so a stale one never trains.
"""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import sys
import time
from pathlib import Path

from bot.settings import Settings

TRAINING_INPUTS = ("config.yml", "domain", "data", "nlu")
_SKIPPED_PARTS = {"__pycache__"}


def _input_files(root: Path) -> list[Path]:
    files: list[Path] = []
    for name in TRAINING_INPUTS:
        path = root / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += sorted(
                p for p in path.rglob("*") if p.is_file() and not _SKIPPED_PARTS & set(p.parts) and p.suffix != ".pyc"
            )
    return files


def fingerprint(root: Path) -> str:
    """A short hex digest of every training input's relative path and content."""
    digest = hashlib.sha256()
    for path in _input_files(root):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def model_path(settings: Settings) -> Path:
    """Where the model for the current training inputs is (or will be) stored."""
    return settings.models_dir / f"nx-{fingerprint(settings.root)}.tar.gz"


def regenerate(root: Path) -> None:
    """Rewrite the generated training files of the checkout at `root` that are out of date (data/generate.py)."""
    subprocess.run([sys.executable, str(root / "data" / "generate.py")], cwd=root, check=True)


def ensure_model(settings: Settings, *, force: bool = False) -> Path:
    """Return the current model, training it first if it does not exist (or if `force`).

    The generated training files are brought up to date first. A file lock makes concurrent callers (two test runs,
    `make run` beside `make test`) regenerate and train once and share the model.
    """
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.models_dir / ".train.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        regenerate(settings.root)
        target = model_path(settings)
        if target.exists() and not force:
            print(f"[train] model is up to date: {target.name}", flush=True)
            return target
        print(f"[train] training inputs changed; training {target.name} ...", flush=True)
        started = time.monotonic()
        command = [
            str(Path(sys.executable).with_name("rasa")),
            "train",
            "--config",
            "config.yml",
            "--domain",
            "domain",
            "--data",
            "data",
            "--out",
            str(settings.models_dir),
            "--fixed-model-name",
            target.name.removesuffix(".tar.gz"),
        ]
        subprocess.run(command, cwd=settings.root, env=settings.rasa_environment(), check=True)
        print(f"[train] trained in {time.monotonic() - started:.0f} s", flush=True)
        return target
