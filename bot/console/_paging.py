"""Paging for the console's queues (cases, handoffs): a flood of requests cannot push real work out of reach."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from aiohttp import web

PAGE_SIZE = 50


@dataclass(frozen=True)
class Pager:
    """Page `page` (1-based) of `pages`; `url(n)` keeps the queue's other query parameters."""

    path: str
    page: int
    total: int
    size: int = PAGE_SIZE
    params: dict[str, str] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def url(self, page: int) -> str:
        return f"{self.path}?{urlencode({**self.params, 'page': str(page)})}"


def requested_page(request: web.Request) -> int:
    """The ?page= asked for (1 when missing or not a positive number)."""
    try:
        return max(1, int(request.query.get("page", "1")))
    except ValueError:
        return 1


def pager(request: web.Request, total: int, params: dict[str, str], size: int = PAGE_SIZE) -> Pager:
    """The pager for this request, its page clamped to the last one."""
    first = Pager(request.path, 1, total, size, {k: v for k, v in params.items() if v})
    return Pager(first.path, min(requested_page(request), first.pages), total, size, first.params)
