"""The launcher: conversations survive a restart, Ctrl-C stops every process, a crashed process is restarted."""

import os
import signal
import time

import pytest

from tests.support.assistant import Assistant, texts
from tests.support.processes import child_pids

pytestmark = pytest.mark.e2e


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_conversation_survives_a_restart_and_ctrl_c_stops_everything(trained_model, tmp_path):
    first = Assistant(tmp_path).start()
    try:
        first.say("restart-user", "你好")
        children = child_pids(first)
        assert {"actions", "rasa"} <= set(children)
    finally:
        assert first.stop() == 0
    assert not [name for name, pid in children.items() if _alive(pid)], "a child outlived Ctrl-C"
    assert "rasa stopped" in first.log() and "actions stopped" in first.log()

    second = Assistant(tmp_path).start()
    try:
        events = second.tracker("restart-user")["events"]
        assert [e["text"] for e in events if e["event"] == "user"] == ["你好"]
        assert "您好" in texts(second.say("restart-user", "你好"))
    finally:
        second.stop()


def test_a_crashed_action_server_is_reported_and_restarted(trained_model, tmp_path):
    running = Assistant(tmp_path).start()
    try:
        old = child_pids(running)["actions"]
        os.kill(old, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "actions exited with code" not in running.log():
            time.sleep(0.5)
        assert "actions exited with code -9; restarting" in running.log()
        while time.monotonic() < deadline and running.log().count("actions is up") < 2:
            time.sleep(0.5)
        assert running.log().count("actions is up") == 2, "the restarted action server never answered"
        new = child_pids(running).get("actions")
        assert new and new != old
    finally:
        running.stop()
