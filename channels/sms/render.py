"""What an SMS user reads: replies in at most 3 segments of 67 characters, and the opt-out confirmations.

Texts, a numbered menu for buttons, the source line last and shortened when needed; split at clean boundaries,
never inside a number or phone number ("0951-12333" stays whole). Pure functions.
"""

from __future__ import annotations

from channels._render import Reply, menu_lines, shorten_source, split_clean

__all__ = ["MAX_SEGMENTS", "OPT_IN_CONFIRMATION", "OPT_OUT_CONFIRMATION", "SEGMENT_CHARS", "render_sms"]

SEGMENT_CHARS = 67  # characters per segment of a long (UCS-2) SMS
MAX_SEGMENTS = 3
OPT_OUT_CONFIRMATION = "您已退订，本号码将不再收到本服务的短信。如需恢复，请回复“订阅”。"
OPT_IN_CONFIRMATION = "您已恢复订阅，可以直接发短信提问，比如“欠工钱了咋办”。回复“退订”可退订。"


def render_sms(reply: Reply, *, max_segments: int = MAX_SEGMENTS, segment_chars: int = SEGMENT_CHARS) -> list[str]:
    """The reply as at most `max_segments` messages of at most `segment_chars` characters: texts, the numbered menu,
    then the (first) source line. When it does not fit, the source line is shortened first (document number), then
    the texts are cut at a clean boundary and marked "…"; the menu and the source line are always kept."""
    menu = "\n".join(menu_lines(reply.buttons))
    body = "\n".join(reply.texts)
    sources = (
        [reply.source_lines[0], shorten_source(reply.source_lines[0], reply.customs)] if reply.source_lines else [""]
    )

    def compose(text: str, source: str) -> list[str]:
        return split_clean("\n".join(part for part in (text, menu, source) if part), segment_chars)

    for source in sources:
        segments = compose(body, source)
        if len(segments) <= max_segments:
            return segments
    source = sources[-1]
    best: list[str] | None = None
    low, high = 1, len(body)
    while low <= high:  # the longest clean prefix of the texts that still fits
        middle = (low + high) // 2
        segments = compose(split_clean(body, middle)[0].rstrip("，、；：,;:。！？!?") + "…", source)
        if len(segments) <= max_segments:
            best, low = segments, middle + 1
        else:
            high = middle - 1
    return best or compose("", source)[:max_segments]
