"""Delivery failures reported by a channel (Twilio status callbacks), for later reporting.

Only failures are kept (a message ``failed`` or ``undelivered``, with the provider's error code),
never the raw phone number: each entry names the pseudonymous respondent id.

=====================================  ======  ====================================================
key                                    type    what
=====================================  ======  ====================================================
``sb:{dlv}:recent``                    LIST    the latest failures, newest first, capped (1,000),
                                               each compact JSON ``{"t": ms, "r": rid, "m":
                                               message sid, "s": status, "c": code, "ch":
                                               channel}``. TTL = retention, refreshed per write.
``sb:{dlv}:n:<YYYY-MM-DD>``            HASH    failures that UTC day by error code (``none`` when
                                               the provider gave none). TTL = retention.
``sb:{dlv}:seen``                      ZSET    ``<message sid>:<status>`` already counted, scored by
                                               ms; trimmed to the dedupe window, so a re-delivered
                                               callback is not counted twice.
=====================================  ======  ====================================================

Every key carries the hash tag ``{dlv}``, so in Redis Cluster they share one slot and the
recording script (dedupe + list + counter, all or nothing) is legal there. Failures are rare
(a few per thousand messages), so one slot is no hot spot.

:meth:`DeliveryLog.mark_opted_out` also sets the store's own opt-out marker
(``sb:{rid}:optout``, see :mod:`store.keys`) for a respondent who has no live session to record a
STOP in (the channel refused a message because they opted out with the provider): the dispatcher
then stays silent to them until they start a survey again, which deletes the marker.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from store.client import AnyRedis, redis_errors
from store.encode import ms, ttl_ms
from store.handle import StoreHandle
from store.keys import KeyBuilder
from store.scripts import Script, command

DEFAULT_RETENTION = timedelta(days=90)
"""How long failure records live (they name a pseudonymous respondent: personal data)."""
DEFAULT_OPTOUT_TTL = timedelta(days=400)
DEFAULT_DEDUPE_WINDOW = timedelta(days=2)
RECENT_CAP = 1000
NO_CODE = "none"

_RECORD = Script(
    """
-- KEYS: 1 seen, 2 recent, 3 day counters
-- ARGV: 1 seen member, 2 now ms, 3 seen cutoff ms, 4 seen ttl ms, 5 entry JSON, 6 cap,
--       7 code field, 8 retention ms
-- Reply: 1 recorded, 0 already recorded
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('LPUSH', KEYS[2], ARGV[5])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[6]) - 1)
redis.call('PEXPIRE', KEYS[2], ARGV[8])
redis.call('HINCRBY', KEYS[3], ARGV[7], 1)
redis.call('PEXPIRE', KEYS[3], ARGV[8])
return 1
"""
)

_ERASE = Script(
    """
-- KEYS: 1 recent; ARGV: 1 the respondent's JSON field, e.g. "r":"abc"
local n = 0
for _, item in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if string.find(item, ARGV[1], 1, true) then
    n = n + redis.call('LREM', KEYS[1], 0, item)
  end
end
return n
"""
)


def _day(t: datetime) -> date:
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).date()


def _text(v: bytes | str) -> str:
    return v.decode() if isinstance(v, bytes) else v


class DeliveryFailure(BaseModel):
    """One message the provider could not deliver."""

    at: datetime
    respondent: str
    message: str
    status: str
    code: str | None = None
    channel: str = "sms"


class DeliveryReport(BaseModel):
    """Recent failures (newest first) and failures per UTC day (``YYYY-MM-DD``) and code."""

    recent: list[DeliveryFailure]
    counts: dict[str, dict[str, int]]

    @property
    def total(self) -> int:
        return sum(sum(by_code.values()) for by_code in self.counts.values())


class DeliveryLog:
    """Records delivery failures and answers reports about them."""

    def __init__(
        self,
        redis: AnyRedis,
        *,
        keys: KeyBuilder | None = None,
        retention: timedelta = DEFAULT_RETENTION,
        optout_ttl: timedelta = DEFAULT_OPTOUT_TTL,
        dedupe_window: timedelta = DEFAULT_DEDUPE_WINDOW,
        cap: int = RECENT_CAP,
    ) -> None:
        if cap < 1:
            raise ValueError("the recent-failures cap must be at least 1")
        self.redis = redis
        self.keys = keys or KeyBuilder()
        self.retention = retention
        self.optout_ttl = optout_ttl
        self.dedupe_window = dedupe_window
        self.cap = cap

    @classmethod
    def for_store(
        cls, store: StoreHandle, *, retention: timedelta = DEFAULT_RETENTION
    ) -> DeliveryLog:
        """A log on the same client and key prefix as ``store`` (opt-out markers live as long
        as the store's own)."""
        return cls(store.redis, keys=store.keys, retention=retention, optout_ttl=store.retention)

    # -- keys --------------------------------------------------------------------------------------

    def _key(self, suffix: str) -> str:
        return f"{self.keys.prefix}:{{dlv}}:{suffix}"

    @property
    def recent_key(self) -> str:
        return self._key("recent")

    @property
    def seen_key(self) -> str:
        return self._key("seen")

    def day_key(self, day: date) -> str:
        return self._key(f"n:{day.isoformat()}")

    # -- writes ------------------------------------------------------------------------------------

    async def record(
        self,
        *,
        respondent: str,
        message: str,
        status: str,
        code: str | None,
        now: datetime,
        channel: str = "sms",
    ) -> bool:
        """Record one failure; False if this message's ``status`` was already recorded."""
        now_ms = ms(now)
        entry: dict[str, Any] = {"t": now_ms, "r": respondent, "m": message, "s": status}
        if code:
            entry["c"] = code
        if channel != "sms":
            entry["ch"] = channel
        args: list[str | int] = [
            f"{message}:{status}",
            now_ms,
            now_ms - ttl_ms(self.dedupe_window),
            ttl_ms(self.dedupe_window),
            json.dumps(entry, separators=(",", ":")),
            self.cap,
            code or NO_CODE,
            ttl_ms(self.retention),
        ]
        keys = [self.seen_key, self.recent_key, self.day_key(_day(now))]
        with redis_errors("delivery record"):
            return bool(await _RECORD(self.redis, keys, args))

    async def mark_opted_out(self, respondent: str, now: datetime) -> bool:
        """Set the store's opt-out marker unless it is set; True if this call set it."""
        key = self.keys.optout(respondent)
        with redis_errors("opt-out"):
            done = await command(
                self.redis, "SET", key, ms(now), "PX", ttl_ms(self.optout_ttl), "NX"
            )
        return bool(done)

    async def erase_respondent(self, respondent: str) -> int:
        """Remove a respondent's entries from the recent list (counters hold no ids)."""
        needle = json.dumps({"r": respondent}, separators=(",", ":"))[1:-1]
        with redis_errors("delivery erase"):
            return int(await _ERASE(self.redis, [self.recent_key], [needle]))

    # -- reads -------------------------------------------------------------------------------------

    async def recent(self, limit: int = 100) -> list[DeliveryFailure]:
        """The latest failures, newest first."""
        if limit < 1:
            return []
        with redis_errors("delivery read"):
            raw = await command(self.redis, "LRANGE", self.recent_key, 0, limit - 1)
        out = []
        for item in raw or []:
            try:
                e = json.loads(_text(item))
                out.append(
                    DeliveryFailure(
                        at=datetime.fromtimestamp(e["t"] / 1000, UTC),
                        respondent=e["r"],
                        message=e["m"],
                        status=e["s"],
                        code=e.get("c"),
                        channel=e.get("ch", "sms"),
                    )
                )
            except (ValueError, KeyError, TypeError):
                continue  # an unreadable entry never hides the others
        return out

    async def counts(self, *, now: datetime, days: int = 7) -> dict[str, dict[str, int]]:
        """Failures by UTC day and error code for the ``days`` days up to ``now`` (empty days
        left out), oldest first. One round trip."""
        today = _day(now)
        wanted = [today - timedelta(days=n) for n in range(max(1, days) - 1, -1, -1)]
        pipe = self.redis.pipeline(transaction=False)
        for d in wanted:
            pipe.hgetall(self.day_key(d))
        with redis_errors("delivery counts"):
            rows = await pipe.execute()
        out: dict[str, dict[str, int]] = {}
        for d, row in zip(wanted, rows, strict=True):
            if row:
                out[d.isoformat()] = {_text(k): int(v) for k, v in sorted(row.items())}
        return out

    async def report(self, *, now: datetime, days: int = 7, limit: int = 100) -> DeliveryReport:
        return DeliveryReport(
            recent=await self.recent(limit), counts=await self.counts(now=now, days=days)
        )
