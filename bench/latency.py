"""Latency and throughput of a running Rasa bot over its REST channel, with bounded loops of concurrent users.

Each simulated user has its own sender id and sends `turns` messages one after the other (the next only once the
previous one is answered, as a person would); `users` of them run at once. Every request has a timeout and the whole
run a deadline, so a stuck server makes a run end with errors counted, never hang. `measure()` is used by
bench/run.py for our assistant and for the bare `rasa init` bot alike.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field

import aiohttp

# What workers actually type: colloquial, dialect-flavoured, a few typos and traditional characters (no personal data).
OUR_MESSAGES = [
    "你好",
    "我想在银川落户需要啥条件",
    "娃娃跟着我在银川上学咋办手续",
    "老板欠了我三个月工钱不给咋办",
    "公租房咋申请",
    "我交了三年多养老保险能领不",
    "创业担保贷款能贷多少",
    "失业了咋登记",
    "有没有免费的技能培训",
    "在哪找工作",
    "工伤了老板不管怎么办",
    "你能干啥",
    "社保断了咋接上",
    "转人工",
    "謝謝",
    "再见",
]

# The starter bot's own language (it is an English mood bot): what it was built to answer.
BARE_MESSAGES = [
    "hello",
    "I am feeling sad",
    "yes",
    "hi there",
    "I am great",
    "no",
    "are you a bot?",
    "bye",
]


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (share in 0..1) of `values`, or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


@dataclass
class RunResult:
    """The figures of one run; latencies in milliseconds, only of answered turns."""

    users: int
    turns_per_user: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    empty_replies: int = 0
    wall_seconds: float = 0.0

    def summary(self) -> dict:
        answered = len(self.latencies_ms)
        return {
            "users": self.users,
            "turns": self.users * self.turns_per_user,
            "answered": answered,
            "errors": len(self.errors),
            "first_errors": self.errors[:3],
            "empty_replies": self.empty_replies,
            "p50_ms": _round(percentile(self.latencies_ms, 0.50)),
            "p95_ms": _round(percentile(self.latencies_ms, 0.95)),
            "p99_ms": _round(percentile(self.latencies_ms, 0.99)),
            "mean_ms": _round(sum(self.latencies_ms) / answered if answered else None),
            "max_ms": _round(max(self.latencies_ms) if answered else None),
            "turns_per_second": round(answered / self.wall_seconds, 2) if self.wall_seconds else None,
            "wall_seconds": round(self.wall_seconds, 2),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


async def _user(
    session: aiohttp.ClientSession,
    url: str,
    sender: str,
    messages: list[str],
    offset: int,
    turns: int,
    result: RunResult,
    request_timeout: float,
) -> None:
    for turn in range(turns):
        message = messages[(offset + turn) % len(messages)]
        started = time.perf_counter()
        try:
            async with session.post(
                url, json={"sender": sender, "message": message}, timeout=aiohttp.ClientTimeout(total=request_timeout)
            ) as response:
                body = await response.json(content_type=None)
                if response.status != 200:
                    result.errors.append(f"HTTP {response.status}")
                    continue
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            result.errors.append(f"{type(exc).__name__}: {exc}"[:200])
            continue
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
        if not body:
            result.empty_replies += 1


async def measure_async(
    url: str,
    *,
    users: int,
    turns: int,
    messages: list[str],
    sender_prefix: str,
    request_timeout: float = 30,
    deadline: float = 240,
) -> RunResult:
    """`users` concurrent users × `turns` turns against the REST webhook at `url`; bounded by `deadline` seconds."""
    result = RunResult(users, turns)
    connector = aiohttp.TCPConnector(limit=users + 4)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        tasks = [
            asyncio.ensure_future(
                _user(session, url, f"{sender_prefix}-{i}", messages, i, turns, result, request_timeout)
            )
            for i in range(users)
        ]
        done, pending = await asyncio.wait(tasks, timeout=deadline)
        for task in pending:
            task.cancel()
        if pending:
            result.errors.append(f"deadline of {deadline:.0f} s reached with {len(pending)} users unfinished")
        result.wall_seconds = time.perf_counter() - started
    return result


def measure(url: str, **kwargs) -> dict:
    """Synchronous wrapper of `measure_async`; returns the summary dictionary."""
    return asyncio.run(measure_async(url, **kwargs)).summary()


def warm_up(url: str, messages: list[str], sender: str = "bench-warmup") -> None:
    """One pass over the messages, unmeasured: first calls load lazily initialised parts of the pipeline."""
    asyncio.run(measure_async(url, users=1, turns=len(messages), messages=messages, sender_prefix=sender, deadline=120))
