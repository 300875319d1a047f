"""Issue 14 §2, §6 (processes), §8, §10: the action server is no side door, secure defaults, masked logs in every
process, least privilege and retention (findings F2, F4, F8, L5, L6, L9, L11, L12).

The attacks run against the real launcher (`python -m bot run`, tests/support/assistant.py) at DEBUG level: a
hand-made tracker POSTed straight to the action server, the children's environments and command lines read from
/proc as another local process would, the launcher's prefixed output scanned after a full wage-arrears intake. The
retention job runs on real SQLite files written by Rasa's own tracker store and event broker and by the app store.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sqlite3
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot import privacy
from bot.cases import STATUS_CLOSED, STATUS_IN_PROGRESS, CaseService
from bot.retention import PURGED, parse_age, purge
from bot.settings import DEVELOPMENT_CHANNEL_ENV, ROOT, Settings
from bot.store import AppStore, migrate
from tests.cases.conftest import make_submission
from tests.reliability.support import HAS_INTAKE, INTAKE_ANSWERS, answer_until, start_intake
from tests.support import assistant as assistant_support
from tests.support.assistant import Assistant, free_port, texts
from tests.support.processes import child_pids

ID_NUMBER = "640102199001011234"
# Secrets the test hands the launcher, to see which child gets which (none is a development stand-in).
SECRETS = {
    "CONSOLE_SECRET_KEY": "console-secret-" + "k" * 32,
    "SMS_WEBHOOK_SECRET": "sms-webhook-secret-for-the-probe",
    "WECHAT_TOKEN": "wechat-token-for-the-probe",
    "WECHAT_APP_SECRET": "wechat-app-secret-for-the-probe",
    "TRACKER_DB_PASSWORD": "tracker-db-password-for-the-probe",
    "REDIS_PASSWORD": "redis-password-for-the-probe",
}
NEEDS = {  # what each child must still get
    "rasa": {"RASA_AUTH_TOKEN", "ACTION_SERVER_TOKEN", "SMS_WEBHOOK_SECRET", "WECHAT_TOKEN", "APP_DB_URL"},
    "actions": {"ACTION_SERVER_TOKEN", "APP_DB_URL", "SANIC_HOST"},
    "console": {"CONSOLE_SECRET_KEY", "RASA_AUTH_TOKEN", "WECHAT_APP_SECRET", "APP_DB_URL"},
    "notifier": {"WECHAT_APP_SECRET", "APP_DB_URL"},  # outbound only: case notifications
}
NEVER = {  # what each child must not get
    "rasa": {"CONSOLE_SECRET_KEY"},
    "actions": set(SECRETS) | {"RASA_AUTH_TOKEN"},
    "console": {"SMS_WEBHOOK_SECRET", "WECHAT_TOKEN", "ACTION_SERVER_TOKEN", "TRACKER_DB_PASSWORD", "REDIS_PASSWORD"},
    "notifier": (set(SECRETS) - {"WECHAT_APP_SECRET"}) | {"RASA_AUTH_TOKEN", "ACTION_SERVER_TOKEN"},
}

pytestmark = pytest.mark.e2e


# -- the real assistant at DEBUG ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def debug_assistant(trained_model, tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("processes-var")
    var_dir.chmod(0o755)  # a var/ made by hand with the usual umask: the launcher must narrow it
    saved = assistant_support.START_TIMEOUT_SECONDS
    assistant_support.START_TIMEOUT_SECONDS = max(saved, 900)  # DEBUG output and a busy shared machine
    try:
        running = Assistant(var_dir, {"LOG_LEVEL": "DEBUG", **SECRETS}).start()
    finally:
        assistant_support.START_TIMEOUT_SECONDS = saved
    yield running
    running.stop()


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def test_each_child_process_gets_only_the_secrets_it_needs(debug_assistant):
    pids = child_pids(debug_assistant)
    assert set(pids) == {"rasa", "actions", "console", "notifier"}
    for name, pid in pids.items():
        env = _environ(pid)
        assert NEEDS[name] <= set(env), f"{name} lacks {NEEDS[name] - set(env)}"
        leaked = NEVER[name] & set(env)
        assert not leaked, f"{name} was given {leaked}"
        values = "\n".join(env.values())  # nor under another name
        assert not [n for n in NEVER[name] if n in SECRETS and SECRETS[n] in values], f"{name} has a secret value"


def test_no_token_is_on_any_command_line(debug_assistant):
    action_token = (debug_assistant.var_dir / "action-server-token").read_text().strip()
    for name, pid in child_pids(debug_assistant).items():
        cmdline = _cmdline(pid)
        assert "test-token" not in cmdline and "--auth-token" not in cmdline, f"{name}: {cmdline}"
        assert action_token not in cmdline
    # the Rasa API still needs the token: without it 401, with it the tracker
    tracker_url = f"{debug_assistant.settings.rasa_url}/conversations/nobody/tracker"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(tracker_url, timeout=30)
    assert refused.value.code == 401
    assert debug_assistant.tracker("nobody")["sender_id"] == "rest:nobody"  # the dev REST conversation


def test_var_is_mode_700_and_the_generated_tokens_600(debug_assistant):
    assert stat.S_IMODE(debug_assistant.var_dir.stat().st_mode) == 0o700
    for name in ("action-server-token", "console-secret-key", "rasa-auth-token"):
        path = debug_assistant.var_dir / name
        if path.exists():  # rasa-auth-token and the console key are set by the environment here
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    assert (debug_assistant.var_dir / "action-server-token").exists()


def test_the_action_server_listens_on_loopback_only(debug_assistant):
    port = debug_assistant.settings.action_port
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == "0A":  # LISTEN
                listening.append(address)
    assert listening, "the action server is not listening"
    assert set(listening) <= {"0100007F", "00000000000000000000000001000000"}, listening  # 127.0.0.1, ::1


def _hand_made_call(sender: str, phone: str) -> dict:
    slots = {
        "case_type": "wage_arrears",
        "worker_name": "冒名者",
        "phone": phone,
        "county": "金凤区",
        "employer": "某公司",
        "amount_owed": 1000,
        "owed_period": "一个月",
        "description": "伪造的案件",
        "consent": True,
        "case_confirmed": True,
    }
    event = {"event": "user", "text": "确认", "input_channel": "sms", "timestamp": time.time(), "parse_data": {}}
    return {
        "next_action": "action_submit_case",
        "sender_id": sender,
        "version": "3.6.2",
        "domain": {},
        "tracker": {
            "sender_id": sender,
            "slots": slots,
            "latest_message": {"text": "确认", "intent": {}, "entities": []},
            "latest_event_time": event["timestamp"],
            "events": [event],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


def _post(url: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _cases_of(assistant: Assistant, sender: str) -> list:
    return [c for c in CaseService(AppStore(assistant.settings.app_db_url)).list_cases() if c.sender_id == sender]


def test_a_hand_made_tracker_without_the_token_creates_nothing(debug_assistant):
    url = debug_assistant.settings.action_url
    sender = "sms:+8613700001111"
    for attempt in (url, f"{url}?token=wrong-token", f"{url}?token="):
        status, body = _post(attempt, _hand_made_call(sender, "13700001111"))
        assert status == 401, body
    with pytest.raises(urllib.error.HTTPError) as listing:
        urllib.request.urlopen(url.replace("/webhook", "/actions"), timeout=30)
    assert listing.value.code == 401
    assert _cases_of(debug_assistant, sender) == []
    # Rasa's own calls carry the token: the same call with it is served (as Rasa's are)
    token = (debug_assistant.var_dir / "action-server-token").read_text().strip()
    status, body = _post(f"{url}?token={token}", _hand_made_call(sender, "13700001111"))
    assert status == 200, body
    assert [c.phone for c in _cases_of(debug_assistant, sender)] == ["13700001111"]


def test_an_oversized_rest_body_is_refused_before_any_channel_reads_it(debug_assistant):
    big = {"sender": "big-body", "message": "你好" * 40_000}  # about 240 KB of JSON; the cap is 64 KB
    status, _ = _post_raw(debug_assistant.rest_url, json.dumps(big).encode())
    assert status == 413
    assert debug_assistant.say("big-body", "你好")  # a normal message from the same sender is answered


def _post_raw(url: str, body: bytes) -> tuple[int, bytes]:
    """POST `body`, reading the answer as soon as the server gives one (it may refuse before the body is sent)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.putrequest("POST", parts.path)
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        try:
            connection.send(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading it all: its answer is still readable
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.skipif(not HAS_INTAKE, reason="domain.yml has no case_intake_form yet")
def test_a_full_intake_at_debug_leaves_no_phone_name_or_id_number_in_any_log(debug_assistant):
    sender = "log-scan-worker"
    before = len(debug_assistant.log())
    start_intake(debug_assistant, sender)
    debug_assistant.say(sender, f"我身份证号{ID_NUMBER}")  # an ID number offered mid-form
    reply = answer_until(debug_assistant, sender, None)
    assert "案件号" in texts(reply), texts(reply)
    assert (
        len(_cases_of(debug_assistant, f"rest:{sender}")) == 1
    )  # a real worker is unaffected by the action server's token
    debug_assistant.tracker(sender)  # a Rasa API call with ?token= in its URL
    time.sleep(2)  # the launcher's pumps print line by line
    log = debug_assistant.log()[before:]
    prefixes = {line[1:].split("]", 1)[0].strip() for line in log.splitlines() if line.startswith("[")}
    assert {"rasa", "actions"} <= prefixes, prefixes  # DEBUG output of both servers was read (names padded)
    assert "DEBUG" in log
    phone, name = INTAKE_ANSWERS["phone"], INTAKE_ANSWERS["worker_name"]
    for secret in (phone, phone[3:7], name, ID_NUMBER, ID_NUMBER[6:14], "test-token"):
        found = [line for line in log.splitlines() if secret in line]
        assert not found, f"{secret!r} in the logs:\n" + "\n".join(found[:5])
    assert f"{phone[:3]}****{phone[-4:]}" in log  # masked, not dropped


def test_every_development_stand_in_in_use_gets_a_warning(debug_assistant):
    log = debug_assistant.log()
    for name in DEVELOPMENT_CHANNEL_ENV:
        warned = f"WARNING: {name} is not set; using the public development stand-in" in log
        assert warned == (name != "SMS_PROVIDER" and name not in SECRETS), name


# -- refusing to start -------------------------------------------------------------------------------------------


def _launcher(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "SMS_", "CONSOLE_", "ACTION_"))}
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize(
    "env, where",
    [
        ({"NXA_HOST": "0.0.0.0"}, "beyond loopback"),
        ({"NXA_HOST": "192.0.2.10", "NXA_ENV": "development"}, "beyond loopback"),
        ({"NXA_ENV": "production"}, "NXA_ENV=production"),
        # the README's public stand-ins set by hand count as unset
        ({"NXA_HOST": "0.0.0.0", "NXA_ENV": "production", **DEVELOPMENT_CHANNEL_ENV}, "NXA_ENV=production"),
    ],
)
def test_the_launcher_refuses_to_start_beyond_loopback_or_in_production_without_real_secrets(tmp_path, env, where):
    result = _launcher({"NXA_VAR_DIR": str(tmp_path / "var"), **env}, "bot", "run")
    assert result.returncode == 2, result.stdout + result.stderr
    assert where in result.stderr
    for name in ("WECHAT_TOKEN", "WECHAT_APP_SECRET", "SMS_WEBHOOK_SECRET", "CONSOLE_SECRET_KEY"):
        assert name in result.stderr
    assert ("ACTION_SERVER_TOKEN" in result.stderr) == (env.get("NXA_HOST", "127.0.0.1") != "127.0.0.1")
    assert "is up" not in result.stdout


def test_settings_give_stand_ins_only_to_loopback_development():
    assert Settings.from_env({}).missing_secrets() == []
    assert Settings.from_env({}).rasa_environment()["WECHAT_TOKEN"] == DEVELOPMENT_CHANNEL_ENV["WECHAT_TOKEN"]
    for env in ({"NXA_HOST": "0.0.0.0"}, {"NXA_HOST": "::"}, {"NXA_ENV": "production"}):
        settings = Settings.from_env({**env, "ACTION_SERVER_TOKEN": "a" * 32})
        assert "WECHAT_TOKEN" not in settings.rasa_environment()
        assert settings.stand_ins_used() == []
    real = {name: f"real-{name.lower()}-value" for name in DEVELOPMENT_CHANNEL_ENV} | {"SMS_PROVIDER": "outbox"}
    real |= {"CONSOLE_SECRET_KEY": "c" * 40, "ACTION_SERVER_TOKEN": "a" * 32}
    assert Settings.from_env({"NXA_HOST": "0.0.0.0", "NXA_ENV": "production", **real}).missing_secrets() == []
    with pytest.raises(ValueError, match="ACTION_SERVER_TOKEN"):
        Settings.from_env({"NXA_HOST": "10.0.0.5"}).action_server_token()


def test_var_is_created_mode_700_and_generated_secrets_0600_whatever_the_umask(tmp_path):
    old_umask = os.umask(0o022)
    try:
        settings = Settings.from_env({"NXA_VAR_DIR": str(tmp_path / "new" / "var")})
        token = settings.action_server_token()
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(settings.var_dir.stat().st_mode) == 0o700
    path = settings.var_dir / "action-server-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text() == token and len(token) >= 24
    assert settings.action_server_token() == token  # generated once
    assert (
        Settings.from_env({"NXA_VAR_DIR": str(settings.var_dir), "ACTION_SERVER_TOKEN": "x" * 20}).action_server_token()
        == "x" * 20
    )
    with pytest.raises(ValueError, match="at least 16"):
        Settings.from_env({"ACTION_SERVER_TOKEN": "short"}).action_server_token()


def test_the_action_server_refuses_to_listen_beyond_loopback_without_a_token(tmp_path):
    result = _launcher(
        {"NXA_HOST": "0.0.0.0", "NXA_VAR_DIR": str(tmp_path)},
        "bot.action_server",
        "run",
        "actions",
        "--actions",
        "actions",
        "--port",
        str(free_port()),
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "ACTION_SERVER_TOKEN" in result.stderr


# -- masking on the loggers Rasa and Sanic configure --------------------------------------------------------------


def test_sanic_loggers_that_do_not_propagate_are_masked_and_urls_lose_their_token():
    loggers = [logging.getLogger(name) for name in privacy.SANIC_LOGGERS]
    saved = [(lg.handlers[:], lg.propagate, lg.level) for lg in loggers]
    stream = io.StringIO()
    try:
        for lg in loggers:  # as rasa.utils.common.update_sanic_log_level leaves them
            lg.handlers = [logging.StreamHandler(stream)]
            lg.propagate = False
            lg.setLevel(logging.DEBUG)
        assert privacy.install_sanic() == 3
        logging.getLogger("sanic.error").error(
            "Exception occurred while handling uri: 'http://h/conversations/13912345678/tracker?token=s3cret&x=1'"
        )
        logging.getLogger("sanic.access").info("GET /webhooks/sms/webhook?token=tencent-url-token 200")
        logging.getLogger("sanic.root").warning("sender %s", "evil\n2026-12-02 INFO forged line")
    finally:
        for lg, (handlers, propagate, level) in zip(loggers, saved, strict=True):
            lg.handlers, lg.propagate = handlers, propagate
            lg.setLevel(level)
    output = stream.getvalue()
    assert "s3cret" not in output and "tencent-url-token" not in output and "13912345678" not in output
    assert "tracker?token=***&x=1" in output and "139****5678" in output
    assert output.count("\n") == 3 and "evil\\n2026-12-02 INFO forged line" in output


_STRUCTLOG_PROBE = """
import logging, structlog
from bot import privacy
privacy.install_rasa_anonymizer()
from rasa.utils.log_utils import configure_structlog
configure_structlog(logging.DEBUG)
privacy.install_everywhere()
log = structlog.get_logger()
log.debug("processor.slots.log", slot_values="\\tworker_name: 马小明\\n\\tcounty: 金凤区\\n\\tphone: 13912345678")
log.debug("processor.message.parse", parse_data_text="我叫马小明", parse_data_intent={"name": "inform"})
log.debug("action.submit", rasa_events=["SlotSet(key: worker_name, value: 马小明)"])
logging.getLogger("rasa.core.actions.action").debug("Validating extracted slots: {'worker_name': '马小明'}")
logging.getLogger("channels.sms").debug("sms: reply to %s: %r", "x", ["请核对一下：\\n姓名：马小明\\n对方：宁夏恒达"])
"""


def test_rasa_structlog_fields_and_slot_values_reach_the_log_without_names_or_numbers():
    result = subprocess.run(
        [sys.executable, "-c", _STRUCTLOG_PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "processor.slots.log" in output and "processor.message.parse" in output and "inform" in output
    assert "county: " in output and "worker_name: ***" in output  # slot names stay, personal values do not
    for secret in ("马小明", "13912345678", "宁夏恒达"):
        assert secret not in output and json.dumps(secret)[1:-1] not in output, output  # nor JSON-escaped


# -- retention ------------------------------------------------------------------------------------------------------


def _tracker_store(path: Path):
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain

    return SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(path))


def _save_conversation(store, sender: str, *turns: datetime) -> None:
    """A conversation of one listen + one user message per turn, saved by Rasa's own tracker store."""
    import asyncio

    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    events = []
    for at in turns:
        events.append(ActionExecuted("action_listen", timestamp=at.timestamp()))
        events.append(UserUttered(f"我叫马小明，电话13912345678 ({sender})", timestamp=at.timestamp() + 1))
    asyncio.run(store.save(DialogueStateTracker.from_events(sender, events)))


def _broker_rows(path: Path, rows: list[tuple[str, datetime]]) -> None:
    from rasa.core.brokers.sql import SQLEventBroker

    broker = SQLEventBroker(dialect="sqlite", db=str(path))
    for sender, at in rows:
        broker.publish({"sender_id": sender, "event": "user", "text": "x", "timestamp": at.timestamp()})
    broker.engine.dispose()


def _count(path: Path, sql: str, *args) -> int:
    with sqlite3.connect(path) as connection:
        return connection.execute(sql, args).fetchone()[0]


def test_purge_removes_old_conversations_and_closed_cases_personal_fields(tmp_path):
    now = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    old, recent = now - timedelta(days=200), now - timedelta(days=10)
    env = {"NXA_VAR_DIR": str(tmp_path)}
    settings = Settings.from_env(env)
    tracker_db, events_db, app_db = tmp_path / "tracker.db", tmp_path / "events.db", tmp_path / "assistant.db"
    store = _tracker_store(tracker_db)
    _save_conversation(store, "rest:old", old)
    _save_conversation(store, "rest:recent", recent)
    _save_conversation(store, "rest:old-but-active", old, recent)  # a later turn keeps the whole conversation
    _broker_rows(events_db, [("rest:old", old), ("rest:recent", recent), ("rest:old-but-active", old)])
    _broker_rows(events_db, [("rest:old-but-active", recent)])

    migrate(settings.app_db_url)
    clock = [old]
    cases = CaseService(AppStore(settings.app_db_url), clock=lambda: clock[0])
    closed_old = cases.create_case(make_submission(dedupe_key="a", sender_id="rest:old"))
    open_old = cases.create_case(make_submission(dedupe_key="b", sender_id="rest:x", phone="13700001111"))
    for case in (closed_old, open_old):
        cases.change_status(case.case_id, STATUS_IN_PROGRESS, "op")
    cases.change_status(closed_old.case_id, STATUS_CLOSED, "op")
    clock[0] = recent
    closed_recent = cases.create_case(make_submission(dedupe_key="c", sender_id="rest:recent", phone="13600002222"))
    cases.change_status(closed_recent.case_id, STATUS_IN_PROGRESS, "op")
    cases.change_status(closed_recent.case_id, STATUS_CLOSED, "op")
    history_before = len(cases.case_history(closed_old.case_id))
    tracker_rows = _count(tracker_db, "SELECT count(*) FROM events")

    dry = purge(settings, parse_age("180d"), dry_run=True, now=now)
    assert (dry.conversations, dry.cases) == (1, 1) and dry.tracker_events == 2 and dry.broker_events == 1
    assert _count(tracker_db, "SELECT count(*) FROM events") == tracker_rows  # a dry run changes nothing
    assert cases.get_case(closed_old.case_id).worker_name == "马建国"

    report = purge(settings, parse_age("180d"), now=now)
    assert (report.conversations, report.tracker_events, report.broker_events, report.cases) == (1, 2, 1, 1)
    assert _count(tracker_db, "SELECT count(*) FROM events WHERE sender_id = 'rest:old'") == 0
    assert _count(tracker_db, "SELECT count(*) FROM events WHERE sender_id = 'rest:old-but-active'") == 4
    assert _count(tracker_db, "SELECT count(*) FROM events WHERE sender_id = 'rest:recent'") == 2
    assert _count(events_db, "SELECT count(*) FROM events WHERE sender_id = 'rest:old'") == 0
    assert _count(events_db, "SELECT count(*) FROM events") == 3

    purged = cases.get_case(closed_old.case_id)
    assert (purged.worker_name, purged.phone, purged.employer, purged.description) == (
        PURGED,
        "138****5678",
        PURGED,
        "",
    )
    assert (purged.status, purged.county, purged.amount_owed) == (STATUS_CLOSED, "金凤区", 12000)  # the row stays
    history = cases.case_history(closed_old.case_id)
    assert len(history) == history_before + 1 and history[-1].actor == "retention"
    with sqlite3.connect(app_db) as connection:
        row = connection.execute("SELECT * FROM cases WHERE case_id = ?", (closed_old.case_id,)).fetchone()
    assert "13812345678" not in str(row) and "马建国" not in str(row)
    assert cases.get_case(open_old.case_id).worker_name == "马建国"  # not closed: kept
    assert cases.get_case(closed_recent.case_id).phone == "13600002222"  # closed recently: kept
    again = purge(settings, parse_age("180d"), now=now)  # idempotent
    assert (again.conversations, again.cases, again.broker_events) == (0, 0, 0)
    assert (again.notifications, again.deliveries) == (0, 0)


def test_purge_clears_old_case_notifications_and_the_delivery_log(tmp_path):
    from bot.deliveries import DeliveryLog
    from bot.notifications import NotificationService, NotResendable

    now = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    old, recent = now - timedelta(days=200), now - timedelta(days=10)
    settings = Settings.from_env({"NXA_VAR_DIR": str(tmp_path)})
    migrate(settings.app_db_url)
    store = AppStore(settings.app_db_url)
    clock = [old]
    cases = CaseService(store, clock=lambda: clock[0])
    notifications = NotificationService(store, clock=lambda: clock[0])
    deliveries = DeliveryLog(store, clock=lambda: clock[0])
    case = cases.create_case(make_submission(dedupe_key="n", sender_id="sms:13912345678", phone="13912345678"))
    cases.change_status(case.case_id, STATUS_IN_PROGRESS, "op", worker_message="已转劳动监察大队，马师傅会给您打电话")
    deliveries.sent("sms", "sms:13912345678", "reply", ["sid-old"])
    clock[0] = recent
    cases.change_status(case.case_id, STATUS_CLOSED, "op", worker_message="钱已经追回来了")
    deliveries.sent("sms", "sms:13912345678", "reply", ["sid-recent"])
    made = notifications.for_case(case.case_id)
    assert len(made) == 2
    with store.begin() as session:  # the old one was tried and failed; the recent one is still waiting
        session.execute(
            sa.text("UPDATE case_notifications SET state = 'failed' WHERE created_at < :cut"),
            {"cut": now - timedelta(days=180)},
        )

    dry = purge(settings, parse_age("180d"), dry_run=True, now=now)
    assert (dry.notifications, dry.deliveries) == (1, 1)
    report = purge(settings, parse_age("180d"), now=now)
    assert (report.notifications, report.deliveries) == (1, 1)
    with sqlite3.connect(settings.var_dir / "assistant.db") as connection:
        rows = connection.execute("SELECT text, progress, conversation FROM case_notifications ORDER BY id").fetchall()
        left = connection.execute("SELECT provider_id FROM deliveries").fetchall()
    assert rows[0] == ("", "", "sms:139****5678")
    assert "钱已经追回来了" in rows[1][0] and rows[1][2] == "sms:13912345678"  # recent: kept
    assert left == [("sid-recent",)]
    with pytest.raises(NotResendable):  # nothing left to send
        notifications.resend(made[0].id, "op")


def test_the_purge_command_dry_run_and_its_bad_input(tmp_path):
    env = {"NXA_VAR_DIR": str(tmp_path)}
    migrate(Settings.from_env(env).app_db_url)
    result = _launcher(env, "bot", "purge", "--older-than", "180d", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "dry run: nothing changed" in result.stdout and "would remove 0 conversations" in result.stdout
    bad = _launcher(env, "bot", "purge", "--older-than", "soon")
    assert bad.returncode == 2 and "--older-than must look like 180d" in bad.stderr
