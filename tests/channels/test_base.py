"""channels/_base.py: the constant-time comparison each call site needs, and the shared pipeline's menu steps on a
real SQLite app store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from channels._base import MenuChannel, TurnRequest, verify_equal
from channels._render import Button, CollectingOutput, Reply
from channels._state import ChannelState
from tests.channels.support import Gate, run_async


@pytest.mark.parametrize(
    "given, exact, hex_digest",
    [
        ("ab12cd", True, True),
        (" AB12CD\n", False, True),  # another system's hex digest: case and surrounding spaces do not count
        ("Ab12cd", False, True),
        ("ab12ce", False, False),
        ("ab12c", False, False),
        ("", False, False),
        (None, False, False),
    ],
)
def test_verify_equal_is_exact_unless_told_the_value_is_a_hex_digest(given, exact, hex_digest):
    assert verify_equal("ab12cd", given) is exact
    assert verify_equal("ab12cd", given, hex_digest=True) is hex_digest


class Output(CollectingOutput):
    @classmethod
    def name(cls) -> str:
        return "test"


class Channel(MenuChannel):
    """The smallest channel on the shared pipeline: renders a reply as one line, delivers into a list."""

    menu_ttl = timedelta(minutes=5)

    def __init__(self, state: ChannelState, gate: Gate) -> None:
        self.state, self.intercept = state, gate
        self.delivered: list[tuple[str, list[str]]] = []

    @classmethod
    def name(cls) -> str:
        return "test"

    def render(self, reply: Reply) -> list[str]:
        return [reply.body_and_menu()]

    async def deliver(self, sender_id: str, parts: list[str]) -> int:
        self.delivered.append((sender_id, parts))
        return len(parts)


@run_async
async def test_a_pushed_menu_maps_the_next_digit_and_a_message_without_one_forgets_it(db_url):
    channel = Channel(ChannelState(db_url), Gate())
    await channel.push("u1", Reply(texts=["选一个"], buttons=[Button("落户", "/ask_hukou")]))
    assert channel.delivered == [("u1", ["选一个\n回复1 落户"])]
    assert await channel.menu_payload("u1", "回复1") == "/ask_hukou"
    assert await channel.menu_payload("u1", "2") == "2"  # no such option: the digit means itself
    assert await channel.menu_payload("u2", "1") == "1"  # another user's menu is not this one's
    await channel.push("u1", Reply(texts=["好的"]))
    assert await channel.menu_payload("u1", "1") == "1"


@run_async
async def test_claims_are_once_per_key_and_a_released_claim_can_run_again(db_url):
    channel = Channel(ChannelState(db_url), Gate())
    assert await channel.claim("k1") is True
    assert await channel.claim("k1") is False
    await channel.release("k1")
    assert await channel.claim("k1") is True
    await channel.finish("k1")
    assert await channel.claim("k1") is False


@run_async
async def test_without_a_menu_store_digits_pass_through_as_text(tmp_path):
    channel = Channel(ChannelState(f"sqlite:///{tmp_path / 'never-migrated.db'}"), Gate())
    await channel.remember_menu("u1", Reply(buttons=[Button("落户", "/ask_hukou")]))  # logged, not raised
    assert await channel.menu_payload("u1", "1") == "1"


@run_async
async def test_a_taken_over_conversation_stops_the_pipeline_before_the_turn(db_url):
    gate = Gate(taken_over={"u1"})
    channel = Channel(ChannelState(db_url), gate)

    async def never(message):  # the turn must not run
        raise AssertionError("the turn ran")

    assert await channel.converse(never, Output(), TurnRequest("u1", "人呢", "m1")) is None
    assert gate.calls == [("test", "u1", "人呢")]


@run_async
async def test_converse_maps_the_menu_digit_runs_the_turn_and_remembers_the_new_menu(db_url):
    gate = Gate()
    channel = Channel(ChannelState(db_url), gate)
    await channel.remember_menu("u1", Reply(buttons=[Button("落户", "/ask_hukou")]))
    received = []

    async def agent(message):
        received.append(message)
        await message.output_channel.send_response(
            message.sender_id, {"text": "要办哪个？", "buttons": [{"title": "社保", "payload": "/ask_social"}]}
        )

    reply = await channel.converse(agent, Output(), TurnRequest("u1", "1", "m2", {"form": "x"}))
    assert [(m.text, m.sender_id, m.message_id, m.input_channel, m.metadata) for m in received] == [
        ("/ask_hukou", "u1", "m2", "test", {"form": "x"})
    ]
    assert reply is not None and reply.texts == ["要办哪个？"] and gate.calls == [("test", "u1", "1")]
    assert await channel.menu_payload("u1", "1") == "/ask_social"


# -- rate limits ------------------------------------------------------------------------------------------------------


def test_token_buckets_allow_a_burst_then_refill_per_key():
    from channels._base import RateLimit, TokenBuckets

    now = [1000.0]
    buckets = TokenBuckets(RateLimit(per_minute=6, burst=3), clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(4)] == [True, True, True, False]
    assert buckets.take("b")  # another key has its own bucket
    now[0] += 10  # 6 a minute: one token every 10 s
    assert buckets.take("a") and not buckets.take("a")
    now[0] += 3600
    assert [buckets.take("a") for _ in range(4)] == [True, True, True, False]  # never more than the burst


def test_token_buckets_forget_idle_keys_first_and_stay_bounded():
    from channels._base import RateLimit, TokenBuckets

    now = [0.0]
    buckets = TokenBuckets(RateLimit(per_minute=1, burst=2), max_keys=10, clock=lambda: now[0])
    assert buckets.take("flooder") and buckets.take("flooder") and not buckets.take("flooder")
    for n in range(30):  # many one-off keys: the flooder's empty bucket is not the one forgotten
        buckets.take(f"k{n}")
        now[0] += 0.01
    assert len(buckets._buckets) <= 10
    assert not buckets.take("flooder")


def test_webhook_limits_read_requests_per_minute_from_the_settings():
    from channels._base import ADDRESS_LIMIT_PER_MINUTE, RateLimit, WebhookLimits

    limits = WebhookLimits.from_env({"WEBHOOK_SENDER_LIMIT": "2"})
    assert limits.senders.limit == RateLimit(2) and limits.addresses.limit == RateLimit(ADDRESS_LIMIT_PER_MINUTE)
    assert [limits.sender_allowed("sms", "13800001111") for _ in range(3)] == [True, True, False]
    assert limits.sender_allowed("wechat", "13800001111")  # per channel and sender
    for bad in ("many", "0", "-3"):
        with pytest.raises(ValueError, match="rate limit"):
            WebhookLimits.from_env({"WEBHOOK_ADDRESS_LIMIT": bad})
