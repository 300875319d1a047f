"""Intake cases: the filtered, paged list (with the "waiting" filter: status 新建, nobody has taken it on, and the
alert line about failed look-ups), a case's details and history, revealing the phone (logged), status changes with an
internal note and a separate message to the worker (the only text a worker's look-up shows), and the notifications
the worker was sent about the case (`bot.notifications`) with their delivery state and a resend for failed ones
(logged)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.cases import (
    CASE_TYPE_LABELS,
    MAX_WORKER_MESSAGE,
    STATUS_NEW,
    STATUSES,
    TRANSITIONS,
    CaseNotFound,
    InvalidTransition,
)
from bot.console._paging import pager
from bot.console.web import CONSOLE, current_operator, redirect, render
from bot.notifications import NotificationNotFound, NotResendable
from nlu.places import counties

routes = web.RouteTableDef()

REVEAL_ACTION = "reveal_phone"
RESEND_ACTION = "resend_notification"


@routes.get("/cases")
async def case_list(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    county_names = [county.name for county in counties()]
    filters = {name: request.query.get(name, "").strip() or None for name in ("status", "type", "county")}
    errors = []
    if filters["status"] not in (None, *STATUSES):
        errors.append(f"没有“{filters['status']}”这个状态")
        filters["status"] = None
    if filters["type"] not in (None, *CASE_TYPE_LABELS):
        errors.append(f"没有“{filters['type']}”这个案件类型")
        filters["type"] = None
    if filters["county"] not in (None, *county_names):
        errors.append(f"没有“{filters['county']}”这个县区")
        filters["county"] = None
    waiting = request.query.get("waiting") == "1"
    status = STATUS_NEW if waiting else filters["status"]
    selection = {"status": status, "case_type": filters["type"], "county": filters["county"]}
    total, lookup_alert = await asyncio.gather(
        asyncio.to_thread(console.cases.count_cases, **selection),
        asyncio.to_thread(console.cases.lookup_failure_summary),
    )
    params = {name: value or "" for name, value in filters.items()}
    pages = pager(request, total, {**params, "waiting": "1" if waiting else ""})
    cases = await asyncio.to_thread(console.cases.list_cases, **selection, limit=pages.size, offset=pages.offset)
    return render(
        request,
        "cases.html",
        title="案件",
        cases=cases,
        total=total,
        pager=pages,
        waiting=waiting,
        lookup_alert=lookup_alert,
        filters=filters,
        statuses=STATUSES,
        case_types=CASE_TYPE_LABELS,
        counties=county_names,
        error="；".join(errors),
    )


async def _case_page(
    request: web.Request,
    *,
    status: int = 200,
    reveal: bool = False,
    error: str = "",
    note: str = "",
    worker_message: str = "",
) -> web.Response:
    console = request.app[CONSOLE]
    case_id = request.match_info["case_id"]
    case = await asyncio.to_thread(console.cases.get_case, case_id)
    if case is None:
        return render(request, "error.html", status=404, title="没有这个案件", message=f"没有编号为 {case_id} 的案件。")
    history, reveals, notifications = await asyncio.gather(
        asyncio.to_thread(console.cases.case_history, case.case_id),
        asyncio.to_thread(console.accounts.audit_log, subject=case.case_id, action=REVEAL_ACTION, limit=20),
        asyncio.to_thread(console.notifications.for_case, case.case_id),
    )
    next_statuses = [(to, needs_note) for (before, to), needs_note in TRANSITIONS.items() if before == case.status]
    return render(
        request,
        "case.html",
        status=status,
        title=f"案件 {case.case_id}",
        case=case,
        history=history,
        reveals=reveals,
        notifications=notifications,
        reveal=reveal,
        next_statuses=next_statuses,
        error=error,
        note=note,
        worker_message=worker_message,
        max_worker_message=MAX_WORKER_MESSAGE,
        changed=request.query.get("changed"),
        resent=request.query.get("resent"),
    )


@routes.get("/cases/{case_id}")
async def case_page(request: web.Request) -> web.Response:
    return await _case_page(request)


@routes.post("/cases/{case_id}/reveal-phone")
async def reveal_phone(request: web.Request) -> web.Response:
    """Show the full phone number once, and log who saw it when."""
    console = request.app[CONSOLE]
    case = await asyncio.to_thread(console.cases.get_case, request.match_info["case_id"])
    if case is None:
        return await _case_page(request)
    await asyncio.to_thread(
        console.accounts.audit, current_operator(request).username, REVEAL_ACTION, case.case_id, console.now()
    )
    return await _case_page(request, reveal=True)


@routes.post("/cases/{case_id}/status")
async def change_status(request: web.Request) -> web.Response:
    """Change the status (or, with status "", only add a note / a message to the worker)."""
    console = request.app[CONSOLE]
    form = await request.post()
    status, note = str(form.get("status", "")), str(form.get("note", "")).strip()
    worker_message = str(form.get("worker_message", "")).strip()
    case = await asyncio.to_thread(console.cases.get_case, request.match_info["case_id"])
    if case is None:
        return await _case_page(request)

    async def again(status: int, error: str) -> web.Response:  # the form again, with what the operator wrote
        return await _case_page(request, status=status, note=note, worker_message=worker_message, error=error)

    if len(worker_message) > MAX_WORKER_MESSAGE:
        return await again(400, f"没有保存：给工人的话最多 {MAX_WORKER_MESSAGE} 个字。")
    operator = current_operator(request).username
    if status == "":
        if not note and not worker_message:
            return await again(400, "没有保存：请写备注或给工人的话。")
        try:
            await asyncio.to_thread(
                console.cases.add_note, case.case_id, operator, note=note, worker_message=worker_message
            )
        except CaseNotFound:
            return await _case_page(request)
        raise redirect(f"/cases/{case.case_id}?changed=note")
    needs_note = TRANSITIONS.get((case.status, status))
    if needs_note is None:
        return await again(409, f"状态没有改：不能从“{case.status}”改为“{status}”。")
    if needs_note and not note:
        return await again(400, "状态没有改：退回或重新打开案件，请在内部备注里写明原因。")
    try:
        await asyncio.to_thread(
            console.cases.change_status,
            case.case_id,
            status,
            actor=operator,
            note=note,
            worker_message=worker_message,
        )
    except (InvalidTransition, CaseNotFound):  # changed or removed between our read and the write
        return await again(409, "状态没有改：别人刚刚改过这个案件，请看最新状态后再试。")
    raise redirect(f"/cases/{case.case_id}?changed=1")


@routes.post("/cases/{case_id}/notifications/{notification_id}/resend")
async def resend_notification(request: web.Request) -> web.Response:
    """Put a failed notification back in the notifier's queue (logged in the audit log)."""
    console = request.app[CONSOLE]
    case = await asyncio.to_thread(console.cases.get_case, request.match_info["case_id"])
    if case is None:
        return await _case_page(request)
    try:
        notification_id = int(request.match_info["notification_id"])
    except ValueError:
        return await _case_page(request, status=404, error="没有这条通知。")
    notification = await asyncio.to_thread(console.notifications.get, notification_id)
    if notification is None or notification.case_id != case.case_id:
        return await _case_page(request, status=404, error="这个案件没有这条通知。")
    operator = current_operator(request).username
    try:
        await asyncio.to_thread(console.notifications.resend, notification_id, operator)
    except NotResendable:
        return await _case_page(request, status=409, error="这条通知不是“没发成”的状态（可能别人刚重发过），没有重发。")
    except NotificationNotFound:
        return await _case_page(request, status=404, error="没有这条通知。")
    await asyncio.to_thread(
        console.accounts.audit, operator, RESEND_ACTION, case.case_id, console.now(), f"notification {notification_id}"
    )
    raise redirect(f"/cases/{case.case_id}?resent={notification_id}#notifications")
