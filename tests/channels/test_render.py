"""channels/_render.py: clean splits, never inside a number."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from channels._render import split_clean


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet="农民工工资落户社保，。！？ \n", min_size=1, max_size=30),
            st.from_regex(r"\A(0951-12333|1[3-9]\d{9}|\d{1,6}(\.\d{1,2})?|20\d\d-\d\d-\d\d)?\Z"),
        ),
        min_size=1,
        max_size=30,
    ),
    st.integers(min_value=20, max_value=80),
)
def test_split_clean_never_cuts_a_number_and_respects_the_limit(parts, limit):
    # Words between the numbers, as in real replies (a run of digits longer than a segment would have to be cut).
    text = "".join(words + number for words, number in parts)
    pieces = split_clean(text, limit)
    assert all(len(piece) <= limit for piece in pieces)
    assert re.sub(r"\s", "", "".join(pieces)) == re.sub(r"\s", "", text)  # nothing lost but whitespace at cuts
    numbers = re.compile(r"\d[\d.\-]*\d|\d")
    assert [n for piece in pieces for n in numbers.findall(piece)] == numbers.findall(text)  # each number whole
