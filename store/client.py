"""Making the ``redis.asyncio`` client the store runs on."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from store.embedded import embedded_url


def connect(
    url: str | None, data_dir: str | Path = "data/redis", *, max_connections: int = 64
) -> Redis:
    """A client for ``url``, or for the embedded server in ``data_dir`` when ``url`` is None.

    The pool blocks (up to 5 s) when all ``max_connections`` are busy instead of failing at
    once, as redis-py's default pool does past 100: a burst of webhooks queues for a connection.
    Timeouts are short and retries few: a webhook must answer (503 if need be) well within
    Twilio's 15 s, and the provider retries later. Retrying a command is safe for every store
    operation (the commit is version- and message-id-checked; the rest are idempotent).
    """
    if url is None:
        url = embedded_url(data_dir)
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=5,
        socket_connect_timeout=2,
        socket_timeout=5,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        health_check_interval=30,
    )
    return Redis.from_pool(pool)  # closing the client closes its pool
