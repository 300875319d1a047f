"""Answer lookup: the knowledge base's search (the assistant's own ranking), topic browsing and rule pages."""

from __future__ import annotations

import time

from aiohttp import web

from bot.console.web import CONSOLE, render
from policies_kb import MIN_CONFIDENT_SCORE, TOPICS

routes = web.RouteTableDef()

MAX_QUERY_CHARS = 200
MAX_RESULTS = 10


def copy_text(rule) -> str:
    """What an operator reads out or sends by SMS: the plain answer and its primary citation."""
    return f"{rule.answer}\n来源：{rule.citation()}"


@routes.get("/search")
async def search(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    query = request.query.get("q", "").strip()[:MAX_QUERY_CHARS]
    topic = request.query.get("topic", "").strip() or None
    error = ""
    if topic is not None and topic not in TOPICS:
        error, topic = f"没有“{topic}”这个主题，已在全部主题中查找。", None
    today = console.today()
    hits, rules, elapsed_ms = [], [], None
    if query:
        started = time.perf_counter()
        hits = console.kb.search(query, on=today, topic=topic, limit=MAX_RESULTS)
        elapsed_ms = (time.perf_counter() - started) * 1000
    elif topic:
        rules = console.kb.rules_by_topic(topic, on=today)
    return render(
        request,
        "search.html",
        title=f"查答案：{query}" if query else "查答案",
        query=query,
        topic=topic,
        topics=TOPICS,
        hits=hits,
        rules=rules,
        today=today,
        error=error,
        elapsed_ms=elapsed_ms,
        unsure=bool(hits) and hits[0].score < MIN_CONFIDENT_SCORE,
        copy_text=copy_text,
    )


@routes.get("/rules/{rule_id}")
async def rule_page(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    rule = console.kb.get(request.match_info["rule_id"])
    if rule is None:
        return render(
            request,
            "error.html",
            status=404,
            title="没有这条规则",
            message=f"没有编号为 {request.match_info['rule_id']} 的规则。",
        )
    today = console.today()
    return render(
        request,
        "rule.html",
        title=rule.title,
        rule=rule,
        today=today,
        in_force=rule.is_valid_on(today),
        copy_text=copy_text,
    )
