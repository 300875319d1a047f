"""Year-month values ("1975-03") and a parser for the ways a worker writes a birth month.

``parse_year_month("75年3月的")`` → ``"1975-03"``; also ``"1975.3"``, ``"1975-03"``, ``"1975年3月"``, ``"七五年三月"``,
``"一九七五年三月份"``, ``"75.3"``, ``"1975/3"``, ``"197503"``. A year without a month, two different dates, or a
month outside 1–12 is None (ask again). Two-digit years are 19xx from 30 up and 20xx below (workers are born
1930–2029).
"""

from __future__ import annotations

import re

from policies_kb._text import normalize_for_search

__all__ = ["parse_year_month", "is_year_month", "add_months", "months_between", "YEAR_MONTH_PATTERN"]

YEAR_MONTH_PATTERN = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_CN_DIGIT = {
    "零": 0,
    "〇": 0,
    "○": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
# Months in words: the digits 一 to 九 (not 两 or 零), 十, 十一, 十二, and the lunar names 正月, 冬月, 腊月.
_CN_MONTH = {word: value for word, value in _CN_DIGIT.items() if 1 <= value <= 9 and word != "两"}
_CN_MONTH.update({"十": 10, "十一": 11, "十二": 12, "正": 1, "冬": 11, "腊": 12})

_DIGIT_FORMS = (
    re.compile(r"(?<!\d)(\d{4})\s*[.．/\-年]\s*(\d{1,2})(?!\d)"),  # 1975.3 1975-03 1975/3 1975年3月
    re.compile(r"(?<!\d)(\d{2})\s*[.．/\-年]\s*(\d{1,2})(?!\d)"),  # 75.3 75年3月
    re.compile(r"(?<!\d)(\d{4})(0[1-9]|1[0-2])(?!\d)"),  # 197503
)
_CN_FORM = re.compile(
    r"([零〇○一二三四五六七八九]{2}|[零〇○一二三四五六七八九]{4})年([正腊冬]|十[一二]?|[一二三四五六七八九])月"
)


def is_year_month(value: object) -> bool:
    """True for a ``"YYYY-MM"`` string."""
    return isinstance(value, str) and bool(YEAR_MONTH_PATTERN.fullmatch(value))


def _year(digits: str) -> int:
    year = int(digits)
    if len(digits) == 2:
        year += 1900 if year >= 30 else 2000
    return year


def _format(year: int, month: int) -> str | None:
    if not (1 <= month <= 12) or not (1900 <= year <= 2099):
        return None
    return f"{year:04d}-{month:02d}"


def parse_year_month(text: object) -> str | None:
    """The year and month in a worker's answer as ``"YYYY-MM"``, or None when there is not exactly one."""
    if not isinstance(text, str):
        return None
    cleaned = normalize_for_search(text).replace(" ", "")
    found: set[str] = set()
    spans: list[tuple[int, int]] = []
    for pattern in _DIGIT_FORMS:
        for match in pattern.finditer(cleaned):
            if any(start <= match.start() < end for start, end in spans):
                continue
            spans.append(match.span())
            value = _format(_year(match.group(1)), int(match.group(2)))
            if value is None:
                return None
            found.add(value)
    for match in _CN_FORM.finditer(cleaned):
        year = _year("".join(str(_CN_DIGIT[ch]) for ch in match.group(1)))
        value = _format(year, _CN_MONTH[match.group(2)])
        if value is None:
            return None
        found.add(value)
    return found.pop() if len(found) == 1 else None


def _split(value: str) -> tuple[int, int]:
    year, month = value.split("-")
    return int(year), int(month)


def add_months(value: str, months: int) -> str:
    """``add_months("1975-03", 600)`` → ``"2025-03"``."""
    year, month = _split(value)
    total = year * 12 + (month - 1) + months
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def months_between(start: str, end: str) -> int:
    """Whole months from ``start`` to ``end`` (negative when ``end`` is earlier)."""
    (y1, m1), (y2, m2) = _split(start), _split(end)
    return (y2 * 12 + m2) - (y1 * 12 + m1)
