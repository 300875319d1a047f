"""Looking a case up: its number and the phone number it was recorded with (the phone proves it is the worker's).

The look-up is `CaseService.look_up`: failed look-ups back off per conversation, case number and phone (then the
answer is "please call 0951-12333" without checking), and only the operators' message to the worker is shown, never
their internal note."""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions import services
from actions._dialogue import latest_text
from actions._messages import HOTLINE, handoff_payload
from actions.forms import FormValidator
from bot.cases import CaseStoreUnavailable, normalize_case_id
from nlu.extract import parse_phone
from nlu.text import normalize_keep_offsets

log = logging.getLogger(__name__)

FORM = "case_status_form"
SLOTS = ("lookup_case_id", "lookup_phone")
# NX, ten digits (YYMMDD and a four-digit count) and four letters (numbers recorded before the letters have none),
# single spaces, dashes or underscores allowed between them.
_CASE_ID = re.compile(r"(?<![a-z])nx[\s\-_]*\d(?:[\s\-_]?\d){9}(?:[\s\-_]?[a-z]{4})?(?![0-9a-z])", re.IGNORECASE)
_ASKED_AGAIN = {
    "lookup_case_id": "案件号是NX开头加10位数字和4个字母，请再发一次。",
    "lookup_phone": "手机号是11位、1开头的，请再发一次。",
}


def find_case_id(text: str) -> str | None:
    """The case number in free text ("我的案件号是nx 2611-29 0007") in canonical form, or None."""
    match = _CASE_ID.search(normalize_keep_offsets(text or ""))
    return normalize_case_id(match.group(0)) if match else None


def find_phone(text: str) -> str | None:
    """The mobile number in free text, once the case number is taken out ("NX2611300002 138 9512 3456")."""
    view = normalize_keep_offsets(text or "")
    return parse_phone(_CASE_ID.sub(" ", view))


class ValidateCaseStatusForm(FormValidator):
    """Reads the case number and the phone wherever they are: both in the request, or one message each, in either
    order ("查案件 NX2611300002 13895123456", "13895123456 NX2611300002", full-width digits, spaces)."""

    def name(self) -> str:
        return "validate_case_status_form"

    def start(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        text = latest_text(tracker)
        return {"lookup_case_id": find_case_id(text), "lookup_phone": find_phone(text)}

    def reads_as(self, slot: str, text: str) -> bool:
        return bool(find_case_id(text) or find_phone(text))

    def extract_lookup_case_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._found("lookup_case_id", find_case_id(latest_text(tracker)), tracker)

    def extract_lookup_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._found("lookup_phone", find_phone(latest_text(tracker)), tracker)

    @staticmethod
    def _found(slot: str, value: str | None, tracker: Tracker) -> dict[str, Any]:
        """The value found in the message; for the slot asked for, None too (then it is asked again)."""
        return {slot: value} if value is not None or tracker.get_slot(REQUESTED_SLOT) == slot else {}

    def validate_lookup_case_id(
        self, value: str | None, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._checked("lookup_case_id", value, dispatcher)

    def validate_lookup_phone(
        self, value: str | None, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._checked("lookup_phone", value, dispatcher)

    @staticmethod
    def _checked(slot: str, value: str | None, dispatcher: CollectingDispatcher) -> dict[str, Any]:
        if value is None:
            dispatcher.utter_message(text=_ASKED_AGAIN[slot])
        return {slot: value}


class ActionCaseStatus(Action):
    """The case's status and the operators' latest message to the worker, only when number and phone match."""

    def name(self) -> str:
        return "action_case_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        case_id, phone = tracker.get_slot("lookup_case_id"), tracker.get_slot("lookup_phone")
        reset = [SlotSet(slot, None) for slot in SLOTS]
        try:
            lookup = services.cases().look_up(case_id or "", phone or "", tracker.sender_id)
        except CaseStoreUnavailable as error:
            log.error("case lookup failed: %s", error)
            dispatcher.utter_message(text=f"对不起，现在查不了，请过一会儿再试，或者打 {HOTLINE} 问。")
            dispatcher.utter_message(json_message=handoff_payload("12333"))
            return reset
        if lookup.refused:
            dispatcher.utter_message(text=f"查询失败的次数太多，现在不能再查。请打{HOTLINE}，工作人员帮您查。")
            return reset
        case = lookup.case
        if case is None:
            dispatcher.utter_message(text=f"没查到。请核对案件号和登记时留的手机号；也可以打 {HOTLINE} 问。")
            return reset
        lines = [
            f"案件 {case.case_id}（{case.case_type_label}，{case.county}）现在的状态是：{case.status}。",
            f"最近更新：{case.updated_at:%Y-%m-%d}。",
        ]
        if lookup.worker_message:
            lines.append(f"工作人员留言：{lookup.worker_message}")
        dispatcher.utter_message(text="\n".join(lines))
        return reset
