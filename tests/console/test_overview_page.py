"""The overview page: charts and numbers from Rasa's event broker and the app store, the fallback questions."""

from __future__ import annotations

import html
import re
from pathlib import Path

from tests.bot.console.test_stats import EVENTS, publish
from tests.console.conftest import make_case


def test_overview_counts_and_charts(client, console, cases, handoffs):
    publish(Path(console.settings.events_db_url.removeprefix("sqlite:///")), EVENTS)
    make_case(cases)
    handoffs.record_handoff("a", "rest", "12333", {})
    page = html.unescape(client.get("/overview", params={"days": 7}).text)
    totals = dict(
        re.findall(r'data-chart="(\w+)">\s*<figcaption><strong>[^<]+</strong> 合计 <span class="total">(\d+)', page)
    )
    assert totals == {"conversations": "4", "answers": "2", "fallbacks": "3", "handoffs": "1", "cases": "1"}
    assert page.count("<rect ") >= 5 * 7  # one bar per day and series
    assert "落户" in page and "劳动权益" in page  # answers per topic, in Chinese
    assert "老板跑了" in page and "2 次" in page and "13812345678" not in page
    assert 'role="img"' in page and "<desc" in page  # the charts describe themselves
    assert "<th scope=\"row\">2026-11-28</th><td>2</td><td>1</td><td>2</td>" in page


def test_overview_without_broker_events(client):
    page = client.get("/overview").text
    assert "读不到助手的对话库" in page and "最近 14 天" in page
    assert client.get("/overview", params={"days": "abc"}).status_code == 200


def test_overview_shows_the_share_of_sms_and_wechat_messages_delivered_per_day(client, console, clock):
    from datetime import timedelta

    deliveries = console.state.deliveries
    clock.advance(days=-1)  # yesterday (2026-11-28 in Ningxia): four SMS, three delivered, one failed
    deliveries.sent("sms", "sms:13812345678", "reply", ["s1", "s2", "s3", "s4"])
    for provider_id in ("s1", "s2", "s3"):
        deliveries.report("sms", provider_id, True, "DELIVRD")
    deliveries.report("sms", "s4", False, "空号")
    clock.advance(days=1)  # today: two WeChat template messages, one delivered, one without a report yet
    deliveries.sent("wechat", "wechat:o1", "case_update", ["w1"])
    deliveries.sent("wechat", "wechat:o2", "case_update", ["w2"])
    deliveries.report("wechat", "w1", True, "success", at=clock.now + timedelta(seconds=5))
    page = html.unescape(client.get("/overview", params={"days": 7}).text)
    shares = dict(re.findall(r'<tr data-day="([\d-]+)">(.*?)</tr>', page, re.S))
    assert len(shares) == 7
    yesterday = re.findall(r'data-channel="(\w+)">([^<]+)<', shares["2026-11-28"])
    assert yesterday == [("sms", "75%"), ("wechat", "—")]
    assert "（失败 1）" in shares["2026-11-28"]
    today = re.findall(r'data-channel="(\w+)">([^<]+)<', shares["2026-11-29"])
    assert today == [("sms", "—"), ("wechat", "50%")] and "（未回执 1）" in shares["2026-11-29"]
    total = page.split("<tfoot>")[1].split("</tfoot>")[0]
    assert re.findall(r'data-channel="(\w+)">([^<]+)<', total) == [("sms", "75%"), ("wechat", "50%")]
