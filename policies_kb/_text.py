"""Text normalisation shared by search, fact parsing and the loader.

Workers type on phones: traditional characters (from Hong Kong/Taiwan keyboards or forwarded messages), full-width
digits and letters, Chinese and ASCII punctuation mixed. Everything the knowledge base compares goes through
:func:`normalize_for_search` first, on both sides (rule text and the worker's question), so that the two meet in one form.
"""

from __future__ import annotations

import functools
import re

from nlu.text import strip_punctuation, to_half_width, to_simplified  # one converter for the NLU and the knowledge base

__all__ = ["normalize_for_search", "strip_punctuation", "cjk_runs", "is_cjk"]

_SPACES = re.compile(r"\s+")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


@functools.lru_cache(maxsize=4096)
def normalize_for_search(text: str) -> str:
    """Return ``text`` in the one form the knowledge base compares.

    Traditional characters become simplified (OpenCC ``t2s``), full-width ASCII becomes half-width, Latin letters
    are lower-cased, runs of whitespace collapse to one space, and the ends are stripped. Punctuation is kept (see
    :func:`strip_punctuation`), so that numbers such as ``1.5`` survive for fact parsing.

    >>> normalize_for_search("　創業擔保貸款ＡＢＣ１２３ ")
    '创业担保贷款abc123'
    """
    if not text:
        return ""
    text = to_half_width(text)
    if not text.isascii():
        text = to_simplified(text)
    return _SPACES.sub(" ", text.lower()).strip()


def cjk_runs(text: str) -> list[str]:
    """The maximal runs of CJK ideographs in ``text``, in order (used for character bigrams)."""
    return _CJK_RUN.findall(text)


def is_cjk(char: str) -> bool:
    """True when ``char`` is a single CJK ideograph."""
    return bool(_CJK_RUN.fullmatch(char))
