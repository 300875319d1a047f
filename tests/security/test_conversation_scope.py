"""Issue 14 §1, finding F1 (High): the attacks on conversation scoping, performed against the real running assistant
(launcher, Rasa with the three channels, action server, console) and shown refused.

(a) REST with an SMS worker's phone as `sender` continues the worker's conversation → now it reaches `rest:…:<phone>`,
    a conversation of its own, and nothing of `sms:<phone>`; without a key it gets 401 and creates no tracker.
(b) while an operator has the SMS conversation, REST messages "as the worker" land in the console → they do not.
(c) `input_channel: "sms"` makes the operator's replies go by SMS to the victim → the handoff is a REST one, the reply
    is queued for the REST client, the SMS outbox gets nothing.
(d) `GET /webhooks/rest/messages?sender=<id>` drains another conversation's operator replies → needs the same
    client's key (or that conversation's token); another client's key, a forged or expired token get nothing.
"""

from __future__ import annotations

import time

import pytest

from channels.rest_auth import mint_token
from tests.security.scope_support import (
    MINIAPP_KEY,
    SHOP_KEY,
    TOKEN_SECRET,
    ConsoleOperator,
    SmsWorker,
    app_rows,
    outbox_to,
    pending,
    rest,
    running,
    stored_senders,
    tracker,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live(trained_model):
    return running()


def _events(conversation_tracker: dict) -> list[tuple[str, str | None]]:
    return [(e["event"], e.get("text") or e.get("name")) for e in conversation_tracker["events"]]


def _handoff_id(assistant, conversation: str) -> int:
    rows = app_rows(assistant, "SELECT id, channel FROM handoffs WHERE sender_id = ? ORDER BY id DESC", conversation)
    assert rows, f"no handoff recorded for {conversation}"
    return rows[0][0]


def test_no_key_gets_401_and_reaches_nothing(live):
    assistant, _, _ = live
    for credential in (None, "not-a-key", MINIAPP_KEY[:-2] + "xx"):
        status, body = rest(assistant, "attacker-no-key", "转人工", credential)
        assert status == 401, body
        status, body = pending(assistant, "attacker-no-key", credential)
        assert status == 401, body
    assert not {sender for sender in stored_senders(assistant) if "attacker-no-key" in sender}  # no tracker
    assert app_rows(assistant, "SELECT COUNT(*) FROM handoffs WHERE sender_id LIKE '%attacker-no-key%'") == [(0,)]


def test_a_rest_sender_with_a_victims_phone_reaches_nothing_of_the_sms_conversation(live):
    """(a): the SMS worker's intake is out of reach of REST, key or no key."""
    assistant, _, env = live
    phone = "13855550001"
    worker = SmsWorker(assistant, env["SMS_WEBHOOK_SECRET"])
    assert worker.say(phone, '/start_case{"case_type": "wage_arrears"}')
    before = _events(worker.tracker(phone))
    assert (worker.tracker(phone).get("active_loop") or {}).get("name") == "case_intake_form"

    assert rest(assistant, phone, "取消", None)[0] == 401  # the anonymous attacker
    status, answer = rest(assistant, phone, "取消", SHOP_KEY, input_channel="sms")  # even a client with a key
    assert status == 200, answer
    assert all(m.get("recipient_id") == phone for m in answer)  # the client sees its own sender id

    after = worker.tracker(phone)
    assert _events(after) == before  # not one event added to the worker's conversation
    assert (after.get("active_loop") or {}).get("name") == "case_intake_form"  # the intake still runs
    attacker = tracker(assistant, f"rest:shop:{phone}")
    assert attacker["latest_input_channel"] == "rest"  # the client's input_channel is ignored
    assert "sms:" + phone in stored_senders(assistant) and phone not in stored_senders(assistant)


def test_rest_messages_as_the_worker_do_not_reach_a_taken_over_sms_conversation(live):
    """(b): an operator has the SMS conversation; REST messages "from the worker" do not reach the console."""
    assistant, _, env = live
    phone = "13855550003"
    worker = SmsWorker(assistant, env["SMS_WEBHOOK_SECRET"])
    assert worker.say(phone, "转人工")
    handoff = _handoff_id(assistant, f"sms:{phone}")
    assert app_rows(assistant, "SELECT channel FROM handoffs WHERE id = ?", handoff) == [("sms",)]
    operator = ConsoleOperator(assistant)
    page = operator.get(f"/handoffs/{handoff}")
    assert "读取对话记录失败" not in page and "转人工" in page  # the console reads the SMS conversation's transcript
    assert phone not in page  # with the number masked
    operator.take_over(handoff)
    try:
        rest(assistant, phone, "我换号了，把我的案子撤了", SHOP_KEY)
        assert worker.say(phone, "我还在等") == []  # the worker's own message goes to the operator
        recorded = app_rows(
            assistant, "SELECT text FROM takeover_messages WHERE sender_id = ? AND direction = 'worker'", f"sms:{phone}"
        )
        assert recorded == [("我还在等",)]
        status, page = operator.reply(handoff, "您好，我是12333的小王")
        assert status == 200, page[:300]
        assert "您好，我是12333的小王" in outbox_to(assistant, phone)  # the real worker gets the reply by SMS
    finally:
        operator.release(handoff)


def test_input_channel_sms_does_not_route_operator_replies_by_sms(live):
    """(c): a REST 转人工 claiming to be SMS is a REST handoff; the operator's reply is queued for that REST client."""
    assistant, _, _ = live
    victim = "13855550002"
    status, answer = rest(assistant, victim, "转人工", SHOP_KEY, input_channel="sms")
    assert status == 200, answer
    conversation = f"rest:shop:{victim}"
    handoff = _handoff_id(assistant, conversation)
    assert app_rows(assistant, "SELECT channel FROM handoffs WHERE id = ?", handoff) == [("rest",)]
    assert app_rows(assistant, "SELECT COUNT(*) FROM handoffs WHERE sender_id IN (?, ?)", victim, f"sms:{victim}") == [
        (0,)
    ]

    operator = ConsoleOperator(assistant)
    operator.take_over(handoff)
    try:
        status, page = operator.reply(handoff, "请问您在哪个县？")
        assert status == 200, page[:300]
        assert outbox_to(assistant, victim) == []  # no SMS to the victim
        # (d) another client's key reads that client's own conversation of the same name: nothing
        assert pending(assistant, victim, MINIAPP_KEY) == (200, [])
        # a token of another conversation of the same client is refused
        other = mint_token(TOKEN_SECRET.encode(), "shop", "someone-else")
        assert pending(assistant, victim, other)[0] == 403
        # the client that owns the conversation gets the reply, once
        assert pending(assistant, victim, SHOP_KEY) == (
            200,
            [{"recipient_id": victim, "text": "请问您在哪个县？", "from": "operator"}],
        )
        assert pending(assistant, victim, SHOP_KEY) == (200, [])
    finally:
        operator.release(handoff)


def test_forged_or_expired_widget_tokens_get_401_and_a_good_one_works(live):
    assistant, _, _ = live
    secret = TOKEN_SECRET.encode()
    good = mint_token(secret, "shop", "widget-1", ttl=600)
    payload, _, signature = good.partition(".")
    forged_signature = f"{payload}.{signature[:-2]}{'AA' if not signature.endswith('AA') else 'BB'}"
    other_secret = mint_token(b"x" * 32, "shop", "widget-1", ttl=600)
    # the payload of a token for another client, with the signature of a good one
    swapped = mint_token(secret, "miniapp", "widget-1", ttl=600).partition(".")[0] + "." + signature
    expired = mint_token(secret, "shop", "widget-1", ttl=1, now=time.time() - 10)
    unknown_client = mint_token(secret, "nobody", "widget-1", ttl=600)
    for bad in (forged_signature, other_secret, swapped, expired, unknown_client, "a.b", "."):
        status, body = rest(assistant, "widget-1", "你好", bad)
        assert status == 401, (bad, body)
        assert pending(assistant, "widget-1", bad)[0] == 401
    assert not {sender for sender in stored_senders(assistant) if "widget-1" in sender}  # no tracker created

    status, answer = rest(assistant, "widget-1", "你好", good)
    assert status == 200 and answer, answer
    assert rest(assistant, "widget-2", "你好", good)[0] == 403  # the token names one conversation
    assert "rest:shop:widget-1" in stored_senders(assistant)

    # the back end mints tokens with its key; a token cannot mint tokens, and nobody without a key can
    minted_url = f"{assistant.settings.rasa_url}/webhooks/rest/token"
    from tests.security.scope_support import bearer, request

    status, minted = request(minted_url, {"sender": "widget-3", "ttl": 300}, headers=bearer(SHOP_KEY))
    assert status == 200 and minted["sender"] == "widget-3", minted
    assert rest(assistant, "widget-3", "你好", minted["token"])[0] == 200
    assert request(minted_url, {"sender": "widget-4"}, headers=bearer(minted["token"]))[0] == 403
    assert request(minted_url, {"sender": "widget-4"})[0] == 401
