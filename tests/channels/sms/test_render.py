"""channels/sms/render.py: a reply as one text within the template's room, menu and source kept."""

from __future__ import annotations

from channels._render import Reply, collect_reply
from channels.sms import (
    render_sms,
)


def test_render_sms_keeps_menu_and_source_and_fits():
    reply = collect_reply(
        [
            {"text": "您好，" + "这是很长的说明，电话0951-12333。" * 20},
            {"text": "请选择：", "buttons": [{"title": "落户", "payload": "/a"}, {"title": "上学", "payload": "/b"}]},
            {"text": "来源：宁人社函〔2023〕81号"},
        ]
    )
    [text] = render_sms(reply, max_chars=185)
    assert len(text) <= 185
    assert "回复1 落户\n回复2 上学" in text and text.endswith("来源：宁人社函〔2023〕81号")
    assert "…" in text and "0951-1" not in text.replace("0951-12333", "")  # cut, never inside the number
    assert render_sms(Reply(texts=["短回答"])) == ["短回答"]
    assert render_sms(Reply()) == []


def test_render_sms_keeps_what_fits_when_the_menu_alone_is_too_long():
    buttons = [{"title": f"选项{n}很长很长很长", "payload": f"/p{n}"} for n in range(10)]
    [text] = render_sms(collect_reply([{"text": "请选：", "buttons": buttons}]), max_chars=40)
    assert len(text) <= 40 and text.startswith("回复1 选项0")
