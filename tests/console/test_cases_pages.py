"""Cases in the console: the list filtered by status, type and county; the case page with the phone masked until
revealed (a logged POST), status changes with notes and the history the worker's status query reads."""

from __future__ import annotations

import re

from tests.console.conftest import OPERATOR, make_case


def case_ids(page: str) -> list[str]:
    return re.findall(r'<a href="/cases/(NX\d+[A-Z]*)">', page)


def test_list_and_filters(client, cases):
    first = make_case(cases)
    second = make_case(cases, case_type="work_injury", county="西夏区", phone="13900001111", sender_id="w2")
    cases.change_status(second.case_id, "处理中", actor="someone")
    assert case_ids(client.get("/cases").text) == [second.case_id, first.case_id]  # newest first
    assert case_ids(client.get("/cases", params={"status": "处理中"}).text) == [second.case_id]
    assert case_ids(client.get("/cases", params={"type": "wage_arrears"}).text) == [first.case_id]
    assert case_ids(client.get("/cases", params={"county": "西夏区"}).text) == [second.case_id]
    assert case_ids(client.get("/cases", params={"county": "西夏区", "status": "新建"}).text) == []
    bad = client.get("/cases", params={"status": "乱写", "county": "火星"}).text
    assert "没有“乱写”这个状态" in bad and "没有“火星”这个县区" in bad and len(case_ids(bad)) == 2
    assert "13812345678" not in client.get("/cases").text


def test_phone_is_masked_until_revealed_and_each_reveal_is_logged(client, cases, console):
    case = make_case(cases)
    page = client.get(f"/cases/{case.case_id}").text
    assert "138****5678" in page and "13812345678" not in page
    revealed = client.post_form(f"/cases/{case.case_id}/reveal-phone", page=f"/cases/{case.case_id}")
    assert revealed.status_code == 200 and "13812345678" in revealed.text
    [entry] = console.state.accounts.audit_log(subject=case.case_id)
    assert (entry.operator, entry.action, entry.at) == (OPERATOR, "reveal_phone", console.state.now())
    again = client.get(f"/cases/{case.case_id}").text
    assert "13812345678" not in again and OPERATOR in again.split("查看完整号码的记录")[1]


def test_status_moves_through_the_workflow_with_notes_and_history(client, cases):
    case = make_case(cases)
    path = f"/cases/{case.case_id}"
    moved = client.post_form(f"{path}/status", {"status": "处理中", "note": "已联系劳动监察大队"}, page=path)
    assert moved.status_code == 303 and moved.headers["Location"] == f"{path}?changed=1"
    assert cases.case_status(case.case_id, "13812345678").status == "处理中"  # what the worker's query reads
    page = client.get(f"{path}?changed=1").text
    assert "状态已改为“处理中”" in page and "已联系劳动监察大队" in page
    [created, changed] = cases.case_history(case.case_id)
    assert (changed.status, changed.actor, changed.note) == ("处理中", OPERATOR, "已联系劳动监察大队")

    back = client.post_form(f"{path}/status", {"status": "新建", "note": ""}, page=path)
    assert back.status_code == 400 and "写明原因" in back.text
    skip = client.post_form(f"{path}/status", {"status": "新建", "note": "x"}, page=path)
    assert skip.status_code == 303
    jump = client.post_form(f"{path}/status", {"status": "已办结", "note": "想直接办结"}, page=path)
    assert jump.status_code == 409 and "不能从“新建”改为“已办结”" in jump.text
    assert "想直接办结" in jump.text  # the typed note is not lost
    assert cases.get_case(case.case_id).status == "新建"


def test_unknown_case(client):
    response = client.get("/cases/NX0000000000")
    assert response.status_code == 404 and "没有编号为 NX0000000000 的案件" in response.text
    assert client.post_form("/cases/NX0000000000/reveal-phone").status_code == 404
    assert client.post_form("/cases/NX0000000000/status", {"status": "处理中"}).status_code == 404


def test_the_case_page_shows_the_notifications_and_resends_a_failed_one(client, cases, console, store):
    from bot.notifications import NotificationService

    case = make_case(cases, sender_id="sms:13812345678", channel="sms")
    path = f"/cases/{case.case_id}"
    assert "还没有发过通知" in client.get(path).text
    client.post_form(f"{path}/status", {"status": "处理中", "worker_message": "已经给老板打了电话"}, page=path)
    page = client.get(path).text
    section = page.split('id="notifications"')[1].split("</section>")[0]
    assert f"您登记的案件{case.case_id}有新进展：已经给老板打了电话。详询0951-12333" in section
    assert "排队中" in section and "重发" not in section  # queued: nothing to resend
    outbox = NotificationService(store, clock=console.state.clock)
    [claimed] = outbox.claim("test-notifier")
    attempt = outbox.start_attempt(claimed.id, "test-notifier", "sms")
    outbox.mark_failed(claimed.id, "test-notifier", attempt, "这个号码已退订短信")
    page = client.get(path).text
    assert 'data-state="failed"' in page and "没发成" in page and "这个号码已退订短信" in page
    resend = f"{path}/notifications/{claimed.id}/resend"
    without_token = client.post(resend, {})
    assert without_token.status_code == 403 and outbox.get(claimed.id).state == "failed"  # CSRF like every form
    resent = client.post_form(resend, page=path)
    assert resent.status_code == 303 and resent.headers["Location"] == f"{path}?resent={claimed.id}#notifications"
    assert outbox.get(claimed.id).state == "queued" and outbox.get(claimed.id).resends == 1
    again = client.post_form(resend, page=path)  # a second click (or another operator) finds it queued
    assert again.status_code == 409 and "没有重发" in again.text
    [entry] = console.state.accounts.audit_log(subject=case.case_id, action="resend_notification")
    assert (entry.operator, entry.detail) == (OPERATOR, f"notification {claimed.id}")
    other = make_case(cases, sender_id="sms:13900001111", phone="13900001111", channel="sms")
    assert client.post_form(f"/cases/{other.case_id}/notifications/{claimed.id}/resend").status_code == 404
    assert client.post_form(f"{path}/notifications/x/resend").status_code == 404
