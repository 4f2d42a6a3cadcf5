"""The Redis session store: one version-checked, atomic commit per inbound message.

Hot path of an ordinary answer, two round trips (one with a current cached copy, below):

* :meth:`RedisStore.load` - one script: the session, whether the message id was seen, and the
  opt-out marker.
* :meth:`RedisStore.commit` - one EVALSHA: checks the message id is new and the stored ``rev``
  is the one the step was computed from, then writes the session (with its dedupe record and
  rate counter), the answers and the opt-out marker together, or nothing. Refused for the
  version, it replies with the stored session, so the caller steps again without reading.

The layout is in :mod:`store.keys`, the encodings in :mod:`store.encode`, the scripts (and the
session string's header) in :mod:`store.scripts`; what the store wrote before that compact layout
is still read, and rewritten at a respondent's next commit.

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
most), and ``load(..., cached=True)`` (the dispatcher's call) may return one without asking
Redis: one round trip per answer instead of two. This is safe with any number of processes
because the commit checks the stored ``rev`` and the message id anyway, and for a cached copy
also that the stored session is still byte for byte that copy (revs restart at 1 after an
erasure, so a rev alone could match a new session). A copy gone stale (the respondent's previous
message went to another process, the worker sent a reminder, an erasure) fails the check and is
dropped; the refusal carries the stored session, and the caller steps again on it at once (no
extra round trip). Stepping twice costs CPU, so the cache keeps score of how often its copies
were current and is skipped while they mostly are not (:class:`SessionCache`): behind a load
balancer spreading messages over several processes the store reads first. Only the dispatcher
asks for it; everything else (the reminder worker above all) reads Redis.

**Per-sender rate limit.** Each inbound message that reaches a commit is counted in the
session's header (a fixed window; a stranger's, without a session, in ``sb:{rid}:rate``); over
the limit the commit writes nothing else and raises :class:`RateLimited`. Messages that commit
nothing (the menu a stranger gets) are counted by :meth:`throttle`.
"""

from __future__ import annotations

import asyncio
import hashlib
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
from store.delivery import DeliveryLog
from store.encode import (
    ResponseMeta,
    answer_parts,
    decode_session,
    meta_fields,
    ms,
    session_data,
    ttl_ms,
)
from store.identity import respondent_id
from store.keys import KeyBuilder, answer_field
from store.misses import MissLog
from store.multiplex import ClusterMultiplexed, Multiplexed, multiplexed
from store.scripts import (
    COMMIT,
    CONFLICT,
    DUPLICATE,
    LOAD,
    RATE,
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
DEFAULT_DEDUPE_BOUND = 32
"""Message ids remembered per respondent at most (besides the dedupe window): more than the
default rate limit lets anyone send in a minute, and a provider retries within a minute or two."""

_COMMIT = Script(COMMIT)
_LOAD = Script(LOAD)
_THROTTLE = Script(THROTTLE)
_RATE = Script(RATE)


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
    data: bytes  # the session JSON as committed (the commit checks it is still what is stored)


class SessionCache:
    """The sessions this process committed last, by respondent: an LRU whose entries also
    expire, so a raw address is not kept in memory long after its last message.

    It also keeps score of how often a copy it held was still current when the respondent's
    next message came (:attr:`current`, a moving average). Stepping on a stale copy wastes a
    step and a commit (the refused commit brings the stored session back, and the message is
    stepped again: ~40 us of CPU more than reading first), while a current copy saves one read
    (~15 us): the copies are worth using only while more than ~3 in 4 are current
    (:data:`WORTH`). One process serving a consultation: nearly all are. Behind a load
    balancer that spreads each respondent's messages over N processes: about 1 in N, so the
    store reads first, and the copy only saves decoding the session when it matches."""

    WORTH = 0.75
    WEIGHT = 1 / 64  # of each new observation in the moving average

    def __init__(self, size: int = 10_000, max_age: float = 300.0) -> None:
        self.size = size
        self.max_age = max_age
        self._items: OrderedDict[str, Cached] = OrderedDict()
        self.current = 1.0

    @property
    def worth_it(self) -> bool:
        return self.current >= self.WORTH

    def score(self, current: bool) -> None:
        """Whether a copy held for a respondent was current when their next message came."""
        self.current += ((1.0 if current else 0.0) - self.current) * self.WEIGHT

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

    def put(self, rid: str, session: Session, data: bytes) -> None:
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


def fingerprint(message_id: str) -> bytes:
    """What the dedupe record keeps of a message id: 6 bytes of a hash (a Twilio MessageSid
    has 34 characters). A new message taken for one of the 32 remembered: about 1 in 10^13."""
    return hashlib.blake2b(message_id.encode(), digest_size=6).digest()


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
        dedupe_bound: int = DEFAULT_DEDUPE_BOUND,
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
        self.dedupe_bound = max(1, dedupe_bound)
        self.finished_ttl = finished_ttl
        self.rate_limit = rate_limit
        self.cache = SessionCache(cache_size)
        self.audit = AuditLog(redis, self.keys, retention=retention)
        self._secret = secret
        self._remembered: set[tuple[str, str]] = set()
        self._remembering = asyncio.Lock()

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
        copy = self.cache.entry(respondent) if cached else None
        if copy is not None and self.cache.worth_it:
            hit = copy.session
            return Loaded(
                session=hit, opted_out=hit.status is Status.OPTED_OUT, rev=hit.rev, cached=True
            )
        k = self.keys
        keys = [k.session(respondent), k.optout(respondent), k.seen(respondent)]
        mid = message_id or ""
        with redis_errors("load"):
            rev_raw, data, optout_flag, seen_flag, latest_flag, legacy = await _LOAD(
                self._hot, keys, [fingerprint(mid) if mid else b"", mid]
            )
        duplicate = bool(message_id) and bool(seen_flag)
        rev = int(rev_raw)
        session: Session | None
        if copy is not None:
            # The cache is skipped (its copies are often stale: messages spread over several
            # processes) but still scored, so it is used again when it would pay.
            current = rev == copy.session.rev and data == copy.data
            self.cache.score(current)
            self.cache.drop(respondent)  # (the commit must not count it a second time)
            session = copy.session if current else None
        else:
            session = None
        if session is None:
            session = self._decode(respondent, data, rev, legacy=bool(legacy))
        return Loaded(
            session=session,
            duplicate=duplicate,
            opted_out=bool(optout_flag),
            rev=rev,
            latest_at=int(latest_flag) if duplicate and latest_flag else None,
        )

    @staticmethod
    def _decode(rid: str, data: bytes | None, rev: int, *, legacy: bool) -> Session | None:
        """The stored session, or None (none stored, or unreadable: the caller starts afresh
        rather than fail this respondent forever; the rev still guards the commit)."""
        if data is None:
            return None
        try:
            if legacy:  # written before the compact layout: pydantic's JSON
                return Session.model_validate_json(data).model_copy(update={"rev": rev})
            return decode_session(data, rid, rev)
        except (ValidationError, ValueError, KeyError, TypeError, IndexError) as exc:
            log.warning("stored session of %s is unreadable, ignoring it: %s", rid, exc)
            return None

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
        data = session_data(s)
        # Stepped on this process's cached copy? Then the commit also checks the stored session
        # is byte for byte that copy, not merely at the same rev (see COMMIT).
        cached = self.cache.entry(rid)
        guard = cached.data if cached is not None and cached.session.rev == expected_rev else b""
        meta, gone = meta_fields(s)
        mid = message_id or ""
        args: list[str | bytes | int] = [
            expected_rev,
            data,
            fingerprint(mid) if mid else b"",
            mid,
            now_ms,
            ttl_ms(self.dedupe_window),
            self.dedupe_bound,
            ttl_ms(ttl),
            ttl_ms(self.retention),
            optout,
            *self._rate_args(message_id if limited else None),
            guard,
            len(meta) // 2,
            len(step.answers),
            *meta,
        ]
        for a in step.answers:
            args += [answer_field(a.question), *answer_parts(a)]
        args += gone
        args += [answer_field(q) for q in step.cleared]
        keys = [
            k.session(rid), k.seen(rid), k.response(rid, s.flow), k.optout(rid), k.rate(rid),
        ]  # fmt: skip

        # A new session (nothing stored, or started by this very message) is probably the
        # respondent's first in this flow: index it before the commit. A wrong guess costs one
        # harmless ZADD NX; a miss is caught by the script's "fresh" flag below.
        indexed = expected_rev == 0 or s.started_at == now
        # The worker's first look at this session; from then on it follows the reminder policy
        # (bot.reminders), which may say "later" (a reminder) or "sooner" (closing date).
        first_check = s.started_at + min(flow.reminders.after, FIRST_CHECK)
        if (flow.id, flow.version) not in self._remembered:
            # Before any index entry: erasure looks for a person's entries in every flow
            # recorded here.
            async with self._remembering:  # once, not by every first commit arriving together
                if (flow.id, flow.version) not in self._remembered:
                    await self.remember_questions(flow)
        if indexed:
            await self._index(s.flow, rid, s.started_at, first_check)
        with redis_errors("commit"):
            reply = await _COMMIT(self._hot, keys, args)
        code, value = int(reply[0]), int(reply[1])
        if code == RATE_LIMITED:  # checked after the rev: a cached copy is still current
            assert self.rate_limit is not None
            raise RateLimited(value - self.rate_limit.messages)
        if guard:
            self.cache.score(code != CONFLICT)  # stepped on the cached copy: was it current?
        if code in (DUPLICATE, CONFLICT):
            self.cache.drop(rid)  # whatever this process had cached for them is suspect
            if code == DUPLICATE:
                raise DuplicateMessage(
                    f"message {message_id!r} of {rid} was already committed",
                    latest_at=value or None,
                )
            # The reply carries the stored session: the caller can step again at once.
            current = Loaded(
                session=self._decode(rid, reply[2], value, legacy=bool(reply[4])),
                opted_out=bool(reply[3]),
                rev=value,
            )
            raise ConflictError(
                f"session of {rid} is at rev {value}, expected {expected_rev}",
                immediate=bool(guard),
                current=current,
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

    async def rate_count(self, respondent: str, now: datetime) -> int:
        """Inbound messages counted against the sender in the window running at ``now``."""
        if self.rate_limit is None:
            return 0
        keys = [self.keys.session(respondent), self.keys.rate(respondent)]
        with redis_errors("read"):
            return int(await _RATE(self.redis, keys, [ms(now), ttl_ms(self.rate_limit.window)]))

    async def _index(self, flow: str, rid: str, started: datetime, check: datetime) -> None:
        """Index the response for export and queue the session's first reminder check (the
        worker re-plans from the session itself, see store.scheduler). Erasure finds these
        entries through ``sb:flowids``, which :meth:`remember_questions` wrote before (even when
        the commit that follows is refused: rate limit, lost race): no per-respondent set."""
        key = self.keys.index_for(flow, rid)
        commands: list[tuple[str | int, ...]] = [
            ("ZADD", key, "NX", ms(started), rid),
            ("PEXPIRE", key, ttl_ms(self.retention)),
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
        """Every key of ``rid``, their index and reminder-queue entries, misses and response in
        every flow any response was committed to (``sb:flowids``; the flows set the old layout
        kept per respondent too) and in ``flows`` (the flows being served: entries written
        before either recorded them), their delivery-failure records and their audit entries.
        Each flow they had a response or an index entry in gets an ``erased`` entry in its
        audit log naming ``actor`` (never the person)."""
        k = self.keys
        self.cache.drop(rid)
        pipe = self.redis.pipeline(transaction=False)
        pipe.smembers(k.flow_ids())  # every flow that has responses (remember_questions)
        pipe.smembers(k.flows(rid))  # theirs, as recorded before the compact layout
        with redis_errors("erase"):
            known, theirs = await pipe.execute()
        mine = {_text(f) for f in theirs}
        every = sorted({_text(f) for f in known} | mine | set(flows))
        # Whose flows were theirs (for the audit log): the response, or an index entry (written
        # before the first commit, which may have been refused), or the old flows set.
        pipe = self.redis.pipeline(transaction=False)
        for f in every:
            pipe.exists(k.response(rid, f))
            pipe.zscore(k.index_for(f, rid), rid)
        with redis_errors("erase"):
            found = await pipe.execute()
        for i, f in enumerate(every):
            if found[2 * i] or found[2 * i + 1] is not None:
                mine.add(f)
        # Index entries first: if this stops half way, the flow ids are still there to retry with.
        pipe = self.redis.pipeline(transaction=False)
        for f in every:
            pipe.zrem(k.index_for(f, rid), rid)
            pipe.zrem(k.due_for(f, rid), rid)
        pipe.delete(*k.respondent_keys(rid, every))
        with redis_errors("erase"):
            removed = await pipe.execute()
        # Their delivery failures and the replies of theirs not understood go too.
        logged = await DeliveryLog(self.redis, keys=k).erase_respondent(rid)
        logged += await MissLog(self.redis, keys=k).erase_respondent(rid, every)
        total = sum(int(n) for n in removed) + logged
        now = datetime.now(UTC)
        for f in sorted(mine):
            await self.audit.record(f, "erased", actor=actor or "unknown", at=now, items=total)
        return total

    # -- exports ---------------------------------------------------------------------------------

    async def response(self, rid: str, flow_id: str) -> Response | None:
        with redis_errors("read"):
            raw = await command(self.redis, "HGETALL", self.keys.response(rid, flow_id))
        stored = decode_stored(rid, raw)
        return _as_model(stored, flow_id) if stored is not None else None

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
        """Record this version's question ids, and the flow among those with responses (for
        erasure), once per version and process, before its first commit (see commit)."""
        ids = [q.id for q in flow.questions if q.answerable]
        pipe = self.redis.pipeline(transaction=False)
        pipe.sadd(self.keys.questions(flow.id), *ids)
        pipe.sadd(self.keys.flow_ids(), flow.id)
        with redis_errors("questions"):
            await pipe.execute()
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


def _as_model(r: StoredResponse, flow_id: str) -> Response:
    """One response as the pydantic model (single reads; exports stream the light records)."""
    return trusted(
        Response,
        flow=flow_id,
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
