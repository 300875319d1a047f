"""``python -m policies_kb audit``: the knowledge base's provenance in one table (issue 11 §2).

* rules per quality of their first (primary) source, and rules resting only on news / third-party sources;
* quotes verified against a shipped text (the first source has ``text:`` and ``check`` found every part in the cited
  article) and quotes not verifiable (the first source is not a shipped text);
* rules never verified (``verified_by`` empty or saying so) and rules verified more than a year before ``--on``;
* sources whose doc_no disagrees with the shipped text they name (e.g. 工伤保险条例 cited as 375号, the text is 586号);
* the weak-source hedge warnings of ``check``.
"""

from __future__ import annotations

import datetime
from typing import Any

from policies_kb._checks import rests_on_weak_sources
from policies_kb._loader import LoadResult
from policies_kb._schema import SOURCE_QUALITIES, Rule

__all__ = ["audit", "format_audit", "is_never_verified"]

_NEVER = ("never", "unverified", "未核实", "未核对", "没核实")


def is_never_verified(rule: Rule) -> bool:
    text = rule.verified_by.strip().lower()
    return not text or text.startswith(_NEVER)


def _year_before(day: datetime.date) -> datetime.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def audit(result: LoadResult, on: datetime.date) -> dict[str, Any]:
    """The audit of a loaded knowledge base as JSON-ready data."""
    rules = result.rules
    per_quality = {quality: 0 for quality in SOURCE_QUALITIES}
    for rule in rules:
        per_quality[rule.sources[0].quality] += 1
    failed_quotes = {error.path for error in result.errors if error.field == "quote"}
    with_text = [rule for rule in rules if rule.sources[0].text is not None]
    verified = [rule.id for rule in with_text if rule.path not in failed_quotes]
    not_verified = [rule.id for rule in with_text if rule.path in failed_quotes]
    not_verifiable = [rule.id for rule in rules if rule.sources[0].text is None]
    cutoff = _year_before(on)
    mismatches = []
    for rule in rules:
        for index, source in enumerate(rule.sources):
            text = result.texts.get(source.text) if source.text else None
            if text is not None and source.doc_no != text.doc_no:
                mismatches.append(
                    {"rule": rule.id, "source": index, "cited": source.doc_no, "text": text.id, "doc_no": text.doc_no}
                )
    return {
        "on": on.isoformat(),
        "rules": len(rules),
        "rules_per_quality": per_quality,
        "rules_weak_sources_only": sorted(rule.id for rule in rules if rests_on_weak_sources(rule)),
        "quotes": {
            "verified": len(verified),
            "not_verified": sorted(not_verified),
            "not_verifiable": len(not_verifiable),
            "not_verifiable_rules": sorted(not_verifiable),
        },
        "never_verified": sorted(rule.id for rule in rules if is_never_verified(rule)),
        "verified_over_a_year_ago": sorted(
            rule.id for rule in rules if not is_never_verified(rule) and rule.last_verified < cutoff
        ),
        "last_verified_dates": _date_counts(rules),
        "doc_no_differs_from_text": mismatches,
        "hedge_warnings": sorted({warning.path for warning in result.warnings}),
        "errors": len(result.errors),
    }


def _date_counts(rules: list[Rule]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for rule in rules:
        counts[rule.last_verified.isoformat()] = counts.get(rule.last_verified.isoformat(), 0) + 1
    return dict(sorted(counts.items()))


def format_audit(data: dict[str, Any]) -> str:
    """The audit as the table operators read."""
    quotes = data["quotes"]
    lines = [
        f"Knowledge-base audit on {data['on']}: {data['rules']} rules",
        "",
        "Rules per quality of their first source:",
        *(f"  {quality:<22} {count:>4}" for quality, count in data["rules_per_quality"].items()),
        f"  {'news/third_party only':<22} {len(data['rules_weak_sources_only']):>4}",
        "",
        "Quotes:",
        f"  verified against a shipped text   {quotes['verified']:>4}",
        f"  not verified (check refuses)      {len(quotes['not_verified']):>4}",
        f"  not verifiable (no shipped text)  {quotes['not_verifiable']:>4}",
        "",
        "Verification:",
        f"  never verified                    {len(data['never_verified']):>4}",
        f"  verified more than a year ago     {len(data['verified_over_a_year_ago']):>4}",
        "  last_verified dates: " + ", ".join(f"{day} ×{n}" for day, n in data["last_verified_dates"].items()),
    ]
    for title, key in (
        ("Not verified quotes", None),
        ("Never verified", "never_verified"),
        ("Verified more than a year ago", "verified_over_a_year_ago"),
        ("Hedge warnings (news/third_party figures without 据报道/以当地公布为准 and 12333)", "hedge_warnings"),
    ):
        items = quotes["not_verified"] if key is None else data[key]
        if items:
            lines += ["", f"{title}:", *(f"  {item}" for item in items)]
    if data["doc_no_differs_from_text"]:
        lines += ["", "Sources whose doc_no differs from the shipped text's:"]
        lines += [
            f"  {m['rule']} sources[{m['source']}]: {m['cited'] or '(blank)'} ≠ {m['text']} {m['doc_no'] or '(blank)'}"
            for m in data["doc_no_differs_from_text"]
        ]
    if data["errors"]:
        lines += ["", f"{data['errors']} error(s): run `python -m policies_kb check`"]
    return "\n".join(lines)
