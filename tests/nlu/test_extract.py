"""nlu.extract on what workers really type: phone numbers, amounts owed, periods, and PII masking."""

from __future__ import annotations

import pytest

from nlu.extract import mask_phone, mask_pii, parse_amount_yuan, parse_period, parse_phone

# ------------------------------------------------------------------------------------------------ phone


@pytest.mark.parametrize(
    "text, expected",
    [
        ("13812345678", "13812345678"),
        ("我的电话13812345678", "13812345678"),
        ("电话是138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("138.1234.5678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),
        ("手机：１３８－１２３４－５６７８", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("+8613812345678", "13812345678"),
        ("008613812345678", "13812345678"),
        ("86-13812345678", "13812345678"),
        ("一三八一二三四五六七八", "13812345678"),
        ("幺三八幺二三四五六七八", "13812345678"),
        ("我手机号是一八九 五一一二 三三四四", "18951123344"),
        ("电话:199 9511 0000 打这个", "19995110000"),
        ("工资4000 电话15209512345", "15209512345"),
        ("打我电话13995112233，或者我老婆的18709510000", "13995112233"),
        ("手机号码13812345678。", "13812345678"),
    ],
)
def test_parse_phone_accepts(text, expected):
    assert parse_phone(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "1381234567",  # 10 digits
        "138123456789",  # 12 digits
        "138 1234 56789",
        "23812345678",  # does not start with 1
        "12012345678",  # no mobile network starts 12
        "0951-5012345",  # a landline
        "0951-12333",
        "640102199001011234",  # an ID number contains 11 digits starting with 1… but is not a phone
        "6222021234567890123",  # a bank card
        "三个月工资一万二",
        "一二三",
        "",
        "我没有手机",
        "1381234567８9",
    ],
)
def test_parse_phone_rejects(text):
    assert parse_phone(text) is None


def test_parse_phone_handles_none():
    assert parse_phone(None) is None  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ amounts


@pytest.mark.parametrize(
    "text, expected",
    [
        # the contract's examples
        ("三个月工资一万二", 12000),
        ("1.2万", 12000),
        ("12000块", 12000),
        ("八千五", 8500),
        ("欠我两万多", 20000),
        ("一共3500元", 3500),
        # colloquial amounts
        ("两千五", 2500),
        ("一万二", 12000),
        ("一万二千", 12000),
        ("欠了一万二千五百块钱", 12500),
        ("五千块钱", 5000),
        ("八百块", 800),
        ("三千", 3000),
        ("3千5", 3500),
        ("3k", 3000),
        ("1.5w", 15000),
        ("12,000元", 12000),
        ("¥8000", 8000),
        ("12000", 12000),
        ("欠我12000", 12000),
        ("工钱还差六千没给", 6000),
        ("两万左右", 20000),
        ("一万来块", 10000),
        ("五百来块钱", 500),
        ("万把块钱", 10000),
        ("大概三万多块", 30000),
        ("俩万", 20000),
        ("欠我仨千", 3000),
        ("老板欠我工钱一万五千元", 15000),
        ("欠了4万", 40000),
        ("0.8万", 8000),
        ("两千五百元", 2500),
        ("一千零五十块", 1050),
        ("八千五百块", 8500),
        ("三万五", 35000),
        # durations and dates are not money
        ("干了3个月 欠我9000", 9000),
        ("俩月工钱八千", 8000),
        ("仨月的工钱一共一万五", 15000),
        ("2025年10月到12月的工资 一共两万四", 24000),
        ("去年干了8个月，还欠我一万六", 16000),
        ("45天的工钱，4500块", 4500),
        ("15号说发，到现在没发，欠两千", 2000),
        ("电话13812345678 欠了五千", 5000),
        # an explicit total wins over a rate
        ("3个月 每月4000 一共12000", 12000),
        ("一个月四千，一共欠了三个月，总共一万二", 12000),
        # approximate amounts are read as their floor (never overstating the debt)
        ("欠了十几万", 100000),
        ("十多万", 100000),
        ("五六千", 5000),
        ("三四千块", 3000),
        ("一两万", 10000),
        ("六七百块钱", 600),
        ("欠我4千多块", 4000),
        # one unit's pay is the total when no longer duration is named
        ("欠了一个月的工资3000", 3000),
        ("欠了一年的工资3万6", 36000),
        ("十二个人干了两个月，一共欠了二十四万", 240000),
        ("人民币壹万贰仟元", 12000),
        ("两百块", 200),
        ("欠五百", 500),
        # paid amounts are skipped when another amount remains
        ("给了两千，还欠一万", 10000),
        ("工资一万二，先给了两千", 12000),
        ("老板只给了三千块", 3000),
    ],
)
def test_parse_amount_yuan(text, expected):
    assert parse_amount_yuan(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "不知道",
        "记不清了",
        "三个月没发工资了",
        "欠了俩月",
        "2025年10月",
        "12号",
        "干了半年",
        "一直没给",
        "一共干了三个月",
        # a rate alone is not the amount owed: the form asks for the total
        "3个月 每月4000",
        "俩月工钱，一个月四千",
        "一天两百",
        "月工资4500",
        "每个月三千五",
        "一个月的工资四千，干了三个月",
        "一天干活两百五 干了四十天",
        "才给了一半",
        "欠我3",
        "13812345678",
        "身份证640102199001011234",
    ],
)
def test_parse_amount_yuan_returns_none_when_no_total_is_given(text):
    assert parse_amount_yuan(text) is None


# ------------------------------------------------------------------------------------------------ periods


@pytest.mark.parametrize(
    "text, expected",
    [
        ("3个月", "3个月"),
        ("三个月工资一万二", "3个月"),
        ("俩月工钱", "2个月"),
        ("仨月", "3个月"),
        ("两个月", "2个月"),
        ("三个多月", "3个多月"),
        ("欠了5个月的工资", "5个月"),
        ("半年", "6个月"),
        ("一年", "1年"),
        ("一年多", "1年多"),
        ("两年", "2年"),
        ("一年半", "1年半"),
        ("45天", "45天"),
        ("半个月", "半个月"),
        ("两个星期", "2周"),
        ("2025年10月到12月", "2025年10月至12月"),
        ("2025年10月至2026年1月", "2025年10月至2026年1月"),
        ("10月到12月", "10月至12月"),
        ("十月份到十二月份", "10月至12月"),
        ("从去年十月到今年一月", "去年10月至今年1月"),
        ("去年10月到现在", "去年10月至今"),
        ("从8月开始到现在都没给", "8月至今"),
        ("8月份起至今", "8月至今"),
        ("2025.10-2025.12", "2025年10月至12月"),
        ("2025.11-2026.2", "2025年11月至2026年2月"),
        ("三个月，从10月到12月", "10月至12月"),
        ("10月份的工资", "10月"),
        ("2025年10月的工资没发", "2025年10月"),
        ("二〇二五年十月", "2025年10月"),
        ("从去年腊月到现在", "去年腊月至今"),
        ("正月到三月", "正月至3月"),
        ("3月份开始到现在", "3月至今"),
        ("十来天", "10多天"),
        ("二十多天", "20多天"),
        ("一个半月", "1个半月"),
        ("俩礼拜", "2周"),
        ("两个多星期", "2周多"),
        ("十三个月", "13个月"),
        ("干了一个月", "1个月"),
        ("一天干活两百五 干了四十天", "40天"),
        ("一个月四千，干了仨月", "3个月"),
    ],
)
def test_parse_period(text, expected):
    assert parse_period(text) == expected


@pytest.mark.parametrize(
    "text", ["", "不知道", "欠我一万二", "好久了", "13812345678", "一直没给", "每个月三千", "2025年", "上个月"]
)
def test_parse_period_none(text):
    assert parse_period(text) is None


# ------------------------------------------------------------------------------------------------ masking


@pytest.mark.parametrize(
    "phone, masked",
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("+86 138-1234-5678", "138****5678"),
        ("12345", "*****"),
        ("", ""),
        ("0951-5012345", "095*****2345"),
    ],
)
def test_mask_phone(phone, masked):
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    "text, masked",
    [
        ("我电话13812345678", "我电话138****5678"),
        ("电话138 1234 5678，谢谢", "电话138****5678，谢谢"),
        ("+86 138-1234-5678", "138****5678"),
        ("１３８１２３４５６７８", "138****5678"),
        ("一三八一二三四五六七八", "138****5678"),
        ("身份证640102199001011234", "身份证640102********1234"),
        ("身份证号64010219900101123X呢", "身份证号640102********123X呢"),
        ("身份证号64010219900101123x", "身份证号640102********123X"),
        ("卡号6222021234567890123", "卡号6222***********0123"),
        ("卡号 6222 0212 3456 7890", "卡号 6222********7890"),
        ("两个号13812345678和15209512345", "两个号138****5678和152****2345"),
        ("工资4000 电话15209512345", "工资4000 电话152****2345"),
        ("欠我12000元，3个月", "欠我12000元，3个月"),
        ("0951-12333", "0951-12333"),
        ("案件号NX2611290007", "案件号NX2611290007"),
        ("sender=worker-1 text=你好", "sender=worker-1 text=你好"),
        ("", ""),
    ],
)
def test_mask_pii(text, masked):
    assert mask_pii(text) == masked


def test_mask_pii_is_idempotent_and_leaves_no_digits_of_the_secret():
    text = "马师傅 13812345678 身份证640102199001011234 卡6222021234567890123"
    once = mask_pii(text)
    assert mask_pii(once) == once
    for secret in ("13812345678", "640102199001011234", "6222021234567890123", "12345678", "19900101"):
        assert secret not in once
    assert parse_phone(once) is None


# ------------------------------------------------------------------------------------------------ properties

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_CHATTY = st.text(
    alphabet=st.sampled_from(list("我欠工钱块元万千月天一二三四五六七八九十两俩仨，。 -+0123456789xX")), max_size=80
)
_DIGITS_AND_SEPARATORS = st.text(alphabet=st.sampled_from(list("0123456789 -.+一三八幺xX")), max_size=60)
_NO_DIGITS = st.text(
    alphabet=st.characters(
        blacklist_categories=("Nd", "No", "Nl", "Cs"), blacklist_characters="零〇一二两三四五六七八九幺洞"
    ),
    max_size=30,
)
_MOBILE = st.from_regex(r"\A1[3-9][0-9]{9}\Z")


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=200), _CHATTY, _DIGITS_AND_SEPARATORS))
def test_parsers_never_crash_and_return_their_types(text):
    phone = parse_phone(text)
    assert phone is None or (len(phone) == 11 and phone.isdigit())
    amount = parse_amount_yuan(text)
    assert amount is None or (isinstance(amount, int) and amount > 0)
    period = parse_period(text)
    assert period is None or (isinstance(period, str) and period)
    masked = mask_pii(text)
    assert mask_pii(masked) == masked
    assert parse_phone(masked) is None  # nothing that reads as a phone number survives masking


@settings(max_examples=200, deadline=None)
@given(_NO_DIGITS, _MOBILE, _NO_DIGITS)
def test_a_mobile_number_in_any_text_is_found_and_masked(before, phone, after):
    text = f"{before}{phone}{after}"
    assert parse_phone(text) == phone
    masked = mask_pii(text)
    assert masked == f"{before}{phone[:3]}****{phone[-4:]}{after}"


@settings(max_examples=200, deadline=None)
@given(_NO_DIGITS)
def test_mask_pii_leaves_text_without_digits_alone(text):
    assert mask_pii(text) == text
