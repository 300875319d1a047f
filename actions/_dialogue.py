"""Reading the conversation: the latest message's text, intent and entities, the channel, the date."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker

# The topic intents and the knowledge-base topic each asks about.
INTENT_TOPICS = {
    "ask_settlement": "settlement",
    "ask_schooling": "schooling",
    "ask_housing": "housing",
    "ask_insurance": "insurance",
    "ask_startup_loan": "startup_loan",
    "ask_labor_rights": "labor_rights",
    "ask_training": "training",
    "ask_employment": "employment",
    "report_wage_arrears": "labor_rights",
}
TOPIC_INTENTS = {topic: intent for intent, topic in INTENT_TOPICS.items() if intent.startswith("ask_")}


def latest_text(tracker: Tracker) -> str:
    """What the worker typed last; "" for a button payload ("/ask_housing{...}")."""
    text = (tracker.latest_message or {}).get("text") or ""
    return "" if text.startswith("/") else text.strip()


def latest_intent(tracker: Tracker) -> tuple[str | None, float]:
    intent = (tracker.latest_message or {}).get("intent") or {}
    return intent.get("name"), float(intent.get("confidence") or 0.0)


def intent_ranking(tracker: Tracker) -> list[tuple[str, float]]:
    ranking = (tracker.latest_message or {}).get("intent_ranking") or []
    return [(item.get("name"), float(item.get("confidence") or 0.0)) for item in ranking if item.get("name")]


def entity(tracker: Tracker, name: str) -> Any | None:
    """The value of the latest message's first entity called `name`, or None."""
    return next(tracker.get_latest_entity_values(name), None)


def entities(tracker: Tracker, name: str) -> list[Any]:
    return list(tracker.get_latest_entity_values(name))


def channel(tracker: Tracker) -> str:
    """The input channel of the latest message ("rest", "wechat", "sms")."""
    return tracker.get_latest_input_channel() or "unknown"


def active_form(tracker: Tracker) -> str | None:
    """The form that is running, or None (Rasa's "should_not_be_set" placeholder counts as none)."""
    return tracker.active_loop_name
