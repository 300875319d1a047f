"""Answer lookup in the console: the knowledge base's own ranking, the answer with its quoted clause, sources with
document numbers and links, scope, validity and the decided-locally flag; topic filter; rule pages; fast."""

from __future__ import annotations

import html
import re
from datetime import UTC, date

from bot.console._lookup_views import copy_text


def test_search_shows_the_same_ranking_as_the_assistant(client, kb):
    response = client.get("/search", params={"q": "在县城落户要啥条件"})
    assert response.status_code == 200
    expected = [hit.rule.id for hit in kb.search("在县城落户要啥条件", on=date(2026, 11, 29), limit=10)]
    shown = re.findall(r'id="rule-([\w.]+)"', response.text)
    assert shown == expected and shown[0] == "settlement.county_town_settlement"


def test_a_result_has_answer_quote_sources_scope_validity_and_the_copy_text(client, kb):
    page = html.unescape(client.get("/search", params={"q": "落户"}).text)
    rule = kb.get("settlement.county_town_settlement")
    assert rule.answer in page and rule.quote in page
    source = rule.sources[0]
    assert source.doc_no in page and "宁人社函〔2023〕81号" in page
    assert f'href="{source.url}"' in page if source.url else True
    assert "适用：" in page and "有效期：" in page and "最近核对" in page
    assert f'data-copy="{copy_text(rule)}"' in page
    assert copy_text(rule) == f"{rule.answer}\n来源：{rule.citation()}"


def test_decided_locally_rules_are_flagged(client, kb):
    rule = kb.get("settlement.city_settlement_conditions")
    assert rule.decided_locally
    page = client.get(f"/rules/{rule.id}").text
    assert "各地自定" in page


def test_links_to_sources_open_safely(client, kb):
    rule = next(r for r in kb.rules if any(s.url for s in r.sources))
    page = client.get(f"/rules/{rule.id}").text
    assert re.search(r'<a href="https://[^"]+" target="_blank" rel="noopener noreferrer">原文链接', page)


def test_topic_filter(client, kb):
    page = client.get("/search", params={"q": "补贴", "topic": "training"}).text
    shown = re.findall(r'id="rule-([\w.]+)"', page)
    assert shown and all(rule_id.startswith("training.") for rule_id in shown)
    browse = client.get("/search", params={"topic": "housing"}).text
    listed = re.findall(r'id="rule-([\w.]+)"', browse)
    assert sorted(listed) == sorted(r.id for r in kb.rules_by_topic("housing", on=date(2026, 11, 29)))


def test_unknown_topic_is_explained_and_ignored(client):
    page = client.get("/search", params={"q": "落户", "topic": "nonsense"}).text
    assert "没有“nonsense”这个主题" in page and 'id="rule-settlement.' in page


def test_markup_in_a_query_is_escaped(client):
    page = client.get("/search", params={"q": "<script>alert(1)</script>"}).text
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page


def test_nothing_found(client):
    page = client.get("/search", params={"q": "zzzz qqqq"}).text
    assert "找到 0 条" in page and "没有找到合适的政策" in page


def test_rule_page_and_unknown_rule(client, kb):
    rule = kb.get("settlement.county_town_settlement")
    page = html.unescape(client.get(f"/rules/{rule.id}").text)
    assert rule.title in page and rule.questions[0] in page and "不在有效期内" not in page
    missing = client.get("/rules/settlement.no_such_rule")
    assert missing.status_code == 404 and "没有编号为 settlement.no_such_rule 的规则" in missing.text


def test_a_rule_out_of_force_says_so(client, kb, clock):
    from datetime import datetime

    rule = next((r for r in kb.rules if r.effective_until is not None), None)
    if rule is None:
        rule = kb.rules[0]
        clock.now = datetime(rule.effective_from.year - 1, 1, 1, tzinfo=UTC)
    else:
        clock.now = datetime(rule.effective_until.year + 1, 1, 1, tzinfo=UTC)
    assert "不在有效期内" in client.get(f"/rules/{rule.id}").text
