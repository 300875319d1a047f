"""channels/sms/templates.py: replies and case updates as the approved templates carry them, within the account
type's limits, numbers and phone numbers kept whole (Hypothesis)."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from channels.sms.templates import (
    CASE_UPDATE_TEMPLATE,
    MAX_MESSAGE_CHARS,
    REPLY_PREFIX,
    RepliesNotSupported,
    SmsMessage,
    TemplateLimits,
    case_update_message,
    fill,
    reply_messages,
    without_links,
)

SIGNED = TemplateLimits(signature="宁夏人社")  # 【宁夏人社】: 6 characters on every message
PERSONAL = TemplateLimits("personal", "宁夏人社")
CASE_ID = "NX2612020007KQFX"

# What must never be cut: phone numbers, case numbers, amounts, dates, decimals.
TOKENS = ["0951-12333", "12333", "13812345678", CASE_ID, "3000元", "2023-05-01", "1.5倍", "12,000元", "第724号"]
WORDS = ["欠薪", "工资", "仲裁", "劳动监察", "请拨打", "可以", "申请", "法律援助", "社保", "单位", "老板", "咋办"]
PUNCTUATION = ["，", "。", "、", "：", "；", "！", "？", "\n", " ", "（", "）"]
NUMBER_RUN = re.compile(r"\d(?:[\d\-.:/]|,(?=\d{3}(?!\d)))*\d|[A-Za-z0-9_]+(?:[-.][A-Za-z0-9_]+)*")

reply_texts = st.lists(
    st.one_of(st.sampled_from(TOKENS), st.sampled_from(WORDS), st.sampled_from(PUNCTUATION), st.text(max_size=3)),
    max_size=120,
).map("".join)
limits = st.builds(
    TemplateLimits,
    account_type=st.just("enterprise"),
    signature=st.sampled_from(["", "宁夏人社", "宁夏回族自治区人力资源和社会保障厅"]),
    reply_chars=st.integers(min_value=40, max_value=600),
    message_chars=st.integers(min_value=70, max_value=MAX_MESSAGE_CHARS),
)


def runs(text: str) -> set[str]:
    return set(NUMBER_RUN.findall(text))


def test_a_short_reply_is_one_message_of_the_reply_template():
    [message] = reply_messages("欠薪可以打0951-12333", SIGNED)
    assert message == SmsMessage(
        "reply", ("欠薪可以打0951-12333",), "宁夏农民工政策助手答复您的咨询：欠薪可以打0951-12333"
    )
    assert reply_messages("  ", SIGNED) == [] and reply_messages([], SIGNED) == []
    assert reply_messages(["第一段", "回复1 落户"], SIGNED)[0].params == ("第一段\n回复1 落户",)


def test_a_long_reply_is_one_long_sms_not_several_each_with_the_signature():
    text = "被拖欠工资可以先找用人单位协商，协商不成可以投诉。" * 6  # 150 characters
    [message] = reply_messages(text, SIGNED)
    assert message.params == (text,) and 6 + len(message.text) <= 201


def test_a_reply_over_the_cap_is_cut_cleanly_and_marked():
    text = "拖欠金额在5000元以上的可以申请法律援助，电话0951-12333。" * 10
    [message] = reply_messages(text, SIGNED)
    assert 6 + len(message.text) <= 201 and message.params[0].endswith("…")
    assert runs(message.text) <= runs(text)


def test_a_small_message_limit_splits_into_as_few_messages_as_needed():
    limits = TemplateLimits(signature="宁夏人社", reply_chars=400, message_chars=100)
    text = "仲裁时效为1年，从知道权利被侵害之日起算。" * 12  # 252 characters
    messages = reply_messages(text, limits)
    assert len(messages) == 4 and all(6 + len(m.text) <= 100 for m in messages)  # 78 answer characters each
    assert "".join(m.params[0] for m in messages) == text
    assert sum(6 + len(m.text) for m in messages) <= 400


def test_links_never_go_into_a_variable():
    [message] = reply_messages("线索平台 https://hrss.nx.gov.cn/a?b=1 或 www.12333.gov.cn 都可以，电话12333", SIGNED)
    assert "http" not in message.text and "www" not in message.text and message.params[0].endswith("电话12333")
    update = case_update_message(CASE_ID, "请看 http://x.example/y 的通知", SIGNED)
    assert update.params[1] == "请看 的通知"


def test_a_personal_account_cannot_carry_replies():
    with pytest.raises(RepliesNotSupported, match="enterprise"):
        reply_messages("你好", PERSONAL)
    assert not PERSONAL.carries_replies and PERSONAL.variable_chars == 6


def test_case_update_carries_the_case_number_and_the_progress():
    message = case_update_message(CASE_ID, "处理中", SIGNED)
    assert message == SmsMessage(
        "case_update", (CASE_ID, "处理中"), f"您的欠薪登记{CASE_ID}有新进展：处理中。详询0951-12333"
    )
    assert message.text == fill(CASE_UPDATE_TEMPLATE, message.params)
    long = case_update_message(CASE_ID, "工作人员留言：请带上合同和工资条，" * 40, SIGNED)
    assert 6 + len(long.text) <= MAX_MESSAGE_CHARS and long.params[1].endswith("…")
    for case_id, progress in (("", "处理中"), (CASE_ID, " 。")):
        with pytest.raises(ValueError, match="needs the case number and the progress"):
            case_update_message(case_id, progress, SIGNED)


def test_case_update_on_a_personal_account_is_the_fixed_notification():
    assert case_update_message(CASE_ID, "已办结", PERSONAL).params == ("已办结",)
    message = case_update_message(CASE_ID, "请带上合同到劳动监察大队", PERSONAL)
    assert message.params == ("有新留言",) and message.text == "您登记的欠薪案件有新进展：有新留言。详询0951-12333"
    assert all(len(param) <= 6 for param in message.params)


def test_limits_from_the_environment_and_their_errors():
    assert TemplateLimits.from_values({}) == TemplateLimits()
    values = {"SMS_TENCENT_ACCOUNT_TYPE": " Personal ", "SMS_REPLY_MAX_CHARS": "134"}
    assert TemplateLimits.from_values(values, signature="宁夏人社") == TemplateLimits("personal", "宁夏人社", 134)
    with pytest.raises(ValueError, match="SMS_TENCENT_ACCOUNT_TYPE"):
        TemplateLimits.from_values({"SMS_TENCENT_ACCOUNT_TYPE": "company"})
    for bad in ("abc", "5", "-1", "99999"):
        with pytest.raises(ValueError, match="SMS_REPLY_MAX_CHARS"):
            TemplateLimits.from_values({"SMS_REPLY_MAX_CHARS": bad})


@settings(max_examples=300, deadline=None)
@given(text=reply_texts, limits=limits)
@example(text="NX2612020007KQFXNX2612020007KQFX欠薪", limits=TemplateLimits("enterprise", "", 48, 70))
def test_any_reply_fits_the_limits_and_keeps_every_number_whole(text, limits):
    messages = reply_messages(text, limits)
    text = without_links(text)
    if not text.strip():
        assert messages == []
        return
    assert messages, "a reply with text is never dropped"
    phone = [limits.signature_chars + len(message.text) for message in messages]
    assert all(length <= limits.message_chars for length in phone)  # each send within the provider's limit
    assert sum(phone) <= max(limits.reply_chars, phone[0])  # within the per-reply cap
    whole = runs(text)
    # as long as a message's room or longer: such a run may be cut, since a cut reply's "…" takes a character
    # ("NX…KQFXNX…KQFX欠薪" with 32 characters of room and a cap of one message); every other run stays whole
    too_long = [run for run in whole if len(run) >= limits.reply_part_chars]
    for message in messages:
        assert message.template == "reply" and message.text == REPLY_PREFIX + message.params[0]
        for run in runs(message.params[0]):
            assert run in whole or any(run in long for long in too_long), (run, message.params[0])
    if len(messages) > 1 or not messages[0].params[0].endswith("…"):
        joined = "".join(m.params[0] for m in messages)
        assert re.sub(r"\s", "", joined) == re.sub(r"\s", "", text)[: len(re.sub(r"\s", "", joined))]


@settings(max_examples=200, deadline=None)
@given(text=reply_texts)
def test_any_reply_with_the_default_limits_is_one_sms_of_at_most_three_segments(text):
    messages = reply_messages(text, SIGNED)
    text = without_links(text)
    assert len(messages) <= 1
    assert all(6 + len(message.text) <= 201 for message in messages)
    for message in messages:
        assert runs(message.params[0]) <= runs(text)


@settings(max_examples=200, deadline=None)
@given(progress=reply_texts.filter(lambda text: " ".join(text.split()).rstrip("。")), limits=limits)
def test_any_case_update_fits_one_send_and_keeps_the_case_number(progress, limits):
    message = case_update_message(CASE_ID, progress, limits)
    assert message.params[0] == CASE_ID and CASE_ID in message.text
    assert limits.signature_chars + len(message.text) <= limits.message_chars
    whole = runs(" ".join(without_links(progress).split()))
    room = limits.message_chars - limits.signature_chars - len(message.text) + len(message.params[1])
    too_long = [run for run in whole if len(run) >= room]  # longer than the message's room: must be cut
    for run in runs(message.params[1]):
        assert run in whole or any(run in long for long in too_long), (run, message.params[1])
    personal = case_update_message(CASE_ID, progress, TemplateLimits("personal", limits.signature))
    assert all(len(param) <= 6 for param in personal.params)
