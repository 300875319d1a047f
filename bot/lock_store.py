"""A Redis lock store whose ticket bookkeeping is safe across Rasa replicas (endpoints.postgres.yml uses it).

Rasa 3.6's `RedisLockStore` keeps each conversation's ticket lock as one JSON value and changes it by read, modify,
write (`issue_ticket`, `update_lock`, `cleanup`), with nothing making the three steps one. Two replicas that take
turns of the same conversation at the same moment (a worker's two quick SMS or REST messages, sent to different
replicas by the load balancer) can each read the lock before the other writes it: both get the same ticket, or
one's ticket is overwritten, and both run at once; the second save of the tracker then drops the first turn's
events. (Rasa's maintainers called `issue_ticket` "far from atomic"; RasaHQ/rasa#9213. The scale-out test that
fires 12 concurrent turns at two replicas lost one in CI.)

`AtomicRedisLockStore` runs each of those read-modify-write steps under a short per-conversation Redis mutex
(redis-py's `Lock`: SET NX with a token and an expiry, so a replica that dies while holding it blocks no one for
more than `MUTEX_SECONDS`). Ticket order, lifetimes and waiting are Rasa's own.
"""

from __future__ import annotations

from typing import Any

from rasa.core.lock_store import LOCK_LIFETIME, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

__all__ = ["AtomicRedisLockStore", "MUTEX_SECONDS"]

#: How long one bookkeeping step may hold the conversation's mutex (it takes milliseconds).
MUTEX_SECONDS = 10


class AtomicRedisLockStore(RedisLockStore):
    """`RedisLockStore` with each change of a conversation's ticket lock done under a Redis mutex."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        if endpoint_config is not None:  # as Rasa creates a lock store named by its module path
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)

    def _mutex(self, conversation_id: str):
        return self.red.lock(
            f"{self.key_prefix}{conversation_id}:mutex", timeout=MUTEX_SECONDS, blocking_timeout=MUTEX_SECONDS
        )

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        with self._mutex(conversation_id):
            return super().issue_ticket(conversation_id, lock_lifetime)

    def update_lock(self, conversation_id: str) -> None:
        with self._mutex(conversation_id):
            super().update_lock(conversation_id)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        with self._mutex(conversation_id):
            super().cleanup(conversation_id, ticket_number)
