"""What a commit writes, in compact form: the session, the response's meta fields, each answer.

Redis keeps a small hash in a *listpack* (a few bytes of overhead per field) only while every
value is at most ``hash-max-listpack-value`` (64 bytes by default); one longer value turns the
whole hash into a hash table, about 60 bytes more per field. So:

* **The session** is one compact JSON document in a plain string (``store.redis_store`` puts
  a small header in front: rev, the dedupe record and the rate counter). Short keys, defaults
  left out (the channel ``sms`` too), no respondent id (it is in the key), times as integer microseconds (exact: a
  datetime holds microseconds; ``t0`` absolute, the others relative to it), and each answer
  written beside its question in the ``asked`` list instead of repeating the question id:
  ``"k": ["consent", ["role", "carer"], ...]``. :func:`session_data` and
  :func:`decode_session` round-trip any session exactly (tests/store/test_codec.py).
* **The response's meta** is one short field per attribute (``v`` version, ``c`` channel,
  ``s`` status, ``l`` language, ``g`` source, ``t0``/``t1``/``tf`` started, last and finished
  epoch ms), each value a JSON document, so an export still parses a whole hash with one
  ``orjson.loads`` (``store.stored``). Defaults are left out (no ``c`` means sms, no ``s``
  active, no ``l`` English, no ``t0`` started when the hash was made: ``b``).
* **An answer** is ``[value, ms]``, ``[value, ms, other text]``, or for a spoken answer
  ``[value, ms, other text or null, confidence]``, ``ms`` counted from the hash's base ``b``
  (epoch ms, written once when the hash is made), so a few digits each.

What the store wrote before (a hash ``rev``/``flow``/``data`` with pydantic's JSON, a ``meta``
JSON field, answers as ``{"v": ..., "t": ..., "o"?, "c"?}``) is still read:
:func:`decode_session` is only for this format; ``store.redis_store`` reads the old session with
pydantic and ``store.stored`` reads both answer forms.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import BaseModel

from bot.errors import UnstorableValue
from bot.models import Answer, Pending, Session, Status, adopt, trusted

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_STATUSES: dict[str, Status] = {s.value: s for s in Status}


class ResponseMeta(BaseModel):
    """What a response records about the session besides the answers (its fields)."""

    flow: str
    version: str
    channel: str
    source: str | None = None
    lang: str = "en"
    status: Status = Status.ACTIVE
    started_at: datetime
    last_at: datetime
    finished_at: datetime | None = None


# -- times ----------------------------------------------------------------------------------------


def ms(t: datetime) -> int:
    """Epoch milliseconds (a naive time is taken as UTC)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp() * 1000)


def ttl_ms(d: timedelta) -> int:
    """A duration as a Redis TTL in milliseconds (at least 1: 0 would mean "no expiry")."""
    return max(1, int(d.total_seconds() * 1000))


def _us(t: datetime) -> int | None:
    """Epoch microseconds of a UTC time (exact), or None for a naive or non-UTC time."""
    offset = t.utcoffset()
    if offset is None or offset:
        return None
    return (t - _EPOCH) // _US


def _time(t: datetime, base: int | None) -> int | str:
    """A time as microseconds (relative to ``base`` when given), or ISO text if not UTC."""
    us = _us(t)
    if us is None:
        return t.isoformat()
    return us - base if base is not None else us


def _from_time(v: Any, base: int | None) -> datetime:
    if isinstance(v, int) and not isinstance(v, bool):
        return _EPOCH + _US * (v + base if base is not None else v)
    if isinstance(v, str):
        return datetime.fromisoformat(v)
    raise TypeError(f"not a stored time: {v!r}")


# -- the session ----------------------------------------------------------------------------------

SESSION_KEYS = frozenset(
    {"f", "v", "c", "ad", "l", "g", "s", "q", "k", "x", "o", "p", "m", "n", "r", "t0", "t1", "ra",
     "tf"}
)  # fmt: skip
ENCODED_FIELDS = frozenset(Session.model_fields) - {"respondent", "rev"}
"""Every session field :func:`session_data` writes (the respondent id is the key's; ``rev`` is
the store's header). A test fails when a field is added to Session without a key here."""


def session_data(s: Session) -> bytes:
    """The session as compact JSON (see the module doc); :func:`decode_session` reads it."""
    d: dict[str, Any] = {"f": s.flow, "v": s.version}
    if s.channel != "sms":
        d["c"] = s.channel
    if s.address is not None:
        d["ad"] = s.address
    if s.lang != "en":
        d["l"] = s.lang
    if s.source is not None:
        d["g"] = s.source
    if s.status is not Status.ACTIVE:
        d["s"] = s.status.value
    asked, answers = s.asked, s.answers
    if s.current != (asked[-1] if asked else None):
        d["q"] = s.current
    if asked:
        placed: set[str] = set()
        k: list[Any] = []
        for qid in asked:
            if qid in answers and qid not in placed:
                placed.add(qid)
                k.append([qid, answers[qid]])
            else:
                k.append(qid)
        d["k"] = k
        if len(placed) < len(answers):
            d["x"] = {q: v for q, v in answers.items() if q not in placed}
    elif answers:
        d["x"] = answers
    if s.other:
        d["o"] = s.other
    if s.pending is not None:
        p = s.pending
        if p.confidence is not None:  # a spoken answer being read back: how sure it was heard
            d["p"] = [p.kind, p.value, p.confidence]
        else:
            d["p"] = [p.kind] if p.value is None else [p.kind, p.value]
    if s.misses:
        d["m"] = s.misses
    if s.messages:
        d["n"] = s.messages
    if s.reminders:
        d["r"] = s.reminders
    t0 = _time(s.started_at, None)
    base = t0 if isinstance(t0, int) else None
    d["t0"] = t0
    d["t1"] = _time(s.last_at, base)
    if s.reminded_at is not None:
        d["ra"] = _time(s.reminded_at, base)
    if s.finished_at is not None:
        d["tf"] = _time(s.finished_at, base)
    return _dumps(d)


def _dumps(value: Any) -> bytes:
    """Every value a commit writes goes through here: orjson's refusal of an unwritable value
    (an integer past 64 bits, which the answer parsers bound well before; text that is not
    UTF-8) becomes :class:`UnstorableValue`, never a 500."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        raise UnstorableValue(f"a value cannot be stored: {exc}") from exc


def decode_session(data: bytes | str, respondent: str, rev: int) -> Session:
    """A session written by :func:`session_data`. Raises ValueError, KeyError or TypeError for
    anything else (the caller treats the session as unreadable)."""
    d = orjson.loads(data)
    if not isinstance(d, dict) or not SESSION_KEYS.issuperset(d):
        raise ValueError("not a stored session")
    asked: list[str] = []
    answers: dict[str, Any] = {}
    for e in d.get("k", ()):
        if isinstance(e, str):
            asked.append(e)
        else:
            qid, value = e
            asked.append(qid)
            answers[qid] = value
    answers.update(d.get("x", ()))
    t0 = d["t0"]
    base = t0 if isinstance(t0, int) else None
    p = d.get("p")
    pending = None
    if p is not None:
        pending = trusted(
            Pending,
            kind=p[0],
            value=p[1] if len(p) > 1 else None,
            confidence=float(p[2]) if len(p) > 2 else None,
        )
    values: dict[str, Any] = {
        "flow": _str(d["f"]),
        "version": _str(d["v"]),
        "respondent": respondent,
        "channel": _str(d.get("c", "sms")),
        "address": d.get("ad"),
        "lang": d.get("l", "en"),
        "source": d.get("g"),
        "status": _STATUSES[d.get("s", "active")],
        "current": d["q"] if "q" in d else (asked[-1] if asked else None),
        "asked": asked,
        "answers": answers,
        "other": dict(d.get("o", ())),
        "pending": pending,
        "misses": int(d.get("m", 0)),
        "messages": int(d.get("n", 0)),
        "reminders": int(d.get("r", 0)),
        "reminded_at": _from_time(d["ra"], base) if "ra" in d else None,
        "started_at": _from_time(t0, None),
        "last_at": _from_time(d["t1"], base),
        "finished_at": _from_time(d["tf"], base) if "tf" in d else None,
        "rev": rev,
    }
    return adopt(Session, values, set(values))


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError(f"expected text, got {v!r}")
    return v


# -- the response ---------------------------------------------------------------------------------

LEGACY_META = "meta"
"""The one JSON field the store wrote meta to before; a commit deletes it (no second copy)."""


def meta_fields(s: Session) -> tuple[list[str | bytes | int], list[str]]:
    """The response's meta as (field, value, field, value, ...) to write and the fields to
    delete (defaults, and the old ``meta`` field)."""
    out: list[str | bytes | int] = [
        "v", _dumps(s.version), "t0", ms(s.started_at), "t1", ms(s.last_at),
    ]  # fmt: skip
    gone = [LEGACY_META]
    if s.channel != "sms":
        out += ["c", _dumps(s.channel)]
    else:
        gone.append("c")
    if s.status is not Status.ACTIVE:
        out += ["s", _dumps(s.status.value)]
    else:
        gone.append("s")
    if s.lang != "en":
        out += ["l", _dumps(s.lang)]
    else:
        gone.append("l")
    if s.source is not None:
        out += ["g", _dumps(s.source)]
    else:
        gone.append("g")
    if s.finished_at is not None:
        out += ["tf", ms(s.finished_at)]
    else:
        gone.append("tf")
    return out, gone


def answer_parts(a: Answer) -> tuple[bytes, int, bytes | str]:
    """What COMMIT makes one stored answer of: the value as JSON, its epoch ms, and what
    follows them in the array ('' for nothing: most answers). Stored as ``[value, ms since the
    hash's base b]``, ``[value, ms, other]`` for an "other" text, or ``[value, ms, other or
    null, confidence]`` for a spoken answer (speech recognition's confidence). The script
    knows the base, set when the hash is made."""
    if a.confidence is not None:
        rest: bytes | str = _dumps(a.other) + b"," + _dumps(a.confidence)
    elif a.other is not None:
        rest = _dumps(a.other)
    else:
        rest = ""
    return _dumps(a.value), ms(a.at), rest
