"""Fixtures for the channel tests: a migrated app store per test (a real SQLite file)."""

from __future__ import annotations

import pytest

from bot.store import migrate


@pytest.fixture
def db_url(tmp_path):
    """A fresh app store, migrated with the real Alembic migrations (every branch, the channels' included)."""
    url = f"sqlite:///{tmp_path / 'assistant.db'}"
    migrate(url)
    return url


class Gate:
    """A stand-in for `bot.takeover.intercept` that records its calls and takes over the listed senders."""

    def __init__(self, taken_over: set[str] | None = None) -> None:
        self.taken_over = taken_over or set()
        self.calls: list[tuple[str, str, str]] = []

    async def __call__(self, channel: str, sender_id: str, text: str) -> bool:
        self.calls.append((channel, sender_id, text))
        return sender_id in self.taken_over


@pytest.fixture
def gate():
    return Gate()
