"""Store figures against a real Redis: messages/s at 1 and 50 concurrent respondents through the
whole dispatcher (load, pure step, atomic commit), round trips per message, and MEMORY USAGE of a
live carers session after 10 answers.

Run: .venv/bin/python benchmarks/bench_store.py [--url redis://127.0.0.1:6379/0] [--messages 4000]
Uses a unique key prefix and deletes its keys afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.dispatch import Dispatcher
from bot.loader import FlowRegistry
from bot.models import Inbound
from store import KeyBuilder, RedisStore, connect
from store.redis_store import SessionCache
from tests.support.roundtrips import RoundTripCounter

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = [
    "CARERS",
    "yes",
    "1",
    "1",
    "5",
    "2",
    "agree",
    "strongly agree",
    "2",
    "1 and 2",
    "no",
    "More short breaks would help me most.",
    "skip",
    "1",
    "1",
    "1",
    "1",
    "2",
    "2",
    "le16 7aa",
]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 10, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


async def walk(d: Dispatcher, number: str, messages: int, counter: list[int]) -> None:
    for i in range(messages):
        text = SCRIPT[i % len(SCRIPT)]
        if i and i % len(SCRIPT) == 0:
            text = "RESTART"
        await d.handle(
            Inbound(channel="sms", address=number, text=text, message_id=f"SM{uuid.uuid4().hex}")
        )
        counter[0] += 1


async def run(url: str, total: int) -> None:
    redis = connect(url)  # the client the app uses (hiredis packing)
    prefix = f"sbbench-{uuid.uuid4().hex[:8]}"
    store = RedisStore(redis, secret=b"bench", keys=KeyBuilder(prefix=prefix))
    registry = FlowRegistry(ROOT / "flows")
    d = Dispatcher(registry, store, clock=Clock())
    try:
        await store.prepare()
        for concurrency in (1, 50):
            per = max(total // concurrency, len(SCRIPT))
            done = [0]
            start = time.perf_counter()
            await asyncio.gather(
                *(
                    walk(d, f"+4477009{concurrency:02d}{n:03d}", per, done)
                    for n in range(concurrency)
                )
            )
            elapsed = time.perf_counter() - start
            print(
                f"{concurrency:>2} concurrent respondent(s): {done[0]:,} messages in "
                f"{elapsed:.2f} s = {done[0] / elapsed:,.0f} messages/s (load + step + commit)"
            )

        # Round trips of ordinary answers (not the first message of a respondent): with this
        # process's session cache (the next message comes back to the same process), and
        # without it (it went to another process, or the cache is off).
        for label, size in (("cached session", 10_000), ("no cache", 0)):
            store.cache = SessionCache(size)
            number = f"+44770095555{size % 10}"
            await walk(d, number, 2, [0])
            with RoundTripCounter(redis, store.hot) as rt:
                await walk(d, number, 10, [0])
                print(
                    f"round trips per ordinary answer, {label}: {rt.count / 10:.1f} "
                    f"({'commit 1' if size else 'load 1 + commit 1'})"
                )
        store.cache = SessionCache()

        # A live session of the carers flow after 10 answers.
        number = "+447700966666"
        await walk(d, number, 11, [0])  # keyword + 10 answers
        rid = store.respondent("sms", number)
        session_bytes = await redis.memory_usage(store.keys.session(rid))
        response_bytes = await redis.memory_usage(store.keys.response(rid, "carers-strategy"))
        print(
            f"MEMORY USAGE of a live carers session after 10 answers (with its dedupe record "
            f"and rate counter): {session_bytes} bytes (target <= 1536); its response hash "
            f"{response_bytes} bytes (all of a respondent: benchmarks/bench_memory.py)"
        )
    finally:
        n = 0
        async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
            n += await redis.delete(key)
        await redis.aclose()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--messages", type=int, default=4000)
    a = p.parse_args()
    asyncio.run(run(a.url, a.messages))
