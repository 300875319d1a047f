"""Settings: built once per process (`use` / `current`), the event broker's database, Rasa's API token."""

from __future__ import annotations

import stat

import bot.settings
from bot.settings import ROOT, Settings, current, use


def test_current_is_what_the_entry_point_built(monkeypatch, tmp_path):
    monkeypatch.setattr(bot.settings, "_current", None)
    built = use(Settings.from_env({"NXA_VAR_DIR": str(tmp_path), "RASA_PORT": "6006"}))
    assert current() is built and current().rasa_port == 6006
    monkeypatch.setenv("RASA_PORT", "7007")  # read once: a later change of the environment changes nothing
    assert current() is built


def test_current_builds_the_settings_once_when_no_entry_point_did(monkeypatch):
    monkeypatch.setattr(bot.settings, "_current", None)
    monkeypatch.setenv("RASA_PORT", "6116")
    first = current()
    assert first.rasa_port == 6116 and current() is first


def test_the_event_broker_writes_its_own_sqlite_file_or_the_server_app_store(tmp_path):
    local = Settings.from_env({"NXA_VAR_DIR": str(tmp_path)})
    assert local.events_db_url == f"sqlite:///{tmp_path / 'events.db'}"
    postgres = "postgresql://nxa:secret@127.0.0.1:5432/app"
    assert Settings.from_env({"APP_DB_URL": postgres}).events_db_url == postgres
    own = Settings.from_env({"APP_DB_URL": postgres, "EVENTS_DB_URL": "sqlite:////srv/events.db"})
    assert own.events_db_url == "sqlite:////srv/events.db"
    assert local.rasa_environment()["EVENTS_DB_URL"] == local.events_db_url


def test_both_endpoints_files_configure_the_sql_event_broker(tmp_path):
    import yaml

    for name in ("endpoints.yml", "endpoints.postgres.yml"):
        broker = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))["event_broker"]
        assert broker == {"type": "SQL", "url": "${EVENTS_DB_URL}"}, name
    settings = Settings.from_env({"NXA_VAR_DIR": str(tmp_path)})
    assert settings.unset_endpoint_variables() == []


def test_the_rasa_token_comes_from_the_environment_or_is_generated_once(tmp_path):
    assert Settings.from_env({"RASA_AUTH_TOKEN": "given"}).rasa_auth_token() == "given"
    settings = Settings.from_env({"NXA_VAR_DIR": str(tmp_path)})
    token = settings.rasa_auth_token()
    assert len(token) >= 24 and settings.rasa_auth_token() == token
    assert stat.S_IMODE((tmp_path / "rasa-auth-token").stat().st_mode) == 0o600
