"""`make bench`'s report (bench/run.py): the conversation figures and the single-turn shares in latest.json/.md."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench import run

REPO = Path(__file__).resolve().parents[2]

CONVERSATIONS = {
    "conversations": 40,
    "conversations_passed": 35,
    "conversation_pass_share": 0.875,
    "turns": 100,
    "turns_passed": 96,
    "turn_pass_share": 0.96,
    "checks": 200,
    "checks_passed": 194,
    "check_pass_share": 0.97,
    "per_check_pass_share": {"kind": 0.99, "rule": 0.95},
    "per_tag": {"case_status": {"conversations": 4, "conversation_pass_share": 0.75, "turn_pass_share": 0.8}},
    "skipped": [],
    "seconds": 95.2,
}
SINGLE = {
    "questions": 200,
    "right_topic_share": 0.96,
    "exact_rule_share": 0.9,
    "asked_back_share": 0.03,
    "wrong_rule_answered_share": 0.06,
    "wrong_topic_share": 0.0,
    "out_of_scope_questions": 30,
    "out_of_scope_no_answer_share": 1.0,
    "handoff_requests": 11,
    "handoff_share": 1.0,
}


def report(understanding: dict) -> dict:
    return {
        "machine": {
            "date": "2026-12-02T03:00:00+00:00",
            "git_commit": "abc1234",
            "cores": 2,
            "load_average_at_start": [1.0, 1.0, 1.0],
            "python": "3.11",
            "rasa": "3.6",
        },
        "understanding": understanding,
        "errors": [],
    }


def test_the_markdown_shows_conversation_and_single_turn_figures_against_their_targets():
    understanding = {
        "conversations": {"status": "ok", "result": CONVERSATIONS, "script": "bench/dialogue.py"},
        "dialogue": {"status": "ok", "result": SINGLE, "script": "bench/dialogue.py"},
    }
    text = run.markdown(report(understanding))
    assert "## Conversations (held-out `bench/conversations/`, issue 12)" in text
    assert "turn checks passed: 194/200 = **0.970** (target ≥ 0.95)" in text
    assert "conversations fully passed: 35/40 = **0.875** (target ≥ 0.9, not met)" in text
    assert "| case_status | 4 | 0.75 | 0.80 |" in text
    assert "wrong rule answered confidently: **0.060** (target ≤ 0.02, not met)" in text
    assert "exact rule: **0.900**" in text and "asked back (a clarifying question, no answer): **0.030**" in text
    assert "wrong topic: **0.000** (target ≤ 0.0)" in text
    figures = run.issue_12_figures(understanding)
    assert figures["conversations"]["check_pass_share"] == 0.97
    assert figures["single_turns"]["wrong_rule_answered_share"] == 0.06


def test_the_markdown_says_why_a_figure_is_missing():
    text = run.markdown(report({"conversations": {"status": "timeout", "seconds": 900}}))
    assert "## Conversations" in text and "Not measured: timeout." in text
    assert "## Single questions" in text and "Not measured: not run." in text
    assert run.issue_12_figures({})["conversations"]["check_pass_share"] is None


def test_the_dialogue_benchmark_runs_the_held_out_conversations_with_the_single_turns():
    arguments, results, _timeout = run.UNDERSTANDING["dialogue"]
    assert arguments[arguments.index("--conversations") + 1] == "bench/conversations"
    assert "--single-turns" in arguments and set(results) == {"conversations", "dialogue"}


def test_latest_md_is_committable_and_the_json_results_are_not():
    def ignored(path: str) -> bool:
        return subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO).returncode == 0

    assert not ignored("bench/results/latest.md")
    assert ignored("bench/results/latest.json") and ignored("bench/results/conversations.json")
    assert ignored("var/anything") and ignored("some/deeper/results/x.txt")


WRITES_TWO = """
import json, sys
from pathlib import Path
assert sys.argv[1:] == ["--flag"], sys.argv
for name, value in (("first", 0.5), ("second", 0.25)):
    Path("bench/results", name + ".json").write_text(json.dumps({"share": value, "misses": [1, 2]}))
"""


def test_understanding_runs_each_script_once_and_collects_every_result_it_writes(tmp_path, monkeypatch):
    (tmp_path / "bench" / "results").mkdir(parents=True)
    (tmp_path / "bench" / "two.py").write_text(WRITES_TWO, encoding="utf-8")
    (tmp_path / "bench" / "slow.py").write_text("import time; time.sleep(30)", encoding="utf-8")
    monkeypatch.setattr(run, "REPO", tmp_path)
    monkeypatch.setattr(run, "RESULTS", tmp_path / "bench" / "results")
    monkeypatch.setattr(
        run,
        "UNDERSTANDING",
        {"two": (["--flag"], ("first", "second"), 60), "slow": ([], ("slow",), 1), "absent": ([], ("absent",), 5)},
    )
    out = tmp_path / "out"
    out.mkdir()
    report = run.run_understanding(out)
    assert report["first"]["status"] == "ok" and report["first"]["result"] == {"share": 0.5}  # misses left out
    assert report["second"]["result"] == {"share": 0.25} and report["second"]["script"] == "bench/two.py"
    assert (out / "first.json").exists() and (out / "second.json").exists()
    assert report["slow"] == {"status": "timeout", "seconds": 1}
    assert report["absent"]["status"] == "not available"
