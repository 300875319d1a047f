"""The overview: what the assistant did per day (conversations, answers, fallbacks, handoffs, cases), answers per
topic, the questions that most often ended in a fallback, as inline SVG charts with their numbers in tables, and the
share of SMS and WeChat messages delivered per day (the delivery log, `bot.deliveries`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from aiohttp import web

from bot.console._labels import TOPIC_LABELS, label
from bot.console._stats import LOCAL_TZ, summarize
from bot.console.web import CONSOLE, render
from bot.deliveries import DeliveryDay

routes = web.RouteTableDef()

PERIODS = (7, 14, 30)
DEFAULT_PERIOD = 14
MAX_RECORDS = 10_000

SERIES = (
    ("conversations", "对话数", "#2563eb"),
    ("answers", "答复数", "#059669"),
    ("fallbacks", "没听懂（兜底）", "#d97706"),
    ("handoffs", "转人工", "#7c3aed"),
    ("cases", "新案件", "#dc2626"),
)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int


def column_bars(values: list[tuple[str, int]], *, width: float = 320, height: float = 100) -> list[Bar]:
    """Vertical bars for an SVG of `width` × `height` (one per value, scaled to the largest)."""
    if not values:
        return []
    top = max(value for _, value in values) or 1
    slot = width / len(values)
    return [
        Bar(
            x=i * slot + slot * 0.15,
            y=height - value / top * height,
            width=slot * 0.7,
            height=value / top * height,
            label=name,
            value=value,
        )
        for i, (name, value) in enumerate(values)
    ]


def row_bars(values: list[tuple[str, int]], *, width: float = 200, row: float = 22) -> list[Bar]:
    """Horizontal bars, one row each, scaled to the largest value."""
    top = max((value for _, value in values), default=0) or 1
    return [
        Bar(x=0, y=i * row, width=value / top * width, height=row * 0.7, label=name, value=value)
        for i, (name, value) in enumerate(values)
    ]


def delivery_rows(days: list[DeliveryDay]) -> list[tuple[date, dict[str, DeliveryDay]]]:
    """The delivery log's days, newest first, each with its SMS and WeChat counts."""
    by_day: dict[date, dict[str, DeliveryDay]] = {}
    for day in days:
        by_day.setdefault(day.day, {})[day.channel] = day
    return sorted(by_day.items(), reverse=True)


def delivery_totals(days: list[DeliveryDay]) -> dict[str, DeliveryDay]:
    """The period's SMS and WeChat counts added up (as one DeliveryDay each, dated the last day)."""
    totals: dict[str, DeliveryDay] = {}
    for day in days:
        before = totals.get(day.channel)
        totals[day.channel] = DeliveryDay(
            day.day,
            day.channel,
            day.sent + (before.sent if before else 0),
            day.delivered + (before.delivered if before else 0),
            day.failed + (before.failed if before else 0),
        )
    return totals


@routes.get("/overview")
async def overview(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    try:
        period = int(request.query.get("days", DEFAULT_PERIOD))
    except ValueError:
        period = DEFAULT_PERIOD
    if period not in PERIODS:
        period = DEFAULT_PERIOD
    last_day = console.today()
    first_day = last_day - timedelta(days=period - 1)
    since = datetime.combine(first_day, time.min, LOCAL_TZ)
    (events, events_ok), handoffs, cases, lookup_alert, deliveries = await asyncio.gather(
        asyncio.to_thread(console.events.read, since),
        asyncio.to_thread(console.handoffs.list_handoffs, limit=MAX_RECORDS),
        asyncio.to_thread(console.cases.list_cases, limit=MAX_RECORDS),
        asyncio.to_thread(console.cases.lookup_failure_summary),
        asyncio.to_thread(console.deliveries.daily_share, period, until=last_day),
    )
    summary = await asyncio.to_thread(
        summarize,
        events,
        first_day=first_day,
        last_day=last_day,
        handoff_times=[h.created_at for h in handoffs if h.created_at],
        case_times=[c.created_at for c in cases],
    )
    charts = [
        {
            "name": name,
            "title": title,
            "color": color,
            "total": summary.total(name),
            "bars": column_bars([(day.day.strftime("%m-%d"), getattr(day, name)) for day in summary.days]),
        }
        for name, title, color in SERIES
    ]
    topics = row_bars([(label(TOPIC_LABELS, topic), count) for topic, count in summary.answers_by_topic.items()])
    return render(
        request,
        "overview.html",
        title="概览",
        period=period,
        periods=PERIODS,
        first_day=first_day,
        last_day=last_day,
        summary=summary,
        charts=charts,
        topics=topics,
        events_ok=events_ok,
        lookup_alert=lookup_alert,
        delivery_rows=delivery_rows(deliveries),
        delivery_totals=delivery_totals(deliveries),
    )
