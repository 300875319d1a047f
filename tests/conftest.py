"""Shared fixtures. `assistant` is the real assistant on free ports, started once per test session."""

from __future__ import annotations

import pytest

from bot.settings import Settings
from tests.support.assistant import Assistant


@pytest.fixture(scope="session")
def trained_model():
    """The current model, trained once if the training inputs changed."""
    from bot.train import ensure_model

    return ensure_model(Settings.from_env())


@pytest.fixture(scope="session")
def assistant(trained_model, tmp_path_factory):
    """The whole assistant (launcher, Rasa, action server, console if present) with its own var/ folder."""
    running = Assistant(tmp_path_factory.mktemp("assistant-var")).start()
    yield running
    running.stop()
