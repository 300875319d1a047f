"""Revealing the numbers of a handed-off conversation's transcript: the audited action of the case page's phone reveal
(the operator and the time are logged, and listed on the page)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.console._handoff_views import _handoff_or_404, _handoff_page
from bot.console._transcript import REVEAL_ACTION, reveal_subject
from bot.console.web import CONSOLE, current_operator

routes = web.RouteTableDef()


@routes.post("/handoffs/{handoff_id}/reveal")
async def reveal_transcript(request: web.Request) -> web.Response:
    """Show the transcript and the takeover messages unmasked once, and log who saw them when."""
    console = request.app[CONSOLE]
    handoff = await _handoff_or_404(request)
    await asyncio.to_thread(
        console.accounts.audit,
        current_operator(request).username,
        REVEAL_ACTION,
        reveal_subject(handoff.id),
        console.now(),
        "transcript",
    )
    return await _handoff_page(request, handoff, reveal=True)
