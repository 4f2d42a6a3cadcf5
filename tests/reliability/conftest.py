"""Fixtures for the fault tests: a private ``redis-server`` (AOF, fsync always) and app processes,
all killed and their temporary folder removed at the end, also when the test fails.

No ``redis-server`` binary: the tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import missing
from tests.reliability.harness import AppServer, RedisServer, workspace

StartApp = Callable[..., AppServer]


@pytest.fixture
def work() -> Iterator[Path]:
    """A temporary folder for Redis data, flows and logs; removed afterwards in any case."""
    with workspace() as folder:
        yield folder


@pytest.fixture
def redis_server(work: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        missing("redis-server is not installed")
    server = RedisServer(work / "redis", appendfsync="always")
    try:
        server.start()
        yield server
    finally:
        server.kill()


@pytest.fixture
def start_app(work: Path) -> Iterator[StartApp]:
    """Start ``surveybot serve`` processes (not waiting for them); all are killed at the end."""
    started: list[AppServer] = []

    def start(
        env: dict[str, str], name: str = "app", factory: str = "adapters.app:create_app"
    ) -> AppServer:
        server = AppServer(env, work / name, name=name, factory=factory)
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.kill()
