"""The notifier (bot.notifier) in-process, against the local fake WeChat API, the development SMS outbox and the REST
queue, on a real SQLite app store: which way each notification goes, what each attempt records, what is retried."""

from __future__ import annotations

import aiohttp
import pytest

from bot.cases import CaseService
from bot.deliveries import DeliveryLog
from bot.notifications import NotificationService
from bot.notifier import Notifier
from bot.store import AppStore
from channels._state import ChannelState
from channels.sms.providers import OptOutGuard, OutboxProvider
from channels.sms.templates import TemplateLimits
from channels.wechat.api import CustomerServiceClient
from channels.wechat.templates import DEFAULT_CASE_TEMPLATE_FIELDS, CaseTemplate, parse_fields
from tests.cases.conftest import make_submission
from tests.channels.support import APP_ID, FakeWeChatApi, free_port, outbox_lines, run_async, serve_aiohttp

TEMPLATE = CaseTemplate("tpl-case-progress", parse_fields(DEFAULT_CASE_TEMPLATE_FIELDS))


@pytest.fixture
def store(db_url) -> AppStore:
    return AppStore(db_url)


def _moved_case(store: AppStore, sender: str, message: str = "") -> str:
    cases = CaseService(store)
    channel = sender.split(":")[0]
    case = cases.create_case(make_submission(sender_id=sender, channel=channel, dedupe_key=sender))
    cases.change_status(case.case_id, "处理中", actor="op-zhang", worker_message=message)
    return case.case_id


def _notifier(store: AppStore, session, base: str | None = None, **kwargs) -> Notifier:
    wechat = CustomerServiceClient(session, APP_ID, "test-app-secret", base) if base else None
    return Notifier(NotificationService(store), DeliveryLog(store), wechat=wechat, worker="n-test", **kwargs)


@run_async
async def test_wechat_inside_the_window_is_a_customer_service_message(store):
    case_id = _moved_case(store, "wechat:o-1")
    fake = FakeWeChatApi()
    async with serve_aiohttp(fake.app()) as base, aiohttp.ClientSession() as session:
        assert await _notifier(store, session, base, template=TEMPLATE).run_once() == 1
    [message] = fake.messages_to("o-1")
    assert message["msgtype"] == "text" and case_id in message["text"]["content"]
    [notification] = NotificationService(store).for_case(case_id)
    assert (notification.state, notification.via) == ("sent", "custom")
    assert [(a.via, a.outcome) for a in notification.attempt_log] == [("custom", "sent")]


@run_async
async def test_wechat_outside_the_window_is_a_template_message_logged_for_its_report(store):
    case_id = _moved_case(store, "wechat:o-2", message="老板答应月底前把12000元工钱全部结清，请您留意电话。")
    fake = FakeWeChatApi(send_errcode=45015)
    async with serve_aiohttp(fake.app()) as base, aiohttp.ClientSession() as session:
        await _notifier(store, session, base, template=TEMPLATE).run_once()
    assert fake.sent == []
    [template] = fake.templates
    assert template["touser"] == "o-2" and template["template_id"] == "tpl-case-progress"
    data = {key: value["value"] for key, value in template["data"].items()}
    assert data["character_string1"] == case_id and data["phrase2"] == "处理中"
    assert (
        data["thing3"] == "老板答应月底前把12000元工钱全部结…" and len(data["thing3"]) == 20
    )  # a thing field holds 20 characters
    assert data["time4"].startswith("20") and "年" in data["time4"]
    [notification] = NotificationService(store).for_case(case_id)
    assert template["client_msg_id"] == notification.idempotency_key
    assert (notification.state, notification.via) == ("sent", "template")
    assert [(a.via, a.outcome) for a in notification.attempt_log] == [("custom", "failed"), ("template", "sent")]
    assert notification.attempt_log[1].provider_ids == [str(template["msgid"])]
    assert DeliveryLog(store).for_notification(notification.id) == [(str(template["msgid"]), "sent", "")]


@run_async
async def test_a_closed_window_without_a_template_fails_and_says_to_phone(store):
    case_id = _moved_case(store, "wechat:o-3")
    fake = FakeWeChatApi(send_errcode=45015)
    async with serve_aiohttp(fake.app()) as base, aiohttp.ClientSession() as session:
        await _notifier(store, session, base, template=None).run_once()
    [notification] = NotificationService(store).for_case(case_id)
    assert notification.state == "failed" and "WECHAT_CASE_TEMPLATE_ID" in notification.reason
    assert "打电话" in notification.reason and notification.can_resend


@run_async
async def test_wechat_busy_is_retried_and_an_unfollowed_user_is_not(store):
    busy, gone = _moved_case(store, "wechat:o-4"), _moved_case(store, "wechat:o-5")
    fake = FakeWeChatApi(send_errcode=45015, template_errcode=-1)
    async with serve_aiohttp(fake.app()) as base, aiohttp.ClientSession() as session:
        notifier = _notifier(store, session, base, template=TEMPLATE)
        await notifier.run_once()
    service = NotificationService(store)
    assert {n.state for n in service.for_case(busy)} == {"queued"}
    assert {n.state for n in service.for_case(gone)} == {"queued"}
    fake2 = FakeWeChatApi(send_errcode=43004)  # the worker unfollowed the account: nothing will change that
    service._clock = lambda: service.for_case(gone)[0].next_attempt_at  # the back-off has passed
    async with serve_aiohttp(fake2.app()) as base, aiohttp.ClientSession() as session:
        notifier = _notifier(store, session, base, template=TEMPLATE)
        notifier.service = service
        await notifier.run_once()
    [notification] = service.for_case(gone)
    assert notification.state == "failed" and "43004" in notification.reason


@run_async
async def test_an_unreachable_wechat_api_is_tried_again_later(store):
    case_id = _moved_case(store, "wechat:o-6")
    async with aiohttp.ClientSession() as session:
        await _notifier(store, session, f"http://127.0.0.1:{free_port()}").run_once()
    [notification] = NotificationService(store).for_case(case_id)
    assert notification.state == "queued" and "连不上微信接口" in notification.reason
    assert notification.next_attempt_at > notification.created_at
    assert [a.outcome for a in notification.attempt_log] == ["retry"]


@run_async
async def test_sms_goes_through_the_opt_out_guard(store, tmp_path):
    state = ChannelState(store)
    state.record_contact("13812345678")
    state.record_contact("13912345678")
    state.set_subscription("13912345678", "opted_out", "退订")
    wrote, opted_out, stranger = (
        _moved_case(store, "sms:13812345678"),
        _moved_case(store, "sms:13912345678"),
        _moved_case(store, "sms:13712345678"),
    )
    outbox = tmp_path / "sms-outbox.jsonl"
    async with aiohttp.ClientSession() as session:
        await _notifier(store, session, sms=OptOutGuard(OutboxProvider(outbox), state)).run_once()
    [line] = outbox_lines(outbox)
    assert line["to"] == "13812345678" and line["template"] == "case_update"
    assert line["params"] == [wrote, "工作人员已经开始处理"]
    assert line["text"] == f"您的欠薪登记{wrote}有新进展：工作人员已经开始处理。详询0951-12333"
    service = NotificationService(store)
    [sent] = service.for_case(wrote)
    assert sent.state == "sent" and sent.attempt_log[0].provider_ids == [line["id"]]
    assert DeliveryLog(store).for_notification(sent.id) == [(line["id"], "sent", "")]
    assert service.for_case(opted_out)[0].state == "failed" and "退订" in service.for_case(opted_out)[0].reason
    assert service.for_case(stranger)[0].state == "failed" and "从没有" in service.for_case(stranger)[0].reason


@run_async
async def test_a_personal_account_sends_the_fixed_notification(store, tmp_path):
    state = ChannelState(store)
    state.record_contact("13812345678")
    case_id = _moved_case(store, "sms:13812345678", message="老板答应月底前把工钱全部结清")
    outbox = tmp_path / "sms-outbox.jsonl"
    async with aiohttp.ClientSession() as session:
        notifier = _notifier(
            store,
            session,
            sms=OptOutGuard(OutboxProvider(outbox), state),
            sms_limits=TemplateLimits(account_type="personal", signature="宁夏人社"),
        )
        await notifier.run_once()
    [line] = outbox_lines(outbox)
    assert line["params"] == ["有新留言"]  # 6 characters a variable: the news is too long, the worker calls or asks
    assert case_id not in line["text"] and "0951-12333" in line["text"]


@run_async
async def test_rest_is_queued_for_the_client_and_unconfigured_channels_fail(store):
    rest, wechat = _moved_case(store, "rest:client-a:w1"), _moved_case(store, "wechat:o-7")
    async with aiohttp.ClientSession() as session:
        await _notifier(store, session).run_once()  # no WeChat client configured
    service = NotificationService(store)
    assert service.for_case(rest)[0].state == "sent"
    [taken] = service.take_rest_pending("rest:client-a:w1")
    assert taken.case_id == rest
    assert service.for_case(wechat)[0].state == "failed" and "WECHAT_APP_ID" in service.for_case(wechat)[0].reason


def test_the_field_mapping_refuses_what_it_cannot_fill():
    with pytest.raises(ValueError, match="one of"):
        parse_fields("thing3=employer")
    with pytest.raises(ValueError, match="twice"):
        parse_fields("thing3=progress,thing3=status")
    with pytest.raises(ValueError, match="<field key>=<value>"):
        parse_fields("progress")
