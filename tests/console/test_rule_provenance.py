"""Rule pages show each source's quality, who verified the rule and how, and warn operators when a rule rests only
on news or third-party pages (issue 11 §2)."""

from __future__ import annotations

import html

WARNING = "来源只有新闻报道或第三方转载"
LABELS = {
    "official_text": "法规原文·已逐字核对",
    "official_page": "政府网站",
    "news": "新闻报道",
    "third_party": "第三方转载",
}


def _weak(rule) -> bool:
    return all(source.quality in ("news", "third_party") for source in rule.sources)


def test_a_rule_resting_only_on_news_or_reposts_carries_a_visible_warning(client, kb):
    weak = [rule for rule in kb.rules if _weak(rule)]
    assert weak, "the shipped knowledge base has rules resting only on news/third-party pages"
    for rule in weak[:3]:
        page = html.unescape(client.get(f"/rules/{rule.id}").text)
        assert WARNING in page
        for source in rule.sources:
            assert LABELS[source.quality] in page


def test_an_official_rule_shows_its_qualities_and_verification_without_the_warning(client, kb):
    rule = next(rule for rule in kb.rules if rule.sources[0].quality == "official_text")
    page = html.unescape(client.get(f"/rules/{rule.id}").text)
    assert WARNING not in page
    assert "法规原文·已逐字核对" in page
    assert f"核对人和方法：{rule.verified_by}" in page
