"""How workers answer a question: yes / no / unsure, a number or a range, or a question back.

One reading for every place that asks the worker something: the eligibility check (through the knowledge base's
fact parsing, `policies_kb._evaluator.parse_fact_text`), the case-intake form (consent, confirmation) and the case
lookup. The words live in one list, nlu/vocabulary.yml, so a dialect word added there is understood everywhere.

- `parse_yes_no("好的")` → True, `"不是"` → False, `"不知道"` / `"有没有啊"` / `"随便"` → None.
- `parse_number("交了三年多")` → 3.0, `"一年半"` → 1.5, `"30万"` → 300000.0, `"没有"` → 0.0; a range ("五六年",
  "3到5年"), two different numbers or none → None.
- `parse_range("五六年")` → (5.0, 6.0), `"3到5年"` → (3.0, 5.0), `"五六千"` → (5000.0, 6000.0); `spoken_range` reads
  one numeral ("一两万" → (10000.0, 20000.0)).
- `asks_something("那公租房呢")` → True: the text is phrased as a question.
- `cn_number("一万二")` → 12000.0: one number in digits, Chinese numerals or a mix.

Plain Python (no Rasa); cn2an is imported on first use.
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
from pathlib import Path
from typing import Any

import yaml

from nlu.text import normalize_keep_offsets, strip_punctuation

__all__ = [
    "parse_yes_no",
    "is_unsure",
    "parse_number",
    "parse_range",
    "spoken_range",
    "asks_something",
    "cn_number",
    "mask_numeral_words",
    "vocabulary",
]

VOCABULARY_FILE = Path(__file__).with_name("vocabulary.yml")

# cn2an logs a warning at import on some setups; the parsers never need its logging.
logging.getLogger("cn2an").setLevel(logging.ERROR)


@functools.lru_cache(maxsize=1)
def vocabulary() -> dict[str, tuple[str, ...]]:
    """nlu/vocabulary.yml: each list of words, read once."""
    data: dict[str, Any] = yaml.safe_load(VOCABULARY_FILE.read_text(encoding="utf-8"))
    return {key: tuple(str(word) for word in words) for key, words in data.items()}


def _plain(text: str) -> str:
    """Simplified, half-width, lower-case text without punctuation or spaces: how answers are compared."""
    return strip_punctuation(normalize_keep_offsets(text or "")).replace(" ", "")


def _has(text: str, key: str) -> bool:
    return any(word in text for word in vocabulary()[key])


# ----------------------------------------------------------------------------------------------------------------
# Yes, no, unsure, a question


def is_unsure(text: str) -> bool:
    """ "不知道", "记不清了": the worker does not know."""
    return _has(_plain(text), "unsure")


def parse_yes_no(text: str) -> bool | None:
    """True for yes ("好的", "对", "是的", "嗯", "行", "可以"), False for no ("没有", "不是", "不可以"), None when
    the worker does not know, asks back ("是不是要交社保") or says neither."""
    plain = _plain(text)
    if not plain:
        return None
    if plain in vocabulary()["ascii_yes"]:
        return True
    if plain in vocabulary()["ascii_no"]:
        return False
    if _has(plain, "unsure"):
        return None
    if _has(plain, "yes_despite_negation"):
        return True
    if _has(plain, "ask_back"):
        return None
    if _has(plain, "no"):
        return False
    if _has(plain, "yes"):
        return True
    return None


def asks_something(text: str) -> bool:
    """True when the text is phrased as a question ("那公租房呢", "有营业执照吗", "是不是要交社保")."""
    view = normalize_keep_offsets(text or "")
    return any(word in view for word in vocabulary()["question_marks"] + vocabulary()["ask_back"])


# ----------------------------------------------------------------------------------------------------------------
# Numbers and ranges

_CN_BASIC = "零〇一二两三四五六七八九"
_CN_RUN = re.compile(r"[零〇一二两三四五六七八九十百千万亿俩仨]+")
_QUANTITY = re.compile(r"(\d+(?:\.\d+)?)\s*(万|千)?|([零〇一二两三四五六七八九十百千万亿俩仨]+)")
_RANGE_SEPARATOR = re.compile(r"(到|至|~|-|或)")
_HALF_AFTER = re.compile(r"\s*(个)?\s*(年|月|岁|个|周|天|万|元|块)?半")
_MAGNITUDES = {"十": 10, "百": 100, "千": 1000, "万": 10000}


def mask_numeral_words(text: str) -> str:
    """`text` with the words whose numerals are no quantity ("一共", "第一") blanked out, keeping its length."""
    for word in vocabulary()["numeral_words"]:
        text = text.replace(word, "□" * len(word))
    return text


def cn_number(text: str) -> float | None:
    """A number written in digits, Chinese numerals or a mix ("一万二", "1.2万", "3千5", "俩", "仨") → float."""
    import cn2an  # imported lazily: it takes ~0.15 s and most processes never need it

    text = text.replace(",", "").replace("俩", "两").replace("仨", "三").replace("k", "千").replace("w", "万")
    if not text or len(text) > 24:
        return None  # no amount of money or time is written with more characters than that
    if text in ("万", "千"):
        text = "一" + text
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return float(cn2an.cn2an(text, "smart"))
    except (ValueError, KeyError, IndexError, TypeError, OverflowError):
        return None


def spoken_range(numeral: str) -> tuple[float, float] | None:
    """Two basic digits side by side in one numeral name a range, not one number: "五六" → (5, 6), "五六千" →
    (5000, 6000), "一两万" → (10000, 20000), "二十五六" → (25, 26), "三千五六" → (3500, 3600); None otherwise."""
    numeral = numeral.replace("俩", "两").replace("仨", "三")
    index = next(
        (
            index
            for index, (low, high) in enumerate(itertools.pairwise(numeral))
            if low in _CN_BASIC and high in _CN_BASIC and low not in "零〇" and high not in "零〇"
        ),
        None,
    )
    if index is None:
        return None
    low, high = numeral[index], numeral[index + 1]
    prefix, rest = numeral[:index], numeral[index + 2 :]
    low_value, high_value = cn_number(low), cn_number(high)
    if low_value is None or high_value is None:
        return None
    if rest and all(char in _MAGNITUDES for char in rest):
        scale = float(functools.reduce(lambda product, char: product * _MAGNITUDES[char], rest, 1))
    elif not rest and prefix and prefix[-1] in _MAGNITUDES:
        scale = _MAGNITUDES[prefix[-1]] / 10  # "二十五六": the digits count the next lower unit
    else:
        scale = 1.0
    base = (cn_number(prefix) or 0.0) if prefix and not rest else 0.0
    low_value, high_value = sorted((low_value, high_value))  # "六五千" is still 5000 to 6000
    return base + low_value * scale, base + high_value * scale


def _quantities(view: str) -> list[tuple[float | None, re.Match[str]]]:
    found: list[tuple[float | None, re.Match[str]]] = []
    for match in _QUANTITY.finditer(view):
        if match.group(1):
            found.append((float(match.group(1)) * {"万": 10000, "千": 1000, None: 1}[match.group(2)], match))
        else:
            found.append((cn_number(match.group(3)), match))
    return found


def _number_view(text: str) -> str:
    return mask_numeral_words(normalize_keep_offsets(text or "").replace(",", "").replace("，", ""))


def parse_range(text: str) -> tuple[float, float] | None:
    """The range the text names ("五六年" → (5, 6), "3到5年" → (3, 5), "三至五年" → (3, 5)), or None."""
    view = _number_view(text)
    quantities = _quantities(view)
    if _RANGE_SEPARATOR.search(view) and len(quantities) >= 2:
        first, second = quantities[0][0], quantities[1][0]
        if first is not None and second is not None:
            return min(first, second), max(first, second)
    for match in _CN_RUN.finditer(view):
        found = spoken_range(match.group(0))
        if found:
            return found
    return None


def parse_number(text: str) -> float | None:
    """The one quantity the answer gives: "交了三年多" → 3, "3年" → 3, "一年半" → 1.5, "30万" → 300000, "半年" → 0.5,
    "没有" → 0; None for a range ("五六年", "3到5年"), two different numbers, or none."""
    view = _number_view(text)
    quantities = _quantities(view)
    if _RANGE_SEPARATOR.search(view) and len(quantities) >= 2:
        return None  # a range: "3到5年", "三至五年"
    values: list[float] = []
    for value, match in quantities:
        if match.group(3) and spoken_range(match.group(3)):
            return None  # "五六年"
        if value is None:
            continue
        if _HALF_AFTER.match(view[match.end() :]):
            value += 0.5
        values.append(value)
    if not values:
        if re.search(r"半(年|个)", view):
            return 0.5
        if any(word in view for word in vocabulary()["none_words"]):
            return 0.0
        return None
    if len(set(values)) > 1:
        return None
    return values[0]
