"""What an SMS user reads: a reply as one text within the template's room, and the opt-out confirmations.

Texts, a numbered menu for buttons, the source line last and shortened when needed; cut at clean boundaries, never
inside a number or phone number ("0951-12333" stays whole). The text then goes out through the reply template
(`channels.sms.templates.reply_messages`), as one long SMS. Pure functions.
"""

from __future__ import annotations

from channels._render import Reply, menu_lines, shorten_source, split_clean
from channels.sms.templates import TemplateLimits

__all__ = ["OPT_IN_CONFIRMATION", "OPT_OUT_CONFIRMATION", "REPLY_TEXT_CHARS", "render_sms"]

REPLY_TEXT_CHARS = TemplateLimits().reply_text_chars  # the answer's room with the default limits and no signature
OPT_OUT_CONFIRMATION = "您已退订，本号码将不再收到本服务的短信。如需恢复，请回复“订阅”。"
OPT_IN_CONFIRMATION = "您已恢复订阅，可以直接发短信提问，比如“欠工钱了咋办”。回复“退订”可退订。"


def render_sms(reply: Reply, *, max_chars: int = REPLY_TEXT_CHARS) -> list[str]:
    """The reply as one text of at most `max_chars` characters (in a list; [] for an empty reply): texts, the
    numbered menu, then the (first) source line. When it does not fit, the source line is shortened first
    (document number), then the texts are cut at a clean boundary and marked "…"; the menu and the source line are
    always kept."""
    menu = "\n".join(menu_lines(reply.buttons))
    body = "\n".join(reply.texts)
    sources = (
        [reply.source_lines[0], shorten_source(reply.source_lines[0], reply.customs)] if reply.source_lines else [""]
    )

    def compose(text: str, source: str) -> str:
        return "\n".join(part for part in (text, menu, source) if part)

    for source in sources:
        if len(composed := compose(body, source)) <= max_chars:
            return [composed] if composed else []
    source = sources[-1]
    best: str | None = None
    low, high = 1, len(body)
    while low <= high:  # the longest clean prefix of the texts that still fits
        middle = (low + high) // 2
        composed = compose(split_clean(body, middle)[0].rstrip("，、；：,;:。！？!?") + "…", source)
        if len(composed) <= max_chars:
            best, low = composed, middle + 1
        else:
            high = middle - 1
    if best is None:  # the menu and the source alone are too long: keep what fits, at clean boundaries
        return split_clean(compose("", source), max_chars)[:1]
    return [best]
