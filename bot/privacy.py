"""Keep workers' phone, ID and bank card numbers out of the logs, and ID and bank card numbers out of the store.

`install()` puts a `PiiMaskingFilter` on every handler of the root logger, so every record that reaches a log file
or the console, from this project, Rasa or any library, is masked with `nlu.extract.mask_pii` ("138****5678",
"640102********1234"). It is idempotent; call it again after logging is reconfigured (Rasa's `configure_logging`
replaces the root logger's handlers), e.g. at the import of the action package and of a custom channel module.

`redact_incoming()` is what every input channel applies to a worker's text before Rasa sees it: the assistant never
needs an ID-card or bank-card number (it tells whoever sends one so), so neither reaches the tracker store, the
console's transcripts or an operator's screen. Phone numbers stay: case intake and status look-ups need them.
"""

from __future__ import annotations

import logging

from nlu.extract import mask_pii

__all__ = ["PiiMaskingFilter", "install", "redact_incoming"]

_NEVER_KEPT = frozenset({"id", "card"})


class PiiMaskingFilter(logging.Filter):
    """Rewrites a record's message (msg with its args merged), exception text and stack text with PII masked.

    The message is formatted once here (`record.getMessage()`), masked, and stored back as `record.msg` with no
    `args`, so handlers and formatters downstream see only the masked text. Records are never dropped.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to logging's own error handling
            return True
        masked = mask_pii(message)
        if masked != message or record.args:
            record.msg = masked
            record.args = None
        if record.exc_info and not record.exc_text:
            # Formatters cache the formatted traceback in exc_text; fill it, masked, before they do.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_pii(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_pii(record.stack_info)
        return True


def install(logger: logging.Logger | None = None) -> int:
    """Add a PiiMaskingFilter to each handler of `logger` (default: the root logger) that lacks one.

    Returns how many handlers got a filter now (0 when all had one already).
    """
    target = logger if logger is not None else logging.getLogger()
    added = 0
    for handler in target.handlers:
        if not any(isinstance(existing, PiiMaskingFilter) for existing in handler.filters):
            handler.addFilter(PiiMaskingFilter())
            added += 1
    return added


def redact_incoming(text: str) -> str:
    """A worker's message with ID-card and bank-card numbers masked ("640102********1234"); phone numbers kept."""
    return mask_pii(text, _NEVER_KEPT) if text else text
