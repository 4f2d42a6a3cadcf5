"""The misses log: replies the bot did not understand or had to check, for ``surveybot misses``.

Written beside the commit, never in it: the dispatcher hands a committed step's misses
(:func:`bot.misses.misses_of`, already masked) to :meth:`MissLog.record`, one script call, and
only for a message that had a miss; an ordinary answer costs nothing. A failed write is logged
and dropped: a miss is a hint for the officer, never a reason to fail a respondent.

**Where they are kept: in the response itself.** A respondent's misses in a flow are a few more
fields of their response hash ``sb:{rid}:r:<flow>`` (``store.keys``), not keys of their own. A
key of its own cost ~300 bytes (key, TTL entry, list header) and an index entry ~200 more,
against ~30 bytes for a short entry in the hash's listpack; and in the response the misses
share its TTL (kept exactly as long as the answers, refreshed by the same commits) and are
deleted with it on erasure, by construction.

==================  =========================================================================
field               what
==================  =========================================================================
``m``               misses logged so far for this person in this flow (the ring's position)
``m<i>``            entry ``i`` of a ring of :data:`PER_PERSON` (the latest kept): JSON
                    ``[ms, question, code, reply]`` or ``[ms, question, code, reply,
                    offered]``: ``ms`` since the hash's base ``b`` (as answers count), ``code``
                    the kind and the parser's reason (:data:`_REASONS`: ``"nu"`` not
                    understood, ``"np"`` not a postcode, ``"c"`` checked...), ``reply`` masked.
``m<i>.<j>``        an entry too long for one value: the head is ``[ms, k, "piece"]`` and
                    ``m<i>.1`` .. ``m<i>.<k>`` the next pieces (JSON strings) of the entry's
                    JSON ``[question, code, reply, offered?]``.
==================  =========================================================================

Every value stays at most 64 bytes (Redis' ``hash-max-listpack-value``; a longer one would
turn the whole response into a hash table, ~1.2 KB more on the carers flow), and every value is
one JSON document, so exports still parse a response with one ``orjson.loads`` (``store.stored``;
they skip these fields as they skip meta fields).

Bounded under a flood of junk: per person and flow the latest :data:`PER_PERSON` entries and at
most :data:`PER_PERSON_FIELDS` fields (older entries go first), so a response keeps its compact
encoding; per flow at most :data:`PER_FLOW` people: the first reply not understood of a person
who has none logged counts one in ``sb:misses:<flow>`` (a STRING counter, TTL = retention,
refreshed by each count; it names no one), and once that passes the cap new people's misses
are not logged (people already in the log go on being logged). ``surveybot misses`` says when
the cap was reached.

Reading (``surveybot misses``, offline): the flow's response index (``sb:idx:<flow>:<n>``) lists
its respondents; their responses are read in batches (one script call per batch on one server,
pipelines on a cluster), and only those holding misses are sent back whole.

**The layout before** (still read and erased; nothing new is written there, and it expires with
its TTL): a LIST ``sb:{rid}:m:<flow>`` of JSON objects ``{"q", "t" (epoch ms), "x", "k",
"r"?, "o"?}`` (TTL the retention less a minute) and a ZSET index ``sb:mi:<flow>:<n>`` of the
respondents with such a list (crc32 shards, as the response index).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from bot.errors import UnstorableValue
from bot.misses import Miss
from bot.models import AnswerValue, Step
from bot.schema import Flow
from store.client import AnyRedis, is_cluster, redis_errors
from store.encode import ms, ttl_ms
from store.handle import StoreHandle
from store.keys import KeyBuilder
from store.multiplex import ClusterMultiplexed, Multiplexed
from store.scripts import Script
from store.stored import StoredResponse, decode_stored

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

PER_PERSON = 20
"""Misses kept per respondent and flow (the latest)."""
PER_PERSON_FIELDS = 40
"""Hash fields the misses of one respondent in one flow may use (a short entry takes one, a
long one up to :data:`ENTRY_FIELDS`): the oldest entries go first. With the carers flow's ~27
other fields the response stays well under Redis' 128-field listpack limit."""
PER_FLOW = 20_000
"""People whose misses are logged per flow (the first this many)."""
ENTRY_FIELDS = 12
"""Fields one entry may take: a reply of :data:`bot.misses.MAX_TEXT` characters in any script
fits (160 Gujarati characters take 9); longer entries are cut (an ``offered`` list...)."""

VALUE_MAX = 64
"""Redis' default ``hash-max-listpack-value``: no value of a response may be longer."""
_TIME_ROOM = 14
"""What the script puts before an entry's head: ``[`` and the ms (a sign and 12 digits)."""
_HEAD_ROOM = VALUE_MAX - _TIME_ROOM

COUNT = "m"
"""The field counting a respondent's misses in the flow."""
_FIELD = re.compile(r"m(\d+)(?:\.(\d+))?\Z")

_REASONS = {
    "not_understood": "u", "too_short": "s", "too_long": "l", "out_of_range": "r",
    "not_integer": "i", "too_many": "m", "too_few": "f", "not_a_date": "d",
    "not_a_postcode": "p", "exclusive": "x", "query": "q",
}  # fmt: skip
"""The parser's reasons (``bot.answers.REASONS``) as one letter after the kind; a reason not in
this table is kept whole after a colon (``"n:new_reason"``). Never reassign a letter: stored data."""
_REASON_OF = {v: k for k, v in _REASONS.items()}

# Codes of RECORD's reply.
NO_RESPONSE, WRITTEN, FIRST, REFUSED = 0, 1, 2, 3

_RING = """
local unpack = unpack or table.unpack
local function fields(head)
  -- How many fields an entry takes: 1, or 1 + k for a head '[ms,k,"piece"]'.
  if not head then return 0 end
  return 1 + (tonumber(string.match(head, '^%[%-?%d+,(%d+),')) or 0)
end
local function drop(key, name)
  local head = redis.call('HGET', key, name)
  local n = fields(head)
  if n == 0 then return 0 end
  local gone = {name}
  for j = 1, n - 1 do gone[#gone + 1] = name .. '.' .. j end
  redis.call('HDEL', key, unpack(gone))
  return n
end
"""

_RECORD = Script(
    _RING
    + """
-- KEYS: 1 the response hash.
-- ARGV: 1 entries kept, 2 fields they may take, 3 '1' if a person with no misses logged may
--       start (the flow's cap not known to be reached), 4 now (epoch ms), then per entry:
--       its field count n, the head's rest (after '[' and the ms), n - 1 continuations.
-- Reply: 0 nothing written (no response: erased or expired), 1 written, 2 written and the
--        person's first, 3 not written: their first, and the flow's cap is reached.
local key = KEYS[1]
local base = tonumber(redis.call('HGET', key, 'b') or '')
if not base then return 0 end
local count = tonumber(redis.call('HGET', key, 'm') or '0') or 0
local first = count == 0
if first and ARGV[3] ~= '1' then return 3 end
local keep, budget = tonumber(ARGV[1]), tonumber(ARGV[2])
local dt = string.format('%d', tonumber(ARGV[4]) - base)
local i = 5
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local name = 'm' .. string.format('%d', count % keep)
  drop(key, name)  -- the oldest entry, when the ring is full
  local values = {name, '[' .. dt .. ARGV[i + 1]}
  for j = 1, n - 1 do
    values[#values + 1] = name .. '.' .. j
    values[#values + 1] = ARGV[i + 1 + j]
  end
  redis.call('HSET', key, unpack(values))
  count = count + 1
  i = i + 1 + n
end
redis.call('HSET', key, 'm', string.format('%d', count))
-- The fields budget: drop the oldest entries until the rest fit (the newest always does).
local live = math.min(count, keep)
local names, used = {}, 0
for seq = count - live, count - 1 do
  local name = 'm' .. string.format('%d', seq % keep)
  names[#names + 1] = name
  used = used + fields(redis.call('HGET', key, name))
end
local oldest = 1
while used > budget and oldest < #names do
  used = used - drop(key, names[oldest])
  oldest = oldest + 1
end
if first then return 2 end
return 1
"""
)

_FORGET = Script(
    """
-- KEYS: 1 the response hash. Deletes its misses fields (a person over the flow's cap).
local unpack = unpack or table.unpack
local gone = {}
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if f == 'm' or string.match(f, '^m%d') then gone[#gone + 1] = f end
end
if #gone > 0 then redis.call('HDEL', KEYS[1], unpack(gone)) end
return #gone
"""
)

_READ = Script(
    """
-- KEYS: response hashes. ARGV: per key '1' to read it even without misses (the layout before
-- has a list of theirs), else '0'. Reply: the HGETALL of each holding misses, else {}.
-- On one Redis server only (the keys of different respondents are in different cluster slots).
local out = {}
for i, key in ipairs(KEYS) do
  if ARGV[i] == '1' or redis.call('HEXISTS', key, 'm') == 1 then
    out[i] = redis.call('HGETALL', key)
  else
    out[i] = {}
  end
end
return out
"""
)

__all__ = ["PER_FLOW", "PER_PERSON", "PER_PERSON_FIELDS", "MissLog", "misses_in"]


def _text(v: bytes | str) -> str:
    return v.decode() if isinstance(v, bytes) else v


class MissLog:
    """Records misses and reads them back per flow."""

    def __init__(
        self,
        redis: AnyRedis,
        *,
        keys: KeyBuilder | None = None,
        retention: timedelta = timedelta(days=400),
        per_person: int = PER_PERSON,
        per_flow: int | None = None,
        per_person_fields: int = PER_PERSON_FIELDS,
        hot: Multiplexed | ClusterMultiplexed | None = None,
    ) -> None:
        per_flow = PER_FLOW if per_flow is None else per_flow
        if per_person < 1 or per_flow < 1:
            raise ValueError("the misses caps must be at least 1")
        if per_person_fields < ENTRY_FIELDS:
            raise ValueError(f"per_person_fields must be at least {ENTRY_FIELDS} (one entry)")
        self.redis = redis
        self.hot = hot
        self.keys = keys or KeyBuilder()
        self.retention = retention
        self.per_person = per_person
        self.per_flow = per_flow
        self.per_person_fields = per_person_fields
        self._full: set[str] = set()  # flows whose cap this process saw reached

    @classmethod
    def for_store(cls, store: StoreHandle, **kwargs: Any) -> MissLog:
        """A log on the store's client, connection, key prefix and retention."""
        return cls(store.redis, keys=store.keys, retention=store.retention, hot=store.hot, **kwargs)

    # -- keys ------------------------------------------------------------------------------------

    def counter(self, flow: str) -> str:
        """The flow's count of people with misses logged (the per-flow cap)."""
        return f"{self.keys.prefix}:misses:{flow}"

    def key(self, rid: str, flow: str) -> str:
        """A respondent's misses list in the layout before (read and erased, never written)."""
        if "{" in rid or "}" in rid:
            raise ValueError(f"respondent id {rid!r} must not contain braces")
        return f"{self.keys.prefix}:{{{rid}}}:m:{flow}"

    def index(self, flow: str, shard: int) -> str:
        """A shard of the flow's misses index in the layout before (read and erased)."""
        return f"{self.keys.prefix}:mi:{flow}:{shard}"

    def index_for(self, flow: str, rid: str) -> str:
        return self.index(flow, self.keys.shard(rid))

    # -- writes ------------------------------------------------------------------------------------

    async def record(self, step: Step, misses: Sequence[Miss], now: datetime) -> None:
        """Add ``misses`` (masked already) to the respondent's response, just committed: one
        script call (one more, a pipelined INCR, for a person's first)."""
        if not misses:
            return
        rid, flow = step.session.respondent, step.session.flow
        args: list[str | int | bytes] = [
            self.per_person,
            self.per_person_fields,
            0 if flow in self._full else 1,
            ms(now),
        ]
        for m in misses:
            parts = entry_fields(m)
            args += [len(parts), *parts]
        response = self.keys.response(rid, flow)
        client = self.hot or self.redis
        with redis_errors("misses"):
            code = int(await _RECORD(client, [response], args))
            if code != FIRST:
                return
            counter = self.counter(flow)
            counted, _ = await self._many(
                [("INCR", counter), ("PEXPIRE", counter, ttl_ms(self.retention))]
            )
            if int(counted) > self.per_flow:
                self._full.add(flow)
                await _FORGET(client, [response], [])

    async def _many(self, commands: Sequence[tuple[str | int, ...]]) -> list[Any]:
        if self.hot is not None:
            return await self.hot.execute_many(commands)
        pipe = self.redis.pipeline(transaction=False)
        for c in commands:
            pipe.execute_command(*c)
        return list(await pipe.execute())

    async def erase_respondent(self, rid: str, flows: Sequence[str]) -> int:
        """Remove a respondent's misses in ``flows`` kept in the layout before (lists and their
        index entries). Those in a response go with it (``RedisStore.erase_respondent``)."""
        if not flows:
            return 0
        pipe = self.redis.pipeline(transaction=False)
        for f in flows:
            pipe.zrem(self.index_for(f, rid), rid)
        pipe.delete(*(self.key(rid, f) for f in flows))
        with redis_errors("misses erase"):
            removed = await pipe.execute()
        return sum(int(n) for n in removed)

    # -- reads -------------------------------------------------------------------------------------

    async def people(self, flow: str) -> int:
        """People counted against the flow's cap (those whose misses were logged, ever: erased
        and expired ones too; and each turned away once the cap was passed, by a process that
        did not know yet). Past :attr:`per_flow`, new people's misses are not logged."""
        with redis_errors("misses read"):
            raw = await self.redis.get(self.counter(flow))
        return int(raw or 0)

    async def records(
        self, flow: Flow, since: datetime | None = None, batch: int = 500
    ) -> AsyncIterator[tuple[str, list[Miss], dict[str, AnswerValue | None]]]:
        """Every respondent with misses in ``flow`` (at or after ``since``), in respondent id
        order: their misses (oldest first) and what they finally answered at those questions
        (from their response; None where they gave no answer)."""
        since_ms = ms(since) if since is not None else None
        pipe = self.redis.pipeline(transaction=False)
        for key in self.keys.index_keys(flow.id):
            pipe.zrange(key, 0, -1)
        low: float | str = since_ms if since_ms is not None else "-inf"
        for n in range(self.keys.shards):  # (the layout before)
            pipe.zrangebyscore(self.index(flow.id, n), low, "+inf")
        with redis_errors("misses read"):
            shards = await pipe.execute()
        every = {_text(r) for members in shards[: self.keys.shards] for r in members}
        before = {_text(r) for members in shards[self.keys.shards :] for r in members}
        rids = sorted(every | before)
        step = max(1, batch)
        for start in range(0, len(rids), step):
            chunk = rids[start : start + step]
            hashes = await self._read(flow.id, chunk, before)
            lists = await self._lists(flow.id, [r for r in chunk if r in before])
            for rid, raw in zip(chunk, hashes, strict=True):
                stored = decode_stored(rid, raw) if raw else None
                misses = [m for m in (_decode(x) for x in lists.get(rid, [])) if m is not None]
                if stored is not None:
                    misses += misses_in(stored, self.per_person)
                if since_ms is not None:
                    misses = [m for m in misses if ms(m.at) >= since_ms]
                if not misses:
                    continue
                given = {q: v for q, v, _, _ in stored.answer_values()} if stored else {}
                qids = dict.fromkeys(m.question for m in misses)
                yield rid, misses, {q: given.get(q) for q in qids}

    async def _read(self, flow: str, rids: list[str], before: set[str]) -> list[Any]:
        """The response hashes of ``rids`` that hold misses (or whose misses are in a list of
        the layout before), else an empty reply."""
        keys = [self.keys.response(rid, flow) for rid in rids]
        with redis_errors("misses read"):
            if not is_cluster(self.redis):
                flags = ["1" if rid in before else "0" for rid in rids]
                return list(await _READ(self.redis, keys, flags))
            pipe = self.redis.pipeline(transaction=False)
            for key in keys:
                pipe.hexists(key, COUNT)
            has = await pipe.execute()
            wanted = [i for i, rid in enumerate(rids) if has[i] or rid in before]
            pipe = self.redis.pipeline(transaction=False)
            for i in wanted:
                pipe.hgetall(keys[i])
            found: list[Any] = [{} for _ in rids]
            for i, raw in zip(wanted, await pipe.execute(), strict=True):
                found[i] = raw
            return found

    async def _lists(self, flow: str, rids: list[str]) -> dict[str, list[Any]]:
        if not rids:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for rid in rids:
            pipe.lrange(self.key(rid, flow), 0, -1)
        with redis_errors("misses read"):
            return dict(zip(rids, await pipe.execute(), strict=True))


# -- the entries' encoding --------------------------------------------------------------------------


def _code(kind: str, reason: str | None) -> str:
    if reason is None:
        return kind
    short = _REASONS.get(reason)
    return kind + short if short is not None else f"{kind}:{reason}"


def _uncode(code: str) -> tuple[str, str | None]:
    kind, rest = code[:1], code[1:]
    if not rest:
        return kind, None
    if rest.startswith(":"):
        return kind, rest[1:]
    return kind, _REASON_OF.get(rest, rest)


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError as exc:  # text that is not UTF-8 (a lone surrogate)
        raise UnstorableValue(f"a miss cannot be stored: {exc}") from exc


def _pieces(body: str, first: int, room: int) -> list[str]:
    """``body`` cut into pieces whose JSON strings take at most ``first`` bytes (the first)
    and ``room`` (the others)."""
    out: list[str] = []
    piece: list[str] = []
    size, limit = 2, first
    for c in body:
        cost = len(_dumps(c)) - 2
        if size + cost > limit and piece:
            out.append("".join(piece))
            piece, size, limit = [], 2, room
        piece.append(c)
        size += cost
    out.append("".join(piece))
    return out


def entry_fields(m: Miss) -> list[bytes]:
    """The values one miss is stored as: the head's rest (the script writes ``[`` and the ms
    before it), then the continuations; every value (with the ms) at most :data:`VALUE_MAX`
    bytes, and at most :data:`ENTRY_FIELDS` of them: a longer reply is cut with an ellipsis
    (no reply of :data:`bot.misses.MAX_TEXT` characters is), and an ``offered`` value too long
    even then (a list of many long ids) is left out."""
    text, offered = m.text, m.offered
    while True:
        body: list[Any] = [m.question, _code(m.kind, m.reason), text]
        if offered is not None:
            body.append(offered)
        whole = _dumps(body)
        head = b"," + whole[1:]
        if len(head) <= _HEAD_ROOM:
            return [head]
        # ',k,' + the JSON string + ']': k takes at most two digits (ENTRY_FIELDS < 100).
        pieces = _pieces(whole.decode(), _HEAD_ROOM - 5, VALUE_MAX)
        if len(pieces) <= ENTRY_FIELDS:
            k = str(len(pieces) - 1).encode()
            return [b"," + k + b"," + _dumps(pieces[0]) + b"]", *(_dumps(p) for p in pieces[1:])]
        if text:
            text = text[: len(text) - 1 - len(text) // 8].rstrip()
            text = text + "…" if text else ""
        else:
            offered = None


def misses_in(response: StoredResponse, per_person: int = PER_PERSON) -> list[Miss]:
    """The misses stored in one response (as an export reads it: ``store.stored``), oldest
    first. Unreadable entries are skipped (with a warning): they never hide the others."""
    fields = response.fields
    count = fields.get(COUNT.encode())
    base = fields.get(b"b")
    if type(count) is not int or type(base) is not int:
        return []
    heads: dict[int, Any] = {}
    more: dict[tuple[int, int], Any] = {}
    for name, value in fields.items():
        if name[:1] != b"m":
            continue
        match = _FIELD.match(name.decode(errors="replace"))
        if match is None:
            continue
        slot, j = int(match.group(1)), match.group(2)
        if j is None:
            heads[slot] = value
        else:
            more[(slot, int(j))] = value
    found: list[tuple[int, int, Miss]] = []
    for slot, head in heads.items():
        miss = _entry(head, more, slot, base)
        if miss is None:
            log.warning("skipping unreadable miss m%d of %s", slot, response.respondent)
            continue
        # The order written: the ring's latest write to this slot.
        seq = count - 1 - (count - 1 - slot) % per_person
        found.append((ms(miss.at), seq, miss))
    found.sort(key=lambda t: (t[0], t[1]))
    return [m for _, _, m in found]


def _entry(head: Any, more: Mapping[tuple[int, int], Any], slot: int, base: int) -> Miss | None:
    try:
        if type(head) is not list or type(head[0]) is not int:
            return None
        dt = head[0]
        if len(head) == 3 and type(head[1]) is int:  # [ms, k, "piece"]: continued
            text = head[2] + "".join(more[(slot, j)] for j in range(1, head[1] + 1))
            body = json.loads(text)
        else:
            body = head[1:]
        question, code, reply = body[0], body[1], body[2]
        offered = body[3] if len(body) > 3 else None
        if not isinstance(question, str) or not isinstance(code, str) or not code:
            return None
        kind, reason = _uncode(code)
        at = _EPOCH + timedelta(milliseconds=base + dt)
        return Miss(question, str(reply), kind, at, reason, offered)
    except (KeyError, IndexError, TypeError, ValueError, OverflowError):
        return None


def _decode(raw: bytes | str) -> Miss | None:
    """One entry of a list of the layout before."""
    try:
        e = json.loads(_text(raw))
        return Miss(
            question=str(e["q"]),
            text=str(e["x"]),
            kind=str(e["k"]),
            at=datetime.fromtimestamp(int(e["t"]) / 1000, UTC),
            reason=e.get("r"),
            offered=e.get("o"),
        )
    except (ValueError, KeyError, TypeError):
        return None  # an unreadable entry never hides the others
