"""Responses as read back in bulk (exports and reports): decoded once, objects made on demand.

An export reads every response of a flow: 100,000 of them, with some 25 answers each. Building
a pydantic ``Response`` and an answer object per answer for each was most of the cost of
``surveybot export``, while a CSV or XLSX row needs only the stored values. So
:class:`StoredResponse` keeps the response hash decoded as plain JSON (one ``json.loads`` for
the whole hash) and builds answer objects only when asked (``answers``, used by reports):

* ``fields``: every field of the hash by its raw name (``b"meta"``, ``b"a:<question id>"``), each
  value the decoded JSON: ``{"v": value, "t": ms, "o": other?}`` for an answer (see
  :mod:`store.keys`). Exports fill their columns straight from these.
* ``meta``: the ``meta`` object (``ResponseMeta`` as JSON); its times are also parsed into
  ``started_at``, ``last_at``, ``finished_at``.

A response whose ``meta`` is missing or unreadable is skipped (an index entry without a
response: erased, expired, or a crash between the two writes). An unreadable answer field is
left out of ``answers`` (and of an export's row) with a warning, rather than losing the rest of
that respondent's answers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from bot.models import Status, StoredAnswer
from store.client import AnyRedis, is_cluster
from store.scripts import Script

log = logging.getLogger(__name__)

META = b"meta"
ANSWER_PREFIX = b"a:"

_STATUSES: dict[str, Status] = {s.value: s for s in Status}


def iso_time(text: str) -> datetime:
    """A stored ISO time (pydantic writes ``...Z``; Python 3.11 reads it); naive means UTC."""
    t = datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


class StoredResponse:
    """One respondent's response to one flow, as stored; satisfies ``bot.results.export``'s
    ``ResponseLike`` (exports and reports read these, never write them)."""

    __slots__ = (
        "_answers",
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
        self.respondent = respondent
        self.meta = meta
        self.fields = fields
        self.version: str = meta["version"]
        self.channel: str = meta["channel"]
        self.source: str | None = meta.get("source")
        self.lang: str = meta.get("lang", "en")
        self.status: Status = _STATUSES[meta.get("status", "active")]
        self.started_at = iso_time(meta["started_at"])
        self.last_at = iso_time(meta["last_at"])
        finished = meta.get("finished_at")
        self.finished_at = iso_time(finished) if finished else None
        self._answers: dict[str, StoredAnswer] | None = None

    @property
    def answers(self) -> dict[str, StoredAnswer]:
        """Answers by question id, in the order they were given (time, then question id)."""
        if self._answers is None:
            found: list[StoredAnswer] = []
            for name, d in self.fields.items():
                if name[:2] != ANSWER_PREFIX:
                    continue
                try:
                    found.append(StoredAnswer(name[2:].decode(), d.get("v"), d.get("o"), d["t"]))
                except (KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
                    log.warning(
                        "skipping unreadable answer %r of %s: %r", name, self.respondent, exc
                    )
            found.sort(key=_answer_order)
            self._answers = {a.question: a for a in found}
        return self._answers

    def __repr__(self) -> str:
        return (
            f"StoredResponse({self.respondent!r}, {self.status.value}, {len(self.fields)} fields)"
        )


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
