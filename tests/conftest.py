"""Shared Redis fixtures.

``redis_client`` runs a test three times: on fakeredis (always), on the real server at
``SURVEYBOT_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``, marked ``redis``), and on a
local 3-master Redis Cluster (marked ``cluster``) that ``redis_cluster`` starts once per session
from the ``redis-server`` binary (``tests.support.cluster``). Real-server tests use a unique key
prefix (``key_prefix``) and delete their keys afterwards, so they can share a server with anything
else. An unreachable real server, or a cluster that cannot be started, skips them, except under
``CI=true``, where it fails: CI must never pass by skipping.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import NoReturn

import fakeredis
import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from store.client import AnyRedis, connect_cluster
from tests.support.cluster import ClusterStartError, LocalCluster
from tests.support.cluster import delete_prefix as delete_prefix  # the tests' (re-exported)

REAL_REDIS_URL = os.environ.get("SURVEYBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def missing(what: str) -> NoReturn:
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


async def eventually(
    cond: Callable[[], bool | Awaitable[bool]],
    timeout: float = 60,  # noqa: ASYNC109 - a deadline for the condition, reported as a failure
    interval: float = 0.01,
) -> None:
    """Until ``cond()`` (or what it returns, awaited) is true, checked every ``interval`` seconds;
    fails the test if it is still false after ``timeout`` seconds. For waiting on work done
    elsewhere (other tasks, processes, servers) before asserting on it: the deadline is generous,
    since a slow machine must only make the test slower, never fail it."""
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if inspect.isawaitable(got):
            got = await got
        if got:
            return
        if time.monotonic() >= deadline:
            pytest.fail(
                f"still not true after {timeout:g} s: {getattr(cond, '__qualname__', cond)}"
            )
        await asyncio.sleep(interval)


def start_cluster() -> LocalCluster:
    """Start a local 3-master cluster; skips (fails under CI) if it cannot be started."""
    try:
        return LocalCluster(masters=3, appendfsync="everysec").start()
    except (ClusterStartError, OSError, subprocess.SubprocessError) as exc:
        missing(f"cannot start a local Redis Cluster: {exc}")
        raise  # unreachable: missing() skips or fails


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalCluster]:
    """A local 3-master Redis Cluster for the whole session (AOF, ``appendfsync everysec``; the
    node-restart test switches to ``always`` while it runs). Starting it takes ~2 s."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


async def cluster_client(cluster: LocalCluster) -> RedisCluster:
    """A cluster client as the bot builds it (``store.client.connect_cluster``), connected."""
    client = connect_cluster(cluster.url, max_connections=256)
    try:
        await client.initialize()
    except (RedisError, OSError) as exc:
        await client.aclose()
        missing(f"local Redis Cluster at {cluster.url} does not answer: {exc}")
    return client


@pytest.fixture
async def cluster(redis_cluster: LocalCluster, key_prefix: str) -> AsyncIterator[RedisCluster]:
    """A client of the session's local cluster (:func:`cluster_client`); the test's keys (under
    ``key_prefix``) are deleted afterwards."""
    client = await cluster_client(redis_cluster)
    try:
        yield client
    finally:
        await delete_prefix(client, key_prefix)
        await client.aclose()


@pytest.fixture(
    params=[
        "fake",
        pytest.param("real", marks=pytest.mark.redis),
        pytest.param("cluster", marks=pytest.mark.cluster),
    ]
)
async def redis_client(request: pytest.FixtureRequest, key_prefix: str) -> AsyncIterator[AnyRedis]:
    """A ``redis.asyncio`` client: fakeredis (with Lua), the real server, or the local cluster."""
    if request.param == "fake":
        fake: Redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
        yield fake
        await fake.aclose()
        return
    if request.param == "cluster":
        client: AnyRedis = await cluster_client(request.getfixturevalue("redis_cluster"))
    else:
        client = await real_redis()
    try:
        yield client
    finally:
        await delete_prefix(client, key_prefix)
        await client.aclose()


@pytest.fixture
def backend(redis_client: AnyRedis) -> str:
    """``"fake"``, ``"real"`` or ``"cluster"``, for the few checks only a real server can do."""
    if isinstance(redis_client, fakeredis.FakeAsyncRedis):
        return "fake"
    return "cluster" if isinstance(redis_client, RedisCluster) else "real"
