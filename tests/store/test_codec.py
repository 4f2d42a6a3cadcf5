"""The compact session encoding round-trips every session exactly, and refuses anything else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given

from bot.models import Answer, Pending, Session, Status
from store.encode import (
    ENCODED_FIELDS,
    SESSION_KEYS,
    answer_parts,
    decode_session,
    meta_fields,
    session_data,
)
from tests.store.test_encode import sessions

T0 = datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)


@given(sessions())
def test_any_session_round_trips_exactly(s: Session) -> None:
    back = decode_session(session_data(s), s.respondent, s.rev)
    assert back == s
    assert back.model_dump() == s.model_dump()


def test_every_session_field_is_written() -> None:
    assert set(Session.model_fields) - {"respondent", "rev"} == ENCODED_FIELDS
    s = Session(
        flow="f", version="v", respondent="r", channel="telegram", address="42", lang="gu",
        source="src", status=Status.COMPLETE, current=None, asked=["a", "b", "a"],
        answers={"a": 1, "b": None, "gone": "x"}, other={"a": "text"},
        pending=Pending(kind="confirm", value=["x"]), misses=2, messages=7, reminders=1,
        reminded_at=T0 + timedelta(hours=1), started_at=T0, last_at=T0 + timedelta(days=2),
        finished_at=T0 + timedelta(days=2),
    )  # fmt: skip
    d = orjson.loads(session_data(s))
    assert set(d) == SESSION_KEYS  # every key used: no field is silently dropped
    assert d["k"] == [["a", 1], ["b", None], "a"]  # an answer beside its question, once
    assert d["x"] == {"gone": "x"}
    assert decode_session(session_data(s), "r", 3) == s.model_copy(update={"rev": 3})


def test_a_typical_session_is_small_and_leaves_defaults_out() -> None:
    s = Session(
        flow="carers-strategy", version="4d52829558b7", respondent="r", channel="sms",
        address="+447700900123", current="hours", asked=["role", "hours"],
        answers={"role": "carer"}, messages=2, started_at=T0, last_at=T0 + timedelta(seconds=30),
    )  # fmt: skip
    data = session_data(s)
    assert b"respondent" not in data  # the key has it
    assert b'"c"' not in data  # sms is the default
    assert b'"q"' not in data  # the current question is the last asked
    assert data == (
        b'{"f":"carers-strategy","v":"4d52829558b7","ad":"+447700900123",'
        b'"k":[["role","carer"],"hours"],"n":2,"t0":1795428000123456,"t1":30000000}'
    )


def test_times_other_than_utc_are_kept_as_text() -> None:
    plus2 = timezone(timedelta(hours=2))
    naive = datetime(2026, 1, 1, 9, 30)
    s = Session(flow="f", version="v", respondent="r", channel="web", started_at=naive,
                last_at=datetime(2026, 1, 1, 9, 31, tzinfo=plus2))  # fmt: skip
    back = decode_session(session_data(s), "r", 0)
    assert back.started_at == naive
    assert back.started_at.tzinfo is None
    assert back.last_at == s.last_at
    assert back.last_at.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(
    "data",
    [b'{"not": "a session"}', b"[1, 2]", b'{"f": "x"}', b'{"f":1,"v":"v","t0":1,"t1":0}', b"{"],
)
def test_what_is_not_a_stored_session_is_refused(data: bytes) -> None:
    with pytest.raises((ValueError, KeyError, TypeError)):
        decode_session(data, "r", 1)


def test_meta_fields_leave_defaults_out_and_delete_them() -> None:
    s = Session(flow="f", version="v1", respondent="r", channel="sms", started_at=T0,
                last_at=T0)  # fmt: skip
    values, gone = meta_fields(s)
    assert dict(zip(values[0::2], values[1::2], strict=True)) == {
        "v": b'"v1"', "t0": 1795428000123, "t1": 1795428000123,
    }  # fmt: skip
    assert set(gone) == {"meta", "c", "s", "l", "g", "tf"}
    done = s.model_copy(update={"status": Status.OPTED_OUT, "channel": "web", "finished_at": T0})
    values, gone = meta_fields(done)
    assert {"s", "c", "tf"} <= set(values[0::2])
    assert set(gone) == {"meta", "l", "g"}


def test_answer_parts() -> None:
    assert answer_parts(Answer(question="q", value="ગુજરાતી", at=T0)) == (
        '"ગુજરાતી"'.encode(),
        1795428000123,
        "",
    )
    assert answer_parts(Answer(question="q", value="other", other="a neighbour", at=T0))[2] == (
        b'"a neighbour"'
    )


def test_a_spoken_answer_keeps_its_confidence() -> None:
    said = Answer(question="q", value="short breaks", at=T0, confidence=0.42)
    assert answer_parts(said)[2] == b"null,0.42"  # [value, ms, other or null, confidence]
    other = Answer(question="q", value="other", other="a neighbour", at=T0, confidence=0.9)
    assert answer_parts(other)[2] == b'"a neighbour",0.9'
    s = Session(flow="f", version="v", respondent="r", channel="voice", started_at=T0,
                last_at=T0, pending=Pending(kind="confirm", value="LE16", confidence=0.5))  # fmt: skip
    assert orjson.loads(session_data(s))["p"] == ["confirm", "LE16", 0.5]
    assert decode_session(session_data(s), "r", 1).pending == s.pending
