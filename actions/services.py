"""The services the actions use, built once per action-server process: the knowledge base, cases and handoffs.

Actions talk to `policies_kb` only through `PolicyService` (search, rules, eligibility, fact questions), and to the
app store only through `bot.cases.CaseService` and `bot.handoffs.HandoffService`. Nothing here looks up today's date: the actions pass `on=` from
their edge, so a test can pin the day.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.cases import CaseService
from bot.handoffs import HandoffService
from bot.store import app_store
from policies_kb import MIN_CONFIDENT_SCORE, TOPICS, EligibilityResult, FactSpec, KnowledgeBase, Rule, SearchHit

__all__ = [
    "MIN_CONFIDENT_SCORE",
    "TOPICS",
    "Hit",
    "PolicyService",
    "policies",
    "cases",
    "handoffs",
]


@dataclass(frozen=True)
class Hit:
    """One search result: the rule and its score in [0, 1] (comparable across questions). `superseded` is the expired
    rule the question matched when `rule` is its current successor (issue 11 §3a), else None."""

    rule: Rule
    score: float
    superseded: Rule | None = None


class PolicyService:
    """The knowledge base as the dialogue needs it. Read-only and thread-safe once built."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self._kb = kb

    @classmethod
    def load(cls) -> PolicyService:
        return cls(KnowledgeBase.load().warm_up())

    def search(self, text: str, *, on: datetime.date, topic: str | None = None, limit: int = 5) -> list[Hit]:
        """Rules in force on `on` that answer `text`, best first (optionally within one topic)."""
        if not text or not text.strip():
            return []
        hits: list[SearchHit] = self._kb.search(text, on=on, topic=topic, limit=limit)
        return [Hit(hit.rule, hit.score, getattr(hit, "superseded", None)) for hit in hits]

    def rank(self, text: str, *, on: datetime.date) -> list[Hit]:
        """Every rule in force on `on` that matches `text` at all, best first: the one search of a question, which the
        dialogue then filters in memory (by topic, by the rules related to the last answer). Scores do not depend on
        the filter, so a topic's slice of this ranking is exactly what a search within that topic returns."""
        return self.search(text, on=on, limit=max(len(self._kb.rules), 1))

    @staticmethod
    def facets(rule: Rule) -> Mapping[str, str]:
        """The rule's short facet texts (where, bring, how_long, cost, who, deadline); empty when it has none."""
        return getattr(rule, "facets", None) or {}

    def related(self, rule: Rule, *, on: datetime.date) -> list[Rule]:
        """The neighbouring rules the rule links to (`related`), those in force on `on`, in the rule's order."""
        found = (self.rule(rule_id, on=on) for rule_id in getattr(rule, "related", None) or ())
        return [other for other in found if other is not None]

    def get(self, rule_id: str) -> Rule | None:
        """The rule `rule_id`, in force or not (for its metadata), or None."""
        return self._kb.get(rule_id or "")

    def rule(self, rule_id: str, *, on: datetime.date) -> Rule | None:
        """The rule `rule_id` if it exists and is in force on `on`."""
        rule = self._kb.get(rule_id or "")
        return rule if rule is not None and rule.is_valid_on(on) else None

    def rules_of_topic(self, topic: str, *, on: datetime.date) -> list[Rule]:
        return self._kb.rules_by_topic(topic, on=on) if topic in TOPICS else []

    def checkable(self, rule: Rule) -> bool:
        """True when the rule decides eligibility (has conditions), so the assistant can run a check on it."""
        return bool(rule.conditions)

    def facts_of(self, rule: Rule) -> list[str]:
        """The names of the facts the rule's conditions consult, in order of first use."""
        names: list[str] = []

        def walk(node: Any) -> None:
            if isinstance(node, Mapping):
                if isinstance(node.get("fact"), str) and node["fact"] not in names:
                    names.append(node["fact"])
                for value in node.values():
                    walk(value)
            elif isinstance(node, (list, tuple)):
                for value in node:
                    walk(value)

        walk(rule.conditions or {})
        return names

    def evaluate(self, rule_id: str, facts: Mapping[str, Any], *, on: datetime.date) -> EligibilityResult:
        """The rule's decision for the facts given so far (missing_facts says what to ask next)."""
        known = {name: value for name, value in (facts or {}).items() if name in self._kb.facts}
        return self._kb.evaluate(rule_id, known, on=on)

    def fact(self, name: str) -> FactSpec:
        return self._kb.facts[name]

    def parse_fact(self, name: str, text: str) -> Any:
        """The worker's free-text answer as the fact's typed value, or None when unclear ("交了三年多" → 3)."""
        return self._kb.parse_fact(name, text)


@functools.lru_cache(maxsize=1)
def policies() -> PolicyService:
    """The process's PolicyService (the knowledge base is loaded and validated on first use, ~0.6 s)."""
    return PolicyService.load()


@functools.lru_cache(maxsize=1)
def cases() -> CaseService:
    """The process's CaseService on its app store (`bot.settings.current()`; the launcher migrated it before)."""
    return CaseService(app_store())


@functools.lru_cache(maxsize=1)
def handoffs() -> HandoffService:
    """The process's HandoffService on the same app store as `cases()`."""
    return HandoffService(app_store())
