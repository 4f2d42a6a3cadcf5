"""Shared Redis fixtures.

``redis_client`` runs a test twice: on fakeredis (always) and on the real server at
``SURVEYBOT_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``, marked ``redis``). Real-server
tests use a unique key prefix (``key_prefix``) and delete their keys afterwards, so they can share
a server with anything else. An unreachable real server skips them, except under ``CI=true``,
where it fails: CI must never pass by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import fakeredis
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

REAL_REDIS_URL = os.environ.get("SURVEYBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def missing(what: str) -> None:
    """Skip for lack of ``what``; under CI fail instead."""
    if in_ci():
        pytest.fail(f"{what} (CI=true: not skipping)")
    pytest.skip(what)


@pytest.fixture
def key_prefix() -> str:
    """A prefix no other test (or deployment) uses."""
    return f"sbtest-{uuid.uuid4().hex[:12]}"


async def real_redis(url: str = REAL_REDIS_URL) -> Redis:
    """A client for the real test server; skips (fails under CI) if it does not answer."""
    client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=5)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        missing(f"no Redis at {url}: {exc}")
    return client


async def delete_prefix(client: Redis, prefix: str) -> int:
    n = 0
    async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        n += await client.delete(key)
    return n


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.redis)])
async def redis_client(request: pytest.FixtureRequest, key_prefix: str) -> AsyncIterator[Redis]:
    """A ``redis.asyncio`` client: fakeredis (with Lua) or the real server."""
    if request.param == "fake":
        client: Redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
        yield client
        await client.aclose()
        return
    client = await real_redis()
    try:
        yield client
    finally:
        await delete_prefix(client, key_prefix)
        await client.aclose()


@pytest.fixture
def backend(redis_client: Redis) -> str:
    """``"fake"`` or ``"real"``, for the few checks only a real server can do."""
    return "fake" if isinstance(redis_client, fakeredis.FakeAsyncRedis) else "real"
