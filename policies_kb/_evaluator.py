"""Eligibility: free-text answers to typed facts, and typed facts to a rule's outcome.

Conditions are data (see SCHEMA.md) walked by a small interpreter: no ``eval``, ever. Logic is three-valued
(Kleene): a comparison on a fact that was not given is *unknown* (``None``); ``all`` is false as soon as one part is
false, ``any`` true as soon as one part is true, ``not`` keeps unknown unknown. Outcomes are tried in order and the
first *true* one wins, but if an earlier outcome is still unknown the answer is "missing facts": the bot must ask
before it can decide.

``missing_facts`` lists every fact that could still change the result, in the order the rule mentions them
(outcome by outcome, left to right), each once. Facts that cannot matter are left out: in
``all: [A, B]`` with ``A`` known to be false, ``B`` is not asked. The bot asks the first, re-evaluates, and repeats.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import re
from collections.abc import Mapping
from typing import Any

from nlu.answers import parse_number, parse_yes_no
from policies_kb._schema import FactSpec, Rule
from policies_kb._text import normalize_for_search, strip_punctuation
from policies_kb._year_month import is_year_month, parse_year_month

__all__ = ["EligibilityResult", "evaluate_rule", "evaluate_expression", "coerce_fact", "parse_fact_text"]

NO_OUTCOME_REASON = "根据您提供的情况，这条规定没有给出结论。具体请咨询 0951-12333。"


@dataclasses.dataclass(frozen=True)
class EligibilityResult:
    """The decision of one rule for one set of facts.

    ``outcome`` is ``eligible`` / ``not_eligible`` / ``partly_eligible`` / ``refer``, or None while
    ``missing_facts`` is not empty (then ``reason`` and ``amount`` are None too). ``amount`` is the winning
    outcome's ``{value, unit, label}`` if it has one. ``facts_used`` are the given facts the rule consulted;
    ``rule_ids`` the rules behind the decision (cite them).
    """

    rule_id: str
    outcome: str | None
    amount: dict | None
    reason: str | None
    missing_facts: list[str]
    facts_used: dict
    rule_ids: list[str]
    on: datetime.date | None = None  # the day the result was computed for (KnowledgeBase.evaluate always sets it)

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON-ready data (``on`` as an ISO date)."""
        data = dataclasses.asdict(self)
        data["on"] = self.on.isoformat() if self.on is not None else None
        return data


# ---------------------------------------------------------------------------------------------------------------
# Evaluation


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if op == "==":
        return actual == expected
    if op == "!=":
        return actual != expected
    if op == "in":
        return actual in expected
    if op == "<":
        return actual < expected
    if op == "<=":
        return actual <= expected
    if op == ">":
        return actual > expected
    if op == ">=":
        return actual >= expected
    raise ValueError(f"unknown operator {op!r}")  # unreachable for validated rules


def evaluate_expression(expr: Mapping[str, Any], facts: Mapping[str, Any], used: dict | None = None):
    """Evaluate one condition expression; return ``(True | False | None, missing fact names in order)``.

    ``used`` (if given) collects the facts consulted, name to value.
    """
    if "always" in expr:
        return True, []
    if "fact" in expr:
        name = expr["fact"]
        value = facts.get(name)
        if value is None:
            return None, [name]
        if used is not None:
            used[name] = value
        return _compare(value, expr["op"], expr["value"]), []
    if "not" in expr:
        value, missing = evaluate_expression(expr["not"], facts, used)
        return (None if value is None else not value), missing
    if "all" in expr or "any" in expr:
        is_all = "all" in expr
        decisive = False if is_all else True  # the value that settles the whole expression
        missing_parts: list[str] = []
        unknown = False
        for part in expr["all" if is_all else "any"]:
            value, part_missing = evaluate_expression(part, facts, used)
            if value is decisive:
                return decisive, []
            if value is None:
                unknown = True
                missing_parts.extend(name for name in part_missing if name not in missing_parts)
        return (None, missing_parts) if unknown else (not decisive, [])
    raise ValueError(f"not a condition expression: {expr!r}")  # unreachable for validated rules


def evaluate_rule(rule: Rule, facts: Mapping[str, Any]) -> EligibilityResult:
    """Decide ``rule`` for ``facts`` (already typed: see :func:`coerce_fact`). The rule must have conditions."""
    if not rule.conditions:
        raise ValueError(f"rule {rule.id} has no conditions: it answers a question but decides nothing")
    used: dict[str, Any] = {}
    missing: list[str] = []
    for outcome in rule.conditions["outcomes"]:
        value, outcome_missing = evaluate_expression(outcome["if"], facts, used)
        if value is None:
            missing.extend(name for name in outcome_missing if name not in missing)
        elif value and not missing:
            amount = outcome.get("amount")
            return EligibilityResult(
                rule_id=rule.id,
                outcome=outcome["outcome"],
                amount=dict(amount) if amount else None,
                reason=outcome["reason"],
                missing_facts=[],
                facts_used=used,
                rule_ids=[rule.id],
            )
        elif value:
            break  # an earlier outcome is unknown: this one cannot win yet
    if missing:
        return EligibilityResult(rule.id, None, None, None, missing, used, [rule.id])
    return EligibilityResult(rule.id, "refer", None, NO_OUTCOME_REASON, [], used, [rule.id])


# ---------------------------------------------------------------------------------------------------------------
# Free text to typed facts (yes / no and numbers are read by nlu.answers, on the vocabulary every form shares)


def parse_fact_text(spec: FactSpec, text: Any) -> Any:
    """Read a worker's free-text answer as a value of ``spec``'s type; None when it cannot tell.

    number / integer: ``"交了三年多"``, ``"3年"``, ``"三年"`` → 3; ``"一年半"`` → 1.5; ``"十五年"`` → 15;
    ``"30万"`` → 300000; ``"没有"`` → 0. A range (``"五六年"``, ``"3到5年"``) is None. Integer facts are floored
    (``"一年半"`` → 1 full year).
    boolean: ``"是的/对/有/嗯"`` → True, ``"不是/没有/否"`` → False, ``"不知道"`` → None.
    choice: the key, the Chinese label, or a unique part of one label (or a label inside the text), or the
    ``choice_words`` of exactly one choice ("自己干" → individual).
    """
    if text is None:
        return None
    if isinstance(text, bool) or isinstance(text, (int, float)):
        return coerce_fact(spec, text, parse=False)
    if spec.type == "year_month":
        return parse_year_month(str(text))  # "75年3月的", "1975.3" (policies_kb/_year_month.py)
    if spec.type in ("number", "integer"):
        number = parse_number(str(text))
        if number is None:
            return None
        if spec.type == "integer":
            return int(math.floor(number))
        return int(number) if float(number).is_integer() else number
    if spec.type == "choice" and normalize_for_search(str(text)) in (spec.choices or {}):
        return normalize_for_search(str(text))  # the key itself (before punctuation stripping eats its "_")
    cleaned = strip_punctuation(normalize_for_search(str(text))).replace(" ", "")
    if spec.type == "boolean":
        return parse_yes_no(cleaned)
    if spec.type == "choice":
        return _parse_choice(spec, cleaned)
    return None


def _parse_choice(spec: FactSpec, text: str) -> str | None:
    if not text:
        return None
    choices = spec.choices or {}
    if text in choices:
        return text
    labels = {key: strip_punctuation(normalize_for_search(label)).replace(" ", "") for key, label in choices.items()}
    exact = [key for key, label in labels.items() if label == text]
    if len(exact) == 1:
        return exact[0]
    contained = [key for key, label in labels.items() if text in label or label in text]
    if len(contained) == 1:
        return contained[0]
    if contained:
        return None  # names two choices ("个人创业还是小微企业"): ask again
    worded = {
        key
        for key, words in (spec.choice_words or {}).items()
        if any(normalize_for_search(word).replace(" ", "") in text for word in words)
    }
    if len(worded) == 1:
        return worded.pop()
    mentioned = [key for key in choices if re.search(rf"(?<![a-z0-9_]){re.escape(key)}(?![a-z0-9_])", text)]
    return mentioned[0] if len(mentioned) == 1 else None


def coerce_fact(spec: FactSpec, value: Any, *, parse: bool = True) -> Any:
    """``value`` as ``spec``'s type, accepting free text (via :func:`parse_fact_text`) when ``parse`` is true.

    None stays None (not given). Raises ``ValueError`` when the value cannot be of that type.
    """
    if value is None:
        return None
    if spec.type in ("number", "integer"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if spec.type == "integer" and isinstance(value, float):
                if not value.is_integer():
                    raise ValueError(f"{spec.name} is an integer, got {value!r}")
                return int(value)
            return value
    elif spec.type == "boolean":
        if isinstance(value, bool):
            return value
    elif spec.type == "choice":
        if isinstance(value, str) and value in (spec.choices or {}):
            return value
    elif spec.type == "year_month" and is_year_month(value):
        return value
    if parse and isinstance(value, str):
        parsed = parse_fact_text(spec, value)
        if parsed is not None:
            return parsed
    raise ValueError(f"{value!r} is not a valid {spec.type} for fact {spec.name}")
