"""The misses log (store/misses.py) on fakeredis, the real Redis and the local cluster: what is
written, read back with each person's final answer, kept no longer than the response, erased
with the person, and capped per person and per flow."""

from __future__ import annotations

from datetime import timedelta

from redis.asyncio import Redis

from bot.misses import Miss, misses_of
from bot.models import Event, Pending, Session, Step
from bot.schema import Flow
from store import KeyBuilder, RedisStore
from store.misses import MissLog
from tests.store.conftest import NOW, PHONE, answer, new_session


def missed(session: Session, qid: str, kind: str = "not_understood", **data: object) -> Step:
    """The step of a message the engine did not understand (or checked) at ``qid``."""
    update: dict[str, object] = {"messages": session.messages + 1, "misses": session.misses + 1}
    if kind == "confirm":
        update["pending"] = Pending(kind="confirm", value=data.pop("offered"))
    return Step(
        session=session.model_copy(update=update),
        events=[Event(kind=kind, question=qid, data=dict(data))],
    )


async def commit(store: RedisStore, step: Step, rev: int, flow: Flow, mid: str) -> Session:
    return await store.commit(step, expected_rev=rev, message_id=mid, flow=flow, now=NOW)


async def test_misses_are_read_back_with_the_answer_finally_given(
    store: RedisStore, flow: Flow
) -> None:
    log = MissLog.for_store(store)
    rid = store.respondent("sms", PHONE)
    s = new_session(rid, flow)
    step = missed(s, "role", reason="not_understood")
    s = await commit(store, step, 0, flow, "m1")
    await log.record(step, misses_of(step, "im his wife, call 07700 900123", NOW), NOW)
    step = missed(s, "role", "confirm", offered="carer")
    s = await commit(store, step, 1, flow, "m2")
    await log.record(step, misses_of(step, "carr", NOW), NOW)
    s = await commit(store, answer(s, "role", "carer"), 2, flow, "m3")

    records = [r async for r in log.records(flow)]
    assert len(records) == 1
    who, misses, finals = records[0]
    assert who == rid
    assert [(m.question, m.text, m.kind) for m in misses] == [
        ("role", "im his wife, call [phone]", "n"),
        ("role", "carr", "c"),
    ]
    assert misses[0].reason == "not_understood"
    assert misses[1].offered == "carer"
    assert finals == {"role": "carer"}
    # Nothing else about the person is in the log: the number never reached it.
    raw = await store.redis.lrange(log.key(rid, flow.id), 0, -1)
    assert all(b"07700" not in item and PHONE.encode() not in item for item in raw)


async def test_a_question_never_answered_has_no_final_answer(store: RedisStore, flow: Flow) -> None:
    log = MissLog.for_store(store)
    s = new_session(store.respondent("sms", PHONE), flow)
    step = missed(s, "role")
    await commit(store, step, 0, flow, "m1")
    await log.record(step, misses_of(step, "who knows", NOW), NOW)
    [(_, _, finals)] = [r async for r in log.records(flow)]
    assert finals == {"role": None}


async def test_kept_no_longer_than_the_response(store: RedisStore, flow: Flow) -> None:
    log = MissLog.for_store(store)
    s = new_session(store.respondent("sms", PHONE), flow)
    step = missed(s, "role")
    await commit(store, step, 0, flow, "m1")
    await log.record(step, misses_of(step, "eh", NOW), NOW)
    rid = s.respondent
    miss_ttl = await store.redis.pttl(log.key(rid, flow.id))
    index_ttl = await store.redis.pttl(log.index_for(flow.id, rid))
    response_ttl = await store.redis.pttl(store.keys.response(rid, flow.id))
    assert 0 < miss_ttl <= response_ttl
    assert 0 < index_ttl <= store.retention.total_seconds() * 1000


async def test_since_keeps_later_misses_only(store: RedisStore, flow: Flow) -> None:
    log = MissLog.for_store(store)
    s = new_session(store.respondent("sms", PHONE), flow)
    early = missed(s, "role")
    s = await commit(store, early, 0, flow, "m1")
    await log.record(early, misses_of(early, "early one", NOW), NOW)
    later = missed(s, "hours")
    await commit(store, later, 1, flow, "m2")
    at = NOW + timedelta(days=3)
    await log.record(later, misses_of(later, "later one", at), at)
    [(_, misses, _)] = [r async for r in log.records(flow, since=NOW + timedelta(days=1))]
    assert [m.text for m in misses] == ["later one"]
    assert [r async for r in log.records(flow, since=NOW + timedelta(days=4))] == []


async def test_erased_with_the_person(store: RedisStore, flow: Flow, redis_client: Redis) -> None:
    log = MissLog.for_store(store)
    mine = new_session(store.respondent("sms", PHONE), flow)
    theirs = new_session(store.respondent("sms", "+447700900456"), flow)
    for n, s in enumerate((mine, theirs)):
        step = missed(s, "role")
        await commit(store, step, 0, flow, f"m{n}")
        await log.record(step, misses_of(step, f"reply {n}", NOW), NOW)
    assert await store.erase("sms", PHONE) > 0
    assert await redis_client.exists(log.key(mine.respondent, flow.id)) == 0
    assert [r[0] async for r in log.records(flow)] == [theirs.respondent]
    assert await redis_client.exists(log.key(theirs.respondent, flow.id)) == 1


async def test_capped_per_person_and_per_flow(
    redis_client: Redis, key_prefix: str, flow: Flow
) -> None:
    keys = KeyBuilder(prefix=key_prefix, shards=2)
    store = RedisStore(redis_client, secret=b"s", keys=keys)
    log = MissLog.for_store(store, per_person=3, per_flow=4)
    s = new_session(store.respondent("sms", PHONE), flow)
    for n in range(10):  # one person sending junk
        step = missed(s, "role")
        await log.record(step, misses_of(step, f"junk {n}", NOW), NOW)
    raw = await redis_client.lrange(log.key(s.respondent, flow.id), 0, -1)
    assert len(raw) == 3  # the latest three
    assert b"junk 9" in raw[-1]
    # Many people sending junk: the flow keeps the most recently missed (2 per shard here).
    for n in range(30):
        other = new_session(store.respondent("sms", f"+4477009{n:05d}"), flow)
        step = missed(other, "role")
        at = NOW + timedelta(seconds=n + 1)
        await log.record(step, misses_of(step, "junk", at), at)
    indexed = set()
    for shard in range(keys.shards):
        members = await redis_client.zrange(log.index(flow.id, shard), 0, -1)
        assert len(members) <= log.per_shard
        indexed |= {m.decode() for m in members if isinstance(m, bytes)}
    assert len(indexed) <= 4
    lists = [k async for k in redis_client.scan_iter(match=f"{key_prefix}:*:m:{flow.id}")]
    assert len(lists) == len(indexed)  # the dropped people's lists went with them


async def test_no_misses_writes_nothing(store: RedisStore, flow: Flow, redis_client: Redis) -> None:
    log = MissLog.for_store(store)
    s = new_session(store.respondent("sms", PHONE), flow)
    step = answer(s, "role", "carer")
    await log.record(step, misses_of(step, "carer", NOW), NOW)
    assert [k async for k in redis_client.scan_iter(match=f"{store.keys.prefix}:*")] == []


def test_an_unreadable_entry_never_hides_the_others() -> None:
    from store.misses import _decode

    assert _decode(b"not json") is None
    good = _decode(b'{"q":"role","t":1,"x":"eh","k":"n"}')
    assert isinstance(good, Miss)
    assert good.text == "eh"
