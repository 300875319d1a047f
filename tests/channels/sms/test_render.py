"""channels/sms/render.py: replies in at most three clean segments, menu and source kept."""

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
    segments = render_sms(reply)
    text = "\n".join(segments)
    assert len(segments) <= 3 and all(len(s) <= 67 for s in segments)
    assert "回复1 落户\n回复2 上学" in text and segments[-1].endswith("来源：宁人社函〔2023〕81号")
    assert "…" in text
    assert render_sms(Reply(texts=["短回答"])) == ["短回答"]
    assert render_sms(Reply()) == []
