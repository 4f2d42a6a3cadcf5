"""The per-process session cache and the per-sender rate limit, on each Redis backend.

The cache is only an optimisation: every test here has two stores (two web processes) on one
Redis, and checks that whatever one process has cached, the commit's rev and message-id checks
keep the stored truth.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.errors import ConflictError, DuplicateMessage, RateLimited
from bot.models import Inbound, Session
from bot.schema import Flow
from store import KeyBuilder, RateLimit, RedisStore
from tests.store.conftest import (
    NOW,
    PHONE,
    SECRET,
    answer,
    make_flow,
    new_session,
    seen_fingerprints,
)
from tests.support.roundtrips import RoundTripCounter

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


# -- any process, any message: a stale copy costs no extra round trip ---------------------------


async def test_a_refused_commit_brings_the_stored_session_back(
    redis_client: Redis, key_prefix: str, flow: Flow
) -> None:
    a, b = process(redis_client, key_prefix), process(redis_client, key_prefix)
    rid = a.respondent("sms", PHONE)
    s1 = await begin(a, rid, flow)
    s2 = (await b.load(rid, "m2")).session
    assert s2 is not None
    stored = await b.commit(answer(s2, "hours", 10), expected_rev=1, message_id="m2", flow=flow,
                            now=NOW)  # fmt: skip
    later = NOW + MINUTE  # (a step at the session's start is taken for a first one: indexed)
    counter = RoundTripCounter(redis_client, a.hot)
    try:
        with pytest.raises(ConflictError) as lost:
            await a.commit(answer(s1, "hours", 99, later), expected_rev=1, message_id="m3",
                           flow=flow, now=later)  # fmt: skip
        current = lost.value.current
        assert current is not None
        assert current.session == stored  # type: ignore[attr-defined]
        assert current.rev == 2  # type: ignore[attr-defined]
        assert not current.duplicate  # type: ignore[attr-defined]
        done = await a.commit(answer(current.session, "say", "hi", later), expected_rev=2,  # type: ignore[attr-defined]
                              message_id="m3", flow=flow, now=later)  # fmt: skip
        assert counter.take() == 2  # the refused commit and the commit: no read between
        assert done.rev == 3
    finally:
        counter.close()


async def test_messages_spread_over_two_processes_take_one_or_two_round_trips(
    redis_client: Redis, key_prefix: str, tmp_path: Path
) -> None:
    """Round robin over two web processes: each message lands where the last one did not. The
    first is a cache miss: a refused commit that brings the session, and a commit."""
    from adapters.services import build_services
    from tests.adapters.conftest import START, Clock, adapter_settings, copy_flows_dir

    settings = adapter_settings(copy_flows_dir(tmp_path), tmp_path / "data",
                                SURVEYBOT_REDIS_PREFIX=key_prefix)  # fmt: skip
    clock = Clock(START)
    procs = [build_services(settings, redis=redis_client, clock=clock) for _ in range(2)]
    # (the banded questions by label: a bare 5 or 2 there is checked, and logged as a miss)
    texts = [
        "CARERS",
        "yes",
        "1",
        "1",
        "50 hours or more",
        "1 to 4 years",
        "agree",
        "strongly agree",
    ]
    trips = []
    for m, text in enumerate(texts):
        svc = procs[m % 2]
        clock.advance(seconds=30)
        with RoundTripCounter(redis_client, svc.store.hot) as rt:
            out = await svc.dispatcher.handle(
                Inbound(channel="sms", address=PHONE, text=text, message_id=f"SM{m}")
            )
            trips.append(rt.count)
        assert out.session is not None
        assert out.session.messages == m + 1
        assert not out.duplicate
    # (the first message of each process also records the flow's question ids, and the
    # respondent's first one indexes the response: both once)
    assert trips[2:] == [2] * (len(texts) - 2), trips
    rid = procs[0].store.respondent("sms", PHONE)
    response = await procs[1].store.response(rid, "carers-strategy")
    assert response is not None
    assert len(response.answers) == len(texts) - 1


async def test_the_dedupe_record_is_bounded(
    redis_client: Redis, key_prefix: str, flow: Flow
) -> None:
    store = process(redis_client, key_prefix, dedupe_bound=4)
    rid = store.respondent("sms", PHONE)
    s = await begin(store, rid, flow)
    for m in range(2, 7):
        s = await store.commit(answer(s, "say", str(m)), expected_rev=s.rev, message_id=f"m{m}",
                               flow=flow, now=NOW)  # fmt: skip
    seen = {m: (await store.load(rid, f"m{m}")).duplicate for m in range(1, 7)}
    assert seen == {1: False, 2: False, 3: True, 4: True, 5: True, 6: True}
    assert len(await seen_fingerprints(redis_client, store, rid)) == 4


async def test_message_ids_outlive_a_session_shorter_than_the_dedupe_window(
    redis_client: Redis, key_prefix: str
) -> None:
    quick = make_flow(expiry="0.3s")
    store = process(redis_client, key_prefix)
    rid = store.respondent("sms", PHONE)
    await begin(store, rid, quick)
    await asyncio.sleep(0.45)
    gone = await store.load(rid, "m1")
    assert gone.session is None
    assert gone.rev == 0
    assert gone.duplicate  # a provider retrying after the session ended is still recognised
    with pytest.raises(DuplicateMessage):
        await begin(store, rid, quick)
    fresh = answer(new_session(rid, quick), "role", "other")
    assert (
        await store.commit(fresh, expected_rev=0, message_id="m9", flow=quick, now=NOW)
    ).rev == 1
    assert 0 < await redis_client.pttl(store.keys.session(rid)) <= 2 * 86_400_000


async def test_a_stranger_over_the_limit_is_counted_without_a_session(
    redis_client: Redis, key_prefix: str, flow: Flow
) -> None:
    store = process(redis_client, key_prefix, rate_limit=RateLimit(2, MINUTE))
    rid = store.respondent("sms", PHONE)
    assert [await store.throttle(rid) for _ in range(2)] == [0, 0]  # two menus
    with pytest.raises(RateLimited):
        await begin(store, rid, flow)  # their keyword is the third message this minute
    assert (await store.load(rid, None)).session is None
    assert await store.rate_count(rid, NOW) == 3
