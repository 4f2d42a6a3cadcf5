"""store.delivery.DeliveryLog on fakeredis and (marked ``redis``) a real server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import fakeredis
import pytest
from redis.asyncio import Redis

from bot.errors import StoreError
from store import KeyBuilder
from store.delivery import DeliveryLog

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
RID_A = "a" * 26
RID_B = "b" * 26


@pytest.fixture
def log(redis_client: Redis, key_prefix: str) -> DeliveryLog:
    return DeliveryLog(redis_client, keys=KeyBuilder(prefix=key_prefix), cap=5)


async def test_records_reads_and_counts(log: DeliveryLog) -> None:
    assert await log.record(respondent=RID_A, message="SM1", status="failed", code="30003", now=NOW)
    assert await log.record(
        respondent=RID_B,
        message="SM2",
        status="undelivered",
        code=None,
        now=NOW + timedelta(hours=1),
    )
    assert await log.record(
        respondent=RID_A, message="SM3", status="failed", code="30003", now=NOW + timedelta(days=1)
    )
    report = await log.report(now=NOW + timedelta(days=1))
    assert [(f.message, f.respondent, f.code) for f in report.recent] == [
        ("SM3", RID_A, "30003"),
        ("SM2", RID_B, None),
        ("SM1", RID_A, "30003"),
    ]
    assert report.recent[1].at == NOW + timedelta(hours=1)
    assert report.counts == {
        "2026-11-23": {"30003": 1, "none": 1},
        "2026-11-24": {"30003": 1},
    }
    assert report.total == 3
    # a window of one day only sees that day
    assert await log.counts(now=NOW + timedelta(days=1), days=1) == {"2026-11-24": {"30003": 1}}


async def test_the_same_status_of_a_message_counts_once(log: DeliveryLog) -> None:
    assert await log.record(respondent=RID_A, message="SM1", status="failed", code="30003", now=NOW)
    assert not await log.record(
        respondent=RID_A, message="SM1", status="failed", code="30003", now=NOW
    )
    assert await log.record(
        respondent=RID_A, message="SM1", status="undelivered", code="30003", now=NOW
    )
    assert (await log.counts(now=NOW))["2026-11-23"] == {"30003": 2}


async def test_the_recent_list_is_capped(log: DeliveryLog) -> None:
    for n in range(8):
        await log.record(respondent=RID_A, message=f"SM{n}", status="failed", code="30003", now=NOW)
    recent = await log.recent(limit=100)
    assert [f.message for f in recent] == ["SM7", "SM6", "SM5", "SM4", "SM3"]
    assert [f.message for f in await log.recent(limit=2)] == ["SM7", "SM6"]
    assert (await log.counts(now=NOW))["2026-11-23"] == {"30003": 8}  # counters are not capped


async def test_keys_expire_and_share_one_cluster_slot(
    log: DeliveryLog, redis_client: Redis
) -> None:
    await log.record(respondent=RID_A, message="SM1", status="failed", code="30003", now=NOW)
    keys = [log.recent_key, log.seen_key, log.day_key(NOW.date())]
    for key in keys:
        assert "{dlv}" in key
        assert 0 < await redis_client.pttl(key) <= int(timedelta(days=90).total_seconds() * 1000)


async def test_erasing_a_respondent_removes_their_entries(log: DeliveryLog) -> None:
    await log.record(respondent=RID_A, message="SM1", status="failed", code="30003", now=NOW)
    await log.record(respondent=RID_B, message="SM2", status="failed", code="30003", now=NOW)
    await log.record(respondent=RID_A, message="SM3", status="failed", code="30005", now=NOW)
    assert await log.erase_respondent(RID_A) == 2
    assert [f.respondent for f in await log.recent()] == [RID_B]


async def test_opt_out_marker_is_set_once(log: DeliveryLog, redis_client: Redis) -> None:
    assert await log.mark_opted_out(RID_A, NOW)
    assert not await log.mark_opted_out(RID_A, NOW + timedelta(minutes=1))
    key = log.keys.optout(RID_A)
    stamp = await redis_client.get(key)
    assert stamp is not None
    assert int(stamp) == int(NOW.timestamp() * 1000)
    assert await redis_client.pttl(key) > 0


async def test_an_unreadable_entry_does_not_hide_the_others(
    log: DeliveryLog, redis_client: Redis
) -> None:
    await log.record(respondent=RID_A, message="SM1", status="failed", code="30003", now=NOW)
    await redis_client.lpush(log.recent_key, "not json")
    assert [f.message for f in await log.recent()] == ["SM1"]


async def test_redis_errors_become_store_errors() -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    dead = fakeredis.FakeAsyncRedis(server=server)
    try:
        log = DeliveryLog(dead)
        with pytest.raises(StoreError):
            await log.record(respondent=RID_A, message="SM1", status="failed", code="1", now=NOW)
        with pytest.raises(StoreError):
            await log.report(now=NOW)
    finally:
        await dead.aclose()
