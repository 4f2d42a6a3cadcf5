"""A budget shared by every process: at most ``limit`` uses a minute of one named thing (new web
chat sessions), counted in Redis in one key per minute.

One ``EVAL`` per use (INCR, and PEXPIRE on the first), so it is spent only where it is checked:
when a web visitor's first answer would begin a stored session, not per message. The key names
no one: ``sb:budget:<name>:<minute>``, gone two minutes later.
"""

from __future__ import annotations

from datetime import datetime

from store.client import AnyRedis, redis_errors
from store.keys import KeyBuilder
from store.scripts import Script

_SPEND = Script(
    """
-- KEYS: 1 counter.  ARGV: 1 ttl ms.  Reply: uses counted in this minute, this one included.
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""
)


class Budget:
    def __init__(self, redis: AnyRedis, keys: KeyBuilder, name: str, limit: int) -> None:
        self.redis = redis
        self.keys = keys
        self.name = name
        self.limit = limit

    def key(self, now: datetime) -> str:
        return f"{self.keys.prefix}:budget:{self.name}:{int(now.timestamp()) // 60}"

    async def spend(self, now: datetime) -> bool:
        """Count one use; whether it is within this minute's budget (always, with no limit).
        Raises :class:`bot.errors.StoreError` when Redis is unreachable."""
        if self.limit <= 0:
            return True
        with redis_errors("budget"):
            used = int(await _SPEND(self.redis, [self.key(now)], [120_000]))
        return used <= self.limit
