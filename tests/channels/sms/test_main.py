"""channels/sms/__main__.py: `python -m channels.sms callback-token`, run as a real subprocess and called directly."""

from __future__ import annotations

import os
import subprocess
import sys

from bot.settings import ROOT, Settings
from channels.sms.__main__ import main
from channels.sms.inbound import tencent_callback_token


def test_callback_token_prints_the_path_tencents_console_needs():
    env = {**os.environ, "SMS_WEBHOOK_SECRET": "a-real-secret", "NXA_ENV": "production"}
    result = subprocess.run(
        [sys.executable, "-m", "channels.sms", "callback-token"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"/webhooks/sms/webhook?token={tencent_callback_token('a-real-secret')}"


def test_usage_and_a_missing_secret_are_errors(capsys):
    assert main([], Settings.from_env({})) == 2
    assert "usage" in capsys.readouterr().out
    assert main(["callback-token"], Settings.from_env({"NXA_ENV": "production"})) == 1
    assert "SMS_WEBHOOK_SECRET" in capsys.readouterr().err
    assert main(["callback-token"], Settings.from_env({})) == 0  # development: the public stand-in
    assert tencent_callback_token("dev-sms-webhook-secret") in capsys.readouterr().out
