"""The :class:`KnowledgeBase` facade: load (validate → search index), then query, search, evaluate."""

from __future__ import annotations

import dataclasses
import datetime
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from policies_kb._derived import DERIVED_FACTS, derive, display_values, inputs_to_ask
from policies_kb._evaluator import EligibilityResult, coerce_fact, evaluate_rule, parse_fact_text
from policies_kb._loader import load_files
from policies_kb._parameters import Parameters
from policies_kb._schema import TOPICS, FactSpec, KBValidationError, Rule
from policies_kb._search import SearchHit, SearchIndex, Synonyms
from policies_kb._sources import ShippedText

__all__ = ["KnowledgeBase"]

logger = logging.getLogger(__name__)


class _Placeholders(dict):
    """Reason placeholders; one that cannot be filled says so instead of raising."""

    def __missing__(self, key: str) -> str:
        return "（以社保经办机构核定为准）"


class KnowledgeBase:
    """The validated rules, the shipped texts and the search index.

    Build it with :meth:`load`; it is read-only afterwards and safe to share between threads. No method looks up
    today's date: every date-dependent call takes the day as an argument.
    """

    def __init__(
        self,
        rules: list[Rule],
        facts: dict[str, FactSpec],
        index: SearchIndex,
        texts: Mapping[str, ShippedText] | None = None,
        parameters: Parameters | None = None,
    ):
        self._rules = {rule.id: rule for rule in rules}
        self._facts = dict(facts)
        self._index = index
        self._texts = dict(texts or {})
        self._parameters = parameters if parameters is not None else Parameters({}, {})
        self.load_seconds: float | None = None

    @classmethod
    def load(
        cls,
        rules_dir: Path | None = None,
        facts_dir: Path | None = None,
        *,
        synonyms: Synonyms | None = None,
        sources_dir: Path | None = None,
        parameters_dir: Path | None = None,
    ) -> KnowledgeBase:
        """Validate every rule, fact and text file (and every quote against its text), build the search index.

        ``rules_dir`` / ``facts_dir`` / ``sources_dir`` default to the package's ``rules/``, ``facts/`` and
        ``sources/``. Raises :class:`KBValidationError` listing every problem if any file is invalid.
        """
        started = time.perf_counter()
        result = load_files(rules_dir, facts_dir, sources_dir, parameters_dir)
        if result.errors:
            raise KBValidationError(result.errors)
        index = SearchIndex(result.rules, synonyms=synonyms)
        kb = cls(result.rules, result.facts, index, result.texts, result.parameters)
        kb.load_seconds = time.perf_counter() - started
        logger.debug("Loaded %d rules, %d facts in %.3f s", len(result.rules), len(result.facts), kb.load_seconds)
        return kb

    # -- rules ------------------------------------------------------------------------------------------------

    @property
    def rules(self) -> list[Rule]:
        """Every rule, in force or not, sorted by id."""
        return list(self._rules.values())

    @property
    def facts(self) -> dict[str, FactSpec]:
        """The declared facts by name (a copy)."""
        return dict(self._facts)

    def get(self, rule_id: str) -> Rule | None:
        """The rule with this id, in force or not, or None."""
        return self._rules.get(rule_id)

    @property
    def texts(self) -> dict[str, ShippedText]:
        """The shipped full texts by id (a copy): ``Source.text`` names one of them."""
        return dict(self._texts)

    @property
    def parameters(self) -> Parameters:
        """The dated values of ``policies_kb/parameters/`` (minimum contribution years, retirement ages)."""
        return self._parameters

    def rules_valid_on(self, day: datetime.date) -> list[Rule]:
        """Rules in force on ``day`` (``effective_from <= day <= effective_until``, open end if null), by id."""
        return [rule for rule in self._rules.values() if rule.is_valid_on(day)]

    def rules_by_topic(self, topic: str, on: datetime.date) -> list[Rule]:
        """Rules of ``topic`` in force on ``on``, by id. Raises ``ValueError`` for an unknown topic."""
        if topic not in TOPICS:
            raise ValueError(f"unknown topic {topic!r} (topics: {', '.join(TOPICS)})")
        return [rule for rule in self._rules.values() if rule.topic == topic and rule.is_valid_on(on)]

    # -- search -----------------------------------------------------------------------------------------------

    def warm_up(self) -> KnowledgeBase:
        """Prepare search's typo repair (servers call this at start-up; ``load`` stays fast for the CLI)."""
        self._index.warm_up()
        return self

    def search(self, text: str, *, on: datetime.date, topic: str | None = None, limit: int = 5) -> list[SearchHit]:
        """Rules in force on ``on`` that answer ``text``, best first (at most ``limit``).

        ``topic`` restricts the search to that topic. Scores are in [0, 1] and comparable across questions; treat a
        top score below :data:`policies_kb.MIN_CONFIDENT_SCORE` as "not sure".
        """
        if topic is not None and topic not in TOPICS:
            raise ValueError(f"unknown topic {topic!r} (topics: {', '.join(TOPICS)})")
        return self._index.search(text, on=on, topic=topic, limit=limit)

    # -- eligibility ------------------------------------------------------------------------------------------

    def parse_fact(self, name: str, text: Any) -> Any:
        """A worker's free-text answer to fact ``name``'s question as a typed value, or None when unclear.

        Raises ``KeyError`` for an undeclared fact.
        """
        return parse_fact_text(self._fact_spec(name), text)

    def evaluate(self, rule_id: str, facts: Mapping[str, Any], *, on: datetime.date) -> EligibilityResult:
        """Decide rule ``rule_id`` for ``facts`` as of ``on``.

        ``facts`` maps fact names to typed values (or free text, parsed with :meth:`parse_fact`); None means not
        given. Names the rule does not use are ignored, so a caller may pass all its slots. Raises ``KeyError`` for
        an unknown rule or undeclared fact, ``ValueError`` if the rule is not in force on ``on``, has no conditions,
        or a value cannot be read as its fact's type.
        """
        rule = self._rules.get(rule_id)
        if rule is None:
            raise KeyError(f"unknown rule {rule_id!r}")
        if not rule.is_valid_on(on):
            raise ValueError(f"rule {rule_id} is not in force on {on.isoformat()}")
        typed = {name: coerce_fact(self._fact_spec(name), value) for name, value in facts.items()}
        known = {**typed, **derive(typed, on, self._parameters)}
        result = evaluate_rule(rule, known)
        missing: list[str] = []
        for name in result.missing_facts:  # a computed fact is asked through its inputs ("哪年哪月出生")
            for item in inputs_to_ask(name, known) if self._fact_spec(name).derived else [name]:
                if item not in missing:
                    missing.append(item)
        if not missing and result.outcome is None:  # derived facts whose inputs are all known cannot be missing
            missing = list(result.missing_facts)
        reason = result.reason
        if reason is not None and "{" in reason:
            reason = reason.format_map(_Placeholders(display_values(known, self._parameters)))
        used = dict(result.facts_used)
        for name in list(used):  # show what a computed fact was computed from, and with what
            if self._fact_spec(name).derived:
                for item in (*DERIVED_FACTS[name], *DERIVED_FACTS):
                    if known.get(item) is not None:
                        used.setdefault(item, known[item])
        return dataclasses.replace(result, missing_facts=missing, reason=reason, facts_used=used, on=on)

    def _fact_spec(self, name: str) -> FactSpec:
        spec = self._facts.get(name)
        if spec is None:
            raise KeyError(f"undeclared fact {name!r}")
        return spec
