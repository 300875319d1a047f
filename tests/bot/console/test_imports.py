"""Every module of the console imports first, in a fresh interpreter: no import cycle held together by import order."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.settings import ROOT

MODULES = ["web", "_middleware", "_auth_views", "_handoff_views", "_overview_views", "app"]


@pytest.mark.parametrize("module", MODULES)
def test_the_module_imports_first(module):
    result = subprocess.run(
        [sys.executable, "-c", f"import bot.console.{module}"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_web_module_imports_no_view():
    code = "import sys, bot.console.web; print(sorted(m for m in sys.modules if m.startswith('bot.console.')))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not [name for name in eval(result.stdout) if name.endswith("_views") or name == "bot.console.app"]
