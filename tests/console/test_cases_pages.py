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
