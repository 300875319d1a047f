"""Masking phone numbers for logs (138****1234).

The project's masking lives in `nlu.extract.mask_phone` (cases engineer); until that module exists this falls back to
the same rule, so channel logs never carry a full number either way.
"""
from __future__ import annotations

import re

__all__ = ["mask_phone"]

try:  # pragma: no cover - which branch runs depends on the checkout
    from nlu.extract import mask_phone as _project_mask_phone
except ModuleNotFoundError as error:
    if error.name not in ("nlu.extract",):
        raise
    _project_mask_phone = None


def _fallback_mask(phone: str) -> str:
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) >= 7:
        return f"{digits[:3]}****{digits[-4:]}"
    return "****"


def mask_phone(phone: str) -> str:
    """The number with its middle digits hidden: 13812341234 → 138****1234 (short or odd input → ****)."""
    if _project_mask_phone is not None:
        masked = _project_mask_phone(phone)
        if masked and masked != phone:
            return masked
    return _fallback_mask(phone)
