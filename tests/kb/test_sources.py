"""The shipped texts and the mechanical quote check (issue 11 §1): a quote must be its cited article's own text."""

from __future__ import annotations

import dataclasses
import datetime
import shutil
from pathlib import Path

import pytest

from policies_kb import _checks
from policies_kb._checks import cross_check, states_a_figure
from policies_kb._loader import load_files
from policies_kb._schema import Rule, Source
from policies_kb._sources import CONTRACT_TEXT_IDS, load_texts, locate, normalise_for_quote, quote_problem

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
PENSION = FIXTURES / "rules/insurance/pension_15_years.yaml"
QUOTE_16 = "参加基本养老保险的个人，达到法定退休年龄时累计缴费满十五年的，按月领取基本养老金。"


@pytest.fixture(scope="module")
def texts():
    loaded, errors = load_texts()
    assert errors == []
    return loaded


def test_the_sixteen_texts_of_the_contract_ship_with_their_metadata(texts):
    assert set(texts) == set(CONTRACT_TEXT_IDS)
    for text in texts.values():
        assert text.title and text.issuer and text.body.strip()
        assert text.version == (text.revised[-1] if text.revised else text.adopted)
    injury = texts["work_injury_insurance_regulations"]
    assert (injury.doc_no, injury.version) == ("国务院令第586号", datetime.date(2010, 12, 20))
    seed = texts["nx_rsh_2023_81"]
    assert (seed.doc_no, seed.adopted, seed.kind) == ("宁人社函〔2023〕81号", datetime.date(2023, 3, 29), "notice")


def test_locate_articles_paragraphs_items_and_notice_sections(texts):
    inspection = texts["labor_inspection_regulations"]
    second = locate(inspection, "第二十条第二款")
    assert second.startswith("前款规定的期限") and "继续状态" in second
    assert "继续状态" not in locate(inspection, "第二十条第一款")
    assert locate(inspection, "第二十条").count("\n") == 1  # two paragraphs
    item = locate(texts["residence_permit_regulations"], "第十六条(一)")
    assert item.startswith("(一)建制镇") and "中等城市" not in item
    seed = texts["nx_rsh_2023_81"]
    section = locate(seed, "二(七)")
    assert section.startswith("(七)加强公共就业服务") and "(六)" not in section
    assert "(七)" in locate(seed, "二") and "0951-12333" in locate(seed, "页脚（政策咨询电话）")
    assert locate(texts["social_insurance_law"], "全文") == texts["social_insurance_law"].body
    assert locate(texts["social_insurance_law"], "第九百条") is None
    assert locate(seed, "九(一)") is None


def test_a_verbatim_quote_passes_whatever_its_punctuation_and_ellipses(texts):
    law = texts["social_insurance_law"]
    assert quote_problem(QUOTE_16, law, "第十六条") is None
    assert quote_problem("参加基本养老保险的个人, 达到法定退休年龄时……按月领取基本养老金", law, "第十六条") is None
    assert normalise_for_quote("（一）甲，乙。") == "一甲乙"


def test_every_one_character_change_of_a_quote_is_refused(texts):
    law = texts["social_insurance_law"]
    positions = [i for i, ch in enumerate(QUOTE_16) if normalise_for_quote(ch)]
    for i in positions:
        replacement = "甲" if QUOTE_16[i] != "甲" else "乙"
        altered = QUOTE_16[:i] + replacement + QUOTE_16[i + 1 :]
        problem = quote_problem(altered, law, "第十六条")
        assert problem is not None, altered
        assert problem.startswith("not found in 中华人民共和国社会保险法 第十六条")


def test_a_quote_moved_to_another_article_is_refused(texts):
    law = texts["social_insurance_law"]
    for article in ("第十五条", "第十七条", "第九十五条"):
        assert "not found" in quote_problem(QUOTE_16, law, article)
    # one of several cited articles is enough, as long as each part is in one of them
    assert quote_problem(QUOTE_16, law, "第十五条、第十六条") is None


def test_the_error_names_rule_file_article_and_first_missing_part(tmp_path):
    rules = tmp_path / "rules/insurance"
    rules.mkdir(parents=True)
    altered = PENSION.read_text(encoding="utf-8").replace(
        "quote: 参加基本养老保险的个人，达到法定退休年龄时累计缴费满十五年的，按月领取基本养老金。",
        "quote: 参加基本养老保险的个人……累计缴费满十年的……按月领取基本养老金。",
    )
    assert "满十年" in altered
    (rules / "pension_15_years.yaml").write_text(altered, encoding="utf-8")
    result = load_files(tmp_path / "rules", FIXTURES / "facts")
    [error] = result.errors
    assert error.path.endswith("rules/insurance/pension_15_years.yaml") and error.field == "quote"
    assert "第十六条" in error.message and "「累计缴费满十年的」" in error.message
    assert "参加基本养老保险的个人" not in error.message.split("「")[1]  # the first part was found


def test_a_text_missing_from_the_sources_dir_is_refused(tmp_path):
    shutil.copytree(HERE.parent.parent / "policies_kb/sources", tmp_path / "sources")
    (tmp_path / "sources/social_insurance_law.md").unlink()
    result = load_files(FIXTURES / "rules", FIXTURES / "facts", tmp_path / "sources")
    assert any(e.field == "sources[0].text" and "social_insurance_law" in e.message for e in result.errors)


def _weak_rule(answer: str) -> Rule:
    source = Source("某报道", "", "某报", datetime.date(2025, 1, 1), "全文", quality="news")
    return Rule(
        id="housing.weak",
        topic="housing",
        title="t",
        questions=("a", "b", "c"),
        answer=answer,
        quote="q",
        sources=(source,),
        scope="ningxia",
        decided_locally=True,
        effective_from=datetime.date(2025, 1, 1),
        effective_until=None,
        last_verified=datetime.date(2026, 12, 2),
        verified_by="test",
    )


def test_a_figure_resting_only_on_news_needs_the_hedge_and_where_to_confirm(monkeypatch):
    bare = _weak_rule("保租房面积一般在70平方米以内。")
    hedged = _weak_rule("据报道，保租房面积一般在70平方米以内，以当地公布为准，可打0951-12333问。")
    no_number = _weak_rule("据报道，保租房面积一般在70平方米以内，以当地公布为准。")
    no_figure = _weak_rule("可以打0951-12333问，2021年起各地陆续开办。")
    official = dataclasses.replace(bare, sources=(dataclasses.replace(bare.sources[0], quality="official_page"),))
    monkeypatch.setattr(_checks, "HEDGE_IS_ERROR", True)
    errors, warnings = cross_check([bare, hedged, no_number, no_figure, official], {})
    assert warnings == []
    assert [error.field for error in errors] == ["answer", "answer"]
    monkeypatch.setattr(_checks, "HEDGE_IS_ERROR", False)
    errors, warnings = cross_check([bare], {})
    assert errors == [] and len(warnings) == 1
    assert states_a_figure("最多贷30万元") and states_a_figure("十五年") and not states_a_figure("打12333，2024年")


def test_the_package_must_ship_every_text_of_the_contract(tmp_path, monkeypatch):
    from policies_kb import _sources

    shutil.copytree(HERE.parent.parent / "policies_kb/sources", tmp_path / "sources")
    (tmp_path / "sources/legal_aid_law.md").unlink()
    monkeypatch.setattr(_sources, "DEFAULT_SOURCES_DIR", tmp_path / "sources")
    result = load_files(FIXTURES / "rules", FIXTURES / "facts")
    assert [(Path(e.path).name, e.message) for e in result.errors] == [("legal_aid_law.md", "shipped text missing")]
