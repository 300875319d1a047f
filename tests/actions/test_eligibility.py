"""The eligibility form: choosing the check, asking the knowledge base's questions, reading answers, the result."""

from __future__ import annotations

from rasa_sdk.events import SlotSet

from actions import services
from actions.eligibility import ActionAskFactAnswer, ActionEligibilityResult, ValidateEligibilityForm
from tests.actions.conftest import customs, make_tracker, message, run, texts

FORM = "eligibility_form"
PENSION = "insurance.pension_15_years"


def in_form(text, *, intent="inform", confidence=0.95, facts=None, rule=PENSION, retries=0, entities=None):
    return make_tracker(
        text,
        intent=intent,
        confidence=confidence,
        active_loop=FORM,
        entities=entities,
        slots={
            "eligibility_rule": rule,
            "facts": facts or {},
            "requested_slot": "fact_answer",
            "fact_retries": retries,
        },
    )


def test_the_check_is_chosen_from_the_request_and_the_form_asks_on(domain):
    tracker = make_tracker("帮我算算我能不能领养老金", intent="check_eligibility", confidence=0.99)
    events, messages = run(ValidateEligibilityForm(), tracker, domain)
    assert messages == [message("好的，帮您看看“领养老金”。我问您几个简单问题，随时说“算了”就停下。")]
    assert events == [
        SlotSet("eligibility_rule", PENSION),
        SlotSet("fact_answer", None),
        SlotSet("fact_retries", 0),
        SlotSet("facts", {}),
        SlotSet("offered_check", PENSION),
    ]


def test_a_button_names_the_check_and_a_duration_in_the_request_is_kept(domain):
    tracker = make_tracker(
        "我交了15年养老保险 帮我看看",
        intent="check_eligibility",
        entities=[{"entity": "eligibility_rule", "value": PENSION}, {"entity": "duration", "value": "15年"}],
    )
    events, _ = run(ValidateEligibilityForm(), tracker, domain)
    assert SlotSet("facts", {"contribution_years": 15}) in events


def test_facts_from_an_earlier_check_are_not_asked_again(domain):
    tracker = make_tracker(
        "帮我看看养老金",
        intent="check_eligibility",
        slots={"facts": {"contribution_years": 16, "reached_retirement_age": True}},
    )
    events, messages = run(ValidateEligibilityForm(), tracker, domain)
    assert messages == []
    assert events[-1] == SlotSet("requested_slot", None)  # complete at once: the result follows


def test_an_unclear_request_leaves_the_choice_to_the_menu(domain):
    tracker = make_tracker("帮我看看我符不符合条件", intent="check_eligibility")
    events, _ = run(ValidateEligibilityForm(), tracker, domain)
    assert events == [SlotSet("requested_slot", None)]  # no check named: the form ends, the result shows the menu
    _, messages = run(ActionEligibilityResult(), make_tracker("", slots={}), domain)
    assert messages[0]["text"] == "您想看看自己能不能办哪一项？点一下："
    assert [b["title"] for b in messages[0]["buttons"]] == [
        "创业担保贷款",
        "领失业保险金",
        "办失业登记",
        "领养老金",
        "县城落户",
        "娃娃随迁上学",
        "申请公租房",
        "都不是，找人工",
    ]
    assert messages[0]["buttons"][3]["payload"] == '/check_eligibility{"eligibility_rule":"insurance.pension_15_years"}'
    assert customs(messages) == [{"kind": "fallback", "reason": "check_menu"}]  # a non-answer: counted as a miss


def test_the_question_is_the_knowledge_bases_own_with_yes_no_buttons(domain):
    kb = services.policies()
    settlement = "settlement.county_town_settlement"
    _, messages = run(ActionAskFactAnswer(), in_form("", rule=settlement), domain)
    assert messages == [
        message(
            kb.fact("has_stable_residence").question,
            buttons=[{"title": "是", "payload": "是"}, {"title": "不是", "payload": "不是"}],
        ),
        message(custom={"kind": "check_question", "rule_id": settlement, "fact": "has_stable_residence"}),
    ]


def test_the_pension_check_first_asks_the_birth_month_in_free_text(domain):
    # the 2024 decision's retirement age depends on the birth month (and sex): no buttons, the worker says it
    kb = services.policies()
    _, messages = run(ActionAskFactAnswer(), in_form(""), domain)
    assert messages == [
        message(kb.fact("birth_month").question),
        message(custom={"kind": "check_question", "rule_id": PENSION, "fact": "birth_month"}),
    ]


def test_choice_questions_offer_their_choices(domain):
    # the loan check asks where the business is first (银川 criteria apply only in 银川); given that, the next
    # question is a choice again
    tracker = in_form("", rule="startup_loan.guarantee_loan_eligibility", facts={"business_location": "yinchuan"})
    _, messages = run(ActionAskFactAnswer(), tracker, domain)
    assert [b["title"] for b in messages[0]["buttons"]] == ["个人创业", "小微企业"]


def test_a_free_text_answer_is_read_and_kept(domain):
    events, messages = run(
        ValidateEligibilityForm(), in_form("交了三年多", facts={"reached_retirement_age": True}), domain
    )
    assert messages == []
    assert events == [
        SlotSet("fact_answer", None),
        SlotSet("facts", {"reached_retirement_age": True, "contribution_years": 3}),
        SlotSet("fact_retries", 0),
        SlotSet("requested_slot", None),
    ]


def test_a_number_for_another_question_of_the_check_is_kept_and_the_question_asked_again(domain):
    events, messages = run(ValidateEligibilityForm(), in_form("交了三年多"), domain)
    assert messages == []
    assert events == [SlotSet("fact_answer", None), SlotSet("facts", {"contribution_years": 3})]


def test_an_answer_that_nlu_took_for_a_question_is_still_an_answer(domain):
    tracker = in_form(
        "我是返乡创业的农民工",
        intent="ask_startup_loan",
        confidence=0.99,
        rule="startup_loan.guarantee_loan_eligibility",
        facts={"business_location": "yinchuan", "applicant_type": "individual"},
    )
    events, _ = run(ValidateEligibilityForm(), tracker, domain)
    expected = {"business_location": "yinchuan", "applicant_type": "individual", "is_priority_group": True}
    assert SlotSet("facts", expected) in events


def test_an_unreadable_answer_is_asked_again_briefly(domain):
    tracker = in_form("说不准", intent="nlu_fallback", confidence=0.3, rule="settlement.county_town_settlement")
    events, messages = run(ValidateEligibilityForm(), tracker, domain)
    assert messages == [message("没太听明白。请回答“是”或者“不是”。")]
    assert events == [SlotSet("fact_answer", None), SlotSet("fact_retries", 1)]


def test_an_unreadable_birth_month_is_asked_again_with_an_example(domain):
    events, messages = run(ValidateEligibilityForm(), in_form("说不准", intent="nlu_fallback", confidence=0.3), domain)
    assert messages == [message("没太听明白。请说年份和月份，比如“1975年3月”。")]
    assert events == [SlotSet("fact_answer", None), SlotSet("fact_retries", 1)]


def test_after_three_unreadable_answers_the_check_stops_and_offers_12333(domain):
    events, _ = run(ValidateEligibilityForm(), in_form("说不准", intent="nlu_fallback", retries=2), domain)
    assert events == [SlotSet("fact_answer", None), SlotSet("fact_retries", 3), SlotSet("requested_slot", None)]
    _, messages = run(ActionEligibilityResult(), in_form(""), domain)
    assert messages == [
        message(
            "这一项没问清楚，就先查到这儿。您可以打 0951-12333，工作人员帮您具体看。",
            buttons=[{"title": "转人工", "payload": "/request_human"}],
        ),
        message(custom={"kind": "handoff", "target": "12333", "phone": "0951-12333"}),
    ]


def test_a_new_question_makes_the_form_reject(domain):
    events, messages = run(
        ValidateEligibilityForm(), in_form("那娃娃上学要带啥材料", intent="ask_schooling", confidence=0.99), domain
    )
    assert (events, messages) == ([], [])


def test_stop_makes_the_form_reject_even_when_it_reads_as_no(domain):
    assert run(ValidateEligibilityForm(), in_form("不问了", intent="stop", confidence=0.99), domain) == ([], [])


def test_the_result_has_outcome_reason_amount_citation_and_payload(domain):
    kb = services.policies()
    rule = kb.get("insurance.unemployment_benefit")
    tracker = make_tracker(
        "",
        slots={
            "eligibility_rule": rule.id,
            "facts": {"unemployment_insurance_years": 6, "left_involuntarily": True, "registered_unemployed": True},
        },
    )
    events, messages = run(ActionEligibilityResult(), tracker, domain)
    reason = rule.conditions["outcomes"][4]["reason"]
    assert messages == [
        message(f"结果：符合条件。\n{reason}\n最长领取期限：18个月"),
        message(f"来源：{rule.citation()}（截至2026-11-29有效）"),
        message(
            custom={
                "kind": "eligibility",
                "topic": "insurance",
                "outcome": "eligible",
                "rule_ids": ["insurance.unemployment_benefit"],
                "facts": {"unemployment_insurance_years": 6, "left_involuntarily": True, "registered_unemployed": True},
                "valid_on": "2026-11-29",
            }
        ),
    ]
    assert events == [
        SlotSet("eligibility_rule", None),
        SlotSet("fact_answer", None),
        SlotSet("fact_retries", 0),
        SlotSet("topic", "insurance"),
        SlotSet("last_rule_id", rule.id),
        SlotSet("last_facet", "eligibility"),
        SlotSet("offered_check", rule.id),
        SlotSet("miss_count", 0),
    ]


def test_a_locally_decided_result_says_so_and_offers_12333(domain):
    tracker = make_tracker(
        "",
        slots={
            "eligibility_rule": "startup_loan.guarantee_loan_eligibility",
            "facts": {
                "business_location": "yinchuan",
                "applicant_type": "individual",
                "is_priority_group": True,
                "has_business_license": True,
                "has_other_loans": False,
            },
        },
    )
    _, messages = run(ActionEligibilityResult(), tracker, domain)
    assert texts(messages)[0].endswith("个人贷款最高额度：30万元")
    assert texts(messages)[-1] == "具体以当地为准，想问清楚可以打 0951-12333。"
    assert customs(messages) == [
        {
            "kind": "eligibility",
            "topic": "startup_loan",
            "outcome": "eligible",
            "rule_ids": ["startup_loan.guarantee_loan_eligibility"],
            "facts": {
                "business_location": "yinchuan",
                "applicant_type": "individual",
                "is_priority_group": True,
                "has_business_license": True,
                "has_other_loans": False,
            },
            "valid_on": "2026-11-29",
        },
        {"kind": "handoff", "target": "12333", "phone": "0951-12333"},
    ]


def test_a_check_started_by_the_answer_action_keeps_its_rule_and_the_facts_of_the_request(domain):
    tracker = make_tracker(
        "孩子跟着我在吴忠 能上学不 给看看",
        intent="ask_schooling",
        slots={"eligibility_rule": "schooling.migrant_children_enrollment"},
    )
    events, messages = run(ValidateEligibilityForm(), tracker, domain)
    assert messages == [message("好的，帮您看看“娃娃随迁上学”。我问您几个简单问题，随时说“算了”就停下。")]
    assert events == [
        SlotSet("eligibility_rule", "schooling.migrant_children_enrollment"),
        SlotSet("fact_answer", None),
        SlotSet("fact_retries", 0),
        SlotSet("facts", {"parent_works_or_lives_locally": True}),
        SlotSet("offered_check", "schooling.migrant_children_enrollment"),
    ]
    _, asked = run(
        ActionAskFactAnswer(),
        in_form("", rule="schooling.migrant_children_enrollment", facts={"parent_works_or_lives_locally": True}),
        domain,
    )
    assert customs(asked) == [
        {"kind": "check_question", "rule_id": "schooling.migrant_children_enrollment", "fact": "child_age"}
    ]


def test_everyday_words_for_another_question_are_kept_and_end_the_check_once_it_is_decided(domain):
    rule = "insurance.unemployment_benefit"
    events, messages = run(ValidateEligibilityForm(), in_form("是我自己不干了", rule=rule), domain)  # asked the years
    assert messages == []
    assert events == [SlotSet("fact_answer", None), SlotSet("facts", {"left_involuntarily": False})]
    facts = {"unemployment_insurance_years": 5}
    events, _ = run(ValidateEligibilityForm(), in_form("是我自己不干了", rule=rule, facts=facts), domain)
    assert events[1] == SlotSet("facts", {"unemployment_insurance_years": 5, "left_involuntarily": False})
    assert events[-1] == SlotSet("requested_slot", None)  # decided: not eligible, whatever the registration


def test_everyday_words_answer_a_yes_no_question(domain):
    tracker = in_form("有房子，自己买的", rule="settlement.county_town_settlement")
    events, _ = run(ValidateEligibilityForm(), tracker, domain)
    assert events[1] == SlotSet("facts", {"has_stable_residence": True})
