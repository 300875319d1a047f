"""Scoring multi-turn conversations against the assistant's replies (issue 12 §7); no Rasa, no network.

The conversation files (bench/conversations/*.yaml, held out; bench/conversations_dev/*.yaml, development) are YAML
lists of conversations; the format is in bench/README.md. `load_conversations` reads and validates a folder (a bad
file is refused with its path, the conversation's name and what is wrong), `score_turn` scores one reply against one
turn's `expect`, `summarize` turns the scored conversations into the figures `bench/dialogue.py --conversations`
reports.

A reply is the list of messages the REST channel returns (`{"text": ...}`, `{"custom": {...}}`, buttons...). Every
check of a turn is scored on its own:

- `kind`: some payload has that kind (`none`: the reply has no payload at all);
- `topic`, `rule`, `facet`, `outcome`, `facts`, `target`: some payload carries that value; when the turn also says
  `kind`, only payloads of that kind count (`{kind: answer, rule: X}` is an answer of rule X, not a check of X);
  `rule` is an answer's or check question's `rule_id` or one of an eligibility result's `rule_ids`; `facet: null`
  is an answer with no facet (the rule's main answer); `facts` passes when one payload's `facts` holds every listed
  value;
- `text_contains`: a string (or a list of strings, all required) inside the reply's joined text;
- `differs_from_previous: true`: the reply is not the previous turn's again (its text differs and it carries no
  answer payload with the previous reply's rule and facet).
"""

from __future__ import annotations

import collections
import datetime
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

KINDS = frozenset(("answer", "check_question", "eligibility", "fallback", "handoff", "case_created", "none"))
FACETS = frozenset(("where", "bring", "how_long", "cost", "who", "deadline"))
OUTCOMES = frozenset(("eligible", "not_eligible", "partly_eligible", "refer"))
CHECKS = (
    "kind",
    "topic",
    "rule",
    "facet",
    "outcome",
    "facts",
    "target",
    "text_contains",
    "differs_from_previous",
)
CONVERSATION_KEYS = frozenset(("name", "on", "tags", "turns", "cases", "note"))
TURN_KEYS = frozenset(("user", "expect", "note"))
CASE_KEYS = frozenset(("case_id", "phone", "county", "case_type", "worker_name", "employer", "status"))


class ConversationFormatError(ValueError):
    """A conversation file that does not follow the format; the message names the file and the conversation."""


@dataclass(frozen=True)
class Turn:
    user: str
    expect: Mapping[str, Any]


@dataclass(frozen=True)
class SeedCase:
    """A case recorded before the run, so that a conversation can ask for its status (`cases:` of a conversation)."""

    case_id: str
    phone: str
    county: str
    case_type: str = "wage_arrears"
    worker_name: str = "测试工友"
    employer: str = "某建筑劳务公司"
    status: str = "新建"


@dataclass(frozen=True)
class Conversation:
    name: str
    path: Path
    turns: tuple[Turn, ...]
    on: datetime.date | None = None
    tags: tuple[str, ...] = ()
    cases: tuple[SeedCase, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    check: str
    passed: bool
    expected: Any
    got: Any = None


@dataclass
class ScoredConversation:
    conversation: Conversation
    turns: list[list[CheckResult]] = field(default_factory=list)
    replies: list[list[dict]] = field(default_factory=list)
    error: str | None = None  # the assistant did not answer (a turn that raised counts as failed)

    @property
    def passed(self) -> bool:
        return (
            self.error is None
            and all(turn_passed(t) for t in self.turns)
            and len(self.turns) == len(self.conversation.turns)
        )


# -- reading ------------------------------------------------------------------------------------------------------


def _fail(path: Path, where: str, message: str) -> ConversationFormatError:
    return ConversationFormatError(f"{path}: {where}: {message}")


def _check_expect(path: Path, where: str, expect: Any) -> dict[str, Any]:
    if not isinstance(expect, dict) or not expect:
        raise _fail(path, where, "`expect` must be a mapping with at least one check")
    unknown = set(expect) - set(CHECKS)
    if unknown:
        raise _fail(path, where, f"unknown check(s) {sorted(unknown)}; known: {', '.join(CHECKS)}")
    kind = expect.get("kind")
    if "kind" in expect and kind not in KINDS:
        raise _fail(path, where, f"kind {kind!r} is not one of {sorted(KINDS)}")
    if kind == "none" and set(expect) & {"topic", "rule", "facet", "outcome", "facts", "target"}:
        raise _fail(path, where, "kind: none (no payload) cannot be combined with payload checks")
    if "facet" in expect and expect["facet"] is not None and expect["facet"] not in FACETS:
        raise _fail(path, where, f"facet {expect['facet']!r} is not one of {sorted(FACETS)} (or null)")
    if "outcome" in expect and expect["outcome"] not in OUTCOMES:
        raise _fail(path, where, f"outcome {expect['outcome']!r} is not one of {sorted(OUTCOMES)}")
    for key in ("topic", "rule", "target"):
        if key in expect and not (isinstance(expect[key], str) and expect[key]):
            raise _fail(path, where, f"`{key}` must be a non-empty string")
    if "facts" in expect and not (isinstance(expect["facts"], dict) and expect["facts"]):
        raise _fail(path, where, "`facts` must be a non-empty mapping of fact name to value")
    if "text_contains" in expect:
        value = expect["text_contains"]
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str) and v for v in values):
            raise _fail(path, where, "`text_contains` must be a non-empty string or a list of them")
    if "differs_from_previous" in expect and expect["differs_from_previous"] is not True:
        raise _fail(path, where, "`differs_from_previous` can only be true")
    return dict(expect)


def _seed_case(path: Path, where: str, raw: Any) -> SeedCase:
    if not isinstance(raw, dict):
        raise _fail(path, where, "each of `cases` must be a mapping (case_id, phone, county, ...)")
    unknown = set(raw) - CASE_KEYS
    missing = {"case_id", "phone", "county"} - set(raw)
    if unknown or missing:
        raise _fail(path, where, f"case {raw}: unknown keys {sorted(unknown)}, missing {sorted(missing)}")
    return SeedCase(**{key: str(value) for key, value in raw.items()})


def parse_conversations(path: Path, text: str) -> list[Conversation]:
    """The conversations of one file (`text` is its content); ConversationFormatError when it breaks the format."""
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as error:  # ValueError: a date YAML reads as one but is none (2026-13-01)
        raise ConversationFormatError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, list) or not data:
        raise ConversationFormatError(f"{path}: must be a non-empty YAML list of conversations")
    conversations = []
    for number, raw in enumerate(data, 1):
        where = f"conversation {number}"
        if not isinstance(raw, dict):
            raise _fail(path, where, "must be a mapping with `name` and `turns`")
        if True in raw:  # YAML 1.1 reads the key `on:` as the boolean true
            raw = {("on" if key is True else key): value for key, value in raw.items()}
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            raise _fail(path, where, "`name` is required (a non-empty string)")
        where = f"conversation {name!r}"
        unknown = set(raw) - CONVERSATION_KEYS
        if unknown:
            raise _fail(path, where, f"unknown key(s) {sorted(unknown)}; known: {sorted(CONVERSATION_KEYS)}")
        on = raw.get("on")
        if on is not None and not isinstance(on, datetime.date):
            try:
                on = datetime.date.fromisoformat(str(on))
            except ValueError:
                raise _fail(path, where, f"`on` {on!r} is not a date (YYYY-MM-DD)") from None
        tags = raw.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
            raise _fail(path, where, "`tags` must be a list of strings")
        turns_raw = raw.get("turns")
        if not isinstance(turns_raw, list) or not turns_raw:
            raise _fail(path, where, "`turns` must be a non-empty list")
        turns = []
        for index, turn in enumerate(turns_raw, 1):
            turn_where = f"{where}, turn {index}"
            if not isinstance(turn, dict) or set(turn) - TURN_KEYS:
                raise _fail(path, turn_where, f"a turn is a mapping with `user` and `expect`, got {turn!r}")
            user = turn.get("user")
            if isinstance(user, int | float) and not isinstance(user, bool):
                user = str(user)  # "3" typed alone reads as a number in YAML
            if not isinstance(user, str) or not user.strip():
                raise _fail(path, turn_where, "`user` (what the worker types) is required")
            turns.append(Turn(user=user, expect=_check_expect(path, turn_where, turn.get("expect"))))
        cases_raw = raw.get("cases") or []
        if not isinstance(cases_raw, list):
            raise _fail(path, where, "`cases` must be a list")
        cases = tuple(_seed_case(path, where, c) for c in cases_raw)
        conversations.append(
            Conversation(name=name, path=path, turns=tuple(turns), on=on, tags=tuple(tags), cases=cases)
        )
    return conversations


def load_conversations(folder: Path) -> list[Conversation]:
    """Every conversation of folder/*.yaml, names unique across the folder, seeded case numbers unique."""
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if not files:
        raise ConversationFormatError(f"{folder}: no conversation files (*.yaml)")
    conversations: list[Conversation] = []
    seen: dict[str, Path] = {}
    cases: dict[str, SeedCase] = {}
    for path in files:
        for conversation in parse_conversations(path, path.read_text(encoding="utf-8")):
            if conversation.name in seen:
                raise ConversationFormatError(
                    f"{path}: conversation name {conversation.name!r} is also used in {seen[conversation.name]}"
                )
            seen[conversation.name] = path
            for case in conversation.cases:
                if case.case_id in cases and cases[case.case_id] != case:
                    raise ConversationFormatError(f"{path}: case {case.case_id} is seeded twice, differently")
                cases[case.case_id] = case
            conversations.append(conversation)
    return conversations


# -- scoring ------------------------------------------------------------------------------------------------------


def payloads(reply: Iterable[Mapping[str, Any]]) -> list[dict]:
    return [dict(m["custom"]) for m in reply if isinstance(m.get("custom"), Mapping)]


def joined_text(reply: Iterable[Mapping[str, Any]]) -> str:
    return "\n".join(str(m.get("text") or "") for m in reply if m.get("text"))


def _same_value(expected: Any, got: Any) -> bool:
    if isinstance(expected, bool) or isinstance(got, bool):
        return isinstance(expected, bool) and isinstance(got, bool) and expected == got
    if isinstance(expected, int | float) and isinstance(got, int | float):
        return math.isclose(float(expected), float(got), rel_tol=1e-9, abs_tol=1e-9)
    return expected == got


def _mentions_rule(payload: Mapping[str, Any], rule: str) -> bool:
    return payload.get("rule_id") == rule or rule in (payload.get("rule_ids") or ())


def brief(payload: Mapping[str, Any]) -> dict:
    """The fields of a payload a reader of a miss needs (sources and dates left out)."""
    keys = ("kind", "topic", "rule_id", "rule_ids", "facet", "superseded", "fact", "outcome", "facts", "target")
    return {k: payload[k] for k in keys if k in payload and payload[k] not in (None, [], {})}


def score_turn(
    expect: Mapping[str, Any], reply: Sequence[Mapping[str, Any]], previous: Sequence[Mapping[str, Any]] | None = None
) -> list[CheckResult]:
    """One CheckResult per check of `expect`, in the order of CHECKS."""
    found = payloads(reply)
    kind = expect.get("kind")
    candidates = [p for p in found if p.get("kind") == kind] if kind not in (None, "none") else found
    got_brief = [brief(p) for p in found]
    results = []
    for check in CHECKS:
        if check not in expect:
            continue
        want = expect[check]
        if check == "kind":
            passed = not found if want == "none" else any(p.get("kind") == want for p in found)
            got: Any = [p.get("kind") for p in found]
        elif check == "topic":
            passed = any(p.get("topic") == want for p in candidates)
            got = [p.get("topic") for p in candidates if p.get("topic")]
        elif check == "rule":
            passed = any(_mentions_rule(p, want) for p in candidates)
            got = [p.get("rule_id") or p.get("rule_ids") for p in candidates if p.get("rule_id") or p.get("rule_ids")]
        elif check == "facet":
            answers = [p for p in candidates if p.get("kind") == "answer"]
            passed = any(p.get("facet") == want for p in answers)
            got = [p.get("facet") for p in answers]
        elif check == "outcome":
            passed = any(p.get("outcome") == want for p in candidates)
            got = [p.get("outcome") for p in candidates if "outcome" in p]
        elif check == "facts":
            with_facts: list[Mapping[str, Any]] = [
                p["facts"] for p in candidates if isinstance(p.get("facts"), Mapping)
            ]
            passed = any(
                all(name in facts and _same_value(value, facts[name]) for name, value in want.items())
                for facts in with_facts
            )
            got = with_facts
        elif check == "target":
            passed = any(p.get("target") == want for p in candidates)
            got = [p.get("target") for p in candidates if "target" in p]
        elif check == "text_contains":
            text = joined_text(reply)
            wanted = want if isinstance(want, list) else [want]
            passed = all(piece in text for piece in wanted)
            got = text[:300]
        else:  # differs_from_previous
            before = list(previous or [])
            previous_answers = {
                (p.get("rule_id"), p.get("facet")) for p in payloads(before) if p.get("kind") == "answer"
            }
            repeated_answer = any(
                (p.get("rule_id"), p.get("facet")) in previous_answers for p in found if p.get("kind") == "answer"
            )
            same_text = bool(before) and joined_text(reply).strip() == joined_text(before).strip()
            passed = not (repeated_answer or same_text)
            got = "same text as the previous reply" if same_text else ("same answer again" if repeated_answer else "")
        results.append(CheckResult(check, passed, want, got if not passed else None))
    if results and not all(r.passed for r in results):
        results = [
            r if r.passed else CheckResult(r.check, r.passed, r.expected, {"value": r.got, "payloads": got_brief})
            for r in results
        ]
    return results


def turn_passed(results: Sequence[CheckResult]) -> bool:
    return all(r.passed for r in results)


# -- figures ------------------------------------------------------------------------------------------------------


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def summarize(scored: Sequence[ScoredConversation], skipped: Sequence[dict] = ()) -> dict:
    """Turn, check and conversation pass shares, per check and per tag, and the misses (failed turns)."""
    checks: collections.Counter[str] = collections.Counter()
    checks_passed: collections.Counter[str] = collections.Counter()
    turns = turns_ok = 0
    tags: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    misses = []
    for item in scored:
        conversation = item.conversation
        expected_turns = len(conversation.turns)
        ok_here = 0
        for index, turn in enumerate(conversation.turns):
            results = item.turns[index] if index < len(item.turns) else None
            turns += 1
            if results is None:  # not reached: the assistant failed earlier in this conversation
                for check in turn.expect:
                    checks[check] += 1
                continue
            for result in results:
                checks[result.check] += 1
                checks_passed[result.check] += result.passed
            if turn_passed(results):
                turns_ok += 1
                ok_here += 1
            else:
                reply = item.replies[index] if index < len(item.replies) else []
                misses.append(
                    {
                        "conversation": conversation.name,
                        "file": conversation.path.name,
                        "turn": index + 1,
                        "user": turn.user,
                        "failed": [
                            {"check": r.check, "expected": r.expected, "got": r.got} for r in results if not r.passed
                        ],
                        "reply_text": joined_text(reply)[:400],
                    }
                )
        if item.error:
            misses.append({"conversation": conversation.name, "file": conversation.path.name, "error": item.error})
        for tag in conversation.tags or ("untagged",):
            tags[tag]["conversations"] += 1
            tags[tag]["passed"] += item.passed
            tags[tag]["turns"] += expected_turns
            tags[tag]["turns_passed"] += ok_here
    total_checks = sum(checks.values())
    return {
        "conversations": len(scored),
        "conversations_passed": sum(item.passed for item in scored),
        "conversation_pass_share": _share(sum(item.passed for item in scored), len(scored)),
        "turns": turns,
        "turns_passed": turns_ok,
        "turn_pass_share": _share(turns_ok, turns),
        "checks": total_checks,
        "checks_passed": sum(checks_passed.values()),
        "check_pass_share": _share(sum(checks_passed.values()), total_checks),
        "per_check_pass_share": {c: _share(checks_passed[c], checks[c]) for c in CHECKS if checks[c]},
        "per_tag": {
            tag: {
                "conversations": c["conversations"],
                "conversation_pass_share": _share(c["passed"], c["conversations"]),
                "turn_pass_share": _share(c["turns_passed"], c["turns"]),
            }
            for tag, c in sorted(tags.items())
        },
        "skipped": list(skipped),
        "misses": misses,
    }
