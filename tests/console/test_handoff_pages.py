"""The handoff queue and taking a conversation over, through the console's HTTP interface: summary and transcript,
take over (one operator at a time), replies over REST (kept for pickup), SMS (outbox) and WeChat (customer-service
API), polling for the worker's messages, release, and the 30-minute hand-back."""

from __future__ import annotations

import dataclasses
import html
import json

import pytest
from aiohttp import web

from channels._state import ChannelState
from tests.console.conftest import PASSWORD

TRACKER = {
    "sender_id": "rest:worker-1",
    "latest_input_channel": "rest",
    "events": [
        {"event": "action", "name": "action_session_start", "timestamp": 1795921200.0},
        {"event": "user", "text": "在县城落户要啥条件", "timestamp": 1795921201.0},
        {"event": "bot", "text": "在县城、镇上落户，有合法稳定住所就能落。", "timestamp": 1795921202.0, "data": {}},
        {
            "event": "bot",
            "text": "来源：《关于开展县域农民工市民化质量提升行动的通知》（宁人社函〔2023〕81号）",
            "timestamp": 1795921202.1,
            "data": {},
        },
        {
            "event": "bot",
            "timestamp": 1795921202.2,
            "data": {
                "custom": {"kind": "answer", "topic": "settlement", "rule_id": "settlement.county_town_settlement"}
            },
        },
        {"event": "user", "text": "转人工", "timestamp": 1795921260.0},
        {
            "event": "bot",
            "text": "好的，给您转人工。",
            "timestamp": 1795921261.0,
            "data": {
                "buttons": [{"title": "继续问", "payload": "/ask"}],
                "custom": {"kind": "handoff", "target": "12333", "phone": "0951-12333"},
            },
        },
    ],
}


@pytest.fixture
def handoff(handoffs, trackers):
    trackers["rest:worker-1"] = TRACKER
    handoffs.record_handoff("wechat:older", "wechat", "case_intake", {"topic": "labor_rights"}, reason="intake")
    return handoffs.record_handoff(
        "rest:worker-1",
        "rest",
        "12333",
        {
            "topic": "settlement",
            "facts": {"has_stable_job": True, "contribution_years": 12, "unknown_fact": "农业户口"},
            "last_question": "转人工",
        },
        reason="worker asked for a person",
    )


def test_queue_lists_handoffs_newest_first_with_summary(client, handoff, console):
    page = client.get("/handoffs").text
    assert page.index("/handoffs/2") < page.index("/handoffs/1")
    assert "落户" in page and "转 12333 人工" in page and "登记案件" in page and "助手在答" in page
    console.state.takeovers.take_over("rest:worker-1", "rest", "someone", console.state.now())
    assert "someone 接管中" in client.get("/handoffs").text


def test_handoff_page_shows_summary_facts_and_transcript_in_order(client, handoff, kb):
    page = html.unescape(client.get(f"/handoffs/{handoff.id}").text)
    assert "（worker asked for a person）" in page and "unknown_fact</span> 农业户口" in page
    assert f"{kb.facts['has_stable_job'].question}</span> 是" in page
    years = kb.facts["contribution_years"]
    assert f"{years.question}</span> 12{years.unit or ''}" in page
    page = page.split('id="transcript"')[1]
    positions = [
        page.index(text)
        for text in (
            "在县城落户要啥条件",
            "在县城、镇上落户，有合法稳定住所就能落。",
            "来源：《关于开展",
            "转人工",
            "好的，给您转人工。",
        )
    ]
    assert positions == sorted(positions)
    assert 'href="/rules/settlement.county_town_settlement"' in page  # the answer payload, folded into its turn
    assert "选项：继续问" in page and "转 12333 人工" in page


def test_an_sms_sender_id_is_masked(client, handoffs):
    handoff = handoffs.record_handoff("sms:13812345678", "sms", "12333", {"last_question": "咋办"})
    assert "13812345678" not in client.get(f"/handoffs/{handoff.id}").text
    assert "138****5678" in client.get("/handoffs").text


def test_transcript_failure_is_explained(client, handoff, console):
    console.state.rasa_token = "wrong"
    page = client.get(f"/handoffs/{handoff.id}").text
    assert "读取对话记录失败" in page and "RASA_AUTH_TOKEN" in page and "worker asked for a person" in page


def test_known_handoff_reasons_are_in_chinese(client, handoffs):
    handoff = handoffs.record_handoff("rest:w5", "rest", "12333", {}, reason="repeated_fallback")
    assert "助手多次没听懂" in client.get(f"/handoffs/{handoff.id}").text


def test_take_over_reply_over_rest_poll_and_release(client, handoff, console):
    state, path = console.state, f"/handoffs/{handoff.id}"
    taken = client.post_form(f"{path}/takeover", page=path)
    assert taken.status_code == 303
    assert state.takeovers.current("rest:worker-1", state.now()).operator == "operator1"
    assert state.takeovers.record_worker_message("rest", "rest:worker-1", "有人吗", state.now()) is True

    page = client.get(path).text
    assert "您已接管这个对话" in page and "有人吗" in page and 'id="reply-text"' in page
    sent = client.post_form(f"{path}/reply", {"text": "您好，我是12333的小王"}, page=path)
    assert sent.status_code == 303
    polled = client.get(f"{path}/messages", params={"after": 0}).json()
    assert [(m["direction"], m["text"], m["delivery"]) for m in polled["messages"]] == [
        ("worker", "有人吗", "received"),
        ("operator", "您好，我是12333的小王", "pending"),
    ]
    assert polled["messages"][-1]["delivery_label"] == "待对方取走"
    assert polled["takeover"]["operator"] == "operator1"
    last = polled["messages"][-1]["id"]
    assert client.get(f"{path}/messages", params={"after": last}).json()["messages"] == []
    assert [m.text for m in state.takeovers.take_pending_for_rest("rest:worker-1", state.now())] == [
        "您好，我是12333的小王"
    ]

    released = client.post_form(f"{path}/release", page=path)
    assert released.status_code == 303
    assert state.takeovers.record_worker_message("rest", "rest:worker-1", "谢谢", state.now()) is False
    assert "上次由 operator1 接管" in client.get(path).text
    assert client.get(f"{path}/messages").json()["takeover"] is None


def test_one_operator_at_a_time(client, handoff, console):
    path = f"/handoffs/{handoff.id}"
    client.post_form(f"{path}/takeover", page=path)
    console.state.accounts.create_operator("operator2", PASSWORD, console.state.now())
    second = console.client()
    second.login("operator2")
    page = second.get(path).text
    assert "operator1 已接管这个对话" in page and 'id="reply-text"' not in page
    assert second.post_form(f"{path}/takeover", page=path).status_code == 409
    refused = second.post_form(f"{path}/reply", {"text": "我也来"}, page=path)
    assert refused.status_code == 409 and "我也来" in refused.text  # the draft is kept
    assert second.post_form(f"{path}/release", page=path).status_code == 409
    assert console.state.takeovers.current("rest:worker-1", console.state.now()).operator == "operator1"


def test_thirty_minutes_without_a_reply_hands_back(client, handoff, console, clock):
    path = f"/handoffs/{handoff.id}"
    client.post_form(f"{path}/takeover", page=path)
    clock.advance(minutes=20)
    client.post_form(f"{path}/reply", {"text": "我查一下"}, page=path)
    clock.advance(minutes=29)
    assert console.state.takeovers.record_worker_message("rest", "rest:worker-1", "好", clock()) is True
    clock.advance(minutes=1)
    page = client.get(path).text
    assert "超时自动交还助手" in page
    late = client.post_form(f"{path}/reply", {"text": "查到了"}, page=path)
    assert late.status_code == 409 and "30 分钟" in late.text and "查到了" in late.text
    assert console.state.takeovers.record_worker_message("rest", "rest:worker-1", "在吗", clock()) is False


def test_empty_reply_is_refused(client, handoff):
    path = f"/handoffs/{handoff.id}"
    client.post_form(f"{path}/takeover", page=path)
    response = client.post_form(f"{path}/reply", {"text": "   "}, page=path)
    assert response.status_code == 400 and "不能为空" in response.text


def test_reply_over_sms_goes_to_the_outbox(client, handoffs, console, store):
    ChannelState(store).record_contact("13812345678")  # replies go only to a number that wrote (issue 14 §4)
    handoff = handoffs.record_handoff("sms:13812345678", "sms", "12333", {"last_question": "工钱咋要"})
    path = f"/handoffs/{handoff.id}"
    client.post_form(f"{path}/takeover", page=path)
    assert client.post_form(f"{path}/reply", {"text": "请带上合同到劳动监察大队"}, page=path).status_code == 303
    outbox = console.settings.var_dir / "sms-outbox.jsonl"
    [line] = outbox.read_text().splitlines()
    assert (
        json.loads(line)["to"] == "13812345678"
        and json.loads(line)["text"] == "宁夏农民工政策助手答复您的咨询：请带上合同到劳动监察大队"
    )
    [message] = console.state.takeovers.messages("sms:13812345678")
    assert message.delivery == "sent"


@pytest.fixture
def wechat_api(servers, console):
    """A stand-in for api.weixin.qq.com: tokens, and customer-service sends (45015 for the openid "expired")."""
    sent = []

    async def token(request):
        return web.json_response({"access_token": "token-1", "expires_in": 7200})

    async def send(request):
        body = await request.json()
        if body["touser"] == "expired":
            return web.json_response({"errcode": 45015, "errmsg": "response out of time limit"})
        sent.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    app = web.Application()
    app.router.add_post("/cgi-bin/stable_token", token)
    app.router.add_post("/cgi-bin/message/custom/send", send)
    settings = console.state.settings  # the WeChat outbound is built at the first reply, from these settings
    console.state.settings = dataclasses.replace(settings, env={**settings.env, "WECHAT_API_BASE": servers.serve(app)})
    return sent


def test_reply_over_wechat_uses_the_customer_service_api(client, handoffs, wechat_api):
    handoff = handoffs.record_handoff("wechat:openid-1", "wechat", "12333", {"last_question": "咋办"})
    path = f"/handoffs/{handoff.id}"
    client.post_form(f"{path}/takeover", page=path)
    assert client.post_form(f"{path}/reply", {"text": "您好"}, page=path).status_code == 303
    assert wechat_api == [{"touser": "openid-1", "msgtype": "text", "text": {"content": "您好"}}]


def test_a_failed_delivery_is_shown_and_recorded(client, handoffs, wechat_api, console):
    handoff = handoffs.record_handoff("wechat:expired", "wechat", "12333", {})
    path = f"/handoffs/{handoff.id}"
    client.post_form(f"{path}/takeover", page=path)
    response = client.post_form(f"{path}/reply", {"text": "您好"}, page=path)
    assert response.status_code == 502 and "48 小时" in response.text
    [message] = console.state.takeovers.messages("wechat:expired")
    assert message.delivery == "failed" and "48 小时" in message.error


def test_unknown_handoffs(client):
    assert client.get("/handoffs/999").status_code == 404
    assert client.get("/handoffs/abc").status_code == 404
    assert client.post_form("/handoffs/999/takeover").status_code == 404


def test_polling_checks_its_parameter(client, handoff):
    assert client.get(f"/handoffs/{handoff.id}/messages", params={"after": "x"}).status_code == 400
