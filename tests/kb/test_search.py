"""Search on the small fixture knowledge base: normalisation, typos, synonyms, dates, topics, scores."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import pytest

from policies_kb import MIN_CONFIDENT_SCORE, KnowledgeBase
from policies_kb._text import normalize_for_search

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def top(kb, question, day, **kwargs):
    hits = kb.search(question, on=day, **kwargs)
    return hits[0] if hits else None


@pytest.mark.parametrize(
    "question, rule_id",
    [
        ("自己开店能贷多少钱", "startup_loan.loan_limits"),
        ("創業擔保貸款能貸多少錢", "startup_loan.loan_limits"),  # traditional characters
        ("创业担保贷款最多贷多少？？", "startup_loan.loan_limits"),  # full-width punctuation
        ("创业担保货款额度", "startup_loan.loan_limits"),  # typo 货 for 贷
        ("老板不给工钱咋办", "labor_rights.wage_arrears_complaint"),  # synonym 工钱 → 工资
        ("俺家娃能在这边上学不", "schooling.migrant_children"),  # 娃 → 孩子, 上学 → 入学
        ("社保交了十年能领养老金吗", "insurance.pension_15_years"),
        ("县城落户口要啥条件", "settlement.county_town"),
    ],
)
def test_colloquial_questions_find_their_rule_confidently(fixture_kb, day, question, rule_id):
    hit = top(fixture_kb, question, day)
    assert hit is not None and hit.rule.id == rule_id
    assert hit.score >= MIN_CONFIDENT_SCORE


def test_full_width_and_traditional_are_normalised():
    assert normalize_for_search("ＡＢＣ　１２３，創業") == "abc 123,创业"


@pytest.mark.parametrize("question", ["今天银川天气怎么样", "你好", "咋办", "火车票怎么买"])
def test_out_of_scope_question_is_not_confident(fixture_kb, day, question):
    hits = fixture_kb.search(question, on=day)
    assert not hits or hits[0].score < MIN_CONFIDENT_SCORE, [(hit.rule.id, hit.score) for hit in hits]


def test_scores_are_in_unit_interval_and_sorted(fixture_kb, day):
    hits = fixture_kb.search("创业贷款 工资 孩子 落户 养老", on=day, limit=10)
    assert hits
    assert all(0.0 <= hit.score <= 1.0 for hit in hits)
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_expired_rule_is_not_returned_after_its_end(fixture_kb):
    question = "2021年创业贷款额度"
    before = [hit.rule.id for hit in fixture_kb.search(question, on=datetime.date(2024, 10, 27), limit=10)]
    after = [hit.rule.id for hit in fixture_kb.search(question, on=datetime.date(2024, 10, 28), limit=10)]
    assert "startup_loan.loan_limits_2021" in before
    assert "startup_loan.loan_limits_2021" not in after


def test_future_rule_appears_only_from_its_date(fixture_kb):
    question = "职业技能培训补贴标准"
    assert top(fixture_kb, question, datetime.date(2026, 12, 31)) is None
    assert top(fixture_kb, question, datetime.date(2027, 1, 1)).rule.id == "training.new_subsidy_2027"


def test_topic_restricts(fixture_kb, day):
    hits = fixture_kb.search("贷款 工资", on=day, topic="labor_rights", limit=10)
    assert hits and {hit.rule.topic for hit in hits} == {"labor_rights"}
    with pytest.raises(ValueError):
        fixture_kb.search("贷款", on=day, topic="loans")


def test_limit_and_empty_queries(fixture_kb, day):
    assert len(fixture_kb.search("创业 贷款 工资 孩子 落户", on=day, limit=2)) == 2
    assert fixture_kb.search("", on=day) == []
    assert fixture_kb.search("？！。", on=day) == []


def test_matched_terms_show_synonyms(fixture_kb, day):
    hit = top(fixture_kb, "工钱拖了三个月", day)
    assert any(term.startswith("工钱→") for term in hit.matched_terms)


def test_a_misspelt_word_is_repaired_from_sound_or_shape(fixture_kb, day):
    homophone = top(fixture_kb, "县城落护需要些啥", day)  # 落护 sounds like 落户
    assert homophone.rule.id == "settlement.county_town"
    assert "落护→落户" in homophone.matched_terms
    lookalike = top(fixture_kb, "创业担保货款额度", day)  # 货 looks like 贷 (lookalike_chars)
    assert any(term.startswith("货款→") or term == "贷款" or term.endswith("→贷款") for term in lookalike.matched_terms)


def test_only_bigrams_no_rule_contains_are_repaired(fixture_kb):
    index = fixture_kb._index
    assert index._repairs("落户") == ()  # a word the rules use is never second-guessed
    assert "落户" in index._repairs("落护")
    assert index._repairs("落") == () and index._repairs("ab") == ()
    # Repair changes one character at most: 伤举 is not offered for 上租 although the two may sound alike.
    assert all(alt[0] == "上" or alt[1] == "租" for alt in index._repairs("上租"))


def test_a_repaired_bigram_weighs_what_an_unknown_one_does(fixture_kb, day):
    """Repair may raise the rule that uses the intended word; it never makes the question heavier for the others."""
    index = fixture_kb._index
    unit = next(unit for unit in index._query_units("落护") if unit.label == "落护")
    assert "落户" in unit.alternatives
    assert index._unit_idf(unit) == index._unseen_idf
    worker_word = next(unit for unit in index._query_units("工钱拖了") if unit.label == "工钱")  # a synonym phrase
    assert "工钱" not in index._idf and "工资" in worker_word.alternatives
    assert index._unit_idf(worker_word) == index._unseen_idf
    rule_word = next(unit for unit in index._query_units("户口咋迁") if unit.label == "户口")  # rules say 户口 too
    assert index._unit_idf(rule_word) == max(index._idf[alt] for alt in rule_word.alternatives if alt in index._idf)


def test_a_misspelt_worker_phrase_counts_as_the_phrase(fixture_kb, day):
    """ "攻钱" (攻 sounds like 工) is the worker's word 工钱, with its synonyms; "的工钱" is 工钱 after 的, and a piece
    the rules contain is never read as a typo."""
    index = fixture_kb._index
    misspelt = next(unit for unit in index._query_units("老板不给攻钱咋办") if unit.label == "工钱")
    assert "工资" in misspelt.alternatives
    assert top(fixture_kb, "老板不给攻钱咋办", day).rule.id == "labor_rights.wage_arrears_complaint"
    assert index._misspelt_phrase("工钱", "俺的工钱") is None  # spelt right: the ordinary match
    assert index._misspelt_phrase("抵工钱", "俺的工钱") is None  # 的 is a function character, never the typo
    assert index._misspelt_phrase("工钱", "工资拖了") is None  # 资 does not sound like 钱


def test_bigrams_across_two_words_weigh_less_than_bigrams_inside_a_broken_word(fixture_kb):
    from policies_kb._search import BIGRAM_WEIGHT, CROSS_BIGRAM_WEIGHT, extract_terms

    index = fixture_kb._index
    terms = extract_terms("保险转移", index.tokenizer, index.synonyms)  # 保险|转移: 险转 is noise
    assert terms["险转"] == CROSS_BIGRAM_WEIGHT < BIGRAM_WEIGHT
    typo = extract_terms("养老保线", index.tokenizer, index.synonyms)  # a typo: the bigram is the only clue
    assert typo["保线"] >= BIGRAM_WEIGHT


def test_the_shipped_pinyin_table_is_what_pypinyin_gives(tmp_path):
    """policies_kb/pinyin.txt is generated (python -m policies_kb build-pinyin); the assistant never imports pypinyin."""
    from policies_kb._search import PINYIN_PATH, build_pinyin_table

    rebuilt = tmp_path / "pinyin.txt"
    assert build_pinyin_table(rebuilt) > 20000
    assert rebuilt.read_text(encoding="utf-8") == PINYIN_PATH.read_text(encoding="utf-8")
    assert "落 luo la lao" in PINYIN_PATH.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def superseding_kb(tmp_path_factory):
    """The fixtures with the 2021 loan rule superseded by the current one, and a rule that starts in 2027 replacing
    nothing yet."""
    root = tmp_path_factory.mktemp("kb")
    shutil.copytree(FIXTURES / "rules", root / "rules")
    old = root / "rules/startup_loan/loan_limits_2021.yaml"
    old.write_text(
        old.read_text(encoding="utf-8").replace(
            "last_verified:",
            "superseded_by: startup_loan.loan_limits\nchange_note: 2021年的额度已经调整为个人最多30万元。\nlast_verified:",
        ),
        encoding="utf-8",
    )
    return KnowledgeBase.load(root / "rules", FIXTURES / "facts")


def test_search_on_a_day_serves_what_was_in_force_that_day(superseding_kb):
    question = "2021年创业贷款额度"
    on_last_day = superseding_kb.search(question, on=datetime.date(2024, 10, 27), limit=10)
    assert on_last_day[0].rule.id == "startup_loan.loan_limits_2021" and on_last_day[0].superseded is None
    after = superseding_kb.search(question, on=datetime.date(2026, 12, 2), limit=10)
    ids = [hit.rule.id for hit in after]
    assert "startup_loan.loan_limits_2021" not in ids
    top_hit = after[0]
    assert top_hit.rule.id == "startup_loan.loan_limits"
    assert top_hit.superseded is not None and top_hit.superseded.id == "startup_loan.loan_limits_2021"
    assert top_hit.superseded.change_note.startswith("2021年的额度")
    assert top_hit.to_dict()["superseded"] == "startup_loan.loan_limits_2021"
    assert ids.count("startup_loan.loan_limits") == 1  # matched itself and through its predecessor: one hit


def test_a_question_about_the_current_rule_is_an_ordinary_hit(superseding_kb):
    hits = superseding_kb.search("创业担保贷款现在能贷多少钱", on=datetime.date(2026, 12, 2))
    assert hits[0].rule.id == "startup_loan.loan_limits" and hits[0].superseded is None


def test_a_rule_is_never_served_before_its_date_even_as_a_successor(tmp_path):
    shutil.copytree(FIXTURES / "rules", tmp_path / "rules")
    old = tmp_path / "rules/startup_loan/loan_limits_2021.yaml"
    old.write_text(
        old.read_text(encoding="utf-8").replace(
            "last_verified:", "superseded_by: startup_loan.loan_limits\nchange_note: 额度调整了。\nlast_verified:"
        ),
        encoding="utf-8",
    )
    kb = KnowledgeBase.load(tmp_path / "rules", FIXTURES / "facts")
    for day in (datetime.date(2020, 1, 1), datetime.date(2021, 12, 29)):  # before either loan rule
        for question in ("2021年创业贷款额度", "创业担保贷款现在能贷多少钱"):
            assert all(hit.rule.topic != "startup_loan" for hit in kb.search(question, on=day, limit=10))
    assert all(
        hit.rule.effective_from <= datetime.date(2026, 12, 31)
        for hit in kb.search("职业技能培训补贴标准", on=datetime.date(2026, 12, 31), limit=10)
    )


def _scoped_copy(tmp_path: Path, scope: str) -> KnowledgeBase:
    shutil.copytree(FIXTURES / "rules", tmp_path / "rules")
    path = tmp_path / "rules/startup_loan/loan_limits.yaml"
    text = path.read_text(encoding="utf-8")
    assert "\nscope: ningxia\n" in text
    path.write_text(text.replace("\nscope: ningxia\n", f"\nscope: {scope}\n"), encoding="utf-8")
    return KnowledgeBase.load(tmp_path / "rules", FIXTURES / "facts")


def test_a_local_rule_weighs_less_unless_the_question_names_its_place(fixture_kb, day, tmp_path):
    from policies_kb._search import LOCAL_SCOPE_PENALTY

    local = _scoped_copy(tmp_path, "海原县")

    def score(kb, question):
        return next(
            hit.score for hit in kb.search(question, on=day, limit=10) if hit.rule.id == "startup_loan.loan_limits"
        )

    region = score(fixture_kb, "创业担保贷款最多贷多少")
    assert score(local, "创业担保贷款最多贷多少") == pytest.approx(region - LOCAL_SCOPE_PENALTY)
    for named in ("海原创业担保贷款最多贷多少", "海原县创业担保贷款最多贷多少"):
        assert score(local, named) == pytest.approx(score(fixture_kb, named))


def test_a_district_is_named_by_its_own_name_not_its_city():
    from policies_kb._search import _names_place

    assert _names_place("兴庆区的娃娃上学", "银川市兴庆区") and _names_place("兴庆的学校", "银川市兴庆区")
    assert not _names_place("银川的学校", "银川市兴庆区")
    assert _names_place("在银川创业", "银川市") and not _names_place("在固原创业", "银川市")


def test_the_old_name_is_read_whole(fixture_kb):
    """暂住证 is one unit, 居住证 among its words: split as 暂住 + 证, it left "证要" (办暂住证要啥条件) as a
    rare bigram that matched one rule by chance and weighed more than the subject."""
    units = {unit.label: unit for unit in fixture_kb._index._query_units("外地人办暂住证要啥条件")}
    assert "居住证" in units["暂住证"].alternatives
    assert "证要" not in units
    assert "居住" in {alt for unit in fixture_kb._index._query_units("暂住了半年") for alt in unit.alternatives}
