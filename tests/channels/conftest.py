"""Fixtures for the channel tests: a migrated app store per test (a real SQLite file), and a takeover gate that
records its calls."""

from __future__ import annotations

import pytest

from bot.store import migrate
from tests.channels.support import Gate


@pytest.fixture
def db_url(tmp_path):
    """A fresh app store, migrated with the real Alembic migrations (every branch, the channels' included)."""
    url = f"sqlite:///{tmp_path / 'assistant.db'}"
    migrate(url)
    return url


@pytest.fixture
def gate():
    return Gate()
