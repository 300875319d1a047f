"""bot.safety_net: a turn that produced no bot message, or raised, gets the apology with 12333; others are untouched."""

import asyncio
import logging

from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage

from bot.safety_net import APOLOGY, APOLOGY_PAYLOAD, with_safety_net


def _turn(handler, output=None, text="老板欠我工钱"):
    output = output or CollectingOutputChannel()
    message = UserMessage(text, output, "worker-1", input_channel="rest")
    result = asyncio.run(with_safety_net(handler)(message))
    return output, result


async def _replies_like_rasa(message: UserMessage):
    # Rasa sends every bot message through send_response (rasa/core/processor.py, execute_side_effects)
    await message.output_channel.send_response(message.sender_id, {"text": "您好"})
    return "handled"


async def _silent_like_rasa_with_the_action_server_down(message: UserMessage):
    logging.getLogger("rasa.core.processor").error("Encountered an exception while running action 'action_x'")


async def _raises(message: UserMessage):
    raise RuntimeError("database is locked")


def test_a_turn_with_a_reply_is_untouched_and_its_result_passed_on():
    output, result = _turn(_replies_like_rasa)
    assert [m["text"] for m in output.messages] == ["您好"]
    assert result == "handled"


def test_a_silent_turn_gets_the_apology_with_12333_and_the_handoff_payload(caplog):
    output, _ = _turn(_silent_like_rasa_with_the_action_server_down)
    assert [m.get("text") for m in output.messages if m.get("text")] == [APOLOGY]
    assert [m["custom"] for m in output.messages if m.get("custom")] == [APOLOGY_PAYLOAD]
    assert "12333" in APOLOGY
    assert "produced no reply" in caplog.text


def test_a_turn_that_raises_gets_the_apology_and_no_traceback_reaches_the_user(caplog):
    output, result = _turn(_raises)
    assert result is None
    assert [m.get("text") for m in output.messages if m.get("text")] == [APOLOGY]
    assert "Traceback" not in str(output.messages) and "database is locked" not in str(output.messages)
    assert "database is locked" in caplog.text  # ... but the log has it


def test_a_turn_that_raises_after_replying_sends_no_apology():
    async def replies_then_raises(message):
        await message.output_channel.send_response(message.sender_id, {"text": "您好"})
        raise RuntimeError("late failure")

    output, _ = _turn(replies_then_raises)
    assert [m["text"] for m in output.messages] == ["您好"]


def test_channels_that_cannot_render_payloads_get_the_text_only():
    class TextOnly(OutputChannel):
        def __init__(self):
            self.sent = []

        async def send_text_message(self, recipient_id, text, **kwargs):
            self.sent.append(text)

    output, _ = _turn(_silent_like_rasa_with_the_action_server_down, TextOnly())
    assert output.sent == [APOLOGY]


def test_each_turn_counts_its_own_replies():
    handler = with_safety_net(_silent_like_rasa_with_the_action_server_down)
    for _ in range(3):
        output = CollectingOutputChannel()
        asyncio.run(handler(UserMessage("你好", output, "w", input_channel="rest")))
        assert [m.get("text") for m in output.messages if m.get("text")] == [APOLOGY]
