"""The reminder worker: claims due sessions, asks the policy, sends through the channel, commits.

Run by ``surveybot worker`` (or inside ``surveybot serve --worker``). Any number of workers can
run against one Redis: each due entry is claimed with a lease (``store.scheduler``), so no two
workers send the same reminder, and a worker killed mid-batch leaves its entries to reappear when
the lease ends. The reminder is committed to the session (``reminders`` + 1) right after it is
sent; only a crash between those two steps can repeat it, and never within the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from adapters.officers.sync import PublishedSync
from adapters.outbound import Sender, Unprompted, UnpromptedSender
from adapters.services import Services
from bot import engine
from bot.errors import ChannelError, ConflictError, StoreError
from bot.models import Reply, Session, Step
from bot.reminders import Plan, finalised, plan, reminded
from bot.schema import Flow
from bot.text import tr
from store.scheduler import Claim, ReminderQueue

log = logging.getLogger(__name__)

RETRY_BASE = timedelta(minutes=2)
MAX_RETRIES = 5


@dataclass
class WorkerStats:
    sent: int = 0
    finals: int = 0
    rescheduled: int = 0
    removed: int = 0
    failed: int = 0
    lost: int = 0  # lease ran out before we finished (another worker has it now)
    failures: list[str] = field(default_factory=list)

    def total(self) -> int:
        return self.sent + self.finals + self.rescheduled + self.removed + self.failed


class ReminderWorker:
    def __init__(
        self,
        services: Services,
        senders: Mapping[str, Sender],
        *,
        queue: ReminderQueue | None = None,
        lease: timedelta = timedelta(minutes=5),
        batch: int = 200,
        concurrency: int = 32,
    ) -> None:
        self.services = services
        self.senders = dict(senders)
        self.queue = queue or ReminderQueue(services.redis, services.store.keys)
        self.lease = lease
        self.batch = batch
        self._sem = asyncio.Semaphore(concurrency)
        # Retry counts live in memory: after a worker restart a failing send gets a fresh set of
        # tries, which is harmless (each try is spaced by the backoff).
        self._retries: dict[str, int] = {}
        # Reminders word the version the console published, as the web processes serve it.
        self.published = PublishedSync(services)

    async def run_once(self) -> WorkerStats:
        """One pass: claim and process everything due now, in every flow and shard."""
        stats = WorkerStats()
        with contextlib.suppress(StoreError):  # (Redis down: the claims below say so)
            await self.published.poll()
        now = self.services.clock()
        shards = list(range(self.services.store.keys.shards))
        for flow in list(self.services.registry.flows.values()):
            random.shuffle(shards)  # several workers start on different shards
            for shard in shards:
                while True:
                    claims = await self.queue.claim(flow.id, shard, now, self.lease, self.batch)
                    if not claims:
                        break
                    await asyncio.gather(*(self._guarded(flow, c, now, stats) for c in claims))
                    if len(claims) < self.batch:
                        break
        return stats

    async def run(self, stop: asyncio.Event, *, idle: float = 5.0) -> None:
        """Loop until ``stop`` is set, resting ``idle`` seconds after a pass with nothing due."""
        while not stop.is_set():
            try:
                stats = await self.run_once()
                if stats.total():
                    log.info("reminders: %s", stats)
            except Exception:  # keep the worker alive through a Redis blip; it retries
                log.exception("reminder pass failed")
                stats = WorkerStats()
            if not stats.total():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=idle)

    async def _guarded(self, flow: Flow, claim: Claim, now: datetime, stats: WorkerStats) -> None:
        async with self._sem:
            try:
                await self._process(flow, claim, now, stats)
            except Exception as exc:  # one bad entry must not stop the batch; it comes back
                log.exception("reminder for %s failed", claim.rid)
                stats.failures.append(f"{claim.rid}: {exc}")

    async def _process(self, flow: Flow, claim: Claim, now: datetime, stats: WorkerStats) -> None:
        store = self.services.store
        loaded = await store.load(claim.rid)
        session = loaded.session
        if session is None or session.flow != flow.id:
            await self._finish(claim, None, stats)
            return
        sender = self.senders.get(session.channel)
        p = plan(flow, session, can_send=sender is not None)
        if p is None:
            await self._finish(claim, None, stats)
            return
        if p.at > now:
            await self._finish(claim, p.at, stats)
            return
        assert sender is not None  # plan() returns None when there is no sender
        assert session.address is not None  # ... and when the address is gone
        replies = self._message(flow, session, p)
        try:
            if isinstance(sender, UnpromptedSender):  # e.g. WhatsApp's 24-hour window
                result = await sender.send_unprompted(
                    Unprompted(p.kind, flow, session, replies, now)
                )
            else:
                result = await sender.send(session.address, replies)
        except ChannelError as exc:
            # A permanent refusal (e.g. an invalid number) is not worth five tries.
            tries = self._retries.get(claim.rid, 0) + 1
            if not getattr(exc, "retryable", True):
                tries = MAX_RETRIES
            stats.failed += 1
            stats.failures.append(f"{claim.rid}: {exc}")
            if tries >= MAX_RETRIES:
                # Give this reminder up (counted as done) so the next one can still happen.
                self._retries.pop(claim.rid, None)
                log.warning("reminder to %s failed %d times, giving up: %s", claim.rid, tries, exc)
                session = await self._commit(flow, session, p, now)
                nxt = plan(flow, session, can_send=True) if session else None
                await self._finish(claim, nxt.at if nxt else None, stats, counted=False)
            else:
                self._retries[claim.rid] = tries
                backoff = RETRY_BASE * (2 ** (tries - 1))
                await self._finish(claim, now + backoff, stats, counted=False)
            return
        self._retries.pop(claim.rid, None)
        if getattr(result, "opted_out", False):
            # The provider says they opted out (the sender recorded their STOP): nothing more.
            await self._finish(claim, None, stats)
            return
        if p.kind == "final":
            stats.finals += 1
        else:
            stats.sent += 1
        stored = await self._commit(flow, session, p, now)
        nxt = plan(flow, stored, can_send=True) if stored is not None else None
        await self._finish(claim, nxt.at if nxt else None, stats, counted=False)

    def _message(self, flow: Flow, session: Session, p: Plan) -> list[Reply]:
        if p.kind == "final":
            return [
                Reply(text=tr(flow.reminders.final, session.lang), kind="end", lang=session.lang)
            ]
        return engine.reminder(flow, session)

    async def _commit(self, flow: Flow, session: Session, p: Plan, now: datetime) -> Session | None:
        """Record the reminder on the session; re-read and re-apply if the respondent wrote."""
        store = self.services.store
        for _ in range(20):
            updated = (
                reminded(session, now) if p.kind == "remind" else finalised(session, now, p.reason)
            )
            try:
                return await store.commit(
                    Step(session=updated),
                    expected_rev=session.rev,
                    message_id=None,
                    flow=flow,
                    now=now,
                )
            except ConflictError:
                loaded = await store.load(session.respondent)
                if loaded.session is None or loaded.session.flow != flow.id:
                    return None
                session = loaded.session
        log.warning("could not record a reminder for %s after 20 tries", session.respondent)
        return session

    async def _finish(
        self, claim: Claim, at: datetime | None, stats: WorkerStats, *, counted: bool = True
    ) -> None:
        ok = await self.queue.finish(claim, at)
        if not ok:
            stats.lost += 1
        elif counted:
            if at is None:
                stats.removed += 1
            else:
                stats.rescheduled += 1


async def queued(services: Services, flow: Flow, can_send: set[str]) -> list[tuple[datetime, str]]:
    """Every planned unprompted message of a flow: (when, "remind"/"final"), soonest first.

    Reads each queued session (pipelined by the store's ``load``) and asks the policy, so the
    listing is exact even though queue scores are only lower bounds.
    """
    queue = ReminderQueue(services.redis, services.store.keys)
    out: list[tuple[datetime, str]] = []
    entries = await queue.entries(flow.id)
    sem = asyncio.Semaphore(64)

    async def one(rid: str) -> None:
        async with sem:
            session = (await services.store.load(rid)).session
        if session is None or session.flow != flow.id:
            return
        p = plan(flow, session, can_send=session.channel in can_send)
        if p is not None:
            out.append((p.at, p.kind))

    await asyncio.gather(*(one(rid) for rid, _ in entries))
    return sorted(out)
