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

# Steady work in the worker's words: "活很稳定", "一直在县上厂子里干", "在工地上干了五六年", "上了三年班",
# "在小区当保安三年了没换过地方".
_STEADY_WORK = (
    r"有稳定|活很稳定|工作稳定|一直在.{0,8}(干|上班)|固定工作|长期.{0,4}(干|上班)|签了合同|"
    r"(干|上班|做工|打工)了.{0,4}(年|个月)|上了.{0,4}年.{0,2}班|没换过(地方|单位|厂|活)|"
    r"(当|做)[^ ，,。]{1,6}?[一二两三四五六七八九十几\d]+来?年了"
)

# What a worker says, unasked, that answers one of a check's yes/no or choice questions ("有房子，自己买的",
# "是我自己不干了"): per fact, (pattern, value) pairs, the first match wins. Numbers with a unit ("交了五年多",
# "三岁多") need no cue: the unit names the fact (actions/eligibility.py: volunteered_facts).
FACT_CUES: dict[str, tuple[tuple[str, object], ...]] = {
    "left_involuntarily": (
        (
            r"自己不干|自己不想干|自己辞|(?<!被)辞职|辞工|主动辞|自己走的|自己要走|我不干了|不想干了|我跳槽|嫌.{0,6}不干了",
            False,
        ),
        (
            r"辞退|开除|被裁|裁员|裁了我|裁的人|被辞|把我(们)?辞了|合同到期|到期.{0,6}不续|不续签|被炒|不要我(们)?了|"
            r"让我(们)?走|"
            r"(厂子|厂里|公司|单位|工地|老板).{0,4}(倒闭|关门|黄了|搬走|停产|不干了)|单位不要",
            True,
        ),
    ),
    "has_stable_residence": (
        (r"没房|没有房|没地方住|没住处|没有住处|住工棚|住工地", False),
        (r"有房|买了房|买的房|自己买的|房子是我|长期租|租了.{0,4}年|有住处|有住的地方", True),
    ),
    "has_local_housing": (
        (r"没房|没有房|没有自己的房|租房子住|租的房|租着住|在外面租|房子是租的", False),
        (r"有房|买了房|买的房|自己买的|房子是我", True),
    ),
    "has_stable_job": (
        (r"没工作|没活|没有活|打零工|没.{0,2}稳定|不稳定", False),
        (_STEADY_WORK, True),
    ),
    "stably_employed_locally": (
        (r"没工作|没活|没有活|打零工|没.{0,2}稳定|不稳定", False),
        (_STEADY_WORK, True),
    ),
    "currently_unemployed": (
        (
            r"没活|没有活|没工作|没有工作|没了工作|失业了|丢了工作|闲在家|在家闲着|歇着|没事干|(厂子|厂里|公司|单位).{0,4}(倒闭|关门|黄了)",
            True,
        ),
        (r"有活干|在上班|有工作|还在干|上着班|有活呢", False),
    ),
    "reached_retirement_age": (
        (r"没到退休|还没到年龄|不到退休|没到年龄|还没退休", False),
        (r"到了退休|到退休年龄了|已经退休|退休了|到年龄了", True),
    ),
    "registered_unemployed": (
        (r"没登记|没办失业登记|还没办登记|没去登记", False),
        (r"登记了|登记过|登记.{0,2}办了|办了.{0,2}登记|登记好了|办了失业登记|办过失业登记|已经登记", True),
    ),
    "parent_works_or_lives_locally": (
        (
            r"跟着我(们)?在|我(们)?在.{1,6}(打工|上班|干活|住)|(两口子|我们|我).{0,3}(都|就|一直)在.{0,6}(打工|上班|干活|住)|"
            r"在(这|那|当地)(边|儿|里)?(打工|上班|干活|住)",
            True,
        ),
    ),
    "has_termination_proof": (
        (r"不给开|没开|没有离职证明|没给开", False),
        (r"开了离职证明|有离职证明|离职证明.{0,8}开了|给(我)?开了|开过了", True),
    ),
    "has_business_license": (
        (r"没执照|没有营业执照|执照还没|没办执照", False),
        (
            r"有营业执照|执照.{0,2}办(下来|好)?了|办了.{0,3}执照|领了.{0,3}执照|执照.{0,2}有了|证照齐|证照都齐|有执照",
            True,
        ),
    ),
    "has_urban_residence_permit": (
        (r"没(办|有|领)(过)?居住证|居住证.{0,3}(没|还没)(办|有|领)|没有居住证", False),
        (r"(办|有|领)了居住证|有居住证|居住证.{0,3}(办了|有了|办下来了|办好了|领了)", True),
    ),
    "is_priority_group": ((r"返乡创业|登记失业|脱贫户|脱贫人口|退役军人", True),),
    "applicant_type": (
        (r"个人创业|自己干|个体户|一个人干", "individual"),
        (r"小微企业|公司名义|企业名义", "small_firm"),
    ),
}

# Which of a check's numeric facts of one unit a quantity is, by the words of its own clause ("在银川干了八年了 房子也租了
# 八年 社保交了五年": the years of work and home, then the years of social insurance). Only needed where a check asks
# several numbers in one unit (the 异地高考 check asks three numbers of years).
FACT_ANCHORS: dict[str, str] = {
    "child_ningxia_school_years": r"上学|上了.{0,3}学|读|念|初中|高中|学籍|娃|孩子",
    "parent_ningxia_stable_years": r"干|住|房|租|打工|上班|工作|稳定",
    "parent_ningxia_social_insurance_years": r"社保|保险|交",
}
