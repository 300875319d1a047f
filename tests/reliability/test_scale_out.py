"""Scale-out: two Rasa servers share one PostgreSQL tracker store and one Redis lock store (endpoints.postgres.yml).

The suite starts a throwaway PostgreSQL cluster and redis-server itself (tests/reliability/services.py), runs the
real launcher against them (replica A, with the action server; the app store on PostgreSQL too), and starts a second
Rasa server (replica B) from the launcher's own process spec on another port. One conversation's turns alternate
between A and B, as a load balancer without sticky sessions would send them, through small talk, slots and a whole
case intake form (the case lands in the PostgreSQL app store).
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import json
import re
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.launcher import _is_up, process_specs
from bot.settings import ROOT
from bot.store import AppStore
from tests.console.conftest import Client
from tests.reliability.services import ServiceError, services
from tests.reliability.support import (
    HAS_INTAKE,
    INTAKE_ANSWERS,
    PATIENT_START_SECONDS,
    answer_until,
    passive_content,
    post,
    start_intake,
    start_patiently,
    text_message,
    wechat_post,
)
from tests.support.assistant import Assistant, customs, free_port, http_json, texts
from tests.support.domain import load_domain

pytestmark = pytest.mark.e2e

SMALL_TALK = [("你好", "您好"), ("你能干啥", "落户"), ("谢谢你", "不客气"), ("你好呀", "您好"), ("再见", "祝您")]


class Replica:
    """A second Rasa server process, started from the launcher's own spec with another port."""

    def __init__(self, assistant: Assistant, model: Path, log_path: Path) -> None:
        settings = dataclasses.replace(assistant.settings, rasa_port=free_port())
        self.settings = settings
        self.spec = next(spec for spec in process_specs(settings, model) if spec.name == "rasa")
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = PATIENT_START_SECONDS) -> Replica:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.spec.argv,
                cwd=ROOT,
                env=self.spec.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"replica B exited: {self.log_path.read_text(errors='replace')[-3000:]}")
            if _is_up(self.spec.ready_url):
                return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"replica B did not start in {timeout} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def say(self, sender: str, message: str) -> list[dict]:
        return http_json(f"{self.settings.rasa_url}/webhooks/rest/webhook", {"sender": sender, "message": message})

    def tracker(self, sender: str) -> dict:
        return http_json(f"{self.settings.rasa_url}/conversations/rest:{sender}/tracker?token=test-token")


@pytest.fixture(scope="module")
def shared_stores():
    try:
        with services() as running:
            yield running
    except ServiceError as exc:  # only when the Debian packages are missing and could not be installed
        pytest.fail(f"PostgreSQL/Redis for the scale-out test: {exc}")


@pytest.fixture(scope="module")
def replicas(trained_model, shared_stores, tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("scale-out-var")
    first = start_patiently(Assistant(var_dir, extra_env=shared_stores.environment()))
    second = None
    try:
        second = Replica(first, trained_model, var_dir / "replica-b.log").start()
        yield first, second
    finally:
        if second:
            second.stop()
        first.stop()


def _user_texts(tracker: dict) -> list[str]:
    return [event["text"] for event in tracker["events"] if event["event"] == "user"]


def test_the_launcher_uses_postgres_and_redis_and_migrates_the_app_store_there(replicas, shared_stores):
    first, second = replicas
    assert first.settings.endpoints.name == "endpoints.postgres.yml"
    assert "--endpoints" in second.spec.argv and second.spec.argv[second.spec.argv.index("--endpoints") + 1] == str(
        ROOT / "endpoints.postgres.yml"
    )
    engine = sa.create_engine(shared_stores.postgres.url("app"))
    try:
        with engine.connect() as connection:
            heads = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    finally:
        engine.dispose()
    assert heads, "the launcher did not run the Alembic migrations on the PostgreSQL app store"


def test_one_conversation_alternating_between_two_replicas_keeps_every_turn_in_order(replicas, shared_stores):
    first, second = replicas
    sender = "scale-out-alternating"
    sent = []
    for turn, (message, expected) in enumerate(SMALL_TALK * 2):
        replica = (first, second)[turn % 2]
        assert expected in texts(replica.say(sender, message)), f"turn {turn} via {'AB'[turn % 2]}"
        sent.append(message)
    assert _user_texts(first.tracker(sender)) == sent
    assert _user_texts(second.tracker(sender)) == sent
    # and the turns really are in PostgreSQL, not in either process's memory
    engine = sa.create_engine(shared_stores.postgres.url("rasa"))
    try:
        with engine.connect() as connection:
            stored = connection.execute(
                sa.text("SELECT count(*) FROM events WHERE sender_id = :s AND type_name = 'user'"),
                {"s": f"rest:{sender}"},
            ).scalar_one()
    finally:
        engine.dispose()
    assert stored == len(sent)


def test_concurrent_turns_of_one_conversation_on_both_replicas_are_serialised_by_the_redis_lock(replicas):
    """Each user turn is followed by its own bot reply before the next user turn: the lock store at work."""
    first, second = replicas
    sender = "scale-out-concurrent"
    messages = ["你好"] * 12  # the same words each time: what is tested is the order, not the understanding

    async def send_all():
        return await asyncio.gather(
            *(asyncio.to_thread((first, second)[i % 2].say, sender, message) for i, message in enumerate(messages))
        )

    replies = asyncio.run(send_all())
    assert all("您好" in texts(reply) for reply in replies), [texts(reply)[:60] for reply in replies]
    events = [e for e in first.tracker(sender)["events"] if e["event"] in ("user", "bot")]
    kinds = [e["event"] for e in events]
    assert kinds == ["user", "bot"] * len(messages), f"turns interleaved: {kinds}"


def _first_text_slot() -> str | None:
    domain = load_domain()
    for name, spec in (domain.get("slots") or {}).items():
        if isinstance(spec, dict) and spec.get("type") in ("text", "any", "categorical"):
            return name
    return None


@pytest.mark.skipif(_first_text_slot() is None, reason="domain.yml has no text slot yet (dialogue work in progress)")
def test_a_slot_set_through_one_replica_is_seen_by_the_other(replicas):
    first, second = replicas
    slot = _first_text_slot()
    sender = "scale-out-slot"
    first.say(sender, "你好")
    value = "金凤区" if "county" in slot else "测试值"
    http_json(
        f"{first.settings.rasa_url}/conversations/rest:{sender}/tracker/events?token=test-token",
        {"event": "slot", "name": slot, "value": value},
    )
    assert second.tracker(sender)["slots"][slot] == value
    second.say(sender, "谢谢你")
    assert first.tracker(sender)["slots"][slot] == value


@pytest.mark.skipif(not HAS_INTAKE, reason="domain.yml has no case_intake_form yet")
def test_an_intake_form_started_on_one_replica_is_finished_on_the_other_and_stored_in_postgres(replicas, shared_stores):
    from bot.cases import CaseService

    first, second = replicas
    sender = "scale-out-intake"
    start_intake(first, sender)
    reply = answer_until(second, sender, None, others=[first])  # B, A, B, A, ... until the form ends
    created = [c for c in customs(reply) if c.get("kind") == "case_created"]
    assert len(created) == 1, texts(reply)
    user_turns = _user_texts(first.tracker(sender))
    assert user_turns[0].startswith("/start_case") and len(user_turns) >= 8
    cases = [
        case
        for case in CaseService(AppStore(shared_stores.postgres.url("app"))).list_cases()
        if case.sender_id == f"rest:{sender}"
    ]
    assert [case.case_id for case in cases] == [created[0]["case_id"]]
    assert cases[0].employer == INTAKE_ANSWERS["employer"] and cases[0].amount_owed == 12000


def _overview_totals(client: Client) -> dict[str, int]:
    response = client.get("/overview", params={"days": 7})
    assert response.status_code == 200 and "读不到助手的对话库" not in response.text, response.text[:500]
    page = html.unescape(response.text)
    found = re.findall(r'data-chart="(\w+)">\s*<figcaption><strong>[^<]+</strong> 合计 <span class="total">(\d+)', page)
    return {name: int(total) for name, total in found}


def test_the_console_overview_counts_the_turns_of_both_replicas_from_the_event_broker(replicas, shared_stores):
    """Both replicas publish their events to the SQL event broker's table in PostgreSQL; the console (beside replica
    A) counts from that table, so a conversation served by A and B shows up whole, as on one machine."""
    from bot.console._accounts import Accounts
    from bot.store.types import utcnow

    first, second = replicas
    assert first.settings.events_db_url == shared_stores.postgres.url("app")  # the app store's database
    accounts = Accounts(AppStore(first.settings.app_db_url))
    accounts.create_operator("scale-out-operator", "scale-out-password-1", utcnow())
    client = Client(first.settings.console_url)
    assert client.login("scale-out-operator", "scale-out-password-1").status_code == 303
    before = _overview_totals(client)
    turns = [
        (first, "scale-out-overview-1", "俺在县城打工 户口能落到县城不"),
        (second, "scale-out-overview-1", "那要带什么材料?"),
        (first, "scale-out-overview-1", "那个东西"),
        (second, "scale-out-overview-2", "俺在县城打工 户口能落到县城不"),
    ]
    kinds = [c.get("kind") for replica, sender, message in turns for c in customs(replica.say(sender, message))]
    assert kinds.count("answer") >= 2 and kinds.count("fallback") >= 1, kinds
    after = _overview_totals(client)
    assert after["conversations"] - before["conversations"] == 2
    assert after["answers"] - before["answers"] == kinds.count("answer")
    assert after["fallbacks"] - before["fallbacks"] == kinds.count("fallback")
    engine = sa.create_engine(shared_stores.postgres.url("app"))
    try:
        with engine.connect() as connection:
            published = connection.execute(
                sa.text("SELECT count(*) FROM events WHERE sender_id LIKE 'rest:scale-out-overview-%'")
            ).scalar_one()
    finally:
        engine.dispose()
    assert published >= 2 * len(turns)  # at least each turn's user and bot events, from both replicas


# -- the documented load balancer (docs/nginx-scale-out.conf) in front of both replicas ---------------------------

NGINX_DOC = ROOT / "docs" / "nginx-scale-out.conf"


@dataclasses.dataclass
class Front:
    url: str
    access_log: Path

    def upstreams(self, path_part: str, expected: int) -> list[str]:
        """The replica (host:port) nginx sent each logged request whose URI contains `path_part` to, in order.
        nginx logs a request just after answering it, so this waits (up to 10 s) for `expected` lines."""
        deadline = time.monotonic() + 10
        while True:
            lines = self.access_log.read_text().splitlines() if self.access_log.exists() else []
            found = [line.split()[1] for line in lines if path_part in line.split()[0]]
            if len(found) >= expected or time.monotonic() > deadline:
                return found
            time.sleep(0.1)


def render_nginx_front(doc: str, listen_port: int, rasa_ports: list[int], folder: Path) -> str:
    """The documented config with the replicas' local ports for its example addresses and a plain local listener
    for its TLS one, inside the main/events/http blocks a whole nginx.conf needs (plus an access log that names the
    replica of each request)."""
    lines = []
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped.startswith("server 10.0.0.11:"):
            lines += [line.replace(stripped.split()[1], f"127.0.0.1:{port}") for port in rasa_ports]
        elif stripped.startswith("server 10.0.0."):
            continue
        elif stripped == "listen 443 ssl;":
            lines.append(line.replace("listen 443 ssl;", f"listen 127.0.0.1:{listen_port};"))
        elif stripped.startswith("access_log /var/log/nginx/"):  # the doc's log, in the test's folder, plus ours
            lines.append(line.replace(stripped.split()[1], str(folder / "webhooks.log")))
            lines.append(line.replace(stripped, f"access_log {folder}/access.log upstreams;"))
        elif stripped.startswith("allow 203.0.113."):  # the SMS provider's example range: this test is the provider
            lines.append(line.replace(stripped.split()[1].rstrip(";"), "127.0.0.1"))
        else:
            lines.append(line)
    assert sum("127.0.0.1:" in line for line in lines) == len(rasa_ports) + 1, "the doc's layout changed"
    temp = folder / "temp"
    temp.mkdir(mode=0o777)
    return "\n".join(
        [
            f"pid {folder}/nginx.pid;",
            f"error_log {folder}/error.log;",
            "events {}",
            "http {",
            "    log_format upstreams '$request_uri $upstream_addr $status';",
            f"    access_log {folder}/access.log upstreams;",
            *(f"    {kind}_temp_path {temp}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")),
            *lines,
            "}",
            "",
        ]
    )


@pytest.fixture(scope="module")
def front(replicas, tmp_path_factory):
    import shutil

    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        pytest.fail("nginx is not installed (scripts/system-packages.txt; `make system-deps`)")
    first, second = replicas
    folder = tmp_path_factory.mktemp("nginx")
    folder.chmod(0o755)
    port = free_port()
    conf = folder / "nginx.conf"
    conf.write_text(
        render_nginx_front(NGINX_DOC.read_text(), port, [first.settings.rasa_port, second.settings.rasa_port], folder)
    )
    checked = subprocess.run([nginx, "-t", "-p", str(folder), "-c", str(conf)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(
        [nginx, "-p", str(folder), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not _is_up(f"{url}/webhooks/rest/") and time.monotonic() < deadline:
        assert process.poll() is None, (folder / "error.log").read_text()
        time.sleep(0.2)
    try:
        yield Front(url, folder / "access.log")
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_the_documented_nginx_front_spreads_rest_turns_over_both_replicas_in_order(replicas, front):
    first, _ = replicas
    sender = "scale-out-front-rest"
    sent = [message for message, _ in SMALL_TALK]
    for message, expected in SMALL_TALK:
        assert expected in texts(
            http_json(f"{front.url}/webhooks/rest/webhook", {"sender": sender, "message": message})
        )
    assert _user_texts(first.tracker(sender)) == sent
    used = front.upstreams("/webhooks/rest/webhook", len(sent))
    assert len(used) == len(sent) and len(set(used)) == 2, used  # no stickiness needed, none given


def test_the_documented_nginx_front_serves_wechat_from_any_replica_and_a_retry_runs_once(replicas, front):
    first, second = replicas
    token = first.settings.rasa_environment()["WECHAT_TOKEN"]
    openids = [f"o-front-{n}" for n in range(6)]
    for openid in openids:
        for message in ("你好", "谢谢你"):
            status, body = wechat_post(front.url, token, openid, text_message(openid, message))
            assert status == 200 and passive_content(body.decode()), body[:200]
    used = [replica for openid in openids for replica in front.upstreams(f"openid={openid}", 2)]
    assert len(set(used)) == 2, used  # no stickiness: the claim and its reply are in the shared app store
    # WeChat's retry of one push (signed afresh) reaching the other replica: the stored reply, no second turn
    openid, msg_id = "o-front-retry", 880_000_001
    status, body = wechat_post(first.settings.rasa_url, token, openid, text_message(openid, "你好", msg_id))
    assert status == 200 and passive_content(body.decode())
    status, again = wechat_post(second.settings.rasa_url, token, openid, text_message(openid, "你好", msg_id))
    assert status == 200 and passive_content(again.decode()) == passive_content(body.decode())
    conversation = next(
        tracker
        for tracker in (first.tracker(f"wechat:{openid}"), first.tracker(openid))
        if any(event["event"] == "user" for event in tracker["events"])
    )
    assert _user_texts(conversation) == ["你好"]


def test_the_documented_nginx_front_keeps_push_credentials_out_of_its_access_log(replicas, front):
    token = replicas[0].settings.rasa_environment()["WECHAT_TOKEN"]
    status, _ = wechat_post(front.url, token, "o-front-log", text_message("o-front-log", "你好"))
    assert status == 200
    status, _ = post(f"{front.url}/webhooks/sms/webhook?token=secret-in-the-url", b"{}", timeout=10)
    assert status == 403  # reached the replica (the test stands in for the provider's address) and was refused
    deadline = time.monotonic() + 10
    log = front.access_log.with_name("webhooks.log")
    while "/webhooks/sms/webhook" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.1)
    logged = log.read_text()
    assert "/webhooks/wechat/webhook" in logged and "/webhooks/sms/webhook" in logged
    for credential in ("token=", "signature=", "nonce=", "secret-in-the-url"):
        assert credential not in logged


def test_the_documented_nginx_front_keeps_rasas_api_inside_and_refuses_huge_bodies(front):
    status, _ = post(f"{front.url}/conversations/anyone/tracker?token=test-token", b"", timeout=10)
    assert status == 404  # the conversations API is reachable from inside only, token or not
    body = json.dumps({"sender": "huge", "message": "工" * 200_000}).encode()
    status, _ = post(f"{front.url}/webhooks/rest/webhook", body, {"Content-Type": "application/json"}, timeout=10)
    assert status == 413
