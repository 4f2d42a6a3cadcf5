"""The console's stores on every backend (fakeredis, a real Redis, a 3-master cluster): published
versions (atomic, optimistic, history kept) and officers' sessions and sign-in throttle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from store import KeyBuilder
from store.client import AnyRedis
from store.officers import Officer, OfficerStore
from store.published import PublishConflict, PublishedFlows

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


async def test_publish_history_conflict_and_generation(
    redis_client: AnyRedis, key_prefix: str
) -> None:
    flows = PublishedFlows(redis_client, KeyBuilder(prefix=key_prefix))
    assert await flows.generation() == 0
    assert await flows.live() == {}
    seq = await flows.publish(
        "carers", "id: carers # 100% new\n", "v2", by="ann", at=NOW, note="50% shorter",
        expected="", base=("v1", "id: carers\n"),
    )  # fmt: skip
    assert seq == 2
    assert await flows.live() == {"carers": "v2"}
    assert await flows.generation() == 1
    assert await flows.text("carers", "v1") == "id: carers\n"
    assert await flows.text("carers", "v2") == "id: carers # 100% new\n"
    history = await flows.history("carers")
    assert [(h.seq, h.version, h.kind, h.by) for h in history] == [
        (1, "v1", "file", "flows folder"),
        (2, "v2", "publish", "ann"),
    ]
    assert history[1].note == "50% shorter"
    assert history[1].previous == "v1"
    # Someone who opened v1 (nothing published then) is refused: v2 is live now.
    with pytest.raises(PublishConflict):
        await flows.publish("carers", "id: carers # mine\n", "v3", by="bob", at=NOW, expected="")
    with pytest.raises(PublishConflict):
        await flows.publish("carers", "id: carers # mine\n", "v3", by="bob", at=NOW, expected="v1")
    assert await flows.live() == {"carers": "v2"}
    assert await flows.generation() == 1
    # A rollback is a publish of an older version.
    seq = await flows.publish(
        "carers", "id: carers\n", "v1", by="bob", at=NOW, expected="v2", kind="rollback"
    )
    assert seq == 3
    assert await flows.live() == {"carers": "v1"}
    assert [h.kind for h in await flows.history("carers")] == ["file", "publish", "rollback"]


async def test_sessions_end_and_are_stored_as_hashes(
    redis_client: AnyRedis, key_prefix: str
) -> None:
    store = OfficerStore(redis_client, KeyBuilder(prefix=key_prefix), idle=timedelta(minutes=30))
    assert await store.add(Officer("jane", "editor", "$argon2id$x", NOW, "test"))
    assert not await store.add(Officer("jane", "admin", "$argon2id$y", NOW, "test"))
    assert (await store.get("jane")).role == "editor"  # type: ignore[union-attr]
    await store.create_session("token-1", "jane", "csrf-1", NOW)
    await store.create_session("token-2", "jane", "csrf-2", NOW)
    found = await store.session("token-1", NOW + timedelta(minutes=1))
    assert found is not None
    assert found.officer == "jane"
    assert found.csrf == "csrf-1"
    assert "token-1" not in found.key
    assert await store.session("token-x", NOW) is None
    # Past the absolute lifetime: refused and deleted.
    assert await store.session("token-1", NOW + store.lifetime + timedelta(seconds=1)) is None
    assert await store.session("token-1", NOW) is None
    # Removing the officer ends the rest.
    assert await store.remove("jane")
    assert await store.session("token-2", NOW) is None


async def test_throttle_counts_per_account_and_per_address(
    redis_client: AnyRedis, key_prefix: str
) -> None:
    store = OfficerStore(redis_client, KeyBuilder(prefix=key_prefix), per_account=3, per_address=5)
    for _ in range(3):
        assert await store.locked("jane", "10.1.1.1") is None
        await store.failed("jane", "10.1.1.1")
    locked = await store.locked("jane", "10.9.9.9")
    assert locked is not None
    assert locked.scope == "account"
    assert 0 < locked.seconds <= 15 * 60
    await store.succeeded("jane")
    assert await store.locked("jane", "10.9.9.9") is None
    for n in range(2):
        await store.failed(f"other{n}", "10.1.1.1")
    address = await store.locked("anyone", "10.1.1.1")
    assert address is not None
    assert address.scope == "address"
