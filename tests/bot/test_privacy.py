"""bot.privacy on real loggers and handlers: what reaches a log file or stream has no phone or ID number."""

from __future__ import annotations

import io
import logging

import pytest

from bot.privacy import PiiMaskingFilter, install, redact_incoming

PHONE, ID_NUMBER, CARD = "13812345678", "64010219900101123X", "6222021234567890123"


@pytest.fixture
def root_stream():
    """A real StreamHandler on the root logger (the root's handlers are restored afterwards)."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root.handlers = [handler]
    root.setLevel(logging.DEBUG)
    yield stream, handler
    root.handlers = saved_handlers
    root.setLevel(saved_level)


def test_install_masks_messages_args_and_child_loggers(root_stream):
    stream, handler = root_stream
    assert install() >= 1  # pytest's own capture handlers sit on the root logger too
    assert sum(isinstance(f, PiiMaskingFilter) for f in handler.filters) == 1
    logging.getLogger("actions.intake").info("worker phone %s id %s", PHONE, ID_NUMBER)
    logging.getLogger("rasa.core.processor").debug(f"Received user message '我电话{PHONE}，卡号{CARD}'")
    logging.getLogger("channels.sms").warning("from %d: %r", int(PHONE), {"text": "回拨 138 1234 5678"})
    logging.getLogger().error("%(who)s called", {"who": f"+86 {PHONE}"})
    output = stream.getvalue()
    for secret in (PHONE, ID_NUMBER, CARD, "1234 5678", "19900101"):
        assert secret not in output
    assert "worker phone 138****5678 id 640102********123X" in output
    assert "卡号6222***********0123" in output
    assert "from 138****5678: {'text': '回拨 138****5678'}" in output
    assert "138****5678 called" in output
    assert output.count("\n") == 4  # nothing dropped


def test_install_is_idempotent(root_stream):
    stream, handler = root_stream
    assert install() >= 1
    assert install() == 0
    assert sum(isinstance(f, PiiMaskingFilter) for f in handler.filters) == 1
    logging.getLogger("x").warning("call %s", PHONE)
    assert stream.getvalue().strip() == "x WARNING call 138****5678"


def test_handlers_added_later_are_covered_by_calling_install_again(root_stream, tmp_path):
    stream, _ = root_stream
    install()
    log_file = tmp_path / "bot.log"
    file_handler = logging.FileHandler(log_file, encoding="utf-8")
    logging.getLogger().addHandler(file_handler)
    try:
        assert install() == 1
        logging.getLogger("bot").info("case for %s", PHONE)
    finally:
        file_handler.close()
    assert log_file.read_text(encoding="utf-8").strip() == "case for 138****5678"
    assert "138****5678" in stream.getvalue()


def test_tracebacks_are_masked(root_stream):
    stream, _ = root_stream
    install()
    try:
        raise ValueError(f"bad phone {PHONE} for id {ID_NUMBER}")
    except ValueError:
        logging.getLogger("actions").exception("intake failed for %s", PHONE)
    output = stream.getvalue()
    assert PHONE not in output and ID_NUMBER not in output
    assert "ValueError: bad phone 138****5678 for id 640102********123X" in output
    assert "Traceback" in output


def test_without_the_filter_the_number_would_be_logged(root_stream):
    """The control: the handler alone writes the number, so the tests above do test the filter."""
    stream, _ = root_stream
    logging.getLogger("x").warning("call %s", PHONE)
    assert PHONE in stream.getvalue()


def test_install_on_a_named_logger(tmp_path):
    logger = logging.getLogger("nxa.test.privacy")
    logger.propagate = False
    stream = io.StringIO()
    logger.addHandler(logging.StreamHandler(stream))
    try:
        assert install(logger) == 1
        logger.warning("身份证%s", ID_NUMBER)
    finally:
        logger.handlers.clear()
    assert stream.getvalue().strip() == "身份证640102********123X"


def test_messages_without_pii_are_unchanged(root_stream):
    stream, _ = root_stream
    install()
    logging.getLogger("x").info("case %s moved to %s (%d%%)", "NX2611290007", "处理中", 50)
    assert stream.getvalue().strip() == "x INFO case NX2611290007 moved to 处理中 (50%)"


def test_a_broken_format_string_passes_through_for_logging_to_report():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "bad format %d", ("not a number",), None)
    assert PiiMaskingFilter().filter(record) is True
    assert (record.msg, record.args) == ("bad format %d", ("not a number",))


def test_incoming_text_loses_id_and_card_numbers_but_keeps_phone_numbers():
    text = "身份证64010219900101123X 卡号 6222 0212 3456 7890 电话138-1234-5678 欠了12000"
    assert redact_incoming(text) == "身份证640102********123X 卡号 6222********7890 电话138-1234-5678 欠了12000"
    assert redact_incoming("") == "" and redact_incoming("没有号码") == "没有号码"
