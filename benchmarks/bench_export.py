"""Export figures against a real Redis: 100,000 complete carers responses to CSV and XLSX.

Writes N synthetic complete responses of flows/carers-strategy.yaml under a unique key prefix,
as pipelined HSETs in the store's own layout (``meta`` JSON and ``a:<qid>`` answer fields, plus
the ZADD into the flow's index shard, exactly what ``RedisStore.commit`` leaves behind), with a
one-hour TTL as a safety net. Answers follow the flow's branching (``next_question``), so carers
get the carer-only questions and organisations skip "about you".

Then, for each format, in a fresh child process (so memory figures are not blurred by the parent):
the whole export (``export_flow``: HKEYS first pass + streamed rows) to a temporary file, with
seconds and max RSS growth, and again under ``tracemalloc`` for the peak of Python allocations;
both for the newest tenth (``--since``) and for all N, to show memory does not grow with N
(tracemalloc only on the tenth unless ``--trace-all``: it slows Python about five times). The
store's share is timed alone (first pass; ``iter_responses`` without writing). Keys are deleted
at the end.

Wall seconds and the child's CPU seconds (``time.process_time``) are both printed: the machine
is shared, so wall time moves with other work while CPU time mostly does not. The rest of the
wall time is waiting for Redis, whose own CPU time over the run (``INFO cpu``; it includes
anything else that server did meanwhile) is printed too: it runs on the same two cores.

For A/B runs without writing the data again each time: ``--keep`` leaves the keys (they still
expire after an hour) and prints their prefix; ``--reuse PREFIX -n N`` measures them again
(``-n`` must be the N they were written with).

Run: .venv/bin/python benchmarks/bench_export.py [--url redis://127.0.0.1:6379/0] [-n 100000]
     [--formats csv,xlsx] [--keep | --reuse PREFIX]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from bot.engine import next_question
from bot.loader import require_flow
from bot.models import Answer, AnswerValue, Session, Status
from bot.schema import (
    ChoiceQuestion,
    ConsentQuestion,
    DateQuestion,
    Flow,
    InfoQuestion,
    MultiQuestion,
    NumberQuestion,
    PostcodeQuestion,
    ScaleQuestion,
    TextQuestion,
    YesNoQuestion,
)
from store import KeyBuilder, RedisStore
from store.encode import answer_parts, meta_fields, ms

ROOT = Path(__file__).resolve().parents[1]
FLOW = ROOT / "flows/carers-strategy.yaml"
START = datetime(2026, 1, 5, 9, tzinfo=UTC)
TEXTS = [
    "More short breaks would help me most.",
    "I did not know there was a carers centre until last year.",
    "Please make forms simpler. I care for my mum and work full time.",
    "Transport to appointments is the hardest part.",
]
SAFETY_TTL_MS = 3600_000


def synth(flow: Flow, rng: random.Random) -> dict[str, AnswerValue | None]:
    """One respondent's answers, following the flow's jumps and conditions."""
    answers: dict[str, AnswerValue | None] = {}
    q = next_question(flow, answers, None)
    while q is not None:
        v: AnswerValue | None
        if isinstance(q, InfoQuestion):
            q = next_question(flow, answers, q)
            continue
        if isinstance(q, ConsentQuestion):
            v = True
        elif isinstance(q, ChoiceQuestion):
            v = rng.choice(q.all_choices()).id
        elif isinstance(q, MultiQuestion):
            v = [c.id for c in rng.sample(q.choices, rng.randint(1, min(3, len(q.choices))))]
        elif isinstance(q, ScaleQuestion):
            v = rng.randint(q.low, q.high)
        elif isinstance(q, YesNoQuestion):
            v = rng.random() < 0.5
        elif isinstance(q, NumberQuestion):
            v = rng.randint(0, 80)
        elif isinstance(q, DateQuestion):
            v = str(rng.randint(1930, 2006))
        elif isinstance(q, PostcodeQuestion):
            v = f"LE{rng.randint(1, 19)}"
        elif isinstance(q, TextQuestion):
            v = rng.choice(TEXTS) if rng.random() < 0.6 else None
        else:
            v = None
        if q.optional and rng.random() < 0.05:
            v = None
        answers[q.id] = v
        q = next_question(flow, answers, q)
    return answers


async def fill(redis: Redis, keys: KeyBuilder, flow: Flow, n: int) -> float:
    """Write n complete responses; returns seconds."""
    rng = random.Random(7)
    variants = [synth(flow, rng) for _ in range(2000)]
    t0 = time.perf_counter()
    pipe = redis.pipeline(transaction=False)
    for i in range(n):
        rid = f"bench{i:021d}"
        started = START + timedelta(seconds=60 * i)
        finished = started + timedelta(minutes=rng.randint(5, 3000))
        session = Session(
            flow=flow.id,
            version=flow.version,
            respondent=rid,
            channel=rng.choice(("sms", "sms", "telegram", "web")),
            source=rng.choice((None, None, "harborough-carers", "belgrave-gujarati-carers")),
            lang=rng.choice(("en", "en", "en", "gu")),
            status=Status.COMPLETE,
            started_at=started,
            last_at=finished,
            finished_at=finished,
        )
        # Exactly what COMMIT writes (store.scripts): the base b, the meta fields (t0 left out
        # when it is b), each answer as [value, ms since b].
        base = ms(started)
        meta, _ = meta_fields(session)
        fields: dict[FieldT, EncodableT] = {"b": base}
        for name, field_value in zip(meta[0::2], meta[1::2], strict=True):
            if name != "t0":
                fields[str(name)] = field_value
        at = started
        for qid, value in variants[i % len(variants)].items():
            at += timedelta(seconds=30)
            if qid == "anything_else" and value is not None:
                value = f"{value} (#{i})"  # some unique text per respondent
            v, t, _ = answer_parts(Answer(question=qid, value=value, at=at))
            fields[f"a:{qid}"] = b"[" + v + b"," + str(t - base).encode() + b"]"
        key = keys.response(rid, flow.id)
        pipe.hset(key, mapping=fields)
        pipe.pexpire(key, SAFETY_TTL_MS)
        pipe.zadd(keys.index_for(flow.id, rid), {rid: int(started.timestamp() * 1000)})
        if len(pipe) >= 3000:
            await pipe.execute()
            pipe = redis.pipeline(transaction=False)
    for k in keys.index_keys(flow.id):
        pipe.pexpire(k, SAFETY_TTL_MS)
    # What a serving process records the first time a flow version commits (store.commit).
    pipe.sadd(keys.questions(flow.id), *(q.id for q in flow.questions if q.answerable))
    pipe.pexpire(keys.questions(flow.id), SAFETY_TTL_MS)
    await pipe.execute()
    return time.perf_counter() - t0


async def clean(redis: Redis, keys: KeyBuilder, flow: Flow, n: int) -> int:
    removed: int = 0
    pipe = redis.pipeline(transaction=False)
    for i in range(n):
        pipe.unlink(keys.response(f"bench{i:021d}", flow.id))
        if len(pipe) >= 5000:
            removed += sum(await pipe.execute())
            pipe = redis.pipeline(transaction=False)
    pipe.unlink(*keys.index_keys(flow.id), keys.questions(flow.id))
    removed += sum(await pipe.execute())
    async for key in redis.scan_iter(match=f"{keys.prefix}:*", count=1000):  # anything left
        removed += await redis.unlink(key)
    return removed


def _rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


async def _redis_cpu(redis: Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def child(url: str, prefix: str, what: str, since_ms: int | None, trace: bool) -> None:
    """One measurement in this (fresh) process; prints a JSON line."""
    from bot.results.export import export_flow

    flow = require_flow(FLOW)
    redis = Redis.from_url(url)
    store = RedisStore(redis, secret=b"bench", keys=KeyBuilder(prefix=prefix))
    since = datetime.fromtimestamp(since_ms / 1000, UTC) if since_ms is not None else None
    before = _rss_kb()
    if trace:
        tracemalloc.start()
    r0 = await _redis_cpu(redis)
    c0 = time.process_time()
    t0 = time.perf_counter()
    rows = 0
    size = 0
    if what == "fields":
        rows = len(await store.answer_fields(flow.id))
    elif what == "read":
        async for _ in store.iter_responses(flow.id, since=since):
            rows += 1
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"out.{what}"
            mode: dict[str, Any] = (
                {"mode": "wb"}
                if what == "xlsx"
                else {"mode": "w", "encoding": "utf-8", "newline": ""}
            )
            with open(path, **mode) as out:  # noqa: ASYNC230 (a CLI run: nothing else to block)
                counts = await export_flow(store, flow, out, what, since=since)
            rows = counts.written
            size = path.stat().st_size
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    redis_cpu = await _redis_cpu(redis) - r0
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu": cpu,
                "redis_cpu": redis_cpu,
                "rows": rows,
                "bytes": size,
                "rss_growth_kb": _rss_kb() - before,
                "tracemalloc_peak": peak,
            }
        )
    )
    await redis.aclose()


def measure(url: str, prefix: str, what: str, since_ms: int | None, trace: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--url", url, "--child", what, "--prefix", prefix]
    if since_ms is not None:
        cmd += ["--since-ms", str(since_ms)]
    if trace:
        cmd.append("--trace")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


async def main(
    url: str, n: int, traced_all: bool, formats: list[str], keep: bool, reuse: str | None
) -> None:
    flow = require_flow(FLOW)
    prefix = reuse or f"sbbench-export-{uuid.uuid4().hex[:8]}"
    keys = KeyBuilder(prefix=prefix)
    redis = Redis.from_url(url)
    try:
        if reuse:
            found = sum([await redis.zcard(k) for k in keys.index_keys(flow.id)])
            if found != n:
                raise SystemExit(f"{prefix} holds {found:,} index entries, not -n {n:,}")
            print(f"measuring the {n:,} responses already under {prefix}")
        else:
            print(f"writing {n:,} complete responses of {flow.id} under {prefix}: ...", flush=True)
            seconds = await fill(redis, keys, flow, n)
            print(f"  written in {seconds:.1f} s (pipelined HSET + ZADD in the store's layout)")
        tenth = int((START + timedelta(seconds=60 * (n - n // 10))).timestamp() * 1000)
        r = measure(url, prefix, "fields", None, False)
        print(f"first pass (answer_fields, HKEYS): {r['seconds']:.2f} s, {r['rows']} question ids")
        r = measure(url, prefix, "read", None, False)
        print(
            f"iter_responses alone (read + decode, no writing): {r['seconds']:.2f} s "
            f"(CPU {r['cpu']:.2f} s, Redis {r['redis_cpu']:.2f} s) for {r['rows']:,} = "
            f"{r['rows'] / r['seconds']:,.0f} responses/s"
        )
        for fmt in formats:
            for label, since in ((f"{n // 10:,}", tenth), (f"{n:,}", None)):
                timed = measure(url, prefix, fmt, since, False)
                line = (
                    f"export --format {fmt}, {label} responses: {timed['seconds']:.2f} s "
                    f"(CPU {timed['cpu']:.2f} s, Redis {timed['redis_cpu']:.2f} s; "
                    f"{timed['rows'] / timed['seconds']:,.0f}/s), file "
                    f"{timed['bytes'] / 1e6:.1f} MB, max RSS growth "
                    f"{timed['rss_growth_kb'] / 1024:.1f} MiB"
                )
                if since is not None or traced_all:
                    # tracemalloc slows Python ~5x: by default only on the smaller export.
                    traced = measure(url, prefix, fmt, since, True)
                    line += f", tracemalloc peak {traced['tracemalloc_peak'] / 2**20:.1f} MiB"
                print(line, flush=True)
    finally:
        if keep or reuse:
            print(f"keys kept (they expire within the hour): --reuse {prefix} -n {n}")
        else:
            removed = await clean(redis, keys, flow, n)
            print(f"deleted {removed:,} keys")
        await redis.aclose()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--url", default="redis://127.0.0.1:6379/0")
    p.add_argument("-n", type=int, default=100_000)
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--prefix", help=argparse.SUPPRESS)
    p.add_argument("--since-ms", type=int, help=argparse.SUPPRESS)
    p.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--trace-all", action="store_true", help="tracemalloc on the full export too (slow)"
    )
    p.add_argument("--formats", default="csv,xlsx", help="comma-separated: csv, xlsx, jsonl")
    p.add_argument("--keep", action="store_true", help="leave the keys (they expire in an hour)")
    p.add_argument("--reuse", metavar="PREFIX", help="measure keys left by an earlier --keep")
    a = p.parse_args()
    if a.child:
        asyncio.run(child(a.url, a.prefix, a.child, a.since_ms, a.trace))
    else:
        fmts = [f for f in a.formats.split(",") if f]
        asyncio.run(main(a.url, a.n, a.trace_all, fmts, a.keep, a.reuse))
