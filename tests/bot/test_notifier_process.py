"""The notifier as a real process (`python -m bot.notifier`), killed with SIGKILL in the middle of its work and
started again, against the local fake WeChat API and a real SQLite app store: every notification arrives exactly
once.

The fake API counts a message as arrived when it reads the request and answers only a second later, so the kill
lands while the notifier waits for WeChat's answer: that message has arrived, but the notifier never learnt it.
- customer-service messages: the restarted notifier does not send it again (marked failed, "not sure it arrived",
  resendable by an operator) and sends all the others;
- template messages: it sends it again with the same `client_msg_id`, which WeChat (and the fake) drops, so it ends
  up sent, once.
Changes made while no notifier runs (they are all queued before the first start) are sent when one starts."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import sys
import time
from pathlib import Path

from bot.cases import CaseService
from bot.notifications import IN_DOUBT, NotificationService
from bot.settings import ROOT
from bot.store import AppStore
from tests.cases.conftest import make_submission
from tests.channels.support import APP_ID, FakeWeChatApi, run_async, serve_aiohttp

WORKERS = 6


def _queue_notifications(store: AppStore) -> list[str]:
    """WORKERS WeChat cases, each moved to 处理中 (one queued notification each); their case numbers."""
    cases = CaseService(store)
    ids = []
    for n in range(WORKERS):
        sender = f"wechat:o-kill-{n}"
        case = cases.create_case(make_submission(sender_id=sender, channel="wechat", dedupe_key=sender))
        cases.change_status(case.case_id, "处理中", actor="op-zhang")
        ids.append(case.case_id)
    return ids


async def _start_notifier(db_url: str, var_dir: Path, api: str, log: Path, **env: str) -> asyncio.subprocess.Process:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "APP_DB_URL": db_url,
        "NXA_VAR_DIR": str(var_dir),
        "WECHAT_APP_ID": APP_ID,
        "WECHAT_APP_SECRET": "test-app-secret",
        "WECHAT_API_BASE": api,
        "SMS_PROVIDER": "outbox",
        **env,
    }
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.notifier",
            "--lease-seconds",
            "2",
            "--batch",
            "1",
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )


async def _until(condition, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout} s; notifier log:\n{log.read_text()[-3000:]}")
        await asyncio.sleep(0.02)


def _settled(service: NotificationService, case_ids: list[str]) -> bool:
    return all(n.state not in ("queued", "sending") for case_id in case_ids for n in service.for_case(case_id))


async def _kill(process: asyncio.subprocess.Process) -> None:
    os.kill(process.pid, signal.SIGKILL)
    assert await process.wait() == -signal.SIGKILL


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0


@run_async
async def test_killed_while_waiting_for_wechat_no_customer_service_message_is_sent_twice(db_url, tmp_path):
    store = AppStore(db_url)
    service = NotificationService(store)
    case_ids = _queue_notifications(store)
    log = tmp_path / "notifier.log"
    fake = FakeWeChatApi(response_delay=1.0)
    async with serve_aiohttp(fake.app()) as api:
        first = await _start_notifier(db_url, tmp_path, api, log)
        try:
            await _until(lambda: len(fake.sent) >= 3, 90, "three messages", log)
        finally:
            await _kill(first)  # the third message is at WeChat; its answer has not come back
        in_doubt = fake.sent[2]["touser"]
        second = await _start_notifier(db_url, tmp_path, api, log)
        try:
            await _until(lambda: _settled(service, case_ids), 90, "every notification settled", log)
        finally:
            await _stop(second)
    arrived = collections.Counter(message["touser"] for message in fake.sent)
    assert arrived == {f"o-kill-{n}": 1 for n in range(WORKERS)}
    states = {n.conversation: n for case_id in case_ids for n in service.for_case(case_id)}
    assert states.pop(f"wechat:{in_doubt}").reason == IN_DOUBT
    assert {n.state for n in states.values()} == {"sent"}


@run_async
async def test_killed_while_waiting_for_wechat_a_template_message_is_repeated_with_its_key(db_url, tmp_path):
    store = AppStore(db_url)
    service = NotificationService(store)
    case_ids = _queue_notifications(store)
    log = tmp_path / "notifier.log"
    fake = FakeWeChatApi(send_errcode=45015, response_delay=1.0)  # every window closed: template messages
    async with serve_aiohttp(fake.app()) as api:
        first = await _start_notifier(db_url, tmp_path, api, log, WECHAT_CASE_TEMPLATE_ID="tpl-case")
        try:
            await _until(lambda: len(fake.templates) >= 3, 90, "three template messages", log)
        finally:
            await _kill(first)
        second = await _start_notifier(db_url, tmp_path, api, log, WECHAT_CASE_TEMPLATE_ID="tpl-case")
        try:
            await _until(lambda: _settled(service, case_ids), 90, "every notification settled", log)
        finally:
            await _stop(second)
    arrived = collections.Counter(message["touser"] for message in fake.templates)
    assert arrived == {f"o-kill-{n}": 1 for n in range(WORKERS)}
    notifications = [n for case_id in case_ids for n in service.for_case(case_id)]
    assert {(n.state, n.via) for n in notifications} == {("sent", "template")}
    repeated = [n for n in notifications if [a.outcome for a in n.attempt_log].count("unknown") == 1]
    assert len(repeated) == 1  # the one in flight at the kill: sent again, dropped by WeChat as a repeat
