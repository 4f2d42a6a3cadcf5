"""The Redis session store: one version-checked, atomic commit per inbound message.

Hot path of an ordinary answer, two round trips:

* :meth:`RedisStore.load` - one pipeline: the session, whether the message id was seen, and the
  opt-out marker.
* :meth:`RedisStore.commit` - one EVALSHA: checks the message id is new and the stored ``rev``
  is the one the step was computed from, then writes the session, the answers, the "seen" marker
  and the opt-out marker together, or nothing.

A respondent's first commit in a flow costs one more round trip before it: the ZADD NX into the
flow's index (index first, so a crash leaves at worst an index entry without a response, which
readers skip).

Every operation is safe to retry after a timeout (redis-py retries connection errors): a repeated
commit fails the version or the message-id check, ZADD NX and DEL are idempotent.

A duplicate message id is *refused*: :meth:`commit` raises :class:`DuplicateMessage` (a
:class:`ConflictError`, saying when the message was committed if it was the respondent's last)
and the caller answers with 200 and no second step. A no-op commit would instead make the
caller send the replies of a step that was never stored.

**The session cache.** A respondent answering a survey sends message after message, each loaded
and then committed. The store keeps the sessions it committed last (an LRU, a few minutes at
most), and ``load(..., cached=True)`` (the dispatcher's call) returns one without asking Redis:
one round trip per answer instead of two. This is safe with any number of processes because the
commit checks the stored ``rev`` and the message id anyway, and for a cached copy also that the
stored session is still byte for byte that copy (revs restart at 1 after an erasure, so a rev
alone could match a new session). A copy gone stale (the respondent's previous message went to
another process, the worker sent a reminder, an erasure) fails the check, is dropped, and the
caller reloads and steps again at once. Only the dispatcher asks for
it; everything else (the reminder worker above all) reads Redis.

**Per-sender rate limit.** Each inbound message that reaches a commit is counted in
``sb:{rid}:rate`` (a fixed window); over the limit the commit writes nothing and raises
:class:`RateLimited`. Messages that commit nothing (the menu a stranger gets) are counted by
:meth:`throttle`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from heapq import heappop, heappush
from typing import Any, NamedTuple

from pydantic import Field, ValidationError

from bot.errors import ConflictError, DuplicateMessage, RateLimited, StoreError
from bot.models import Answer, Session, Status, Step, StoredAnswer, trusted
from bot.schema import Flow
from store.audit import AuditLog
from store.client import AnyRedis, is_redis_failure, redis_errors
from store.encode import ResponseMeta, answer_json, meta_json, ms, session_json, ttl_ms
from store.identity import respondent_id
from store.keys import KeyBuilder, answer_field
from store.multiplex import ClusterMultiplexed, Multiplexed, multiplexed
from store.scripts import (
    COMMIT,
    CONFLICT,
    DUPLICATE,
    LOAD,
    RATE_LIMITED,
    THROTTLE,
    Script,
    command,
)
from store.stored import StoredResponse, decode_stored, read_hashes

log = logging.getLogger(__name__)

DEFAULT_RETENTION = timedelta(days=400)
DEFAULT_DEDUPE_WINDOW = timedelta(days=2)
DEFAULT_FINISHED_TTL = timedelta(days=30)

_COMMIT = Script(COMMIT)
_LOAD = Script(LOAD)
_THROTTLE = Script(THROTTLE)


FIRST_CHECK = timedelta(hours=1)
_ANSWER = answer_field("")
_ANSWER_AT = len(_ANSWER)
_OPTOUT_ACTION = {Status.OPTED_OUT: "set", Status.ACTIVE: "del"}
"""What a commit does to the opt-out marker: STOP sets it, a live session clears it."""


__all__ = ["DuplicateMessage", "Loaded", "RateLimit", "RedisStore", "Response", "ResponseMeta"]


@dataclass(frozen=True)
class RateLimit:
    """At most ``messages`` inbound messages per sender in each ``window``."""

    messages: int = 30
    window: timedelta = timedelta(minutes=1)


class Cached(NamedTuple):
    at: float  # time.monotonic() when stored
    session: Session
    data: str  # the session JSON as committed (the commit checks it is still what is stored)


class SessionCache:
    """The sessions this process committed last, by respondent: an LRU whose entries also
    expire, so a raw address is not kept in memory long after its last message."""

    def __init__(self, size: int = 10_000, max_age: float = 300.0) -> None:
        self.size = size
        self.max_age = max_age
        self._items: OrderedDict[str, Cached] = OrderedDict()

    def entry(self, rid: str) -> Cached | None:
        item = self._items.get(rid)
        if item is None:
            return None
        if time.monotonic() - item.at > self.max_age:
            del self._items[rid]
            return None
        return item

    def get(self, rid: str) -> Session | None:
        item = self.entry(rid)
        return item.session if item is not None else None

    def put(self, rid: str, session: Session, data: str) -> None:
        if self.size <= 0:
            return
        self._items[rid] = Cached(time.monotonic(), session, data)
        self._items.move_to_end(rid)
        if len(self._items) > self.size:
            self._items.popitem(last=False)

    def drop(self, rid: str) -> None:
        self._items.pop(rid, None)

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class Loaded:
    """What :meth:`RedisStore.load` found.

    ``rev`` is the stored version to pass back as ``expected_rev`` (0 when there is no session;
    also set when a stored session could not be decoded and ``session`` is None).
    """

    session: Session | None
    duplicate: bool = False
    opted_out: bool = False
    rev: int = 0
    cached: bool = False
    latest_at: int | None = None  # a duplicate of their last committed message: its ms (LOAD)


class Response(ResponseMeta):
    """One respondent's answers to one flow, for exports and reports."""

    respondent: str
    answers: dict[str, Answer | StoredAnswer] = Field(default_factory=dict)


def _text(v: bytes | str) -> str:
    return v.decode() if isinstance(v, bytes) else v


@dataclass
class _ShardCursor:
    """Pages through one index shard in (score, rid) order without offsets that drift."""

    key: str
    low: float | str
    buf: deque[tuple[float, str]] = field(default_factory=deque)
    done: bool = False
    last: float | None = None
    ties: int = 0  # entries already fetched whose score == last

    def request(self, pipe: Any, n: int) -> None:
        if self.last is None:
            pipe.zrangebyscore(self.key, self.low, "+inf", start=0, num=n, withscores=True)
        else:
            # Restart at the last score, skipping the entries with that score already read.
            pipe.zrangebyscore(self.key, self.last, "+inf", start=self.ties, num=n, withscores=True)

    def feed(self, rows: Sequence[tuple[bytes | str, float]], n: int) -> None:
        for member, score in rows:
            self.buf.append((score, _text(member)))
            if score == self.last:
                self.ties += 1
            else:
                self.last, self.ties = score, 1
        if len(rows) < n:
            self.done = True


class RedisStore:
    """Sessions, answers, dedupe and exports' raw reads, on one ``redis.asyncio.Redis`` client.

    ``secret`` keys the respondent-id hash (needed by :meth:`erase`, which takes a raw address).
    """

    def __init__(
        self,
        redis: AnyRedis,
        *,
        secret: bytes,
        keys: KeyBuilder | None = None,
        retention: timedelta = DEFAULT_RETENTION,
        dedupe_window: timedelta = DEFAULT_DEDUPE_WINDOW,
        finished_ttl: timedelta = DEFAULT_FINISHED_TTL,
        rate_limit: RateLimit | None = None,
        cache_size: int = 10_000,
        multiplex: bool = True,
    ) -> None:
        if not secret:
            raise ValueError("the respondent-id secret must not be empty")
        self.redis = redis
        # The per-message commands share one connection when the client's settings allow it
        # (store.multiplex: ~25 us less CPU per command); the rest uses redis-py's pool.
        self.hot = multiplexed(redis) if multiplex else None
        self._hot: AnyRedis | Multiplexed | ClusterMultiplexed = self.hot or redis
        self.keys = keys or KeyBuilder()
        self.retention = retention
        self.dedupe_window = dedupe_window
        self.finished_ttl = finished_ttl
        self.rate_limit = rate_limit
        self.cache = SessionCache(cache_size)
        self.audit = AuditLog(redis, self.keys, retention=retention)
        self._secret = secret
        self._remembered: set[tuple[str, str]] = set()

    def respondent(self, channel: str, address: str) -> str:
        return respondent_id(self._secret, channel, address)

    # -- hot path --------------------------------------------------------------------------------

    async def load(
        self, respondent: str, message_id: str | None = None, *, cached: bool = False
    ) -> Loaded:
        """The live session, whether ``message_id`` was already committed, and the opt-out flag.

        One round trip. The three reads need not be a snapshot: the commit re-checks both the
        version and the message id atomically. With ``cached``, a session this process committed
        lately comes from memory, with no round trip and no duplicate check (the commit makes
        both checks; see the module docstring).
        """
        if cached:
            hit = self.cache.get(respondent)
            if hit is not None:
                return Loaded(
                    session=hit,
                    opted_out=hit.status is Status.OPTED_OUT,
                    rev=hit.rev,
                    cached=True,
                )
        k = self.keys
        keys = [k.session(respondent), k.optout(respondent), k.seen(respondent)]
        with redis_errors("load"):
            rev_raw, data, optout_flag, seen_flag, latest_flag = await _LOAD(
                self._hot, keys, [message_id or ""]
            )
        opted_out = bool(optout_flag)
        duplicate = bool(message_id) and bool(seen_flag)
        rev = int(rev_raw) if rev_raw is not None else 0
        session: Session | None = None
        if data is not None:
            try:
                session = Session.model_validate_json(data).model_copy(update={"rev": rev})
            except ValidationError as exc:
                # Start afresh rather than fail this respondent forever; rev still guards.
                log.warning("stored session of %s is unreadable, ignoring it: %s", respondent, exc)
        return Loaded(
            session=session,
            duplicate=duplicate,
            opted_out=opted_out,
            rev=rev,
            latest_at=int(latest_flag) if duplicate and latest_flag else None,
        )

    async def commit(
        self,
        step: Step,
        *,
        expected_rev: int,
        message_id: str | None,
        flow: Flow,
        now: datetime,
        limited: bool = True,
    ) -> Session:
        """:meth:`bot.ports.SessionStore.commit`, in one COMMIT script: the session (``rev``
        incremented, ``address`` dropped once finished), answers, message id and markers, or
        nothing. :class:`StoreError` if Redis is unreachable (nothing written either).
        """
        s = step.session
        if s.flow != flow.id:
            raise ValueError(f"session is in flow {s.flow!r}, not {flow.id!r}")
        rid = s.respondent
        ttl = flow.expiry
        if s.status.finished:
            # No more messages will be sent, so the raw address is no longer needed.
            s = s.model_copy(update={"address": None})
            ttl = min(ttl, self.finished_ttl)
        optout = _OPTOUT_ACTION.get(s.status, "")
        now_ms = ms(now)
        k = self.keys
        data = session_json(s)  # = s.model_dump_json(exclude_defaults=True, exclude={"rev"})
        # Stepped on this process's cached copy? Then the commit also checks the stored session
        # is byte for byte that copy, not merely at the same rev (see COMMIT).
        cached = self.cache.entry(rid)
        guard = cached.data if cached is not None and cached.session.rev == expected_rev else ""
        args: list[str | bytes | int] = [
            expected_rev,
            data,
            s.flow,
            message_id or "",
            now_ms,
            now_ms - ttl_ms(self.dedupe_window),
            ttl_ms(self.dedupe_window),
            ttl_ms(ttl),
            ttl_ms(self.retention),
            optout,
            meta_json(s),
            *self._rate_args(message_id if limited else None),
            guard,
            len(step.answers),
        ]
        for a in step.answers:
            args += [answer_field(a.question), answer_json(a)]
        args += [answer_field(q) for q in step.cleared]
        keys = [
            k.session(rid), k.seen(rid), k.response(rid, s.flow), k.flows(rid), k.optout(rid),
            k.rate(rid),
        ]  # fmt: skip

        # A new session (nothing stored, or started by this very message) is probably the
        # respondent's first in this flow: index it before the commit. A wrong guess costs one
        # harmless ZADD NX; a miss is caught by the script's "fresh" flag below.
        indexed = expected_rev == 0 or s.started_at == now
        # The worker's first look at this session; from then on it follows the reminder policy
        # (bot.reminders), which may say "later" (a reminder) or "sooner" (closing date).
        first_check = s.started_at + min(flow.reminders.after, FIRST_CHECK)
        if indexed:
            await self._index(s.flow, rid, s.started_at, first_check)
        if (flow.id, flow.version) not in self._remembered:
            await self.remember_questions(flow)
        with redis_errors("commit"):
            code, value = (int(x) for x in await _COMMIT(self._hot, keys, args))
        if code == RATE_LIMITED:  # checked after the rev: a cached copy is still current
            assert self.rate_limit is not None
            raise RateLimited(value - self.rate_limit.messages)
        if code in (DUPLICATE, CONFLICT):
            self.cache.drop(rid)  # whatever this process had cached for them is suspect
            if code == DUPLICATE:
                raise DuplicateMessage(
                    f"message {message_id!r} of {rid} was already committed",
                    latest_at=value or None,
                )
            raise ConflictError(
                f"session of {rid} is at rev {value}, expected {expected_rev}",
                immediate=bool(guard),
            )
        if code < 0:
            raise StoreError(f"unexpected commit reply {code} for {rid}")
        if value and not indexed:
            await self._index(s.flow, rid, s.started_at, first_check)
        stored = s.model_copy(update={"rev": code})
        self.cache.put(rid, stored, data)
        return stored

    def _rate_args(self, message_id: str | None) -> tuple[int, int]:
        """COMMIT's (window ms, limit): only inbound messages count (not reminders)."""
        if self.rate_limit is None or not message_id:
            return 0, 0
        return ttl_ms(self.rate_limit.window), self.rate_limit.messages

    async def throttle(self, respondent: str) -> int:
        """Count a message that commits nothing; how far over the limit the sender now is."""
        if self.rate_limit is None:
            return 0
        window = ttl_ms(self.rate_limit.window)
        with redis_errors("throttle"):
            count = int(await _THROTTLE(self._hot, [self.keys.rate(respondent)], [window]))
        return max(0, count - self.rate_limit.messages)

    async def _index(self, flow: str, rid: str, started: datetime, check: datetime) -> None:
        """Index the response for export and queue the session's first reminder check (the
        worker re-plans from the session itself, see store.scheduler). The flow goes into the
        person's flows set first: erasure finds their index and queue entries through it, even
        when the commit that follows is refused (rate limit, lost race) and never adds it."""
        key = self.keys.index_for(flow, rid)
        retention = ttl_ms(self.retention)
        commands: list[tuple[str | int, ...]] = [
            ("SADD", self.keys.flows(rid), flow),
            ("PEXPIRE", self.keys.flows(rid), retention),
            ("ZADD", key, "NX", ms(started), rid),
            ("PEXPIRE", key, retention),
            ("ZADD", self.keys.due_for(flow, rid), "NX", ms(check), rid),
        ]
        with redis_errors("index"):
            if self.hot is not None:
                await self.hot.execute_many(commands)
                return
            pipe = self.redis.pipeline(transaction=False)
            for c in commands:
                pipe.execute_command(*c)
            await pipe.execute()

    async def is_opted_out(self, respondent: str) -> bool:
        with redis_errors("read"):
            return bool(await command(self.redis, "EXISTS", self.keys.optout(respondent)))

    # -- erasure ---------------------------------------------------------------------------------

    async def erase(
        self, channel: str, address: str, *, flows: Iterable[str] = (), actor: str | None = None
    ) -> int:
        """Remove everything stored about this person; returns keys + index entries removed."""
        rid = self.respondent(channel, address)
        return await self.erase_respondent(rid, flows=flows, actor=actor)

    async def erase_respondent(
        self, rid: str, *, flows: Iterable[str] = (), actor: str | None = None
    ) -> int:
        """Every key of ``rid``, their index and reminder-queue entries in each flow they have
        a response in (their flows set and live session say which) and in ``flows`` too (the
        flows being served: entries written before the flows set recorded them), their
        delivery-failure records and their audit entries. Each flow they had a response in
        gets an ``erased`` entry in its audit log naming ``actor`` (never the person)."""
        k = self.keys
        self.cache.drop(rid)
        pipe = self.redis.pipeline(transaction=False)
        pipe.smembers(k.flows(rid))
        pipe.hget(k.session(rid), "flow")
        with redis_errors("erase"):
            members, live = await pipe.execute()
        found = {_text(f) for f in members}
        if live is not None:
            found.add(_text(live))
        flows = found | set(flows)
        # Index entries first: if this stops half way, the flows set is still there to retry with.
        pipe = self.redis.pipeline(transaction=False)
        for f in sorted(flows):
            pipe.zrem(k.index_for(f, rid), rid)
            pipe.zrem(k.due_for(f, rid), rid)
        pipe.delete(*k.respondent_keys(rid, sorted(flows)))
        with redis_errors("erase"):
            removed = await pipe.execute()
        from store.delivery import DeliveryLog  # its keys hold this person's delivery failures
        from store.misses import MissLog  # and these the replies of theirs not understood

        logged = await DeliveryLog(self.redis, keys=k).erase_respondent(rid)
        logged += await MissLog(self.redis, keys=k).erase_respondent(rid, sorted(flows))
        total = sum(int(n) for n in removed) + logged
        now = datetime.now(UTC)
        for f in sorted(found):
            await self.audit.record(f, "erased", actor=actor or "unknown", at=now, items=total)
        return total

    # -- exports ---------------------------------------------------------------------------------

    async def response(self, rid: str, flow_id: str) -> Response | None:
        with redis_errors("read"):
            raw = await command(self.redis, "HGETALL", self.keys.response(rid, flow_id))
        stored = decode_stored(rid, raw)
        return _as_model(stored) if stored is not None else None

    async def count_responses(self, flow_id: str) -> int:
        """Index entries of the flow (one round trip). May count a response that has since
        expired or whose first commit crashed; :meth:`iter_responses` skips those."""
        pipe = self.redis.pipeline(transaction=False)
        for key in self.keys.index_keys(flow_id):
            pipe.zcard(key)
        with redis_errors("count"):
            return sum(int(n) for n in await pipe.execute())

    async def iter_responses(
        self, flow_id: str, since: datetime | None = None, batch: int = 200
    ) -> AsyncIterator[StoredResponse]:
        """Every response of the flow (any status: complete or partial), ordered by started time
        then respondent id, ``batch`` at a time. ``since`` keeps responses started at or after
        it (the index score is the first start). Reads the index shards, never SCAN.

        Yields :class:`store.stored.StoredResponse`: the hash decoded with one JSON parse, answer
        objects made only if ``answers`` is read (an export fills its rows from the stored
        values; see that module).

        The next batch is requested before the current one is handed out, so Redis works while
        the caller writes rows."""
        pending: asyncio.Task[list[Any]] | None = None
        pending_rids: list[str] = []
        async for rids in self._rid_chunks(flow_id, since, max(1, batch)):
            task = asyncio.ensure_future(self._fetch(flow_id, rids, first=pending is None))
            await asyncio.sleep(0)  # let it send its pipeline now
            if pending is not None:
                for r in _decode_all(pending_rids, await pending):
                    yield r
            pending, pending_rids = task, rids
        if pending is not None:
            for r in _decode_all(pending_rids, await pending):
                yield r

    async def _rid_chunks(
        self, flow_id: str, since: datetime | None, batch: int
    ) -> AsyncIterator[list[str]]:
        """Respondent ids of the flow in (started, rid) order, merged from the index shards."""
        low: float | str = ms(since) if since is not None else "-inf"
        cursors = [_ShardCursor(key, low) for key in self.keys.index_keys(flow_id)]
        await self._fill(cursors, batch)
        heap: list[tuple[float, str, int]] = []
        for i, c in enumerate(cursors):
            if c.buf:
                heappush(heap, (*c.buf[0], i))
        chunk: list[str] = []
        while heap:
            _, rid, i = heappop(heap)
            c = cursors[i]
            c.buf.popleft()
            if not c.buf and not c.done:
                # One round trip tops up every shard running low, not only this one: rids are
                # spread evenly (crc32), so the shards run dry together, and each page read
                # waits behind the batch Redis is serving.
                running_low = [d for d in cursors if not d.done and len(d.buf) <= batch // 2]
                await self._fill(running_low, batch)
            if c.buf:
                heappush(heap, (*c.buf[0], i))
            chunk.append(rid)
            if len(chunk) >= batch or not heap:
                yield chunk
                chunk = []

    async def _fetch(self, flow_id: str, rids: list[str], *, first: bool) -> list[Any]:
        keys = [self.keys.response(rid, flow_id) for rid in rids]
        with redis_errors("response read"):
            return await read_hashes(self.redis, keys, first=first)

    async def remember_questions(self, flow: Flow) -> None:
        """Record this version's question ids (once per version and process: see commit)."""
        ids = [q.id for q in flow.questions if q.answerable]
        with redis_errors("questions"):
            await self.redis.sadd(self.keys.questions(flow.id), *ids)
        self._remembered.add((flow.id, flow.version))

    async def known_questions(self, flow_id: str) -> set[str] | None:
        """Question ids of every version that served a message, or None if never recorded."""
        with redis_errors("read"):
            members = await self.redis.smembers(self.keys.questions(flow_id))
        return {_text(m) for m in members} if members else None

    async def answer_fields(self, flow_id: str, batch: int = 500) -> set[str]:
        """Question ids answered (or skipped) in any response of the flow, from HKEYS alone.

        A cheap first pass for exports, whose columns must be known before the first row: it
        finds questions since removed from the flow without decoding any answer. One pipeline
        per ``batch`` index entries of every shard; order does not matter, so shards are not
        merged."""
        batch = max(1, batch)
        cursors = [_ShardCursor(key, "-inf") for key in self.keys.index_keys(flow_id)]
        found: set[str] = set()
        while cursors:
            await self._fill(cursors, batch)
            pipe = self.redis.pipeline(transaction=False)
            for c in cursors:
                for _, rid in c.buf:
                    pipe.hkeys(self.keys.response(rid, flow_id))
                c.buf.clear()
            with redis_errors("response read"):
                for names in await pipe.execute():
                    found.update(n[_ANSWER_AT:] for n in map(_text, names) if n.startswith(_ANSWER))
            cursors = [c for c in cursors if not c.done]
        return found

    async def _fill(self, cursors: list[_ShardCursor], n: int) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for c in cursors:
            c.request(pipe, n)
        with redis_errors("index read"):
            pages = await pipe.execute()
        for c, rows in zip(cursors, pages, strict=True):
            c.feed(rows, n)

    # -- housekeeping ----------------------------------------------------------------------------

    async def prepare(self) -> None:
        """Load the scripts, so the first commit after a start needs no EVAL fallback."""
        with redis_errors("script load"):
            for script in (_COMMIT, _LOAD, _THROTTLE):
                await script.load(self.redis)

    async def ping(self) -> bool:
        try:
            return bool(await command(self.redis, "PING"))
        except Exception as exc:
            if is_redis_failure(exc):
                return False
            raise

    async def close(self) -> None:
        if self.hot is not None:
            await self.hot.aclose()
        await self.redis.aclose()


def _decode_all(rids: list[str], raws: list[Any]) -> list[StoredResponse]:
    out = (decode_stored(rid, raw) for rid, raw in zip(rids, raws, strict=True))
    return [r for r in out if r is not None]


def _as_model(r: StoredResponse) -> Response:
    """One response as the pydantic model (single reads; exports stream the light records)."""
    return trusted(
        Response,
        flow=r.meta["flow"],
        version=r.version,
        channel=r.channel,
        source=r.source,
        lang=r.lang,
        status=r.status,
        started_at=r.started_at,
        last_at=r.last_at,
        finished_at=r.finished_at,
        respondent=r.respondent,
        answers=dict(r.answers),
    )
