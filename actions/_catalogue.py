"""The dialogue's own choices about rules: which checks to offer, which rules lead to a case, topic menus.

Rule ids are the knowledge base's (stable by its schema); tests/actions/test_catalogue.py checks that each exists.
"""

from __future__ import annotations

from policies_kb.topics import MENUS

# Eligibility checks offered in the menu, with a short button label. Any rule with conditions can be checked
# (from its answer's "帮我看看" button); these are the ones worth listing.
ELIGIBILITY_CHECKS: dict[str, str] = {
    "startup_loan.guarantee_loan_eligibility": "创业担保贷款",
    "insurance.unemployment_benefit": "领失业保险金",
    "employment.unemployment_registration": "办失业登记",
    "insurance.pension_15_years": "领养老金",
    "settlement.county_town_settlement": "县城落户",
    "schooling.migrant_children_enrollment": "娃娃随迁上学",
    "housing.public_rental_housing": "申请公租房",
}

# Words that name a check in the worker's request ("帮我看看我能不能领失业金"), most specific first.
CHECK_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("失业登记", "employment.unemployment_registration"),
    ("登记失业", "employment.unemployment_registration"),
    ("失业金", "insurance.unemployment_benefit"),
    ("失业保险", "insurance.unemployment_benefit"),
    ("失叶金", "insurance.unemployment_benefit"),
    ("养老", "insurance.pension_15_years"),
    ("退休金", "insurance.pension_15_years"),
    ("落户", "settlement.county_town_settlement"),
    ("户口", "settlement.county_town_settlement"),
    ("公租房", "housing.public_rental_housing"),
    ("上学", "schooling.migrant_children_enrollment"),
    ("入学", "schooling.migrant_children_enrollment"),
    ("念书", "schooling.migrant_children_enrollment"),
    ("读书", "schooling.migrant_children_enrollment"),
    ("贷款", "startup_loan.guarantee_loan_eligibility"),
    ("贷", "startup_loan.guarantee_loan_eligibility"),
    ("考证补贴", "training.certificate_subsidy_haiyuan"),
)

# Rules about a wrong done to the worker: their answer offers to record a case of this type (bot.cases.CASE_TYPES).
CASE_RULES: dict[str, str] = {
    "labor_rights.wage_arrears_complaint": "wage_arrears",
    "labor_rights.emergency_wage_advance": "wage_arrears",
    "labor_rights.general_contractor_pays": "wage_arrears",
    "labor_rights.employer_must_show_records": "wage_arrears",
    "labor_rights.arrears_extra_compensation": "wage_arrears",
    "labor_rights.wage_card_withheld": "wage_arrears",
    "labor_rights.wage_payment_form": "wage_arrears",
    "labor_rights.labor_inspection_process": "wage_arrears",
    "labor_rights.inspection_two_year_limit": "wage_arrears",
    "labor_rights.contract_and_realname": "labor_contract",
    "employment.termination_certificate": "labor_contract",
    "labor_rights.work_injury_dispute": "work_injury",
    "insurance.work_injury_employer_denies": "work_injury",
    "insurance.work_injury_uninsured_employer": "work_injury",
    "insurance.employer_must_register": "social_insurance",
}

# The rule a wage-arrears report is answered with: the worker's rights and the complaint channels.
WAGE_ARREARS_RULE = "labor_rights.wage_arrears_complaint"

# What to offer when a topic was chosen but the question is still unclear: the topic's main rules.
TOPIC_MENU: dict[str, tuple[str, ...]] = MENUS  # policies_kb/topics.yaml
