"""The outbox (bot.notifications) on a real SQLite file: a case change queues its notification in the same
transaction, claims are exclusive, leases run out, in-doubt sends are never repeated by themselves, retries back off,
REST notifications are handed out once; and the delivery log (bot.deliveries) settles notifications from reports."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.cases import CaseService, InvalidTransition
from bot.deliveries import DeliveryLog
from bot.notifications import (
    BACKOFF,
    IN_DOUBT,
    LEASE,
    MAX_ATTEMPTS,
    NotificationService,
    NotResendable,
    notification_text,
)
from bot.store import AppStore
from tests.cases.conftest import count_rows, make_submission
from tests.support.clock import FakeClock

T0 = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def store(db_url) -> AppStore:
    return AppStore(db_url)


@pytest.fixture
def cases(store, clock) -> CaseService:
    return CaseService(store, clock=clock)


@pytest.fixture
def outbox(store, clock) -> NotificationService:
    return NotificationService(store, clock=clock)


def _case(cases: CaseService, sender: str = "wechat:o-worker-1", channel: str = "wechat"):
    return cases.create_case(make_submission(sender_id=sender, channel=channel, dedupe_key=f"{sender}:1"))


# ------------------------------------------------------------------------------------------- queueing


def test_a_status_change_queues_one_notification_on_the_cases_channel(cases, outbox, db_path):
    case = _case(cases)
    assert outbox.for_case(case.case_id) == []  # recording a case tells the worker in the conversation already
    cases.change_status(case.case_id, "处理中", actor="op-zhang")
    [notification] = outbox.for_case(case.case_id)
    assert (notification.channel, notification.conversation, notification.kind) == (
        "wechat",
        "wechat:o-worker-1",
        "status",
    )
    assert (notification.state, notification.case_status, notification.actor) == ("queued", "处理中", "op-zhang")
    assert notification.progress == "工作人员已经开始处理"
    assert notification.text == f"您登记的案件{case.case_id}有新进展：工作人员已经开始处理。详询0951-12333"
    assert notification.next_attempt_at == T0
    assert count_rows(db_path, "case_notifications") == 1


def test_the_operators_message_is_the_news_and_an_internal_note_tells_nothing(cases, outbox):
    case = _case(cases, sender="sms:13812345678", channel="sms")
    cases.add_note(case.case_id, "op-zhang", note="老板电话打不通")  # internal only
    assert outbox.for_case(case.case_id) == []
    cases.add_note(case.case_id, "op-zhang", worker_message="已经联系上老板，下周一给答复。")
    cases.change_status(case.case_id, "处理中", actor="op-zhang")
    cases.change_status(case.case_id, "新建", actor="op-zhang", note="分给李姐")  # back in the queue: internal
    message, status = sorted(outbox.for_case(case.case_id), key=lambda n: n.id)
    assert (message.kind, message.progress, message.channel) == ("message", "已经联系上老板，下周一给答复", "sms")
    assert message.text == notification_text(case.case_id, "已经联系上老板，下周一给答复")
    assert status.progress == "工作人员已经开始处理"


def test_the_notification_commits_with_the_change_or_not_at_all(cases, outbox, db_path):
    case = _case(cases)
    # The next event's notification key is taken: writing the notification fails, and so must the status change.
    with sqlite3.connect(db_path) as connection:
        next_event = connection.execute("SELECT max(id) + 1 FROM case_events").fetchone()[0]
        connection.execute(
            "INSERT INTO case_notifications (key, case_id, kind, case_status, channel, conversation, progress, text,"
            " actor, state, next_attempt_at, created_at) VALUES (?, ?, 'status', '新建', 'wechat', 'x', 'x', 'x',"
            " 'x', 'delivered', '2026-01-01', '2026-01-01')",
            (f"case-event:{next_event}", case.case_id),
        )
    with pytest.raises(sa.exc.IntegrityError):
        cases.change_status(case.case_id, "处理中", actor="op-zhang")
    assert cases.get_case(case.case_id).status == "新建"
    assert [event.status for event in cases.case_history(case.case_id)] == ["新建"]
    assert count_rows(db_path, "case_notifications") == 1


def test_a_conversation_without_a_channel_gets_no_notification(cases, outbox):
    case = cases.create_case(make_submission())  # "worker-1": an unscoped legacy id
    cases.change_status(case.case_id, "处理中", actor="op-zhang")
    assert outbox.for_case(case.case_id) == []


# ------------------------------------------------------------------------------------------- claiming


def test_a_claim_is_exclusive_across_stores(cases, outbox, db_url, clock):
    case = _case(cases)
    cases.change_status(case.case_id, "处理中", actor="op-zhang")
    other = NotificationService(AppStore(db_url), clock=clock)  # another process: its own engine and pool
    results: dict[str, list] = {}
    barrier = threading.Barrier(2)

    def claim(name: str, service: NotificationService) -> None:
        barrier.wait()
        results[name] = service.claim(name)

    threads = [threading.Thread(target=claim, args=(n, s)) for n, s in (("a", outbox), ("b", other))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = results["a"] + results["b"]
    assert len(claimed) == 1 and claimed[0].state == "sending" and claimed[0].attempts == 1
    assert outbox.claim("c") == [] and other.claim("d") == []


def test_a_claim_whose_notifier_died_before_calling_is_taken_over_after_the_lease(cases, outbox, clock):
    case = _case(cases)
    cases.change_status(case.case_id, "处理中", actor="op-zhang")
    [first] = outbox.claim("notifier-a")
    clock.advance(seconds=LEASE.total_seconds() - 1)
    assert outbox.claim("notifier-b") == []  # still a's
    clock.advance(seconds=2)
    [again] = outbox.claim("notifier-b")
    assert again.id == first.id and again.attempts == 2
    assert outbox.start_attempt(first.id, "notifier-a", "custom") is None  # a lost its claim: it must not send
    attempt = outbox.start_attempt(first.id, "notifier-b", "custom")
    assert outbox.mark_sent(first.id, "notifier-b", attempt, "custom")
    record = outbox.get(first.id)
    assert (record.state, record.via, record.sent_at) == ("sent", "custom", clock.now)
    assert [(a.outcome, a.via) for a in record.attempt_log] == [("sent", "custom")]


def test_a_send_in_doubt_is_not_repeated_but_can_be_resent(cases, outbox, clock):
    case = _case(cases)
    cases.change_status(case.case_id, "处理中", actor="op-zhang")
    [claimed] = outbox.claim("notifier-a")
    assert outbox.start_attempt(claimed.id, "notifier-a", "custom") is not None  # then notifier-a is killed
    clock.advance(seconds=LEASE.total_seconds() + 1)
    assert outbox.claim("notifier-b") == []
    record = outbox.get(claimed.id)
    assert (record.state, record.reason, record.can_resend) == ("failed", IN_DOUBT, True)
    assert [a.outcome for a in record.attempt_log] == ["unknown"]
    resent = outbox.resend(claimed.id, "op-zhang")
    assert (resent.state, resent.resends, resent.attempts) == ("queued", 1, 0)
    assert resent.idempotency_key != record.idempotency_key
    with pytest.raises(NotResendable):
        outbox.resend(claimed.id, "op-li")  # already back in the queue
    [again] = outbox.claim("notifier-b")
    assert again.id == claimed.id


def test_a_template_message_in_doubt_is_sent_again_with_the_same_key(cases, outbox, clock):
    case = _case(cases)
    cases.change_status(case.case_id, "处理中", actor="op-zhang")
    [claimed] = outbox.claim("notifier-a")
    outbox.start_attempt(claimed.id, "notifier-a", "template")  # WeChat drops a repeat of its client_msg_id
    clock.advance(seconds=LEASE.total_seconds() + 1)
    [again] = outbox.claim("notifier-b")
    assert again.idempotency_key == claimed.idempotency_key
    outbox.start_attempt(again.id, "notifier-b", "template")
    clock.advance(minutes=20)  # ... but only for 10 minutes: after that it is in doubt like any other
    assert outbox.claim("notifier-c") == [] and outbox.get(claimed.id).state == "failed"
    assert [a.outcome for a in outbox.get(claimed.id).attempt_log] == ["unknown", "unknown"]


def test_transient_failures_back_off_and_give_up_after_max_attempts(cases, outbox, clock):
    case = _case(cases)
    cases.change_status(case.case_id, "处理中", actor="op-zhang")
    waits = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        [claimed] = outbox.claim("n")
        assert claimed.attempts == attempt
        state = outbox.mark_retry(claimed.id, "n", outbox.start_attempt(claimed.id, "n", "custom"), "连不上微信接口")
        record = outbox.get(claimed.id)
        if attempt < MAX_ATTEMPTS:
            assert state == "queued" and record.reason == "连不上微信接口"
            waits.append(record.next_attempt_at - clock.now)
            assert outbox.claim("n") == []  # not due yet
            clock.now = record.next_attempt_at
    assert waits[:3] == [BACKOFF, BACKOFF * 2, BACKOFF * 4]
    assert state == "failed" and record.reason.startswith(f"试了 {MAX_ATTEMPTS} 次")
    assert [a.outcome for a in record.attempt_log] == ["retry"] * MAX_ATTEMPTS


def test_a_permanent_failure_fails_at_once(cases, outbox):
    case = _case(cases)
    cases.change_status(case.case_id, "处理中", actor="op-zhang")
    [claimed] = outbox.claim("n")
    outbox.mark_failed(claimed.id, "n", outbox.start_attempt(claimed.id, "n", "sms"), "这个号码已退订短信")
    record = outbox.get(claimed.id)
    assert (record.state, record.reason, record.attempts) == ("failed", "这个号码已退订短信", 1)
    assert outbox.claim("n") == []


def test_a_rest_notification_is_handed_out_once(cases, outbox, clock):
    case = _case(cases, sender="rest:client-a:w1", channel="rest")
    cases.change_status(case.case_id, "处理中", actor="op-zhang")
    assert outbox.take_rest_pending("rest:client-a:w1") == []  # not sent yet
    [claimed] = outbox.claim("n")
    assert outbox.queue_for_rest(claimed.id, "n")
    assert outbox.take_rest_pending("rest:client-b:w1") == []  # another client's conversation
    [taken] = outbox.take_rest_pending("rest:client-a:w1")
    assert taken.text == claimed.text and taken.custom["case_id"] == case.case_id
    assert outbox.take_rest_pending("rest:client-a:w1") == []
    record = outbox.get(claimed.id)
    assert (record.state, record.delivered_at) == ("delivered", clock.now)


def test_a_concurrent_status_change_that_loses_queues_nothing(cases, outbox):
    case = _case(cases)
    cases.change_status(case.case_id, "处理中", actor="op-zhang")
    with pytest.raises(InvalidTransition):
        cases.change_status(case.case_id, "处理中", actor="op-li")
    assert len(outbox.for_case(case.case_id)) == 1


# ------------------------------------------------------------------------------------------- the delivery log


def _sent_by_sms(cases, outbox, log: DeliveryLog, ids: list[str]):
    case = _case(cases, sender="sms:13812345678", channel="sms")
    cases.change_status(case.case_id, "处理中", actor="op-zhang")
    [claimed] = outbox.claim("n")
    outbox.mark_sent(claimed.id, "n", outbox.start_attempt(claimed.id, "n", "sms"), "sms", ids)
    assert log.sent("sms", claimed.conversation, "case_update", ids, notification_id=claimed.id) == len(ids)
    return claimed


def test_reports_settle_the_notification_once_every_part_arrived(cases, outbox, store, clock):
    log = DeliveryLog(store, clock=clock)
    claimed = _sent_by_sms(cases, outbox, log, ["m-1", "m-2"])
    assert log.report("sms", "m-1", True, "DELIVRD")
    assert outbox.get(claimed.id).state == "sent"  # one part still on its way
    clock.advance(minutes=1)
    assert log.report("sms", "m-2", True, "DELIVRD")
    record = outbox.get(claimed.id)
    assert (record.state, record.delivered_at) == ("delivered", clock.now)
    assert log.for_notification(claimed.id) == [("m-1", "delivered", "DELIVRD"), ("m-2", "delivered", "DELIVRD")]
    assert not log.report("sms", "never-sent", True, "DELIVRD")
    assert not log.report("wechat", "m-1", True, "success")  # ids are per channel


def test_a_failed_report_makes_the_notification_resendable(cases, outbox, store, clock):
    log = DeliveryLog(store, clock=clock)
    claimed = _sent_by_sms(cases, outbox, log, ["m-9"])
    assert log.report("sms", "m-9", False, "用户关机")
    record = outbox.get(claimed.id)
    assert record.state == "failed" and "用户关机" in record.reason and record.can_resend


def test_sent_refuses_an_unknown_kind_and_logs_nothing_without_ids(store):
    log = DeliveryLog(store)
    with pytest.raises(ValueError, match="kind"):
        log.sent("sms", "sms:13812345678", "advert", ["x"])
    assert log.sent("sms", "sms:13812345678", "reply", []) == 0
    assert log.sent("sms", "sms:13812345678", "reply", ["", "  "]) == 0


def test_the_daily_share_counts_china_days_per_channel(store, clock):
    log = DeliveryLog(store, clock=clock)
    clock.now = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)  # 23:30 on 1 December in China
    log.sent("sms", "sms:13812345678", "reply", ["a", "b"])
    clock.now = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)  # 00:30 on 2 December in China
    log.sent("sms", "sms:13812345678", "reply", ["c"])
    log.sent("wechat", "wechat:o1", "case_update", ["w1"])
    log.sent("rest", "rest:c:w", "case_update", ["r1"])  # REST does not report: not in the share
    log.report("sms", "a", True, "")
    log.report("sms", "b", False, "空号")
    log.report("sms", "c", True, "")
    days = {(d.day, d.channel): d for d in log.daily_share(days=3, until=date(2026, 12, 2))}
    assert len(days) == 6
    first = days[(date(2026, 12, 1), "sms")]
    assert (first.sent, first.delivered, first.failed, first.share) == (2, 1, 1, 0.5)
    second = days[(date(2026, 12, 2), "sms")]
    assert (second.sent, second.delivered, second.share) == (1, 1, 1.0)
    wechat = days[(date(2026, 12, 2), "wechat")]
    assert (wechat.sent, wechat.delivered, wechat.pending, wechat.share) == (1, 0, 1, 0.0)
    assert days[(date(2026, 11, 30), "sms")].share is None


def test_a_report_repeated_overwrites_and_keeps_one_row(store, clock, db_path):
    log = DeliveryLog(store, clock=clock)
    log.sent("sms", "sms:13812345678", "reply", ["a"])
    log.report("sms", "a", False, "超时")
    log.report("sms", "a", True, "DELIVRD", at=clock.now + timedelta(minutes=5))
    [day] = [d for d in log.daily_share(days=1) if d.channel == "sms"]
    assert (day.delivered, day.failed) == (1, 0)
    assert count_rows(db_path, "deliveries") == 1
