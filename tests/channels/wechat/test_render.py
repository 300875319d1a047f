"""channels/wechat/render.py: what a WeChat user reads (pure functions)."""

from __future__ import annotations

from channels._render import collect_reply, utf8_len
from channels.wechat.render import UNSUPPORTED_REPLIES, render_reply, unsupported_reply, xml_safe


def test_texts_then_menu_then_source_with_the_prefix_first_and_customs_dropped():
    reply = collect_reply(
        [
            {"text": "可以办理。\n\n来源：《宁夏回族自治区户籍管理规定》第三条"},
            {
                "text": "还想问什么？",
                "buttons": [{"title": "落户", "payload": "/a"}, {"title": "社保", "payload": "/b"}],
            },
            {"custom": {"kind": "answer"}},
        ]
    )
    assert render_reply(reply, prefix="欢迎！") == [
        "欢迎！\n\n可以办理。\n\n还想问什么？\n\n回复1 落户\n回复2 社保\n\n来源：《宁夏回族自治区户籍管理规定》第三条"
    ]


def test_a_long_reply_is_split_under_the_byte_limit_without_cutting_a_phone_number():
    reply = collect_reply([{"text": "请拨打 0951-12333 咨询。" * 40}])
    parts = render_reply(reply, limit_bytes=200)
    assert len(parts) > 1 and all(utf8_len(part) <= 200 for part in parts)
    assert "".join(parts).count("0951-12333") == 40


def test_xml_safe_drops_forbidden_characters_and_cannot_close_cdata():
    assert xml_safe("好\x01的]]>了") == "好的]]]]><![CDATA[>了"


def test_each_media_kind_gets_its_polite_text():
    assert unsupported_reply("shortvideo") == UNSUPPORTED_REPLIES["image"]
    assert unsupported_reply("voice") == UNSUPPORTED_REPLIES["voice"]
    assert unsupported_reply("link") == UNSUPPORTED_REPLIES["other"]
