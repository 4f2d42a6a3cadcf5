"""Responses as read back in bulk (exports and reports): decoded once, objects made on demand.

An export reads every response of a flow: 100,000 of them, with some 25 answers each. Building
a pydantic ``Response`` and an answer object per answer for each was most of the cost of
``surveybot export``, while a CSV or XLSX row needs only the stored values. So
:class:`StoredResponse` keeps the response hash decoded as plain JSON (one ``json.loads`` for
the whole hash) and builds answer objects only when asked (``answers``, used by reports):

* ``fields``: every field of the hash by its raw name (``b"t0"``, ``b"a:<question id>"``), each
  value the decoded JSON: ``[value, ms]``, ``[value, ms, other]`` or, for a spoken answer,
  ``[value, ms, other or null, confidence]`` for an answer, as :mod:`store.encode` writes it,
  or ``{"v": value, "t": ms, "o": other?, "c": confidence?}`` as the store wrote it before
  (both are read, also side by side in one hash: a respondent who carried on after an
  upgrade). Only this module reads that layout: exports take the values through
  :meth:`StoredResponse.answer_values`, which ``answers`` is built from too.
* ``meta``: what the response records besides the answers, as ``ResponseMeta`` would name it
  (``version``, ``channel``, ``status``, ``started_at`` ...): read from the short meta fields
  (``v``, ``c``, ``s``, ``l``, ``g``, ``t0``, ``t1``, ``tf``; times in epoch ms), or from the
  ``meta`` JSON object written before them (times as ISO text). The times are also parsed into
  ``started_at``, ``last_at``, ``finished_at``, and :meth:`StoredResponse.utc_texts` gives them
  as export text without formatting a datetime each (~1.6 us each).

A response without readable meta is skipped (an index entry without a response: erased,
expired, or a crash between the two writes). An unreadable answer field (neither form, or
without its time) is left out of ``answer_values``, and so of ``answers`` and of every export
format, with a warning, rather than losing the rest of that respondent's answers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from bot.models import AnswerValue, Status, StoredAnswer
from store.client import AnyRedis, is_cluster
from store.keys import answer_field
from store.scripts import Script

log = logging.getLogger(__name__)

META = b"meta"
"""The meta JSON object of responses written before the short meta fields."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
ANSWER_PREFIX = answer_field("").encode()
_PREFIX_LEN = len(ANSWER_PREFIX)

_STATUSES: dict[str, Status] = {s.value: s for s in Status}

_QUESTION_IDS: dict[bytes, str | None] = {}
"""Field name -> question id (None for a field that is no answer, like ``meta``): the same few
dozen names come with every response. Emptied when full."""
_QUESTION_IDS_MAX = 4096
_UNSEEN: Any = object()


def _question_id(name: bytes) -> str | None:
    """The question id of an answer field's name, or None for another field (remembered).
    Raises UnicodeDecodeError for a name that is not UTF-8 (not remembered: warned about)."""
    qid = name[_PREFIX_LEN:].decode() if name[:_PREFIX_LEN] == ANSWER_PREFIX else None
    if len(_QUESTION_IDS) >= _QUESTION_IDS_MAX:
        _QUESTION_IDS.clear()
    _QUESTION_IDS[name] = qid
    return qid


def iso_time(text: str) -> datetime:
    """A stored ISO time (pydantic writes ``...Z``; Python 3.11 reads it); naive means UTC."""
    t = datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


_DAYS: dict[int, str] = {}


def _ms_text(ms: int) -> str:
    """Epoch milliseconds as ``2026-11-23T10:00:00Z`` (the date made once per day)."""
    day, rest = divmod(ms, 86_400_000)
    date = _DAYS.get(day)
    if date is None:
        if len(_DAYS) >= 4096:
            _DAYS.clear()
        date = _DAYS[day] = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
    hours, rest = divmod(rest // 1000, 3600)
    return f"{date}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}Z"


def _ms_time(v: Any) -> datetime:
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError(f"not a stored time: {v!r}")
    return _EPOCH + _MS * v


def _meta(fields: dict[bytes, Any]) -> dict[str, Any] | None:
    """The short meta fields as ``ResponseMeta`` names them (times as epoch ms), or None.
    Defaults are not stored (store.encode): sms, active, English, started at the base ``b``."""
    if b"b" not in fields:
        return None
    meta = {
        "version": fields.get(b"v"), "channel": fields.get(b"c", "sms"),
        "status": fields.get(b"s", "active"), "lang": fields.get(b"l", "en"),
        "started_at": fields.get(b"t0", fields[b"b"]), "last_at": fields.get(b"t1"),
    }  # fmt: skip
    if b"g" in fields:
        meta["source"] = fields[b"g"]
    if b"tf" in fields:
        meta["finished_at"] = fields[b"tf"]
    return meta


def _utc_text(text: str, parsed: datetime) -> str:
    """A stored time as ``2026-11-23T10:00:00Z`` (UTC, whole seconds). What the store writes
    (``...Z``, maybe with a fraction) already is that in its first 19 characters: cut, not
    formatted (formatting a datetime costs ~1.6 us, three a row); other text is formatted."""
    if len(text) >= 20 and text[-1] == "Z" and text[10] == "T" and text[19] in "Z.":
        return text[:19] + "Z"
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StoredResponse:
    """One respondent's response to one flow, as stored; satisfies ``bot.results.export``'s
    ``StoredResponseLike`` (exports and reports read these, never write them)."""

    __slots__ = (
        "_answers",
        "_base",
        "channel",
        "fields",
        "finished_at",
        "lang",
        "last_at",
        "meta",
        "respondent",
        "source",
        "started_at",
        "status",
        "version",
    )

    def __init__(self, respondent: str, meta: dict[str, Any], fields: dict[bytes, Any]) -> None:
        # Everything an export's meta columns or a report's tallies read, checked here so that an
        # unreadable meta skips the response (KeyError/ValueError/TypeError from the caller).
        # Times are epoch ms (the short meta fields) or ISO text (the old meta object).
        self.respondent = respondent
        self.meta = meta
        self.fields = fields
        self.version: str = _text(meta["version"])
        self.channel: str = _text(meta["channel"])
        self.source: str | None = meta.get("source")
        self.lang: str = meta.get("lang", "en")
        self.status: Status = _STATUSES[meta.get("status", "active")]
        self.started_at = _when(meta["started_at"])
        self.last_at = _when(meta["last_at"])
        finished = meta.get("finished_at")
        self.finished_at = _when(finished) if finished else None
        self._answers: dict[str, StoredAnswer] | None = None
        self._base: int = fields.get(b"b", 0)  # answers' [value, ms] count from here

    def answer_values(self) -> Iterator[tuple[str, AnswerValue | None, str | None, int]]:
        """``(question id, value, other, ms)`` of each readable answer, in the hash's order (no
        answer objects: the cheap way to every value, for exports). A skipped answer has value
        None. An unreadable answer field is left out with a warning (each time it is met)."""
        ids = _QUESTION_IDS
        for name, d in self.fields.items():
            try:
                qid = ids.get(name, _UNSEEN)
                if qid is _UNSEEN:
                    qid = _question_id(name)
                if qid is None:  # meta, or another field that is no answer
                    continue
                if type(d) is list:  # [value, ms since the base, other?, confidence?]
                    value, dt, other = d[0], d[1], d[2] if len(d) > 2 else None
                    if type(dt) is not int or type(self._base) is not int or not self._base:
                        raise TypeError(f"no time: {d!r}")
                    ms = self._base + dt
                else:  # {"v": value, "t": ms, "o": other}, as written before
                    value, other, ms = d.get("v"), d.get("o"), d["t"]
            except (KeyError, TypeError, AttributeError, UnicodeDecodeError, IndexError) as exc:
                log.warning("skipping unreadable answer %r of %s: %r", name, self.respondent, exc)
                continue
            yield qid, value, other, ms

    @property
    def answers(self) -> dict[str, StoredAnswer]:
        """Answers by question id, in the order they were given (time, then question id)."""
        if self._answers is None:
            found = [
                StoredAnswer(qid, value, other, ms, self._confidence(qid))
                for qid, value, other, ms in self.answer_values()
            ]
            found.sort(key=_answer_order)
            self._answers = {a.question: a for a in found}
        return self._answers

    def _confidence(self, qid: str) -> float | None:
        """The speech confidence stored with a spoken answer (the fourth element of
        ``[value, ms, other, confidence]``, or ``"c"`` as written before), else None."""
        name = answer_field(qid)
        d = self.fields.get(name.encode(), self.fields.get(name))  # type: ignore[call-overload]
        if type(d) is list:
            c = d[3] if len(d) > 3 else None
        else:
            c = d.get("c") if isinstance(d, dict) else None
        return float(c) if isinstance(c, int | float) and not isinstance(c, bool) else None

    def utc_texts(self) -> tuple[str, str | None, str]:
        """Started, finished (None until then) and last message times as ISO text in UTC, whole
        seconds (``2026-11-23T10:00:00Z``): what an export writes, without formatting a time."""
        meta = self.meta
        finished = self.finished_at
        return (
            _stored_text(meta["started_at"], self.started_at),
            _stored_text(meta["finished_at"], finished) if finished is not None else None,
            _stored_text(meta["last_at"], self.last_at),
        )

    def __repr__(self) -> str:
        return (
            f"StoredResponse({self.respondent!r}, {self.status.value}, {len(self.fields)} fields)"
        )


def _text(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError(f"expected text, got {v!r}")
    return v


def _when(v: Any) -> datetime:
    """A stored time: epoch ms (short meta fields) or ISO text (the old meta object)."""
    return iso_time(v) if isinstance(v, str) else _ms_time(v)


def _stored_text(v: Any, parsed: datetime) -> str:
    return _utc_text(v, parsed) if isinstance(v, str) else _ms_text(v)


def _answer_order(a: StoredAnswer) -> tuple[int, str]:
    return a.ms, a.question


def decode_stored(rid: str, raw: Any) -> StoredResponse | None:
    """The HGETALL reply of one response hash (a dict, or the flat name/value list that
    :func:`read_hashes` gets on one server) as a :class:`StoredResponse`; None if there is no
    readable ``meta`` (see the module docstring)."""
    if not raw:
        return None
    if isinstance(raw, dict):
        fields = _decode_fields(rid, list(raw), list(raw.values()))
    else:
        fields = _decode_fields(rid, raw[0::2], raw[1::2])
    meta = fields.get(META)
    if meta is None:
        meta = _meta(fields)
        if meta is None:
            return None
    try:
        return StoredResponse(rid, meta, fields)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        log.warning("skipping unreadable response of %s: %r", rid, exc)
        return None


def _decode_fields(rid: str, names: Sequence[Any], raw: Sequence[Any]) -> dict[bytes, Any]:
    # Every value is one JSON document: splice them into one array and parse it once, with
    # orjson (one parse per hash instead of ~26, and orjson parses this ~3x faster than the
    # json module: together about a fifth of an export's time). Our own writer only stores JSON
    # objects, so the element count equals the field count; a value that is not JSON, or an odd
    # one that would shift the splice (a top-level comma), is caught by the parse or the count
    # check and the fields are then parsed one by one with the json module, which also reads
    # what orjson refuses (NaN). One difference: orjson reads an integer beyond 64 bits as a
    # float; the engine stores numbers parsed as floats, so no digits are lost by that.
    try:
        values = orjson.loads(b"[" + b",".join(raw) + b"]")
        if len(values) == len(names):
            return dict(zip(names, values, strict=True))
    except (ValueError, TypeError):  # TypeError: str values (a client with decode_responses)
        pass
    fields: dict[bytes, Any] = {}
    for name, value in zip(names, raw, strict=True):
        key = name if isinstance(name, bytes) else str(name).encode()
        try:
            fields[key] = json.loads(value)
        except (ValueError, TypeError) as exc:
            log.warning("skipping unreadable field %r of %s: %r", key, rid, exc)
    if not isinstance(fields.get(META), dict):
        fields.pop(META, None)
    return fields


# -- reading many hashes at once ------------------------------------------------------------------

READ_MANY = """
-- KEYS: hashes. Reply: the HGETALL of each, in order (an empty list for a missing key).
-- On one Redis server only: the keys of different respondents live in different cluster slots.
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('HGETALL', key) end
return out
"""
_READ_MANY = Script(READ_MANY)


async def read_hashes(client: AnyRedis, keys: list[str], *, first: bool = False) -> list[Any]:
    """HGETALL of every key, in one round trip: each reply a flat name/value list, or a dict.

    On one server, one script call for the whole batch: redis-py spends ~14 us of Python on
    each command of a pipeline (packing, a timeout and a parser call per reply), which for
    100,000 responses was a third of an export's time; one reply of nested lists costs a tenth
    of that (Redis itself does a little more work, on its own core). ``first``: send the
    script's source (EVAL, which also caches it in Redis) rather than try EVALSHA first, so a
    fresh server costs no extra round trip. On a cluster, a pipeline (redis-py sends each node
    its share).
    """
    if is_cluster(client):
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        return list(await pipe.execute())
    return list(await _READ_MANY(client, keys, [], source=first))
