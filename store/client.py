"""Making the ``redis.asyncio`` client the store runs on."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from store.embedded import embedded_url


def connect(
    url: str | None, data_dir: str | Path = "data/redis", *, max_connections: int = 1024
) -> Redis:
    """A client for ``url``, or for the embedded server in ``data_dir`` when ``url`` is None.

    A plain (non-blocking) pool with room for ``max_connections`` concurrent commands: redis-py's
    blocking pool costs ~25 us more per command, which is felt on every message; a process
    with a thousand commands in flight is overloaded anyway, and then fails fast with a
    StoreError (503: the provider retries). Timeouts are short and retries few: a webhook must
    answer well within Twilio's 15 s. Retrying a command is safe for every store operation (the
    commit is version- and message-id-checked; the rest are idempotent).
    """
    if url is None:
        url = embedded_url(data_dir)
    pool = ConnectionPool.from_url(
        url,
        max_connections=max_connections,
        socket_connect_timeout=2,
        socket_timeout=5,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        health_check_interval=30,
    )
    return Redis.from_pool(pool)  # closing the client closes its pool
