"""The console in real headless Chromium (the system's /usr/bin/chromium, driven by Playwright), against the real
assistant that the launcher starts (Rasa with the REST channel, the action server, and this console).

An operator logs in, searches 落户 and opens the rule, moves a case that a REST intake conversation recorded to 处理中
(and another one with a message to the worker, whose REST client receives the notification the notifier sends),
takes over a REST conversation the assistant handed to 12333 and answers the worker, whose REST client receives the
reply. Screenshots go to
test-artifacts/console/ (desktop and phone width).
"""

from __future__ import annotations

import time
import urllib.parse
from pathlib import Path

import pytest

from bot.handoffs import HandoffService
from bot.settings import ROOT
from bot.store import AppStore
from tests.support.assistant import http_json

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts" / "console"
OPERATOR, PASSWORD = "browser-operator", "browser-password-1"
PHONE = {"width": 375, "height": 740}


@pytest.fixture(scope="module")
def console_url(assistant) -> str:
    """The console of the shared assistant, with an operator account for the browser."""
    from bot.console._accounts import Accounts
    from bot.store.types import utcnow

    accounts = Accounts(AppStore(assistant.settings.app_db_url))
    if not accounts.operator_exists(OPERATOR):
        accounts.create_operator(OPERATOR, PASSWORD, utcnow())
    return assistant.settings.console_url


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("chromium is missing: `make test` installs it (scripts/system-packages.txt)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, console_url):
    """A logged-in desktop page."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN", permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    login(page, console_url)
    yield page
    context.close()


def login(page, console_url: str) -> None:
    page.goto(console_url + "/")
    assert "/login" in page.url
    page.get_by_label("用户名").fill(OPERATOR)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/search")


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_log_in_search_and_open_the_rule(page, console_url):
    shot(page, "01-search-empty")
    page.get_by_label("问题").fill("居住证咋办")
    started = time.perf_counter()
    page.get_by_role("button", name="查找").click()
    page.wait_for_selector("ol.results article")
    round_trip = time.perf_counter() - started
    elapsed_ms = float(page.locator("[data-elapsed-ms]").inner_text())
    print(
        f"\nsearch 居住证咋办: {elapsed_ms:.0f} ms in the knowledge base, {round_trip * 1000:.0f} ms click to results"
    )
    assert elapsed_ms < 500 and round_trip < 2
    assert page.locator("ol.results article").count() >= 3
    shot(page, "02-search-luohu")

    first = page.locator("ol.results article").first
    title = first.locator(".rule-title a").inner_text()
    first.locator(".rule-title a").click()
    page.wait_for_url("**/rules/settlement.*")
    assert page.locator("h1").inner_text().strip() == title
    assert page.get_by_text("来源").first.is_visible() and page.locator(".doc-no").count() >= 1
    assert page.locator("blockquote").inner_text().strip()
    page.get_by_role("button", name="复制答复和出处").click()
    page.get_by_role("button", name="已复制").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "\n来源：《" in copied
    shot(page, "03-rule")


# The worker's side of a case intake: what to answer to each question the intake form asks (matched on its words).
INTAKE_ANSWERS = [
    ("核对", "确认"),
    ("同意", "同意"),
    ("称呼", "马建国"),
    ("手机号", "13812345678"),
    ("县", "金凤区"),
    ("对方", "包工头姓马"),
    ("多少钱", "三个月工资一万二"),
    ("时间", "去年10月到12月"),
    ("情况", "在工地干了三个月活，老板一直拖着不给钱"),
]


def intake_case(assistant, sender: str) -> str:
    """Report unpaid wages over REST, accept the offer to record a case and answer the form; the case number."""
    replies = assistant.say(sender, "老板欠了我三个月工资不给")
    offer = next(m for m in replies if any("登记" in b["title"] for b in m.get("buttons", [])))
    replies = assistant.say(sender, next(b["payload"] for b in offer["buttons"] if "登记" in b["title"]))
    for _ in range(15):
        created = [m["custom"]["case_id"] for m in replies if m.get("custom", {}).get("kind") == "case_created"]
        if created:
            return created[0]
        question = replies[-1].get("text", "")
        answer = next((a for words, a in INTAKE_ANSWERS if words in question), None)
        assert answer, f"unexpected intake question: {question!r}"
        replies = assistant.say(sender, answer)
    pytest.fail(f"no case after 15 turns: {replies}")


def test_move_a_case_to_in_progress(page, assistant):
    from bot.cases import CaseService

    case_id = intake_case(assistant, "browser-intake")  # a real REST conversation with the assistant
    cases = CaseService(AppStore(assistant.settings.app_db_url))
    case = cases.get_case(case_id)
    assert (case.channel, case.sender_id, case.phone, case.county) == (
        "rest",
        "rest:browser-intake",  # the open development REST channel's conversation
        "13812345678",
        "金凤区",
    )
    page.get_by_role("link", name="案件").click()
    page.get_by_role("link", name=case.case_id).click()
    assert page.locator("#phone").inner_text() == "138****5678"
    shot(page, "04-case")
    page.get_by_label("处理中").check()
    page.get_by_label("备注").fill("已转金凤区劳动监察大队")
    page.get_by_role("button", name="保存").click()
    page.get_by_text("状态已改为“处理中”").wait_for()
    assert page.locator("table").get_by_text("已转金凤区劳动监察大队").is_visible()
    assert cases.case_status(case.case_id, "13812345678").status == "处理中"
    page.get_by_role("button", name="显示完整号码").click()
    assert page.locator("#phone").inner_text() == "13812345678"
    shot(page, "05-case-in-progress")


def test_moving_a_case_notifies_the_workers_rest_client(page, assistant):
    """The operator closes a case with a message to the worker; the launcher's notifier sends the notification, and
    the worker's REST client (no takeover) receives it from GET /webhooks/rest/messages; the case page shows it
    delivered."""
    worker = "browser-notified"
    case_id = intake_case(assistant, worker)
    page.goto(f"{assistant.settings.console_url}/cases/{case_id}")
    page.get_by_label("处理中").check()
    page.get_by_label("给工人的话").fill("已经联系上老板，这周内结清")
    page.get_by_role("button", name="保存").click()
    page.get_by_text("状态已改为“处理中”").wait_for()
    url = f"{assistant.settings.rasa_url}/webhooks/rest/messages?sender={urllib.parse.quote(worker)}"
    received: list[dict] = []
    deadline = time.monotonic() + 60
    while not received and time.monotonic() < deadline:  # the notifier polls its outbox every second
        received = http_json(url)
        if not received:
            time.sleep(0.5)
    assert received == [
        {
            "recipient_id": worker,
            "text": f"您登记的案件{case_id}有新进展：已经联系上老板，这周内结清。详询0951-12333",
            "from": "operator",
            "custom": {"kind": "case_update", "case_id": case_id, "status": "处理中"},
        }
    ]
    assert http_json(url) == []  # handed out once
    page.reload()
    row = page.locator("#notifications tbody tr").first
    assert row.get_attribute("data-state") == "delivered"
    assert "已送达" in row.inner_text()
    shot(page, "05b-case-notification-delivered")


def test_take_over_a_handed_off_conversation_and_reply(page, assistant, console_url):

    worker = "browser-worker"
    assert assistant.say(worker, "在县城落户要啥条件")  # the assistant answers before the takeover
    handed = assistant.say(worker, "转人工")
    assert any(m.get("custom", {}).get("kind") == "handoff" for m in handed)
    [handoff] = [
        h
        for h in HandoffService(AppStore(assistant.settings.app_db_url)).list_handoffs()
        if h.sender_id == f"rest:{worker}"
    ]  # recorded by the dialogue's handoff action
    assert (handoff.channel, handoff.topic) == ("rest", "settlement")

    page.get_by_role("link", name="转人工").click()
    page.locator(f'a[href="/handoffs/{handoff.id}"]').click()
    page.locator(".chat").get_by_text("在县城落户要啥条件").first.wait_for()  # the transcript, read from Rasa
    page.get_by_role("button", name="接管对话").click()
    page.get_by_text("您已接管这个对话").wait_for()

    assert assistant.say(worker, "还有人吗") == []  # the assistant stays silent
    page.locator("#live-messages").get_by_text("还有人吗").wait_for(timeout=10_000)  # polled in

    page.get_by_label("回复工人").fill("您好，我是12333的小王，请问您在哪个县？")
    page.get_by_role("button", name="发送").click()
    page.locator("#live-messages").get_by_text("您好，我是12333的小王").wait_for()
    shot(page, "06-handoff-taken-over")

    received = http_json(f"{assistant.settings.rasa_url}/webhooks/rest/messages?sender={urllib.parse.quote(worker)}")
    assert received == [{"recipient_id": worker, "text": "您好，我是12333的小王，请问您在哪个县？", "from": "operator"}]

    page.get_by_role("button", name="交还助手").click()
    page.get_by_text(f"上次由 {OPERATOR} 接管").wait_for()
    assert assistant.say(worker, "娃娃上学要啥材料"), "the assistant answers again after the release"


def test_the_page_notices_when_the_conversation_goes_back(page, assistant):
    """Released elsewhere (another operator's console process, or the 30-minute timeout noticed by the gate)."""
    from bot.store.types import utcnow
    from bot.takeover import TakeoverService

    handoff = HandoffService(AppStore(assistant.settings.app_db_url)).record_handoff(
        "browser-worker-2", "rest", "12333", {"last_question": "咋办"}
    )
    page.goto(f"{assistant.settings.console_url}/handoffs/{handoff.id}")
    page.get_by_role("button", name="接管对话").click()
    page.get_by_text("您已接管这个对话").wait_for()
    TakeoverService(AppStore(assistant.settings.app_db_url)).release("browser-worker-2", OPERATOR, utcnow())
    page.get_by_text("对话已交还助手（已交还或 30 分钟没有回复）").wait_for(timeout=10_000)
    assert page.get_by_role("button", name="发送").is_disabled()


def test_phone_width(browser, console_url):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        login(page, console_url)
        for path, name in [
            ("/search?q=落户", "phone-search"),
            ("/handoffs", "phone-handoffs"),
            ("/cases", "phone-cases"),
            ("/overview", "phone-overview"),
        ]:
            page.goto(console_url + path)
            assert no_horizontal_scroll(page), path
            shot(page, name)
    finally:
        context.close()


def test_overview_and_logout(page, console_url):
    page.get_by_role("link", name="概览").click()
    page.locator("figure.chart svg").first.wait_for()
    assert page.locator("figure.chart").count() == 5
    shot(page, "07-overview")
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login")
    page.goto(console_url + "/cases")
    assert "/login" in page.url
