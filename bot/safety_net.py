"""Every user turn gets an answer: an apology with 12333 when the assistant itself could not produce one.

Rasa 3.6 does not fail a turn whose custom action cannot run (action server down or restarting, a 500 from an
action, a timeout): it logs the error, drops the action's events and carries on, so the user gets *no message at
all*. A worker on WeChat or SMS then waits for nothing. An input channel wraps the handler it is given once:

    def blueprint(self, on_new_message):
        on_new_message = with_safety_net(on_new_message)
        ...

and whenever a turn ends without a single bot message, or raises, the user gets `APOLOGY` (plus the 12333 handoff
payload of the chat contract) through the turn's own output channel; the error is logged, never shown. Turns that
produced a reply are untouched. A channel that does not hand a message to Rasa at all (an operator has taken the
conversation over) does not call the handler, so the assistant stays silent there, as it must.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage

__all__ = ["APOLOGY", "APOLOGY_PAYLOAD", "with_safety_net"]

logger = logging.getLogger(__name__)

APOLOGY = (
    "抱歉，系统刚才出了点问题，没能回答您。请稍后再发一次，或直接拨打人社政策咨询电话 0951-12333（外省可拨 12333）。"
)
APOLOGY_PAYLOAD = {"kind": "handoff", "target": "12333", "phone": "0951-12333"}

Handler = Callable[[UserMessage], Awaitable[Any]]


def _count_replies(output: OutputChannel) -> list[int]:
    """Count the bot messages sent through `output` from now on (Rasa sends every one through `send_response`)."""
    sent = [0]
    send_response = output.send_response

    async def counting_send_response(recipient_id: str, message: dict[str, Any]) -> None:
        sent[0] += 1
        await send_response(recipient_id, message)

    output.send_response = counting_send_response  # on this instance only: one turn's output channel
    return sent


async def _apologise(message: UserMessage, reason: str) -> None:
    logger.error(
        "turn of %r on %r produced no reply (%s); sending the apology", message.sender_id, message.input_channel, reason
    )
    output = message.output_channel
    try:
        await output.send_text_message(message.sender_id, APOLOGY)
        # Rasa's base class would send the payload as JSON text: only channels that render payloads get it
        if type(output).send_custom_json is not OutputChannel.send_custom_json:
            await output.send_custom_json(message.sender_id, dict(APOLOGY_PAYLOAD))
    except Exception:  # the channel itself is broken: nothing more we can do here, but say so
        logger.exception("could not send the apology to %r on %r", message.sender_id, message.input_channel)


def with_safety_net(on_new_message: Handler, *, reraise: bool = False) -> Handler:
    """`on_new_message` that guarantees at least one reply per turn (the apology when Rasa produced none).

    With `reraise`, a turn that *raised* is not apologised for but re-raised, for channels whose provider retries
    a failed delivery (SMS callbacks): the retry runs the turn again rather than the worker getting an apology.
    """

    @functools.wraps(on_new_message)
    async def handle(message: UserMessage) -> Any:
        sent = _count_replies(message.output_channel)
        try:
            result = await on_new_message(message)
        except Exception as error:
            if reraise:
                raise
            logger.exception("turn of %r on %r failed", message.sender_id, message.input_channel)
            if sent[0] == 0:
                await _apologise(message, f"{type(error).__name__}")
            return None
        if sent[0] == 0:
            await _apologise(message, "no bot message")
        return result

    return handle
