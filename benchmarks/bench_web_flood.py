"""Web chat flood (issue 17): one client opening the chat and answering as fast as it can, while
carers answer by SMS; before and after, in one run.

Run: .venv/bin/python benchmarks/bench_web_flood.py [--seconds 60] [--baseline 15]
     [--flood-connections 8] [--sms-connections 4] [--compare-with DIR]

For each server (this checkout, and with ``--compare-with DIR`` the surveybot in that checkout,
e.g. ``git worktree add /tmp/before main``), one after the other, each on its own private
``redis-server`` (so its memory figures are its own) and one ``surveybot`` app process:

1. **baseline**: ``--sms-connections`` keep-alive connections walk the carers flow by signed
   Twilio webhooks (distinct numbers, back to back) for ``--baseline`` seconds: SMS latency
   without a flood;
2. **flood**: for ``--seconds``, the same SMS load and, at once, ``--flood-connections``
   connections from one client address (127.0.0.1), in a process of their own, each looping:
   open the chat (``{"start": true}`` with no cookie) and answer the first question with the
   cookie it got, the most a script can make the web chat store.

Reported per server: web sessions created (session keys in its Redis) and per second, the
flood's answers by status, Redis ``used_memory`` before and after the flood and per session,
SMS p50/p99 in the baseline and during the flood, and the app's CPU. Everything runs on
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


async def one_server(a: argparse.Namespace, name: str, tree: Path, work: Path) -> dict[str, str]:
    own = RedisServer(work / f"redis-{name}", appendfsync="no")
    own.start()
    prefix = f"sbflood-{uuid.uuid4().hex[:6]}"
    env = app_env(own.url, prefix, copy_flows(work / f"flows-{name}"), work / f"data-{name}")
    env["PYTHONPATH"] = f"{tree}:{env['PYTHONPATH']}"
    app = AppServer(env, work / f"app-{name}", name=name)
    redis = Redis.from_url(own.url)
    try:
        app.start()
        await asyncio.to_thread(app.wait_ready)
        tag = uuid.uuid4().hex[:4]
        memory_start = int((await redis.info("memory"))["used_memory"])
        base, base_carers = await sms_load(app.port, a.baseline, a.sms_connections, f"b{tag}")
        sessions_before = await count_sessions(redis, prefix)
        memory_before = int((await redis.info("memory"))["used_memory"])
        cpu_before = loadgen.cpu_seconds(app.proc.pid) if app.proc else 0.0
        flood = Flood()
        t0 = time.perf_counter()
        # The flood in its own process, so its client-side work does not count in the SMS
        # latencies measured here.
        flooder = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--flood-only", str(app.port), "--seconds", str(a.seconds),
            "--flood-connections", str(a.flood_connections), stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert flooder.stdout is not None
        await flooder.stdout.readline()  # "ready": started and connected
        during, carers = await sms_load(app.port, a.seconds, a.sms_connections, f"f{tag}")
        out, _ = await flooder.communicate()
        report = json.loads(out.decode().strip().splitlines()[-1])
        flood.requests = report["requests"]
        flood.statuses = Counter({int(k): v for k, v in report["statuses"].items()})
        elapsed = a.seconds  # the flood's own length (it stops by itself)
        del t0
        cpu = (loadgen.cpu_seconds(app.proc.pid) if app.proc else 0.0) - cpu_before
        memory_after = int((await redis.info("memory"))["used_memory"])
        sessions_after = await count_sessions(redis, prefix)
        crash = app.crash_log()
    finally:
        app.stop()
        await redis.aclose()
        own.kill()
    # The carers who began by SMS during the flood have sessions too: count the web ones only.
    web_created = sessions_after - sessions_before - carers
    grew = memory_after - memory_before
    per_carer = (memory_before - memory_start) / max(base_carers, 1)
    web_memory = grew - carers * per_carer
    print(f"\n== {name}: surveybot from {tree}")
    print(base.line("  SMS alone (baseline)"))
    print(during.line("  SMS during the flood "))
    print(f"  flood: {flood.requests:,} web requests in {elapsed:.1f} s "
          f"({flood.requests / elapsed:,.0f}/s), statuses {dict(sorted(flood.statuses.items()))}")  # fmt: skip
    print(f"  web sessions created: {web_created:,} = {web_created / elapsed:,.1f} per second")
    print(f"  Redis used_memory: {memory_before / 2**20:.1f} -> {memory_after / 2**20:.1f} MiB "
          f"(+{grew / 2**20:.1f} MiB in {elapsed:.0f} s); the {carers:,} carers who began by SMS "
          f"meanwhile at {per_carer:,.0f} B each (baseline), the web flood ~"
          f"{web_memory / 2**20:.1f} MiB = {web_memory / max(web_created, 1):,.0f} B a session")  # fmt: skip
    print(f"  app CPU during the flood: {cpu:.1f} s of {elapsed:.0f} s")
    if crash:
        print(f"  !! unhandled exception in the app:\n{crash}")
    return {
        "sessions_per_s": f"{web_created / elapsed:,.1f}",
        "memory": f"+{grew / 2**20:.1f} MiB (web ~{max(web_memory, 0) / 2**20:.1f})",
        "p99_base": f"{base.pct(99):.1f}",
        "p99_flood": f"{during.pct(99):.1f}",
        "p50_base": f"{base.pct(50):.1f}",
        "p50_flood": f"{during.pct(50):.1f}",
        "flood_rps": f"{flood.requests / elapsed:,.0f}",
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
    print("\n| server | web sessions created /s | Redis memory after the flood | SMS p50 / p99 "
          "alone | SMS p50 / p99 during the flood | flood requests /s |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['sessions_per_s']} | {r['memory']} | {r['p50_base']} / "
              f"{r['p99_base']} ms | {r['p50_flood']} / {r['p99_flood']} ms | {r['flood_rps']} |")  # fmt: skip


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
    ap.add_argument("--baseline", type=float, default=15, help="SMS alone before the flood")
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
