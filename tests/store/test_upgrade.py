"""A live consultation upgrades in place: what the store wrote before the compact layout
(tests/store/legacy.py, the old commit verbatim) is loaded, deduplicated, continued, exported
and erased by the new code, on each Redis backend."""

from __future__ import annotations

from datetime import timedelta

import pytest
from redis.asyncio import Redis

from bot.errors import DuplicateMessage, RateLimited
from bot.models import Session, Status
from bot.schema import Flow
from store import KeyBuilder, RateLimit, RedisStore
from store.stored import decode_stored
from tests.store.conftest import NOW, PHONE, SECRET, answer, make_flow, new_session
from tests.store.legacy import commit_v1

LATER = NOW + timedelta(minutes=5)


def store_of(client: Redis, prefix: str, **kw: object) -> RedisStore:
    return RedisStore(client, secret=SECRET, keys=KeyBuilder(prefix=prefix), **kw)  # type: ignore[arg-type]


async def old_respondent(
    store: RedisStore, client: Redis, flow: Flow, address: str = PHONE
) -> Session:
    """Two answers committed by the old code (messages m1, m2); the session as it stored it."""
    rid = store.respondent("sms", address)
    s = answer(new_session(rid, flow, address=address), "role", "other", other="a neighbour")
    await commit_v1(client, store.keys, s, expected_rev=0, message_id="m1", flow=flow, now=NOW)
    s2 = answer(s.session.model_copy(update={"rev": 1}), "hours", 12.5)
    await commit_v1(client, store.keys, s2, expected_rev=1, message_id="m2", flow=flow, now=NOW)
    return s2.session.model_copy(update={"rev": 2})


async def test_an_old_session_loads_and_its_message_ids_are_still_duplicates(
    store: RedisStore, redis_client: Redis, flow: Flow
) -> None:
    old = await old_respondent(store, redis_client, flow)
    assert await redis_client.type(store.keys.session(old.respondent)) == b"hash"
    loaded = await store.load(old.respondent, "m3")
    assert loaded.session == old
    assert loaded.rev == 2
    assert not loaded.duplicate
    last = await store.load(old.respondent, "m2")
    assert last.duplicate
    assert last.latest_at is not None  # their last message: the question may be sent again
    earlier = await store.load(old.respondent, "m1")
    assert earlier.duplicate
    assert earlier.latest_at is None


async def test_an_old_session_continues_in_the_new_layout(
    store: RedisStore, redis_client: Redis, flow: Flow
) -> None:
    old = await old_respondent(store, redis_client, flow)
    rid = old.respondent
    before = await store.response(rid, flow.id)
    assert before is not None
    s3 = await store.commit(
        answer(old, "say", "hello", LATER), expected_rev=2, message_id="m3", flow=flow, now=LATER
    )
    assert s3.rev == 3
    assert await redis_client.type(store.keys.session(rid)) == b"string"
    assert (await store.load(rid, None)).session == s3
    # A retry of a message committed before the upgrade is still refused.
    with pytest.raises(DuplicateMessage) as dup:
        await store.commit(answer(s3, "say", "again", LATER), expected_rev=3, message_id="m1",
                           flow=flow, now=LATER)  # fmt: skip
    assert dup.value.latest_at is None
    # The response holds the old answers (old form) and the new one, with one meta, not two.
    response = await store.response(rid, flow.id)
    assert response is not None
    assert {q: (a.value, a.other, a.at) for q, a in response.answers.items()} == {
        "role": ("other", "a neighbour", NOW),
        "hours": (12.5, None, NOW),
        "say": ("hello", None, LATER),
    }
    assert (response.started_at, response.last_at, response.channel) == (NOW, LATER, "sms")
    assert response.version == before.version
    raw: dict[bytes, bytes] = await redis_client.hgetall(store.keys.response(rid, flow.id))  # type: ignore[assignment]
    assert b"meta" not in raw
    assert raw[b"a:role"].startswith(b"{")  # as the old code wrote it
    assert raw[b"a:say"].startswith(b"[")
    # Exports read both forms alike.
    rows = [r async for r in store.iter_responses(flow.id)]
    assert [r.respondent for r in rows] == [rid]
    assert {q: v for q, v, _, _ in rows[0].answer_values()} == {
        "role": "other", "hours": 12.5, "say": "hello"
    }  # fmt: skip


async def test_old_and_new_responses_export_side_by_side(
    store: RedisStore, redis_client: Redis, flow: Flow
) -> None:
    old = await old_respondent(store, redis_client, flow)
    done = answer(old, "say", "bye", LATER, status=Status.COMPLETE)
    await commit_v1(redis_client, store.keys, done, expected_rev=2, message_id="m3", flow=flow,
                    now=LATER)  # fmt: skip
    rid = store.respondent("sms", "+447700900456")
    new = answer(new_session(rid, flow, LATER, address="+447700900456"), "role", "carer", LATER)
    await store.commit(new, expected_rev=0, message_id="n1", flow=flow, now=LATER)
    rows = {r.respondent: r async for r in store.iter_responses(flow.id)}
    assert set(rows) == {old.respondent, rid}
    a, b = rows[old.respondent], rows[rid]
    assert (a.status, a.finished_at, a.utc_texts()[1]) == (
        Status.COMPLETE, LATER, "2025-03-03T10:05:00Z"
    )  # fmt: skip
    assert (b.status, b.finished_at, b.utc_texts()[0]) == (
        Status.ACTIVE,
        None,
        "2025-03-03T10:05:00Z",
    )
    assert b.answers["role"].at == LATER


async def test_an_old_respondent_is_erased_completely(
    store: RedisStore, redis_client: Redis, flow: Flow
) -> None:
    old = await old_respondent(store, redis_client, flow)
    other_flow = make_flow("second")
    moved = answer(new_session(old.respondent, other_flow), "role", "x")
    await commit_v1(redis_client, store.keys, moved, expected_rev=2, message_id="m3",
                    flow=other_flow, now=NOW)  # fmt: skip
    k = store.keys
    rid = old.respondent
    # What the old code kept: session, seen ids, flows set, rate counter, two responses.
    mine = [k.session(rid), k.seen(rid), k.flows(rid), k.rate(rid), k.response(rid, flow.id),
            k.response(rid, other_flow.id)]  # fmt: skip
    assert all([await redis_client.exists(key) for key in mine])
    # (no process of the new code served either flow: only the old flows set knows them)
    removed = await store.erase("sms", PHONE)
    assert removed == len(mine) + 4  # and their index and reminder entries in both flows
    assert not any([await redis_client.exists(key) for key in mine])
    for f in (flow.id, other_flow.id):
        assert await redis_client.zscore(k.index_for(f, rid), rid) is None
        assert await redis_client.zscore(k.due_for(f, rid), rid) is None


async def test_an_old_rate_count_still_counts(redis_client: Redis, key_prefix: str) -> None:
    flow = make_flow()
    store = store_of(redis_client, key_prefix, rate_limit=RateLimit(3, timedelta(minutes=1)))
    old = await old_respondent(store, redis_client, flow)  # 2 messages in the old counter
    s3 = await store.commit(answer(old, "say", "a"), expected_rev=2, message_id="m3", flow=flow,
                            now=NOW)  # fmt: skip
    assert await store.rate_count(old.respondent, NOW) == 3
    with pytest.raises(RateLimited):
        await store.commit(answer(s3, "say", "b"), expected_rev=3, message_id="m4", flow=flow,
                           now=NOW)  # fmt: skip


def test_an_old_response_hash_decodes() -> None:
    meta = (
        b'{"flow":"f","version":"v1","channel":"telegram","lang":"gu","status":"opted_out",'
        b'"started_at":"2026-01-05T09:00:00.123456Z","last_at":"2026-01-05T10:00:00Z"}'
    )
    r = decode_stored("rid", {b"meta": meta, b"a:x": b'{"v":1,"t":1767603990000}'})
    assert r is not None
    assert (r.channel, r.lang, r.status, r.finished_at) == ("telegram", "gu", Status.OPTED_OUT,
                                                            None)  # fmt: skip
    assert r.utc_texts() == ("2026-01-05T09:00:00Z", None, "2026-01-05T10:00:00Z")
    assert r.answers["x"].ms == 1767603990000


async def test_a_refused_commit_brings_back_an_old_session(
    store: RedisStore, redis_client: Redis, flow: Flow
) -> None:
    from bot.errors import ConflictError

    old = await old_respondent(store, redis_client, flow)
    stale = old.model_copy(update={"rev": 1})
    with pytest.raises(ConflictError) as lost:
        await store.commit(answer(stale, "say", "x", LATER), expected_rev=1, message_id="m3",
                           flow=flow, now=LATER)  # fmt: skip
    current = lost.value.current
    assert current is not None
    assert current.session == old  # type: ignore[attr-defined]
    assert current.rev == 2  # type: ignore[attr-defined]
    assert await redis_client.type(store.keys.session(old.respondent)) == b"hash"  # untouched
