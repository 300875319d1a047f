"""Leaving a form cleanly when the worker changes course (a new question, a person, "算了").

The forms' slots have custom mappings, so each form's validation action decides what the latest message is:
`is_interruption()` says the message is not an answer but something the worker wants instead; the validation action
then sets no slot, the form rejects, and the rules in data/rules_forms.yml handle the message after
`action_leave_form` has ended the form. A message that reads as a valid answer is taken as the answer even when NLU
thinks it is a question ("我是返乡创业的农民工" answers "是不是重点就业群体"), unless it asks something.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions._dialogue import active_form, latest_intent, latest_text
from nlu.answers import asks_something
from policies_kb.topics import REGISTRY

_TOPIC_QUESTIONS = tuple(topic.intent for topic in REGISTRY)
# The intents that leave each form (mirrors data/rules_forms.yml; tests/actions/test_forms.py checks both agree).
# Case descriptions read like labour-rights or insurance questions, so those do not leave the intake form
# (leaves_case_intake in policies_kb/topics.yaml).
INTERRUPTIONS: dict[str, frozenset[str]] = {
    "eligibility_form": frozenset(
        _TOPIC_QUESTIONS
        + (
            "ask_followup",
            "report_wage_arrears",
            "check_eligibility",
            "start_case",
            "check_case_status",
            "request_human",
            "stop",
            "goodbye",
        )
    ),
    "case_intake_form": frozenset(
        tuple(topic.intent for topic in REGISTRY if topic.leaves_case_intake)
        + ("check_eligibility", "check_case_status", "request_human", "stop")
    ),
    "case_status_form": frozenset(
        _TOPIC_QUESTIONS + ("report_wage_arrears", "start_case", "check_eligibility", "request_human", "stop")
    ),
}
# These leave the form whatever the message parses as ("不问了" is not the answer "不").
ALWAYS_LEAVE = frozenset(("stop", "request_human", "check_case_status", "start_case", "check_eligibility"))
CONFIDENT = 0.8


def is_interruption(tracker: Tracker, form: str, *, answers: bool) -> bool:
    """Whether the latest message leaves `form` rather than answering its question (`answers`: it parses as one)."""
    intent, confidence = latest_intent(tracker)
    if intent not in INTERRUPTIONS.get(form, ()) or confidence < CONFIDENT:
        return False
    if intent in ALWAYS_LEAVE:
        return True
    return not answers or asks_something(latest_text(tracker))


class FormValidator(FormValidationAction, ABC):
    """rasa-sdk's form validation with what every form here shares: a fresh start and a clean exit.

    rasa-sdk runs the hooks: `required_slots()` (the slots this case needs), `extract_<slot>()`, `validate_<slot>()`
    for each slot just set, then the next missing slot becomes `requested_slot` (None ends the form). A requested
    slot without an `extract_<slot>` hook takes the latest text as its answer; a message that leaves the form
    (`is_interruption`) sets nothing, so the form rejects. rasa-sdk has no hook for a form's first
    turn (Rasa validates the activating message before the form is active): `start()` gives the slots' starting
    values then, read from what the worker already said.
    """

    @abstractmethod
    def start(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        """The slots' values when the form starts."""

    def reads_as(self, slot: str, text: str) -> bool:
        """Whether `text` can be an answer for `slot` (a message that reads as one stays in the form)."""
        return bool(text)

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if active_form(tracker) == self.form_name():
            if self.leaves(tracker, domain):
                return []  # the form rejects; data/rules_forms.yml leaves it and handles the message
            return await super().run(dispatcher, tracker, domain)
        events: list[EventType] = [SlotSet(slot, value) for slot, value in self.start(dispatcher, tracker).items()]
        tracker.add_slots(events)
        return events + [await self.next_requested_slot(dispatcher, tracker, domain)]

    def leaves(self, tracker: Tracker, domain: DomainDict) -> bool:
        """Whether the latest message leaves the form instead of answering its question."""
        slot, text = tracker.get_slot(REQUESTED_SLOT), latest_text(tracker)
        if slot not in self.domain_slots(domain):
            return True
        return is_interruption(tracker, self.form_name(), answers=self.reads_as(slot, text))

    async def get_extraction_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """rasa-sdk's `extract_<slot>` hooks; a requested slot without one takes the latest text as its answer."""
        events = await super().get_extraction_events(dispatcher, tracker, domain)
        slot = tracker.get_slot(REQUESTED_SLOT)
        if not hasattr(self, f"extract_{slot}"):
            events.append(SlotSet(slot, latest_text(tracker)))
        return events

    async def next_requested_slot(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventType:
        """The first required slot still empty, always named (rasa-sdk leaves it to Rasa when the required slots are
        the domain's, which gives the same slot; naming it keeps every turn's events the same)."""
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        return SlotSet(REQUESTED_SLOT, next((slot for slot in required if tracker.slots.get(slot) is None), None))


# What is left behind, per form, and the short note the worker gets when the form is left for something else.
_RESETS = {
    "eligibility_form": ("eligibility_rule", "fact_answer", "fact_retries"),
    "case_intake_form": (),
    "case_status_form": ("lookup_case_id", "lookup_phone"),
}
_NOTES = {
    "eligibility_form": "（刚才的条件查询先停下了，想接着查随时说。）",
    "case_intake_form": "（刚才的登记先停下了，没有提交。想登记时说“登记欠薪”。）",
}
_SILENT_INTENTS = {"stop", "goodbye", "request_human", "check_eligibility", "start_case", "check_case_status"}


class ActionLeaveForm(Action):
    """Deactivate the running form and clear its working slots (facts already given are kept)."""

    def name(self) -> str:
        return "action_leave_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        form = active_form(tracker)
        intent, _ = latest_intent(tracker)
        note = _NOTES.get(form or "")
        if note and intent not in _SILENT_INTENTS:
            dispatcher.utter_message(text=note)
        resets = [SlotSet(slot, 0 if slot == "fact_retries" else None) for slot in _RESETS.get(form or "", ())]
        return [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None), *resets]
