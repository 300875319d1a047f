"""The launcher's child processes, by name, for tests that kill or watch one of them."""

from __future__ import annotations

import subprocess

from tests.support.assistant import Assistant


def child_pids(assistant: Assistant) -> dict[str, int]:
    """{"actions" | "rasa" | "console" | "notifier": pid} of the running launcher's direct children."""
    out = subprocess.run(["pgrep", "-P", str(assistant.process.pid), "-a"], capture_output=True, text=True).stdout
    pids = {}
    for line in out.splitlines():
        pid, *argv = line.split()
        cmd = " ".join(argv)
        if "run actions" in cmd:
            name = "actions"
        elif "bot.console" in cmd:
            name = "console"
        elif "bot.notifier" in cmd:
            name = "notifier"
        else:
            name = "rasa"
        pids[name] = int(pid)
    return pids
