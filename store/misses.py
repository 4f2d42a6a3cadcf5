"""The misses log: replies the bot did not understand or had to check, for ``surveybot misses``.

Written beside the commit, never in it: the dispatcher hands a committed step's misses
(:func:`bot.misses.misses_of`, already masked) to :meth:`MissLog.record`, one pipelined round
trip, and only for a message that had a miss; an ordinary answer costs nothing. A failed write
is logged and dropped: a miss is a hint for the officer, never a reason to fail a respondent.

=================================  ======  =========================================================
key                                type    what
=================================  ======  =========================================================
``sb:{rid}:m:<flow>``              LIST    one respondent's misses in one flow, oldest first, the
                                           latest :data:`PER_PERSON` kept; each compact JSON
                                           ``{"q": qid, "t": ms, "x": masked reply, "k": "n"|"c",
                                           "r": reason?, "o": value offered?}``. TTL = the store's
                                           retention less a minute, set at each write (just
                                           after a commit), so never longer than the response
                                           it sits beside (whose TTL every commit refreshes).
``sb:mi:<flow>:<n>``               ZSET    per-flow index of respondents with misses, ``n`` in
                                           0..shards-1 (crc32 of rid, as the response index):
                                           member rid, score = ms of their latest miss. Capped at
                                           :data:`PER_FLOW` respondents over all shards: past it
                                           the longest-quiet are dropped with their lists.
                                           Entries older than the retention are trimmed by each
                                           write; TTL = retention.
=================================  ======  =========================================================

The respondent's list carries their hash tag, so it lives in their slot on Redis Cluster and
erasure deletes it with their other keys (:meth:`erase_respondent`, called by
``RedisStore.erase_respondent``). What a respondent finally answered is not copied here: the
summary reads it from their response when it is asked for, so it is never kept longer or
anywhere else than the response itself.

Bounded under a flood of junk: at most :data:`PER_PERSON` entries of at most
:data:`bot.misses.MAX_TEXT` characters per respondent and flow, and :data:`PER_FLOW`
respondents per flow.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.misses import Miss
from bot.models import AnswerValue, Step
from bot.schema import Flow
from store.client import AnyRedis, redis_errors
from store.encode import ms, ttl_ms
from store.keys import KeyBuilder, answer_field
from store.multiplex import ClusterMultiplexed, Multiplexed
from store.redis_store import RedisStore
from store.stored import answer_value

log = logging.getLogger(__name__)

PER_PERSON = 20
"""Misses kept per respondent and flow (the latest)."""
PER_FLOW = 20_000
"""Respondents with misses kept per flow (the most recently missed)."""

_MARGIN_MS = 60_000

__all__ = ["PER_FLOW", "PER_PERSON", "MissLog"]


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
        per_flow: int = PER_FLOW,
        hot: Multiplexed | ClusterMultiplexed | None = None,
    ) -> None:
        if per_person < 1 or per_flow < 1:
            raise ValueError("the misses caps must be at least 1")
        self.redis = redis
        self.hot = hot
        self.keys = keys or KeyBuilder()
        self.retention = retention
        self.per_person = per_person
        self.per_flow = per_flow
        # The cap per index shard: rids spread evenly over the shards (crc32).
        self.per_shard = max(1, math.ceil(per_flow / self.keys.shards))

    @classmethod
    def for_store(cls, store: RedisStore, **kwargs: Any) -> MissLog:
        """A log on the store's client, connection, key prefix and retention."""
        return cls(store.redis, keys=store.keys, retention=store.retention, hot=store.hot, **kwargs)

    # -- keys (the rules of store.keys: a respondent's key carries their hash tag) ---------------

    def key(self, rid: str, flow: str) -> str:
        if "{" in rid or "}" in rid:
            raise ValueError(f"respondent id {rid!r} must not contain braces")
        return f"{self.keys.prefix}:{{{rid}}}:m:{flow}"

    def index(self, flow: str, shard: int) -> str:
        return f"{self.keys.prefix}:mi:{flow}:{shard}"

    def index_for(self, flow: str, rid: str) -> str:
        return self.index(flow, self.keys.shard(rid))

    # -- writes ------------------------------------------------------------------------------------

    async def record(self, step: Step, misses: Sequence[Miss], now: datetime) -> None:
        """Append ``misses`` (masked already) to the respondent's list and index them: one
        pipelined round trip (two more only when the flow's cap is reached)."""
        if not misses:
            return
        rid, flow = step.session.respondent, step.session.flow
        now_ms = ms(now)
        # A minute short of the retention: written just after the commit that (re)set the
        # response's TTL, the log then never outlives the response.
        keep = max(1, ttl_ms(self.retention) - _MARGIN_MS)
        key, index = self.key(rid, flow), self.index_for(flow, rid)
        commands: list[tuple[str | int, ...]] = [
            ("RPUSH", key, *(_entry(m) for m in misses)),
            ("LTRIM", key, -self.per_person, -1),
            ("PEXPIRE", key, keep),
            ("ZADD", index, now_ms, rid),
            ("ZREMRANGEBYSCORE", index, "-inf", f"({now_ms - keep}"),
            ("PEXPIRE", index, keep),
            ("ZCARD", index),
        ]
        with redis_errors("misses"):
            replies = await self._many(commands)
            over = int(replies[-1]) - self.per_shard
            if over > 0:
                await self._evict(flow, index, over, rid)

    async def _evict(self, flow: str, index: str, over: int, keep: str) -> None:
        popped: list[Any] = await self.redis.zpopmin(index, over)
        members = [p[0] if isinstance(p, list | tuple) else p for p in popped]
        gone = [r for r in map(_text, members) if r != keep]
        if gone:
            await self._many([("DEL", self.key(r, flow)) for r in gone])

    async def _many(self, commands: Sequence[tuple[str | int, ...]]) -> list[Any]:
        if self.hot is not None:
            return await self.hot.execute_many(commands)
        pipe = self.redis.pipeline(transaction=False)
        for c in commands:
            pipe.execute_command(*c)
        return list(await pipe.execute())

    async def erase_respondent(self, rid: str, flows: Sequence[str]) -> int:
        """Remove a respondent's misses in ``flows`` and their index entries."""
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

    async def records(
        self, flow: Flow, since: datetime | None = None, batch: int = 200
    ) -> AsyncIterator[tuple[str, list[Miss], dict[str, AnswerValue | None]]]:
        """Every respondent with misses in ``flow`` (latest miss at or after ``since``): their
        misses since then, and what they finally answered at those questions (from their
        response; None where they gave no answer)."""
        low: float | str = ms(since) if since is not None else "-inf"
        pipe = self.redis.pipeline(transaction=False)
        for n in range(self.keys.shards):
            pipe.zrangebyscore(self.index(flow.id, n), low, "+inf")
        with redis_errors("misses read"):
            shards = await pipe.execute()
        rids = sorted({_text(r) for members in shards for r in members})
        since_ms = ms(since) if since is not None else None
        for start in range(0, len(rids), max(1, batch)):
            chunk = rids[start : start + max(1, batch)]
            pipe = self.redis.pipeline(transaction=False)
            for rid in chunk:
                pipe.lrange(self.key(rid, flow.id), 0, -1)
            with redis_errors("misses read"):
                lists = await pipe.execute()
            found: list[tuple[str, list[Miss]]] = []
            for rid, raw in zip(chunk, lists, strict=True):
                misses = [m for m in (_decode(x) for x in raw) if m is not None]
                if since_ms is not None:
                    misses = [m for m in misses if ms(m.at) >= since_ms]
                if misses:
                    found.append((rid, misses))
            if not found:
                continue
            pipe = self.redis.pipeline(transaction=False)
            for rid, misses in found:
                qids = list(dict.fromkeys(m.question for m in misses))
                pipe.hmget(self.keys.response(rid, flow.id), [answer_field(q) for q in qids])
            with redis_errors("misses read"):
                answers = await pipe.execute()
            for (rid, misses), values in zip(found, answers, strict=True):
                qids = list(dict.fromkeys(m.question for m in misses))
                yield rid, misses, {q: answer_value(v) for q, v in zip(qids, values, strict=True)}


def _entry(m: Miss) -> str:
    e: dict[str, Any] = {"q": m.question, "t": ms(m.at), "x": m.text, "k": m.kind}
    if m.reason:
        e["r"] = m.reason
    if m.offered is not None:
        e["o"] = m.offered
    return json.dumps(e, separators=(",", ":"), ensure_ascii=False)


def _decode(raw: bytes | str) -> Miss | None:
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
