"""Issue 14 §5, §9 (queues) and §10 (intake slots), against the real running assistant and console.

- F7: an employer who knows the worker's phone steps case numbers over REST (from one conversation, then from fresh
  ones): after the first failure the look-ups back off, after five the phone is refused without checking ("请打
  0951-12333") — even the right number is not confirmed to the attacker — and the case is never found by guessing.
  The worker's own conversation still gets the status; the console shows the alert line with the masked phone.
- L4: the operator's internal note never reaches the worker's status reply; the message to the worker does.
- F11: 200 scripted handoffs from one conversation are one line in the queue; paging and the "waiting" filter show
  a real worker's handoff among a flood from many conversations, some of them already taken over.
- L7: after an intake, the tracker (read from the tracker store) no longer holds the intake slots' values.

One assistant for the module (a start costs a minute of CPU on a shared machine); the tests run in file order and
share the worker's intake.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import urllib.error
from html import unescape

import pytest
import requests

import tests.support.assistant as assistant_support
from bot.cases import CASE_ID_LETTERS, case_id_check_letter
from bot.handoffs import HandoffService
from bot.store import AppStore
from tests.reliability.support import INTAKE_ANSWERS, answer_until, start_intake, start_patiently
from tests.support.assistant import Assistant, customs, texts

pytestmark = pytest.mark.e2e

OPERATOR, PASSWORD = "sec-operator", "sec-operator-password-1"
WORKER = "sec-real-worker"
PHONE = "13912345678"  # INTAKE_ANSWERS["phone"]
REFUSED = "请打0951-12333"
FOUND = "现在的状态是"
INTAKE_SLOTS = ("worker_name", "phone", "county", "employer", "amount_owed", "owed_period", "description")


@pytest.fixture(scope="module")
def assistant(trained_model, tmp_path_factory):
    env = {"CONSOLE_ADMIN_USER": OPERATOR, "CONSOLE_ADMIN_PASSWORD": PASSWORD}
    saved = assistant_support.START_TIMEOUT_SECONDS
    assistant_support.START_TIMEOUT_SECONDS = 900  # the shared machine runs several assistants at once
    try:
        running = start_patiently(Assistant(tmp_path_factory.mktemp("sec-cases-var"), extra_env=env))
    finally:
        assistant_support.START_TIMEOUT_SECONDS = saved
    yield running
    running.stop()


@pytest.fixture(scope="module")
def case_id(assistant) -> str:
    """The real worker's case, recorded through the intake form over REST."""
    assert INTAKE_ANSWERS["phone"] == PHONE
    start_intake(assistant, WORKER)
    reply = answer_until(assistant, WORKER, None)
    created = [c for c in customs(reply) if c.get("kind") == "case_created"]
    assert len(created) == 1, texts(reply)
    return created[0]["case_id"]


class Console:
    """A logged-in operator's browser session on the real console."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.token = ""

    def get(self, path: str) -> requests.Response:
        response = self.session.get(self.url + path, allow_redirects=False, timeout=60)
        match = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
        if match:
            self.token = match.group(1)
        return response

    def post(self, path: str, data: dict) -> requests.Response:
        return self.session.post(
            self.url + path, data={**data, "csrf_token": self.token}, allow_redirects=False, timeout=60
        )

    def login(self) -> Console:
        self.get("/login")
        response = self.post("/login", {"username": OPERATOR, "password": PASSWORD})
        assert response.status_code in (302, 303), response.text[:500]
        return self


@pytest.fixture(scope="module")
def console(assistant) -> Console:
    return Console(assistant.settings.console_url).login()


def say(assistant: Assistant, sender: str, message: str) -> str | None:
    """One REST turn's text, or None when the channel refused it (a rate limit: the turn never ran)."""
    try:
        return texts(assistant.say(sender, message))
    except urllib.error.HTTPError as error:
        if error.code == 429:
            return None
        raise


def guess(day: str, sequence: int, avoid: str) -> str:
    """A well-formed case number (the check letter is public), never the real one."""
    while True:
        body = f"NX{day}{sequence:04d}" + "".join(
            CASE_ID_LETTERS[(sequence * 7 + i * 3 + int(time.time_ns() % 23)) % 23] for i in range(3)
        )
        number = body + case_id_check_letter(body)
        if number != avoid:
            return number


# ------------------------------------------------------------------------------------------- F7, brute force


def test_stepping_case_numbers_with_a_known_phone_backs_off_and_never_finds_the_case(assistant, case_id, console):
    day = case_id[2:8]
    replies = []
    # One conversation steps the sequence as fast as it can, then fresh conversations (free sender ids) go on.
    for sequence in range(1, 13):
        replies.append(say(assistant, "sec-attacker", f"查案件 {guess(day, sequence, case_id)} {PHONE}"))
    for sequence in range(1, 9):
        replies.append(say(assistant, f"sec-attacker-{sequence}", f"查案件 {guess(day, sequence, case_id)} {PHONE}"))
    replies.append(say(assistant, "sec-attacker", f"查案件 NX{day}0001 {PHONE}"))  # the old form: never issued today
    answered = [reply for reply in replies if reply is not None]
    assert answered, "every guess was rate-limited before reaching the assistant"
    assert not any(FOUND in reply for reply in answered), answered
    checked = [reply for reply in answered if "没查到" in reply]
    refused = [reply for reply in answered if REFUSED in reply]
    assert len(checked) <= 5, checked  # at most five checked failures per phone a day
    assert len(refused) >= len(answered) - 5 and refused, answered
    assert all("没查到" in reply or REFUSED in reply or "案件号" in reply for reply in answered), (
        answered
    )  # nothing else: no status, no note

    # Now the right number from the attacker's conversations: refused without checking, same answer as a guess.
    for sender in ("sec-attacker", "sec-attacker-new"):
        reply = say(assistant, sender, f"查案件 {case_id} {PHONE}")
        assert reply is None or (REFUSED in reply and FOUND not in reply and case_id not in reply), reply

    # The console's alert line names the phone (masked) and the count.
    page = unescape(console.get("/cases").text)
    assert re.search(r"近24小时查案件失败\d+次", page), page[:2000]
    assert "139****5678" in page and PHONE not in page
    assert "近24小时查案件失败" in unescape(console.get("/overview").text)


def test_the_real_worker_still_finds_their_case(assistant, case_id):
    reply = say(assistant, WORKER, f"查案件 {case_id} {PHONE}")
    assert reply is not None and FOUND in reply and case_id in reply, reply


# ------------------------------------------------------------------------------------------- L4, internal note


def test_the_internal_note_never_reaches_the_worker_while_the_message_to_the_worker_does(assistant, case_id, console):
    page = unescape(console.get(f"/cases/{case_id}").text)
    assert "给工人的话（工人查案件时能看到）" in page and "内部备注（工人看不到）" in page
    note = "内部：用人单位托人打听投诉人是谁"
    message = "已转金凤区劳动监察大队，三个工作日内会打电话给您"
    response = console.post(f"/cases/{case_id}/status", {"status": "处理中", "note": note, "worker_message": message})
    assert response.status_code == 303, response.text[:500]
    reply = say(assistant, WORKER, f"查案件 {case_id} {PHONE}")
    assert reply is not None and "处理中" in reply and message in reply, reply
    assert note not in reply and "用人单位托人" not in reply
    # A note alone (no status change, no message) changes nothing the worker sees.
    console.get(f"/cases/{case_id}")
    response = console.post(f"/cases/{case_id}/status", {"status": "", "note": "内部：第二次催办"})
    assert response.status_code == 303
    time.sleep(1.1)
    reply = say(assistant, WORKER, f"查案件 {case_id} {PHONE}")
    assert reply is not None and message in reply and "第二次催办" not in reply, reply


# ------------------------------------------------------------------------------------------- F11, the queues


def test_two_hundred_scripted_handoffs_from_one_conversation_are_one(assistant):
    sender = "sec-handoff-flooder"
    ran = sum(say(assistant, sender, "转人工") is not None for _ in range(200))
    service = HandoffService(AppStore(assistant.settings.app_db_url))
    mine = [h for h in service.list_handoffs(limit=10_000) if h.sender_id == f"rest:{sender}"]
    assert len(mine) == 1, [(h.id, h.requests) for h in mine]
    assert mine[0].requests == ran and ran > 1


def _queue_pages(console: Console, path: str) -> list[str]:
    """Every page of a queue, following its 下一页 links."""
    pages, next_path = [], path
    while next_path and len(pages) < 50:
        response = console.get(next_path)
        assert response.status_code == 200, response.text[:500]
        pages.append(unescape(response.text))
        link = re.search(r'<a href="([^"]+)" rel="next">', response.text)
        next_path = unescape(link.group(1)) if link else None
    return pages


def test_paging_and_the_waiting_filter_show_a_real_workers_handoff_among_a_flood(assistant, console):
    real = "sec-real-handoff"
    assert say(assistant, real, "转人工") is not None
    flood = [f"sec-flood-{i:03d}" for i in range(70)]
    for sender in flood:
        say(assistant, sender, "转人工")
    service = HandoffService(AppStore(assistant.settings.app_db_url))
    handoffs = {h.sender_id.removeprefix("rest:"): h for h in service.list_handoffs(limit=10_000)}
    assert real in handoffs, "the real worker's request did not record a handoff"
    # Operators have handled 30 of the flood: taken over and released.
    handled = [handoffs[sender] for sender in flood[-30:] if sender in handoffs]
    for handoff in handled:
        console.get(f"/handoffs/{handoff.id}")
        assert console.post(f"/handoffs/{handoff.id}/takeover", {}).status_code == 303
        console.get(f"/handoffs/{handoff.id}")
        assert console.post(f"/handoffs/{handoff.id}/release", {}).status_code == 303

    # The first page no longer shows the real worker (the flood is newer), but paging reaches them.
    everything = _queue_pages(console, "/handoffs")
    assert len(everything) >= 2
    assert real not in everything[0]
    assert any(real in page for page in everything[1:])

    # The waiting filter: the handled ones are gone, the real worker is there, on fewer pages.
    waiting = _queue_pages(console, "/handoffs?waiting=1")
    assert any(real in page for page in waiting)
    shown = "\n".join(waiting)
    assert not any(re.search(rf"\b{h.sender_id}\b", shown) for h in handled)
    total = int(re.search(r"共 (\d+) 个对话", waiting[0]).group(1))
    assert total == service.count_handoffs(waiting=True) <= len(handoffs) - len(handled)

    # The case queue pages and filters too: waiting = 新建, nobody has taken it on.
    cases_page = unescape(console.get("/cases?waiting=1").text)
    assert "只看待处理" in cases_page and re.search(r"共 \d+ 件", cases_page)


# ------------------------------------------------------------------------------------------- L7, intake slots


def test_after_an_intake_the_tracker_store_no_longer_holds_the_intake_slots(assistant, case_id):
    # The tracker as Rasa reads it back from its tracker store ...
    slots = assistant.tracker(WORKER)["slots"]
    assert slots["case_id"] == case_id
    assert {slot: slots.get(slot) for slot in INTAKE_SLOTS} == dict.fromkeys(INTAKE_SLOTS)
    # ... and the tracker store's own rows: the slots' last events reset every intake slot.
    with sqlite3.connect(assistant.settings.tracker_db) as db:
        rows = db.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'slot' ORDER BY id", (f"rest:{WORKER}",)
        ).fetchall()
    final: dict[str, object] = {}
    for (data,) in rows:
        event = json.loads(data)
        final[event["name"]] = event.get("value")
    assert any(final.get(slot) is None and slot in final for slot in INTAKE_SLOTS)
    assert {slot: final.get(slot) for slot in INTAKE_SLOTS} == dict.fromkeys(INTAKE_SLOTS)
    assert final["case_id"] == case_id
