"""The reminder queue: due times in sharded sorted sets, claimed with a lease.

Why not arq/rq/taskiq: arq is maintenance-only, pins ``redis<6`` and its worker calls ``INFO``
(absent from fakeredis); rq needs a process per queue and has no lease; a job library would also
hold one job per reminder, re-enqueued on every answer. The need is small: one entry per live
session, "what is due now?", and "claim it so no other worker sends it". A sorted set does that.

Layout: ``sb:due:<flow>:<n>`` ZSET, ``n`` in 0..shards-1 (crc32 of rid, as the index), member
rid, score = epoch ms when the worker should next look at that session. Sharding spreads one
big consultation over Redis Cluster nodes; each script touches one key, so it is cluster-legal.

Scores are a *lower bound*: steps do not touch this queue (that would be a third round trip on
every answer). The entry is added with the respondent's first commit in a flow; when it comes
due the worker re-reads the session and re-plans, so an answer since then simply moves the next
check later: an answer cancels the pending nudge without any write on the hot path.

Claiming moves the entry's score to ``now + lease`` in the same script that reads it, so two or
ten workers never get the same entry. ``finish`` re-schedules or removes it only if the score is
still that lease: a worker that was too slow (lease expired, someone else re-claimed) cannot undo
the newer claim. A worker killed mid-batch leaves its entries to reappear when the lease ends.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from store.client import AnyRedis, redis_errors
from store.encode import ms
from store.keys import KeyBuilder
from store.scripts import Script

_CLAIM = Script(
    """
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, rid in ipairs(items) do
  redis.call('ZADD', KEYS[1], ARGV[3], rid)
end
return items
"""
)

# ARGV: rid, lease score, next score ('' = remove)
_FINISH = Script(
    """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[2]) then
  return 0
end
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
end
return 1
"""
)


@dataclass(frozen=True)
class Claim:
    flow: str
    rid: str
    lease: int  # the score the entry holds while claimed (epoch ms)


class ReminderQueue:
    def __init__(self, redis: AnyRedis, keys: KeyBuilder | None = None) -> None:
        self.redis = redis
        self.keys = keys or KeyBuilder()

    def key(self, flow: str, shard: int) -> str:
        return self.keys.due(flow, shard)

    def key_for(self, flow: str, rid: str) -> str:
        return self.keys.due_for(flow, rid)

    async def cancel(self, flow: str, rid: str) -> None:
        with redis_errors("schedule"):
            await self.redis.zrem(self.key_for(flow, rid), rid)

    async def claim(
        self, flow: str, shard: int, now: datetime, lease: timedelta, limit: int
    ) -> list[Claim]:
        lease_ms = ms(now + lease)
        with redis_errors("claim"):
            rids = await _CLAIM(self.redis, [self.key(flow, shard)], [ms(now), limit, lease_ms])
        return [Claim(flow, r.decode() if isinstance(r, bytes) else str(r), lease_ms) for r in rids]

    async def finish(self, claim: Claim, next_at: datetime | None) -> bool:
        """Re-schedule (or remove, if ``next_at`` is None) a claimed entry; False if we lost it."""
        args = [claim.rid, claim.lease, "" if next_at is None else ms(next_at)]
        with redis_errors("finish"):
            done = await _FINISH(self.redis, [self.key_for(claim.flow, claim.rid)], args)
        return bool(done)

    async def entries(self, flow: str) -> list[tuple[str, datetime]]:
        """Every queued (rid, next check time) of a flow, soonest first (officers' listing)."""
        pipe = self.redis.pipeline(transaction=False)
        for n in range(self.keys.shards):
            pipe.zrange(self.key(flow, n), 0, -1, withscores=True)
        with redis_errors("read"):
            shards = await pipe.execute()
        out = [
            (
                r.decode() if isinstance(r, bytes) else str(r),
                datetime.fromtimestamp(score / 1000, UTC),
            )
            for rows in shards
            for r, score in rows
        ]
        return sorted(out, key=lambda x: (x[1], x[0]))

    async def spread(self, flow: str) -> Counter[int]:
        """Entries per shard (to show the load is spread)."""
        pipe = self.redis.pipeline(transaction=False)
        for n in range(self.keys.shards):
            pipe.zcard(self.key(flow, n))
        with redis_errors("read"):
            counts = await pipe.execute()
        return Counter({n: int(c) for n, c in enumerate(counts)})

    async def size(self, flow: str) -> int:
        return sum((await self.spread(flow)).values())

    async def prepare(self) -> None:
        for s in (_CLAIM, _FINISH):
            await s.load(self.redis)
