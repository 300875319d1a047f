"""Issue 14: real users are unaffected by the security work. A WeChat worker, an SMS worker and an authenticated
REST client each complete a wage-arrears intake on the real running assistant (a case number given, exactly one case
each, under its own channel-scoped conversation) while attack requests run beside them: unauthenticated REST calls,
REST calls naming the workers' phone and OpenID with `input_channel` set to their channel, forged tokens, and reads
of other conversations' pending messages."""

from __future__ import annotations

import threading

import pytest

from tests.reliability.support import HAS_INTAKE, answer_until, start_intake
from tests.security.scope_support import (
    MINIAPP_KEY,
    SHOP_KEY,
    RestClient,
    SmsWorker,
    WeChatWorker,
    app_rows,
    pending,
    rest,
    running,
    stored_senders,
)
from tests.support.assistant import texts

pytestmark = pytest.mark.e2e

OPENID = "o-real-user-wechat-000000001"
PHONE = "13855551234"
REST_SENDER = "real-user-rest-1"


@pytest.fixture(scope="module")
def live(trained_model):
    return running()


def _attacks(assistant, stop: threading.Event, outcomes: list[tuple[str, int]]) -> None:
    """Attack requests in a loop until `stop`: each outcome (what, status) recorded."""
    while not stop.is_set():
        for what, call in (
            ("no key, victim phone", lambda: rest(assistant, PHONE, "取消", None, input_channel="sms")),
            ("no key, victim openid", lambda: rest(assistant, OPENID, "取消", None, input_channel="wechat")),
            ("forged token", lambda: rest(assistant, REST_SENDER, "取消", "eyJjIjoic2hvcCJ9.forged")),
            ("other client's key", lambda: rest(assistant, PHONE, "取消", MINIAPP_KEY, input_channel="sms")),
            ("read other's pending", lambda: pending(assistant, REST_SENDER, MINIAPP_KEY)),
        ):
            try:
                status, body = call()
            except Exception as error:  # a timeout under load is not a success of the attack
                outcomes.append((f"{what}: {type(error).__name__}", -1))
                continue
            if what == "read other's pending":
                status = status if body == [] else 999  # 200 with a message would be a leak
            outcomes.append((what, status))
            if stop.is_set():
                return


@pytest.mark.skipif(not HAS_INTAKE, reason="the case intake form is not in the domain")
def test_three_workers_complete_their_intakes_while_attacks_run(live):
    assistant, api, env = live
    workers = [
        ("wechat", WeChatWorker(assistant, api, env["WECHAT_TOKEN"]), OPENID, f"wechat:{OPENID}"),
        ("sms", SmsWorker(assistant, env["SMS_WEBHOOK_SECRET"]), PHONE, f"sms:{PHONE}"),
        ("rest", RestClient(assistant, "shop", SHOP_KEY), REST_SENDER, f"rest:shop:{REST_SENDER}"),
    ]
    stop, outcomes = threading.Event(), []
    attacker = threading.Thread(target=_attacks, args=(assistant, stop, outcomes), daemon=True)
    attacker.start()
    finals: dict[str, str] = {}
    failures: dict[str, BaseException] = {}

    def intake(channel, worker, sender, _conversation) -> None:
        try:
            start_intake(worker, sender)
            finals[channel] = texts(answer_until(worker, sender, None))
        except BaseException as error:  # reported below, with the channel
            failures[channel] = error

    threads = [threading.Thread(target=intake, args=worker) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=900)
    stop.set()
    attacker.join(timeout=180)
    assert not failures, failures

    for channel, _worker, _sender, conversation in workers:
        cases = app_rows(assistant, "SELECT case_id, channel FROM cases WHERE sender_id = ?", conversation)
        assert len(cases) == 1, (channel, cases)
        [(case_id, case_channel)] = cases
        assert case_channel == channel
        assert case_id in finals[channel], (channel, finals[channel])  # the worker was given the case number

    # The attacks got nowhere: refused, or (a client with its own key) confined to that client's conversations.
    assert outcomes, "no attack request ran"
    by_kind: dict[str, set[int]] = {}
    for what, status in outcomes:
        by_kind.setdefault(what, set()).add(status)
    assert by_kind.get("no key, victim phone") == {401}, by_kind
    assert by_kind.get("no key, victim openid") == {401}, by_kind
    assert by_kind.get("forged token") == {401}, by_kind
    assert by_kind.get("read other's pending") == {200}, by_kind  # always empty: its own conversation
    senders = stored_senders(assistant)
    assert PHONE not in senders and OPENID not in senders  # nothing stored under a bare phone or OpenID
    assert f"rest:miniapp:{PHONE}" in senders  # the other client's attempt made only its own conversation
    assert app_rows(assistant, "SELECT COUNT(*) FROM cases WHERE sender_id LIKE 'rest:miniapp:%'") == [(0,)]
