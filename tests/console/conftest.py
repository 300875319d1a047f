"""Fixtures of the console tests: a migrated SQLite app store per test, the real console on 127.0.0.1 (in a thread),
a stand-in for Rasa's HTTP API that serves trackers, a movable clock, and a cookie-keeping HTTP client."""

from __future__ import annotations

import asyncio
import re
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from aiohttp import web

from bot.cases import CaseService, CaseSubmission
from bot.console.app import create_app
from bot.console.web import CONSOLE
from bot.handoffs import HandoffService
from bot.settings import Settings
from bot.store import AppStore, migrate
from tests.support.clock import FakeClock

OPERATOR = "operator1"
PASSWORD = "correct-horse-battery"
RASA_TOKEN = "test-token"


class ServerThread:
    """aiohttp applications served on free 127.0.0.1 ports by one event loop in a background thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runners: list[web.AppRunner] = []

    def serve(self, app: web.Application) -> str:
        async def start() -> str:
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.runners.append(runner)
            port = site._server.sockets[0].getsockname()[1]
            return f"http://127.0.0.1:{port}"

        return asyncio.run_coroutine_threadsafe(start(), self.loop).result(30)

    def stop(self) -> None:
        async def cleanup() -> None:
            for runner in reversed(self.runners):
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def fake_rasa_app(trackers: dict[str, dict]) -> web.Application:
    """Rasa's GET /conversations/{id}/tracker?token=…: the trackers the test put in, 401 for a wrong token."""

    async def tracker(request: web.Request) -> web.Response:
        if request.query.get("token") != RASA_TOKEN:
            return web.json_response({"message": "unauthorized"}, status=401)
        sender = request.match_info["sender"]
        return web.json_response(trackers.get(sender, {"sender_id": sender, "events": []}))

    app = web.Application()
    app.router.add_get("/conversations/{sender}/tracker", tracker)
    return app


class Client:
    """A browser-like HTTP client: keeps cookies, never follows redirects by itself, reads CSRF tokens off pages."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.base + path, allow_redirects=False, timeout=30, **kwargs)

    def post(self, path: str, data: dict | None = None, **kwargs) -> requests.Response:
        return self.http.post(self.base + path, data=data or {}, allow_redirects=False, timeout=30, **kwargs)

    @staticmethod
    def token_in(page: str) -> str:
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def csrf(self, path: str = "/search") -> str:
        response = self.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return self.token_in(response.text)

    def post_form(self, path: str, data: dict | None = None, *, page: str | None = None) -> requests.Response:
        """POST `data` with the CSRF token read from `page` (default: the search page)."""
        return self.post(path, {**(data or {}), "csrf_token": self.csrf(page or "/search")})

    def login(self, username: str = OPERATOR, password: str = PASSWORD) -> requests.Response:
        token = self.token_in(self.get("/login").text)
        return self.post("/login", {"username": username, "password": password, "csrf_token": token})


@pytest.fixture(scope="session")
def kb():
    from policies_kb import KnowledgeBase

    return KnowledgeBase.load()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> Path:
    """One app store migrated once per session; each test gets a copy (migrating takes most of a second)."""
    path = tmp_path_factory.mktemp("template") / "assistant.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def db_url(tmp_path: Path, migrated_template: Path) -> str:
    path = tmp_path / "assistant.db"
    shutil.copyfile(migrated_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    """Cheap argon2id parameters for the server tests (the production parameters are what test_security checks):
    each login and account creation would otherwise cost ~0.4 s of CPU on the shared machine."""
    from argon2 import PasswordHasher

    from bot.console import _security

    monkeypatch.setattr(_security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 29, 2, 0, tzinfo=UTC))  # 10:00 in Ningxia


@pytest.fixture
def store(db_url: str):
    store = AppStore(db_url)
    yield store
    store.dispose()


@pytest.fixture
def cases(store: AppStore, clock: FakeClock) -> CaseService:
    return CaseService(store, clock=clock)


@pytest.fixture
def handoffs(store: AppStore, clock: FakeClock) -> HandoffService:
    return HandoffService(store, clock=clock)


@pytest.fixture
def trackers() -> dict[str, dict]:
    return {}


@pytest.fixture
def servers():
    running = ServerThread()
    yield running
    running.stop()


@pytest.fixture
def console(tmp_path: Path, store: AppStore, kb, clock: FakeClock, trackers, servers: ServerThread):
    """The console on a free port; `.client()` gives a fresh client, `.state` the app's services."""
    rasa_url = servers.serve(fake_rasa_app(trackers))
    settings = Settings.from_env(
        {
            "NXA_VAR_DIR": str(tmp_path / "var"),
            "APP_DB_URL": store.url,
            "RASA_PORT": rasa_url.rsplit(":", 1)[1],
            "RASA_AUTH_TOKEN": RASA_TOKEN,
        }
    )
    app = create_app(settings, store=store, kb=kb, clock=clock)
    state = app[CONSOLE]
    state.accounts.create_operator(OPERATOR, PASSWORD, clock())
    base = servers.serve(app)

    class Running:
        url = base

        def __init__(self) -> None:
            self.state = state
            self.settings = settings

        def client(self) -> Client:
            return Client(base)

    return Running()


@pytest.fixture
def client(console) -> Client:
    """A logged-in client."""
    c = console.client()
    assert c.login().status_code == 303
    return c


def make_case(cases: CaseService, **changes):
    values = dict(
        case_type="wage_arrears",
        worker_name="马建国",
        phone="13812345678",
        county="金凤区",
        employer="宁夏某建筑劳务公司",
        amount_owed=12000,
        owed_period="3个月",
        description="在工地干了三个月，老板一直拖着不给工钱",
        consent=True,
        sender_id="worker-1",
        channel="rest",
        dedupe_key=None,
    )
    values.update(changes)
    return cases.create_case(CaseSubmission(**values))
