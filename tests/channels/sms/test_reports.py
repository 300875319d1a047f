"""Tencent status reports (状态报告) posted to `/webhooks/sms/report` of the channel served by a real Sanic server:
authenticated like the inbound callback, each report handed to the injected `on_report`, bad input refused."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time

import aiohttp

from channels.sms import OutboxProvider, SmsInput, sign_body, tencent_callback_token
from channels.sms.inbound import MAX_REPORTS, parse_tencent_reports
from channels.sms.templates import TemplateLimits, reply_messages
from tests.channels.support import (
    FakeAgent,
    FakeTencentSms,
    Gate,
    run_async,
    serve_aiohttp,
    serve_channel,
    tencent_provider,
)

SECRET = "test-sms-secret"
PHONE = "13812341234"


class Recorder:
    """An `on_report` that records its calls (from the worker thread it is called in) and can fail on demand."""

    def __init__(self, fail: int = 0) -> None:
        self.calls: list[tuple[str, bool, str]] = []
        self.threads: set[int] = set()
        self.fail = fail

    def __call__(self, provider_id: str, delivered: bool, reason: str) -> None:
        self.threads.add(threading.get_ident())
        if self.fail:
            self.fail -= 1
            raise RuntimeError("delivery log unavailable")
        self.calls.append((provider_id, delivered, reason))


def channel(db_url, tmp_path, on_report=None) -> SmsInput:
    return SmsInput(
        SECRET, provider=OutboxProvider(tmp_path / "o.jsonl"), db_url=db_url, intercept=Gate(), on_report=on_report
    )


def report(sid: str, status: str = "SUCCESS", **extra) -> dict:
    entry = {
        "user_receive_time": "2026-12-02 14:03:04",
        "nationcode": "86",
        "mobile": PHONE,
        "report_status": status,
        "errmsg": "DELIVRD" if status == "SUCCESS" else "MK:0005",
        "description": "用户短信送达成功" if status == "SUCCESS" else "用户手机关机或停机",
        "sid": sid,
    }
    return {**entry, **extra}


async def post_reports(session, url, body, *, token: str | None = None, headers=None):
    params = {"token": token if token is not None else tencent_callback_token(SECRET)}
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8")
    async with session.post(f"{url}/report", params=params if token != "" else None, data=data, headers=headers) as a:
        return a.status, await a.json()


@run_async
async def test_each_tencent_report_reaches_on_report_and_unreadable_entries_are_skipped(db_url, tmp_path):
    recorder = Recorder()
    body = [report("2433:1001"), report("2433:1002", "FAIL"), {"sid": "", "report_status": "WHATEVER"}]
    async with serve_channel(channel(db_url, tmp_path, recorder), FakeAgent()) as url, aiohttp.ClientSession() as s:
        assert await post_reports(s, url, body) == (200, {"result": 0, "errmsg": "OK"})
        assert await post_reports(s, url, report("2433:1003")) == (200, {"result": 0, "errmsg": "OK"})  # one object
    assert recorder.calls == [
        ("2433:1001", True, "DELIVRD：用户短信送达成功"),
        ("2433:1002", False, "MK:0005：用户手机关机或停机"),
        ("2433:1003", True, "DELIVRD：用户短信送达成功"),
    ]
    assert threading.get_ident() not in recorder.threads  # called in a thread, not on the event loop


@run_async
async def test_reports_are_authenticated_like_the_inbound_callback(db_url, tmp_path):
    recorder = Recorder()
    body = json.dumps([report("2433:2001")]).encode()
    now = int(time.time())
    async with serve_channel(channel(db_url, tmp_path, recorder), FakeAgent()) as url, aiohttp.ClientSession() as s:
        assert (await post_reports(s, url, body, token="0" * 40))[0] == 403
        assert (await post_reports(s, url, body, token=""))[0] == 403  # no credential at all
        assert (await post_reports(s, url, body, token=SECRET))[0] == 403  # the secret is not the token
        stale = {"X-Timestamp": str(now - 600), "X-Signature": sign_body(SECRET, body, now - 600)}
        assert (await post_reports(s, url, body, token="", headers=stale))[0] == 403
        assert recorder.calls == []
        signed = {"X-Timestamp": str(now), "X-Signature": sign_body(SECRET, body, now)}  # another gateway, signed
        assert await post_reports(s, url, body, token="", headers=signed) == (200, {"result": 0, "errmsg": "OK"})
    assert recorder.calls == [("2433:2001", True, "DELIVRD：用户短信送达成功")]


@run_async
async def test_bad_bodies_get_a_clear_error_and_call_nothing(db_url, tmp_path):
    recorder = Recorder()
    async with serve_channel(channel(db_url, tmp_path, recorder), FakeAgent()) as url, aiohttp.ClientSession() as s:
        for body, says in (
            (b"not json", "not UTF-8 JSON"),
            (b'"a string"', "not a list"),
            (json.dumps([{"sid": "x"}]).encode(), "no readable status report"),
            (json.dumps([report(f"s{n}") for n in range(MAX_REPORTS + 1)]).encode(), "more than"),
        ):
            status, answer = await post_reports(s, url, body)
            assert status in (400, 413) and answer["result"] == 1, (body[:20], answer)
            assert status == 413 or says in answer["errmsg"]
        status, answer = await post_reports(s, url, b"[" + b" " * (300 * 1024) + b"]")
        assert (status, answer["result"]) == (413, 1)
    assert recorder.calls == []


@run_async
async def test_a_failing_on_report_gets_500_so_tencent_sends_the_batch_again(db_url, tmp_path):
    recorder = Recorder(fail=1)
    body = [report("2433:3001", "FAIL")]
    async with serve_channel(channel(db_url, tmp_path, recorder), FakeAgent()) as url, aiohttp.ClientSession() as s:
        assert await post_reports(s, url, body) == (500, {"result": 1, "errmsg": "internal error"})
        assert await post_reports(s, url, body) == (200, {"result": 0, "errmsg": "OK"})  # Tencent's retry
    assert recorder.calls == [("2433:3001", False, "MK:0005：用户手机关机或停机")]  # nothing lost


def test_without_on_report_each_report_is_logged_masked_and_dropped(db_url, tmp_path, caplog):
    async def scenario():
        async with serve_channel(channel(db_url, tmp_path), FakeAgent()) as url, aiohttp.ClientSession() as s:
            return await post_reports(s, url, [report("2433:4001", "FAIL")])

    with caplog.at_level(logging.INFO, logger="channels.sms"):
        assert asyncio.run(scenario()) == (200, {"result": 0, "errmsg": "OK"})
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "2433:4001" in logged and "138****1234" in logged and "failed" in logged and PHONE not in logged


@run_async
async def test_the_report_names_the_serial_number_sendsms_returned(db_url, tmp_path):
    fake, recorder = FakeTencentSms(), Recorder()
    [message] = reply_messages("您好", TemplateLimits(signature="宁夏人社"))
    async with serve_aiohttp(fake.app()) as base, aiohttp.ClientSession() as session:
        [serial] = await tencent_provider(session, base).send(PHONE, message)
        async with serve_channel(channel(db_url, tmp_path, recorder), FakeAgent()) as url:
            assert (await post_reports(session, url, [report(serial)]))[0] == 200
    assert recorder.calls == [(serial, True, "DELIVRD：用户短信送达成功")]


def test_parse_reads_what_it_can_and_keeps_reasons_short():
    reports, skipped = parse_tencent_reports(
        json.dumps([report("a", description="很长" * 200), report("b", mobile="not a phone"), "junk"]).encode()
    )
    assert [(r.provider_id, r.delivered) for r in reports] == [("a", True), ("b", True)] and skipped == 1
    assert len(reports[0].reason) <= 401 and reports[0].phone == PHONE and reports[1].phone == ""
    assert reports[0].received_at == "2026-12-02 14:03:04"
    assert parse_tencent_reports(b"[]") == ([], 0)


@run_async
async def test_built_from_credentials_replies_and_reports_meet_in_the_delivery_log(db_url, tmp_path):
    """The channel as credentials.yml builds it logs each reply's provider ids, and Tencent's report on one settles
    it; a case notification sent by SMS is settled by its report too."""
    from bot.cases import CaseService
    from bot.deliveries import DeliveryLog
    from bot.notifications import NotificationService
    from bot.notifier import Notifier
    from bot.settings import Settings
    from bot.store import AppStore
    from channels._state import ChannelState
    from channels.sms.providers import OptOutGuard
    from tests.cases.conftest import make_submission
    from tests.channels.support import outbox_lines

    settings = Settings.from_env({"APP_DB_URL": db_url, "NXA_VAR_DIR": str(tmp_path), "SMS_PROVIDER": "outbox"})
    sms = SmsInput.from_credentials({"webhook_secret": SECRET}, settings=settings)
    sms.intercept = Gate()
    store = AppStore(db_url)
    now = int(time.time())
    raw = json.dumps({"from": PHONE, "text": "你好", "msg_id": "mo-report-1"}, ensure_ascii=False).encode("utf-8")
    async with serve_channel(sms, FakeAgent()) as url, aiohttp.ClientSession() as session:
        headers = {"X-Timestamp": str(now), "X-Signature": sign_body(SECRET, raw, now)}
        async with session.post(f"{url}/webhook", data=raw, headers=headers) as answer:
            assert answer.status == 200, await answer.text()
        [reply] = outbox_lines(tmp_path / "sms-outbox.jsonl")
        case = CaseService(store).create_case(
            make_submission(sender_id=f"sms:{PHONE}", channel="sms", phone=PHONE, dedupe_key="sms-report-case")
        )
        CaseService(store).change_status(case.case_id, "处理中", actor="op-zhang")
        guard = OptOutGuard(OutboxProvider(tmp_path / "sms-outbox.jsonl"), ChannelState(store))
        await Notifier(NotificationService(store), DeliveryLog(store), sms=guard, worker="n").run_once()
        notice = outbox_lines(tmp_path / "sms-outbox.jsonl")[-1]
        reports = [report(reply["id"]), report(notice["id"])]
        assert (await post_reports(session, url, reports))[0] == 200
    [notification] = NotificationService(store).for_case(case.case_id)
    assert notification.state == "delivered"
    [day] = [d for d in DeliveryLog(store).daily_share(days=1) if d.channel == "sms"]
    assert (day.sent, day.delivered) == (2, 2)
