"""Handing the conversation to the 12333 hotline, and recording that for the operator console.

Used when the worker asks for a person, says they are not understood ("你到底懂不懂": an apology first), after two
non-answers in a row (actions/answer.py, the check menu) and when a rule is decided locally and the worker wants to
pursue it (the "转人工" button). The worker always gets the numbers, even when the
record cannot be written.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions._dialogue import channel, frustrated, latest_text
from actions._messages import HOTLINE, NATIONAL_HOTLINE, fallback_payload, handoff_payload
from bot.cases import CaseStoreUnavailable
from nlu.extract import mask_pii

log = logging.getLogger(__name__)

HANDOFF_TEXT = (
    f"好的，给您转人工。请拨打宁夏人社政策咨询电话 {HOTLINE}（在外省也可以拨 {NATIONAL_HOTLINE}），工作人员会帮您解答。"
)
APOLOGY_TEXT = (
    f"对不起，是我没弄明白，耽误您了。给您转人工：请拨打宁夏人社政策咨询电话 {HOTLINE}（在外省也可以拨 "
    f"{NATIONAL_HOTLINE}），我把您刚才说的情况记下了，工作人员会接着帮您。"
)
REPEATED_MISS_TEXT = (
    f"这个问题我没把握答准，就不乱说了。请拨打宁夏人社政策咨询电话 {HOTLINE}（在外省也可以拨 {NATIONAL_HOTLINE}），"
    "工作人员会帮您解答。"
)


def handoff_summary(tracker: Tracker) -> dict[str, Any]:
    """What the operator needs to pick the conversation up: topic, facts given, the worker's last question, and
    the rule last answered or checked (as `last_rule` among the facts: the store's summary has no field of its
    own for it)."""
    last_question = tracker.get_slot("last_question") or latest_text(tracker)
    facts = dict(tracker.get_slot("facts") or {})
    last_rule = tracker.get_slot("eligibility_rule") or tracker.get_slot("last_rule_id")
    if last_rule:
        facts["last_rule"] = last_rule
    return {"topic": tracker.get_slot("topic"), "facts": facts, "last_question": mask_pii(last_question or "")}


def hand_off(
    dispatcher: CollectingDispatcher, tracker: Tracker, *, reason: str, text: str = HANDOFF_TEXT, target: str = "12333"
) -> list[EventType]:
    """Give the hotline, send the handoff payload and record the handoff; returns the events to apply."""
    dispatcher.utter_message(text=text)
    dispatcher.utter_message(json_message=handoff_payload(target))
    try:
        services.handoffs().record_handoff(
            tracker.sender_id, channel(tracker), target, handoff_summary(tracker), reason
        )
    except (CaseStoreUnavailable, ValueError) as error:
        # The worker has the number either way; the console just misses this one summary.
        log.warning("handoff for conversation %s not recorded: %s", mask_pii(tracker.sender_id), error)
    return [SlotSet("miss_count", 0), SlotSet("pending_question", None)]


class ActionHandoff(Action):
    """The worker asked for a person (or pressed "转人工"): 0951-12333 and a recorded handoff."""

    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        if frustrated(latest_text(tracker)):
            return hand_off(dispatcher, tracker, reason="frustration", text=APOLOGY_TEXT)
        reason = "decided_locally" if _after_local_rule(tracker) else "user_request"
        return hand_off(dispatcher, tracker, reason=reason)


def _after_local_rule(tracker: Tracker) -> bool:
    """True when the worker pressed "转人工" under an answer whose rule is decided locally."""
    rule_id = tracker.get_slot("last_rule_id")
    if not rule_id or not (tracker.latest_message or {}).get("text", "").startswith("/request_human"):
        return False
    rule = services.policies().get(rule_id)
    return bool(rule and rule.decided_locally)


class ActionAcknowledge(Action):
    """A yes or no that answers nothing ("好的", "嗯嗯 那个东西"). After a clarifying question or a menu it is the
    second non-answer in a row: 12333 (issue 12 §4). With nothing said yet to say yes to, it is itself a non-answer
    (the fallback payload, counted). Otherwise: "您还想问啥？"."""

    def name(self) -> str:
        return "action_acknowledge"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        misses = int(tracker.get_slot("miss_count") or 0)
        if misses >= 1:
            return hand_off(dispatcher, tracker, reason="repeated_fallback", text=REPEATED_MISS_TEXT)
        dispatcher.utter_message(response="utter_anything_else")
        if tracker.get_slot("last_rule_id"):
            return []
        dispatcher.utter_message(json_message=fallback_payload(reason="nothing_to_acknowledge"))
        return [SlotSet("miss_count", misses + 1)]
