"""Eligibility checks as one generic form whose questions come from the knowledge base.

`eligibility_form` has two slots: `eligibility_rule`, the check, chosen when the form starts, and `fact_answer`,
asked again for every fact the chosen rule still needs: `kb.evaluate()` names the missing facts,
`action_ask_fact_answer` asks the first one with the fact's own question, and `validate_eligibility_form` (rasa-sdk's
required_slots / extract_<slot> / validate_<slot> hooks) reads the worker's free text with `kb.parse_fact()` and
the everyday words of FACT_CUES ("交了三年多" → 3, "是我自己不干了" → False). Facts are
kept in the `facts` slot for the whole conversation, so a second check asks only what is still unknown. The check
to run comes from a button ("帮我看看"), the worker's words ("帮我看看我能不能领失业金"), or the rule just
answered; failing all three, `action_eligibility_result` shows the menu of checks.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT

from actions import services
from actions._catalogue import CHECK_KEYWORDS, ELIGIBILITY_CHECKS, FACT_ANCHORS, FACT_CUES
from actions._dialogue import entities, entity, latest_intent, latest_text
from actions._messages import (
    HOTLINE,
    check_question_payload,
    eligibility_payload,
    fallback_payload,
    handoff_payload,
    intent_button,
    short_title,
    source_line,
    text_button,
    yuan_text,
)
from actions.forms import is_interruption
from actions.handoff import REPEATED_MISS_TEXT, hand_off
from actions.services import MIN_CONFIDENT_SCORE, PolicyService
from nlu.answers import parse_range
from nlu.text import normalize_keep_offsets
from policies_kb._derived import DERIVED_FACTS

FORM = "eligibility_form"
MAX_RETRIES = 2  # unreadable answers to one question before the check stops and offers 12333

OUTCOME_TEXT = {
    "eligible": "符合条件",
    "not_eligible": "暂时不符合",
    "partly_eligible": "基本符合，还要看当地的具体标准",
    "refer": "要由当地具体认定",
}
_REQUEST_WORDS = re.compile(
    r"帮我|帮俺|给我|给俺|看看|算算|测测|测一测|查查|测一下|查一下|看一下|算一下|判断|评估|一下|对照|符不符合|符合|"
    r"条件|够不够|够格|资格|能不能|可不可以|能否|能|可以|申请|享受|政策|我们|我|俺|吗|呢|么|嘛|不|这|那|情况|样|的|了|"
    r"[\s,，。.!！?？]"
)
UNIT_WORDS = (("个月", "个月"), ("月", "个月"), ("周岁", "岁"), ("岁", "岁"), ("年", "年"))


def choose_check(service: PolicyService, tracker: Tracker, on: datetime.date) -> str | None:
    """The rule to check: a button's, the one the worker names, or the one just answered; None when unclear."""
    chosen = entity(tracker, "eligibility_rule")
    if chosen:
        rule = service.rule(str(chosen), on=on)
        return rule.id if rule is not None and service.checkable(rule) else None
    text = normalize_keep_offsets(latest_text(tracker))
    if text:
        for word, rule_id in CHECK_KEYWORDS:
            if word in text and service.rule(rule_id, on=on) is not None:
                return rule_id
        # Without the words every request has ("帮我看看我符不符合条件"), what is left names the check, if anything.
        named = _REQUEST_WORDS.sub("", text)
        if len(named) >= 2:
            for hit in service.search(named, on=on, limit=10):
                if hit.score >= MIN_CONFIDENT_SCORE and service.checkable(hit.rule):
                    return hit.rule.id
    for slot in ("offered_check", "last_rule_id"):
        last = tracker.get_slot(slot)
        rule = service.rule(last, on=on) if last else None
        if rule is not None and service.checkable(rule):
            return rule.id
    return None


def prefill(service: PolicyService, rule_id: str, tracker: Tracker, facts: dict[str, Any]) -> dict[str, Any]:
    """Facts stated in the request itself ("我交了15年养老保险 能领不"): a duration entity whose unit matches exactly
    one numeric fact of the rule."""
    rule = service.get(rule_id)
    found: dict[str, Any] = {}
    if rule is None:
        return found
    for value in entities(tracker, "duration"):
        unit = next((canonical for word, canonical in UNIT_WORDS if word in str(value)), None)
        names = [
            name
            for name in service.facts_of(rule)
            if service.fact(name).type in ("number", "integer") and service.fact(name).unit == unit
        ]
        if len(names) == 1 and names[0] not in facts and names[0] not in found:
            parsed = service.parse_fact(names[0], str(value))
            if parsed is not None:
                found[names[0]] = parsed
    return found


# Dialect words for the worker himself ("俺", "俺们", "咱"): the cues of FACT_CUES are written with 我.
_SELF_WORDS = (("俺们", "我们"), ("咱们", "我们"), ("俺", "我"), ("咱", "我"))
# A year and month ("1963年5月", "七五年三月"): a birth month, never a duration in years.
_YEAR_MONTH_SPAN = re.compile(
    r"(\d{2,4}|[零〇一二三四五六七八九]{2,4})\s*年\s*(\d{1,2}|[一二三四五六七八九十]{1,3})\s*月"
)
_NUMERAL = r"(?:\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百]+)"
_CALENDAR_YEAR = re.compile(r"(19|20)\d{2}\s*年")  # "2019年开始交的": a year of the calendar, not years paid
_BELOW = r"不到|不够|不满|没到|没够|没满|还差"  # "不到一年": less than that, not that
_UNIT_SPELLINGS = {"次": "(?:次|回|趟)"}  # "领过三回了": times, as workers count them
_CLAUSE = re.compile(r"[\s,，。;；、!！?？]+")


def cue_text(text: str) -> str:
    """The text as FACT_CUES read it: normalised, the dialect 俺/咱 written 我."""
    text = normalize_keep_offsets(text or "")
    for word, plain in _SELF_WORDS:
        text = text.replace(word, plain)
    return text


def _quantity(text: str, unit: str, *, done: bool = False) -> str | None:
    """The piece of the text that gives a quantity in `unit` ("十来年", "七八年", "两年多", "六岁半"), or None.
    A year-and-month is not a number of years. With `done`, only a quantity said as done ("交了十来年", "七岁了"),
    not one a question names as a bar ("要交够15年才能领吗")."""
    view = _CALENDAR_YEAR.sub(" ", _YEAR_MONTH_SPAN.sub(" ", text))
    core = _UNIT_SPELLINGS.get(unit, re.escape(unit.removeprefix("个")))
    pattern = (
        rf"(?:{_BELOW})?\s*(?:{_NUMERAL}\s*(?:来|多)?\s*(?:个|周)?\s*多?\s*{core}(?:半|多)?|半\s*(?:个)?\s*{core})"
    )
    for match in re.finditer(pattern, view):
        if not done or "了" in view[max(0, match.start() - 2) : match.start()] or view[match.end() :].startswith("了"):
            return match.group(0)
    return None


def read_quantity(
    service: PolicyService,
    rule_id: str,
    name: str,
    text: str,
    known: dict[str, Any],
    on: datetime.date,
    *,
    whole: bool = False,
    done: bool = False,
) -> Any:
    """Numeric fact `name` read from the text: the one quantity in its unit ("交了十来年" → 10, "三岁多" → 3), or,
    for a range ("七八年"), its lower end when the check decides the same way for either end (a range across the
    check's threshold stays unread: the question is asked), and for "不到一年" nothing, when anything below one year
    decides the same. A calendar year ("2019年开始交的") is no number of years. None when the text gives no such quantity; with `whole`
    (the text answers this fact's own question: "七八"), the whole text when no piece names the unit."""
    unit = service.fact(name).unit
    piece = _quantity(text, unit, done=done) if unit else None
    piece = piece or (text if whole or not unit else None)
    if piece is None:
        return None
    below = re.match(rf"\s*({_BELOW})", piece)
    value = service.parse_fact(name, piece[below.end() :] if below else piece)
    if below:
        # "不到一年": anything from nothing up to just below it, read as nothing when that decides the same
        if value is None or not value:
            return None
        just_below = value - 1 if service.fact(name).type == "integer" else value - 0.01
        zero = service.parse_fact(name, "0")
        return zero if _same_decision(service, rule_id, name, zero, just_below, known, on) else None
    if value is not None:
        return value
    span = parse_range(piece)
    if span is None:
        return None
    low, high = (service.parse_fact(name, f"{end:g}") for end in span)
    if low is None or high is None:
        return None
    return low if _same_decision(service, rule_id, name, low, high, known, on) else None


def _same_decision(
    service: PolicyService, rule_id: str, name: str, low: Any, high: Any, known: dict[str, Any], on: datetime.date
) -> bool:
    """True when check `rule_id` comes out the same with `name` = low and = high, whatever the yes/no facts still
    unknown turn out to be (all yes, all no), and at least one of those ways decides it."""
    facts = {key: value for key, value in known.items() if value is not None}
    missing = service.evaluate(rule_id, {**facts, name: low}, on=on).missing_facts
    booleans = [fact for fact in missing if service.fact(fact).type == "boolean"]
    decided = False
    for probe in ({}, dict.fromkeys(booleans, True), dict.fromkeys(booleans, False)):
        results = [service.evaluate(rule_id, {**facts, **probe, name: end}, on=on) for end in (low, high)]
        if (results[0].outcome, results[0].missing_facts) != (results[1].outcome, results[1].missing_facts):
            return False
        decided = decided or results[0].outcome is not None
    return decided


def check_inputs(service: PolicyService, rule_id: str) -> list[str]:
    """The facts a worker can state for check `rule_id`: its facts, and the facts its computed facts are computed
    from (the pension check's birth month, sex and job). A computed fact stays when the worker may say it outright
    ("已经退休了": FACT_CUES)."""
    rule = service.get(rule_id)
    if rule is None:
        return []
    names: list[str] = []
    for name in service.facts_of(rule):
        if not service.fact(name).derived or name in FACT_CUES:
            names.append(name)
        names += DERIVED_FACTS.get(name, ())
    return list(dict.fromkeys(names))


def volunteered_facts(
    service: PolicyService,
    rule_id: str,
    text: str,
    known: dict[str, Any],
    on: datetime.date | None = None,
    *,
    in_question: bool = False,
) -> dict[str, Any]:
    """Facts of check `rule_id`, still unknown, that the worker states unasked, several in one message: a number whose
    unit names exactly one of the check's numeric facts ("交了十来年" → unemployment_insurance_years 10, "娃六岁半" →
    child_age 6.5, "七八年" when either end decides the same), a year and month ("1963年5月生的"), a choice's own
    words ("男的"), and the everyday words of FACT_CUES for its yes/no and choice facts ("有房子，自己买的",
    "是我自己不干了", "俺两口子都在这边打工"). `in_question`: the text asks something, and only a quantity said as
    done counts ("俺交了十来年 能领不", not "要交够15年才能领吗")."""
    on = on or datetime.date.today()
    text = cue_text(text)
    if service.get(rule_id) is None or not text:
        return {}
    found: dict[str, Any] = {}
    inputs = check_inputs(service, rule_id)
    names = [name for name in inputs if name not in known]
    numeric = [name for name in inputs if service.fact(name).type in ("number", "integer") and service.fact(name).unit]
    for unit in {service.fact(name).unit or "" for name in numeric}:
        same_unit = [name for name in numeric if service.fact(name).unit == unit]  # known ones too
        unknown = [name for name in same_unit if name not in known]
        if not unknown:
            continue
        if len(same_unit) == 1:
            value = read_quantity(service, rule_id, same_unit[0], text, {**known, **found}, on, done=in_question)
            if value is not None:
                found[same_unit[0]] = value
        else:
            # several numbers of one unit: only a clause that names its fact is read ("社保交了五年")
            anchored = anchored_quantities(service, rule_id, same_unit, text, {**known, **found}, on, in_question)
            found.update({name: value for name, value in anchored.items() if name in unknown})
    for name in names:
        if name in found:
            continue
        cued = next((value for pattern, value in FACT_CUES.get(name, ()) if re.search(pattern, text)), None)
        spec = service.fact(name)
        if cued is None and spec.type == "year_month":
            span = _YEAR_MONTH_SPAN.search(text)
            cued = service.parse_fact(name, span.group(0)) if span else None
        if cued is None and spec.type == "choice" and spec.choice_words and name not in FACT_CUES:
            cued = service.parse_fact(name, text)
        if cued is not None:
            found[name] = cued
    return found


def anchored_quantities(
    service: PolicyService,
    rule_id: str,
    names: list[str],
    text: str,
    known: dict[str, Any],
    on: datetime.date,
    done: bool = False,
) -> dict[str, Any]:
    """Numbers for several facts of one unit, each read from a clause whose words (FACT_ANCHORS) name exactly one
    of them ("干了八年了 房子也租了八年 社保交了五年" → 8 years of work and home, 5 of social insurance); a clause
    that names none or several of them is left unread."""
    found: dict[str, Any] = {}
    for clause in _CLAUSE.split(text):
        named = [name for name in names if name not in found and re.search(FACT_ANCHORS.get(name, "(?!)"), clause)]
        if len(named) == 1:
            value = read_quantity(service, rule_id, named[0], clause, {**known, **found}, on, done=done)
            if value is not None:
                found[named[0]] = value
    return found


def _anchored_siblings(
    service: PolicyService, rule_id: str, text: str, known: dict[str, Any], on: datetime.date
) -> dict[str, Any]:
    """anchored_quantities over check `rule_id`'s facts that FACT_ANCHORS tells apart (known or not)."""
    names = [name for name in check_inputs(service, rule_id) if name in FACT_ANCHORS]
    return anchored_quantities(service, rule_id, names, text, known, on) if len(names) > 1 else {}


def next_fact(service: PolicyService, tracker: Tracker, on: datetime.date) -> str | None:
    rule_id = tracker.get_slot("eligibility_rule")
    if not rule_id:
        return None
    result = service.evaluate(rule_id, tracker.get_slot("facts") or {}, on=on)
    return result.missing_facts[0] if result.missing_facts else None


def read_answer(
    service: PolicyService,
    tracker: Tracker,
    name: str,
    text: str,
    rule_id: str | None = None,
    facts: dict[str, Any] | None = None,
    on: datetime.date | None = None,
) -> Any:
    """The answer to fact `name`: the everyday words of FACT_CUES, the knowledge base's reading of the text, for a
    number asked in check `rule_id` a range that decides the check either way ("七八年"); for a yes/no question, a
    clear "对/到了" or "没有" recognised by NLU (affirm/deny) when the words alone say nothing."""
    value = read_cue(name, text)
    numeric = service.fact(name).type in ("number", "integer")
    if value is None and text and rule_id and numeric and name in FACT_ANCHORS:
        # "娃在这念了六年 俺社保交了五年" asked the child's school years: the clause that speaks of them; a message
        # whose clauses speak only of the check's other numbers ("社保交了五年") does not answer this question
        anchored = _anchored_siblings(service, rule_id, cue_text(text), facts or {}, on or datetime.date.today())
        if anchored and name not in anchored:
            return None
        value = anchored.get(name)
    if value is None and text and rule_id and numeric:
        value = read_quantity(
            service, rule_id, name, cue_text(text), facts or {}, on or datetime.date.today(), whole=True
        )
    if value is None and text and not (numeric and re.search(_BELOW, text)):
        value = service.parse_fact(name, text)
    if value is None and service.fact(name).type == "boolean":
        intent, confidence = latest_intent(tracker)
        if intent in ("affirm", "deny") and confidence >= 0.8:
            value = intent == "affirm"
    return value


def answer_to_other_question(
    service: PolicyService,
    rule_id: str,
    facts: dict[str, Any],
    name: str,
    text: str,
    on: datetime.date | None = None,
) -> tuple[str, Any] | None:
    """(fact, value) when the answer to question `name` is really the answer to another, still unknown question of
    the same check: a number whose unit names another numeric fact ("交了三年多" for "到法定退休年龄了吗?"), or the
    everyday words of another fact ("是我自己不干了" while asked the years paid)."""
    if not text:
        return None
    rule = service.get(rule_id)
    if rule is None:
        return None
    on = on or datetime.date.today()
    asked = service.fact(name)
    if name in FACT_ANCHORS:
        anchored = _anchored_siblings(service, rule_id, cue_text(text), facts, on)
        others = [(fact, value) for fact, value in anchored.items() if fact != name and facts.get(fact) is None]
        if name not in anchored and others:
            return others[0]
    if asked.type in ("number", "integer") and asked.unit:
        if read_quantity(service, rule_id, name, cue_text(text), facts, on) is not None:
            return None  # "娃八岁了 …": a quantity in the asked fact's unit answers the question asked
    if asked.type not in ("number", "integer"):
        for other in service.facts_of(rule):
            spec = service.fact(other)
            if other == name or other in facts or spec.type not in ("number", "integer") or not spec.unit:
                continue
            value = read_quantity(service, rule_id, other, cue_text(text), facts, on)
            if value is not None:
                return other, value
    if read_cue(name, text) is not None or service.parse_fact(name, text) is not None:
        return None
    cued = volunteered_facts(service, rule_id, text, {**facts, name: None}, on)
    return next(iter(cued.items()), None)


def read_cue(name: str, text: str) -> Any:
    """The value FACT_CUES reads for fact `name` in the text (俺/咱 read as 我), or None."""
    text = cue_text(text)
    return next((value for pattern, value in FACT_CUES.get(name, ()) if re.search(pattern, text)), None)


def _hint(service: PolicyService, name: str) -> str:
    spec = service.fact(name)
    if spec.type == "boolean":
        return "请回答“是”或者“不是”。"
    if spec.type == "choice":
        return "请选一个：" + "、".join((spec.choices or {}).values()) + "。"
    if spec.type == "year_month":
        return "请说年份和月份，比如“1975年3月”。"
    example = f"3{spec.unit}" if spec.unit else "3"
    return f"请说个数，比如“{example}”。"


def _buttons(service: PolicyService, name: str) -> list[dict[str, str]]:
    spec = service.fact(name)
    if spec.type == "boolean":
        return [text_button("是"), text_button("不是")]
    if spec.type == "choice":
        return [text_button(label) for label in (spec.choices or {}).values()]
    return []


class ValidateEligibilityForm(FormValidationAction):
    """The form's slots through rasa-sdk's own hooks: `required_slots` says what the check still needs,
    `extract_eligibility_rule` chooses the check when the form starts, `extract_fact_answer` takes the worker's
    message unless it leaves the form, `validate_fact_answer` reads it into the `facts` slot."""

    today = staticmethod(datetime.date.today)

    def name(self) -> str:
        return "validate_eligibility_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[str]:
        """Both slots while the check runs (the form asks `fact_answer` again for each missing fact); none once it is
        decided, when it stops after MAX_RETRIES unreadable answers, or when no check was found ("": the menu)."""
        rule_id = tracker.get_slot("eligibility_rule")
        if rule_id is None:
            return list(domain_slots)  # not chosen yet: extract_eligibility_rule chooses it
        if not rule_id or int(tracker.get_slot("fact_retries") or 0) > MAX_RETRIES:
            return []
        facts = tracker.get_slot("facts") or {}
        return list(domain_slots) if services.policies().evaluate(rule_id, facts, on=self.today()).missing_facts else []

    async def extract_eligibility_rule(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        """When the form starts (nothing asked yet): the check set beforehand by action_answer_policy, or the one the
        button, the words or the last answer name ("" when none: the result shows the menu)."""
        if tracker.get_slot(REQUESTED_SLOT) is not None:
            return {}
        on = self.today()
        service = services.policies()
        preset = tracker.get_slot("eligibility_rule")
        if preset and service.rule(preset, on=on) is not None:
            return {"eligibility_rule": preset}
        return {"eligibility_rule": choose_check(service, tracker, on) or ""}

    async def validate_eligibility_rule(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        """The check chosen: the facts the request itself states are kept, and the worker told what comes."""
        rule_id = str(value or "")
        started = {"eligibility_rule": rule_id, "fact_answer": None, "fact_retries": 0}
        if not rule_id:
            return started
        on = self.today()
        service = services.policies()
        facts = dict(tracker.get_slot("facts") or {})
        facts.update(prefill(service, rule_id, tracker, facts))
        facts.update(volunteered_facts(service, rule_id, latest_text(tracker), facts, on))
        if service.evaluate(rule_id, facts, on=on).missing_facts:
            rule = service.get(rule_id)
            label = ELIGIBILITY_CHECKS.get(rule_id) or (short_title(rule) if rule else rule_id)
            dispatcher.utter_message(text=f"好的，帮您看看“{label}”。我问您几个简单问题，随时说“算了”就停下。")
        return {**started, "facts": facts, "offered_check": rule_id}

    async def extract_fact_answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        """The worker's message as the answer to the question asked; nothing when the form was not asking, or when
        the message leaves it (a new question, "算了", a person): the form then rejects and data/rules_forms.yml
        handles the message."""
        if tracker.get_slot(REQUESTED_SLOT) != "fact_answer" or not tracker.get_slot("eligibility_rule"):
            return {}
        on = self.today()
        service = services.policies()
        name = next_fact(service, tracker, on)
        answer = latest_text(tracker)
        if name is None:
            return {}
        rule_id = tracker.get_slot("eligibility_rule")
        facts = dict(tracker.get_slot("facts") or {})
        reads = (
            answer_to_other_question(service, rule_id, facts, name, answer, on) is not None
            or read_answer(service, tracker, name, answer, rule_id, facts, on) is not None
        )
        if is_interruption(tracker, FORM, answers=reads):
            return {}
        return {"fact_answer": answer}

    async def validate_fact_answer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        """Read the answer into `facts` (or the answer to another question of the check: kept, and the question asked
        again); an unreadable answer gets a short hint, and counts towards MAX_RETRIES. `fact_answer` is emptied
        every time, so the form asks it again for the next fact."""
        on = self.today()
        service = services.policies()
        name = next_fact(service, tracker, on)
        rule_id = tracker.get_slot("eligibility_rule")
        if value is None or name is None or not rule_id:
            return {"fact_answer": None}  # the form is starting (nothing was asked), or nothing is left to ask
        answer = str(value)
        facts = dict(tracker.get_slot("facts") or {})
        other = answer_to_other_question(service, rule_id, facts, name, answer, on)
        if other is not None:
            # "交了三年多" while asked about the retirement age: keep it (and whatever else the message states), then
            # ask the question again.
            facts[other[0]] = other[1]
            facts.update(volunteered_facts(service, rule_id, answer, {**facts, name: None}, on))
            return {"facts": facts, "fact_answer": None}
        reading = read_answer(service, tracker, name, answer, rule_id, facts, on)
        if reading is None:
            retries = int(tracker.get_slot("fact_retries") or 0) + 1
            if retries <= MAX_RETRIES:
                dispatcher.utter_message(text="没太听明白。" + _hint(service, name))
            # beyond MAX_RETRIES required_slots ends the form; action_eligibility_result explains and offers 12333
            return {"fact_answer": None, "fact_retries": retries}
        facts[name] = reading
        # "没有自己的房 租着住 … 活很稳定": the answer, and the other facts of the check the same message states
        facts.update(volunteered_facts(service, rule_id, answer, facts, on))
        return {"facts": facts, "fact_answer": None, "fact_retries": 0}


class ActionAskFactAnswer(Action):
    """Asks the next fact the rule needs, with the fact's own question (and 是/不是 or choice buttons)."""

    today = staticmethod(datetime.date.today)

    def name(self) -> str:
        return "action_ask_fact_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        service = services.policies()
        name = next_fact(service, tracker, self.today())
        if name is not None:
            dispatcher.utter_message(text=service.fact(name).question, buttons=_buttons(service, name))
            dispatcher.utter_message(json_message=check_question_payload(tracker.get_slot("eligibility_rule"), name))
        return []


def check_facts(service: PolicyService, rule_id: str, facts: dict[str, Any]) -> dict[str, Any]:
    """The facts of the conversation that check `rule_id` consults, with those its computed facts are computed from
    (the eligibility payload's `facts`: "男的, 1963年5月" as the worker said them)."""
    return {name: facts[name] for name in check_inputs(service, rule_id) if facts.get(name) is not None}


def send_result(
    dispatcher: CollectingDispatcher, service: PolicyService, rule_id: str, facts: dict[str, Any], on: datetime.date
) -> list[EventType]:
    """The outcome of check `rule_id` for `facts` (reason, amount, citations, the eligibility payload), or, when
    facts are still missing, that it stops here and 12333 can help; returns the context events."""
    rule = service.rule(rule_id, on=on)
    if rule is None:  # no longer in force: nothing to decide on
        dispatcher.utter_message(text=f"这一项现在查不了。您可以打 {HOTLINE}，工作人员帮您具体看。")
        dispatcher.utter_message(json_message=handoff_payload("12333"))
        return []
    result = service.evaluate(rule_id, facts, on=on)
    context = [
        SlotSet("topic", rule.topic),
        SlotSet("last_rule_id", rule.id),
        SlotSet("last_facet", "eligibility"),
        SlotSet("offered_check", rule.id),
        SlotSet("miss_count", 0),
    ]
    if result.missing_facts:
        dispatcher.utter_message(
            text=f"这一项没问清楚，就先查到这儿。您可以打 {HOTLINE}，工作人员帮您具体看。",
            buttons=[intent_button("转人工", "request_human")],
        )
        dispatcher.utter_message(json_message=handoff_payload("12333"))
        return context
    outcome = result.outcome or "refer"
    lines = [f"结果：{OUTCOME_TEXT.get(outcome, outcome)}。", result.reason or ""]
    if result.amount:
        amount = result.amount
        lines.append(f"{amount.get('label') or '金额'}：{yuan_text(amount['value'], amount.get('unit'))}")
    dispatcher.utter_message(text="\n".join(lines))
    cited = [service.get(cited_id) for cited_id in result.rule_ids or [rule.id]]
    for cited_rule in dict.fromkeys(r for r in cited if r is not None):
        dispatcher.utter_message(text=source_line(cited_rule, on))
    local = rule.decided_locally or result.outcome == "refer"
    if local:
        dispatcher.utter_message(
            text=f"具体以当地为准，想问清楚可以打 {HOTLINE}。", buttons=[intent_button("转人工", "request_human")]
        )
    day = getattr(result, "on", None) or on
    dispatcher.utter_message(
        json_message=eligibility_payload(
            rule.topic, result.outcome, result.rule_ids, check_facts(service, rule_id, facts), day
        )
    )
    if local:
        dispatcher.utter_message(json_message=handoff_payload("12333"))
    return context


class ActionEligibilityResult(Action):
    """The check's outcome, reason, amount and citation with the eligibility payload; or the menu of checks (a
    non-answer: a second one in a row, or after a clarifying question, hands over to 12333)."""

    today = staticmethod(datetime.date.today)

    def name(self) -> str:
        return "action_eligibility_result"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        on = self.today()
        service = services.policies()
        rule_id = tracker.get_slot("eligibility_rule")
        done: list[EventType] = [
            SlotSet("eligibility_rule", None),
            SlotSet("fact_answer", None),
            SlotSet("fact_retries", 0),
        ]
        if not rule_id:
            misses = int(tracker.get_slot("miss_count") or 0)
            if misses >= 1:
                return done + hand_off(dispatcher, tracker, reason="repeated_fallback", text=REPEATED_MISS_TEXT)
            buttons = [
                intent_button(label, "check_eligibility", eligibility_rule=check)
                for check, label in ELIGIBILITY_CHECKS.items()
                if service.rule(check, on=on) is not None
            ]
            buttons.append(intent_button("都不是，找人工", "request_human"))
            dispatcher.utter_message(text="您想看看自己能不能办哪一项？点一下：", buttons=buttons)
            dispatcher.utter_message(json_message=fallback_payload(reason="check_menu"))
            return done + [SlotSet("miss_count", misses + 1)]
        return done + send_result(dispatcher, service, rule_id, dict(tracker.get_slot("facts") or {}), on)
