"""The audit trail in Redis: bounded, pseudonymous, kept as long as the responses.

Two kinds of Redis streams (entries are ``XADD`` fields; the stream id is the time):

====================================  =========================================================
``sb:{rid}:audit``                    one respondent's entries (every flow), in their own slot:
                                      erasure deletes it with their other keys. At most
                                      ``per_respondent`` entries (oldest dropped); TTL =
                                      retention, refreshed by each entry.
``sb:{audit:<flow>}:log``             a flow's officer entries (published, exported, report,
                                      erased, downloaded) with who did it. Entries older than
                                      the retention are trimmed at each write, at most
                                      ``per_flow`` kept; TTL = retention.
``sb:{audit:<flow>}:versions``        SET of the versions already recorded as published (so
                                      every process may report a version; it is recorded once).
====================================  =========================================================

Fields: ``k`` kind, ``f`` flow, ``q`` question, ``by`` actor, ``d`` details (JSON). No address,
no answer value, no name of a respondent is ever written; a respondent is their
pseudonymous id (the key). :meth:`AuditLog.entries` merges a flow's log with the entries of
every respondent in the flow's index, by time: what ``surveybot audit FLOW`` writes.

The API for officers' tools (the CLI today, a web console later): :meth:`AuditLog.record`.
"""

from __future__ import annotations

import heapq
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from bot.audit import FLOW_KINDS, RESPONDENT_KINDS, AuditEntry
from store.client import AnyRedis, redis_errors
from store.encode import ms, ttl_ms
from store.keys import KeyBuilder
from store.scripts import Script

PER_RESPONDENT = 200
PER_FLOW = 100_000
MAX_FIELD = 200
"""Longest actor name or detail value kept (characters)."""

_PUBLISH = Script(
    """
-- KEYS: 1 versions set, 2 flow log.  ARGV: 1 version, 2 ttl ms, 3 max entries, 4 min id,
-- then the entry's field/value pairs.  Reply: 1 if recorded now, 0 if it already was.
local unpack = unpack or table.unpack
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(ARGV, 5))
redis.call('XTRIM', KEYS[2], 'MINID', ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
"""
)


def _clip(value: str | None) -> str | None:
    return value[:MAX_FIELD] if value is not None else None


def _fields(e: AuditEntry) -> list[str]:
    out = ["k", e.kind, "f", e.flow]
    if e.question:
        out += ["q", e.question]
    if e.actor:
        out += ["by", _clip(e.actor) or ""]
    if e.detail:
        detail = {k[:40]: (_clip(str(v)) or "") for k, v in sorted(e.detail.items())}
        out += ["d", orjson.dumps(detail).decode()]
    out += ["t", str(ms(e.at))]
    return out


def _text(v: bytes | str) -> str:
    return v.decode() if isinstance(v, bytes) else v


def _entry(rid: str | None, raw: Sequence[Any]) -> AuditEntry | None:
    """An entry from an XRANGE row ``(id, {field: value})``."""
    stream_id, values = raw
    f = {_text(k): _text(v) for k, v in (values.items() if isinstance(values, dict) else [])}
    kind, flow = f.get("k"), f.get("f")
    if not kind or not flow:
        return None
    t = int(f["t"]) if f.get("t", "").isdigit() else int(_text(stream_id).split("-")[0])
    try:
        detail = {str(k): str(v) for k, v in orjson.loads(f["d"]).items()} if "d" in f else {}
    except (orjson.JSONDecodeError, AttributeError):
        detail = {}
    return AuditEntry(
        at=datetime.fromtimestamp(t / 1000, UTC),
        kind=kind,
        flow=flow,
        respondent=rid,
        question=f.get("q"),
        actor=f.get("by"),
        detail=detail,
    )


class AuditLog:
    def __init__(
        self,
        redis: AnyRedis,
        keys: KeyBuilder,
        *,
        retention: timedelta,
        per_respondent: int = PER_RESPONDENT,
        per_flow: int = PER_FLOW,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.retention = retention
        self.per_respondent = per_respondent
        self.per_flow = per_flow

    # -- writing -------------------------------------------------------------------------------

    async def record_respondent(self, rid: str, entries: Iterable[AuditEntry]) -> None:
        """Append a respondent's entries (from :func:`bot.audit.step_entries`): one pipeline
        on their own slot."""
        todo = [e for e in entries if e.kind in RESPONDENT_KINDS]
        if not todo:
            return
        key = self.keys.audit(rid)
        pipe = self.redis.pipeline(transaction=False)
        for e in todo:
            pipe.execute_command("XADD", key, "MAXLEN", "~", self.per_respondent, "*", *_fields(e))
        pipe.execute_command("PEXPIRE", key, ttl_ms(self.retention))
        with redis_errors("audit"):
            await pipe.execute()

    async def record(
        self,
        flow: str,
        kind: str,
        *,
        actor: str,
        at: datetime,
        **detail: str | int,
    ) -> None:
        """An officer's (or a process's) action on a flow: ``published``, ``exported``,
        ``report``, ``erased``, ``downloaded``. ``actor`` names who (an officer's name or login;
        never a respondent)."""
        if kind not in FLOW_KINDS:
            raise ValueError(f"not an audited action: {kind!r} (one of {', '.join(FLOW_KINDS)})")
        entry = AuditEntry(
            at, kind, flow, actor=actor, detail={k: str(v) for k, v in detail.items()}
        )
        key = self.keys.audit_flow(flow)
        pipe = self.redis.pipeline(transaction=False)
        pipe.execute_command("XADD", key, "MAXLEN", "~", self.per_flow, "*", *_fields(entry))
        pipe.execute_command("XTRIM", key, "MINID", self._min_id(at))
        pipe.execute_command("PEXPIRE", key, ttl_ms(self.retention))
        with redis_errors("audit"):
            await pipe.execute()

    async def published(
        self, flow: str, version: str, *, actor: str, at: datetime, file: str = "", **detail: str
    ) -> bool:
        """Record that ``version`` of ``flow`` began serving, once whoever reports it (each
        process does at start and on every reload). True if this call recorded it. ``detail``:
        more to keep (the console: the previous version, a note)."""
        entry = AuditEntry(
            at, "published", flow, actor=actor, detail={"version": version, "file": file, **detail}
        )
        keys = [self.keys.audit_versions(flow), self.keys.audit_flow(flow)]
        args = [version, ttl_ms(self.retention), self.per_flow, self._min_id(at), *_fields(entry)]
        with redis_errors("audit"):
            return bool(await _PUBLISH(self.redis, keys, args))

    def _min_id(self, at: datetime) -> int:
        """Entries older than the retention go (stream ids are the server's time of writing;
        ``at`` is the time the entry is about, which a test clock may move)."""
        del at
        return max(0, ms(datetime.now(UTC)) - ttl_ms(self.retention))

    # -- reading -------------------------------------------------------------------------------

    async def flow_log(self, flow: str) -> list[AuditEntry]:
        with redis_errors("audit read"):
            rows = await self.redis.xrange(self.keys.audit_flow(flow))
        return [e for e in (_entry(None, r) for r in rows or []) if e is not None]

    async def respondent_log(self, rid: str) -> list[AuditEntry]:
        with redis_errors("audit read"):
            rows = await self.redis.xrange(self.keys.audit(rid))
        return [e for e in (_entry(rid, r) for r in rows or []) if e is not None]

    async def indexed(self, flow: str, batch: int = 500) -> AsyncIterator[list[str]]:
        """The respondents in ``flow``'s index, ``batch`` at a time (any order)."""
        for key in self.keys.index_keys(flow):
            start = 0
            while True:
                with redis_errors("index read"):
                    page = await self.redis.zrange(key, start, start + batch - 1)
                if page:
                    yield [_text(r) if isinstance(r, bytes | str) else str(r) for r in page]
                if len(page) < batch:
                    break
                start += batch

    async def entries(
        self,
        flow: str,
        respondents: AsyncIterator[list[str]] | None = None,
        *,
        since: datetime | None = None,
    ) -> AsyncIterator[AuditEntry]:
        """Every entry about ``flow``, by time: its log and the entries of ``respondents``
        (batches of ids; by default everyone in the flow's index), ``since`` a time if given."""
        if respondents is None:
            respondents = self.indexed(flow)
        low = ms(since) if since is not None else 0
        found: list[tuple[int, int, AuditEntry]] = []
        n = 0
        for e in await self.flow_log(flow):
            found.append((ms(e.at), n, e))
            n += 1
        async for rids in respondents:
            pipe = self.redis.pipeline(transaction=False)
            for rid in rids:
                pipe.xrange(self.keys.audit(rid))
            with redis_errors("audit read"):
                pages = await pipe.execute()
            for rid, rows in zip(rids, pages, strict=True):
                for row in rows or []:
                    got = _entry(rid, row)
                    if got is not None and got.flow == flow:
                        found.append((ms(got.at), n, got))
                        n += 1
        heapq.heapify(found)
        while found:
            t, _, e = heapq.heappop(found)
            if t >= low:
                yield e
