"""Who may do what: anonymous users are refused everywhere but /login, /healthz and /static/; sessions are signed,
HttpOnly, SameSite=Strict cookies that a forger cannot make or alter; every POST needs its CSRF token; logins are
rate-limited per username and per address."""

from __future__ import annotations

import base64
import json

import pytest

from bot.console._middleware import SESSION_COOKIE
from bot.console._security import Signer
from bot.settings import ROOT
from tests.console.conftest import OPERATOR, PASSWORD, make_case

PROTECTED_GETS = [
    "/",
    "/search",
    "/search?q=落户",
    "/rules/settlement.county_town_settlement",
    "/handoffs",
    "/handoffs/1",
    "/handoffs/1/messages",
    "/cases",
    "/cases/{case}",
    "/overview",
    "/no-such-page",
    "/login-but-not",
    "/healthzz",
]
PROTECTED_POSTS = [
    "/logout",
    "/handoffs/1/takeover",
    "/handoffs/1/release",
    "/handoffs/1/reply",
    "/cases/{case}/status",
    "/cases/{case}/reveal-phone",
]


@pytest.fixture
def handoff_and_case(cases, handoffs):
    handoff = handoffs.record_handoff("worker-1", "rest", "12333", {"topic": "settlement", "last_question": "落户"})
    case = make_case(cases)
    assert (handoff.id, case.case_id[:12]) == (1, "NX2611290001")  # then its random and check letters
    return handoff, case


def test_healthz_and_static_are_open(console):
    anonymous = console.client()
    rules = len(list((ROOT / "policies_kb" / "rules").glob("*/*.yaml")))  # every rule file is loaded
    assert rules > 100 and anonymous.get("/healthz").json() == {"status": "ok", "rules": rules}
    css = anonymous.get("/static/console.css")
    assert css.status_code == 200 and "text/css" in css.headers["Content-Type"]


@pytest.mark.parametrize("path", PROTECTED_GETS)
def test_anonymous_pages_redirect_to_login(console, handoff_and_case, path):
    response = console.client().get(path.format(case=handoff_and_case[1].case_id))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert "落户" not in response.text and "NX26" not in response.text


def test_anonymous_json_polling_gets_401(console, handoff_and_case):
    response = console.client().get("/handoffs/1/messages", headers={"Accept": "application/json"})
    assert response.status_code == 401


@pytest.mark.parametrize("path", PROTECTED_POSTS)
def test_anonymous_posts_are_refused_and_change_nothing(console, cases, handoff_and_case, path):
    anonymous = console.client()
    token = anonymous.token_in(anonymous.get("/login").text)  # even a valid login-form token does not help
    case_id = handoff_and_case[1].case_id
    response = anonymous.post(path.format(case=case_id), {"csrf_token": token, "status": "处理中", "text": "hi"})
    assert response.status_code == 401
    assert cases.get_case(case_id).status == "新建"
    assert console.state.takeovers.current("worker-1", console.state.now()) is None


def test_login_sets_a_signed_httponly_samesite_strict_cookie_with_expiry(console):
    client = console.client()
    response = client.login()
    assert response.status_code == 303 and response.headers["Location"] == "/search"
    cookie = next(h for h in response.raw.headers.getlist("Set-Cookie") if h.startswith(SESSION_COOKIE))
    attributes = cookie.lower()
    assert "httponly" in attributes and "samesite=strict" in attributes and "path=/" in attributes
    assert "max-age=28800" in attributes  # 8 hours
    assert client.get("/search").status_code == 200


def test_login_redirects_to_a_local_next_only(console):
    client = console.client()
    page = client.get("/login?next=/cases%3Fstatus%3D新建").text
    assert 'name="next" value="/cases?status=新建"' in page
    token = client.token_in(page)
    response = client.post(
        "/login", {"username": OPERATOR, "password": PASSWORD, "csrf_token": token, "next": "//evil.example/x"}
    )
    assert response.headers["Location"] == "/search"


def test_wrong_password_and_unknown_user_get_the_same_answer(console):
    client = console.client()
    wrong = client.login(password="wrong-password-123")
    unknown = client.login(username="nobody")
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码不对" in wrong.text and "用户名或密码不对" in unknown.text
    assert SESSION_COOKIE not in client.http.cookies


def _forge(payload: dict, signature: bytes = b"\0" * 32) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return f"{b64(json.dumps(payload).encode())}.{b64(signature)}"


def test_forged_and_tampered_cookies_are_refused(console, clock):
    victim = console.client()
    victim.login()
    real = victim.http.cookies[SESSION_COOKIE]
    payload_b64, signature_b64 = real.split(".")
    payload = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
    far_future = int(clock().timestamp()) + 10**6
    forgeries = {
        "unsigned": _forge({"sid": payload["sid"], "exp": far_future}),
        "longer expiry, old signature": f"{_forge({'sid': payload['sid'], 'exp': far_future}).split('.')[0]}."
        f"{signature_b64}",
        "signed with another key": Signer(b"x" * 48).dumps("session", {"sid": payload["sid"], "exp": far_future}),
        "signed as a CSRF token": Signer(console.state.signer.key).dumps("csrf", payload),
        "made-up session id": console.state.signer.dumps("session", {"sid": "guessed", "exp": far_future}),
        "garbage": "not-a-cookie",
        "flipped bit": real[:-2] + ("A" if real[-2] != "A" else "B") + real[-1],
    }
    for name, value in forgeries.items():
        attacker = console.client()
        attacker.http.cookies.set(SESSION_COOKIE, value)
        response = attacker.get("/cases")
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), name
    assert victim.get("/cases").status_code == 200  # the genuine cookie still works


def test_sessions_expire_and_end_at_logout(console, clock):
    client = console.client()
    client.login()
    stolen = client.http.cookies[SESSION_COOKIE]
    assert client.post_form("/logout").status_code == 303
    assert client.get("/search").status_code == 302
    replay = console.client()
    replay.http.cookies.set(SESSION_COOKIE, stolen)
    assert replay.get("/search").status_code == 302  # a copied cookie dies with the session

    late = console.client()
    late.login()
    clock.advance(hours=7, minutes=59)
    assert late.get("/search").status_code == 200
    clock.advance(minutes=2)
    assert late.get("/search").status_code == 302


def test_every_post_needs_the_sessions_csrf_token(console, client, cases, handoff_and_case):
    other = console.client()
    other.login()
    foreign_token = other.csrf()
    case_id = handoff_and_case[1].case_id
    for token in (None, "", "forged", foreign_token):
        data = {"status": "处理中"} if token is None else {"status": "处理中", "csrf_token": token}
        response = client.post(f"/cases/{case_id}/status", data)
        assert response.status_code == 403, token
        assert "安全校验失败" in response.text
    assert cases.get_case(case_id).status == "新建"
    header = client.post(f"/cases/{case_id}/status", {"status": "处理中"}, headers={"X-CSRF-Token": client.csrf()})
    assert header.status_code == 303
    assert cases.get_case(case_id).status == "处理中"


def test_login_form_needs_its_csrf_token_and_cookie(console):
    client = console.client()
    no_cookie = client.post("/login", {"username": OPERATOR, "password": PASSWORD, "csrf_token": "x"})
    assert no_cookie.status_code == 403
    token = client.token_in(client.get("/login").text)
    assert client.post("/login", {"username": OPERATOR, "password": PASSWORD}).status_code == 403
    assert (
        client.post("/login", {"username": OPERATOR, "password": PASSWORD, "csrf_token": token + "x"}).status_code
        == 403
    )
    stranger = console.client()  # a token without its login cookie (a cross-site form) is refused
    assert stranger.post("/login", {"username": OPERATOR, "password": PASSWORD, "csrf_token": token}).status_code == 403
    assert client.post("/login", {"username": OPERATOR, "password": PASSWORD, "csrf_token": token}).status_code == 303


def test_logins_are_rate_limited_per_username(console):
    client = console.client()
    for _ in range(5):
        assert client.login(password="wrong-password-123").status_code == 401
    blocked = client.login()  # the right password does not help while blocked, and is not even checked
    assert blocked.status_code == 429
    assert "登录尝试次数过多" in blocked.text
    assert 0 < int(blocked.headers["Retry-After"]) <= 15 * 60
    assert console.client().login(username=OPERATOR).status_code == 429  # per username, whatever the browser


def test_logins_are_rate_limited_per_address(console):
    state = console.state
    state.accounts.create_operator("operator2", PASSWORD, state.now())
    client = console.client()
    for i in range(20):
        assert client.login(username=f"guess{i}", password="wrong-password-123").status_code == 401
    assert client.login(username="operator2").status_code == 429  # same address, fresh username


def test_rate_limit_window_passes(console, clock):
    client = console.client()
    for _ in range(5):
        client.login(password="wrong-password-123")
    assert client.login().status_code == 429
    clock.advance(minutes=15, seconds=1)
    assert client.login().status_code == 303


def test_security_headers(client):
    response = client.get("/search")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script>" not in response.text and "style=" not in response.text  # nothing inline for the CSP to block


def test_unknown_page_is_a_chinese_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404 and "页面不存在" in response.text


def test_an_unavailable_store_gets_a_503_page(client, console, monkeypatch):
    from bot.cases import CaseStoreUnavailable

    def broken(*args, **kwargs):
        raise CaseStoreUnavailable("database is locked")

    monkeypatch.setattr(console.state.cases, "list_cases", broken)
    response = client.get("/cases")
    assert response.status_code == 503 and "数据库暂时无法访问" in response.text
