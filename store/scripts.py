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

LOAD = (
    _LATEST
    + """
-- KEYS: 1 session, 2 optout, 3 seen.  ARGV: 1 message id ('' = none).
-- Reply: {rev or false, data or false, opted out 0/1, seen 0/1, latest}: latest = the ms the
-- seen message was committed if it is the respondent's last committed one (its reply may never
-- have arrived: a provider retrying), else 0. One command rather than a pipeline: the
-- client-side cost per message is what limits a web process.
local s = redis.call('HMGET', KEYS[1], 'rev', 'data')
local seen, last = 0, 0
if ARGV[1] ~= '' and redis.call('ZSCORE', KEYS[3], ARGV[1]) then
  seen, last = 1, latest(KEYS[3], ARGV[1])
end
return {s[1], s[2], redis.call('EXISTS', KEYS[2]), seen, last}
"""
)

COMMIT = (
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
