"""The Redis store, on fakeredis and on a real server (same tests, ``redis_client`` fixture)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from redis.asyncio import Redis
from redis.exceptions import BusyLoadingError

from bot.errors import ConflictError, StoreError
from bot.models import Answer, Session, Status, Step
from bot.schema import Flow
from store import DuplicateMessage, KeyBuilder, RedisStore, connect
from store.redis_store import fingerprint
from tests.conftest import REAL_REDIS_URL, real_redis
from tests.store.conftest import (
    NOW,
    PHONE,
    SECRET,
    answer,
    make_flow,
    new_session,
    seen_fingerprints,
    set_session_data,
    stored_session,
)
from tests.support.roundtrips import RoundTripCounter

DAY = timedelta(days=1)


async def keys_of(client: Redis, store: RedisStore) -> set[str]:
    return {k.decode() async for k in client.scan_iter(match=store.keys.pattern(), count=1000)}


async def start(store: RedisStore, flow: Flow, address: str = PHONE, mid: str = "m0") -> Session:
    """Commit a respondent's first answer and return the stored session."""
    rid = store.respondent("sms", address)
    step = answer(new_session(rid, flow, address=address), "role", "carer")
    return await store.commit(step, expected_rev=0, message_id=mid, flow=flow, now=NOW)


# -- commit and load ----------------------------------------------------------------------------


async def test_commit_then_load_round_trips_the_session(store: RedisStore, flow: Flow) -> None:
    rid = store.respondent("sms", PHONE)
    assert (await store.load(rid, "m1")) == (await store.load(rid, None))
    empty = await store.load(rid, "m1")
    assert empty.session is None
    assert empty.rev == 0
    assert not empty.duplicate

    step = answer(new_session(rid, flow), "role", "carer")
    stored = await store.commit(step, expected_rev=0, message_id="m1", flow=flow, now=NOW)
    assert stored.rev == 1
    assert stored == step.session.model_copy(update={"rev": 1})

    loaded = await store.load(rid, "m2")
    assert loaded.session == stored
    assert loaded.rev == 1
    assert not loaded.duplicate
    assert not loaded.opted_out

    step2 = answer(stored, "hours", 35, NOW + timedelta(minutes=2))
    stored2 = await store.commit(
        step2, expected_rev=1, message_id="m2", flow=flow, now=NOW + timedelta(minutes=2)
    )
    assert stored2.rev == 2
    assert (await store.load(rid, "m3")).session == stored2

    response = await store.response(rid, flow.id)
    assert response is not None
    assert response.respondent == rid
    assert response.status is Status.ACTIVE
    assert {q: a.value for q, a in response.answers.items()} == {"role": "carer", "hours": 35}
    assert response.answers["hours"].at == NOW + timedelta(minutes=2)
    assert response.started_at == NOW
    assert response.last_at == NOW + timedelta(minutes=2)


async def test_answer_values_other_text_and_cleared(store: RedisStore, flow: Flow) -> None:
    s = await start(store, flow)
    step = answer(s, "say", "Mae angen mwy o gymorth arnom. ગુજરાતી ✓", other="extra")
    step = step.model_copy(
        update={
            "answers": [
                *step.answers,
                Answer(question="multi", value=["a", "b"], at=NOW),
                Answer(question="flag", value=True, at=NOW),
                Answer(question="size", value=2.5, at=NOW),
                Answer(question="skipped", value=None, at=NOW),
            ]
        }
    )
    s = await store.commit(step, expected_rev=1, message_id="m1", flow=flow, now=NOW)
    response = await store.response(s.respondent, flow.id)
    assert response is not None
    got = {q: (a.value, a.other) for q, a in response.answers.items()}
    assert got == {
        "role": ("carer", None),
        "say": ("Mae angen mwy o gymorth arnom. ગુજરાતી ✓", "extra"),
        "multi": (["a", "b"], None),
        "flag": (True, None),
        "size": (2.5, None),
        "skipped": (None, None),
    }
    # RESTART withdraws answers: they leave the response.
    restart = Step(session=s.model_copy(update={"answers": {}}), cleared=["role", "say"])
    await store.commit(restart, expected_rev=2, message_id="m2", flow=flow, now=NOW)
    response = await store.response(s.respondent, flow.id)
    assert response is not None
    assert set(response.answers) == {"multi", "flag", "size", "skipped"}


async def test_unreadable_session_is_ignored_but_still_version_checked(
    store: RedisStore, redis_client: Redis, flow: Flow
) -> None:
    s = await start(store, flow)
    await set_session_data(redis_client, store, s.respondent, b'{"not": "a session"}')
    loaded = await store.load(s.respondent, "m1")
    assert loaded.session is None
    assert loaded.rev == 1
    with pytest.raises(ConflictError):
        await store.commit(
            answer(new_session(s.respondent, flow), "role", "x"),
            expected_rev=0,
            message_id="m1",
            flow=flow,
            now=NOW,
        )
    fresh = answer(new_session(s.respondent, flow), "role", "x")
    assert (await store.commit(fresh, expected_rev=1, message_id="m1", flow=flow, now=NOW)).rev == 2


async def test_commit_rejects_a_session_of_another_flow(store: RedisStore, flow: Flow) -> None:
    rid = store.respondent("sms", PHONE)
    step = answer(new_session(rid, flow), "role", "carer")
    with pytest.raises(ValueError, match="not 'other-flow'"):
        await store.commit(
            step, expected_rev=0, message_id="m1", flow=make_flow("other-flow"), now=NOW
        )


# -- dedupe and conflicts -----------------------------------------------------------------------


async def test_duplicate_message_is_reported_and_refused(store: RedisStore, flow: Flow) -> None:
    s = await start(store, flow, mid="SM123")
    loaded = await store.load(s.respondent, "SM123")
    assert loaded.duplicate
    assert loaded.session == s

    # Even with the right rev, the same message id never advances the session twice.
    again = answer(s, "hours", 10)
    with pytest.raises(DuplicateMessage):
        await store.commit(again, expected_rev=1, message_id="SM123", flow=flow, now=NOW)
    assert isinstance(DuplicateMessage("x"), ConflictError)  # a retry loop reloads, then stops
    after = await store.load(s.respondent, "SM124")
    assert after.session == s
    assert not after.duplicate
    response = await store.response(s.respondent, flow.id)
    assert response is not None
    assert set(response.answers) == {"role"}

    # Messages without an id (reminders) are never deduplicated.
    await store.commit(again, expected_rev=1, message_id=None, flow=flow, now=NOW)
    assert (await store.load(s.respondent, None)).rev == 2


async def test_seen_ids_older_than_the_window_are_trimmed(
    store: RedisStore, redis_client: Redis, flow: Flow
) -> None:
    rid = store.respondent("sms", PHONE)
    s = new_session(rid, flow, NOW - 3 * DAY)
    s = await store.commit(
        answer(s, "role", "carer"), expected_rev=0, message_id="old", flow=flow, now=NOW - 3 * DAY
    )
    assert (await store.load(rid, "old")).duplicate
    s = await store.commit(
        answer(s, "hours", 1), expected_rev=1, message_id="new", flow=flow, now=NOW
    )
    seen = await seen_fingerprints(redis_client, store, rid)
    assert seen == [fingerprint("new")]
    assert not (await store.load(rid, "old")).duplicate
    # The record lives in the session, which is kept at least for the dedupe window.
    ttl = await redis_client.pttl(store.keys.session(rid))
    assert 2 * DAY.total_seconds() * 1000 - 60_000 < ttl


async def test_stale_rev_raises_conflict_and_writes_nothing(
    store: RedisStore, redis_client: Redis, flow: Flow
) -> None:
    s = await start(store, flow)
    before = {k: await redis_client.dump(k) for k in await keys_of(redis_client, store)}
    with pytest.raises(ConflictError) as err:
        await store.commit(
            answer(s, "hours", 3), expected_rev=0, message_id="m9", flow=flow, now=NOW
        )
    assert not isinstance(err.value, DuplicateMessage)
    after = {k: await redis_client.dump(k) for k in await keys_of(redis_client, store)}
    assert after == before
    assert not (await store.load(s.respondent, "m9")).duplicate


async def test_fifty_concurrent_messages_from_one_respondent_apply_once_each(
    store: RedisStore, flow: Flow
) -> None:
    """50 messages at once, each delivered twice (a webhook retry racing the original)."""
    rid = store.respondent("sms", PHONE)
    conflicts = 0
    commits = 0

    async def deliver(i: int) -> None:
        nonlocal conflicts, commits
        mid = f"SM{i:03d}"
        for _ in range(500):  # the lead's dispatch loop, in miniature
            loaded = await store.load(rid, mid)
            if loaded.duplicate:
                return
            base = loaded.session or new_session(rid, flow)
            step = answer(base, f"q{i}", i)
            try:
                await store.commit(
                    step, expected_rev=loaded.rev, message_id=mid, flow=flow, now=NOW
                )
            except ConflictError:
                conflicts += 1
                continue
            commits += 1
            return
        raise AssertionError("no progress")

    await asyncio.gather(*(deliver(i) for i in list(range(50)) * 2))
    final = (await store.load(rid, None)).session
    assert final is not None
    assert commits == 50
    assert final.messages == 50
    assert final.rev == 50
    assert final.answers == {f"q{i}": i for i in range(50)}
    response = await store.response(rid, flow.id)
    assert response is not None
    assert len(response.answers) == 50
    assert conflicts > 0  # the race really happened


async def test_different_respondents_never_conflict(store: RedisStore, flow: Flow) -> None:
    async def one(i: int) -> int:
        rid = store.respondent("sms", f"+4477009{i:05d}")
        loaded = await store.load(rid, "m1")
        step = answer(new_session(rid, flow), "role", "carer")
        s = await store.commit(step, expected_rev=loaded.rev, message_id="m1", flow=flow, now=NOW)
        return s.rev

    assert await asyncio.gather(*(one(i) for i in range(50))) == [1] * 50
    assert await store.count_responses(flow.id) == 50


# -- round trips and size -----------------------------------------------------------------------


async def test_round_trips_per_message(store: RedisStore, redis_client: Redis, flow: Flow) -> None:
    rid = store.respondent("sms", PHONE)
    with RoundTripCounter(redis_client, store.hot) as rt:
        # A cold script cache (fresh server) costs one EVAL fallback, once.
        loaded = await store.load(rid, "m1")
        assert rt.take() in (1, 2)
        s = await store.commit(
            answer(new_session(rid, flow), "role", "carer"),
            expected_rev=loaded.rev,
            message_id="m1",
            flow=flow,
            now=NOW,
        )
        first = rt.take()
        # index + EVALSHA (+ EVAL if the script was not cached yet), + recording the flow
        # version's question ids (once per version and process)
        assert first in (3, 4)
        await store.prepare()
        rt.take()

        for i in range(3):
            later = NOW + timedelta(minutes=i + 1)
            loaded = await store.load(rid, f"m{i + 2}")
            assert rt.take() == 1
            s = await store.commit(
                answer(s, "hours", i, later),
                expected_rev=loaded.rev,
                message_id=f"m{i + 2}",
                flow=flow,
                now=later,
            )
            assert rt.take() == 1

        other = store.respondent("sms", "+447700900999")
        await store.load(other, "x")
        assert rt.take() == 1
        await store.commit(
            answer(new_session(other, flow), "role", "carer"),
            expected_rev=0,
            message_id="x",
            flow=flow,
            now=NOW,
        )
        assert rt.take() == 2  # first commit in a flow: ZADD NX into the index, then EVALSHA


async def test_first_commit_not_guessed_as_first_is_still_indexed(
    store: RedisStore, redis_client: Redis, flow: Flow
) -> None:
    """A session moved into a new flow with an old start time still lands in the index."""
    s = await start(store, flow)
    other = make_flow("second")
    moved = s.model_copy(update={"flow": "second", "answers": {}, "started_at": NOW - DAY})
    with RoundTripCounter(redis_client, store.hot) as rt:
        await store.commit(
            answer(moved, "role", "x"), expected_rev=1, message_id="m1", flow=other, now=NOW
        )
        assert rt.take() >= 2
    assert [r.respondent async for r in store.iter_responses("second")] == [s.respondent]
    # The old flow's response stays.
    assert [r.respondent async for r in store.iter_responses(flow.id)] == [s.respondent]


async def test_session_with_ten_answers_is_small(
    store: RedisStore, redis_client: Redis, flow: Flow, backend: str
) -> None:
    s = await start(store, flow)
    for i in range(9):
        s = await store.commit(
            answer(s, f"question_{i}", "a typical choice id" if i % 2 else 12),
            expected_rev=s.rev,
            message_id=f"SM{i:032x}",
            flow=flow,
            now=NOW,
        )
    assert len(s.answers) == 10
    _, data = await stored_session(redis_client, store, s.respondent)
    assert data is not None
    assert len(data) < 900
    if backend != "fake":
        usage = await redis_client.memory_usage(store.keys.session(s.respondent))
        print(f"MEMORY USAGE of a session with 10 answers: {usage} bytes")
        assert usage is not None
        assert usage <= 1536


# -- lifetimes ----------------------------------------------------------------------------------


async def test_ttls_follow_expiry_and_retention(
    store: RedisStore, redis_client: Redis, flow: Flow
) -> None:
    s = await start(store, flow)
    k, rid = store.keys, s.respondent
    ms = 1000
    expiry = flow.expiry.total_seconds() * ms
    assert expiry - 60_000 < await redis_client.pttl(k.session(rid)) <= expiry
    retention = store.retention.total_seconds() * ms
    for key in (k.response(rid, flow.id), k.index_for(flow.id, rid)):
        assert retention - 60_000 < await redis_client.pttl(key) <= retention
    # The flows with responses, which erasure reads, are kept as long as the responses.
    assert await redis_client.sismember(k.flow_ids(), flow.id)
    assert await redis_client.pttl(k.flow_ids()) == -1


async def test_session_expires_after_the_flows_expiry(store: RedisStore, flow: Flow) -> None:
    quick = make_flow(expiry="0.3s")
    s = await start(store, quick)
    assert (await store.load(s.respondent, None)).session is not None
    await asyncio.sleep(0.45)
    gone = await store.load(s.respondent, None)
    assert gone.session is None
    assert gone.rev == 0
    # The answers outlive the session.
    response = await store.response(s.respondent, quick.id)
    assert response is not None
    assert set(response.answers) == {"role"}


@pytest.mark.parametrize(
    "status", [Status.COMPLETE, Status.OPTED_OUT, Status.DECLINED, Status.CLOSED, Status.EXPIRED]
)
async def test_finished_session_drops_the_address(
    store: RedisStore, redis_client: Redis, status: Status
) -> None:
    flow = make_flow(expiry="60d")
    s = await start(store, flow)
    assert s.address == PHONE
    done = await store.commit(
        answer(s, "say", "bye", status=status), expected_rev=1, message_id="m1", flow=flow, now=NOW
    )
    assert done.address is None
    assert done.status is status
    loaded = await store.load(s.respondent, None)
    assert loaded.session == done
    header, raw = await stored_session(redis_client, store, s.respondent)
    assert raw is not None
    assert b"7700900123" not in header + raw
    thirty_days = 30 * DAY.total_seconds() * 1000
    assert (
        thirty_days - 60_000
        < await redis_client.pttl(store.keys.session(s.respondent))
        <= thirty_days
    )
    response = await store.response(s.respondent, flow.id)
    assert response is not None
    assert response.status is status
    assert response.finished_at == NOW


async def test_opt_out_marker(store: RedisStore, redis_client: Redis, flow: Flow) -> None:
    s = await start(store, flow)
    assert not (await store.load(s.respondent, None)).opted_out
    stop = answer(s, "say", "STOP", status=Status.OPTED_OUT)
    s = await store.commit(stop, expected_rev=1, message_id="m1", flow=flow, now=NOW)
    assert (await store.load(s.respondent, None)).opted_out
    assert await store.is_opted_out(s.respondent)
    assert (
        await redis_client.pttl(store.keys.optout(s.respondent)) > 300 * DAY.total_seconds() * 1000
    )

    # Finishing otherwise leaves the marker alone; becoming active again clears it.
    s = await store.commit(
        answer(s, "say", "x", status=Status.COMPLETE),
        expected_rev=2,
        message_id="m2",
        flow=flow,
        now=NOW,
    )
    assert await store.is_opted_out(s.respondent)
    restart = answer(new_session(s.respondent, flow), "role", "carer")
    await store.commit(restart, expected_rev=3, message_id="m3", flow=flow, now=NOW)
    assert not (await store.load(s.respondent, None)).opted_out


# -- erasure ------------------------------------------------------------------------------------


async def test_erase_removes_everything_about_one_person(
    store: RedisStore, redis_client: Redis, flow: Flow
) -> None:
    other_flow = make_flow("second")
    s = await start(store, flow)
    # Same person, written differently, switches to another flow and then says STOP.
    rid = store.respondent("sms", "07700 900123")
    assert rid == s.respondent
    moved = answer(new_session(rid, other_flow), "role", "x")
    s2 = await store.commit(moved, expected_rev=1, message_id="m1", flow=other_flow, now=NOW)
    await store.commit(
        answer(s2, "say", "STOP", status=Status.OPTED_OUT),
        expected_rev=2,
        message_id="m2",
        flow=other_flow,
        now=NOW,
    )
    keep = await start(store, flow, address="+447700900456")
    keep_keys = await keys_of(redis_client, store)
    mine = {k for k in keep_keys if f"{{{rid}}}" in k}
    assert len(mine) == 4  # session (with its dedupe record), optout, two responses

    removed = await store.erase("sms", "+44 7700 900123")
    assert removed == len(mine) + 4  # and one entry in each flow's index and reminder queue

    left = await keys_of(redis_client, store)
    # Each flow's audit log says an erasure happened (how much, not whose).
    for f in (flow.id, other_flow.id):
        erased = [e for e in await store.audit.flow_log(f) if e.kind == "erased"]
        assert [(e.respondent, e.actor) for e in erased] == [(None, "unknown")]
    shared = (":idx:", ":due:", ":qids:", ":flowids", "{audit:")
    data_left = {k for k in left if not any(s in k for s in shared)}
    assert data_left == {k for k in keep_keys - mine if not any(s in k for s in shared)}
    assert store.keys.index_for(flow.id, keep.respondent) in left
    assert all(keep.respondent in k or any(s in k for s in shared) for k in left)
    for key in left:
        if ":idx:" in key:
            members = {str(m, "utf-8") for m in await redis_client.zrange(key, 0, -1)}  # type: ignore[arg-type]
            assert members == {keep.respondent}
    assert [r.respondent async for r in store.iter_responses(flow.id)] == [keep.respondent]
    assert [r async for r in store.iter_responses(other_flow.id)] == []
    assert await store.count_responses(flow.id) == 1
    assert await store.erase("sms", PHONE) == 0


# -- exports ------------------------------------------------------------------------------------


MINUTES = [0, 0, 0, 0, 0, 0, 0, 0, 5, 3, 3, 9, 1, 2, 7, 7, 4, 6, 8, 5]  # eight ties at 0


async def test_iter_responses_order_since_and_status(
    redis_client: Redis, key_prefix: str, flow: Flow
) -> None:
    # Two shards and batches of 3: ties on one millisecond must page across shard fetches.
    store = RedisStore(redis_client, secret=SECRET, keys=KeyBuilder(prefix=key_prefix, shards=2))
    expected: list[tuple[datetime, str]] = []
    for i in range(20):
        started = NOW + timedelta(minutes=MINUTES[i])
        rid = store.respondent("sms", f"+4477009{i:05d}")
        s = new_session(rid, flow, started)
        s = await store.commit(answer(s, "role", "carer", started), expected_rev=0, message_id="a",
                               flow=flow, now=started)  # fmt: skip
        if i % 3 == 0:
            await store.commit(
                answer(s, "hours", i, started, status=Status.COMPLETE),
                expected_rev=1,
                message_id="b",
                flow=flow,
                now=started,
            )
        expected.append((started, rid))
    expected.sort()
    # An index entry whose response is gone (crash between index and commit) is skipped.
    await redis_client.zadd(store.keys.index(flow.id, 0), {"ghost": 0})

    got = [r async for r in store.iter_responses(flow.id, batch=3)]
    assert [(r.started_at, r.respondent) for r in got] == expected
    statuses = {r.respondent: r.status for r in got}
    assert sum(st is Status.COMPLETE for st in statuses.values()) == 7
    assert sum(st is Status.ACTIVE for st in statuses.values()) == 13
    complete = next(r for r in got if r.status is Status.COMPLETE)
    assert set(complete.answers) == {"role", "hours"}
    assert complete.finished_at is not None

    since = NOW + timedelta(minutes=5)
    later = [r.respondent async for r in store.iter_responses(flow.id, since=since, batch=500)]
    assert later == [rid for started, rid in expected if started >= since]
    assert await store.count_responses(flow.id) == 21  # index entries, ghost included
    assert [r async for r in store.iter_responses("nobody-here")] == []


async def test_iter_responses_reads_in_pipelined_batches(
    store: RedisStore, redis_client: Redis, flow: Flow
) -> None:
    for i in range(30):
        rid = store.respondent("sms", f"+4477009{i:05d}")
        s = new_session(rid, flow, NOW + timedelta(seconds=i))
        await store.commit(
            answer(s, "role", "carer"), expected_rev=0, message_id="a", flow=flow, now=NOW
        )
    with RoundTripCounter(redis_client) as rt:
        got = [r async for r in store.iter_responses(flow.id, batch=100)]
        # One pipeline over the 16 shards, one HGETALL pipeline for the 30 responses.
        assert rt.take() == 2
    assert len(got) == 30


# -- failures -----------------------------------------------------------------------------------


async def test_unreachable_server_raises_store_error(unused_tcp_port: int, flow: Flow) -> None:
    store = RedisStore(connect(f"redis://127.0.0.1:{unused_tcp_port}/0"), secret=SECRET)
    rid = store.respondent("sms", PHONE)
    with pytest.raises(StoreError):
        await store.load(rid, "m1")
    with pytest.raises(StoreError) as err:
        await store.commit(
            answer(new_session(rid, flow), "role", "carer"),
            expected_rev=0,
            message_id="m1",
            flow=flow,
            now=NOW,
        )
    assert not isinstance(err.value, ConflictError)
    with pytest.raises(StoreError):
        [r async for r in store.iter_responses(flow.id)]
    assert await store.ping() is False
    await store.close()


async def test_loading_server_raises_store_error(
    store: RedisStore, redis_client: Redis, flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = await start(store, flow)

    async def busy(*args: object, **kwargs: object) -> None:
        raise BusyLoadingError("Redis is loading the dataset in memory")

    for client in (redis_client, store.hot):  # the commit goes through store.hot if it has one
        if client is not None:
            monkeypatch.setattr(client, "execute_command", busy)
    with pytest.raises(StoreError, match="BusyLoadingError"):
        await store.commit(
            answer(s, "hours", 1), expected_rev=1, message_id="m1", flow=flow, now=NOW
        )
    monkeypatch.undo()
    assert (await store.load(s.respondent, None)).rev == 1
    assert await store.ping()


def test_secret_is_required() -> None:
    with pytest.raises(ValueError, match="secret"):
        RedisStore(Redis(), secret=b"")


@pytest.mark.redis
async def test_connect_serves_a_burst_and_fails_cleanly_past_its_pool(key_prefix: str) -> None:
    await (await real_redis()).aclose()  # skip (or fail under CI) without a server
    client = connect(REAL_REDIS_URL)
    store = RedisStore(client, secret=SECRET, keys=KeyBuilder(prefix=key_prefix))
    results = await asyncio.gather(*(store.load(f"r{i}", "m") for i in range(500)))
    assert all(r.session is None for r in results)
    await store.close()
    # Past the pool's size: a StoreError (the web layer answers 503), never another exception.
    small = RedisStore(
        connect(REAL_REDIS_URL, max_connections=4),
        secret=SECRET,
        keys=KeyBuilder(prefix=key_prefix),
    )
    outcomes = await asyncio.gather(
        *(small.load(f"r{i}", "m") for i in range(200)), return_exceptions=True
    )
    assert all(not isinstance(o, Exception) or isinstance(o, StoreError) for o in outcomes)
    await small.close()


async def test_a_session_key_holding_something_else_is_taken_as_none(
    store: RedisStore, redis_client: Redis, flow: Flow
) -> None:
    rid = store.respondent("sms", PHONE)
    await redis_client.set(store.keys.session(rid), b"not a session at all")
    loaded = await store.load(rid, "m1")
    assert loaded.session is None
    assert loaded.rev == 0
    s = await start(store, flow, mid="m1")
    assert s.rev == 1
    assert (await store.load(rid, None)).session == s
