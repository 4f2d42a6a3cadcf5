"""Real-server tests skip locally when Redis is missing, but fail under CI."""

from __future__ import annotations

import pytest

from tests.conftest import missing, real_redis, start_cluster


def test_missing_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        missing("no Redis")


def test_missing_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        missing("no Redis")


async def test_unreachable_real_server_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch, unused_tcp_port: int
) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no Redis at"):
        await real_redis(f"redis://127.0.0.1:{unused_tcp_port}/0")


def test_a_cluster_that_cannot_start_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("PATH", "/nonexistent")  # no redis-server, no redis-cli
    with pytest.raises(pytest.fail.Exception, match="cannot start a local Redis Cluster"):
        start_cluster()
