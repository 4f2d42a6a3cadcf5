"""Reminders at scale: schedule and dispatch N due reminders through a fake sender (no network)
against a real Redis.

Run: .venv/bin/python benchmarks/bench_reminders.py [--sessions 100000] [--workers 2]

1. schedule: N respondents start the carers flow and answer one question (one atomic commit
   each, which also queues their first reminder check) -- many concurrent commits;
2. dispatch: the clock moves on 25 hours and W reminder workers (in this process, sharing the
   work through the lease) claim, plan, "send" and record every reminder.
Keys use a unique prefix and are deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr
from redis.asyncio import Redis

from adapters.services import build_services
from adapters.worker import ReminderWorker
from bot import engine
from bot.config import Settings
from bot.models import Inbound, Reply

ROOT = Path(__file__).resolve().parents[1]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 10, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class CountingSender:
    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()

    async def send(self, address: str, replies: list[Reply]) -> None:
        self.sent[address] += 1


async def run(n: int, workers: int, url: str) -> None:
    prefix = f"sbbench-{uuid.uuid4().hex[:8]}"
    redis = Redis.from_url(url, max_connections=200)
    clock = Clock()
    settings = Settings(
        SURVEYBOT_FLOWS=ROOT / "flows",
        SURVEYBOT_SECRET=SecretStr("bench"),
        SURVEYBOT_REDIS_PREFIX=prefix,
        _env_file=None,
    )
    svc = build_services(settings, redis=redis, clock=clock)
    flow = svc.registry.flows["carers-strategy"]
    await svc.store.prepare()
    try:
        sem = asyncio.Semaphore(128)

        async def start(i: int) -> None:
            number = f"+4477{i:08d}"
            rid = svc.store.respondent("sms", number)
            s = engine.new_session(
                flow, respondent=rid, channel="sms", address=number, now=clock.now
            )
            s = engine.step(
                flow, s, Inbound(channel="sms", address=number, text="CARERS"), clock.now
            ).session
            step = engine.step(
                flow, s, Inbound(channel="sms", address=number, text="yes"), clock.now
            )
            async with sem:
                await svc.store.commit(
                    step, expected_rev=0, message_id=f"m{i}", flow=flow, now=clock.now
                )

        t0 = time.perf_counter()
        for lo in range(0, n, 1000):  # in waves, so no connection waits behind 100,000 steps
            await asyncio.gather(*(start(i) for i in range(lo, min(n, lo + 1000))))
        scheduled = time.perf_counter() - t0
        print(
            f"schedule: {n:,} sessions committed with their reminder check queued in "
            f"{scheduled:.1f} s ({n / scheduled:,.0f}/s)"
        )

        clock.now += timedelta(hours=25)  # 11:00 next day: in the allowed window
        sender = CountingSender()
        ws = [
            ReminderWorker(svc, {"sms": sender}, batch=500, concurrency=64) for _ in range(workers)
        ]
        t0 = time.perf_counter()
        # First pass: the queued first checks (an hour in) are re-planned to the 24-hour mark,
        # which is already past, so they are sent in the same pass.
        stats = await asyncio.gather(*(w.run_once() for w in ws))
        while sum(sender.sent.values()) < n:
            more = await asyncio.gather(*(w.run_once() for w in ws))
            if not sum(s.total() for s in more):
                break
            stats += more
        dispatched = time.perf_counter() - t0
        total = sum(sender.sent.values())
        twice = sum(1 for c in sender.sent.values() if c > 1)
        print(
            f"dispatch: {total:,} reminders sent by {workers} worker(s) in {dispatched:.1f} s "
            f"({total / dispatched:,.0f}/s); respondents reminded twice: {twice}; "
            f"failures: {sum(s.failed for s in stats)}"
        )
    finally:
        deleted = 0
        async for key in redis.scan_iter(match=f"{prefix}:*", count=5000):
            deleted += await redis.delete(key)
        await redis.aclose()
        print(f"cleaned up {deleted:,} keys")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sessions", type=int, default=100_000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    a = p.parse_args()
    asyncio.run(run(a.sessions, a.workers, a.redis))
