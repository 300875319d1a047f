"""Attacks on the operator console (issue 14 §7, §6's console half, §10's operator commands and transcript masking),
each performed against the real console: aiohttp on 127.0.0.1 over a real SQLite app store, as tests/console does.

Each test shows the attack refused and the real operator unaffected: guessing bursts get at most the throttle's
limit of password checks, a locked-out operator gets in after the back-off, the counters hold across two console
processes, X-Forwarded-For is believed only from a configured proxy, `?next=` cannot leave the console, production
cookies are `__Host-`/Secure with HSTS, a disabled operator's or reset account's live session ends at once (through
the real `python -m bot.console` commands), and a transcript shows 138****5678 until the audited reveal.
"""

# ruff: noqa: F811  (the fixtures of tests/console/conftest.py are imported, then requested by name)
from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from bot.console import _accounts
from bot.console.app import create_app
from bot.console.web import CONSOLE
from bot.settings import ROOT, Settings
from bot.store import AppStore
from tests.console.conftest import (  # noqa: F401  (fixtures)
    OPERATOR,
    PASSWORD,
    RASA_TOKEN,
    Client,
    cases,
    clock,
    db_url,
    fake_rasa_app,
    fast_password_hashing,
    handoffs,
    kb,
    migrated_template,
    servers,
    store,
    trackers,
)

WRONG = "wrong-password-123"
USER_LIMIT, ADDRESS_LIMIT = 5, 20  # guesses per username, and per client address, before the back-off
FIRST_DELAY = 30  # seconds after the username's 5th failure
SECRET_KEY = "k" * 48


@pytest.fixture
def start(tmp_path, store, kb, clock, trackers, servers):
    """start(**env) → (url, console state): a console app on a free port on the test's store (`store=` another
    AppStore on the same database plays a second console process), with extra environment variables."""
    rasa_url = servers.serve(fake_rasa_app(trackers))
    created = []

    def run(*, app_store: AppStore | None = None, **env: str):
        settings = Settings.from_env(
            {
                "NXA_VAR_DIR": str(tmp_path / "var"),
                "APP_DB_URL": store.url,
                "RASA_PORT": rasa_url.rsplit(":", 1)[1],
                "RASA_AUTH_TOKEN": RASA_TOKEN,
                **env,
            }
        )
        app = create_app(settings, store=app_store or store, kb=kb, clock=clock)
        state = app[CONSOLE]
        if not created:
            state.accounts.create_operator(OPERATOR, PASSWORD, clock())
        created.append(state)
        return servers.serve(app), state

    return run


@pytest.fixture
def verifications(monkeypatch):
    """Every argon2 verification the console makes, counted."""
    calls = []
    real = _accounts.verify_password

    def counting(password_hash, password):
        calls.append(password)
        return real(password_hash, password)

    monkeypatch.setattr(_accounts, "verify_password", counting)
    return calls


def login_form(url: str, headers: dict | None = None) -> tuple[dict, str]:
    """The login cookie and CSRF token of a fresh login form."""
    client = Client(url)
    page = client.get("/login", headers=headers or {})
    return dict(client.http.cookies), client.token_in(page.text)


def burst(url: str, attempts: list[dict], headers: list[dict] | None = None) -> list[requests.Response]:
    """POST /login with each of `attempts` (username, password) all at once, each from its own HTTP connection."""
    cookies, token = login_form(url)
    headers = headers or [{}] * len(attempts)

    def post(i: int) -> requests.Response:
        return requests.post(
            url + "/login",
            data={**attempts[i], "csrf_token": token},
            cookies=cookies,
            headers=headers[i],
            allow_redirects=False,
            timeout=120,
        )

    with ThreadPoolExecutor(len(attempts)) as pool:
        return list(pool.map(post, range(len(attempts))))


def statuses(responses: list[requests.Response]) -> list[int]:
    return sorted(response.status_code for response in responses)


# -- §7: the throttle is reserved before the password check, atomically, in the app store --------------------------


def test_a_burst_of_50_parallel_bad_logins_checks_at_most_the_limit_of_passwords(start, verifications, clock):
    url, _ = start()
    limit = USER_LIMIT
    responses = burst(url, [{"username": OPERATOR, "password": f"{WRONG}{i}"} for i in range(50)])
    assert statuses(responses) == [401] * limit + [429] * (50 - limit)
    assert len(verifications) == limit  # the other 45 never reached argon2

    # The real operator, locked out, gets in once the back-off has passed (and not before).
    operator = Client(url)
    assert operator.login().status_code == 429
    clock.advance(seconds=FIRST_DELAY - 2)
    assert operator.login().status_code == 429
    clock.advance(seconds=3)
    assert operator.login().status_code == 303
    assert operator.get("/search").status_code == 200


def test_a_burst_over_many_usernames_gets_at_most_the_address_limit(start, verifications):
    url, _ = start()
    limit = ADDRESS_LIMIT
    responses = burst(url, [{"username": f"guess{i}", "password": WRONG} for i in range(50)])
    assert statuses(responses) == [401] * limit + [429] * (50 - limit)
    assert len(verifications) == limit


def test_the_lockout_is_a_capped_back_off_never_a_ban(start, clock):
    url, _ = start()
    attacker = Client(url)
    waits = []
    for _ in range(30):  # an attacker who keeps guessing as fast as the throttle lets them
        response = attacker.login(password=WRONG)
        if response.status_code == 429:
            waits.append(int(response.headers["Retry-After"]))
            clock.advance(seconds=waits[-1])
    assert waits[:4] == [30, 60, 120, 240] and max(waits) == 15 * 60 == waits[-1]  # doubling, then capped
    clock.advance(seconds=15 * 60)
    assert Client(url).login().status_code == 303  # the operator still gets in after the cap
    assert Client(url).login(password=WRONG).status_code == 401  # and a success starts the username over


def test_the_counters_hold_across_two_console_processes_on_one_store(start, store):
    url_a, _ = start()
    second_store = AppStore(store.url)  # another process: its own engine and connections, the same database
    try:
        url_b, _ = start(app_store=second_store)
        for url in (url_a, url_a, url_a, url_b, url_b):
            assert Client(url).login(password=WRONG).status_code == 401
        assert Client(url_a).login().status_code == 429
        assert Client(url_b).login().status_code == 429
        mixed = burst(url_a, [{"username": OPERATOR, "password": WRONG}] * 10)
        assert statuses(mixed) == [429] * 10
    finally:
        second_store.dispose()


def test_x_forwarded_for_is_ignored_without_a_trusted_proxy(start):
    url, _ = start()
    for i in range(20):  # a different forged client address for every guess
        spoofed = {"X-Forwarded-For": f"198.51.100.{i}"}
        assert login_as(url, f"guess{i}", WRONG, spoofed).status_code == 401
    assert login_as(url, OPERATOR, PASSWORD, {"X-Forwarded-For": "198.51.100.250"}).status_code == 429


def test_x_forwarded_for_names_the_client_behind_a_trusted_proxy(start):
    url, _ = start(CONSOLE_TRUSTED_PROXIES="127.0.0.1/32, 10.0.0.0/8")
    attacker = {"X-Forwarded-For": "198.51.100.7"}
    for i in range(20):
        assert login_as(url, f"guess{i}", WRONG, attacker).status_code == 401
    assert login_as(url, "guess-more", WRONG, attacker).status_code == 429
    # Writing another address in front does not help: the proxy appended the real one on the right.
    assert login_as(url, "guess-more", WRONG, {"X-Forwarded-For": "203.0.113.1, 198.51.100.7"}).status_code == 429
    # Every other operator behind the same proxy is unaffected (before the fix they shared one address).
    assert login_as(url, OPERATOR, PASSWORD, {"X-Forwarded-For": "198.51.100.8"}).status_code == 303


def login_as(url: str, username: str, password: str, headers: dict) -> requests.Response:
    client = Client(url)
    token = client.token_in(client.get("/login", headers=headers).text)
    return client.post("/login", {"username": username, "password": password, "csrf_token": token}, headers=headers)


# -- §7: ?next= stays on the console ------------------------------------------------------------------------------

REDIRECT_PAYLOADS = [
    "%2F%09%2Fevil.example",
    "%2F%0a%2Fevil.example",
    "%2F%0d%2Fevil.example",
    "%2F%5cevil.example",
    "%2F%5c%2Fevil.example",
    "%5c%5cevil.example",
    "%2F%2Fevil.example",
    "//evil.example",
    "https%3A%2F%2Fevil.example",
    "https://evil.example/",
    "%2F%20%2Fevil.example",
    "%09%2F%2Fevil.example",
]


def stays_on_console(url: str, location: str) -> bool:
    return urlsplit(urljoin(url + "/login", location)).netloc == urlsplit(url).netloc


@pytest.mark.parametrize("payload", REDIRECT_PAYLOADS)
def test_next_cannot_send_the_operator_off_the_console(start, payload):
    url, _ = start()
    client = Client(url)
    page = client.get(f"/login?next={payload}")
    assert 'name="next" value="/search"' in page.text  # the form does not even carry it
    token = client.token_in(page.text)
    raw_next = requests.utils.unquote(payload)
    response = client.post(
        "/login", {"username": OPERATOR, "password": PASSWORD, "csrf_token": token, "next": raw_next}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/search"
    already_in = client.get(f"/login?next={payload}")  # a logged-in operator is redirected at once
    assert already_in.status_code == 303 and already_in.headers["Location"] == "/search"
    assert stays_on_console(url, already_in.headers["Location"])


def test_a_same_site_next_still_works(start):
    url, _ = start()
    client = Client(url)
    client.login()
    response = client.get("/login?next=%2Fcases%3Fstatus%3D%E6%96%B0%E5%BB%BA")
    assert response.status_code == 303 and response.headers["Location"].startswith("/cases?status=")


# -- L1: an anonymous POST to a public path is refused, not a crash -------------------------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/static/console.css", "/static/nothing"])
def test_anonymous_posts_to_public_paths_get_403_not_500(start, path):
    url, _ = start()
    response = requests.post(url + path, data={"x": "1"}, allow_redirects=False, timeout=30)
    assert response.status_code in (403, 405)
    assert requests.get(url + "/healthz", timeout=30).json()["status"] == "ok"


# -- §6 (console) and L10: production cookies, HSTS, a login nonce minted by the console only -----------------------


def set_cookies(response: requests.Response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.raw.headers.getlist("Set-Cookie")}


def test_production_cookies_are_host_prefixed_and_secure_with_hsts(start):
    url, _ = start(NXA_ENV="production", CONSOLE_SECRET_KEY=SECRET_KEY)
    form = requests.get(url + "/login", allow_redirects=False, timeout=30)
    assert form.headers["Strict-Transport-Security"].startswith("max-age=")
    login_cookie = set_cookies(form)["__Host-nxa_console_login"]
    for attribute in ("secure", "httponly", "path=/;", "samesite=strict"):
        assert attribute in login_cookie.lower() + ";", (attribute, login_cookie)
    assert "domain" not in login_cookie.lower()
    nonce = login_cookie.split(";", 1)[0].split("=", 1)[1]
    token = Client.token_in(form.text)

    # (requests keeps Secure cookies off http://, as a browser would: the test sends them as the browser would over TLS)
    response = requests.post(
        url + "/login",
        data={"username": OPERATOR, "password": PASSWORD, "csrf_token": token},
        headers={"Cookie": f"__Host-nxa_console_login={nonce}"},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 303 and response.headers["Strict-Transport-Security"]
    session_cookie = set_cookies(response)["__Host-nxa_console_session"]
    assert "secure" in session_cookie.lower() and "path=/" in session_cookie.lower()
    assert "domain" not in session_cookie.lower()
    assert "nxa_console_session" not in set_cookies(response).keys() - {"__Host-nxa_console_session"}
    session = session_cookie.split(";", 1)[0].split("=", 1)[1]
    page = requests.get(
        url + "/search", headers={"Cookie": f"__Host-nxa_console_session={session}"}, allow_redirects=False, timeout=30
    )
    assert page.status_code == 200 and page.headers["Strict-Transport-Security"]
    # The unprefixed name (which a sibling subdomain could set) is not a session in production.
    planted = requests.get(
        url + "/search", headers={"Cookie": f"nxa_console_session={session}"}, allow_redirects=False, timeout=30
    )
    assert planted.status_code == 302


def test_development_cookies_stay_usable_over_plain_http(start):
    url, _ = start()
    form = requests.get(url + "/login", allow_redirects=False, timeout=30)
    assert "Strict-Transport-Security" not in form.headers
    assert "secure" not in set_cookies(form)["nxa_console_login"].lower()


def test_a_planted_login_nonce_is_not_used(start):
    """Login CSRF: an attacker plants a login cookie of their choosing and would need the form's token for it."""
    url, _ = start()
    planted = {"Cookie": "nxa_console_login=attacker-chosen-nonce"}
    page = requests.get(url + "/login", headers=planted, allow_redirects=False, timeout=30)
    minted = set_cookies(page)["nxa_console_login"].split(";", 1)[0].split("=", 1)[1]
    assert minted != "attacker-chosen-nonce"  # the console minted (and signed) its own nonce
    token = Client.token_in(page.text)
    form = {"username": OPERATOR, "password": PASSWORD, "csrf_token": token}
    refused = requests.post(url + "/login", data=form, headers=planted, allow_redirects=False, timeout=30)
    assert refused.status_code == 403
    accepted = requests.post(
        url + "/login", data=form, headers={"Cookie": f"nxa_console_login={minted}"}, allow_redirects=False, timeout=30
    )
    assert accepted.status_code == 303


# -- §10 / L2: disable-operator and reset-password end the account's sessions at once ------------------------------


def console_command(store: AppStore, tmp_path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "NXA_VAR_DIR": str(tmp_path / "var"), "APP_DB_URL": store.url}
    env.pop("NXA_ENV", None)
    return subprocess.run(
        [sys.executable, "-m", "bot.console", *args],
        input=stdin,
        text=True,
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )


def test_a_disabled_operators_live_session_is_refused(start, store, tmp_path):
    url, _ = start()
    operator = Client(url)
    assert operator.login().status_code == 303 and operator.get("/cases").status_code == 200
    result = console_command(store, tmp_path, "disable-operator", OPERATOR)
    assert result.returncode == 0, result.stderr
    assert "已停用" in result.stdout and "1 个登录会话" in result.stdout
    refused = operator.get("/cases")
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/login")
    assert Client(url).login().status_code == 401  # and cannot log in again

    assert console_command(store, tmp_path, "enable-operator", OPERATOR).returncode == 0
    assert Client(url).login().status_code == 303
    unknown = console_command(store, tmp_path, "disable-operator", "nobody")
    assert unknown.returncode == 1 and "没有操作员" in unknown.stderr


def test_reset_password_ends_sessions_and_takes_the_new_password(start, store, tmp_path, clock):
    url, _ = start()
    operator = Client(url)
    assert operator.login().status_code == 303
    for _ in range(5):  # someone has been guessing: the reset also lifts the back-off
        Client(url).login(password=WRONG)
    short = console_command(store, tmp_path, "reset-password", OPERATOR, stdin="short\n")
    assert short.returncode == 1 and "至少 10 个字符" in short.stderr
    assert operator.get("/cases").status_code == 200  # a refused reset changed nothing
    result = console_command(store, tmp_path, "reset-password", OPERATOR, stdin="a-brand-new-password\n")
    assert result.returncode == 0, result.stderr
    assert operator.get("/cases").status_code == 302  # the old session is gone
    assert Client(url).login(password=PASSWORD).status_code == 401
    assert Client(url).login(password="a-brand-new-password").status_code == 303


# -- §10 / L3: the transcript masks numbers until the audited reveal ---------------------------------------------

PHONE, ID_NUMBER = "13812345678", "640102199001011234"


def test_the_transcript_is_masked_until_the_audited_reveal(start, handoffs, trackers):
    url, state = start()
    sender = "worker-9"
    trackers[sender] = {
        "sender_id": sender,
        "events": [
            {"event": "user", "text": f"我电话{PHONE}，身份证{ID_NUMBER}", "timestamp": 1_796_000_000},
            {"event": "bot", "text": "好的，给您转人工。", "timestamp": 1_796_000_001},
        ],
    }
    handoff = handoffs.record_handoff(sender, "rest", "12333", {"last_question": "转人工"})
    state.takeovers.take_over(sender, "rest", "someone-else", state.now())
    assert state.takeovers.record_worker_message("rest", sender, f"再说一遍 {PHONE}", state.now())
    operator = Client(url)
    operator.login()

    page = operator.get(f"/handoffs/{handoff.id}").text
    assert "138****5678" in page and "640102********1234" in page
    assert PHONE not in page and ID_NUMBER not in page
    polled = operator.get(f"/handoffs/{handoff.id}/messages", headers={"Accept": "application/json"}).json()
    assert [m["text"] for m in polled["messages"]] == ["再说一遍 138****5678"]
    assert state.accounts.audit_log(action="reveal_phone") == []

    revealed = operator.post(f"/handoffs/{handoff.id}/reveal", {"csrf_token": operator.token_in(page)})
    assert revealed.status_code == 200
    assert (
        f"我电话{PHONE}" in revealed.text and f"再说一遍 {PHONE}" in revealed.text and "本次查看已记录" in revealed.text
    )
    [entry] = state.accounts.audit_log(action="reveal_phone")  # the case page's reveal action, logged
    assert (entry.operator, entry.subject) == (OPERATOR, f"handoff:{handoff.id}")
    again = operator.get(f"/handoffs/{handoff.id}").text
    assert PHONE not in again and OPERATOR in again  # masked again, and the reveal is listed

    forged = operator.post(f"/handoffs/{handoff.id}/reveal", {"csrf_token": "forged"})
    assert forged.status_code == 403 and PHONE not in forged.text
    assert len(state.accounts.audit_log(action="reveal_phone")) == 1
