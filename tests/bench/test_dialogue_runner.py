"""bench/dialogue.py's conversation runner against a scripted REST webhook on localhost, and its case seeding on a
real migrated SQLite store (no Rasa: the webhook answers from a script)."""

from __future__ import annotations

import datetime
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench import dialogue
from bench.dialogue_score import ConversationFormatError, parse_conversations, summarize
from bot.cases import CaseService
from bot.store import AppStore, migrate
from tests.support.assistant import http_json

SCRIPT = {
    "公租房在哪报": [
        {"text": "到区住建局报名。"},
        {"custom": {"kind": "answer", "topic": "housing", "rule_id": "housing.how_to_apply", "facet": None}},
    ],
    "要带啥": [
        {"text": "身份证、户口本。"},
        {"custom": {"kind": "answer", "topic": "housing", "rule_id": "housing.how_to_apply", "facet": "bring"}},
    ],
}


class ScriptedWebhook(BaseHTTPRequestHandler):
    seen: list[tuple[str, str]] = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append((body["sender"], body["message"]))
        reply = SCRIPT.get(body["message"], [{"text": "没太明白"}, {"custom": {"kind": "fallback"}}])
        data = json.dumps([{"recipient_id": body["sender"], **m} for m in reply]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class FakeAssistant:
    def __init__(self, url: str) -> None:
        self.url = url

    def say(self, sender: str, message: str) -> list[dict]:
        return http_json(self.url, {"sender": sender, "message": message})


@pytest.fixture
def webhook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedWebhook)
    ScriptedWebhook.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield FakeAssistant(f"http://127.0.0.1:{server.server_address[1]}/webhooks/rest/webhook")
    server.shutdown()
    server.server_close()


CONVERSATIONS = f"""
- name: facet
  turns:
    - user: 公租房在哪报
      expect: {{kind: answer, rule: housing.how_to_apply}}
    - user: 要带啥
      expect: {{kind: answer, facet: bring}}
- name: miss
  turns:
    - user: 这个咋整
      expect: {{kind: handoff, target: "12333"}}
- name: another_day
  on: 2020-01-01
  turns:
    - user: 公租房在哪报
      expect: {{kind: answer}}
- name: today
  on: {datetime.date.today().isoformat()}
  turns:
    - user: 公租房在哪报
      expect: {{kind: answer}}
"""


def test_each_conversation_runs_from_a_fresh_sender_and_is_scored(tmp_path, webhook):
    conversations = parse_conversations(tmp_path / "c.yaml", CONVERSATIONS)
    scored, skipped = dialogue.run_conversations(webhook, conversations)
    assert [s.conversation.name for s in scored] == ["facet", "miss", "today"]
    assert skipped == [{"conversation": "another_day", "reason": f"on 2020-01-01, today is {datetime.date.today()}"}]
    senders = [sender for sender, _ in ScriptedWebhook.seen]
    assert senders[0] == senders[1] and len(set(senders)) == 3  # one sender per conversation, kept across turns
    summary = summarize(scored, skipped)
    assert summary["conversations_passed"] == 2 and summary["turns_passed"] == 3 and summary["turns"] == 4
    (miss,) = summary["misses"]
    assert miss["conversation"] == "miss" and {f["check"] for f in miss["failed"]} == {"kind", "target"}


def test_a_dead_assistant_fails_the_conversation_instead_of_crashing(tmp_path):
    conversations = parse_conversations(tmp_path / "c.yaml", CONVERSATIONS)[:1]
    dead = FakeAssistant("http://127.0.0.1:9/webhooks/rest/webhook")  # discard port: connection refused
    (item,), _ = dialogue.run_conversations(dead, conversations)
    assert item.error and not item.passed and item.turns == []


SEEDED = """
- name: status
  cases:
    - {case_id: NX2611270001, phone: "13995012345", county: 同心县}
    - {case_id: NX2611270002, phone: "13695123456", county: 金凤区, status: 处理中}
    - {case_id: NX2611280001, phone: "13709512222", county: 原州区, status: 已办结}
  turns:
    - user: 查案子 NX2611270001 13995012345
      expect: {text_contains: 新建}
"""


def test_seeded_cases_are_recorded_with_their_numbers_and_statuses(tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate(url)
    dialogue.seed_cases(url, parse_conversations(tmp_path / "c.yaml", SEEDED))
    service = CaseService(AppStore(url))
    assert service.case_status("NX2611270001", "13995012345").status == "新建"
    assert service.case_status("NX2611270002", "136 9512 3456").status == "处理中"
    assert service.case_status("NX2611280001", "13709512222").status == "已办结"
    assert service.case_status("NX2611280001", "13995012345") is None


def test_seeds_numbered_out_of_sequence_are_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate(url)
    gap = SEEDED.replace("NX2611270002", "NX2611270005")
    with pytest.raises(ConversationFormatError, match="NX2611270005 was recorded as NX2611270002"):
        dialogue.seed_cases(url, parse_conversations(tmp_path / "c.yaml", gap))


def test_held_out_results_go_to_conversations_json_and_others_beside_it():
    repo = Path(dialogue.__file__).resolve().parents[1]
    assert dialogue.conversations_output(repo / "bench" / "conversations").name == "conversations.json"
    dev = dialogue.conversations_output(repo / "bench" / "conversations_dev")
    assert dev.name == "conversations_conversations_dev.json"
