"""宁夏农民工政策助手's knowledge base: policy rules as validated YAML checked against
the shipped texts they quote, search and eligibility.

Importable without Rasa::

    from datetime import date
    from policies_kb import KnowledgeBase, MIN_CONFIDENT_SCORE

    kb = KnowledgeBase.load()                                   # validates every file first
    hits = kb.search("自己开店能贷多少钱", on=date(2026, 11, 29))
    if hits and hits[0].score >= MIN_CONFIDENT_SCORE:
        print(hits[0].rule.answer, hits[0].rule.citation())
    result = kb.evaluate("insurance.pension_15_years", {"contribution_years": 12}, on=date(2026, 11, 29))

The rule-file format is ``policies_kb/SCHEMA.md``; ``python -m policies_kb --help`` is the operators' command line.
"""

from policies_kb._evaluator import EligibilityResult
from policies_kb._knowledge_base import KnowledgeBase
from policies_kb._schema import TOPICS, FactSpec, KBError, KBValidationError, Rule, Source
from policies_kb._search import MIN_CONFIDENT_SCORE, SearchHit

__all__ = [
    "KnowledgeBase",
    "Rule",
    "Source",
    "SearchHit",
    "EligibilityResult",
    "FactSpec",
    "KBError",
    "KBValidationError",
    "TOPICS",
    "MIN_CONFIDENT_SCORE",
]
