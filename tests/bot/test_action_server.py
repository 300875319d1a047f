"""The action server as Rasa uses it: a real `python -m bot.action_server` process on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from bot.settings import ROOT
from tests.support.assistant import free_port


@pytest.fixture(scope="module")
def action_server(tmp_path_factory):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NXA_", "ACTION_SERVER"))}
    env |= {"NXA_VAR_DIR": str(tmp_path_factory.mktemp("actions-var")), "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.action_server", "--actions", "actions", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("the action server did not start")
            time.sleep(0.5)
    yield port
    process.terminate()
    process.wait(timeout=30)


def test_a_connection_whose_request_is_late_is_still_answered(action_server):
    """Rasa opens a new connection per action call; when its loop (or the server's) is busy for a few seconds
    between the accept and the request, the call must still be served, not dropped unread (Sanic's default closes
    such a connection after 5 s, and the turn was lost under load)."""
    with socket.create_connection(("127.0.0.1", action_server), timeout=30) as sock:
        time.sleep(6.5)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
