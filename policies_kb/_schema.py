"""The rule and fact schema: the public value types and the validation of parsed YAML.

``policies_kb/SCHEMA.md`` is the human description; this module is the executable one. Validation never stops at
the first problem: each ``validate_*`` function returns every :class:`KBError` it finds, so that ``check`` shows an
author all their mistakes in one run. Nothing here touches files or the database.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlsplit

from policies_kb.topics import TOPICS  # the topic registry (policies_kb/topics.yaml)

__all__ = [
    "TOPICS",
    "OUTCOMES",
    "OPERATORS",
    "FACT_TYPES",
    "OFFICIAL_HOST_SUFFIXES",
    "KBError",
    "KBValidationError",
    "Source",
    "Rule",
    "FactSpec",
    "SOURCE_QUALITIES",
    "FACET_KEYS",
    "validate_rule",
    "validate_facts",
    "parse_iso_date",
]

OUTCOMES: tuple[str, ...] = ("eligible", "not_eligible", "partly_eligible", "refer")
OPERATORS: tuple[str, ...] = ("==", "!=", "<", "<=", ">", ">=", "in")
ORDERING_OPERATORS = frozenset({"<", "<=", ">", ">="})
FACT_TYPES: tuple[str, ...] = ("number", "integer", "boolean", "choice", "year_month")

# Source URLs must point at an official host (SCHEMA.md: "official hosts only, never a mirror"). A host matches when
# it equals one of these or ends with "." + one of these.
OFFICIAL_HOST_SUFFIXES: tuple[str, ...] = (
    "gov.cn",
    "people.com.cn",
    "xinhuanet.com",
    "news.cn",
    "gmw.cn",
    "cctv.com",
    "chinacourt.org",
    "court.gov.cn",
    "npc.gov.cn",
)

SLUG_PATTERN = re.compile(r"[a-z0-9_]+")
FACT_NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

_RULE_REQUIRED = (
    "topic",
    "title",
    "questions",
    "answer",
    "quote",
    "sources",
    "scope",
    "decided_locally",
    "effective_from",
    "effective_until",
    "last_verified",
    "verified_by",
)
# superseded_by/change_note/facets/related: the KB contract (issue 11 §3a, issue 12)
_RULE_OPTIONAL = ("conditions", "superseded_by", "change_note", "facets", "related")
_SOURCE_REQUIRED = ("title", "doc_no", "issuer", "date", "article", "quality")
_SOURCE_OPTIONAL = ("url", "text")
SOURCE_QUALITIES: tuple[str, ...] = ("official_text", "official_page", "news", "third_party")
FACET_KEYS: tuple[str, ...] = ("where", "bring", "how_long", "cost", "who", "deadline")
TEXT_ID_PATTERN = re.compile(r"[a-z0-9_]+")
_OUTCOME_REQUIRED = ("if", "outcome", "reason")
_OUTCOME_OPTIONAL = ("amount",)
_AMOUNT_REQUIRED = ("value", "unit")
_AMOUNT_OPTIONAL = ("label",)
_FACT_REQUIRED = ("type", "question")
_FACT_OPTIONAL = ("unit", "choices", "choice_words", "derived")
_YEAR_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
MIN_QUESTIONS = 3


# ---------------------------------------------------------------------------------------------------------------
# Errors


@dataclasses.dataclass(frozen=True)
class KBError:
    """One problem in one file: ``path`` (as given to the loader), ``field`` (a dotted path such as
    ``sources[0].title``, or ``(file)`` / ``(yaml)`` for problems with the file itself) and a ``message``."""

    path: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.field}: {self.message}"


class KBValidationError(Exception):
    """Raised by :meth:`KnowledgeBase.load` when any file is invalid; ``errors`` lists every problem found."""

    def __init__(self, errors: list[KBError]):
        self.errors = list(errors)
        lines = "\n".join(f"  {error}" for error in self.errors[:20])
        more = f"\n  ... and {len(self.errors) - 20} more" if len(self.errors) > 20 else ""
        super().__init__(f"{len(self.errors)} error(s) in the knowledge base:\n{lines}{more}")


# ---------------------------------------------------------------------------------------------------------------
# Value types


@dataclasses.dataclass(frozen=True)
class Source:
    """A cited document: the rule's authority. ``doc_no`` is ``""`` for documents without a number (laws)."""

    title: str
    doc_no: str
    issuer: str
    date: datetime.date
    article: str
    url: str | None = None
    quality: str = "third_party"
    text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The source as plain JSON-ready data (date as an ISO string)."""
        return {
            "title": self.title,
            "doc_no": self.doc_no,
            "issuer": self.issuer,
            "date": self.date.isoformat(),
            "article": self.article,
            "url": self.url,
            "quality": self.quality,
            "text": self.text,
        }

    def citation(self) -> str:
        """One short line: ``《title》（doc_no）article，issuer，date`` (the brackets are left out without a doc_no)."""
        doc_no = f"（{self.doc_no}）" if self.doc_no else ""
        return f"《{self.title}》{doc_no}{self.article}，{self.issuer}，{self.date.isoformat()}"


@dataclasses.dataclass(frozen=True)
class Rule:
    """One validated rule file. ``id`` is ``<topic>.<slug>``, taken from the file's path."""

    id: str
    topic: str
    title: str
    questions: tuple[str, ...]
    answer: str
    quote: str
    sources: tuple[Source, ...]
    scope: str
    decided_locally: bool
    effective_from: datetime.date
    effective_until: datetime.date | None
    last_verified: datetime.date
    conditions: Mapping[str, Any] | None = None
    path: str | None = dataclasses.field(default=None, compare=False, repr=False)
    verified_by: str = ""
    superseded_by: str | None = None
    change_note: str | None = None
    facets: Mapping[str, str] = dataclasses.field(default_factory=dict)
    related: tuple[str, ...] = ()

    def __hash__(self) -> int:  # conditions is a dict, so the generated hash would fail; the id is unique anyway
        return hash(self.id)

    def is_valid_on(self, day: datetime.date) -> bool:
        """True when the rule is in force on ``day``: ``effective_from <= day <= effective_until`` (open end if None)."""
        return self.effective_from <= day and (self.effective_until is None or day <= self.effective_until)

    def citation(self) -> str:
        """The first (primary) source as one short line, e.g. ``《…办法》（宁人社规字〔2024〕8号）第二条，…，2024-10-28``."""
        return self.sources[0].citation()

    def to_dict(self) -> dict[str, Any]:
        """The rule as plain JSON-ready data, with exactly the schema's fields plus ``id`` (dates as ISO strings)."""
        return {
            "id": self.id,
            "topic": self.topic,
            "title": self.title,
            "questions": list(self.questions),
            "answer": self.answer,
            "quote": self.quote,
            "sources": [source.to_dict() for source in self.sources],
            "scope": self.scope,
            "decided_locally": self.decided_locally,
            "effective_from": self.effective_from.isoformat(),
            "effective_until": self.effective_until.isoformat() if self.effective_until else None,
            "last_verified": self.last_verified.isoformat(),
            "verified_by": self.verified_by,
            "superseded_by": self.superseded_by,
            "change_note": self.change_note,
            "facets": dict(self.facets),
            "related": list(self.related),
            "conditions": _plain(self.conditions),
        }


@dataclasses.dataclass(frozen=True)
class FactSpec:
    """A fact the eligibility rules may ask about. ``choices`` maps each key to its Chinese label (choice facts);
    ``choice_words`` maps a key to the everyday words that mean it ("自己干" → individual) for free-text answers."""

    name: str
    type: str
    question: str
    unit: str | None = None
    choices: Mapping[str, str] | None = None
    choice_words: Mapping[str, tuple[str, ...]] | None = None
    derived: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The fact declaration as plain data."""
        return {
            "name": self.name,
            "type": self.type,
            "question": self.question,
            "derived": self.derived,
            "unit": self.unit,
            "choices": dict(self.choices) if self.choices is not None else None,
            "choice_words": {key: list(words) for key, words in self.choice_words.items()}
            if self.choice_words
            else None,
        }


def _plain(value: Any) -> Any:
    """A deep copy of parsed YAML as plain dicts and lists (conditions are stored read-only elsewhere)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


# ---------------------------------------------------------------------------------------------------------------
# Validation helpers


def parse_iso_date(value: Any) -> datetime.date | None:
    """``YYYY-MM-DD`` (a string, as the strict loader leaves dates) to a date; None when it is not a real date."""
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        return None


class _Collector:
    """Collects errors for one file."""

    def __init__(self, path: str):
        self.path = path
        self.errors: list[KBError] = []

    def add(self, field: str, message: str) -> None:
        self.errors.append(KBError(self.path, field, message))

    def keys(self, mapping: Mapping[str, Any], prefix: str, required: tuple, optional: tuple) -> None:
        """Report missing required keys and unknown keys of ``mapping``."""
        for key in required:
            if key not in mapping:
                self.add(_join(prefix, key), "required field is missing")
        for key in mapping:
            if key not in required and key not in optional:
                allowed = ", ".join(required + optional)
                self.add(_join(prefix, str(key)), f"unknown key (allowed: {allowed})")

    def text(self, mapping: Mapping[str, Any], key: str, prefix: str, *, allow_empty: bool = False) -> str | None:
        if key not in mapping:
            return None
        value = mapping[key]
        if not isinstance(value, str):
            self.add(_join(prefix, key), f"must be text, got {_describe(value)}")
            return None
        if not allow_empty and not value.strip():
            self.add(_join(prefix, key), "must not be empty")
            return None
        return value.strip()

    def date(self, mapping: Mapping[str, Any], key: str, prefix: str, *, nullable: bool = False):
        if key not in mapping:
            return None
        value = mapping[key]
        if value is None and nullable:
            return None
        parsed = parse_iso_date(value)
        if parsed is None:
            expected = "an ISO date YYYY-MM-DD or null" if nullable else "an ISO date YYYY-MM-DD"
            self.add(_join(prefix, key), f"must be {expected}, got {value!r}")
        return parsed


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {value!r}"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_official_url(url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return False
    return any(host == suffix or host.endswith("." + suffix) for suffix in OFFICIAL_HOST_SUFFIXES)


# ---------------------------------------------------------------------------------------------------------------
# Facts


def validate_facts(data: Any, path: str) -> tuple[dict[str, FactSpec], list[KBError]]:
    """Validate one facts file (a mapping of fact name to declaration); return the specs that are valid and the errors."""
    check = _Collector(path)
    specs: dict[str, FactSpec] = {}
    if data is None:
        return specs, check.errors  # an empty facts file declares nothing; that is allowed
    if not isinstance(data, dict):
        check.add("(file)", f"a facts file must be a mapping of fact name to declaration, got {_describe(data)}")
        return specs, check.errors
    for name, spec in data.items():
        before = len(check.errors)
        if not isinstance(name, str) or not FACT_NAME_PATTERN.fullmatch(name):
            check.add(str(name), "fact name must be lower-case ASCII [a-z][a-z0-9_]*")
            continue
        if not isinstance(spec, dict):
            check.add(name, f"must be a mapping with type and question, got {_describe(spec)}")
            continue
        derived = spec.get("derived", False)
        if not isinstance(derived, bool):
            check.add(f"{name}.derived", "must be true or false")
        if derived is True and "question" not in spec:
            spec = {**spec, "question": f"（由其他情况计算：{name}）"}
        check.keys(spec, name, _FACT_REQUIRED, _FACT_OPTIONAL)
        fact_type = spec.get("type")
        if "type" in spec and fact_type not in FACT_TYPES:
            check.add(f"{name}.type", f"must be one of {', '.join(FACT_TYPES)}, got {fact_type!r}")
        question = check.text(spec, "question", name)
        unit = check.text(spec, "unit", name) if spec.get("unit") is not None else None
        choices = spec.get("choices")
        if fact_type == "choice":
            if not isinstance(choices, dict) or not choices:
                check.add(f"{name}.choices", "a choice fact needs choices: {key: 中文标签, ...}")
            else:
                for key, label in choices.items():
                    if not isinstance(key, str) or not SLUG_PATTERN.fullmatch(key):
                        check.add(f"{name}.choices.{key}", "choice key must be lower-case ASCII [a-z0-9_]+")
                    if not isinstance(label, str) or not label.strip():
                        check.add(f"{name}.choices.{key}", "choice label must be non-empty text")
        elif choices is not None:
            check.add(f"{name}.choices", f"only choice facts have choices (this fact is {fact_type!r})")
        words = spec.get("choice_words")
        if words is not None:
            if fact_type != "choice" or not isinstance(choices, dict):
                check.add(f"{name}.choice_words", "only choice facts with choices have choice_words")
            elif not isinstance(words, dict):
                check.add(f"{name}.choice_words", "must map choice keys to lists of words: {key: [词, ...]}")
            else:
                for key, listed in words.items():
                    if key not in choices:
                        check.add(f"{name}.choice_words.{key}", f"{key!r} is not a choice of {name}")
                    elif (
                        not isinstance(listed, list)
                        or not listed
                        or not all(isinstance(word, str) and word.strip() for word in listed)
                    ):
                        check.add(f"{name}.choice_words.{key}", "must be a non-empty list of words")
        if len(check.errors) == before:
            specs[name] = FactSpec(
                name=name,
                type=cast(str, fact_type),
                question=cast(str, question),
                unit=unit,
                choices={key: label.strip() for key, label in cast(dict, choices).items()}
                if fact_type == "choice"
                else None,
                choice_words={key: tuple(word.strip() for word in listed) for key, listed in cast(dict, words).items()}
                if words
                else None,
                derived=derived is True,
            )
    return specs, check.errors


# ---------------------------------------------------------------------------------------------------------------
# Rules


def validate_rule(
    data: Any, *, path: str, topic_folder: str, slug: str, facts: Mapping[str, FactSpec]
) -> tuple[Rule | None, list[KBError]]:
    """Validate one parsed rule file found at ``rules/<topic_folder>/<slug>.yaml``.

    Returns ``(rule, [])`` when valid and ``(None, errors)`` otherwise. ``facts`` are the declared facts that
    conditions may name. Duplicate keys and YAML syntax are the loader's job (they are lost once parsed).
    """
    check = _Collector(path)
    if topic_folder not in TOPICS:
        check.add("topic", f"folder {topic_folder!r} is not a topic (topics: {', '.join(TOPICS)})")
    if not SLUG_PATTERN.fullmatch(slug):
        check.add("id", f"file name {slug!r} is not a valid slug: use lower-case ASCII [a-z0-9_]+ only")
    if not isinstance(data, dict):
        check.add("(file)", f"a rule file must be a mapping, got {_describe(data)}")
        return None, check.errors

    check.keys(data, "", _RULE_REQUIRED, _RULE_OPTIONAL)

    topic = data.get("topic")
    if "topic" in data and topic != topic_folder:
        check.add("topic", f"{topic!r} does not match its folder {topic_folder!r}")
    title = check.text(data, "title", "")
    answer = check.text(data, "answer", "")
    quote = check.text(data, "quote", "")
    scope = check.text(data, "scope", "")

    questions = data.get("questions")
    if "questions" in data:
        if not isinstance(questions, list) or not all(isinstance(q, str) and q.strip() for q in questions):
            check.add("questions", "must be a list of non-empty texts")
            questions = None
        elif len(questions) < MIN_QUESTIONS:
            check.add("questions", f"needs at least {MIN_QUESTIONS} phrasings, got {len(questions)}")
            questions = None

    decided_locally = data.get("decided_locally")
    if "decided_locally" in data and not isinstance(decided_locally, bool):
        check.add("decided_locally", f"must be true or false, got {_describe(decided_locally)}")

    sources = _validate_sources(data, check)

    effective_from = check.date(data, "effective_from", "")
    effective_until = check.date(data, "effective_until", "", nullable=True)
    last_verified = check.date(data, "last_verified", "")
    if effective_from and effective_until and effective_until < effective_from:
        check.add(
            "effective_until",
            f"{effective_until.isoformat()} is before effective_from {effective_from.isoformat()}",
        )

    conditions = data.get("conditions")
    if conditions is not None:
        _validate_conditions(conditions, facts, check)

    verified_by = check.text(data, "verified_by", "") or ""
    superseded_by = check.text(data, "superseded_by", "") if data.get("superseded_by") is not None else None
    change_note = check.text(data, "change_note", "") if data.get("change_note") is not None else None
    if superseded_by is not None and not _RULE_ID_PATTERN.fullmatch(superseded_by):
        check.add("superseded_by", f"{superseded_by!r} is not a rule id <topic>.<slug>")
    if (superseded_by is None) != (change_note is None):
        check.add(
            "superseded_by" if superseded_by is None else "change_note",
            "superseded_by and change_note go together: give both (an expired rule with a successor) or neither",
        )
    if superseded_by is not None and effective_until is None and "effective_until" in data:
        check.add("superseded_by", "only an expired rule has a successor: set effective_until first")
    facets = _validate_facets(data, check)
    related = _validate_related(data, check)

    if check.errors:
        return None, check.errors
    # no error was found, so every required field is present and of its type
    rule = Rule(
        id=f"{topic_folder}.{slug}",
        topic=cast(str, topic),
        title=cast(str, title),
        questions=tuple(q.strip() for q in cast(list, questions)),
        answer=cast(str, answer),
        quote=cast(str, quote),
        sources=tuple(sources),
        scope=cast(str, scope),
        decided_locally=cast(bool, decided_locally),
        effective_from=effective_from,
        effective_until=effective_until,
        last_verified=last_verified,
        conditions=_plain(conditions),
        path=path,
        verified_by=verified_by,
        superseded_by=superseded_by,
        change_note=change_note,
        facets=facets,
        related=related,
    )
    return rule, []


_RULE_ID_PATTERN = re.compile(r"[a-z_]+\.[a-z0-9_]+")


def _validate_facets(data: Mapping[str, Any], check: _Collector) -> dict[str, str]:
    raw = data.get("facets")
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not raw:
        check.add("facets", f"must be a mapping of {', '.join(FACET_KEYS)} to short sentences")
        return {}
    facets: dict[str, str] = {}
    for key in raw:
        if key not in FACET_KEYS:
            check.add(f"facets.{key}", f"unknown facet (allowed: {', '.join(FACET_KEYS)})")
            continue
        value = check.text(raw, key, "facets")
        if value is not None:
            facets[key] = value
    return facets


def _validate_related(data: Mapping[str, Any], check: _Collector) -> tuple[str, ...]:
    raw = data.get("related")
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(item, str) and item.strip() for item in raw):
        check.add("related", "must be a list of rule ids <topic>.<slug>")
        return ()
    related = tuple(item.strip() for item in raw)
    for index, item in enumerate(related):
        if not _RULE_ID_PATTERN.fullmatch(item):
            check.add(f"related[{index}]", f"{item!r} is not a rule id <topic>.<slug>")
    if len(set(related)) != len(related):
        check.add("related", "lists a rule id twice")
    return related


def _validate_sources(data: Mapping[str, Any], check: _Collector) -> list[Source]:
    if "sources" not in data:
        return []  # already reported as a missing required field
    raw = data["sources"]
    if not isinstance(raw, list) or not raw:
        check.add("sources", "a rule needs at least one cited source (title, doc_no, issuer, date, article)")
        return []
    sources = []
    for index, item in enumerate(raw):
        prefix = f"sources[{index}]"
        if not isinstance(item, dict):
            check.add(prefix, f"must be a mapping, got {_describe(item)}")
            continue
        before = len(check.errors)
        check.keys(item, prefix, _SOURCE_REQUIRED, _SOURCE_OPTIONAL)
        title = check.text(item, "title", prefix)
        doc_no = check.text(item, "doc_no", prefix, allow_empty=True)
        issuer = check.text(item, "issuer", prefix)
        article = check.text(item, "article", prefix)
        source_date = check.date(item, "date", prefix)
        quality = item.get("quality")
        if "quality" in item and quality not in SOURCE_QUALITIES:
            check.add(f"{prefix}.quality", f"must be one of {', '.join(SOURCE_QUALITIES)}, got {quality!r}")
        text_id = check.text(item, "text", prefix) if item.get("text") is not None else None
        if "text" in item and item["text"] is None:
            check.add(f"{prefix}.text", "must be a shipped text id (leave text out when the source is not one)")
        if text_id is not None and not TEXT_ID_PATTERN.fullmatch(text_id):
            check.add(f"{prefix}.text", f"{text_id!r} is not a text id (lower-case ASCII [a-z0-9_]+)")
        if quality in SOURCE_QUALITIES and (quality == "official_text") != (text_id is not None):
            check.add(
                f"{prefix}.quality",
                "official_text means a shipped text: give text: <id> with it"
                if quality == "official_text"
                else f"a source with text: {text_id} is a shipped text, so its quality is official_text",
            )
        url = item.get("url")
        if url is not None:
            if not isinstance(url, str) or not _is_official_url(url.strip()):
                check.add(
                    f"{prefix}.url",
                    f"{url!r} is not an official host ({', '.join(OFFICIAL_HOST_SUFFIXES)}); leave url out rather "
                    "than cite a mirror",
                )
            else:
                url = url.strip()
        if len(check.errors) == before:
            sources.append(
                Source(
                    cast(str, title),
                    cast(str, doc_no),
                    cast(str, issuer),
                    cast(datetime.date, source_date),
                    cast(str, article),
                    url,
                    cast(str, quality),
                    text_id,
                )
            )
    return sources


def _validate_conditions(conditions: Any, facts: Mapping[str, FactSpec], check: _Collector) -> None:
    if not isinstance(conditions, dict):
        check.add("conditions", f"must be a mapping with outcomes, got {_describe(conditions)}")
        return
    check.keys(conditions, "conditions", ("outcomes",), ())
    outcomes = conditions.get("outcomes")
    if "outcomes" not in conditions:
        return
    if not isinstance(outcomes, list) or not outcomes:
        check.add("conditions.outcomes", "must be a non-empty list")
        return
    for index, outcome in enumerate(outcomes):
        prefix = f"conditions.outcomes[{index}]"
        if not isinstance(outcome, dict):
            check.add(prefix, f"must be a mapping, got {_describe(outcome)}")
            continue
        check.keys(outcome, prefix, _OUTCOME_REQUIRED, _OUTCOME_OPTIONAL)
        if "if" in outcome:
            _validate_expression(outcome["if"], f"{prefix}.if", facts, check)
        if "outcome" in outcome and outcome["outcome"] not in OUTCOMES:
            check.add(f"{prefix}.outcome", f"must be one of {', '.join(OUTCOMES)}, got {outcome['outcome']!r}")
        check.text(outcome, "reason", prefix)
        amount = outcome.get("amount")
        if amount is not None:
            if not isinstance(amount, dict):
                check.add(f"{prefix}.amount", "must be a mapping {value: N, unit: 元, label: ...}")
            else:
                check.keys(amount, f"{prefix}.amount", _AMOUNT_REQUIRED, _AMOUNT_OPTIONAL)
                if "value" in amount and not _is_number(amount["value"]):
                    check.add(f"{prefix}.amount.value", f"must be a number, got {_describe(amount['value'])}")
                check.text(amount, "unit", f"{prefix}.amount")
                check.text(amount, "label", f"{prefix}.amount")


def _validate_expression(expr: Any, prefix: str, facts: Mapping[str, FactSpec], check: _Collector) -> None:
    forms = ("fact", "all", "any", "not", "always")
    if not isinstance(expr, dict):
        check.add(prefix, f"an expression must be a mapping ({', '.join(forms)}), got {_describe(expr)}")
        return
    present = [key for key in forms if key in expr]
    if len(present) != 1:
        check.add(prefix, f"an expression needs exactly one of {', '.join(forms)}, got {sorted(map(str, expr))}")
        return
    form = present[0]
    if form == "fact":
        check.keys(expr, prefix, ("fact", "op", "value"), ())
        _validate_comparison(expr, prefix, facts, check)
    elif form in ("all", "any"):
        check.keys(expr, prefix, (form,), ())
        items = expr[form]
        if not isinstance(items, list) or not items:
            check.add(f"{prefix}.{form}", "must be a non-empty list of expressions")
            return
        for index, item in enumerate(items):
            _validate_expression(item, f"{prefix}.{form}[{index}]", facts, check)
    elif form == "not":
        check.keys(expr, prefix, ("not",), ())
        _validate_expression(expr["not"], f"{prefix}.not", facts, check)
    else:
        check.keys(expr, prefix, ("always",), ())
        if expr["always"] is not True:
            check.add(f"{prefix}.always", "must be true (write the fallback outcome last)")


def _validate_comparison(expr: Mapping[str, Any], prefix: str, facts: Mapping[str, FactSpec], check: _Collector):
    name, op = expr.get("fact"), expr.get("op")
    if op not in OPERATORS:
        check.add(f"{prefix}.op", f"must be one of {' '.join(OPERATORS)}, got {op!r}")
        op = None
    spec = facts.get(name) if isinstance(name, str) else None
    if spec is None:
        check.add(f"{prefix}.fact", f"{name!r} is not declared in policies_kb/facts/")
        return
    if op is None or "value" not in expr:
        return
    value = expr["value"]
    if op == "in":
        if not isinstance(value, list) or not value:
            check.add(f"{prefix}.value", f"'in' needs a non-empty list, got {_describe(value)}")
            return
        for index, item in enumerate(value):
            problem = _type_problem(spec, item, op)
            if problem:
                check.add(f"{prefix}.value[{index}]", problem)
        return
    problem = _type_problem(spec, value, op)
    if problem:
        check.add(f"{prefix}.value", problem)


def _type_problem(spec: FactSpec, value: Any, op: str) -> str | None:
    """Why ``value`` cannot be compared with fact ``spec`` using ``op``, or None when it can."""
    if spec.type in ("number", "integer"):
        if not _is_number(value):
            return f"{spec.name} is a {spec.type}, so compare it with a number, not {_describe(value)}"
        if spec.type == "integer" and isinstance(value, float) and not value.is_integer():
            return f"{spec.name} is an integer, so compare it with a whole number, not {value!r}"
        return None
    if spec.type == "year_month":
        if not isinstance(value, str) or not _YEAR_MONTH.fullmatch(value):
            return f"{spec.name} is a year_month, so compare it with \"YYYY-MM\", not {_describe(value)}"
        return None
    if op in ORDERING_OPERATORS:
        return f"{spec.name} is a {spec.type}; {op} only applies to numbers and year_month"
    if spec.type == "boolean":
        if not isinstance(value, bool):
            return f"{spec.name} is a boolean, so compare it with true or false, not {_describe(value)}"
        return None
    if not isinstance(value, str) or value not in (spec.choices or {}):
        return f"{value!r} is not a choice of {spec.name} (choices: {', '.join(spec.choices or {})})"
    return None
