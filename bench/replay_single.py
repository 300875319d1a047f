"""Offline replay of the single-turn benchmark: the trained model's NLU and the real answer action, in-process.

    .venv/bin/python bench/replay_single.py bench/kb_dev [--model FILE] [--cache FILE] [--show-misses] [--why]

What bench/dialogue.py measures over REST, without starting Rasa (the busy machine often cannot start it in time):
every question of FOLDER/*.yaml with an expected rule (the same selection as bench/dialogue.py) is parsed by the NLU
of the model (default: models/nx-<fingerprint>.tar.gz, the one `python -m bot train` makes; it must exist), and,
when the rules send that intent to `action_answer_policy` (the topic intents, ask_followup, inform,
nlu_fallback, report_wage_arrears), `actions.answer.ActionAnswerPolicy.run` is called with a fresh conversation's
tracker (no slots) and the parse as its latest message, exactly as the action server would. Its `custom` payloads
are classified with bench/dialogue.py's `classify`, and the same shares are printed (right topic, exact rule, asked
back, wrong rule answered, wrong topic). Other intents (greet, out_of_scope, request_human, check_eligibility…) get
no policy answer, counted as "other" (check_eligibility starts a check: no answer payload either).

`--cache FILE` keeps the NLU parses (JSON, keyed by the model's file name and the question), so a second run after a
change to actions/ or policies_kb/ skips loading the model; a change to the NLU data needs a new model (then the
cache key changes by itself). Works on any question folder; never point it at a held-out folder while tuning.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.dialogue import classify, kb_questions  # noqa: E402
from policies_kb.topics import REGISTRY  # noqa: E402

# The intents the rules send to action_answer_policy: the topics' (data/rules_topics.yml, from the registry) and these.
ANSWERING_INTENTS = {topic.intent for topic in REGISTRY} | {
    "ask_followup",
    "inform",
    "nlu_fallback",
    "report_wage_arrears",
}


def default_model() -> Path:
    from bot.train import fingerprint

    return REPO / "models" / f"nx-{fingerprint(REPO)}.tar.gz"


def parse_all(model: Path, questions: list[str], cache_path: Path | None) -> dict[str, dict]:
    """NLU parses of the questions ({text: parse}), from the cache when it has them."""
    cache: dict[str, dict] = {}
    if cache_path is not None and cache_path.exists():
        cache = json.loads(cache_path.read_text(encoding="utf-8")).get(model.name, {})
    todo = [q for q in questions if q not in cache]
    if todo:
        from rasa.core.agent import Agent

        agent = Agent.load(str(model))

        async def parse() -> None:
            for text in todo:
                result = await agent.parse_message(text)
                cache[text] = {
                    "text": text,
                    "intent": result.get("intent") or {},
                    "intent_ranking": result.get("intent_ranking") or [],
                    "entities": result.get("entities") or [],
                }

        asyncio.run(parse())
        if cache_path is not None:
            cache_path.write_text(json.dumps({model.name: cache}, ensure_ascii=False), encoding="utf-8")
    return cache


def reply_payloads(parse: dict, on: datetime.date | None = None) -> tuple[list[dict], str]:
    """The custom payloads action_answer_policy sends for this parse in a fresh conversation, and decide()'s why."""
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions import answer

    intent = (parse.get("intent") or {}).get("name")
    if intent not in ANSWERING_INTENTS:
        return [], f"intent {intent}: not the answer action"
    tracker = Tracker("replay", {}, parse, [], False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    action = answer.ActionAnswerPolicy()
    if on is not None:
        action.today = staticmethod(lambda: on)
    whys: list[str] = []
    original = answer.decide

    def recording(*args: Any, **kwargs: Any) -> answer.Decision:
        decision = original(*args, **kwargs)
        whys.append(decision.why)
        return decision

    answer.decide = recording
    try:
        asyncio.run(action.run(dispatcher, tracker, {}))
    finally:
        answer.decide = original
    payloads = [m["custom"] for m in dispatcher.messages if m.get("custom")]
    return payloads, ", ".join(whys)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="a folder of question files (bench/kb_dev)")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--cache", type=Path, default=None, help="JSON file keeping the NLU parses")
    parser.add_argument("--show-misses", action="store_true")
    parser.add_argument("--why", action="store_true", help="with --show-misses: decide()'s reason and NLU intent")
    args = parser.parse_args(argv)
    model = args.model or default_model()
    if not model.exists():
        print(f"no model {model}: train it first (.venv/bin/python -m bot train)", file=sys.stderr)
        return 1
    items = [item for item in kb_questions(args.folder) if item["expect_rule"]]
    parses = parse_all(model, [item["question"] for item in items], args.cache)
    outcomes: collections.Counter[str] = collections.Counter()
    misses = []
    for item in items:
        parse = parses[item["question"]]
        payloads, why = reply_payloads(parse)
        outcome, answer_payload = classify(payloads, item["expect_rule"])
        outcomes[outcome] += 1
        if outcome != "exact_rule":
            intent = parse.get("intent") or {}
            misses.append(
                (
                    outcome,
                    item["question"],
                    item["expect_rule"],
                    answer_payload and answer_payload.get("rule_id"),
                    why,
                    intent.get("name"),
                    round(float(intent.get("confidence") or 0), 3),
                )
            )
    total = sum(outcomes.values()) or 1

    def share(*keys: str) -> float:
        return sum(outcomes[key] for key in keys) / total

    print(
        f"{args.folder}: {sum(outcomes.values())} questions; right topic {share('exact_rule', 'right_topic'):.3f} "
        f"(exact rule {share('exact_rule'):.3f}; asked back {share('asked_back'):.3f}; "
        f"wrong rule answered {share('right_topic', 'wrong_topic'):.3f}; wrong topic {share('wrong_topic'):.3f}; "
        f"other {share('other'):.3f})"
    )
    if args.show_misses:
        for outcome, question, expected, got, why, intent, confidence in sorted(misses):
            extra = f"  [{why}; {intent} {confidence}]" if args.why else ""
            print(f"{outcome:12} {question}  expected {expected} got {got}{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
