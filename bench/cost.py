"""What the assistant costs to run: train time, start-up time to a served webhook, resident memory per process.

Memory is read from /proc (VmRSS, the resident set of each process; a process's children are reported
separately), so it needs Linux and nothing else.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.settings import ROOT

TRAIN_TIMEOUT_SECONDS = 600


def rss_mib(pid: int) -> float | None:
    """Resident memory of process `pid` in MiB, or None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def children(pid: int) -> list[int]:
    """The direct children of `pid` (from /proc/*/stat)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name (2nd field) is in parentheses and may hold spaces: split after the last ")"
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def launcher_memory(launcher_pid: int) -> dict[str, float | None]:
    """RSS in MiB of the launcher and of each process it supervises, named as the launcher names them."""
    memory = {"launcher": rss_mib(launcher_pid)}
    for pid in children(launcher_pid):
        cmd = command_line(pid)
        name = (
            "actions"
            if "run actions" in cmd
            else "console"
            if "bot.console" in cmd
            else ("rasa" if " run " in f"{cmd} " else f"pid {pid}")
        )
        memory[name] = rss_mib(pid)
        for grandchild in children(pid):  # e.g. worker processes, if any
            memory[f"{name} child {grandchild}"] = rss_mib(grandchild)
    return memory


def train_time(timeout: float = TRAIN_TIMEOUT_SECONDS) -> dict:
    """Time a cold, forced training of our model into a temporary models folder (the real models/ is left alone).

    Cold: with an empty Rasa training cache (RASA_CACHE_DIRECTORY), or Rasa would restore every component trained
    before from .rasa/cache and the figure would say nothing."""
    with (
        tempfile.TemporaryDirectory(prefix="nxa-bench-train-") as models_dir,
        tempfile.TemporaryDirectory(prefix="nxa-bench-cache-") as cache_dir,
    ):
        env = {
            **os.environ,
            "NXA_MODELS_DIR": models_dir,
            "RASA_CACHE_DIRECTORY": cache_dir,
            "RASA_TELEMETRY_ENABLED": "false",
        }
        started = time.perf_counter()
        try:
            completed = subprocess.run(
                [sys.executable, "-m", "bot", "train", "--force"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return {"seconds": None, "error": f"training did not finish in {timeout:.0f} s"}
        seconds = time.perf_counter() - started
        if completed.returncode != 0:
            return {"seconds": None, "error": (completed.stdout + completed.stderr)[-500:]}
        sizes = [p.stat().st_size for p in Path(models_dir).glob("*.tar.gz")]
        return {"seconds": round(seconds, 1), "model_mib": round(sizes[0] / 2**20, 1) if sizes else None}
