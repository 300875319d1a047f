"""The WeChat template message of a case notification: which template, and which of its fields carries what.

Outside the 48-hour customer-service window a case notification goes out as a template message (模板消息). The
operator picks a template in the Official Account's template library (a case or work-order progress notice, e.g.
"案件进度通知": 案件编号, 办理状态, 进展说明, 更新时间) and configures:

    WECHAT_CASE_TEMPLATE_ID=Xq1…            # the template id the platform gives once the template is added
    WECHAT_CASE_TEMPLATE_FIELDS=character_string1=case_id,phrase2=status,thing3=progress,time4=time

Each `key=value` names one of the template's field keys (as the template's detail page shows them: `{{thing3.DATA}}`
is `thing3`) and what it carries: `case_id` (NX…), `status` (处理中), `progress` (the news: the operator's message
or what the status change means), `time` (when the change happened, China time) or `hotline` (0951-12333). Values
are cut to what WeChat accepts for the field's kind (thing 20 characters, phrase 5, character_string 32, …), so a
long message still goes out; the whole text stays in the console. Without WECHAT_CASE_TEMPLATE_ID a notification
that finds the window closed fails with that reason and the operator can phone the worker or resend later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from bot.settings import Settings
from channels._config import ChannelConfigError, channel_values

__all__ = ["CASE_TEMPLATE_VALUES", "DEFAULT_CASE_TEMPLATE_FIELDS", "CaseTemplate", "case_template_for", "parse_fields"]

CASE_TEMPLATE_VALUES = ("case_id", "status", "progress", "time", "hotline")
DEFAULT_CASE_TEMPLATE_FIELDS = "character_string1=case_id,phrase2=status,thing3=progress,time4=time"
HOTLINE = "0951-12333"
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

# The most characters WeChat accepts per field kind (the key without its number); kinds not listed are not cut.
FIELD_LIMITS = {
    "thing": 20,
    "short_thing": 5,
    "phrase": 5,
    "character_string": 32,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "name": 10,
    "phone_number": 17,
}
_KEY_RE = re.compile(r"^([a-z_]+?)(\d+)$")


def parse_fields(text: str) -> tuple[tuple[str, str], ...]:
    """The (field key, value name) pairs of a WECHAT_CASE_TEMPLATE_FIELDS value; ValueError names a bad part."""
    pairs = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = (piece.strip() for piece in part.partition("="))
        if not sep or not _KEY_RE.match(key):
            raise ValueError(f"{part!r} is not <field key>=<value>, e.g. thing3=progress")
        if value not in CASE_TEMPLATE_VALUES:
            raise ValueError(f"{part!r}: {value!r} is not one of {', '.join(CASE_TEMPLATE_VALUES)}")
        pairs.append((key, value))
    if not pairs:
        raise ValueError("no fields: give at least one <field key>=<value>")
    if len({key for key, _value in pairs}) != len(pairs):
        raise ValueError("a field key appears twice")
    return tuple(pairs)


def _fit(key: str, value: str) -> str:
    match = _KEY_RE.match(key)
    limit = FIELD_LIMITS.get(match.group(1)) if match else None
    if limit is None or len(value) <= limit:
        return value
    return value[: limit - 1] + "…"


@dataclass(frozen=True)
class CaseTemplate:
    """The configured template and its field mapping."""

    template_id: str
    fields: tuple[tuple[str, str], ...]

    def data(self, *, case_id: str, status: str, progress: str, at: datetime) -> dict[str, str]:
        """The template's fields for one notification, each cut to its kind's length."""
        local = at.astimezone(CHINA_TZ)
        values = {
            "case_id": case_id,
            "status": status,
            "progress": progress,
            "time": f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}",
            "hotline": HOTLINE,
        }
        return {key: _fit(key, values[name]) for key, name in self.fields}


def case_template_for(settings: Settings) -> CaseTemplate | None:
    """The case template from WECHAT_CASE_TEMPLATE_ID and WECHAT_CASE_TEMPLATE_FIELDS (default
    DEFAULT_CASE_TEMPLATE_FIELDS), or None when no template id is set. Raises ChannelConfigError on a bad mapping."""
    values: Mapping[str, str] = channel_values(settings)
    template_id = (values.get("WECHAT_CASE_TEMPLATE_ID") or "").strip()
    if not template_id:
        return None
    try:
        fields = parse_fields(values.get("WECHAT_CASE_TEMPLATE_FIELDS") or DEFAULT_CASE_TEMPLATE_FIELDS)
    except ValueError as bad:
        raise ChannelConfigError(f"WECHAT_CASE_TEMPLATE_FIELDS: {bad}") from None
    return CaseTemplate(template_id, fields)
