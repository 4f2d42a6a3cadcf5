"""The misses log (store/misses.py) on fakeredis, the real Redis and the local cluster: what is
written, read back with each person's final answer, kept no longer than the response (it is
kept in it), erased with the person, capped per person and per flow; and the layout before
(a list per person and a per-flow index) still read and erased."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.misses import MAX_TEXT, Miss, mask, misses_of
from bot.models import Event, Pending, Session, Step
from bot.schema import Flow
from store import RedisStore
from store.client import AnyRedis
from store.misses import ENTRY_FIELDS, VALUE_MAX, MissLog, entry_fields, misses_in
from store.stored import decode_stored
from tests.store.conftest import NOW, PHONE, answer, new_session
from tests.store.legacy import record_misses_v1

GUJARATI = "મારી માતાની સંભાળ રાખું છું અને મારા પિતા પણ બીમાર છે"


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


async def one_miss(
    store: RedisStore, log: MissLog, flow: Flow, address: str, text: str = "eh", at: object = NOW
) -> Session:
    """A new respondent whose first message was not understood: committed, then logged."""
    s = new_session(store.respondent("sms", address), flow)
    step = missed(s, "role", reason="not_understood")
    s = await commit(store, step, 0, flow, f"{address}:1")
    when = NOW if at is NOW else at
    await log.record(step, misses_of(step, text, when), when)  # type: ignore[arg-type]
    return s


async def misses_fields(
    client: AnyRedis, store: RedisStore, rid: str, flow: Flow
) -> dict[bytes, bytes]:
    """The misses fields of a response: the count ``m`` and the entries ``m<i>``, ``m<i>.<j>``."""
    raw: dict[bytes, bytes] = await client.hgetall(store.keys.response(rid, flow.id))  # type: ignore[assignment]
    return {k: v for k, v in raw.items() if k == b"m" or (k[:1] == b"m" and k[1:2].isdigit())}


async def keys_of(client: AnyRedis, prefix: str) -> list[str]:
    return sorted([k.decode() async for k in client.scan_iter(match=f"{prefix}:*")])


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
    assert misses[0].at == NOW
    assert finals == {"role": "carer"}
    # Nothing else about the person is in the log: the number never reached it.
    raw = await misses_fields(store.redis, store, rid, flow)
    assert len(raw) == 3  # the count and two entries
    assert all(b"07700" not in v and PHONE.encode() not in v for v in raw.values())


async def test_a_question_never_answered_has_no_final_answer(store: RedisStore, flow: Flow) -> None:
    log = MissLog.for_store(store)
    await one_miss(store, log, flow, PHONE, "who knows")
    [(_, _, finals)] = [r async for r in log.records(flow)]
    assert finals == {"role": None}


async def test_kept_in_the_response_so_never_longer(
    store: RedisStore, flow: Flow, redis_client: AnyRedis
) -> None:
    """No key of their own: the misses are fields of the response, so they have its TTL and
    go when it goes; a miss logged after the response went (erased, expired) writes nothing."""
    log = MissLog.for_store(store)
    prefix = store.keys.prefix
    s = await one_miss(store, log, flow, PHONE)
    rid = s.respondent
    mine = [k for k in await keys_of(redis_client, prefix) if rid in k]
    assert sorted(mine) == sorted([store.keys.session(rid), store.keys.response(rid, flow.id)])
    assert [r[0] async for r in log.records(flow)] == [rid]
    # The flow's count of people (its cap) names no one and expires with the retention.
    counter = log.counter(flow.id)
    assert await redis_client.get(counter) == b"1"
    assert 0 < await redis_client.pttl(counter) <= store.retention.total_seconds() * 1000

    await redis_client.delete(store.keys.response(rid, flow.id))  # as if it expired
    assert [r async for r in log.records(flow)] == []
    step = missed(s, "hours")
    await log.record(step, misses_of(step, "late", NOW), NOW)
    assert not await redis_client.exists(store.keys.response(rid, flow.id))
    assert [k for k in await keys_of(redis_client, prefix) if rid in k] == [store.keys.session(rid)]


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
    assert misses[0].at == at
    assert [r async for r in log.records(flow, since=NOW + timedelta(days=4))] == []


async def test_erased_with_the_person(
    store: RedisStore, flow: Flow, redis_client: AnyRedis
) -> None:
    log = MissLog.for_store(store)
    mine = await one_miss(store, log, flow, PHONE, "reply 0")
    theirs = await one_miss(store, log, flow, "+447700900456", "reply 1")
    assert await store.erase("sms", PHONE) > 0
    assert not [k for k in await keys_of(redis_client, store.keys.prefix) if mine.respondent in k]
    assert [r[0] async for r in log.records(flow)] == [theirs.respondent]
    assert await misses_fields(redis_client, store, theirs.respondent, flow)


async def test_capped_per_person(store: RedisStore, flow: Flow, redis_client: AnyRedis) -> None:
    log = MissLog.for_store(store, per_person=3, per_flow=4)
    s = await one_miss(store, log, flow, PHONE, "junk 0")
    for n in range(1, 10):  # one person sending junk
        step = missed(s, "role")
        await log.record(step, misses_of(step, f"junk {n}", NOW), NOW)
    [(_, misses, _)] = [r async for r in log.records(flow)]
    assert [m.text for m in misses] == ["junk 7", "junk 8", "junk 9"]  # the latest three
    assert len(await misses_fields(redis_client, store, s.respondent, flow)) == 4  # + count

    # Long replies take several fields each; their fields are capped too (the oldest go).
    wide = MissLog.for_store(store, per_person=20, per_person_fields=ENTRY_FIELDS)
    long = "x" * MAX_TEXT
    for n in range(6):
        step = missed(s, "say")
        await wide.record(step, misses_of(step, f"{n} {long}", NOW), NOW)
    fields = await misses_fields(redis_client, store, s.respondent, flow)
    assert len(fields) - 1 <= ENTRY_FIELDS
    assert all(len(v) <= VALUE_MAX for v in fields.values())
    [(_, misses, _)] = [r async for r in wide.records(flow)]
    assert misses[-1].text == mask(f"5 {long}")  # the newest whole


async def test_capped_per_flow(store: RedisStore, flow: Flow, redis_client: AnyRedis) -> None:
    """The first ``per_flow`` people are logged, exactly, even when several processes log the
    first misses of many people at once; then only people already in the log."""
    first, second = (MissLog.for_store(store, per_flow=4) for _ in range(2))  # two processes
    people = [new_session(store.respondent("sms", f"+4477009{n:05d}"), flow) for n in range(12)]
    steps = [missed(s, "role") for s in people]
    for n, step in enumerate(steps):
        await commit(store, step, 0, flow, f"m{n}")
    await asyncio.gather(*(
        (first if n % 2 else second).record(step, misses_of(step, "junk", NOW), NOW)
        for n, step in enumerate(steps)
    ))  # fmt: skip
    logged = [r[0] async for r in first.records(flow)]
    assert len(logged) == 4
    assert await first.people(flow.id) == 12  # counted, and so refused, beyond the cap
    # Those in the log go on being logged; nobody new is, whichever process hears them.
    inside = next(s for s in people if s.respondent in logged)
    outside = next(s for s in people if s.respondent not in logged)
    for log in (first, second):
        for s in (inside, outside):
            step = missed(s, "hours")
            await log.record(step, misses_of(step, "more", NOW), NOW)
    by_rid = {rid: m async for rid, m, _ in first.records(flow)}
    assert sorted(by_rid) == sorted(logged)
    assert [m.text for m in by_rid[inside.respondent]] == ["junk", "more", "more"]
    assert await misses_fields(redis_client, store, outside.respondent, flow) == {}


async def test_no_misses_writes_nothing(
    store: RedisStore, flow: Flow, redis_client: AnyRedis
) -> None:
    log = MissLog.for_store(store)
    s = new_session(store.respondent("sms", PHONE), flow)
    step = answer(s, "role", "carer")
    await log.record(step, misses_of(step, "carer", NOW), NOW)
    assert await keys_of(redis_client, store.keys.prefix) == []


@pytest.mark.parametrize(
    "text",
    [
        "x" * MAX_TEXT,
        GUJARATI + " " + GUJARATI + " " + GUJARATI,
        'he said "no" \\ then 🙂🙂🙂 ' * 6,
        "\x01\x02 odd",
    ],
)
async def test_long_replies_are_kept_whole_and_the_response_stays_compact(
    store: RedisStore, flow: Flow, redis_client: AnyRedis, backend: str, text: str
) -> None:
    log = MissLog.for_store(store)
    s = await one_miss(store, log, flow, PHONE, text)
    step = missed(s, "hours", "confirm", offered=["a-long-choice-id", "another-long-choice-id"])
    await log.record(step, misses_of(step, text, NOW), NOW)
    [(_, misses, _)] = [r async for r in log.records(flow)]
    assert [m.text for m in misses] == [mask(text), mask(text)]
    assert misses[1].offered == ["a-long-choice-id", "another-long-choice-id"]
    response = store.keys.response(s.respondent, flow.id)
    raw = await redis_client.hgetall(response)
    assert all(len(k) <= VALUE_MAX and len(v) <= VALUE_MAX for k, v in raw.items())
    if backend != "fake":  # (fakeredis has no OBJECT)
        assert await redis_client.object("encoding", response) == b"listpack"


async def test_exports_read_a_response_with_misses_as_without(
    store: RedisStore, flow: Flow, caplog: pytest.LogCaptureFixture
) -> None:
    log = MissLog.for_store(store)
    s = await one_miss(store, log, flow, PHONE, GUJARATI * 3)
    await commit(store, answer(s, "role", "carer"), 1, flow, "m9")
    with caplog.at_level(logging.WARNING):
        [row] = [r async for r in store.iter_responses(flow.id)]
    assert {q: a.value for q, a in row.answers.items()} == {"role": "carer"}
    assert "unreadable" not in caplog.text
    assert [m.text for m in misses_in(row)] == [mask(GUJARATI * 3)]


async def test_an_unreadable_entry_never_hides_the_others(
    store: RedisStore, flow: Flow, redis_client: AnyRedis
) -> None:
    from store.misses import _decode

    assert _decode(b"not json") is None
    good = _decode(b'{"q":"role","t":1,"x":"eh","k":"n"}')
    assert isinstance(good, Miss)
    assert good.text == "eh"

    log = MissLog.for_store(store)
    s = await one_miss(store, log, flow, PHONE, "first")
    step = missed(s, "role")
    await log.record(step, misses_of(step, "x" * MAX_TEXT, NOW), NOW)
    await log.record(step, misses_of(step, "third", NOW), NOW)
    response = store.keys.response(s.respondent, flow.id)
    await redis_client.hset(response, "m0", b'["damaged"]')
    await redis_client.hdel(response, "m1.1")  # a long entry missing a piece
    [(_, misses, _)] = [r async for r in log.records(flow)]
    assert [m.text for m in misses] == ["third"]


async def test_the_layout_before_is_still_read_and_erased(
    store: RedisStore, flow: Flow, redis_client: AnyRedis
) -> None:
    """Misses main wrote (a list per person, a per-flow index): read beside the new ones of the
    same person and of others, with their final answers, and erased with the person."""
    log = MissLog.for_store(store)
    old = new_session(store.respondent("sms", PHONE), flow)
    old = await commit(store, answer(old, "hours", 12), 0, flow, "m1")
    await record_misses_v1(redis_client, store.keys, old.respondent, flow.id, [
        ("role", "my nan", "n", NOW, "not_understood", None),
        ("hours", "abt 12", "c", NOW, None, 12),
    ])  # fmt: skip
    later = NOW + timedelta(hours=1)
    step = missed(old, "role")
    await commit(store, step, 1, flow, "m2")
    await log.record(step, misses_of(step, "nanna", later), later)
    other = await one_miss(store, log, flow, "+447700900456", "hello?")
    only_old = new_session(store.respondent("sms", "+447700900789"), flow)
    await commit(store, answer(only_old, "role", "carer"), 0, flow, "m3")
    await record_misses_v1(redis_client, store.keys, only_old.respondent, flow.id, [
        ("role", "carr", "c", NOW, None, "carer"),
    ])  # fmt: skip

    found = {rid: (m, f) async for rid, m, f in log.records(flow)}
    assert sorted(found) == sorted([old.respondent, other.respondent, only_old.respondent])
    misses, finals = found[old.respondent]
    assert [(m.question, m.text, m.kind, m.offered) for m in misses] == [
        ("role", "my nan", "n", None), ("hours", "abt 12", "c", 12), ("role", "nanna", "n", None),
    ]  # fmt: skip
    assert finals == {"role": None, "hours": 12}
    assert found[only_old.respondent][1] == {"role": "carer"}
    later_only = [r async for r in log.records(flow, since=NOW + timedelta(minutes=30))]
    assert [(r, [m.text for m in ms]) for r, ms, _ in later_only] == [(old.respondent, ["nanna"])]

    for person, address in ((old, PHONE), (only_old, "+447700900789")):
        await store.erase("sms", address)
        assert not await redis_client.exists(log.key(person.respondent, flow.id))
        assert (
            await redis_client.zscore(log.index_for(flow.id, person.respondent), person.respondent)
            is None
        )
    assert [r[0] async for r in log.records(flow)] == [other.respondent]


# -- the encoding, for any reply --------------------------------------------------------------------

_IDS = st.from_regex(r"[a-z][a-z0-9_]{0,29}", fullmatch=True)
_REASON = st.sampled_from([None, "not_understood", "not_a_postcode", "query", "brand_new"])
# offered: a count or a choice list; orjson (the encoding) holds 64-bit integers
_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_OFFERED = st.none() | st.text(max_size=30) | _INT64 | st.lists(_IDS, max_size=8)


@settings(max_examples=300, deadline=None)
@given(
    question=_IDS,
    text=st.text(max_size=MAX_TEXT),
    kind=st.sampled_from(["n", "c"]),
    reason=_REASON,
    offered=_OFFERED,
    dt=st.integers(min_value=-(10**4), max_value=10**12),
)
def test_every_miss_round_trips_in_values_redis_keeps_compact(
    question: str, text: str, kind: str, reason: str | None, offered: object, dt: int
) -> None:
    text = mask(text)
    miss = Miss(question, text, kind, NOW + timedelta(milliseconds=dt), reason, offered)  # type: ignore[arg-type]
    parts = entry_fields(miss)
    assert 1 <= len(parts) <= ENTRY_FIELDS
    head = b"[" + str(dt).encode() + parts[0]
    values = [head, *parts[1:]]
    assert all(len(v) <= VALUE_MAX for v in values)
    base = 1_700_000_000_000
    flat = [b"b", str(base).encode(), b"v", b'"v1"', b"t1", str(base).encode(), b"m", b"1"]
    flat += [b"m0", head] + [x for j, v in enumerate(parts[1:], 1) for x in (f"m0.{j}".encode(), v)]
    stored = decode_stored("r", flat)
    assert stored is not None
    [back] = misses_in(stored)
    assert (back.question, back.kind, back.reason) == (question, kind, reason)
    assert back.at == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=base + dt)
    if back.text == text:
        assert back.offered == offered
    else:  # only an offered list of many long ids can make an entry too long
        assert isinstance(offered, list)
        assert back.text.endswith("…") or back.text == ""
        assert text.startswith(back.text.removesuffix("…"))
