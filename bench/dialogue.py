"""Benchmark: what the running assistant replies to held-out questions and conversations, over the REST channel.

    .venv/bin/python bench/dialogue.py [--output FILE] [--limit N]                  # single questions
    .venv/bin/python bench/dialogue.py --conversations bench/conversations [--single-turns] [--show-misses]

Starts the real assistant (tests/support/assistant.py: launcher, Rasa, action server; its own temporary var/ folder,
the current model, trained first if stale) and sends each question from a fresh conversation:

- bench/kb_questions/*.yaml with an expected rule: the share whose reply carries an `answer` payload of the expected
  rule's topic (target 0.95, wrong topic 0); also the share with the exact rule (the answer's rule_id, or its
  `superseded` rule when the expected rule has expired and the current rule answers for it), the share asked back
  with a clarifying question (a fallback and no answer), the share answered with another topic, and the share
  answered confidently with a wrong rule (an answer whose rule is not the expected one, whatever its topic: issue 12
  wants it at most 0.02);
- out-of-scope questions (the null items there and the out_of_scope examples of tests/nlu_holdout/): the share that
  gets no `answer` payload;
- requests for a person (the request_human examples of tests/nlu_holdout/): the share that gets the 12333 handoff.

Writes bench/results/dialogue.json (with `misses`) and prints the figures.

With `--conversations DIR` it runs every conversation of DIR/*.yaml instead (format: bench/README.md; scoring:
bench/dialogue_score.py), each from a fresh sender id, and writes bench/results/conversations.json (for the held-out
bench/conversations; conversations_<folder>.json for another folder): turn, check and conversation pass shares, per
check and per tag, and the misses. Misses are printed for a development folder, and for the held-out folder only with
--show-misses (reading them is how a held-out set gets tuned on). `--single-turns` runs the single questions too, on
the same running assistant (what `make bench` does).

Exits 0 whatever the figures; 1 only when the assistant cannot be started, 2 when a conversation file is malformed.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import functools
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.dialogue_score import (  # noqa: E402
    Conversation,
    ConversationFormatError,
    ScoredConversation,
    SeedCase,
    load_conversations,
    score_turn,
    summarize,
)
from bot.settings import Settings  # noqa: E402
from bot.train import ensure_model  # noqa: E402
from tests.reliability.support import start_patiently  # noqa: E402
from tests.support.assistant import Assistant, customs  # noqa: E402

HELD_OUT = REPO / "bench" / "conversations"
RESULTS = REPO / "bench" / "results"


def kb_questions(folder: Path = REPO / "bench" / "kb_questions") -> list[dict]:
    items = []
    for path in sorted(folder.glob("*.yaml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            # Questions restricted to a topic, or asked about another date, test the search alone: a conversation
            # happens today, with no topic given.
            if (
                isinstance(item, dict)
                and item.get("question")
                and "expect_rule" in item
                and not item.get("topic")
                and not item.get("on")
                and True not in item  # YAML 1.1 reads a bare `on:` key as the boolean True
            ):
                items.append(item)
    return items


def holdout_examples(intent: str) -> list[str]:
    found = []
    for path in sorted((REPO / "tests" / "nlu_holdout").glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            if block.get("intent") == intent:
                found += [line.strip()[2:].strip() for line in block["examples"].splitlines() if line.strip()]
    return found


def share(counter: collections.Counter, key: str) -> float:
    total = sum(counter.values())
    return round(counter[key] / total, 4) if total else 0.0


def is_12333_handoff(payloads: list[dict]) -> bool:
    return any(p.get("kind") == "handoff" and p.get("target") == "12333" for p in payloads)


def classify(payloads: list[dict], expected_rule: str) -> tuple[str, dict | None]:
    """What one reply did with a question whose answer is `expected_rule`: exact_rule, right_topic (another rule of
    the expected topic), wrong_topic, asked_back (a clarifying question, no answer) or other; and the first answer."""
    answers = [p for p in payloads if p.get("kind") == "answer"]
    if answers:
        first = answers[0]
        if expected_rule in (first.get("rule_id"), first.get("superseded")):
            return "exact_rule", first
        if first.get("topic") == expected_rule.split(".")[0]:
            return "right_topic", first
        return "wrong_topic", first
    if any(p.get("kind") == "fallback" for p in payloads):
        return "asked_back", None
    return "other", None


def run_single_turns(assistant: Assistant, questions_folder: Path, limit: int) -> dict:
    questions = kb_questions(questions_folder)
    in_scope = [q for q in questions if q["expect_rule"]][: limit or None]
    out_of_scope = [q["question"] for q in questions if not q["expect_rule"]] + holdout_examples("out_of_scope")
    for_a_person = holdout_examples("request_human")
    started = time.monotonic()
    topics: collections.Counter[str] = collections.Counter()
    per_topic: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    misses: list[dict] = []
    for number, item in enumerate(in_scope):
        expected_topic = item["expect_rule"].split(".")[0]
        outcome, answer = classify(customs(assistant.say(f"bench-kb-{number}", item["question"])), item["expect_rule"])
        topics[outcome] += 1
        per_topic[expected_topic][outcome] += 1
        if outcome != "exact_rule":
            misses.append(
                {
                    "question": item["question"],
                    "expected": item["expect_rule"],
                    "outcome": outcome,
                    "got": answer["rule_id"] if answer else None,
                }
            )
    oos: collections.Counter[str] = collections.Counter()
    for number, text in enumerate(out_of_scope):
        payloads = customs(assistant.say(f"bench-oos-{number}", text))
        answered = any(p.get("kind") == "answer" for p in payloads)
        oos["no_answer" if not answered else "answered"] += 1
        if answered:
            misses.append({"question": text, "expected": None, "outcome": "answered_out_of_scope"})
    handoffs: collections.Counter[str] = collections.Counter()
    for number, text in enumerate(for_a_person):
        handed = is_12333_handoff(customs(assistant.say(f"bench-human-{number}", text)))
        handoffs["handoff" if handed else "none"] += 1
        if not handed:
            misses.append({"question": text, "expected": "handoff", "outcome": "no_handoff"})
    seconds = time.monotonic() - started
    right = topics["exact_rule"] + topics["right_topic"]
    total = sum(topics.values())
    return {
        "questions": total,
        "right_topic_share": round(right / total, 4) if total else 0.0,
        "exact_rule_share": share(topics, "exact_rule"),
        "asked_back_share": share(topics, "asked_back"),
        "wrong_topic_share": share(topics, "wrong_topic"),
        # an answer payload whose rule is not the expected one: said confidently, and wrong
        "wrong_rule_answered_share": round((topics["right_topic"] + topics["wrong_topic"]) / total, 4)
        if total
        else 0.0,
        "no_answer_no_question_share": share(topics, "other"),
        "per_topic_right_share": {
            topic: round((c["exact_rule"] + c["right_topic"]) / sum(c.values()), 4)
            for topic, c in sorted(per_topic.items())
        },
        "per_topic_exact_rule_share": {
            topic: round(c["exact_rule"] / sum(c.values()), 4) for topic, c in sorted(per_topic.items())
        },
        "out_of_scope_questions": sum(oos.values()),
        "out_of_scope_no_answer_share": share(oos, "no_answer"),
        "handoff_requests": sum(handoffs.values()),
        "handoff_share": share(handoffs, "handoff"),
        "seconds": round(seconds, 1),
        "misses": misses,
    }


def print_single_turns(summary: dict, output: Path) -> None:
    print(
        f"held-out questions: {summary['questions']}; reply carries the right topic: {summary['right_topic_share']:.3f} "
        f"(exact rule {summary['exact_rule_share']:.3f}; asked back {summary['asked_back_share']:.3f}; "
        f"wrong rule answered {summary['wrong_rule_answered_share']:.3f}; "
        f"wrong topic {summary['wrong_topic_share']:.3f})"
    )
    print("per topic: " + ", ".join(f"{t} {s:.2f}" for t, s in summary["per_topic_right_share"].items()))
    print(
        f"out of scope: {summary['out_of_scope_questions']} questions, no KB answer for "
        f"{summary['out_of_scope_no_answer_share']:.3f}"
    )
    print(f"requests for a person: {summary['handoff_requests']}, 12333 handoff for {summary['handoff_share']:.3f}")
    print(f"{summary['seconds']:.0f} s; wrote {output}")


# -- conversations ------------------------------------------------------------------------------------------------


def _fixed(moment: datetime.datetime) -> datetime.datetime:
    return moment


def seed_cases(db_url: str, conversations: list[Conversation]) -> None:
    """Record the cases the conversations ask about, through the real case service, on the day their number says.

    A case number is NX + yymmdd + the day's sequence, given by the store: the seeds of one day must be numbered
    0001, 0002... in order (ConversationFormatError otherwise)."""
    from bot.cases import CHINA_TZ, STATUS_NEW, CaseService, CaseSubmission
    from bot.store import AppStore

    seeds: dict[str, SeedCase] = {}
    for conversation in conversations:
        for case in conversation.cases:
            seeds[case.case_id] = case
    by_day: dict[str, list[SeedCase]] = collections.defaultdict(list)
    for case_id in sorted(seeds):
        by_day[case_id[2:8]].append(seeds[case_id])
    store = AppStore(db_url)  # one engine for every day's service
    for day, cases in sorted(by_day.items()):
        try:
            moment = datetime.datetime.strptime(day, "%y%m%d").replace(hour=10, tzinfo=CHINA_TZ)
        except ValueError:
            raise ConversationFormatError(f"seeded case {cases[0].case_id}: not NX + yymmdd + sequence") from None
        service = CaseService(store, clock=functools.partial(_fixed, moment), legacy_case_ids=True)
        for case in cases:
            record = service.create_case(
                CaseSubmission(
                    case_type=case.case_type,
                    worker_name=case.worker_name,
                    phone=case.phone,
                    county=case.county,
                    employer=case.employer,
                    amount_owed=None,
                    owed_period=None,
                    description="bench seed",
                    consent=True,
                    sender_id=f"bench-seed-{case.case_id}",
                    channel="bench",
                )
            )
            if record.case_id != case.case_id:
                raise ConversationFormatError(
                    f"seeded case {case.case_id} was recorded as {record.case_id}: number the seeds of one day "
                    "0001, 0002... in order"
                )
            if case.status != STATUS_NEW:
                service.change_status(case.case_id, "处理中", "bench", "受理")
                if case.status == "已办结":
                    service.change_status(case.case_id, "已办结", "bench", "已办结")


def run_conversations(assistant: Assistant, conversations: list[Conversation]) -> tuple[list, list[dict]]:
    today = datetime.date.today()
    token = secrets.token_hex(3)
    scored, skipped = [], []
    for number, conversation in enumerate(conversations):
        if conversation.on is not None and conversation.on != today:
            # The running assistant answers for today; a conversation about another day cannot be played.
            skipped.append({"conversation": conversation.name, "reason": f"on {conversation.on}, today is {today}"})
            continue
        sender = f"bench-conv-{token}-{number}"
        item = ScoredConversation(conversation)
        previous: list[dict] = []
        for turn in conversation.turns:
            try:
                reply = assistant.say(sender, turn.user)
            except OSError as error:
                item.error = f"turn {len(item.turns) + 1}: {type(error).__name__}: {error}"
                break
            item.replies.append(reply)
            item.turns.append(score_turn(turn.expect, reply, previous))
            previous = reply
        scored.append(item)
    return scored, skipped


def print_conversations(summary: dict, folder: Path, output: Path, show_misses: bool) -> None:
    print(
        f"conversations in {folder}: {summary['conversations']}; fully passed "
        f"{summary['conversations_passed']} ({summary['conversation_pass_share']:.3f}); turns passed "
        f"{summary['turns_passed']}/{summary['turns']} ({summary['turn_pass_share']:.3f}); checks passed "
        f"{summary['checks_passed']}/{summary['checks']} ({summary['check_pass_share']:.3f})"
    )
    print("per check: " + ", ".join(f"{c} {s:.2f}" for c, s in summary["per_check_pass_share"].items()))
    for tag, figures in summary["per_tag"].items():
        print(
            f"  {tag}: {figures['conversations']} conversations, fully passed "
            f"{figures['conversation_pass_share']:.2f}, turns {figures['turn_pass_share']:.2f}"
        )
    for item in summary["skipped"]:
        print(f"skipped {item['conversation']}: {item['reason']}")
    if show_misses:
        for miss in summary["misses"]:
            print(json.dumps(miss, ensure_ascii=False))
    elif summary["misses"]:
        print(f"{len(summary['misses'])} missed turns in {output} (held-out set: not printed; --show-misses prints)")
    print(f"{summary['seconds']:.0f} s; wrote {output}")


def conversations_output(folder: Path) -> Path:
    if folder.resolve() == HELD_OUT.resolve():
        return RESULTS / "conversations.json"
    return RESULTS / f"conversations_{folder.resolve().name}.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=None, help="single-question results (default: dialogue.json)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N KB questions (a smoke run)")
    parser.add_argument(
        "--questions",
        type=Path,
        default=REPO / "bench" / "kb_questions",
        help="folder of question files (default: the held-out bench/kb_questions; bench/kb_dev to "
        "look at misses without spoiling the held-out figure)",
    )
    parser.add_argument("--conversations", type=Path, help="run the conversations of this folder (*.yaml)")
    parser.add_argument("--single-turns", action="store_true", help="with --conversations: the questions too")
    parser.add_argument("--show-misses", action="store_true", help="print the held-out set's misses too")
    parser.add_argument("--conversations-output", type=Path, default=None, help="conversation results file")
    args = parser.parse_args()

    conversations: list[Conversation] = []
    if args.conversations:
        try:
            conversations = load_conversations(args.conversations)
        except (ConversationFormatError, OSError) as error:
            print(error, file=sys.stderr)
            return 2
    single_turns = args.single_turns or not args.conversations
    single_output = args.output or RESULTS / "dialogue.json"
    conversations_file = args.conversations_output or (
        conversations_output(args.conversations) if args.conversations else None
    )

    ensure_model(Settings.from_env())
    with tempfile.TemporaryDirectory() as var_dir:
        try:
            assistant = start_patiently(Assistant(Path(var_dir)))  # a busy shared machine starts slowly
        except RuntimeError as error:
            print(error, file=sys.stderr)
            return 1
        try:
            if conversations and conversations_file is not None:
                try:
                    seed_cases(assistant.settings.app_db_url, conversations)
                except (ConversationFormatError, ValueError) as error:
                    print(f"{args.conversations}: {error}", file=sys.stderr)
                    return 2
                started = time.monotonic()
                scored, skipped = run_conversations(assistant, conversations)
                summary = summarize(scored, skipped)
                summary = {
                    "folder": str(args.conversations),
                    **summary,
                    "seconds": round(time.monotonic() - started, 1),
                }
                summary["misses"] = summary.pop("misses")
                conversations_file.parent.mkdir(parents=True, exist_ok=True)
                conversations_file.write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
                held_out = args.conversations.resolve() == HELD_OUT.resolve()
                print_conversations(summary, args.conversations, conversations_file, args.show_misses or not held_out)
            if single_turns:
                single = run_single_turns(assistant, args.questions, args.limit)
                single_output.parent.mkdir(parents=True, exist_ok=True)
                single_output.write_text(json.dumps(single, ensure_ascii=False, indent=1), encoding="utf-8")
                print_single_turns(single, single_output)
        finally:
            assistant.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
