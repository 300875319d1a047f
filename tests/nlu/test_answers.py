"""nlu.answers: yes / no / unsure, numbers and ranges, questions back, on the one word list (nlu/vocabulary.yml)."""

from __future__ import annotations

import pytest

from nlu.answers import asks_something, cn_number, is_unsure, parse_number, parse_range, parse_yes_no, spoken_range

# How workers say yes, no and "I don't know" (tests/actions/test_forms.py runs them through both forms too).
YES_NO_ANSWERS = [
    ("好的", True),
    ("对", True),
    ("是的", True),
    ("嗯", True),
    ("行", True),
    ("可以", True),
    ("同意", True),
    ("确认", True),
    ("没问题", True),
    ("OK", True),
    ("是嘅", True),
    ("早就到了", True),
    ("没有", False),
    ("不是", False),
    ("不同意", False),
    ("不可以", False),  # no although it holds 可以
    ("不行", False),
    ("还没到", False),
    ("no", False),
    ("不知道", None),
    ("记不清了", None),
    ("是不是要交社保", None),  # asking back
    ("随便", None),
    ("", None),
    ("對", True),  # traditional
]


@pytest.mark.parametrize("text, expected", YES_NO_ANSWERS)
def test_parse_yes_no(text, expected):
    assert parse_yes_no(text) is expected


def test_unsure():
    assert is_unsure("这个我不清楚") and not is_unsure("清楚")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("交了三年多", 3),
        ("一年半", 1.5),
        ("半年", 0.5),
        ("30万", 300000),
        ("１２年", 12),
        ("我一共交了十二年", 12),
        ("没有", 0),
        ("一分钱都没交", 0),  # "一分钱" is no quantity
        ("五六年", None),
        ("3到5年", None),
        ("三年还是四年", None),
        ("不记得", None),
    ],
)
def test_parse_number(text, expected):
    assert parse_number(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("五六年", (5, 6)),
        ("3到5年", (3, 5)),
        ("三至五年", (3, 5)),
        ("五六千", (5000, 6000)),
        ("一两万", (10000, 20000)),
        ("二十五六岁", (25, 26)),
        ("三千五六", (3500, 3600)),
        ("六五千", (5000, 6000)),
        ("三年", None),
        ("十五年", None),
    ],
)
def test_parse_range(text, expected):
    assert parse_range(text) == expected


def test_a_spoken_range_is_one_numeral_only():
    assert spoken_range("五六千") == (5000, 6000) and spoken_range("五千") is None and spoken_range("五十") is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("那公租房呢", True),
        ("有营业执照吗", True),
        ("要不要交钱", True),
        ("咋办", True),
        ("三个月", False),
        ("同意", False),
    ],
)
def test_asks_something(text, expected):
    assert asks_something(text) is expected


@pytest.mark.parametrize(
    "text, expected",
    [("一万二", 12000), ("俩", 2), ("仨", 3), ("1.2万", 12000), ("3千5", 3500), ("万", 10000), ("abc", None)],
)
def test_cn_number(text, expected):
    assert cn_number(text) == expected
