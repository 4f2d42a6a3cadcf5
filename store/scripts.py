"""Lua scripts. Each touches only the keys of one respondent (one cluster slot)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol

from redis.exceptions import NoScriptError

from store.client import AnyRedis

# Result codes of COMMIT (first element of the reply).
DUPLICATE = -1
CONFLICT = -2
RATE_LIMITED = -3

# Lua helpers shared by the scripts below (each script is sent whole: Lua has no imports).
_LATEST = """
local function latest(seen, mid)
  -- Sessions stored before the compact layout kept message ids in a sorted set (``seen``): the
  -- ms ``mid`` was committed at if it is the respondent's last committed message, else 0.
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
_SESSION = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz'
local function b36(n)
  local out = ''
  repeat
    local d = n % 36
    out = string.sub(DIGITS, d + 1, d + 1) .. out
    n = (n - d) / 36
  until n == 0
  return out
end
local function num(text)
  if text == '' then return nil end
  return tonumber(text, 36)
end

local FP = 6  -- bytes per message-id fingerprint

local function session(key)
  -- The stored session: a string 'rev;seen;rate start;rate count;deadline;old ids;n:'
  -- (numbers in base 36), n message-id fingerprints of FP bytes each (oldest first), then the
  -- session JSON (store.encode); or a hash (rev, flow, data) written before that layout
  -- (``legacy``). ``seen``: ms of the last commit of an inbound message; the rate counter
  -- counts inbound messages since ``rate start``; ``deadline`` (Redis' clock, ms) is set when
  -- the session must end before its message ids may be forgotten: the key lives on for the
  -- dedupe window, the session is gone; ``old ids`` (Redis' clock, ms): until then the sorted
  -- set of message ids the old layout kept may still hold some (set when a legacy session is
  -- rewritten).
  local raw = redis.pcall('GET', key)
  if type(raw) == 'table' then
    local h = redis.call('HMGET', key, 'rev', 'data')
    return {rev = tonumber(h[1] or '0'), data = h[2], legacy = true, fps = ''}
  end
  if not raw then return {rev = 0, data = false, fps = '', none = true} end
  local rev, seen, rs, rn, dl, lg, n, at = string.match(
    raw, '^(%w+);(%w*);(%w*);(%w*);(%w*);(%w*);(%w+):()')
  if not at then  -- not ours: taken as no session (a commit from rev 0 replaces it)
    return {rev = 0, data = false, fps = '', none = true}
  end
  local stop = at + FP * num(n)
  local s = {rev = num(rev), seen = num(seen), rs = num(rs), rn = num(rn), dl = num(dl),
             lg = num(lg), fps = string.sub(raw, at, stop - 1), data = string.sub(raw, stop),
             stored = true}
  if s.data == '' then s.data = false end
  if s.dl or s.lg then
    local t = now_ms()
    if s.dl and t > s.dl then s.rev, s.data = 0, false end
    if s.lg and t > s.lg then s.lg = nil end
  end
  return s
end

local function opt(n)
  if n then return b36(n) end
  return ''
end

local function pack(s, rev, data)
  return b36(rev) .. ';' .. opt(s.seen) .. ';' .. opt(s.rs) .. ';' .. opt(s.rn) .. ';'
    .. opt(s.dl) .. ';' .. opt(s.lg) .. ';' .. b36(#s.fps / FP) .. ':' .. s.fps .. data
end

local function seen_at(s, fp)
  -- Where fingerprint ``fp`` is in the record (1-based), or 0.
  for i = 1, #s.fps, FP do
    if string.sub(s.fps, i, i + FP - 1) == fp then return i end
  end
  return 0
end

local function duplicate(s, fp, legacy_seen, mid)
  -- false if the message is new, else the ms it was committed at if it is the respondent's
  -- last committed message, or 0.
  if fp == '' then return false end
  local at = seen_at(s, fp)
  if at > 0 then
    if at == #s.fps - FP + 1 then return s.seen or 0 end
    return 0
  end
  -- The old layout's sorted set of ids: only where it may still exist (it expires within the
  -- dedupe window of the last old commit).
  if (s.legacy or s.none or s.lg) and redis.call('ZSCORE', legacy_seen, mid) then
    if s.legacy then return latest(legacy_seen, mid) end
    return 0
  end
  return false
end
"""

LOAD = (
    _LATEST
    + _SESSION
    + """
-- KEYS: 1 session, 2 optout, 3 seen (before the compact layout).
-- ARGV: 1 fingerprint of the message id ('' = none), 2 the message id.
-- Reply: {rev, data or false, opted out 0/1, seen 0/1, latest, legacy 0/1}: latest = the ms
-- the seen message was committed if it is the respondent's last committed one (its reply may
-- never have arrived: a provider retrying), else 0; legacy = data is the old pydantic JSON.
-- One command rather than a pipeline: the client-side cost per message is what limits a web
-- process.
local s = session(KEYS[1])
local dup = duplicate(s, ARGV[1], KEYS[3], ARGV[2])
local seen, last = 0, 0
if dup then seen, last = 1, dup end
return {s.rev, s.data, redis.call('EXISTS', KEYS[2]), seen, last, s.legacy and 1 or 0}
"""
)

COMMIT = (
    _LATEST
    + _SESSION
    + """
-- KEYS: 1 session, 2 seen (before the compact layout), 3 response, 4 optout, 5 rate
-- ARGV: 1 expected rev, 2 session JSON, 3 fingerprint of the message id ('' = none),
--       4 message id, 5 now ms, 6 dedupe window ms, 7 message ids kept at most, 8 session
--       ttl ms, 9 retention ms, 10 optout action ('set' | 'del' | ''), 11 rate window ms
--       ('0' = no limit), 12 rate limit, 13 expected session JSON ('' = not checked),
--       14 m = meta values, 15 n = answers, then m (field, value) pairs of meta, n (field,
--       value JSON, epoch ms, the rest of the array or '') answers (the rest: the other
--       text's JSON, and for a spoken answer ',' and its confidence: store.encode.answer_parts),
--       then the response fields to delete.
-- Reply: {rev, fresh} on success (fresh = 1 if the response hash is new),
--        {-1, latest} if the message id was already seen (latest as in LOAD),
--        {-2, stored rev, stored data or false, opted out 0/1, legacy 0/1} on a version
--        mismatch: the current session, so that the caller steps again without reading,
--        {-3, count} if the sender is over the rate limit (count = messages in the window).
-- Checked in that order, so a duplicate or a lost race is not counted against the sender.
-- ARGV 13 guards a step computed on a cached copy: revs restart at 1 when a session is
-- erased and begun again, so the rev alone could match a different session (ABA).
local unpack = unpack or table.unpack
local s = session(KEYS[1])
local dup = duplicate(s, ARGV[3], KEYS[2], ARGV[4])
if dup then return {-1, dup} end
if s.rev ~= tonumber(ARGV[1]) or (ARGV[13] ~= '' and s.data ~= ARGV[13]) then
  return {-2, s.rev, s.data, redis.call('EXISTS', KEYS[4]), s.legacy and 1 or 0}
end
local now = tonumber(ARGV[5])
if ARGV[11] ~= '0' then
  -- Inbound messages counted in the session itself (no key of its own); messages that
  -- committed nothing (THROTTLE) are in the rate key, added here.
  if not s.rs or now - s.rs >= tonumber(ARGV[11]) or now < s.rs then
    s.rs, s.rn = now, 0
  end
  s.rn = (s.rn or 0) + 1
  if not s.stored then
    -- No session yet (a stranger's messages that committed nothing were counted by THROTTLE
    -- in the rate key), or one of the old layout (which counted there): taken over.
    s.rn = s.rn + tonumber(redis.call('GET', KEYS[5]) or '0')
  end
  local total = s.rn
  if total > tonumber(ARGV[12]) then
    if s.stored then
      redis.call('SET', KEYS[1], pack(s, s.rev, s.data or ''), 'KEEPTTL')
    else
      redis.call('INCR', KEYS[5])
      redis.call('PEXPIRE', KEYS[5], ARGV[11])
    end
    return {-3, total}
  end
end
local rev = s.rev + 1
local window = tonumber(ARGV[6])
if ARGV[3] ~= '' then
  if s.seen and now - s.seen > window then s.fps = '' end
  s.fps = s.fps .. ARGV[3]
  local keep = tonumber(ARGV[7]) * FP
  if #s.fps > keep then s.fps = string.sub(s.fps, #s.fps - keep + 1) end
  s.seen = now
end
if s.legacy then s.lg = now_ms() + window end
local ttl = tonumber(ARGV[8])
s.dl = nil
if ttl < window and s.fps ~= '' then
  s.dl = now_ms() + ttl
  ttl = window
end
redis.call('SET', KEYS[1], pack(s, rev, ARGV[2]), 'PX', ttl)
-- The response: meta fields, then answers, their times in ms since the hash's base ``b``
-- (set once, when the hash is made), so a time takes a few digits, not thirteen.
local base = tonumber(redis.call('HGET', KEYS[3], 'b') or '')
local fresh = false
local fields = {}
if not base then  -- a new hash, or one the old layout wrote
  fresh = redis.call('EXISTS', KEYS[3]) == 0
  base = now
  fields = {'b', ARGV[5]}
end
local m, n = tonumber(ARGV[14]), tonumber(ARGV[15])
local gone = {}
for i = 16, 15 + 2 * m, 2 do
  if ARGV[i] == 't0' and tonumber(ARGV[i + 1]) == base then
    gone[1] = 't0'  -- started when the hash was made: t0 is b
  else
    fields[#fields + 1] = ARGV[i]
    fields[#fields + 1] = ARGV[i + 1]
  end
end
local at = 16 + 2 * m
for _ = 1, n do
  local other = ARGV[at + 3]  -- other, or other/null ',' confidence
  local dt = string.format('%d', tonumber(ARGV[at + 2]) - base)
  fields[#fields + 1] = ARGV[at]
  if other == '' then
    fields[#fields + 1] = '[' .. ARGV[at + 1] .. ',' .. dt .. ']'
  else
    fields[#fields + 1] = '[' .. ARGV[at + 1] .. ',' .. dt .. ',' .. other .. ']'
  end
  at = at + 4
end
for i = at, #ARGV do gone[#gone + 1] = ARGV[i] end
if #gone > 0 then redis.call('HDEL', KEYS[3], unpack(gone)) end
redis.call('HSET', KEYS[3], unpack(fields))
redis.call('PEXPIRE', KEYS[3], ARGV[9])
if ARGV[10] == 'set' then
  redis.call('SET', KEYS[4], ARGV[5], 'PX', ARGV[9])
elseif ARGV[10] == 'del' then
  redis.call('DEL', KEYS[4])
end
if fresh then return {rev, 1} end
return {rev, 0}
"""
)

RATE = (
    _LATEST
    + _SESSION
    + """
-- KEYS: 1 session, 2 rate.  ARGV: 1 now ms, 2 window ms.
-- Reply: inbound messages counted against the sender in the current window (the session's
-- counter, or without a session the rate key's, as COMMIT counts them).
local s = session(KEYS[1])
if not s.stored then return tonumber(redis.call('GET', KEYS[2]) or '0') end
local now = tonumber(ARGV[1])
if s.rs and now >= s.rs and now - s.rs < tonumber(ARGV[2]) then return s.rn or 0 end
return 0
"""
)

THROTTLE = (
    _COUNT
    + """
-- KEYS: 1 rate.  ARGV: 1 window ms.  Reply: messages counted in the window, this one included.
-- For messages that commit nothing (the menu a stranger gets); COMMIT counts the others.
return count(KEYS[1], ARGV[1])
"""
)


class Commands(Protocol):
    """What runs a raw command: a redis-py client or a :class:`store.multiplex.Multiplexed`."""

    async def execute_command(self, *args: Any) -> Any: ...


async def command(client: AnyRedis | Commands, *args: Any) -> Any:
    """One raw command, routed by its keys on a cluster client."""
    return await client.execute_command(*args)


class Script:
    """EVALSHA, falling back to EVAL on NOSCRIPT (which also caches the script server-side).

    Unlike redis-py's ``register_script`` (SCRIPT LOAD then EVALSHA again), a cold cache costs
    one extra round trip, not two; and EVAL is routed by key, so it works in Redis Cluster too.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(
        self,
        client: AnyRedis | Commands,
        keys: Sequence[str],
        args: Sequence[Any],
        *,
        source: bool = False,
    ) -> Any:
        """``source``: send the script itself (EVAL, which caches it) without trying EVALSHA
        first, for a first call where the server may not have it: no extra round trip."""
        if not source:
            try:
                return await command(client, "EVALSHA", self.sha, len(keys), *keys, *args)
            except NoScriptError:
                pass  # Redis restarted, or its script cache was flushed
        return await command(client, "EVAL", self.source, len(keys), *keys, *args)

    async def load(self, client: AnyRedis) -> None:
        # script_load, not a raw SCRIPT LOAD: a cluster client sends it to every master.
        await client.script_load(self.source)
