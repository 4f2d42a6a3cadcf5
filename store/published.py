"""Flow versions published from the officers' console, shared by every process through Redis.

Every key carries the hash tag ``{flows}`` (one cluster slot: publishing is rare), so a publish
is one atomic script:

==============================  ======  ==============================================================
key                             type    what
==============================  ======  ==============================================================
``sb:{flows}:live``             HASH    flow id -> the version (content hash) every process serves
``sb:{flows}:gen``              STRING  a counter raised by every publish: what each process polls
                                        (one GET a second) to know it must re-read ``live``
``sb:{flows}:text:<flow>``      HASH    version -> the flow file's text (YAML), every version kept
``sb:{flows}:hist:<flow>``      LIST    the flow's history, oldest first: JSON ``{seq, version, kind,
                                        by, at, note, previous}``; ``kind`` is ``file`` (the version
                                        served from ``flows/`` before the first publish), ``publish``
                                        or ``rollback``. At most ``MAX_HISTORY`` entries.
==============================  ======  ==============================================================

Nothing here expires: these are the consultation's settings, not anyone's data, and the audit
trail names versions that must stay readable. How they meet the files in ``flows/``: README,
"Publishing from the console".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from bot.errors import SurveybotError
from store.client import AnyRedis, redis_errors
from store.keys import KeyBuilder
from store.scripts import Script

MAX_HISTORY = 500
"""History entries kept per flow (the texts of versions no longer listed stay readable)."""

_PUBLISH = Script(
    """
-- KEYS: 1 live, 2 gen, 3 texts, 4 history.
-- ARGV: 1 flow, 2 expected live version ('' = none published yet), 3 version, 4 text,
--       5 entry JSON (with a '%d' where its sequence number goes), 6 max history,
--       7 base version ('' = none), 8 base text, 9 base entry JSON ('%d' likewise).
-- Reply: {1, seq} published; {0, current live version or ''} someone published first.
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if current ~= ARGV[2] then return {0, current} end
local n = redis.call('LLEN', KEYS[4])
if n == 0 and ARGV[7] ~= '' then
  redis.call('HSETNX', KEYS[3], ARGV[7], ARGV[8])
  redis.call('RPUSH', KEYS[4], string.format(ARGV[9], 1))
  n = 1
end
local seq = n + 1
local last = redis.call('LINDEX', KEYS[4], -1)
if last then
  local s = tonumber(string.match(last, '"seq":(%d+)'))
  if s and s >= seq then seq = s + 1 end
end
redis.call('HSETNX', KEYS[3], ARGV[3], ARGV[4])
redis.call('RPUSH', KEYS[4], string.format(ARGV[5], seq))
redis.call('LTRIM', KEYS[4], -tonumber(ARGV[6]), -1)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('INCR', KEYS[2])
return {1, seq}
"""
)


class PublishConflict(SurveybotError):
    """Someone published this flow after the officer opened it: nothing was changed."""

    def __init__(self, flow: str, current: str) -> None:
        super().__init__(
            f"{flow} was published by someone else (now version {current or 'from the file'}) "
            "since you opened it: look at the new version before publishing yours"
        )
        self.current = current


@dataclass(frozen=True)
class Version:
    """One entry of a flow's history."""

    seq: int
    version: str
    kind: str
    by: str
    at: datetime
    note: str
    previous: str


def _text(v: bytes | str) -> str:
    return v.decode() if isinstance(v, bytes) else v


def _entry_json(version: str, kind: str, by: str, at: datetime, note: str, previous: str) -> str:
    """An entry with ``%d`` where the script writes its sequence number (``%`` in the values
    doubled, since the script formats it)."""
    body = orjson.dumps(
        {
            "version": version,
            "kind": kind,
            "by": by[:200],
            "at": at.isoformat(),
            "note": note[:500],
            "previous": previous,
        }
    ).decode()
    return '{"seq":%d,' + body[1:].replace("%", "%%")


def _version(raw: bytes | str) -> Version | None:
    try:
        d: dict[str, Any] = orjson.loads(raw)
        return Version(
            seq=int(d["seq"]),
            version=str(d["version"]),
            kind=str(d.get("kind", "publish")),
            by=str(d.get("by", "")),
            at=datetime.fromisoformat(str(d["at"])),
            note=str(d.get("note", "")),
            previous=str(d.get("previous", "")),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


class PublishedFlows:
    def __init__(self, redis: AnyRedis, keys: KeyBuilder) -> None:
        self.redis = redis
        self.keys = keys

    def _k(self, suffix: str) -> str:
        return f"{self.keys.prefix}:{{flows}}:{suffix}"

    async def generation(self) -> int:
        """Raised by every publish: cheap to poll."""
        with redis_errors("published flows"):
            raw = await self.redis.get(self._k("gen"))
        return int(raw) if raw is not None else 0

    async def live(self) -> dict[str, str]:
        """Flow id -> the version published from the console (flows never published there are
        absent: their file in ``flows/`` serves)."""
        with redis_errors("published flows"):
            rows = await self.redis.hgetall(self._k("live"))
        return {_text(k): _text(v) for k, v in rows.items()}

    async def text(self, flow: str, version: str) -> str | None:
        with redis_errors("published flows"):
            raw = await self.redis.hget(self._k("text:" + flow), version)
        return _text(raw) if raw is not None else None

    async def history(self, flow: str) -> list[Version]:
        """Oldest first."""
        with redis_errors("published flows"):
            rows = await self.redis.lrange(self._k("hist:" + flow), 0, -1)
        return [v for v in (_version(r) for r in rows) if v is not None]

    async def publish(
        self,
        flow: str,
        text: str,
        version: str,
        *,
        by: str,
        at: datetime,
        note: str = "",
        kind: str = "publish",
        expected: str,
        base: tuple[str, str] | None = None,
        base_at: datetime | None = None,
    ) -> int:
        """Make ``version`` (whose file text is ``text``) the live version of ``flow``, if the live
        version is still ``expected`` ('' = never published from the console); raises
        :class:`PublishConflict` otherwise. ``base`` (version, text): what served before the first
        publish (the file), kept as the history's first entry so it can be rolled back to.
        Returns the entry's sequence number."""
        entry = _entry_json(version, kind, by, at, note, expected or (base[0] if base else ""))
        base_entry = ""
        if base is not None:
            base_entry = _entry_json(base[0], "file", "flows folder", base_at or at, "", "")
        keys = [self._k("live"), self._k("gen"), self._k("text:" + flow), self._k("hist:" + flow)]
        args = [
            flow,
            expected,
            version,
            text,
            entry,
            MAX_HISTORY,
            base[0] if base else "",
            base[1] if base else "",
            base_entry,
        ]
        with redis_errors("publish"):
            ok, value = await _PUBLISH(self.redis, keys, args)
        if not int(ok):
            raise PublishConflict(flow, _text(value) if value else "")
        return int(value)
