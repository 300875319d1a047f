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

Rasa 3.6 logs most of a turn through structlog (rendered into the same stdlib loggers), with the worker's text, the
bot's replies, the slot values and the events as fields (`text`, `slot_values`, `rasa_events`, ...: the keys Rasa's
own `_anonymizer` lists). `install_rasa_anonymizer()` replaces that processor before Rasa configures structlog: those
fields are logged as their size only ("<12 chars>"), and `slot_values` keeps every slot's name and only the values
of slots that cannot identify a worker (PERSONAL_SLOTS are "***"). At DEBUG a turn is still traceable (intents,
actions, policies, confidences), never a name or a number.

`redact_incoming()` is what every input channel applies to a worker's text before Rasa sees it: the assistant never
needs an ID-card or bank-card number (it tells whoever sends one so), so neither reaches the tracker store, the
console's transcripts or an operator's screen. Phone numbers stay: case intake and status look-ups need them.
"""

from __future__ import annotations

import logging
import re

from nlu.extract import mask_pii

__all__ = [
    "PERSONAL_SLOTS",
    "PiiMaskingFilter",
    "SANIC_LOGGERS",
    "anonymize_rasa_event",
    "install_rasa_anonymizer",
    "escape_control",
    "install",
    "install_everywhere",
    "install_sanic",
    "mask_log_text",
    "redact_incoming",
    "redact_personal_slots",
    "redact_secrets",
]

_NEVER_KEPT = frozenset({"id", "card"})
SANIC_LOGGERS = ("sanic.root", "sanic.error", "sanic.access")

# `token=abc`, `access_token=abc`, `auth_token=abc`, `signature=abc`, `msg_signature=abc`, `secret=abc` in a URL or
# a form body, quoted or not; the value ends at &, whitespace, a quote or a bracket.
_SECRET_PARAMETER = re.compile(r"(?i)\b((?:\w*_)?(?:token|signature|secret|password))=([^&\s'\"<>()\[\]{},;]+)")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\u2028\u2029]")


# Slots whose value identifies a worker or tells their story: never logged, even masked.
PERSONAL_SLOTS = frozenset(
    {"worker_name", "phone", "employer", "description", "last_question", "pending_question", "facts", "lookup_phone"}
)
_PERSONAL_SLOT_VALUE = re.compile(
    r"(?P<key>\b(?:" + "|".join(sorted(PERSONAL_SLOTS)) + r")\b['\"]?\s*(?:, value:|:|=)\s*)"
    r"(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^,)}\]\n]*)"
)


# The intake's confirmation summary as the bot sends it ("姓名：马小明\n对方：…\n情况：…", actions/intake.py
# summary_text), which a channel may log at DEBUG as the reply it sends.
_LABELLED_PERSONAL = re.compile(r"((?:姓名|名字|对方|单位|情况)[：:])([^\n\\'\"，；]+)")


def _hide_slot_value(found: re.Match) -> str:
    value = found.group("value")
    return found.group() if value.strip() in ("", "None", "null", "''", '""') else f"{found.group('key')}***"


def redact_personal_slots(text: str) -> str:
    """`text` with the value of every personal slot (PERSONAL_SLOTS) written as `name: value`, `'name': 'value'`,
    `name=value` or `SlotSet(key: name, value: value)` replaced by ***, and so the values of the intake summary's
    personal lines ("姓名：***")."""
    return _LABELLED_PERSONAL.sub(r"\1***", _PERSONAL_SLOT_VALUE.sub(_hide_slot_value, text))


def redact_secrets(text: str) -> str:
    """`text` with the value of every `token=`, `signature=`, `secret=`, `password=` parameter replaced by ***."""
    return _SECRET_PARAMETER.sub(r"\1=***", text)


def escape_control(text: str) -> str:
    """`text` with line breaks and other control characters (tab excepted) escaped: "a\nb" -> "a\\nb"."""
    return _CONTROL.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), text)


def mask_log_text(text: str) -> str:
    """What the filter does to a log message: PII masked, secrets redacted, control characters escaped."""
    return escape_control(redact_secrets(mask_pii(redact_personal_slots(text))))


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


# The fields of Rasa's structlog events that carry conversation content (rasa/utils/log_utils.py `_anonymizer`).
RASA_CONTENT_FIELDS = frozenset(
    {
        "text",
        "response_text",
        "user_text",
        "slot_values",
        "parse_data_text",
        "parse_data_entities",
        "prediction_events",
        "tracker_latest_message",
        "prefilled_slots",
        "message",
        "response",
        "slot_candidates",
        "rasa_event",
        "rasa_events",
        "tracker_states",
        "current_states",
        "old_states",
        "successes",
        "current_entity",
        "next_entity",
        "states",
        "entity",
        "token_text",
        "user_message",
        "json_message",
    }
)
_SLOT_LINE = re.compile(r"^(\s*)([\w.-]+): (.*)$")


def _size_only(value: object) -> str:
    if value is None:
        return "None"
    if isinstance(value, str):
        return f"<{len(value)} chars>"
    if isinstance(value, list | tuple | dict | set):
        return f"<{type(value).__name__} of {len(value)}>"
    return f"<{type(value).__name__}>"


def _slot_values(text: str) -> str:
    lines = []
    for line in str(text).splitlines():
        found = _SLOT_LINE.match(line)
        if found and found.group(2) in PERSONAL_SLOTS and found.group(3) != "None":
            line = f"{found.group(1)}{found.group(2)}: ***"
        lines.append(line)
    return "\n".join(lines)


def anonymize_rasa_event(_logger: object, _method: str, event_dict: dict) -> dict:
    """A structlog processor: Rasa's content fields logged as their size, slot values without personal ones."""
    for key in RASA_CONTENT_FIELDS & event_dict.keys():
        value = event_dict[key]
        event_dict[key] = _slot_values(value) if key == "slot_values" and isinstance(value, str) else _size_only(value)
    return event_dict


def install_rasa_anonymizer() -> None:
    """Make Rasa's structlog configuration (done later by `rasa.__main__`) use `anonymize_rasa_event` in place of
    its own `_anonymizer`, which only runs a Rasa Pro pipeline."""
    import rasa.utils.log_utils

    rasa.utils.log_utils._anonymizer = anonymize_rasa_event


def redact_incoming(text: str) -> str:
    """A worker's message with ID-card and bank-card numbers masked ("640102********1234"); phone numbers kept."""
    return mask_pii(text, _NEVER_KEPT) if text else text
