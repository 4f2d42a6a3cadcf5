"""The store's writers before the compact layout (kept in tests/store/legacy.py to write old
data for the compatibility tests) wrote exactly the JSON pydantic would, for any session and
answer; the compact codec is tested in test_codec.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.models import Answer, Pending, Session, Status
from store.encode import ms
from store.redis_store import ResponseMeta
from tests.store.legacy import answer_json, meta_json, session_json

text = st.text(max_size=12)
when = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
value = st.one_of(
    st.none(),
    text,
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.lists(text, max_size=3),
)
pending = st.one_of(
    st.none(),
    st.builds(
        Pending,
        kind=st.sampled_from(["confirm", "other", "language"]),
        value=value,
        # A spoken answer being read back keeps speech recognition's confidence (voice).
        confidence=st.one_of(st.none(), st.floats(min_value=0, max_value=1)),
    ),
)


@st.composite
def sessions(draw: st.DrawFn) -> Session:
    started = draw(when)
    fields: dict[str, Any] = {
        "flow": draw(text),
        "version": draw(text),
        "respondent": draw(text),
        "channel": draw(st.sampled_from(["sms", "voice", "telegram", "web"])),
        "started_at": started,
        "last_at": started
        + draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=9))),
    }
    optional: dict[str, st.SearchStrategy[Any]] = {
        "address": st.one_of(st.none(), text),
        "lang": st.sampled_from(["en", "pl", "gu"]),
        "source": st.one_of(st.none(), text),
        "status": st.sampled_from(list(Status)),
        "current": st.one_of(st.none(), text),
        "asked": st.lists(text, max_size=4),
        "answers": st.dictionaries(text, value, max_size=4),
        "other": st.dictionaries(text, text, max_size=2),
        "pending": pending,
        "misses": st.integers(min_value=0, max_value=3),
        "messages": st.integers(min_value=0, max_value=50),
        "reminders": st.integers(min_value=0, max_value=3),
        "reminded_at": st.one_of(st.none(), when),
        "finished_at": st.one_of(st.none(), when),
        "rev": st.integers(min_value=0, max_value=99),
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            fields[name] = draw(strategy)
    return Session(**fields)


@given(sessions())
def test_session_json_is_what_pydantic_writes(s: Session) -> None:
    expected = s.model_dump_json(exclude_defaults=True, exclude={"rev"})
    assert session_json(s) == expected
    assert Session.model_validate_json(session_json(s)) == s.model_copy(update={"rev": 0})


@given(sessions())
def test_meta_json_is_what_pydantic_writes(s: Session) -> None:
    meta = ResponseMeta(**{name: getattr(s, name) for name in ResponseMeta.model_fields})
    assert meta_json(s) == meta.model_dump_json(exclude_none=True).encode()


@given(value, st.one_of(st.none(), text), when)
def test_answer_json_is_the_stored_format(v: Any, other: str | None, at: datetime) -> None:
    got = json.loads(answer_json(Answer(question="q", value=v, other=other, at=at)))
    expected: dict[str, Any] = {"v": v, "t": int(at.timestamp() * 1000)}
    if other is not None:
        expected["o"] = other
    assert got == expected
    assert "\\u" not in answer_json(Answer(question="q", value="ગુજરાતી", at=at)).decode()


def test_ms_reads_a_naive_time_as_utc() -> None:
    assert ms(datetime(2026, 1, 1)) == ms(datetime(2026, 1, 1, tzinfo=UTC)) == 1767225600000
