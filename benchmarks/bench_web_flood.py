"""Web chat flood (issue 17): one client opening the chat and answering as fast as it can, while
carers answer by SMS; before and after, in one run.

Run: .venv/bin/python benchmarks/bench_web_flood.py [--seconds 60] [--baseline 20]
     [--flood-connections 8] [--sms-connections 4] [--compare-with DIR]

For each server (this checkout, and with ``--compare-with DIR`` the surveybot in that checkout,
e.g. ``git worktree add /tmp/before main``), one after the other, each on its own private
``redis-server`` (so its memory figures are its own) and one ``surveybot`` app process:

1. **SMS alone**: ``--sms-connections`` keep-alive connections walk the carers flow by signed
   Twilio webhooks (distinct numbers, back to back) for ``--baseline`` seconds;
2. **the flood alone**: for ``--seconds``, ``--flood-connections`` connections from one client
   address (127.0.0.1), in a process of their own, each looping: open the chat
   (``{"start": true}`` with no cookie) and answer the first question with the cookie it got,
   the most a script can make the web chat store;
3. **SMS with the flood**: both at once for ``--baseline`` seconds.

Reported per server: web sessions created by the flood (session keys in its Redis) and per
second, its answers by status, Redis ``used_memory`` before and after it, and SMS throughput and
p50/p99 alone and with the flood (phases 1 and 3, in the same run). Everything runs on
127.0.0.1; the load stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.reliability.harness
sys.path.insert(0, str(Path(__file__).resolve().parent))
import loadgen

from tests.reliability.harness import (
    FLOW_ID,
    ROOT,
    SCRIPT,
    WEBHOOK,
    AppServer,
    RedisServer,
    Signer,
    app_env,
    copy_flows,
    workspace,
)

CHAT = f"/chat/{FLOW_ID}/messages"


@dataclass
class Flood:
    statuses: Counter[int] = field(default_factory=Counter)
    requests: int = 0


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, str | None]:
    """One request; the status and the first Set-Cookie's ``name=value``."""
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    cookie = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lname = name.strip().lower()
        if lname == b"content-length":
            length = int(value.strip())
        elif lname == b"set-cookie" and cookie is None:
            cookie = value.strip().split(b";", 1)[0].decode("latin-1")
    if length:
        await reader.readexactly(length)
    return status, cookie


async def flood_connection(port: int, until: float, flood: Flood, tag: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    host = f"127.0.0.1:{port}"
    json_type = {"Content-Type": "application/json"}
    n = 0
    try:
        while time.monotonic() < until:
            n += 1
            start = json.dumps({"start": True}).encode()
            status, cookie = await _exchange(
                reader, writer, loadgen.post(CHAT, start, json_type, host)
            )
            flood.statuses[status] += 1
            flood.requests += 1
            if status != 200 or cookie is None:
                continue
            answer = json.dumps(
                {"text": "yes", "id": f"flood-{tag}-{n:08d}", "question": "consent"}
            ).encode()
            headers = {**json_type, "Cookie": cookie}
            status, _ = await _exchange(reader, writer, loadgen.post(CHAT, answer, headers, host))
            flood.statuses[status] += 1
            flood.requests += 1
    finally:
        writer.close()


async def sms_connection(
    port: int, until: float, result: loadgen.Result, signer: Signer, tag: str, people: list[int]
) -> None:
    """Carers answering by SMS, one after another: the whole carers route per number."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    host = f"127.0.0.1:{port}"
    person = 0
    try:
        while time.monotonic() < until:
            person += 1
            number = f"+4477{abs(hash((tag, person))) % 10**8:08d}"
            for m, text in enumerate(SCRIPT):
                if time.monotonic() >= until:
                    break
                if m == 0:
                    people[0] += 1  # a session the SMS load begins
                body, headers = signer.sign(number, text, f"SM{tag}{person:06d}{m:02d}")
                started = time.perf_counter()
                writer.write(loadgen.post(WEBHOOK, body, headers, host))
                result.record(started, await loadgen.read_response(reader))
    finally:
        writer.close()


async def sms_load(
    port: int, seconds: float, connections: int, tag: str
) -> tuple[loadgen.Result, int]:
    """The SMS load's latencies, and how many carers (sessions) it began."""
    result = loadgen.Result()
    people = [0]
    until = time.monotonic() + seconds
    t0 = time.perf_counter()
    signer = Signer()
    await asyncio.gather(
        *(
            sms_connection(port, until, result, signer, f"{tag}{c}", people)
            for c in range(connections)
        )
    )
    result.elapsed = time.perf_counter() - t0
    return result, people[0]


async def count_sessions(redis: Redis, prefix: str) -> int:
    n = 0
    async for _ in redis.scan_iter(match=f"{prefix}:*:s", count=5000):
        n += 1
    return n


async def start_flooder(port: int, seconds: float, connections: int) -> asyncio.subprocess.Process:
    """The flood in its own process (its client-side work must not count in the SMS latencies
    measured here); returns once it has started."""
    flooder = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--flood-only", str(port), "--seconds", str(seconds),
        "--flood-connections", str(connections), stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert flooder.stdout is not None
    await flooder.stdout.readline()  # "ready"
    return flooder


async def flood_result(flooder: asyncio.subprocess.Process) -> Flood:
    out, _ = await flooder.communicate()
    report = json.loads(out.decode().strip().splitlines()[-1])
    return Flood(Counter({int(k): v for k, v in report["statuses"].items()}), report["requests"])


async def used_memory(redis: Redis) -> int:
    return int((await redis.info("memory"))["used_memory"])


async def one_server(a: argparse.Namespace, name: str, tree: Path, work: Path) -> dict[str, str]:
    own = RedisServer(work / f"redis-{name}", appendfsync="no")
    own.start()
    prefix = f"sbflood-{uuid.uuid4().hex[:6]}"
    env = app_env(own.url, prefix, copy_flows(work / f"flows-{name}"), work / f"data-{name}")
    env["PYTHONPATH"] = f"{tree}:{env['PYTHONPATH']}"
    app = AppServer(env, work / f"app-{name}", name=name)
    redis = Redis.from_url(own.url)
    cpu = loadgen.cpu_seconds
    try:
        app.start()
        await asyncio.to_thread(app.wait_ready)
        pid = app.proc.pid if app.proc else 0
        tag = uuid.uuid4().hex[:4]
        # 1. SMS alone.
        base, _ = await sms_load(app.port, a.baseline, a.sms_connections, f"b{tag}")
        # 2. The flood alone: what it makes the server store.
        sessions0, memory0, cpu0 = (
            await count_sessions(redis, prefix),
            await used_memory(redis),
            cpu(pid),
        )
        flooder = await start_flooder(app.port, a.seconds, a.flood_connections)
        flood = await flood_result(flooder)
        cpu_flood = cpu(pid) - cpu0
        sessions1, memory1 = await count_sessions(redis, prefix), await used_memory(redis)
        # 3. SMS and the flood at once: what it does to everyone else.
        flooder = await start_flooder(app.port, a.baseline, a.flood_connections)
        during, _ = await sms_load(app.port, a.baseline, a.sms_connections, f"f{tag}")
        mixed = await flood_result(flooder)
        crash = app.crash_log()
    finally:
        app.stop()
        await redis.aclose()
        own.kill()
    created = sessions1 - sessions0
    grew = memory1 - memory0
    print(f"\n== {name}: surveybot from {tree}")
    print(f"  flood alone: {flood.requests:,} web requests in {a.seconds:.0f} s "
          f"({flood.requests / a.seconds:,.0f}/s), statuses {dict(sorted(flood.statuses.items()))}; "
          f"app CPU {cpu_flood:.1f} s")  # fmt: skip
    print(f"  web sessions created: {created:,} = {created / a.seconds:,.1f} per second")
    print(f"  Redis used_memory: {memory0 / 2**20:.1f} -> {memory1 / 2**20:.1f} MiB "
          f"({grew / 2**20:+.1f} MiB{f', {grew / created:,.0f} B a session' if created > 100 else ''})")  # fmt: skip
    print(base.line("  SMS alone          "))
    print(during.line("  SMS with the flood "))
    print(f"  (the flood meanwhile: {mixed.requests:,} requests, "
          f"statuses {dict(sorted(mixed.statuses.items()))})")  # fmt: skip
    if crash:
        print(f"  !! unhandled exception in the app:\n{crash}")
    return {
        "sessions_per_s": f"{created / a.seconds:,.1f}",
        "memory": f"{grew / 2**20:+.1f} MiB",
        "p99_base": f"{base.pct(99):.1f}",
        "p99_flood": f"{during.pct(99):.1f}",
        "p50_base": f"{base.pct(50):.1f}",
        "p50_flood": f"{during.pct(50):.1f}",
        "flood_rps": f"{flood.requests / a.seconds:,.0f}",
        "sms_rps": f"{base.rps():,.0f} / {during.rps():,.0f}",
    }


async def main_async(a: argparse.Namespace) -> None:
    targets = [("after", ROOT)]
    if a.compare_with is not None:
        targets.insert(0, ("before", a.compare_with.resolve()))
    rows = {}
    with workspace("surveybot-flood-") as work:
        for name, tree in targets:
            rows[name] = await one_server(a, name, tree, work)
    print(f"\n| server | web sessions created /s | Redis memory after a {a.seconds:.0f} s flood | "
          "flood requests /s | SMS req/s alone / with the flood | SMS p50 / p99 alone | "
          "SMS p50 / p99 with the flood |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['sessions_per_s']} | {r['memory']} | {r['flood_rps']} | "
              f"{r['sms_rps']} | {r['p50_base']} / {r['p99_base']} ms | {r['p50_flood']} / "
              f"{r['p99_flood']} ms |")  # fmt: skip


async def flood_only(port: int, seconds: float, connections: int) -> None:
    """The flooding client alone (run by the benchmark as its own process): prints its counts."""
    flood = Flood()
    print("ready", flush=True)
    until = time.monotonic() + seconds
    tag = uuid.uuid4().hex[:4]
    await asyncio.gather(
        *(flood_connection(port, until, flood, f"{tag}{c}") for c in range(connections))
    )
    print(json.dumps({"requests": flood.requests, "statuses": dict(flood.statuses)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60, help="length of the flood")
    ap.add_argument("--baseline", type=float, default=20, help="SMS alone, then SMS with the flood")
    ap.add_argument("--flood-connections", type=int, default=8)
    ap.add_argument("--sms-connections", type=int, default=4)
    ap.add_argument("--compare-with", type=Path, help="another checkout to run first, as 'before'")
    ap.add_argument("--flood-only", type=int, metavar="PORT", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.flood_only:
        asyncio.run(flood_only(a.flood_only, a.seconds, a.flood_connections))
        return
    asyncio.run(main_async(a))


if __name__ == "__main__":
    main()
