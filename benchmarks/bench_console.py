"""The officers' console's costs against a real Redis: counting a flow's live numbers, checking a
draft as the officer types, one sign-in, and a publish reaching another process.

* **Live numbers** (``adapters.officers.live``): N synthetic complete carers responses (written as
  ``bench_export.py`` writes them, under a unique prefix, deleted at the end), counted the way
  the dashboard counts them (the report's Tally over ``iter_responses``, the misses log, the
  report's sections as HTML). Wall and CPU seconds per count. The dashboard recounts at most
  every ``MIN_AGE`` seconds, and never sooner than ``COST_FACTOR`` x the last count took, for
  every officer watching through one process.
* **Draft check** (``adapters.officers.drafts``): the carers flow (30 kB, 2 languages) loaded and
  validated as on each debounced keystroke pause, median of 20.
* **Sign-in**: one argon2id verification with argon2-cffi's defaults (what a sign-in costs, and
  what the throttle protects).
* **Publish to another process**: one process publishes; a second, polling as every web process
  does (``adapters.officers.sync``, every ``POLL_SECONDS``), serves the new version: the time from
  the publish returning to the second process serving it, median of 5.

Run: .venv/bin/python benchmarks/bench_console.py [--url redis://127.0.0.1:6379/0] [-n 1000,10000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bench_export import FLOW, clean, fill  # (benchmarks import each other by plain name)
from redis.asyncio import Redis

from adapters.officers import drafts, live, sync
from adapters.services import Services, build_services
from bot.config import Settings
from bot.loader import flow_version, require_flow
from store import KeyBuilder
from store.published import PublishedFlows

ROOT = Path(__file__).resolve().parents[1]


def services(url: str, prefix: str) -> Services:
    settings = Settings(
        REDIS_URL=url,
        SURVEYBOT_REDIS_PREFIX=prefix,
        SURVEYBOT_FLOWS=ROOT / "flows",
        SURVEYBOT_SECRET="bench-console",
        _env_file=None,
    )
    return build_services(settings, redis=Redis.from_url(url))


async def live_numbers(url: str, sizes: list[int]) -> None:
    flow = require_flow(FLOW)
    for n in sizes:
        prefix = f"benchcon-{uuid.uuid4().hex[:8]}"
        redis = Redis.from_url(url)
        keys = KeyBuilder(prefix=prefix)
        await fill(redis, keys, flow, n)
        svc = services(url, prefix)
        stats = live.LiveStats(svc)
        walls, cpus = [], []
        for _ in range(3):
            c0, t0 = time.process_time(), time.perf_counter()
            snap = await stats._count(flow)
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        assert snap.started == n, (snap.started, n)
        wall, cpu = min(walls), min(cpus)
        every = max(live.MIN_AGE, live.COST_FACTOR * wall)
        print(
            f"live numbers, {n:>7,} responses: {wall:6.2f} s wall, {cpu:6.2f} s CPU per count "
            f"(best of 3); recounted at most every {every:.1f} s"
        )
        await clean(redis, keys, flow, n)
        await svc.store.close()
        await redis.aclose()


async def draft_check(url: str) -> None:
    svc = services(url, f"benchcon-{uuid.uuid4().hex[:8]}")
    text = FLOW.read_text(encoding="utf-8")
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        checked = drafts._check(svc, "carers-strategy", text)
        times.append(time.perf_counter() - t0)
    assert not checked.errors
    print(
        f"draft check, carers flow ({len(text.encode()):,} bytes): median "
        f"{statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms "
        f"({len(checked.warnings)} warnings)"
    )
    await svc.store.close()


def sign_in() -> None:
    from argon2 import PasswordHasher

    hasher = PasswordHasher()
    hashed = hasher.hash("correct horse battery staple")
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        hasher.verify(hashed, "correct horse battery staple")
        times.append(time.perf_counter() - t0)
    print(
        f"sign-in, argon2id verify (m={hasher.memory_cost // 1024} MiB, t={hasher.time_cost}, "
        f"p={hasher.parallelism}): median {statistics.median(times) * 1000:.0f} ms"
    )


async def propagation(url: str) -> None:
    prefix = f"benchcon-{uuid.uuid4().hex[:8]}"
    a, b = services(url, prefix), services(url, prefix)
    published = PublishedFlows(a.redis, a.store.keys)
    follower = sync.PublishedSync(b)
    stop = asyncio.Event()
    runner = asyncio.create_task(follower.run(stop))
    text = FLOW.read_text(encoding="utf-8")
    current = ""
    delays = []
    for i in range(5):
        new = text + f"# edit {i}\n"
        version = flow_version(new.encode())
        await published.publish(
            "carers-strategy", new, version, by="bench", at=datetime.now(UTC), expected=current
        )
        t0 = time.perf_counter()
        while True:  # (watching the other process's registry, which has no event to wait on)
            served = b.registry.get("carers-strategy")
            if served is not None and served.version == version:
                break
            await asyncio.sleep(0.005)
        delays.append(time.perf_counter() - t0)
        current = version
        await asyncio.sleep(0.37 * (i + 1) % 1)  # publish at different points of the poll
    stop.set()
    runner.cancel()
    print(
        f"publish to another process (polling every {sync.POLL_SECONDS:.0f} s): median "
        f"{statistics.median(delays):.2f} s, max {max(delays):.2f} s"
    )
    async for key in a.redis.scan_iter(match=f"{prefix}:*"):
        await a.redis.unlink(key)
    await a.store.close()
    await b.store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("-n", default="1000,10000", help="response counts, comma-separated")
    args = parser.parse_args()
    await draft_check(args.url)
    sign_in()
    await propagation(args.url)
    await live_numbers(args.url, [int(x) for x in args.n.split(",")])


if __name__ == "__main__":
    asyncio.run(main())
