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
from tests.store.legacy import commit_v1, record_misses_v1

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


async def test_what_main_wrote_last_upgrades_voice_misses_and_audit_included(
    store: RedisStore, redis_client: Redis, flow: Flow
) -> None:
    """The old layout as main's code still wrote it after issues 15, 17 and 21: a caller's
    spoken answer with its confidence (``"c"``), a spoken reply being read back (the pending
    confirmation keeps its confidence), the flows set written with the index entry, a misses
    list and audit entries in the person's slot. Loaded, deduplicated, continued (the
    confidence carried into the compact ``[value, ms, other, confidence]``), exported and
    erased."""
    from bot.audit import AuditEntry
    from bot.models import Answer, Pending, Step
    from bot.results.export import Table
    from store.misses import MissLog

    rid = store.respondent("voice", PHONE)
    assert rid == store.respondent("sms", PHONE)  # a call and a text from one number: one person
    first = answer(new_session(rid, flow, channel="voice"), "role", "carer")
    heard = first.session.model_copy(update={
        "current": "say", "asked": [*first.session.asked, "hours", "say"],
        "pending": Pending(kind="confirm", value="short breaks", confidence=0.42),
    })  # fmt: skip
    spoken = Step(
        session=heard,
        answers=[Answer(question="role", value="carer", at=NOW, confidence=0.91)],
    )
    await commit_v1(redis_client, store.keys, spoken, expected_rev=0, message_id="CA1:1",
                    flow=flow, now=NOW)  # fmt: skip
    old = heard.model_copy(update={"rev": 1})
    k = store.keys
    assert await redis_client.smembers(k.flows(rid)) == {flow.id.encode()}
    assert b'"c":0.91' in (await redis_client.hget(k.response(rid, flow.id), "a:role") or b"")
    misses = MissLog(redis_client, keys=k)
    await record_misses_v1(redis_client, k, rid, flow.id,
                           [("hours", "about [phone]", "n", NOW, "unclear", None)])  # fmt: skip
    await store.audit.record_respondent(rid, [AuditEntry(NOW, "answer_changed", flow.id, rid,
                                                         "role")])  # fmt: skip

    # Loaded as it was, the read-back's confidence too; its message id is still a duplicate.
    loaded = await store.load(rid, "CA1:2")
    assert loaded.session == old
    assert loaded.session is not None
    assert loaded.session.pending == Pending(kind="confirm", value="short breaks", confidence=0.42)
    assert (await store.load(rid, "CA1:1")).duplicate

    # Continued: the confirmed spoken answer, stored compactly with its confidence.
    done = old.model_copy(update={
        "answers": {**old.answers, "say": "short breaks"}, "pending": None, "current": None,
        "status": Status.COMPLETE, "finished_at": LATER, "last_at": LATER, "messages": 2,
    })  # fmt: skip
    step = Step(session=done, answers=[Answer(question="say", value="short breaks", at=LATER,
                                              confidence=0.42)])  # fmt: skip
    await store.commit(step, expected_rev=1, message_id="CA1:2", flow=flow, now=LATER)
    raw: dict[bytes, bytes] = await redis_client.hgetall(k.response(rid, flow.id))  # type: ignore[assignment]
    assert raw[b"a:role"].startswith(b"{")  # as the old code wrote it
    # (ms counted from the hash's base, which this first commit of the new layout set: 0)
    assert raw[b"a:say"] == b'["short breaks",0,null,0.42]'
    again = await store.load(rid, None)
    assert again.session is not None
    assert again.session.pending is None
    assert again.session.status is Status.COMPLETE

    # Exported: both forms carry their confidence; a typed answer has none.
    rows = [r async for r in store.iter_responses(flow.id)]
    assert [r.respondent for r in rows] == [rid]
    assert {q: (a.value, a.confidence) for q, a in rows[0].answers.items()} == {
        "role": ("carer", 0.91), "say": ("short breaks", 0.42)
    }  # fmt: skip
    record = Table(flow).record(rows[0])
    assert record["answers"]["role"]["confidence"] == 0.91
    assert record["answers"]["say"]["confidence"] == 0.42
    assert [m.question async for _, found, _ in misses.records(flow) for m in found] == ["hours"]

    # Erased: the old keys, the misses, the audit entries; the flow's log says one erasure.
    await store.erase("voice", PHONE, actor="officer")
    for key in (k.session(rid), k.seen(rid), k.flows(rid), k.response(rid, flow.id),
                k.audit(rid), misses.key(rid, flow.id)):  # fmt: skip
        assert not await redis_client.exists(key), key
    assert await redis_client.zscore(misses.index_for(flow.id, rid), rid) is None
    assert await redis_client.zscore(k.index_for(flow.id, rid), rid) is None
    erased = [e for e in await store.audit.flow_log(flow.id) if e.kind == "erased"]
    assert [(e.respondent, e.actor) for e in erased] == [(None, "officer")]
