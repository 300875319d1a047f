"""What the actions send: the machine-readable payloads of the chat contract and the recurring text pieces.

Every human-readable word goes into a text message; each payload goes into its own `custom` message, which the
WeChat and SMS channels render as nothing. Buttons are (title, payload) pairs; their payloads are Rasa intents
("/check_eligibility{...}") or plain text that the worker could have typed.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

from policies_kb import Rule
from policies_kb.topics import WORKER_LABELS

HOTLINE = "0951-12333"
NATIONAL_HOTLINE = "12333"
WAGE_PLATFORM = "全国根治欠薪线索反映平台（微信搜“国务院客户端”小程序，或人社部公众号里的“根治欠薪”入口）"

TOPIC_LABELS = WORKER_LABELS  # the worker's word for each topic, in menu order (policies_kb/topics.yaml)


def answer_payload(
    rule: Rule, on: datetime.date, *, facet: str | None = None, superseded: Rule | None = None
) -> dict[str, Any]:
    """{"kind": "answer", "topic", "rule_id", "facet", "superseded", "sources": [{"title","doc_no","issuer","date",
    "url"}], "valid_on"}: `facet` when only that facet's text was given, `superseded` the expired rule's id when the
    question matched an expired rule and its current successor answered (policies_kb/SCHEMA.md: superseded_by)."""
    return {
        "kind": "answer",
        "topic": rule.topic,
        "rule_id": rule.id,
        "facet": facet,
        "superseded": superseded.id if superseded is not None else None,
        "sources": [
            {"title": s.title, "doc_no": s.doc_no, "issuer": s.issuer, "date": s.date.isoformat(), "url": s.url}
            for s in rule.sources
        ],
        "valid_on": on.isoformat(),
    }


def check_question_payload(rule_id: str, fact: str) -> dict[str, Any]:
    """A check asks the worker for one fact."""
    return {"kind": "check_question", "rule_id": rule_id, "fact": fact}


def eligibility_payload(
    topic: str, outcome: str | None, rule_ids: list[str], facts: dict[str, Any], on: datetime.date
) -> dict[str, Any]:
    """A check's outcome, the facts it was decided on and the day it was computed for."""
    return {
        "kind": "eligibility",
        "topic": topic,
        "outcome": outcome,
        "rule_ids": list(rule_ids),
        "facts": dict(facts),
        "valid_on": on.isoformat(),
    }


def handoff_payload(target: str = "12333") -> dict[str, Any]:
    return {"kind": "handoff", "target": target, "phone": HOTLINE}


def fallback_payload(**details: Any) -> dict[str, Any]:
    """A clarifying question; `details` say why when it is not a plain miss (reason="repeat", rule_id=...)."""
    return {"kind": "fallback", **details}


def case_created_payload(case_id: str) -> dict[str, Any]:
    return {"kind": "case_created", "case_id": case_id}


def source_line(rule: Rule, on: datetime.date) -> str:
    """ "来源：《…》（文号）条款，发文机关，日期（截至YYYY-MM-DD有效）": the primary source, one line, SMS-shortenable."""
    return f"来源：{rule.citation()}（截至{on.isoformat()}有效）"


def intent_button(title: str, intent: str, **entities: str) -> dict[str, str]:
    """A button whose payload is an intent with entities, e.g. /check_eligibility{"eligibility_rule": "..."}."""
    payload = f"/{intent}"
    if entities:
        payload += json.dumps(entities, ensure_ascii=False, separators=(",", ":"))
    return {"title": title, "payload": payload}


def text_button(title: str, text: str | None = None) -> dict[str, str]:
    """A button that sends `text` (default: its title) as if the worker had typed it."""
    return {"title": title, "payload": text or title}


def short_title(rule: Rule) -> str:
    """The rule's title without its bracketed details, for a button on a small screen."""
    title = re.sub(r"[（(][^）)]*[）)]", "", rule.title).strip()
    return title or rule.title


def yuan_text(value: float, unit: str | None) -> str:
    """300000, "元" → "30万元"; 24, "个月" → "24个月" (formatting only: the figure is the rule's)."""
    unit = unit or ""
    if unit == "元" and value >= 10000 and value % 10000 == 0:
        return f"{int(value // 10000)}万元"
    number = int(value) if float(value).is_integer() else value
    return f"{number}{unit}"
