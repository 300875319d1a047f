"""Fixtures of the action unit tests: a tracker builder, the real domain, a migrated case store, a fixed day.

Actions run exactly as the action server runs them (`await action.run(dispatcher, tracker, domain)`), on a
rasa_sdk Tracker built here; no Rasa server, no model.
"""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from bot.cases import CaseService
from bot.handoffs import HandoffService
from bot.store import AppStore, migrate
from tests.support.domain import load_domain

DAY = datetime.date(2026, 11, 29)


@pytest.fixture(scope="session")
def domain() -> dict:
    return load_domain()


@pytest.fixture
def app_store_for_actions(tmp_path: Path) -> AppStore:
    """A migrated SQLite app store for this test's services."""
    url = f"sqlite:///{tmp_path / 'assistant.db'}"
    migrate(url)
    return AppStore(url)


@pytest.fixture
def case_service(app_store_for_actions: AppStore, monkeypatch) -> CaseService:
    """The case service that `actions.services.cases()` returns for this test."""
    service = CaseService(app_store_for_actions)
    monkeypatch.setattr(services, "cases", lambda: service)
    return service


@pytest.fixture
def handoff_service(app_store_for_actions: AppStore, monkeypatch) -> HandoffService:
    """The handoff service that `actions.services.handoffs()` returns for this test (same store as the cases)."""
    service = HandoffService(app_store_for_actions)
    monkeypatch.setattr(services, "handoffs", lambda: service)
    return service


def make_tracker(
    text: str = "",
    *,
    intent: str | None = None,
    confidence: float = 1.0,
    entities: list[dict] | None = None,
    slots: dict[str, Any] | None = None,
    active_loop: str | None = None,
    sender_id: str = "worker-1",
    channel: str = "rest",
    ranking: list[tuple[str, float]] | None = None,
) -> Tracker:
    """A tracker whose latest message is `text` with `intent`, in `active_loop`, with `slots` set."""
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence} if intent else {},
        "intent_ranking": [{"name": name, "confidence": conf} for name, conf in (ranking or [])],
        "entities": entities or [],
    }
    events = [{"event": "user", "text": text, "parse_data": latest, "input_channel": channel}]
    return Tracker(
        sender_id=sender_id,
        slots=dict(slots or {}),
        latest_message=latest,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def run(action, tracker: Tracker, domain: dict, day: datetime.date = DAY) -> tuple[list[dict], list[dict]]:
    """Run the action on `day`; returns (events, messages) as the action server would send them."""
    if hasattr(action, "today"):
        action.today = lambda: day
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, domain))
    return events, dispatcher.messages


def texts(messages: list[dict]) -> list[str]:
    return [m["text"] for m in messages if m.get("text")]


def customs(messages: list[dict]) -> list[dict]:
    return [m["custom"] for m in messages if m.get("custom")]


def message(text: str = None, *, buttons: list | None = None, custom: dict | None = None) -> dict:
    """A message exactly as CollectingDispatcher.utter_message stores it."""
    return {
        "text": text,
        "buttons": buttons or [],
        "elements": [],
        "custom": custom or {},
        "template": None,
        "response": None,
        "image": None,
        "attachment": None,
    }
