"""The topic registry: policies_kb/topics.yaml read once, the one source of every list of topics.

Each topic has its code (the rules' folder), the NLU intent of questions on it, the worker's word, the operator's
word, its menu of rules, whether a question on it leaves the case-intake form and its NLU examples; the list is in
menu order. Beside them, `FOLLOW_UPS`: the intent and examples of follow-ups that name no topic ("那要带啥材料"),
answered within the conversation's topic. `TOPICS` (the codes) is what the schema validates rule folders against; `actions/`, the console and
`data/generate.py` (which writes the topic intents, examples and rules Rasa trains on) import the rest from here.
Plain Python and YAML: no Rasa, no database.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "Topic",
    "FollowUps",
    "REGISTRY",
    "FOLLOW_UPS",
    "TOPICS",
    "TOPIC_INTENTS",
    "INTENT_TOPICS",
    "WORKER_LABELS",
    "OPERATOR_LABELS",
    "MENUS",
    "load_topics",
    "load_follow_ups",
]

TOPICS_FILE = Path(__file__).with_name("topics.yaml")
_FIELDS = ("code", "intent", "worker", "operator", "menu", "leaves_case_intake", "examples")


@dataclasses.dataclass(frozen=True)
class Topic:
    """One topic of the knowledge base, as policies_kb/topics.yaml declares it."""

    code: str
    intent: str
    worker: str  # the word workers read ("娃娃上学")
    operator: str  # the word the console shows ("子女上学")
    menu: tuple[str, ...]  # rule ids offered when the topic is chosen but the question is unclear
    leaves_case_intake: bool
    examples: tuple[str, ...]  # NLU examples in Rasa's format without the "- " ("在[贺兰县](county)买了房能落户不")


@dataclasses.dataclass(frozen=True)
class FollowUps:
    """The follow-ups that name no topic, as policies_kb/topics.yaml declares them (`follow_ups:`)."""

    intent: str
    examples: tuple[str, ...]


def _read(path: Path) -> dict[str, Any]:
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not set(data) <= {"topics", "follow_ups"}:
        raise ValueError(f"{path}: expected the sections 'topics' and 'follow_ups' only")
    return data


def load_follow_ups(path: Path = TOPICS_FILE) -> FollowUps:
    """The follow-ups of `path`; ValueError when the section is missing or malformed."""
    entry = _read(path).get("follow_ups")
    if not isinstance(entry, dict) or set(entry) != {"intent", "examples"}:
        raise ValueError(f"{path}: follow_ups must have exactly the fields intent, examples")
    if not isinstance(entry["intent"], str) or not entry["intent"]:
        raise ValueError(f"{path}: follow_ups: intent must be non-empty text")
    return FollowUps(entry["intent"], _examples(path, "follow_ups", entry["examples"]))


def load_topics(path: Path = TOPICS_FILE) -> tuple[Topic, ...]:
    """The topics of `path`, in menu order; ValueError naming the entry when one is malformed."""
    entries = _read(path).get("topics")
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: expected a non-empty list under 'topics'")
    topics: list[Topic] = []
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or set(entry) != set(_FIELDS):
            raise ValueError(f"{path}: topic #{number} must have exactly the fields {', '.join(_FIELDS)}")
        text_fields = [entry[name] for name in ("code", "intent", "worker", "operator")]
        if not all(isinstance(value, str) and value for value in text_fields):
            raise ValueError(f"{path}: topic #{number}: code, intent, worker and operator must be non-empty text")
        if not isinstance(entry["menu"], list) or not all(isinstance(rule, str) for rule in entry["menu"]):
            raise ValueError(f"{path}: topic {entry['code']}: menu must be a list of rule ids")
        if not isinstance(entry["leaves_case_intake"], bool):
            raise ValueError(f"{path}: topic {entry['code']}: leaves_case_intake must be true or false")
        examples = _examples(path, entry["code"], entry["examples"])
        topics.append(Topic(**{**entry, "menu": tuple(entry["menu"]), "examples": examples}))
    for field in ("code", "intent"):
        values = [getattr(topic, field) for topic in topics]
        if len(set(values)) != len(values):
            raise ValueError(f"{path}: two topics share one {field}")
    return tuple(topics)


def _examples(path: Path, code: str, block: object) -> tuple[str, ...]:
    """An `examples: |` block as its examples; ValueError when it is not "- example" lines."""
    if not isinstance(block, str) or not block.strip():
        raise ValueError(f"{path}: topic {code}: examples must be a block of '- example' lines")
    lines = [line.strip() for line in block.splitlines() if line.strip()]
    malformed = [line for line in lines if not line.startswith("- ") or not line[2:].strip()]
    if malformed:
        raise ValueError(f"{path}: topic {code}: example {malformed[0]!r} must be a line '- example'")
    examples = tuple(line[2:].strip() for line in lines)
    if len(set(examples)) != len(examples):
        raise ValueError(f"{path}: topic {code}: an example is listed twice")
    return examples


REGISTRY: tuple[Topic, ...] = load_topics()
FOLLOW_UPS: FollowUps = load_follow_ups()
TOPICS: tuple[str, ...] = tuple(topic.code for topic in REGISTRY)
TOPIC_INTENTS: dict[str, str] = {topic.code: topic.intent for topic in REGISTRY}
INTENT_TOPICS: dict[str, str] = {topic.intent: topic.code for topic in REGISTRY}
WORKER_LABELS: dict[str, str] = {topic.code: topic.worker for topic in REGISTRY}
OPERATOR_LABELS: dict[str, str] = {topic.code: topic.operator for topic in REGISTRY}
MENUS: dict[str, tuple[str, ...]] = {topic.code: topic.menu for topic in REGISTRY}
if FOLLOW_UPS.intent in INTENT_TOPICS:
    raise ValueError(f"{TOPICS_FILE}: the follow-ups' intent {FOLLOW_UPS.intent} is also a topic's")
