"""The handoff queue: conversations the assistant passed to a person, their transcript, and taking them over."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bot.console._labels import DELIVERY_LABELS, label
from bot.console._paging import pager
from bot.console._transcript import (
    REVEAL_ACTION,
    TranscriptUnavailable,
    fetch_tracker,
    mask_message,
    reveal_subject,
    turns_from_tracker,
)
from bot.console.web import CONSOLE, current_operator, redirect, render
from bot.conversation_ids import address, channel_of
from bot.takeover import AlreadyTakenOver, NotTakenOver
from channels.outbound import DeliveryError
from nlu.extract import mask_phone

routes = web.RouteTableDef()
log = logging.getLogger(__name__)


def shown_sender(channel: str, sender_id: str) -> str:
    """The conversation id as the operator sees it: an SMS conversation is a phone number, so it is masked."""
    if channel_of(sender_id) == "sms":
        return f"sms:{mask_phone(address('sms', sender_id))}"
    return mask_phone(sender_id) if channel == "sms" else sender_id


async def _handoff_or_404(request: web.Request):
    console = request.app[CONSOLE]
    try:
        handoff_id = int(request.match_info["handoff_id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    handoff = await asyncio.to_thread(console.handoffs.get_handoff, handoff_id)
    if handoff is None:
        raise web.HTTPNotFound()
    return handoff


def shown_facts(console, facts: dict) -> list[tuple[str, str]]:
    """(question, answer) for each fact the worker gave: the knowledge base's question for a declared fact (its name
    otherwise), yes/no for booleans, the unit after numbers."""
    shown = []
    for name, value in (facts or {}).items():
        spec = console.kb.facts.get(name)
        if isinstance(value, bool):
            text = "是" if value else "否"
        else:
            text = (
                f"{value}{spec.unit}"
                if spec is not None and spec.unit and isinstance(value, (int, float))
                else str(value)
            )
        shown.append((spec.question if spec is not None else name, text))
    return shown


@routes.get("/handoffs")
async def handoff_queue(request: web.Request) -> web.Response:
    """The queue, paged (50 a page), latest request first; ?waiting=1 shows only those nobody has taken over."""
    console = request.app[CONSOLE]
    now = console.now()
    waiting = request.query.get("waiting") == "1"
    total = await asyncio.to_thread(console.handoffs.count_handoffs, waiting=waiting)
    pages = pager(request, total, {"waiting": "1" if waiting else ""})
    handoffs, taken = await asyncio.gather(
        asyncio.to_thread(console.handoffs.list_handoffs, pages.size, pages.offset, waiting=waiting),
        asyncio.to_thread(console.takeovers.open_takeovers, now),
    )
    rows = [
        {"handoff": h, "sender": shown_sender(h.channel, h.sender_id), "takeover": taken.get(h.sender_id)}
        for h in handoffs
    ]
    return render(request, "handoffs.html", title="转人工队列", rows=rows, total=total, pager=pages, waiting=waiting)


async def _handoff_page(
    request: web.Request, handoff, *, status: int = 200, error: str = "", draft: str = "", reveal: bool = False
):
    console = request.app[CONSOLE]
    now = console.now()
    takeover, messages, reveals = await asyncio.gather(
        asyncio.to_thread(console.takeovers.latest, handoff.sender_id, now),
        asyncio.to_thread(console.takeovers.messages, handoff.sender_id),
        asyncio.to_thread(
            console.accounts.audit_log, subject=reveal_subject(handoff.id), action=REVEAL_ACTION, limit=20
        ),
    )
    messages = [mask_message(message, reveal) for message in messages]  # numbers masked until the audited reveal
    transcript_error = ""
    turns = []
    try:
        tracker = await fetch_tracker(console.session, console.settings.rasa_url, console.rasa_token, handoff.sender_id)
        turns = turns_from_tracker(tracker, reveal=reveal)
    except TranscriptUnavailable as unavailable:
        transcript_error = f"读取对话记录失败：{unavailable}"
    facts = shown_facts(console, handoff.facts)
    operator = current_operator(request).username
    return render(
        request,
        "handoff.html",
        status=status,
        title="转人工对话",
        handoff=handoff,
        sender=shown_sender(handoff.channel, handoff.sender_id),
        facts=facts,
        turns=turns,
        transcript_error=transcript_error,
        takeover=takeover,
        mine=bool(takeover and takeover.is_open and takeover.operator == operator),
        messages=messages,
        last_message_id=messages[-1].id if messages else 0,
        error=error,
        draft=draft,
        reveal=reveal,
        reveals=reveals,
    )


@routes.get("/handoffs/{handoff_id}")
async def handoff_page(request: web.Request) -> web.Response:
    return await _handoff_page(request, await _handoff_or_404(request))


@routes.get("/handoffs/{handoff_id}/messages")
async def handoff_messages(request: web.Request) -> web.Response:
    """New takeover messages after ?after=<id>, and the takeover's state: what the handoff page polls."""
    console = request.app[CONSOLE]
    handoff = await _handoff_or_404(request)
    try:
        after = max(0, int(request.query.get("after", "0")))
    except ValueError:
        return web.json_response({"error": "after 必须是整数"}, status=400)
    now = console.now()
    takeover, messages = await asyncio.gather(
        asyncio.to_thread(console.takeovers.current, handoff.sender_id, now),
        asyncio.to_thread(console.takeovers.messages, handoff.sender_id, after),
    )
    return web.json_response(
        {
            "messages": [
                {**mask_message(message).to_json(), "delivery_label": label(DELIVERY_LABELS, message.delivery)}
                for message in messages
            ],
            "takeover": None
            if takeover is None
            else {
                "operator": takeover.operator,
                "expires_at": takeover.expires_at.isoformat(),
            },
        }
    )


@routes.post("/handoffs/{handoff_id}/takeover")
async def take_over(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    handoff = await _handoff_or_404(request)
    operator = current_operator(request).username
    try:
        await asyncio.to_thread(
            console.takeovers.take_over, handoff.sender_id, handoff.channel, operator, console.now()
        )
    except AlreadyTakenOver as taken:
        return await _handoff_page(request, handoff, status=409, error=f"{taken.holder.operator} 已接管这个对话。")
    raise redirect(f"/handoffs/{handoff.id}#reply")


@routes.post("/handoffs/{handoff_id}/release")
async def release(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    handoff = await _handoff_or_404(request)
    try:
        await asyncio.to_thread(
            console.takeovers.release, handoff.sender_id, current_operator(request).username, console.now()
        )
    except NotTakenOver:
        return await _handoff_page(request, handoff, status=409, error="您没有接管这个对话（可能已超时交还助手）。")
    raise redirect(f"/handoffs/{handoff.id}")


@routes.post("/handoffs/{handoff_id}/reply")
async def reply(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    handoff = await _handoff_or_404(request)
    text = str((await request.post()).get("text", ""))
    try:
        message = await asyncio.to_thread(
            console.takeovers.record_operator_message,
            handoff.sender_id,
            current_operator(request).username,
            text,
            console.now(),
            delivery="sending",
        )
    except NotTakenOver:
        return await _handoff_page(
            request,
            handoff,
            status=409,
            draft=text,
            error="没有发出：您没有接管这个对话（可能已超过 30 分钟未回复，已交还助手）。请先接管。",
        )
    except ValueError as invalid:
        return await _handoff_page(request, handoff, status=400, draft=text, error=f"没有发出：{invalid}")
    # The channel is the conversation's own (the prefix of its id), never what a client once claimed it was.
    channel = channel_of(handoff.sender_id)
    try:
        if channel is None:
            raise DeliveryError(
                "这个对话的编号是旧格式，无法确定渠道（请先运行 python -m bot migrate-conversation-ids）。"
            )
        await console.outbound(channel).send(handoff.sender_id, message.text)
    except DeliveryError as failed:
        log.warning("operator reply over %s failed: %s", channel, type(failed).__name__)
        error = f"发送失败：{failed.reason}"
        await asyncio.to_thread(console.takeovers.mark_delivery, message.id, "failed", console.now(), error)
        return await _handoff_page(request, handoff, status=502, error=error)
    # A REST reply is now pending for its client's pickup; mark_delivery leaves it so.
    await asyncio.to_thread(console.takeovers.mark_delivery, message.id, "sent", console.now())
    raise redirect(f"/handoffs/{handoff.id}#reply")
