"""Checks across files, run by the loader after every rule validated on its own (SCHEMA.md, "What check refuses").

* each source's ``text:`` names a shipped text, and the rule's ``quote`` is in the cited article of its FIRST source
  when that source has ``text:`` (:func:`policies_kb._sources.quote_problem`);
* ``superseded_by`` names an existing rule in force the day after the expired rule ends; ``related`` names existing
  rules (not the rule itself);
* the weak-source hedge: a rule whose sources are all ``news``/``third_party`` and whose answer states a figure must
  say "据报道" or "以当地公布为准" and where to confirm (12333).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping

from policies_kb._derived import DERIVED_FACTS, MINIMUM_YEARS, PLACEHOLDERS, RETIREMENT
from policies_kb._parameters import Parameters
from policies_kb._schema import FactSpec, KBError, Rule
from policies_kb._sources import ShippedText, quote_problem

__all__ = [
    "WEAK_QUALITIES",
    "HEDGE_WORDS",
    "cross_check",
    "check_derived_facts",
    "states_a_figure",
    "rests_on_weak_sources",
]

WEAK_QUALITIES = frozenset({"news", "third_party"})
HEDGE_WORDS = ("据报道", "以当地公布为准")
CONFIRM_NUMBER = "12333"

# A figure: a number with a unit of money, time, share, size or count. Phone numbers, years (2021年) and article
# numbers are not figures.
_PHONE = re.compile(r"\d{3,4}-\d{5,8}|12333|12345|12348|12351")
_YEAR = re.compile(r"(?:19|20)\d{2}\s*年(?:度|底|初)?")
_FIGURE = re.compile(
    r"(?:\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千万]+)\s*"
    r"(?:%|％|万|元|块|年|个月|月|日|天|小时|周|人|次|岁|平方米|㎡|倍|成|个工作日)"
)


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def check_derived_facts(facts: Mapping[str, FactSpec], parameters: Parameters, path: str) -> list[KBError]:
    """A fact marked ``derived`` must be one the code computes (policies_kb/_derived.py), and the inputs and
    parameters it is computed from must exist."""
    errors = []
    for name, spec in facts.items():
        if spec.derived and name not in DERIVED_FACTS:
            errors.append(
                KBError(path, f"{name}.derived", f"no computation for {name} (known: {', '.join(DERIVED_FACTS)})")
            )
        if name in DERIVED_FACTS and not spec.derived:
            errors.append(KBError(path, f"{name}.derived", f"{name} is computed: declare it with derived: true"))
        if spec.derived and name in DERIVED_FACTS:
            for item in DERIVED_FACTS[name]:
                if item not in facts:
                    errors.append(KBError(path, name, f"is computed from {item}, which is not declared"))
            for parameter in (MINIMUM_YEARS, RETIREMENT):
                if parameter not in parameters.dated and parameter not in parameters.schedules:
                    errors.append(KBError(path, name, f"needs the parameter {parameter} (policies_kb/parameters/)"))
    return errors


def states_a_figure(answer: str) -> bool:
    """True when ``answer`` states an amount, a duration, a share or a count."""
    text = _YEAR.sub(" ", _PHONE.sub(" ", answer))
    return bool(_FIGURE.search(text))


def rests_on_weak_sources(rule: Rule) -> bool:
    """True when every source of ``rule`` is a news report or a third-party page."""
    return all(source.quality in WEAK_QUALITIES for source in rule.sources)


def is_hedged(answer: str) -> bool:
    return any(word in answer for word in HEDGE_WORDS) and CONFIRM_NUMBER in answer


# The hedge was a warning while the content engineers rewrote the weakly sourced rules (issue 11 §2); it is an error
# like every other check now (False would report it as a warning again).
HEDGE_IS_ERROR = True


def cross_check(rules: Iterable[Rule], texts: Mapping[str, ShippedText]) -> tuple[list[KBError], list[KBError]]:
    """Every problem between files: quotes against texts, successor/related ids, the weak-source hedge.

    Returns ``(errors, warnings)``; warnings do not refuse the knowledge base.
    """
    rules = list(rules)
    by_id = {rule.id: rule for rule in rules}
    errors: list[KBError] = []
    warnings: list[KBError] = []
    for rule in rules:
        path = rule.path or rule.id

        def add(field: str, message: str, path: str = path, into: list[KBError] = errors) -> None:
            into.append(KBError(path, field, message))

        for index, source in enumerate(rule.sources):
            if source.text is not None and source.text not in texts:
                add(f"sources[{index}].text", f"{source.text!r} is not a shipped text (policies_kb/sources/)")
        first = rule.sources[0]
        if first.text is not None and first.text in texts:
            problem = quote_problem(rule.quote, texts[first.text], first.article)
            if problem:
                add("quote", f"sources[0] {first.text} {first.article}: {problem}")
        if rule.superseded_by is not None:
            successor = by_id.get(rule.superseded_by)
            if successor is None:
                add("superseded_by", f"no rule {rule.superseded_by!r}")
            elif successor.id == rule.id:
                add("superseded_by", "a rule cannot supersede itself")
            elif rule.effective_until is not None:
                day_after = rule.effective_until + datetime.timedelta(days=1)
                if not successor.is_valid_on(day_after):
                    add(
                        "superseded_by",
                        f"{successor.id} is not in force on {day_after.isoformat()}, the day after this rule ends",
                    )
        for index, related in enumerate(rule.related):
            if related == rule.id:
                add(f"related[{index}]", "a rule is not related to itself")
            elif related not in by_id:
                add(f"related[{index}]", f"no rule {related!r}")
        for index, outcome in enumerate((rule.conditions or {}).get("outcomes", [])):
            for name in _PLACEHOLDER.findall(outcome.get("reason", "")):
                if name not in PLACEHOLDERS:
                    add(
                        f"conditions.outcomes[{index}].reason",
                        f"{{{name}}} is not a placeholder (placeholders: {', '.join(PLACEHOLDERS)})",
                    )
        if rests_on_weak_sources(rule) and states_a_figure(rule.answer) and not is_hedged(rule.answer):
            add(
                "answer",
                "every source is news/third_party and the answer states a figure: say 据报道 or 以当地公布为准 "
                "and where to confirm (0951-12333)",
                into=errors if HEDGE_IS_ERROR else warnings,
            )
    return errors, warnings
