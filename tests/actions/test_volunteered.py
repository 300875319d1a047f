"""Facts the worker states unasked (issue 12 §2): several in one message, numbers in words, ranges, dialect; kept
from a question, read beside the answer to another question, and matched to a check related to the last answer.
Also the check requests in more wordings and the yes/no that answers nothing (issue 12 §4)."""

from __future__ import annotations

import pytest
from rasa_sdk.events import FollowupAction, SlotSet

from actions import services
from actions._dialogue import asks_for_check
from actions.answer import ActionAnswerPolicy
from actions.eligibility import ValidateEligibilityForm, read_answer, volunteered_facts
from actions.handoff import REPEATED_MISS_TEXT, ActionAcknowledge
from tests.actions.conftest import DAY, customs, make_tracker, run, texts

UNEMPLOYMENT = "insurance.unemployment_benefit"
SCHOOLING = "schooling.migrant_children_enrollment"
RENTAL = "housing.public_rental_housing"
PENSION = "insurance.pension_15_years"


@pytest.fixture(scope="module")
def kb():
    return services.policies()


@pytest.mark.parametrize(
    ("rule", "text", "facts"),
    [
        (
            UNEMPLOYMENT,
            "失业保险交了十来年 是厂里裁的人",
            {"unemployment_insurance_years": 10, "left_involuntarily": True},
        ),
        (SCHOOLING, "娃六岁半 跟着俺在银川 俺在那打工", {"child_age": 6.5, "parent_works_or_lives_locally": True}),
        # "两口子" is no second number of years: the quantity is read where its unit is
        (SCHOOLING, "俺娃七岁了 俺两口子都在这边打工", {"child_age": 7, "parent_works_or_lives_locally": True}),
        (
            RENTAL,
            "俺在这没买房 一直租房子住 在工地上干了五六年了",
            {"has_local_housing": False, "stably_employed_locally": True},
        ),
        (UNEMPLOYMENT, "厂子搬走了 不要俺们了", {"left_involuntarily": True}),
        (UNEMPLOYMENT, "交了两年 俺是自己辞的职", {"unemployment_insurance_years": 2, "left_involuntarily": False}),
        # a year and month is a birth month, not years paid; "男的" is the choice's own word
        (
            PENSION,
            "俺是男的 1963年5月生的 交了二十来年",
            {"contribution_years": 20, "birth_month": "1963-05", "sex": "male"},
        ),
        ("employment.unemployment_registration", "离职证明厂里已经给俺开了", {"has_termination_proof": True}),
        (
            UNEMPLOYMENT,
            "交了三年 单位裁员把俺裁了 登记也办了",
            {"unemployment_insurance_years": 3, "left_involuntarily": True, "registered_unemployed": True},
        ),
        # a negation a word away ("没个稳定活"), the same for home and work
        (
            "settlement.county_town_settlement",
            "县城没房 也没个稳定活",
            {"has_stable_residence": False, "has_stable_job": False},
        ),
        (SCHOOLING, "娃八岁了 俺两口子就在利通区打工", {"child_age": 8, "parent_works_or_lives_locally": True}),
        ("startup_loan.guarantee_loan_eligibility", "店面租好了 执照也办下来了", {"has_business_license": True}),
        ("employment.hard_to_employ_migrant", "居住证没办过", {"has_urban_residence_permit": False}),
        # times as workers count them: 回
        ("training.certificate_subsidy_haiyuan", "俺以前领过三回了", {"training_subsidy_times": 3}),
        # three numbers of years in one message, each told by the words of its own clause
        (
            "schooling.gaokao_migrant_children",
            "娃在宁夏念了六年书 俺在银川干了八年了 房子也租了八年 社保交了五年",
            {
                "child_ningxia_school_years": 6,
                "parent_ningxia_stable_years": 8,
                "parent_ningxia_social_insurance_years": 5,
            },
        ),
    ],
)
def test_several_facts_in_words_and_dialect_are_read_from_one_message(kb, rule, text, facts):
    assert volunteered_facts(kb, rule, text, {}, DAY) == facts


def test_a_range_is_its_lower_end_only_when_either_end_decides_the_check_the_same(kb):
    # one year paid is the bar: seven or eight years decide it the same way
    assert volunteered_facts(kb, UNEMPLOYMENT, "俺交了七八年了", {}, DAY) == {"unemployment_insurance_years": 7}
    # fifteen years is the pension's bar (for this birth month): fourteen or fifteen may decide it differently
    known = {"birth_month": "1960-03", "sex": "male"}
    assert volunteered_facts(kb, PENSION, "交了十四五年", known, DAY) == {}
    assert volunteered_facts(kb, PENSION, "交了二十一二年", known, DAY) == {"contribution_years": 21}


def test_a_clause_about_another_number_of_the_check_does_not_answer_the_question_asked(kb):
    """Asked the child's years at school in Ningxia, "社保交了五年" is the parent's social insurance: not 5 school
    years (it is kept as the other fact, and the question asked again)."""
    from actions.eligibility import answer_to_other_question

    gaokao = "schooling.gaokao_migrant_children"
    tracker = make_tracker("社保交了五年", intent="inform")
    assert read_answer(kb, tracker, "child_ningxia_school_years", "社保交了五年", gaokao, {}, DAY) is None
    other = answer_to_other_question(kb, gaokao, {}, "child_ningxia_school_years", "社保交了五年", DAY)
    assert other == ("parent_ningxia_social_insurance_years", 5)
    assert read_answer(kb, tracker, "child_ningxia_school_years", "六年", gaokao, {}, DAY) == 6


def test_a_range_answering_its_own_question_is_read_the_same_way(kb):
    tracker = make_tracker("七八年吧", intent="inform")
    assert read_answer(kb, tracker, "unemployment_insurance_years", "七八年吧", UNEMPLOYMENT, {}, DAY) == 7
    assert read_answer(kb, tracker, "unemployment_insurance_years", "七八年吧") is None  # no check to decide


@pytest.mark.parametrize(
    ("text", "involuntary"),
    [("俺辞职了", False), ("嫌工资低不干了", False), ("被辞了", True), ("老板把俺辞了", True), ("被辞职了", True)],
)
def test_quitting_and_being_let_go_in_the_workers_words(kb, text, involuntary):
    assert volunteered_facts(kb, UNEMPLOYMENT, text, {}, DAY) == {"left_involuntarily": involuntary}


def test_known_facts_are_not_read_again(kb):
    assert volunteered_facts(kb, UNEMPLOYMENT, "交了十来年", {"unemployment_insurance_years": 3}, DAY) == {}


def test_the_answer_to_one_question_keeps_the_other_facts_the_same_message_states(domain):
    tracker = make_tracker(
        "没有自己的房 租着住 在物流园上了三年班了 活很稳定",
        intent="inform",
        active_loop="eligibility_form",
        slots={"eligibility_rule": RENTAL, "facts": {}, "requested_slot": "fact_answer", "fact_retries": 0},
    )
    events, _ = run(ValidateEligibilityForm(), tracker, domain)
    assert SlotSet("facts", {"has_local_housing": False, "stably_employed_locally": True}) in events


def test_a_fact_after_a_rule_without_a_check_starts_the_related_check(kb, domain):
    # "失业保险金咋领" is answered by the claim procedure, which has no check; its related rule has one
    tracker = make_tracker(
        "交了两年 俺是自己辞的职",
        intent="inform",
        confidence=0.6,
        slots={"last_rule_id": "insurance.unemployment_claim_procedure", "topic": "insurance"},
    )
    events, messages = run(ActionAnswerPolicy(), tracker, domain)
    assert SlotSet("facts", {"unemployment_insurance_years": 2, "left_involuntarily": False}) in events
    (payload,) = [p for p in customs(messages) if p["kind"] == "eligibility"]
    assert (payload["outcome"], payload["rule_ids"]) == ("not_eligible", [UNEMPLOYMENT])


def test_facts_stated_in_a_question_are_kept_for_the_check_its_answer_offers(kb, domain):
    tracker = make_tracker("俺失业保险交了十来年 厂子倒闭了 失业金能领不", intent="ask_insurance", confidence=0.95)
    events, messages = run(ActionAnswerPolicy(), tracker, domain)
    assert customs(messages)[0]["rule_id"] == UNEMPLOYMENT
    assert SlotSet("facts", {"unemployment_insurance_years": 10, "left_involuntarily": True}) in events
    assert FollowupAction("eligibility_form") not in events  # answered: the check starts when the worker asks


def test_a_number_a_question_names_as_the_bar_is_no_fact_of_the_worker(kb, domain):
    tracker = make_tracker("养老保险要交够15年才能领吗", intent="ask_insurance", confidence=0.95)
    events, messages = run(ActionAnswerPolicy(), tracker, domain)
    assert customs(messages)[0]["rule_id"] == PENSION
    assert not any(event.get("name") == "facts" for event in events)


@pytest.mark.parametrize(
    "text",
    [
        "那俺行不",
        "俺这情况领养老金中不中",
        "你看俺够格不",
        "你帮俺判断判断",
        "失业登记俺能办不 给评估一下",
        "帮俺对照一下",
    ],
)
def test_more_ways_of_asking_for_a_check(text):
    assert asks_for_check(text)


@pytest.mark.parametrize(
    "text", ["去银行不用带身份证吧", "这样行不通", "居住证在哪办", "养老保线退保能行不", "就业困难人元认定农民工中不中"]
)
def test_words_that_only_look_like_a_check_request(text):
    assert not asks_for_check(text)


def test_a_yes_after_a_clarifying_question_is_the_second_miss_and_gets_12333(domain, handoff_service):
    tracker = make_tracker("嗯嗯 那个东西", intent="affirm", slots={"miss_count": 1, "topic": "settlement"})
    events, messages = run(ActionAcknowledge(), tracker, domain)
    assert texts(messages) == [REPEATED_MISS_TEXT]
    assert customs(messages) == [{"kind": "handoff", "target": "12333", "phone": "0951-12333"}]
    assert SlotSet("miss_count", 0) in events
    (handoff,) = handoff_service.list_handoffs()
    assert handoff.reason == "repeated_fallback"


def test_a_yes_with_nothing_to_say_yes_to_is_a_miss_and_after_an_answer_just_asks_what_else(domain):
    events, messages = run(ActionAcknowledge(), make_tracker("啊吧啊吧", intent="affirm"), domain)
    assert customs(messages) == [{"kind": "fallback", "reason": "nothing_to_acknowledge"}]
    assert events == [SlotSet("miss_count", 1)]
    events, messages = run(
        ActionAcknowledge(), make_tracker("好的", intent="affirm", slots={"last_rule_id": UNEMPLOYMENT}), domain
    )
    assert customs(messages) == [] and events == []
    assert [m.get("response") for m in messages] == ["utter_anything_else"]


def test_the_pension_check_decided_from_one_message_shows_the_facts_as_the_worker_said_them(kb, domain):
    tracker = make_tracker("俺是男的 1963年5月生的 交了二十来年", intent="inform", slots={"offered_check": PENSION})
    _, messages = run(ActionAnswerPolicy(), tracker, domain)
    (payload,) = [p for p in customs(messages) if p["kind"] == "eligibility"]
    assert payload["outcome"] == "eligible"
    assert payload["facts"] == {"contribution_years": 20, "birth_month": "1963-05", "sex": "male"}


def test_less_than_a_bar_is_read_only_when_everything_below_it_decides_the_same(kb):
    # one year paid is the bar: "不到一年" is below it whatever it is exactly
    assert volunteered_facts(kb, UNEMPLOYMENT, "交了不到一年", {}, DAY) == {"unemployment_insurance_years": 0}
    # "不到五年" may be more or less than one year: not read, the question is asked
    assert volunteered_facts(kb, UNEMPLOYMENT, "交了不到五年", {}, DAY) == {}
    tracker = make_tracker("不到一年", intent="inform")
    assert read_answer(kb, tracker, "unemployment_insurance_years", "不到一年", UNEMPLOYMENT, {}, DAY) == 0


def test_a_calendar_year_is_no_number_of_years_and_full_years_of_age_are_ages(kb):
    assert volunteered_facts(kb, UNEMPLOYMENT, "2019年开始交的", {}, DAY) == {}
    assert volunteered_facts(kb, SCHOOLING, "娃娃6周岁了", {}, DAY) == {"child_age": 6}


@pytest.mark.parametrize(
    ("rule", "known", "text", "facts"),
    [
        # asked the parent's years of work and home: this clause answers it, the next one the social insurance
        (
            "schooling.gaokao_migrant_children",
            {"child_ningxia_school_years": 6},
            "俺在银川干了八年了 房子也租了八年 社保交了五年",
            {
                "child_ningxia_school_years": 6,
                "parent_ningxia_stable_years": 8,
                "parent_ningxia_social_insurance_years": 5,
            },
        ),
        # asked the child's age: "八岁了" answers it, and the parents' work in the same message is kept
        (SCHOOLING, {}, "娃八岁了 俺两口子就在利通区打工", {"child_age": 8, "parent_works_or_lives_locally": True}),
    ],
)
def test_an_answer_in_the_form_that_states_more_keeps_every_fact(domain, rule, known, text, facts):
    tracker = make_tracker(
        text,
        intent="inform",
        active_loop="eligibility_form",
        slots={"eligibility_rule": rule, "facts": known, "requested_slot": "fact_answer", "fact_retries": 0},
    )
    events, _ = run(ValidateEligibilityForm(), tracker, domain)
    assert SlotSet("facts", facts) in events


HARD_TO_EMPLOY = "employment.hard_to_employ_migrant"


@pytest.mark.parametrize(
    ("rule", "text", "facts"),
    [
        # "八个多月": months with 多 after 个; 眼下没活干: out of work now
        (
            HARD_TO_EMPLOY,
            "在宁夏干了八个多月 居住证办了 眼下没活干",
            {"ningxia_work_months": 8, "has_urban_residence_permit": True, "currently_unemployed": True},
        ),
        (HARD_TO_EMPLOY, "现在还在厂里上着班", {"currently_unemployed": False}),
        # a job held for years without moving is steady local work
        (
            RENTAL,
            "俺在银川没房子 在小区当保安三年了没换过地方",
            {"has_local_housing": False, "stably_employed_locally": True},
        ),
    ],
)
def test_more_facts_in_the_workers_words(kb, rule, text, facts):
    assert volunteered_facts(kb, rule, text, {}, DAY) == facts


def test_several_facts_of_the_offered_check_count_even_when_nlu_names_another_topic(kb, domain):
    """NLU reads 居住证 as settlement, but the message states all three facts of the 就业困难 check just offered."""
    tracker = make_tracker(
        "在宁夏干了八个多月 居住证办了 眼下没活干",
        intent="ask_settlement",
        confidence=0.94,
        slots={"topic": "employment", "last_rule_id": HARD_TO_EMPLOY, "offered_check": HARD_TO_EMPLOY},
    )
    events, messages = run(ActionAnswerPolicy(), tracker, domain)
    result = next(payload for payload in customs(messages) if payload["kind"] == "eligibility")
    assert result["outcome"] == "partly_eligible"
    assert result["facts"]["ningxia_work_months"] == 8


@pytest.mark.parametrize("text", ["俺考了个中级电工证 给俺弄弄看能不能补", "你看我能不能领"])
def test_more_ways_to_ask_for_a_check(text):
    assert asks_for_check(text)
