"""Bulk reads for exports: decoding response hashes, and reading many in one round trip."""

from __future__ import annotations

import pytest

from store.client import AnyRedis, is_cluster
from store.keys import answer_field
from store.stored import decode_stored, read_hashes
from tests.support.roundtrips import RoundTripCounter

META = (
    b'{"flow":"f","version":"v1","channel":"sms","status":"complete",'
    b'"started_at":"2026-01-05T09:00:00Z","last_at":"2026-01-05T10:00:00Z",'
    b'"finished_at":"2026-01-05T10:00:00Z"}'
)
RAW = {
    b"a:b": b'{"v":2,"t":1767603990000}',
    b"meta": META,
    b"a:a": b'{"v":["x","y"],"t":1767603990000,"o":"else"}',
    b"a:c": b'{"v":null,"t":1767603900000}',
}


def test_one_hash_as_a_dict_or_a_flat_list_or_text() -> None:
    flat = [x for kv in RAW.items() for x in kv]
    text = {k.decode(): v.decode() for k, v in RAW.items()}  # a client with decode_responses
    for raw in (RAW, flat, text):
        r = decode_stored("rid", raw)
        assert r is not None
        assert r.fields[b"a:a"] == {"v": ["x", "y"], "t": 1767603990000, "o": "else"}
        assert (r.channel, r.status.value, r.lang, r.source) == ("sms", "complete", "en", None)
        assert r.finished_at is not None
        assert r.started_at.isoformat() == "2026-01-05T09:00:00+00:00"
        # In the order given (time, then question id); a skipped answer has value None.
        assert list(r.answers) == ["c", "a", "b"]
        assert r.answers["a"].other == "else"
        assert r.answers["c"].value is None
        assert r.answers is r.answers  # made once


def test_what_cannot_be_read() -> None:
    assert decode_stored("rid", {}) is None
    assert decode_stored("rid", []) is None
    assert decode_stored("rid", {b"a:a": RAW[b"a:a"]}) is None  # no meta
    assert decode_stored("rid", {b"meta": b'{"flow": "f"}'}) is None  # meta lacks fields
    assert decode_stored("rid", {b"meta": b"[1]"}) is None
    assert decode_stored("rid", {b"meta": META.replace(b"complete", b"lost")}) is None
    # A field that is not JSON, or that would shift the one-parse splice, is left out alone;
    # a value orjson refuses (NaN) is still read, by the json module.
    r = decode_stored(
        "rid",
        {
            **RAW,
            b"a:bad": b"{nope",
            b"a:two": b"1,2",
            b"a:nan": b'{"v":NaN,"t":1}',
            b"a:str": b'"just text"',
        },
    )
    assert r is not None
    assert set(r.fields) == {b"meta", b"a:a", b"a:b", b"a:c", b"a:nan", b"a:str"}
    shifted = decode_stored("rid", {**RAW, b"a:two": b"1,2"})  # parses, but as 5 values
    assert shifted is not None
    assert set(shifted.fields) == set(RAW)
    assert set(r.answers) == {"a", "b", "c", "nan"}  # "a:str" is no answer object


@pytest.mark.parametrize("first", [True, False])
async def test_read_hashes_in_one_round_trip(
    redis_client: AnyRedis, key_prefix: str, first: bool
) -> None:
    keys = [f"{key_prefix}:{{r{i}}}:r:f" for i in range(5)]
    for i, key in enumerate(keys[:4]):
        await redis_client.hset(key, mapping={"meta": META, "a:n": f'{{"v":{i},"t":1}}'})
    with RoundTripCounter(redis_client) as rt:
        got = await read_hashes(redis_client, keys, first=first)
        # A fresh server without the script cached: EVALSHA, NOSCRIPT, EVAL (once).
        assert rt.take() in ((1,) if first or is_cluster(redis_client) else (1, 2))
        again = await read_hashes(redis_client, keys, first=False)
        assert rt.take() == 1
    assert len(got) == len(again) == 5
    assert not got[4]  # missing key
    for i, raw in enumerate(got[:4]):
        r = decode_stored(f"r{i}", raw)
        assert r is not None
        assert r.answers["n"].value == i


def test_answer_values_are_what_answers_are_made_of(caplog: pytest.LogCaptureFixture) -> None:
    r = decode_stored(
        "rid",
        {
            **RAW,
            b"a:no_time": b'{"v":"hello"}',  # an answer object without its time
            b"a:list": b'["v", "t"]',
            b"a:str": b'"just text"',
            b"a:\xff": b'{"v":1,"t":1}',  # a name that is not UTF-8
            b"other": b'{"v":1,"t":1}',  # not an answer field
        },
    )
    assert r is not None
    values = sorted(r.answer_values())
    assert values == [
        ("a", ["x", "y"], "else", 1767603990000),
        ("b", 2, None, 1767603990000),
        ("c", None, None, 1767603900000),
    ]
    assert sorted(tuple(a)[:4] for a in r.answers.values()) == values
    assert all(a.confidence is None for a in r.answers.values())  # none was spoken
    warned = [m.getMessage() for m in caplog.records if "unreadable answer" in m.getMessage()]
    # Each damaged field warned about once by answer_values, once more by answers.
    assert len(warned) == 8
    for name in (b"a:no_time", b"a:list", b"a:str", b"a:\xff"):
        assert sum(repr(name) in m for m in warned) == 2, name
    # The field names are the store's layout (store.keys).
    assert answer_field("b") == "a:b"
    assert answer_field("b").encode() in r.fields


def test_utc_texts_as_an_export_writes_them() -> None:
    r = decode_stored("rid", RAW)
    assert r is not None
    assert r.utc_texts() == ("2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z", "2026-01-05T10:00:00Z")
    odd = META.replace(b"09:00:00Z", b"10:00:00.999+01:00").replace(
        b'"last_at":"2026-01-05T10:00:00Z"', b'"last_at":"2026-01-05T10:00:00.5Z"'
    )
    odd = odd.replace(b',"finished_at":"2026-01-05T10:00:00Z"', b"")
    r = decode_stored("rid", {b"meta": odd})
    assert r is not None
    assert r.finished_at is None
    # Cut from the stored text when it is UTC ("...Z"), formatted from the parsed time if not.
    assert r.utc_texts() == ("2026-01-05T09:00:00Z", None, "2026-01-05T10:00:00Z")
    naive = decode_stored("rid", {b"meta": META.replace(b'09:00:00Z"', b'09:00:00"')})
    assert naive is not None
    assert naive.utc_texts()[0] == "2026-01-05T09:00:00Z"  # naive means UTC
    assert decode_stored("rid", {b"meta": META.replace(b"09:00:00Z", b"9 o'clock")}) is None


def test_a_spoken_answer_keeps_its_confidence() -> None:
    r = decode_stored(
        "rid",
        {**RAW, b"a:said": b'{"v":"more respite please","t":1767603990000,"c":0.62}'},
    )
    assert r is not None
    said = r.answers["said"]
    assert (said.value, said.confidence) == ("more respite please", 0.62)
    assert r.answers["b"].confidence is None
