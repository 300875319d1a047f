"""The story tests (tests/test_stories.yml) against the trained model: every action of every flow predicted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.settings import ROOT, Settings

STORIES = ROOT / "tests" / "test_stories.yml"


def test_every_story_predicts_every_action(trained_model, tmp_path: Path):
    command = [
        str(Path(sys.executable).with_name("rasa")),
        "test",
        "core",
        "--stories",
        str(STORIES),
        "--model",
        str(trained_model),
        "--out",
        str(tmp_path),
        "--fail-on-prediction-errors",
        "--no-plot",
    ]
    result = subprocess.run(
        command, cwd=ROOT, env=Settings.from_env().rasa_environment(), capture_output=True, text=True, timeout=1200
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    failed = tmp_path / "failed_test_stories.yml"
    assert not failed.exists() or "None of the test stories failed" in failed.read_text(encoding="utf-8"), (
        failed.read_text(encoding="utf-8")
    )
