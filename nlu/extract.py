"""Facts read out of what workers type: a mobile number, the amount owed, the period it covers; and PII masking.

Plain Python (no Rasa), used by the case-intake form, the case store and the logging filter.

- `parse_phone("138 1234 5678")` → "13812345678": spaces, dashes, dots, full-width digits, a +86/0086 prefix and
  Chinese digits ("幺三八…", "一三八…", only as a run of eleven) are accepted. A Chinese mobile number is 11 digits
  starting with 1 and a second digit 3–9; ten or twelve digits, a landline or an ID number are not one.
- `parse_amount_yuan("三个月工资一万二")` → 12000. How a sentence with several numbers is read:
  durations and dates (3个月, 俩月, 2025年, 10月, 15号, 45天) are never amounts; an amount marked as a total (一共,
  总共, 合计, 加起来) wins; otherwise amounts with a money word (元, 块, 块钱, ¥) or a magnitude (万, 千, k, w) win
  over bare numbers, and amounts already paid (给了两千, 发了一半) are skipped when another amount remains. A rate
  (每月4000, 一个月四千, 月工资4000, 一天两百) is not a total: the function does **not** multiply it by a duration and
  returns None when only rates are given, so the form asks for the total instead of guessing ("一个月的工资三千"
  is the total of one month unless a longer duration is named too). Approximations are read as their floor, never
  overstating the debt: "两万多" → 20000, "万把块" → 10000, "十几万" → 100000, "五六千" → 5000; a bare number
  below 10 without a money word is no amount ("才给了一半").
- `parse_period("去年十月到今年一月")` → "去年10月至今年1月"; "仨月的工钱" → "3个月"; None when no period is named.
- `mask_phone("13812345678")` → "138****5678"; `mask_pii(text)` masks mobile numbers, 18-digit ID numbers
  (640102********123X) and 16–19-digit bank card numbers (6222********1234) anywhere in free text, keeping the rest
  of the text unchanged.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from typing import NamedTuple

from nlu.answers import cn_number, mask_numeral_words, spoken_range
from nlu.text import normalize_keep_offsets, to_half_width

__all__ = ["parse_phone", "parse_amount_yuan", "parse_period", "mask_phone", "mask_pii"]

# The amount and period parsers read a slot answer or a sentence, not a document: longer text is cut here.
MAX_PARSED_LENGTH = 1000

_CN_DIGIT_VALUES = {
    "零": "0",
    "〇": "0",
    "洞": "0",
    "幺": "1",
    "一": "1",
    "二": "2",
    "两": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
}
_CN_DIGIT_CLASS = "".join(_CN_DIGIT_VALUES)
# Eleven or more Chinese digits in a row (separators allowed) are read digit by digit: no sentence has that run.
_CN_DIGIT_RUN = re.compile(rf"[{_CN_DIGIT_CLASS}](?:[ \-]?[{_CN_DIGIT_CLASS}]){{10,}}")
# A run of digits with single separators (space, dash, dot) between groups, optionally +86/0086 in front.
_DIGIT_GROUP = re.compile(r"(?<![0-9])(?:(?:\+|00)86[ \-]?)?[0-9](?:[ \-.]?[0-9])*(?:[xX](?![a-zA-Z]))?")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_ID_NUMBER = re.compile(r"[1-9][0-9]{16}[0-9xX]")


def _digits_view(text: str) -> str:
    """`text` with full-width digits folded and long runs of Chinese digits turned into ASCII (same length)."""
    text = to_half_width(text)

    def replace(match: re.Match) -> str:
        return "".join(_CN_DIGIT_VALUES.get(char, char) for char in match.group(0))

    return _CN_DIGIT_RUN.sub(replace, text)


def _strip_country_code(digits: str) -> str:
    if len(digits) == 15 and digits.startswith("0086"):
        return digits[4:]
    if len(digits) == 13 and digits.startswith("86"):
        return digits[2:]
    return digits


class _Pii(NamedTuple):
    start: int
    end: int
    kind: str  # "phone", "id", "card"
    digits: str


def _find_pii(text: str) -> Iterator[_Pii]:
    view = _digits_view(text)
    for match in _DIGIT_GROUP.finditer(view):
        raw = match.group(0)
        if match.end() < len(view) and view[match.end()].isdigit():
            continue
        end = match.end()
        whole = _classify(re.sub(r"[ \-.+]", "", raw))
        if whole is None and raw[-1] in "xX":  # "13812345678X": an X ends ID numbers only, not this one
            raw, end = raw[:-1], end - 1
            whole = _classify(re.sub(r"[ \-.+]", "", raw))
        if whole:
            yield _Pii(match.start(), end, whole[0], whole[1])
            continue
        # "工资4000 13812345678": the group as a whole is nothing, but one of its space-separated parts may be.
        for part in re.finditer(r"[^ ]+", raw):
            found = _classify(re.sub(r"[\-.+]", "", part.group(0)))
            if found:
                yield _Pii(match.start() + part.start(), match.start() + part.end(), found[0], found[1])


def _classify(digits: str) -> tuple[str, str] | None:
    phone = _strip_country_code(digits)
    if _MOBILE.fullmatch(phone):
        return "phone", phone
    if _ID_NUMBER.fullmatch(digits):
        return "id", digits.upper()
    if digits.isdigit() and 16 <= len(digits) <= 19:
        return "card", digits
    return None


def parse_phone(text: str) -> str | None:
    """The first mobile number in `text` as 11 ASCII digits, or None.

    "138-1234-5678", "１３８１２３４５６７８", "+86 138 1234 5678", "幺三八一二三四五六七八" → "13812345678";
    "1381234567" (10 digits), "138123456789" (12), "0951-12345678" and ID numbers → None.
    """
    if not text:
        return None
    for found in _find_pii(str(text)):
        if found.kind == "phone":
            return found.digits
    return None


def mask_phone(phone: str) -> str:
    """ "13812345678" → "138****5678" (any mobile spelling is masked from its canonical form; other strings keep at
    most their first three and last four characters)."""
    canonical = parse_phone(phone or "")
    if canonical is not None:
        return f"{canonical[:3]}****{canonical[-4:]}"
    text = str(phone or "")
    if len(text) <= 7:
        return "*" * len(text)
    return f"{text[:3]}{'*' * (len(text) - 7)}{text[-4:]}"


def _masked(found: _Pii) -> str:
    if found.kind == "phone":
        return f"{found.digits[:3]}****{found.digits[-4:]}"
    if found.kind == "id":
        return f"{found.digits[:6]}********{found.digits[-4:]}"
    return f"{found.digits[:4]}{'*' * (len(found.digits) - 8)}{found.digits[-4:]}"


PII_KINDS = frozenset({"phone", "id", "card"})


def mask_pii(text: str, kinds: frozenset[str] = PII_KINDS) -> str:
    """`text` with every mobile number, 18-digit ID number and 16–19-digit bank card number masked (only those of
    `kinds`: "phone", "id", "card").

    "我电话138 1234 5678，身份证640102199001011234" → "我电话138****5678，身份证640102********1234".
    """
    if not text:
        return text
    text = str(text)
    out: list[str] = []
    position = 0
    for found in _find_pii(text):
        if found.kind not in kinds:
            continue
        out.append(text[position : found.start])
        out.append(_masked(found))
        position = found.end
    out.append(text[position:])
    return "".join(out)


# ----------------------------------------------------------------------------------------------------------------
# Numbers and amounts

_CN_NUM_CHARS = "零〇一二两三四五六七八九十百千万亿俩仨壹贰叁肆伍陆柒捌玖拾佰仟"
_NUMBER = re.compile(
    r"(?P<num>[0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?(?:[千万kw](?:[0-9])?)?"  # 12000, 12,000, 1.2万, 3千5, 3k
    rf"|[{_CN_NUM_CHARS}]+(?:[0-9])?"  # 一万二, 八千五, 两千5
    r"|(?<![0-9])[万千](?=[把来多]))"  # 万把块, 千把块
)
_APPROX = r"(?:多|来|把|几|余)?"  # 两万多, 十来天, 万把块, 十几万: the number is a floor
_DURATION_AFTER = re.compile(
    rf"^{_APPROX}(?:个多|个半|个)?(?:月|天|年|日|号|周|星期|礼拜|小时|钟头|工|晌|季度|次|人|岁|%|层|栋|期|点|份)"
)
_MONEY_AFTER = re.compile(rf"^{_APPROX}(?:左右)?(?:块钱|块|元|圆|rmb|人民币)")
_MAGNITUDE_AFTER = re.compile(rf"^{_APPROX}(?P<mag>万|千|百)")
_TOTAL_BEFORE = re.compile(r"(一共|总共|合计|总计|共计|加起来|总额|总的|总数|一起|全部|共欠|共)")
_PAID_BEFORE = re.compile(r"(给了|发了|付了|结了|还了|已经给|已给|已付|已发|预支|借了|先给|只给|才给|打了)")
# Always a rate: 每月/每天…, 月薪/日薪, 月工资 or 天工钱 (not after a count: "三个月工资" is a total), 日结.
_RATE_BEFORE = re.compile(
    r"(每|月薪|日薪|时薪|工价|(?:日|天)结|"
    r"(?<![0-9零〇一二两三四五六七八九十百千俩仨个])(?:月|日|天|小时)(?:薪|工资|工钱|收入|挣))"
)
# One unit's pay: "一个月四千" is a rate; "(欠了)一个月的工资三千" is the total unless a longer duration is named.
_ONE_UNIT_BEFORE = re.compile(
    r"(?<![0-9零〇二两三四五六七八九十百千俩仨])(?:一|1)(?:个)?(?:月|天|日|小时|钟头|工|晌)(?P<de>的)?"
)
_CLAUSE_BREAK = re.compile(r"[，,。.!！?？;；、\n]")


def _range_floor(numeral: str) -> float | None:
    """ "五六千" → 5000, "一两万" → 10000: a spoken range, read as its lower end (never overstating the debt)."""
    found = spoken_range(numeral)
    return found[0] if found else None


class _Amount(NamedTuple):
    value: float
    start: int
    money_word: bool
    magnitude: bool
    total: bool
    paid: bool
    rate: bool


def _amounts(text: str) -> list[_Amount]:
    plain = normalize_keep_offsets(text[:MAX_PARSED_LENGTH])
    view = mask_numeral_words(plain)  # same length as plain: numerals found in `view`, context read in `plain`
    found: list[_Amount] = []
    one_unit_de: list[int] = []  # indexes in `found` of amounts after "一个月的…": rates only if a longer duration
    longer_duration = False
    previous_end = 0
    breaks = [m.end() for m in _CLAUSE_BREAK.finditer(view)]
    for match in _NUMBER.finditer(view):
        start, end = match.span()
        numeral = match.group("num")
        after = view[end : end + 8]
        index = bisect.bisect_right(breaks, start)
        clause_start = breaks[index - 1] if index else 0
        context = plain[max(clause_start, previous_end - 8, 0) : start]
        context_near = plain[max(clause_start, start - 8) : start]
        previous_end = end
        digits_only = re.sub(r"[^0-9]", "", numeral)
        if len(digits_only) >= 11:
            continue  # a phone, ID or card number, not money
        value = cn_number(numeral)
        if value is None:
            value = _range_floor(numeral)
        if _DURATION_AFTER.match(after):
            if value is not None and value != 1:
                longer_duration = True
            continue
        if start > 0 and view[start - 1] in "第周星礼":
            continue
        if value is None or value <= 0:
            continue
        money_word = bool(_MONEY_AFTER.match(after)) or (start > 0 and view[start - 1] in "¥$")
        magnitude = bool(re.search(r"[万千百kw仟佰]", numeral))
        scale = _MAGNITUDE_AFTER.match(after)
        if scale and not (scale.group("mag") == "百" and magnitude):
            # "十多万", "两千多": the magnitude follows the approximation; "4千多块" has it inside.
            if not re.search(r"[万千kw]", numeral) or scale.group("mag") == "万" and "万" not in numeral:
                value *= {"万": 10000, "千": 1000, "百": 100}[scale.group("mag")]
                magnitude = True
        if not (money_word or magnitude) and value < 10:
            continue  # "才给了一半", "欠我3": a bare digit is no amount of money
        one_unit = None  # the last '一个月'-like unit before the number, if any
        for match in _ONE_UNIT_BEFORE.finditer(context):
            one_unit = match
        rate = bool(_RATE_BEFORE.search(context)) or bool(one_unit and not one_unit.group("de"))
        if one_unit and one_unit.group("de") and not rate:
            one_unit_de.append(len(found))
        found.append(
            _Amount(
                value=value,
                start=start,
                money_word=money_word,
                magnitude=magnitude,
                total=bool(_TOTAL_BEFORE.search(context_near)),
                paid=bool(_PAID_BEFORE.search(context_near)),
                rate=rate,
            )
        )
    if longer_duration:
        for index in one_unit_de:
            found[index] = found[index]._replace(rate=True)
    return found


def parse_amount_yuan(text: str) -> int | None:
    """The amount owed in whole yuan, read from free text (see the module docstring for the rules); None if unsure.

    "三个月工资一万二" → 12000; "1.2万" → 12000; "八千五" → 8500; "欠我两万多" → 20000; "一共3500元" → 3500;
    "每月4000" alone → None (a rate, not the total).
    """
    if not text:
        return None
    amounts = _amounts(str(text))
    if not amounts:
        return None
    totals = [a for a in amounts if a.total and not a.paid]
    if totals:
        return int(totals[0].value)
    candidates = [a for a in amounts if not a.rate]
    unpaid = [a for a in candidates if not a.paid]
    if unpaid:
        candidates = unpaid
    if not candidates:
        return None
    marked = [a for a in candidates if a.money_word or a.magnitude]
    chosen = (marked or candidates)[0]
    return int(chosen.value)


# ----------------------------------------------------------------------------------------------------------------
# Periods

_CN_SMALL = r"[0-9零〇一二两三四五六七八九十俩仨]+"
_YEAR = r"(?:(?P<{y}>[0-9]{4}|[0-9]{2}|[零〇一二三四五六七八九]{4})年|(?P<{r}>去年|今年|前年|明年))"
# A month by number, or the lunar 正月/冬月/腊月 workers reckon year-end pay by (kept as said: not converted).
_MONTH = rf"(?:(?P<{{m}}>{_CN_SMALL})(?:月份|月)|(?P<{{l}}>正|冬|腊)月)"
_RANGE_SEP = r"(?:到|至|~|—|-|－|一直到|到了)"
_NOW = r"(?:现在|今天|目前|如今|今(?!年))"


def _month_point(prefix: str) -> str:
    year = _YEAR.replace("{y}", prefix + "y").replace("{r}", prefix + "r")
    month = _MONTH.replace("{m}", prefix + "m").replace("{l}", prefix + "l")
    return rf"(?:{year}\s*)?{month}"


_MONTH_RANGE = re.compile(
    rf"(?:从)?{_month_point('a')}(?:份)?\s*{_RANGE_SEP}\s*(?:(?P<now>{_NOW})|{_month_point('b')})"
)
_MONTH_SINCE = re.compile(rf"(?:从)?{_month_point('a')}(?:份)?(?:开始|起|以来)?\s*(?:到|至)?\s*{_NOW}")
_DOTTED_RANGE = re.compile(
    r"(?P<ay>20[0-9]{2})[./](?P<am>[0-9]{1,2})\s*(?:-|~|到|至)\s*(?:(?P<by>20[0-9]{2})[./])?(?P<bm>[0-9]{1,2})(?![0-9])"
)
_SINGLE_MONTH = re.compile(_month_point("a"))
_DURATION = re.compile(
    rf"(?P<n>{_CN_SMALL}|半)(?P<approx>多|来|几)?"
    r"(?P<unit>个多月|个半月|个月|月|年半|年|周|(?:个多|个)?星期|(?:个多|个)?礼拜|天)(?P<more>多)?"
)
_DURATION_BASE = {"个多月": "个月", "个月": "个月", "月": "个月", "年": "年", "周": "周", "天": "天"}
_DURATION_BASE.update({prefix + week: "周" for prefix in ("", "个", "个多") for week in ("星期", "礼拜")})


def _int_text(numeral: str) -> str | None:
    value = cn_number(numeral)
    if value is None or value <= 0 or not float(value).is_integer():
        return None
    return str(int(value))


def _year_text(match: re.Match, prefix: str) -> str:
    relative = match.group(prefix + "r")
    if relative:
        return relative
    year = match.group(prefix + "y")
    if not year:
        return ""
    year = "".join(_CN_DIGIT_VALUES.get(c, c) for c in year)
    if len(year) == 2:
        year = "20" + year
    return f"{year}年"


def _month_text(match: re.Match, prefix: str) -> str | None:
    if match.group(prefix + "l"):
        return match.group(prefix + "l") + "月"
    numeral = match.group(prefix + "m")
    month = _int_text(numeral) if numeral else None
    if month is None or not 1 <= int(month) <= 12:
        return None
    return f"{month}月"


def _durations(view: str) -> Iterator[tuple[int, str]]:
    """(count, normalised text) for each span of time named in `view`, in order."""
    for match in _DURATION.finditer(view):
        numeral, unit = match.group("n"), match.group("unit")
        if match.start() > 0 and view[match.start() - 1] == "每":
            continue  # 每个月: a rate's unit, not the period
        if unit == "年" and (len(numeral) == 4 or re.match(rf"{_CN_SMALL}(?:月|月份)", view[match.end() :])):
            continue  # "2025年", "2025年10月": a date, not a count of years
        if unit == "月" and numeral not in ("俩", "仨", "两") and not match.group("approx"):
            continue  # "十月", "三月份": a month of the year; only 俩月/仨月/两月 (and 3个月) count months
        if numeral == "半":
            if unit == "年":
                yield 6, "6个月"
            elif unit == "个月":
                yield 0, "半个月"
            continue
        count = _int_text(numeral)
        if count is None:
            continue
        if unit == "个半月":
            yield int(count), f"{count}个半月"
            continue
        if unit == "年半":
            yield int(count), f"{count}年半"
            continue
        base = _DURATION_BASE[unit]
        if base == "个月" and (match.group("approx") or "多" in unit or match.group("more")):
            yield int(count), f"{count}个多月"
        elif match.group("approx"):
            yield int(count), f"{count}多{base}"  # 二十多天, 十来天
        elif match.group("more") or "多" in unit:
            yield int(count), f"{count}{base}多"  # 一年多, 两个多星期
        else:
            yield int(count), f"{count}{base}"


def parse_period(text: str) -> str | None:
    """The period the wages are owed for, normalised: "2025年10月至12月", "去年10月至今", "去年腊月至今", "10月",
    "3个月", "3个多月", "20多天", "1年半"; None when the text names none.

    A range of months wins over a count of months ("三个月，从10月到12月" → "10月至12月"); a count of one unit that
    reads like a rate's unit ("一天两百 干了四十天") gives way to another count ("40天").
    """
    if not text:
        return None
    view = mask_numeral_words(normalize_keep_offsets(str(text)[:MAX_PARSED_LENGTH]))
    for match in _MONTH_RANGE.finditer(view):
        first = _month_text(match, "a")
        if first is None:
            continue
        start = _year_text(match, "a") + first
        if match.group("now"):
            return f"{start}至今"
        last = _month_text(match, "b")
        if last is None:
            continue
        return f"{start}至{_year_text(match, 'b')}{last}"
    for match in _MONTH_SINCE.finditer(view):
        first = _month_text(match, "a")
        if first is not None:
            return f"{_year_text(match, 'a')}{first}至今"
    dotted = _DOTTED_RANGE.search(view)
    if dotted and 1 <= int(dotted.group("am")) <= 12 and 1 <= int(dotted.group("bm")) <= 12:
        end_year = f"{dotted.group('by')}年" if dotted.group("by") and dotted.group("by") != dotted.group("ay") else ""
        return f"{dotted.group('ay')}年{int(dotted.group('am'))}月至{end_year}{int(dotted.group('bm'))}月"
    durations = list(_durations(view))
    if durations:
        longer = [text for count, text in durations if count != 1]
        return longer[0] if longer else durations[0][1]
    single = _SINGLE_MONTH.search(view)
    if single:
        month = _month_text(single, "a")
        if month is not None:
            return _year_text(single, "a") + month
    return None
