"""Looking a case up: its number and the phone number it was recorded with (the phone proves it is the worker's)."""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT

from actions import services
from actions._dialogue import active_form, latest_text
from actions._messages import HOTLINE, handoff_payload
from actions.forms import is_interruption
from bot.cases import CaseStoreUnavailable, normalize_case_id
from nlu.extract import parse_phone
from nlu.text import normalize

log = logging.getLogger(__name__)

FORM = "case_status_form"
SLOTS = ("lookup_case_id", "lookup_phone")
_CASE_ID = re.compile(r"nx[\s\-_]*\d(?:[\s\-_]*\d){9,}", re.IGNORECASE)


def find_case_id(text: str) -> str | None:
    """The case number in free text ("我的案件号是nx 2611-29 0007") in canonical form, or None."""
    match = _CASE_ID.search(normalize(text or ""))
    return normalize_case_id(match.group(0)) if match else None


class ValidateCaseStatusForm(FormValidationAction):
    """Reads the case number and the phone, from one message or two, in either order."""

    def name(self) -> str:
        return "validate_case_status_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        text = latest_text(tracker)
        values = {slot: tracker.get_slot(slot) for slot in SLOTS}
        if active_form(tracker) != FORM:
            values = {"lookup_case_id": find_case_id(text), "lookup_phone": parse_phone(text)}
        else:
            requested = tracker.get_slot(REQUESTED_SLOT)
            found = {"lookup_case_id": find_case_id(text), "lookup_phone": parse_phone(text)}
            if requested not in SLOTS or is_interruption(tracker, FORM, answers=any(found.values())):
                return []  # the form rejects; data/rules_forms.yml leaves it and handles the message
            values = {slot: found[slot] or values[slot] for slot in SLOTS}
            if values[requested] is None:
                dispatcher.utter_message(
                    text="案件号是NX开头加10位数字，请再发一次。"
                    if requested == "lookup_case_id"
                    else "手机号是11位、1开头的，请再发一次。"
                )
        missing = [slot for slot in SLOTS if values[slot] is None]
        return [SlotSet(slot, value) for slot, value in values.items()] + [
            SlotSet(REQUESTED_SLOT, missing[0] if missing else None)
        ]


class ActionAskLookupCaseId(Action):
    def name(self) -> str:
        return "action_ask_lookup_case_id"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text="请发一下案件号（NX开头，比如 NX2611290007）。")
        return []


class ActionAskLookupPhone(Action):
    def name(self) -> str:
        return "action_ask_lookup_phone"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text="再发一下登记时留的手机号，核对是您本人。")
        return []


class ActionCaseStatus(Action):
    """The case's status and latest note, only when number and phone match."""

    def name(self) -> str:
        return "action_case_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        case_id, phone = tracker.get_slot("lookup_case_id"), tracker.get_slot("lookup_phone")
        reset = [SlotSet(slot, None) for slot in SLOTS]
        try:
            case = services.cases().case_status(case_id or "", phone or "")
            history = services.cases().case_history(case.case_id) if case else []
        except CaseStoreUnavailable as error:
            log.error("case lookup failed: %s", error)
            dispatcher.utter_message(text=f"对不起，现在查不了，请过一会儿再试，或者打 {HOTLINE} 问。")
            dispatcher.utter_message(json_message=handoff_payload("12333"))
            return reset
        if case is None:
            dispatcher.utter_message(text=f"没查到。请核对案件号和登记时留的手机号；也可以打 {HOTLINE} 问。")
            return reset
        lines = [
            f"案件 {case.case_id}（{case.case_type_label}，{case.county}）现在的状态是：{case.status}。",
            f"最近更新：{case.updated_at:%Y-%m-%d}。",
        ]
        notes = [event.note for event in history if event.actor != "worker" and event.note]
        if notes:
            lines.append(f"处理说明：{notes[-1]}")
        dispatcher.utter_message(text="\n".join(lines))
        return reset
