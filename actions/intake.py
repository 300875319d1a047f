"""Case intake: a worker's unpaid wages (or another wrong) recorded as a case for the 人社 department.

After a wage-arrears report the worker gets their rights (actions/answer.py) and `action_offer_case_intake`. The
`case_intake_form` then asks: case type, name, mobile, county, employer, amount and period (wage cases only), a
short description and explicit consent; it shows everything back (phone masked) for confirmation, and
`action_submit_case` stores it with `CaseService.create_case`. The dedupe key is derived from the conversation and
the confirmed content, so the same confirmation delivered twice (a channel retry, a double tap) gives one case.
ID-card and bank-card numbers are never asked for and never stored: whoever sends one is told so and pointed to the
national wage-arrears platform for real-name reporting.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions import services
from actions._catalogue import CASE_RULES
from actions._dialogue import channel, entity, latest_intent, latest_text
from actions._messages import (
    HOTLINE,
    WAGE_PLATFORM,
    case_created_payload,
    handoff_payload,
    intent_button,
    text_button,
)
from actions.forms import FormValidator
from bot.cases import CASE_TYPE_LABELS, CaseStoreUnavailable, CaseSubmission
from nlu.answers import parse_yes_no
from nlu.extract import mask_phone, mask_pii, parse_amount_yuan, parse_period, parse_phone
from nlu.places import counties, find_county
from nlu.text import normalize_keep_offsets

log = logging.getLogger(__name__)

FORM = "case_intake_form"
SLOTS = (
    "case_type",
    "worker_name",
    "phone",
    "county",
    "employer",
    "amount_owed",
    "owed_period",
    "description",
    "consent",
    "case_confirmed",
)
WAGE_ONLY = ("amount_owed", "owed_period")

CASE_TYPE_WORDS: tuple[tuple[str, str], ...] = (
    ("工资", "wage_arrears"),
    ("工钱", "wage_arrears"),
    ("欠薪", "wage_arrears"),
    ("讨薪", "wage_arrears"),
    ("工姿", "wage_arrears"),
    ("欠钱", "wage_arrears"),
    ("欠我钱", "wage_arrears"),
    ("不给钱", "wage_arrears"),
    ("工伤", "work_injury"),
    ("受伤", "work_injury"),
    ("摔伤", "work_injury"),
    ("社保", "social_insurance"),
    ("社会保险", "social_insurance"),
    ("保险", "social_insurance"),
    ("合同", "labor_contract"),
    ("辞退", "labor_contract"),
    ("开除", "labor_contract"),
    ("离职证明", "labor_contract"),
    ("其他", "other"),
    ("其它", "other"),
    ("别的", "other"),
)
FIELD_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("worker_name", ("名字", "姓名", "名")),
    ("phone", ("电话", "手机", "号码")),
    ("county", ("地点", "地方", "县", "区")),
    ("employer", ("单位", "老板", "公司", "包工头")),
    ("amount_owed", ("金额", "钱", "欠款", "数")),
    ("owed_period", ("时间", "月份", "期间")),
    ("description", ("情况", "描述", "经过")),
    ("case_type", ("类型", "类别")),
)
FIELD_LABELS = {
    "worker_name": "姓名",
    "phone": "电话",
    "county": "地点",
    "employer": "单位",
    "amount_owed": "金额",
    "description": "情况",
}
PRIVACY_TEXT = (
    f"为了您的安全，身份证号、银行卡号不用发给我，我也不会记下来。需要实名反映欠薪的，可以用{WAGE_PLATFORM}。"
)
NAME_PREFIXES = ("我的名字叫", "我的名字是", "名字叫", "名字是", "我叫", "我是", "姓名", "名字", "叫")
EMPLOYER_PREFIXES = ("老板是", "老板叫", "公司叫", "公司是", "单位是", "单位叫")
NOT_A_NAME = ("电话", "手机", "号码", "确认", "取消", "同意", "不知道", "干啥", "什么")


def case_type_of(text: str) -> str | None:
    """The case type named in free text ("老板欠我工钱" → wage_arrears), by key, label or keyword."""
    text = normalize_keep_offsets(text or "").strip()
    if text in CASE_TYPE_LABELS:
        return text
    for key, label in CASE_TYPE_LABELS.items():
        if label in text:
            return key
    return next((key for word, key in CASE_TYPE_WORDS if word in text), None)


def has_id_or_card(text: str) -> bool:
    """True when the text holds an ID-card or bank-card number (they are masked with eight or more stars)."""
    return bool(re.search(r"\*{8,}", mask_pii(text or "")))


def yes_or_no(tracker: Tracker, text: str) -> bool | None:
    """The worker's yes or no: the NLU intent first, then the words themselves (nlu.answers); None when unclear."""
    intent, confidence = latest_intent(tracker)
    if confidence >= 0.5 and intent in ("affirm", "deny"):
        return intent == "affirm"
    return parse_yes_no(text)


def city_counties(text: str) -> list[str]:
    """The counties of the city named in the text ("在银川" → 兴庆区, 金凤区, …), or [] when no city is named."""
    text = normalize_keep_offsets(text or "")
    by_city: dict[str, list[str]] = {}
    for county in counties():
        by_city.setdefault(county.city, []).append(county.name)
    for city, names in by_city.items():
        if city in text or city.removesuffix("市") in text:
            return names
    return []


def reads_as(slot: str, text: str) -> bool:
    """Whether the text can be an answer for `slot` (free-text slots take anything)."""
    readers: dict[str, Callable[[str], Any]] = {
        "case_type": case_type_of,
        "phone": parse_phone,
        "county": lambda t: find_county(t) or city_counties(t),
        "amount_owed": parse_amount_yuan,
    }
    reader = readers.get(slot)
    return reader is None or bool(reader(text))


def wants_change(text: str) -> bool:
    return any(word in normalize_keep_offsets(text or "") for word in ("改", "不对", "错", "修改"))


def field_to_change(text: str) -> str | None:
    """The slot named in "电话不对" or "改地点", or None."""
    normalized = normalize_keep_offsets(text or "")
    return next((slot for slot, words in FIELD_WORDS if any(word in normalized for word in words)), None)


def case_slots(values: dict[str, Any]) -> list[str]:
    """The form's slots for this case: amount and period only for unpaid wages."""
    case_type = values.get("case_type")
    if case_type and case_type != "wage_arrears":
        return [slot for slot in SLOTS if slot not in WAGE_ONLY]
    return list(SLOTS)


def dedupe_key(sender_id: str, values: dict[str, Any]) -> str:
    """One key per conversation and confirmed content: the same submission delivered twice is one case."""
    content = [sender_id] + [values.get(slot) for slot in SLOTS if slot not in ("consent", "case_confirmed")]
    digest = hashlib.sha256(json.dumps(content, ensure_ascii=False, default=str).encode("utf-8")).hexdigest()
    return f"intake:{digest[:48]}"


def _clean(text: str, prefixes: tuple[str, ...] = ()) -> str:
    text = (text or "").strip()
    for prefix in prefixes:
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    return text.strip(" ，。,.!！?？:：\n")


def _is_name(name: str) -> bool:
    return bool(name) and not re.search(r"\d", name) and len(name) <= 12 and not any(w in name for w in NOT_A_NAME)


def _named(
    text: str, dispatcher: CollectingDispatcher, prefixes: tuple[str, ...], valid: Callable[[str], bool], hint: str
) -> str | None:
    """A name from free text ("我叫马小兵" → "马小兵"), or None after saying why (never an ID or card number)."""
    if has_id_or_card(text):
        dispatcher.utter_message(text=PRIVACY_TEXT)
        return None
    value = _clean(text, prefixes)
    if not valid(value):
        dispatcher.utter_message(text=hint)
        return None
    return value


class ValidateCaseIntakeForm(FormValidator):
    """Resets and pre-fills the form when it starts, then checks each answer (`validate_<slot>`: the value to store,
    None to ask again after saying why); amount and period are asked for unpaid wages only."""

    def name(self) -> str:
        return "validate_case_intake_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        if tracker.slots.get("consent") is False or tracker.slots.get("case_confirmed") is False:
            return []  # refused or withdrawn: the form ends, action_submit_case says nothing was stored
        return case_slots(tracker.slots)

    def reads_as(self, slot: str, text: str) -> bool:
        return bool(text) and reads_as(slot, text)

    def start(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        """Every slot empty, then what the worker already said: the case type, county, amount and period."""
        updates: dict[str, Any] = {slot: None for slot in SLOTS}
        said = [latest_text(tracker)]
        if tracker.get_slot("last_rule_id") in CASE_RULES:
            said.append(tracker.get_slot("last_question") or "")
        button_type = entity(tracker, "case_type")
        updates["case_type"] = (
            (button_type if button_type in CASE_TYPE_LABELS else None)
            or next((found for found in map(case_type_of, said) if found), None)
            or CASE_RULES.get(tracker.get_slot("last_rule_id") or "")
        )
        for text in said:
            county = find_county(text) if text else None
            if county and not updates["county"]:
                updates["county"] = county.name
            if updates["case_type"] == "wage_arrears" and text:
                updates["amount_owed"] = updates["amount_owed"] or parse_amount_yuan(text)
                updates["owed_period"] = updates["owed_period"] or parse_period(text)
        dispatcher.utter_message(
            text="好的，帮您登记，登记完给您一个案件号。一共几个问题，随时说“取消”就停下。身份证号、银行卡号都不用提供。"
        )
        return updates

    def validate_case_type(
        self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        case_type = case_type_of(text)
        if case_type is None:
            dispatcher.utter_message(text="没看明白是哪类事。")
        return {"case_type": case_type}

    def validate_worker_name(
        self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        name = _named(text, dispatcher, NAME_PREFIXES, _is_name, "写个名字就行，比如“马小兵”。")
        return {"worker_name": name}

    def validate_phone(
        self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        phone = parse_phone(text)
        if phone is None:
            if has_id_or_card(text):
                dispatcher.utter_message(text=PRIVACY_TEXT)
            dispatcher.utter_message(text="手机号是11位、1开头的，请再发一次。")
        return {"phone": phone}

    def validate_county(
        self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        county = find_county(text)
        if county is not None:
            return {"county": county.name}
        if not city_counties(text):  # a city alone gets its counties as buttons (action_ask_county)
            dispatcher.utter_message(text="没找到这个地方。")
        return {"county": None}

    def validate_employer(
        self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        employer = _named(
            text,
            dispatcher,
            EMPLOYER_PREFIXES,
            lambda value: len(value) >= 2,
            "说个名字就行：公司名、老板或者包工头叫啥。不知道全名，说个姓也行，比如“包工头姓马”。",
        )
        return {"employer": mask_pii(employer)[:100] if employer else None}

    def validate_amount_owed(
        self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        amount = parse_amount_yuan(text)
        updates: dict[str, Any] = {"amount_owed": amount}
        if amount is None:
            dispatcher.utter_message(text="没算出一共欠多少。请说个总数，比如“一共一万二”或者“12000元”。")
            return updates
        period = parse_period(text)
        if period and not tracker.get_slot("owed_period"):
            updates["owed_period"] = period
        return updates

    def validate_owed_period(
        self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        period = parse_period(text) or _clean(text)[:50]
        if len(period) < 2:
            dispatcher.utter_message(text="说个大概就行，比如“去年10月到12月”或者“3个月”。")
            return {"owed_period": None}
        return {"owed_period": period}

    def validate_description(
        self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if has_id_or_card(text):
            dispatcher.utter_message(text=PRIVACY_TEXT)
        description = _clean(mask_pii(text))[:500]
        if len(description) < 4:
            dispatcher.utter_message(text="多说几句吧，比如干的啥活、干了多久、老板咋说的。")
            return {"description": None}
        return {"description": description}

    def validate_consent(
        self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        answer = yes_or_no(tracker, text)
        if answer is None:
            dispatcher.utter_message(text="请回“同意”或者“不同意”。")
        return {"consent": answer}

    def validate_case_confirmed(
        self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if wants_change(text):
            field = field_to_change(text)
            if field is None:
                return {"case_confirmed": None}  # action_ask_case_confirmed asks which one
            updates = {"case_confirmed": None, field: None}
            if field == "amount_owed":
                updates["owed_period"] = None
            return updates
        answer = yes_or_no(tracker, text)
        if answer is None:
            dispatcher.utter_message(text="没问题就回“确认”；要改就说改哪项，比如“改电话”。")
        return {"case_confirmed": answer}


# ----------------------------------------------------------------------------------------------------------------
# Questions: the fixed ones are utter_ask_<slot> responses in domain/domain.yml; these two depend on the conversation.


class ActionAskCounty(Action):
    """Asks for the county; after a city alone ("在银川"), offers that city's counties as buttons."""

    def name(self) -> str:
        return "action_ask_county"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        options = city_counties(latest_text(tracker)) if tracker.get_slot(REQUESTED_SLOT) == "county" else []
        if options:
            dispatcher.utter_message(
                text="是哪个县（区）？点一下或者直接说：", buttons=[text_button(name) for name in options]
            )
        else:
            dispatcher.utter_message(text="活是在哪个县（区）干的？比如“金凤区”“同心县”，在镇上的说镇名也行。")
        return []


def summary_text(values: dict[str, Any]) -> str:
    """The details as the worker confirms them; the phone is masked."""
    lines = [
        f"类型：{CASE_TYPE_LABELS.get(values.get('case_type') or '', values.get('case_type'))}",
        f"姓名：{values.get('worker_name')}",
        f"电话：{mask_phone(values.get('phone') or '')}",
        f"地点：{values.get('county')}",
        f"对方：{values.get('employer')}",
    ]
    if values.get("amount_owed") is not None:
        period = f"（{values['owed_period']}）" if values.get("owed_period") else ""
        lines.append(f"欠款：{values['amount_owed']}元{period}")
    lines.append(f"情况：{values.get('description')}")
    return "\n".join(lines)


class ActionAskCaseConfirmed(Action):
    def name(self) -> str:
        return "action_ask_case_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        values = {slot: tracker.get_slot(slot) for slot in SLOTS}
        text = latest_text(tracker)
        if tracker.get_slot(REQUESTED_SLOT) == "case_confirmed" and wants_change(text) and not field_to_change(text):
            fields = [slot for slot in FIELD_LABELS if slot in case_slots(values)]
            dispatcher.utter_message(
                text="哪一项要改？", buttons=[text_button(f"改{FIELD_LABELS[slot]}") for slot in fields]
            )
            return []
        dispatcher.utter_message(
            text="请核对一下：\n"
            + summary_text(values)
            + "\n没问题就回“确认”；要改哪项就说“改电话”这样；不登记了说“取消”。",
            buttons=[text_button("确认提交", "确认"), text_button("有错要改"), text_button("取消")],
        )
        return []


# ----------------------------------------------------------------------------------------------------------------
# Offer and submission


class ActionOfferCaseIntake(Action):
    """After the worker's rights: offer to record the case (handoff payload, target case_intake)."""

    def name(self) -> str:
        return "action_offer_case_intake"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(
            text="要不要我帮您把这件事登记下来，转给人社部门处理？登记后给您一个案件号，可以随时查进度。",
            buttons=[
                intent_button("要，帮我登记", "start_case", case_type="wage_arrears"),
                intent_button("先不用", "deny"),
            ],
        )
        dispatcher.utter_message(json_message=handoff_payload("case_intake"))
        return []


class ActionSubmitCase(Action):
    """Store the confirmed case (idempotent) and give the case number; explain when nothing is stored.

    Once the case is stored the intake slots are reset (name, phone, employer, amount, description… live on in the
    case store only, not in the conversation's tracker); `case_id` stays, so a confirmation delivered again is told
    the number instead of starting over."""

    def name(self) -> str:
        return "action_submit_case"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        values = {slot: tracker.get_slot(slot) for slot in SLOTS}
        recorded = tracker.get_slot("case_id")
        if recorded and all(value is None for value in values.values()):
            # The slots were reset when this case was stored: the same confirmation, delivered again.
            dispatcher.utter_message(text=f"这件事已经登记过了，案件号是 {recorded}，不用再登记。")
            dispatcher.utter_message(json_message=case_created_payload(recorded))  # the same case, as the first time
            return []
        if values.get("consent") is False:
            dispatcher.utter_message(
                text=f"没有您的同意，就不能转给人社部门，这次先不登记。您也可以自己打 {HOTLINE}，或者到干活所在地的县（区）人社局投诉。"
            )
            return []
        if values.get("case_confirmed") is not True:
            dispatcher.utter_message(text="这次没有登记。想登记时说“登记欠薪”就行。")
            return []
        submission = CaseSubmission(
            case_type=values["case_type"],
            worker_name=values["worker_name"],
            phone=values["phone"],
            county=values["county"],
            employer=values["employer"],
            amount_owed=int(values["amount_owed"]) if values.get("amount_owed") is not None else None,
            owed_period=values.get("owed_period"),
            description=values.get("description") or "",
            consent=True,
            sender_id=tracker.sender_id,
            channel=channel(tracker),
            dedupe_key=dedupe_key(tracker.sender_id, values),
        )
        try:
            record = services.cases().create_case(submission)
        except CaseStoreUnavailable as error:
            log.error("case for conversation %s not stored: %s", mask_pii(tracker.sender_id), error)
            dispatcher.utter_message(
                text=f"对不起，登记系统现在出了点问题，这次还没存上。您确认过的内容我都记着：过一会儿回“确认”我再提交一次；"
                f"着急的话请直接打 {HOTLINE}。"
            )
            dispatcher.utter_message(json_message=handoff_payload("12333"))
            return []
        except ValueError as error:
            log.error("case for conversation %s refused: %s", mask_pii(tracker.sender_id), error)
            dispatcher.utter_message(text=f"对不起，这次没登记上。请打 {HOTLINE}，工作人员帮您登记。")
            dispatcher.utter_message(json_message=handoff_payload("12333"))
            return []
        if tracker.get_slot("case_id") == record.case_id:
            dispatcher.utter_message(text=f"这件事已经登记过了，案件号是 {record.case_id}，不用再登记。")
        else:
            dispatcher.utter_message(
                text=f"登记好了！您的案件号是 {record.case_id}，请记下来。人社部门会尽快处理，可能会打您留的电话"
                f" {record.phone_masked} 联系您。查进度就说“查案件”。"
            )
        dispatcher.utter_message(json_message=case_created_payload(record.case_id))
        return [SlotSet("case_id", record.case_id), *cleared_intake_slots()]


def cleared_intake_slots() -> list[EventType]:
    """Reset every intake slot: the worker's details stay in the case store, not in the tracker."""
    return [SlotSet(slot, None) for slot in SLOTS]
