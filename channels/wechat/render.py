"""What a WeChat user reads: replies as text messages of at most ~2,000 bytes, and the channel's own fixed texts.

Texts in order, buttons as a numbered menu ("回复1 …"), the "来源：" line last, custom payloads as nothing; a reply
that is too long is split at clean boundaries (never inside a number). Pure functions.
"""

from __future__ import annotations

import re

from channels._render import Reply, menu_lines, split_clean, utf8_len

__all__ = [
    "PASSIVE_REPLY_MAX_BYTES",
    "RATE_LIMITED_REPLY",
    "TURN_FAILED_REPLY",
    "UNSUPPORTED_REPLIES",
    "WELCOME",
    "render_reply",
    "unsupported_reply",
    "xml_safe",
]

PASSIVE_REPLY_MAX_BYTES = 2000

WELCOME = "欢迎关注宁夏农民工政策助手！"
UNSUPPORTED_REPLIES = {
    "image": "收到您的图片了，不过我暂时看不懂图片。请用文字说说您想问什么，比如“社保怎么转到宁夏”。也可以打 0951-12333 问人工。",
    "voice": "我暂时听不了语音，请打字问我，比如“欠工钱了咋办”。也可以打 0951-12333 问人工。",
    "location": "收到您的位置了。请用文字说说您想问哪方面的政策，比如落户、社保、讨要工钱。",
    "other": "这种消息我暂时看不了。请用文字说说您想问什么，也可以打 0951-12333 问人工。",
}
RATE_LIMITED_REPLY = "您发得太快了，请稍等一分钟再发。着急的话可以拨打 0951-12333 咨询。"
TURN_FAILED_REPLY = "抱歉，系统出了点问题，请稍后再试，或拨打 0951-12333 咨询。"
_MEDIA_TYPES = {"image": "image", "video": "image", "shortvideo": "image", "voice": "voice", "location": "location"}
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def unsupported_reply(kind: str) -> str:
    """The polite text that answers a message kind the assistant cannot read (images, voice, locations, ...)."""
    return UNSUPPORTED_REPLIES[_MEDIA_TYPES.get(kind, "other")]


def xml_safe(text: str) -> str:
    """Text that survives wechatpy's `<![CDATA[…]]>`: no characters XML forbids, and "]]>" split across two CDATA
    sections (an echo of the user's words must not be able to close the element)."""
    return _XML_INVALID.sub("", text).replace("]]>", "]]]]><![CDATA[>")


def render_reply(reply: Reply, *, prefix: str = "", limit_bytes: int = PASSIVE_REPLY_MAX_BYTES) -> list[str]:
    """The reply as WeChat text messages of at most `limit_bytes` each: texts, the numbered menu, the source lines
    last; split at clean boundaries (never inside a number) when too long. Custom payloads render as nothing."""
    parts = [prefix, "\n\n".join(reply.texts), "\n".join(menu_lines(reply.buttons)), "\n".join(reply.source_lines)]
    return split_clean("\n\n".join(part for part in parts if part), limit_bytes, utf8_len)
