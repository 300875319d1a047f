"""Keep workers' phone, ID and bank card numbers out of the logs, and ID and bank card numbers out of the store.

`install()` puts a `PiiMaskingFilter` on every handler of the root logger, so every record that reaches a log file
or the console, from this project, Rasa or any library, is masked with `nlu.extract.mask_pii` ("138****5678",
"640102********1234"). It is idempotent; call it again after logging is reconfigured (Rasa's `configure_logging`
replaces the root logger's handlers), e.g. at the import of the action package and of a custom channel module.

The filter also redacts secrets in logged URLs (`?token=...`, `access_token=...`, `signature=...` become `token=***`)
and escapes line breaks and other control characters in the message itself, so an id or a text that carries a
newline cannot forge a log line (tracebacks keep their lines). `install_sanic()` does the same for Sanic's loggers
(`sanic.root`, `sanic.error`, `sanic.access`), which Rasa and rasa-sdk configure with `propagate=False` and their own
handlers, so a root-level filter never sees them; `install_everywhere()` does both.

`redact_incoming()` is what every input channel applies to a worker's text before Rasa sees it: the assistant never
needs an ID-card or bank-card number (it tells whoever sends one so), so neither reaches the tracker store, the
console's transcripts or an operator's screen. Phone numbers stay: case intake and status look-ups need them.
"""

from __future__ import annotations

import logging
import re

from nlu.extract import mask_pii

__all__ = [
    "PiiMaskingFilter",
    "SANIC_LOGGERS",
    "escape_control",
    "install",
    "install_everywhere",
    "install_sanic",
    "mask_log_text",
    "redact_incoming",
    "redact_secrets",
]

_NEVER_KEPT = frozenset({"id", "card"})
SANIC_LOGGERS = ("sanic.root", "sanic.error", "sanic.access")

# `token=abc`, `access_token=abc`, `auth_token=abc`, `signature=abc`, `msg_signature=abc`, `secret=abc` in a URL or
# a form body, quoted or not; the value ends at &, whitespace, a quote or a bracket.
_SECRET_PARAMETER = re.compile(r"(?i)\b((?:\w*_)?(?:token|signature|secret|password))=([^&\s'\"<>()\[\]{},;]+)")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\u2028\u2029]")


def redact_secrets(text: str) -> str:
    """`text` with the value of every `token=`, `signature=`, `secret=`, `password=` parameter replaced by ***."""
    return _SECRET_PARAMETER.sub(r"\1=***", text)


def escape_control(text: str) -> str:
    """`text` with line breaks and other control characters (tab excepted) escaped: "a\nb" -> "a\\nb"."""
    return _CONTROL.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), text)


def mask_log_text(text: str) -> str:
    """What the filter does to a log message: PII masked, secrets redacted, control characters escaped."""
    return escape_control(redact_secrets(mask_pii(text)))


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
        masked = mask_log_text(message)
        if masked != message or record.args:
            record.msg = masked
            record.args = None
        if record.exc_info and not record.exc_text:
            # Formatters cache the formatted traceback in exc_text; fill it, masked, before they do.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_secrets(mask_pii(record.exc_text))
        if record.stack_info:
            record.stack_info = redact_secrets(mask_pii(record.stack_info))
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


def install_sanic() -> int:
    """`install` on Sanic's own loggers (they do not propagate to the root logger); how many handlers got a filter."""
    return sum(install(logging.getLogger(name)) for name in SANIC_LOGGERS)


def install_everywhere() -> int:
    """`install` on the root logger and on Sanic's loggers: what each process calls once its logging is set up."""
    return install() + install_sanic()


def redact_incoming(text: str) -> str:
    """A worker's message with ID-card and bank-card numbers masked ("640102********1234"); phone numbers kept."""
    return mask_pii(text, _NEVER_KEPT) if text else text
