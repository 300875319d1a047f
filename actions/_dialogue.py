"""Reading the conversation: the latest message's text, intent and entities, the channel, the date."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker

from policies_kb.topics import INTENT_TOPICS as REGISTRY_INTENT_TOPICS
from policies_kb.topics import TOPIC_INTENTS as TOPIC_INTENTS  # re-exported: topic → its intent

# The topic intents and the knowledge-base topic each asks about (policies_kb/topics.yaml); a wage-arrears report
# is a labour-rights question.
INTENT_TOPICS = {**REGISTRY_INTENT_TOPICS, "report_wage_arrears": "labor_rights"}


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
