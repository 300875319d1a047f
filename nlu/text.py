"""Normalisation of what workers type, before anything tries to understand it.

Workers' phones mix traditional and simplified characters, full-width digits and letters, and odd spacing.
`normalize_keep_offsets` folds all of that into simplified, half-width text **without changing the text's length**, so entity
offsets computed on the normalised text stay valid on the original.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from opencc import OpenCC

__all__ = ["normalize_keep_offsets", "strip_punctuation", "to_half_width", "to_simplified"]


# Any Unicode punctuation or symbol becomes a space; letters, digits and CJK characters are kept.
_PUNCT_CATEGORIES = ("P", "S")
_SPACES = re.compile(r"\s+")


@functools.lru_cache(maxsize=1)
def _converter() -> OpenCC:
    return OpenCC("t2s")


def to_half_width(text: str) -> str:
    """Map full-width ASCII variants (ＡＢＣ１２３，) and the ideographic space to their half-width forms."""
    out = []
    for char in text:
        code = ord(char)
        if code == 0x3000:
            out.append(" ")
        elif 0xFF01 <= code <= 0xFF5E:
            out.append(chr(code - 0xFEE0))
        else:
            out.append(char)
    return "".join(out)


def to_simplified(text: str) -> str:
    """Convert traditional Chinese to simplified with OpenCC's t2s tables, keeping the length unchanged.

    OpenCC converts phrase by phrase; in the rare case where a phrase mapping changes the length we fall back to
    character-by-character conversion so that offsets never shift.
    """
    converted = _converter().convert(text)
    if len(converted) == len(text):
        return converted
    convert_char = _converter().convert
    return "".join(c if len(s := convert_char(c)) != 1 else s for c in text)


def normalize_keep_offsets(text: str) -> str:
    """Simplified, half-width, lower-case text with control characters replaced by spaces (same length as input)."""
    text = to_simplified(to_half_width(text))
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf") else c for c in text)
    return text.lower()


def strip_punctuation(text: str) -> str:
    """Replace every punctuation mark or symbol (Chinese or ASCII) with a space and collapse the spaces."""
    cleaned = "".join(" " if unicodedata.category(c)[0] in _PUNCT_CATEGORIES else c for c in text)
    return _SPACES.sub(" ", cleaned).strip()
