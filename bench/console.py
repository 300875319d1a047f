"""Benchmark: how fast the operators' console answers a search, over HTTP, as an operator's browser asks it.

    .venv/bin/python bench/console.py [--output FILE] [--rounds N]

Starts the real console (`python -m bot.console serve`) on a free port with its own temporary var/ folder and app
store, creates an operator (the development auto-creation), logs in, and times `GET /search?q=…` for a fixed list of
operator questions, N rounds each (after one warm-up request). Writes bench/results/console.json: p50 / p95 / max in
ms of the whole request (HTTP, session check, search, rendering), the search's own time as the page reports it
(the `data-elapsed-ms` figure), the machine's cores and load average. Exits 0 whatever the figures; 1 when the console cannot be
started. (This replaces a timed unit test: timings belong in benchmarks, not in the test suite.)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.assistant import free_port  # noqa: E402

QUESTIONS = (
    "落户",
    "娃娃上学要啥材料",
    "老板不给工钱咋办",
    "创业贷款能贷多少",
    "失业了去哪登记",
    "工伤认定多久",
    "公租房外地人",
)
OPERATOR, PASSWORD = "bench-operator", "bench-password-123"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def _wait(base: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=2).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.5)
    return False


def _login(http: requests.Session, base: str) -> None:
    page = http.get(base + "/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no CSRF token on the login page"
    response = http.post(
        base + "/login",
        {"username": OPERATOR, "password": PASSWORD, "csrf_token": token.group(1)},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code in (302, 303), f"login failed: {response.status_code}"


def measure(rounds: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="nxa-bench-console-") as var:
        port = free_port()
        environment = {
            **os.environ,
            "NXA_VAR_DIR": var,
            "APP_DB_URL": f"sqlite:///{var}/assistant.db",
            "CONSOLE_PORT": str(port),
            "CONSOLE_ADMIN_USER": OPERATOR,
            "CONSOLE_ADMIN_PASSWORD": PASSWORD,
        }
        environment.pop("NXA_ENV", None)
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.console", "serve"],
            cwd=REPO,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            if not _wait(base, time.monotonic() + 180):
                raise RuntimeError("the console did not start within 180 s")
            http = requests.Session()
            _login(http, base)
            http.get(base + "/search", params={"q": "落户"}, timeout=30)  # warm up
            request_ms: list[float] = []
            search_ms: list[float] = []
            for _ in range(rounds):
                for question in QUESTIONS:
                    started = time.perf_counter()
                    response = http.get(base + "/search", params={"q": question}, timeout=30)
                    request_ms.append((time.perf_counter() - started) * 1000)
                    elapsed = re.search(r"<span data-elapsed-ms>([\d.]+)</span>", response.text)
                    if response.status_code == 200 and elapsed:
                        search_ms.append(float(elapsed.group(1)))
        finally:
            process.terminate()
            process.wait(30)
    return {
        "requests": len(request_ms),
        "request_ms": {
            "p50": round(statistics.median(request_ms), 1),
            "p95": round(percentile(request_ms, 0.95), 1),
            "max": round(max(request_ms), 1),
        },
        "search_ms_mean": round(statistics.mean(search_ms), 2) if search_ms else None,
        "cores": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "console.json")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args(argv)
    try:
        report = measure(args.rounds)
    except (RuntimeError, AssertionError, requests.RequestException) as error:
        print(f"[bench/console] {error}")
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    r = report["request_ms"]
    print(
        f"[bench/console] search page over HTTP: p50 {r['p50']} ms, p95 {r['p95']} ms, max {r['max']} ms "
        f"({report['requests']} requests); the search itself {report['search_ms_mean']} ms on average"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
