"""WeChat's report on a template message (the TEMPLATESENDJOBFINISH event) pushed to the real channel settles the
case notification it carried: a notification sent outside the 48-hour window through the local fake WeChat API,
then reported delivered, or refused by the user."""

from __future__ import annotations

import time

import aiohttp

from bot.cases import CaseService
from bot.deliveries import DeliveryLog
from bot.notifications import NotificationService
from bot.notifier import Notifier
from bot.store import AppStore
from channels.wechat.api import CustomerServiceClient
from channels.wechat.channel import WeChatInput
from channels.wechat.templates import DEFAULT_CASE_TEMPLATE_FIELDS, CaseTemplate, parse_fields
from tests.cases.conftest import make_submission
from tests.channels.support import (
    ACCOUNT,
    APP_ID,
    TOKEN,
    FakeAgent,
    FakeWeChatApi,
    run_async,
    serve_aiohttp,
    serve_channel,
    signed_query,
)


def finished_xml(openid: str, msgid: int, status: str, create_time: int) -> str:
    """The event as WeChat pushes it once a template message was (or was not) delivered."""
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>{msgid}</MsgID>"
        f"<Status><![CDATA[{status}]]></Status></xml>"
    )


async def _push(session: aiohttp.ClientSession, url: str, body: str) -> str:
    async with session.post(f"{url}/webhook", params=signed_query(), data=body.encode("utf-8")) as answer:
        assert answer.status == 200
        return await answer.text()


@run_async
async def test_the_report_settles_the_notification(db_url, gate):
    store = AppStore(db_url)
    cases, outbox = CaseService(store), NotificationService(store)
    moved = []
    for openid in ("o-report-1", "o-report-2"):
        sender = f"wechat:{openid}"
        case = cases.create_case(make_submission(sender_id=sender, channel="wechat", dedupe_key=sender))
        cases.change_status(case.case_id, "处理中", actor="op-zhang")
        moved.append(case.case_id)
    fake = FakeWeChatApi(send_errcode=45015)  # both windows closed
    template = CaseTemplate("tpl-case", parse_fields(DEFAULT_CASE_TEMPLATE_FIELDS))
    agent = FakeAgent()
    channel = WeChatInput(TOKEN, APP_ID, "test-app-secret", db_url=db_url, intercept=gate)
    async with (
        serve_aiohttp(fake.app()) as api,
        serve_channel(channel, agent) as url,
        aiohttp.ClientSession() as session,
    ):
        client = CustomerServiceClient(session, APP_ID, "test-app-secret", api)
        notifier = Notifier(outbox, DeliveryLog(store), wechat=client, template=template, worker="n")
        assert await notifier.run_once() == 2
        first, second = ({m["touser"]: m["msgid"] for m in fake.templates}[o] for o in ("o-report-1", "o-report-2"))
        now = int(time.time())
        assert await _push(session, url, finished_xml("o-report-1", first, "success", now)) == "success"
        assert await _push(session, url, finished_xml("o-report-1", first, "success", now)) == "success"  # retry
        assert await _push(session, url, finished_xml("o-report-2", second, "failed:user block", now)) == "success"
        assert await _push(session, url, finished_xml("o-report-3", 99, "success", now)) == "success"  # not ours
    assert agent.received == []  # reports run no turn
    [delivered] = outbox.for_case(moved[0])
    assert (delivered.state, delivered.via) == ("delivered", "template") and delivered.delivered_at is not None
    [refused] = outbox.for_case(moved[1])
    assert refused.state == "failed" and "failed:user block" in refused.reason and refused.can_resend
    days = [d for d in DeliveryLog(store).daily_share(days=1) if d.channel == "wechat"]
    assert [(d.sent, d.delivered, d.failed) for d in days] == [(2, 1, 1)]
