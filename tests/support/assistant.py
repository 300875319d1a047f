"""Run the real assistant (`python -m bot run`) on free ports for end-to-end tests, and talk to it over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from bot.conversation_ids import is_scoped
from bot.settings import ROOT, Settings

START_TIMEOUT_SECONDS = 300  # generous: CI and shared machines are slow when several assistants start at once


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_json(url: str, payload: dict | None = None, *, timeout: float = 30, headers: dict | None = None):
    """GET (or POST `payload` as JSON) and decode the JSON answer."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read().decode())


class Assistant:
    """One running assistant: its own ports and var/ folder, the shared trained model."""

    def __init__(self, var_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.var_dir = var_dir
        self.env = {
            **os.environ,
            "RASA_PORT": str(free_port()),
            "ACTION_PORT": str(free_port()),
            "CONSOLE_PORT": str(free_port()),
            "NXA_VAR_DIR": str(var_dir),
            "RASA_AUTH_TOKEN": "test-token",
            **(extra_env or {}),
        }
        self.settings = Settings.from_env(self.env)
        self.log_path = var_dir / "launcher.log"
        self.process: subprocess.Popen | None = None
        self._log_start = 0

    @property
    def rest_url(self) -> str:
        return f"{self.settings.rasa_url}/webhooks/rest/webhook"

    def start(self) -> Assistant:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self._log_start = len(self.log())
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        expected = 3 if (ROOT / "bot" / "console" / "__main__.py").exists() else 2
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"launcher exited with {self.process.returncode}:\n{self.log()[-4000:]}")
            if self.log()[self._log_start :].count(" is up: ") >= expected:
                return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"assistant did not start in {START_TIMEOUT_SECONDS} s:\n{self.log()[-4000:]}")

    def stop(self) -> int | None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode if self.process else None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def say(self, sender: str, message: str) -> list[dict]:
        """One turn over the REST channel: the list of messages the assistant sent back."""
        return http_json(self.rest_url, {"sender": sender, "message": message})

    def tracker(self, sender: str) -> dict:
        """The conversation's tracker from Rasa's HTTP API (token-protected): `sender` is a REST sender of `say()`
        (its conversation is `rest:<sender>` on the open development channel) or a scoped id (`sms:…`)."""
        conversation = sender if is_scoped(sender) else f"rest:{sender}"
        return http_json(
            f"{self.settings.rasa_url}/conversations/{urllib.parse.quote(conversation, safe=':')}/tracker?token=test-token"
        )


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def customs(messages: list[dict]) -> list[dict]:
    return [m["custom"] for m in messages if "custom" in m]
