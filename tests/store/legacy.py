"""The store's layout before the compact encodings (commit a6161c8, and as main still wrote it
at 50c45b3, with spoken answers' confidence): its writers, kept here to test that what a live
consultation stored then is still read, continued, exported and erased.

``commit_v1`` is the old COMMIT script and argument list verbatim, so the keys it writes are
byte for byte what the old code wrote: a session hash (``rev``, ``flow``, ``data`` = pydantic's
JSON, a pending read-back with its ``confidence``), a sorted set of seen message ids, a response
hash with a ``meta`` JSON object and answers ``{"v": ..., "t": ..., "o"?, "c"?}``, a
per-respondent set of flows (also written with the index entries, before the commit), the rate
counter key.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from bot.models import Answer, Session, Status, Step
from bot.schema import Flow
from store.client import AnyRedis
from store.encode import ResponseMeta, ms, ttl_ms
from store.keys import KeyBuilder, answer_field
from store.scripts import Script

_OPTIONS = orjson.OPT_UTC_Z  # UTC as "...Z", as pydantic writes it
_DEFAULTS: dict[type[BaseModel], dict[str, Any]] = {}
_NO_DEFAULT = object()


def _defaults(cls: type[BaseModel]) -> dict[str, Any]:
    found = _DEFAULTS.get(cls)
    if found is None:
        found = {}
        for name, info in cls.model_fields.items():
            if info.default_factory is not None:
                found[name] = info.get_default(call_default_factory=True)
            elif info.default is not PydanticUndefined:
                found[name] = info.default
            else:
                found[name] = _NO_DEFAULT
        _DEFAULTS[cls] = found
    return found


def _non_default(model: BaseModel, skip: str | None = None) -> dict[str, Any]:
    """The fields ``exclude_defaults=True`` keeps, nested models likewise."""
    defaults = _defaults(type(model))
    out: dict[str, Any] = {}
    for name, value in model.__dict__.items():
        if name == skip:
            continue
        default = defaults.get(name, _NO_DEFAULT)
        if default is not _NO_DEFAULT and value == default:
            continue
        out[name] = _non_default(value) if isinstance(value, BaseModel) else value
    return out


def session_json(s: Session) -> str:
    """``s.model_dump_json(exclude_defaults=True, exclude={"rev"})``."""
    return orjson.dumps(_non_default(s, "rev"), option=_OPTIONS).decode()


_META_FIELDS = tuple(ResponseMeta.model_fields)


def meta_json(s: Session) -> bytes:
    """``ResponseMeta`` of ``s`` as ``model_dump_json(exclude_none=True)`` writes it."""
    d = {name: getattr(s, name) for name in _META_FIELDS}
    return orjson.dumps({k: v for k, v in d.items() if v is not None}, option=_OPTIONS)


def answer_json(a: Answer) -> bytes:
    """One answer: ``{"v": value, "t": epoch ms}``, ``"o"`` for an "other" text and ``"c"`` for
    the confidence of a spoken one."""
    d: dict[str, Any] = {"v": a.value, "t": ms(a.at)}
    if a.other is not None:
        d["o"] = a.other
    if a.confidence is not None:  # spoken: speech recognition's confidence in the words
        d["c"] = a.confidence
    return orjson.dumps(d)


_LATEST = """
local function latest(seen, mid)
  -- The ms ``mid`` was committed at if it is the respondent's last committed message, else 0.
  local top = redis.call('ZREVRANGE', seen, 0, 0, 'WITHSCORES')
  if top[1] == mid then return tonumber(top[2]) end
  return 0
end
"""
_COUNT = """
local function count(rate, window)
  -- Count one message against the sender's limit (a fixed window); the count so far.
  local n = redis.call('INCR', rate)
  if n == 1 then redis.call('PEXPIRE', rate, window) end
  return n
end
"""

COMMIT_V1 = (
    _LATEST
    + _COUNT
    + """
-- KEYS: 1 session, 2 seen, 3 response, 4 flows, 5 optout, 6 rate
-- ARGV: 1 expected rev, 2 session JSON, 3 flow id, 4 message id ('' = none), 5 now ms,
--       6 seen cutoff ms, 7 dedupe window ms, 8 session ttl ms, 9 retention ms,
--       10 optout action ('set' | 'del' | ''), 11 meta JSON, 12 rate window ms ('0' = no
--       limit), 13 rate limit, 14 expected session JSON ('' = not checked), 15 n = number of
--       answers, then n (field, JSON) pairs, then the answer fields to delete.
-- Reply: {rev, fresh} on success (fresh = 1 if the response hash is new),
--        {-1, latest} if the message id was already seen (latest as in LOAD),
--        {-2, stored rev} on a version mismatch,
--        {-3, count} if the sender is over the rate limit (count = messages in the window).
-- Checked in that order, so a duplicate or a lost race is not counted against the sender.
-- ARGV 14 guards a step computed on a cached copy: revs restart at 1 when a session is
-- erased and begun again, so the rev alone could match a different session (ABA).
local unpack = unpack or table.unpack
local mid = ARGV[4]
if mid ~= '' and redis.call('ZSCORE', KEYS[2], mid) then
  return {-1, latest(KEYS[2], mid)}
end
local stored = redis.call('HMGET', KEYS[1], 'rev', 'data')
local rev = tonumber(stored[1] or '0')
if rev ~= tonumber(ARGV[1]) or (ARGV[14] ~= '' and stored[2] ~= ARGV[14]) then
  return {-2, rev}
end
if ARGV[12] ~= '0' then
  local n = count(KEYS[6], ARGV[12])
  if n > tonumber(ARGV[13]) then return {-3, n} end
end
rev = rev + 1
redis.call('HSET', KEYS[1], 'rev', rev, 'flow', ARGV[3], 'data', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[8])
if mid ~= '' then
  -- Scored by time, kept strictly increasing so the last message is the top even when two
  -- commits share a millisecond (a fixed test clock): LOAD's "latest" depends on it.
  local score = tonumber(ARGV[5])
  local top = redis.call('ZREVRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if top[2] and tonumber(top[2]) >= score then score = tonumber(top[2]) + 1 end
  redis.call('ZADD', KEYS[2], score, mid)
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[6])
  redis.call('PEXPIRE', KEYS[2], ARGV[7])
end
local fresh = redis.call('EXISTS', KEYS[3]) == 0
local n = tonumber(ARGV[15])
local first_del = 16 + 2 * n
if #ARGV >= first_del then
  redis.call('HDEL', KEYS[3], unpack(ARGV, first_del))
end
redis.call('HSET', KEYS[3], 'meta', ARGV[11], unpack(ARGV, 16, first_del - 1))
redis.call('PEXPIRE', KEYS[3], ARGV[9])
redis.call('SADD', KEYS[4], ARGV[3])
redis.call('PEXPIRE', KEYS[4], ARGV[9])
if ARGV[10] == 'set' then
  redis.call('SET', KEYS[5], ARGV[5], 'PX', ARGV[9])
elseif ARGV[10] == 'del' then
  redis.call('DEL', KEYS[5])
end
if fresh then return {rev, 1} end
return {rev, 0}
"""
)


_COMMIT_V1 = Script(COMMIT_V1)
_OPTOUT_ACTION = {Status.OPTED_OUT: "set", Status.ACTIVE: "del"}


async def commit_v1(
    redis: AnyRedis,
    keys: KeyBuilder,
    step: Step,
    *,
    expected_rev: int,
    message_id: str | None,
    flow: Flow,
    now: datetime,
    retention: timedelta = timedelta(days=400),
    dedupe_window: timedelta = timedelta(days=2),
    finished_ttl: timedelta = timedelta(days=30),
    rate: tuple[int, int] = (60_000, 30),
) -> list[Any]:
    """One commit exactly as the old store made it (its index entries too); the script's reply."""
    s = step.session
    rid = s.respondent
    ttl = flow.expiry
    if s.status.finished:
        s = s.model_copy(update={"address": None})
        ttl = min(ttl, finished_ttl)
    now_ms = ms(now)
    args: list[str | bytes | int] = [
        expected_rev, session_json(s), s.flow, message_id or "", now_ms,
        now_ms - ttl_ms(dedupe_window), ttl_ms(dedupe_window), ttl_ms(ttl), ttl_ms(retention),
        _OPTOUT_ACTION.get(s.status, ""), meta_json(s), *(rate if message_id else (0, 0)), "",
        len(step.answers),
    ]  # fmt: skip
    for a in step.answers:
        args += [answer_field(a.question), answer_json(a)]
    args += [answer_field(q) for q in step.cleared]
    k = keys
    if expected_rev == 0 or s.started_at == now:  # as the old store guessed a first commit
        await redis.sadd(k.flows(rid), s.flow)  # (issue 17: erasure finds a refused first commit)
        await redis.pexpire(k.flows(rid), ttl_ms(retention))
        await redis.zadd(k.index_for(s.flow, rid), {rid: ms(s.started_at)}, nx=True)
        await redis.zadd(k.due_for(s.flow, rid), {rid: ms(s.started_at)}, nx=True)
    names = [
        k.session(rid), k.seen(rid), k.response(rid, s.flow), k.flows(rid), k.optout(rid),
        k.rate(rid),
    ]  # fmt: skip
    return list(await _COMMIT_V1(redis, names, args))


async def record_misses_v1(
    redis: AnyRedis,
    keys: KeyBuilder,
    rid: str,
    flow: str,
    misses: list[tuple[str, str, str, datetime, str | None, Any]],
    *,
    retention: timedelta = timedelta(days=400),
    per_person: int = 20,
) -> None:
    """Misses as main's misses log wrote them (issue 15, until adeee3a): (question, masked
    reply, kind, time, reason, offered) appended to a list ``sb:{rid}:m:<flow>`` of JSON objects,
    the respondent indexed in the flow's misses index ``sb:mi:<flow>:<shard>`` by the ms of
    their latest miss."""
    entries = []
    for question, text, kind, at, reason, offered in misses:
        e: dict[str, Any] = {"q": question, "t": ms(at), "x": text, "k": kind}
        if reason:
            e["r"] = reason
        if offered is not None:
            e["o"] = offered
        entries.append(orjson.dumps(e))
    now_ms = ms(misses[-1][3])
    keep = max(1, ttl_ms(retention) - 60_000)
    key = f"{keys.prefix}:{{{rid}}}:m:{flow}"
    index = f"{keys.prefix}:mi:{flow}:{keys.shard(rid)}"
    pipe = redis.pipeline(transaction=False)
    for command in (
        ("RPUSH", key, *entries),
        ("LTRIM", key, -per_person, -1),
        ("PEXPIRE", key, keep),
        ("ZADD", index, now_ms, rid),
        ("ZREMRANGEBYSCORE", index, "-inf", f"({now_ms - keep}"),
        ("PEXPIRE", index, keep),
        ("ZCARD", index),
    ):
        pipe.execute_command(*command)
    await pipe.execute()
