"""The dialogue's lists of rule ids point at real rules of the knowledge base."""

from __future__ import annotations

from actions import services
from actions._catalogue import CASE_RULES, CHECK_KEYWORDS, ELIGIBILITY_CHECKS, TOPIC_MENU, WAGE_ARREARS_RULE
from bot.cases import CASE_TYPES
from tests.actions.conftest import DAY


def test_every_listed_rule_exists_and_is_in_force():
    kb = services.policies()
    listed = {*ELIGIBILITY_CHECKS, *CASE_RULES, WAGE_ARREARS_RULE, *(rule for _, rule in CHECK_KEYWORDS)}
    listed |= {rule for rules in TOPIC_MENU.values() for rule in rules}
    assert [rule_id for rule_id in sorted(listed) if kb.rule(rule_id, on=DAY) is None] == []


def test_checks_are_rules_with_conditions_and_cases_have_known_types():
    kb = services.policies()
    assert all(kb.checkable(kb.get(rule_id)) for rule_id in ELIGIBILITY_CHECKS)
    assert set(CASE_RULES.values()) <= set(CASE_TYPES)
    assert all(kb.get(rule_id).topic == topic for topic, rules in TOPIC_MENU.items() for rule_id in rules)
