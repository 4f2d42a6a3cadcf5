"""The per-process session cache and the per-sender rate limit, on each Redis backend.

The cache is only an optimisation: every test here has two stores (two web processes) on one
Redis, and checks that whatever one process has cached, the commit's rev and message-id checks
keep the stored truth.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from redis.asyncio import Redis

from bot.errors import ConflictError, DuplicateMessage, RateLimited
from bot.models import Session
from bot.schema import Flow
from store import KeyBuilder, RateLimit, RedisStore, RoundTripCounter
from tests.store.conftest import NOW, PHONE, SECRET, answer, new_session

MINUTE = timedelta(minutes=1)


def process(client: Redis, prefix: str, **kw: object) -> RedisStore:
    return RedisStore(client, secret=SECRET, keys=KeyBuilder(prefix=prefix), **kw)  # type: ignore[arg-type]


async def begin(store: RedisStore, rid: str, flow: Flow) -> Session:
    """The respondent's first answer (message m1), committed through ``store``."""
    step = answer(new_session(rid, flow), "role", "carer")
    return await store.commit(step, expected_rev=0, message_id="m1", flow=flow, now=NOW)


async def test_a_committed_session_is_served_from_memory_without_a_round_trip(
    redis_client: Redis, key_prefix: str, flow: Flow
) -> None:
    store = process(redis_client, key_prefix)
    rid = store.respondent("sms", PHONE)
    stored = await begin(store, rid, flow)
    counter = RoundTripCounter(redis_client, store.hot)
    try:
        hit = await store.load(rid, "m2", cached=True)
        assert counter.take() == 0
        assert hit.cached
        assert hit.session == stored
        assert hit.rev == 1
        # Without cached=True (the reminder worker, the CLI) Redis is always read.
        fresh = await store.load(rid, "m2")
        assert counter.take() >= 1  # (2 when the script cache is cold: EVALSHA, EVAL)
        assert not fresh.cached
        assert fresh.session == stored
    finally:
        counter.close()


async def test_a_stale_copy_loses_at_commit_and_the_retry_reads_redis(
    redis_client: Redis, key_prefix: str, flow: Flow
) -> None:
    a, b = process(redis_client, key_prefix), process(redis_client, key_prefix)
    rid = a.respondent("sms", PHONE)
    s1 = await begin(a, rid, flow)
    # Their next message goes to process B, which commits rev 2.
    s2 = (await b.load(rid, "m2")).session
    assert s2 is not None
    await b.commit(answer(s2, "hours", 10), expected_rev=1, message_id="m2", flow=flow, now=NOW)
    # The one after comes back to A, whose cached copy is still at rev 1.
    stale = await a.load(rid, "m3", cached=True)
    assert stale.cached
    assert stale.rev == 1
    assert stale.session == s1
    with pytest.raises(ConflictError) as lost:
        await a.commit(answer(s1, "hours", 99), expected_rev=1, message_id="m3", flow=flow, now=NOW)
    assert lost.value.immediate  # only the cache was stale: no back-off needed
    assert a.cache.get(rid) is None
    fresh = await a.load(rid, "m3", cached=True)
    assert not fresh.cached
    assert fresh.rev == 2
    assert fresh.session is not None
    done = await a.commit(
        answer(fresh.session, "say", "hello"), expected_rev=2, message_id="m3", flow=flow, now=NOW
    )
    resp = await a.response(rid, flow.id)
    assert resp is not None
    assert {q: x.value for q, x in resp.answers.items()} == {
        "role": "carer", "hours": 10, "say": "hello"
    }  # fmt: skip
    assert done.rev == 3


async def test_a_duplicate_stepped_on_a_cached_copy_is_refused(
    redis_client: Redis, key_prefix: str, flow: Flow
) -> None:
    store = process(redis_client, key_prefix)
    rid = store.respondent("sms", PHONE)
    s1 = await begin(store, rid, flow)
    # Twilio delivers m1 again: the cached load cannot tell, the commit can.
    again = await store.load(rid, "m1", cached=True)
    assert again.cached
    assert not again.duplicate
    with pytest.raises(DuplicateMessage):
        await store.commit(answer(s1, "hours", 5), expected_rev=1, message_id="m1", flow=flow,
                           now=NOW)  # fmt: skip
    assert (await store.load(rid, "m1")).duplicate


async def test_erasure_drops_the_cached_copy(
    redis_client: Redis, key_prefix: str, flow: Flow
) -> None:
    store = process(redis_client, key_prefix)
    rid = store.respondent("sms", PHONE)
    await begin(store, rid, flow)
    assert store.cache.get(rid) is not None
    await store.erase("sms", PHONE)
    assert store.cache.get(rid) is None
    assert (await store.load(rid, None, cached=True)).session is None


async def test_a_copy_cached_before_an_erasure_never_overwrites_the_new_session(
    redis_client: Redis, key_prefix: str, flow: Flow
) -> None:
    """ABA: process A caches rev 1; the person is erased and starts again through process B,
    which is at rev 1 again. A's copy must still lose (it holds the erased answers)."""
    a, b = process(redis_client, key_prefix), process(redis_client, key_prefix)
    rid = a.respondent("sms", PHONE)
    old = await begin(a, rid, flow)
    await b.erase("sms", PHONE)
    later = NOW + timedelta(minutes=1)
    new = await b.commit(
        answer(new_session(rid, flow, later), "role", "other", later),
        expected_rev=0, message_id="m2", flow=flow, now=later,
    )  # fmt: skip
    assert new.rev == old.rev == 1
    hit = await a.load(rid, "m3", cached=True)
    assert hit.cached
    assert hit.session == old
    with pytest.raises(ConflictError):
        await a.commit(answer(old, "hours", 5), expected_rev=1, message_id="m3", flow=flow,
                       now=later)  # fmt: skip
    resp = await a.response(rid, flow.id)
    assert resp is not None
    assert {q: x.value for q, x in resp.answers.items()} == {"role": "other"}


async def test_cache_size_zero_keeps_nothing(
    redis_client: Redis, key_prefix: str, flow: Flow
) -> None:
    store = process(redis_client, key_prefix, cache_size=0)
    rid = store.respondent("sms", PHONE)
    await begin(store, rid, flow)
    assert len(store.cache) == 0
    assert not (await store.load(rid, "m2", cached=True)).cached


# -- rate limit -------------------------------------------------------------------------------


async def test_messages_over_the_limit_are_refused_and_write_nothing(
    redis_client: Redis, key_prefix: str, flow: Flow
) -> None:
    store = process(redis_client, key_prefix, rate_limit=RateLimit(3, MINUTE))
    rid = store.respondent("sms", PHONE)
    session = new_session(rid, flow)
    rev = 0
    for n in range(3):
        session = await store.commit(
            answer(session, "say", f"text {n}"), expected_rev=rev, message_id=f"m{n}",
            flow=flow, now=NOW,
        )  # fmt: skip
        rev = session.rev
    for n, over in ((3, 1), (4, 2)):
        with pytest.raises(RateLimited) as refused:
            await store.commit(
                answer(session, "say", "flood"), expected_rev=rev, message_id=f"m{n}",
                flow=flow, now=NOW,
            )  # fmt: skip
        assert refused.value.over == over
    loaded = await store.load(rid, "m3")
    assert loaded.rev == 3
    assert not loaded.duplicate
    resp = await store.response(rid, flow.id)
    assert resp is not None
    assert resp.answers["say"].value == "text 2"
    # The counter lives a minute at most (it is kept in the session now, no key of its own).
    assert await store.rate_count(rid, NOW) == 5
    assert await store.rate_count(rid, NOW + MINUTE) == 0


async def test_duplicates_lost_races_and_reminders_do_not_count(
    redis_client: Redis, key_prefix: str, flow: Flow
) -> None:
    store = process(redis_client, key_prefix, rate_limit=RateLimit(2, MINUTE))
    rid = store.respondent("sms", PHONE)
    s1 = await begin(store, rid, flow)
    with pytest.raises(DuplicateMessage):
        await store.commit(answer(s1, "hours", 1), expected_rev=1, message_id="m1", flow=flow,
                           now=NOW)  # fmt: skip
    with pytest.raises(ConflictError):
        await store.commit(answer(s1, "hours", 1), expected_rev=0, message_id="m2", flow=flow,
                           now=NOW)  # fmt: skip
    # A reminder's commit (no message id) and an opt-out report (limited=False) are not theirs.
    s2 = await store.commit(answer(s1, "hours", 2), expected_rev=1, message_id=None, flow=flow,
                            now=NOW)  # fmt: skip
    s3 = await store.commit(answer(s2, "hours", 3), expected_rev=2, message_id="twilio-21610:x",
                            flow=flow, now=NOW, limited=False)  # fmt: skip
    assert await store.rate_count(rid, NOW) == 1
    await store.commit(answer(s3, "say", "ok"), expected_rev=3, message_id="m3", flow=flow,
                       now=NOW)  # fmt: skip
    assert await store.rate_count(rid, NOW) == 2


async def test_throttle_counts_messages_that_commit_nothing(
    redis_client: Redis, key_prefix: str
) -> None:
    store = process(redis_client, key_prefix, rate_limit=RateLimit(2, MINUTE))
    rid = store.respondent("sms", PHONE)
    assert [await store.throttle(rid) for _ in range(4)] == [0, 0, 1, 2]
    assert await process(redis_client, key_prefix).throttle(rid) == 0  # no limit configured
