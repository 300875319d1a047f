"""Shared fixtures for the knowledge-base tests."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from policies_kb import KnowledgeBase

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
REPO = HERE.parent.parent
DAY = datetime.date(2026, 11, 29)


@pytest.fixture(scope="session")
def fixture_kb() -> KnowledgeBase:
    """The small hand-written knowledge base in tests/kb/fixtures (7 rules, 4 facts)."""
    return KnowledgeBase.load(FIXTURES / "rules", FIXTURES / "facts")


@pytest.fixture(scope="session")
def day() -> datetime.date:
    return DAY
