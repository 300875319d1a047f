"""`python -m bot.console create-operator NAME` and the development operator from CONSOLE_ADMIN_*."""

from __future__ import annotations

import os
import subprocess
import sys

from bot.console.__main__ import ensure_development_operator
from bot.console._accounts import Accounts
from bot.settings import ROOT, Settings
from bot.store import AppStore, migrate


def create(tmp_path, name: str, stdin: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NXA_VAR_DIR": str(tmp_path), "APP_DB_URL": f"sqlite:///{tmp_path / 'app.db'}"}
    return subprocess.run(
        [sys.executable, "-m", "bot.console", "create-operator", name],
        input=stdin,
        text=True,
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


def test_create_operator_reads_the_password_from_stdin(tmp_path):
    result = create(tmp_path, "wang.li", "a-long-password-1\n")
    assert result.returncode == 0, result.stderr
    assert "已创建操作员 wang.li" in result.stdout
    accounts = Accounts(AppStore(f"sqlite:///{tmp_path / 'app.db'}"))
    assert accounts.authenticate("wang.li", "a-long-password-1") is not None
    assert accounts.authenticate("wang.li", "a-long-password-2") is None

    again = create(tmp_path, "wang.li", "another-password-1\n")
    assert again.returncode == 1 and "已存在" in again.stderr
    short = create(tmp_path, "li", "short\n")
    assert short.returncode == 1 and "至少 10 个字符" in short.stderr
    assert accounts.authenticate("li", "short") is None


def test_development_operator_from_the_environment(tmp_path, capsys):

    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate(url)
    base = {"NXA_VAR_DIR": str(tmp_path), "APP_DB_URL": url}
    ensure_development_operator(Settings.from_env(base))
    assert "create-operator" in capsys.readouterr().out  # says how to create one; no default password

    ensure_development_operator(
        Settings.from_env({**base, "CONSOLE_ADMIN_USER": "admin", "CONSOLE_ADMIN_PASSWORD": "dev-password-123"})
    )
    assert "created operator admin" in capsys.readouterr().out
    assert Accounts(AppStore(url)).authenticate("admin", "dev-password-123") is not None
    ensure_development_operator(
        Settings.from_env({**base, "CONSOLE_ADMIN_USER": "admin", "CONSOLE_ADMIN_PASSWORD": "changed-password-1"})
    )
    assert Accounts(AppStore(url)).authenticate("admin", "dev-password-123") is not None  # never overwritten
    assert capsys.readouterr().out == ""

    ensure_development_operator(
        Settings.from_env(
            {
                **base,
                "NXA_ENV": "production",
                "CONSOLE_ADMIN_USER": "root",
                "CONSOLE_ADMIN_PASSWORD": "prod-password-123",
            }
        )
    )
    assert Accounts(AppStore(url)).authenticate("root", "prod-password-123") is None  # development only


def test_the_secret_key(tmp_path):
    import stat

    import pytest

    settings = Settings.from_env({"NXA_VAR_DIR": str(tmp_path)})
    key = settings.console_secret_key()
    assert len(key) >= 32 and key == settings.console_secret_key()
    assert stat.S_IMODE((tmp_path / "console-secret-key").stat().st_mode) == 0o600
    assert Settings.from_env({"CONSOLE_SECRET_KEY": "k" * 40}).console_secret_key() == b"k" * 40
    with pytest.raises(ValueError, match="at least 32"):
        Settings.from_env({"CONSOLE_SECRET_KEY": "short"}).console_secret_key()
    with pytest.raises(ValueError, match="production"):
        Settings.from_env({"NXA_VAR_DIR": str(tmp_path), "NXA_ENV": "production"}).console_secret_key()
