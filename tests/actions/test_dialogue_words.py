"""The words that make a follow-up ask for one facet of the last rule (actions/_dialogue.py)."""

from __future__ import annotations

import pytest

from actions._dialogue import asked_facet


@pytest.mark.parametrize(
    "text, facet",
    [
        ("在哪办", "where"),
        ("在那办", "where"),  # 那 typed for 哪
        ("去那领", "where"),
        ("上那儿申请", "where"),
        ("哪达能办", "where"),  # Ningxia's 哪达 (哪里)
        ("看病前得先找谁 社保局还是医院", "where"),
        ("要带啥", "bring"),
        ("啥时候截止", "deadline"),
        ("多久能下来", "how_long"),
        ("要钱不", "cost"),
        ("报名得拿些啥", "bring"),
        ("利息贵不 要俺出多少钱", "cost"),
    ],
)
def test_a_follow_up_names_its_facet(text, facet):
    assert asked_facet(text) == facet


@pytest.mark.parametrize("text", ["俺在那边打工三年了", "那咋整", "在那个厂子干活", "一个月能给多少钱"])
def test_there_is_no_where_question(text):
    assert asked_facet(text) is None
