"""Soak: thousands of respondents walking the carers flow by signed Twilio webhooks for minutes,
against two `surveybot serve` processes on one Redis; then every response is checked.

Run: .venv/bin/python benchmarks/bench_soak.py [--seconds 120] [--respondents 5000]
     [--connections 32] [--servers 2] [--redis redis://host:6379/0] [--appendfsync everysec]

Without ``--redis`` the benchmark starts its own ``redis-server`` (AOF, ``appendfsync`` as
given, in a temporary folder), so the memory figures are this run's alone. With ``--redis`` it
uses that server under a unique key prefix (memory figures then include whatever else is there).

The servers are ``surveybot serve`` processes, the command users run. Each of the
``--connections`` lanes keeps a connection to every server, sends each request to the next server
of one round robin shared by all lanes (a load balancer: a respondent's messages land on any
process), and owns every ``connections``-th respondent; it walks them in rounds, one message per
respondent per round, so all ``--respondents`` sessions are live at once, as in a real
consultation, while each respondent's messages stay in order. When a batch of respondents has
finished and time remains, a new batch with fresh numbers starts; at ``--seconds`` every
connection stops after its request in flight.

Reported: throughput, latency p50/p99/max, errors (anything but a 200, and dropped
connections: target 0), Redis ``used_memory`` before, at the end and per respondent, the
``MEMORY USAGE`` of one live and one finished respondent's keys, and the check: every
respondent's stored session and answers are exactly the script prefix that was acknowledged (a
finished respondent: the whole carers route, status complete). Keys are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.reliability.harness
sys.path.insert(0, str(Path(__file__).resolve().parent))
import loadgen

from tests.reliability.harness import (
    FLOW_ID,
    SCRIPT,
    WEBHOOK,
    AppServer,
    RedisServer,
    Signer,
    app_env,
    copy_flows,
    message_sid,
    reference,
    store_for,
    stored_differences,
    workspace,
)
from tests.support.cluster import delete_prefix


def number(batch: int, i: int, per_batch: int) -> str:
    """A fresh mobile number for respondent ``i`` of ``batch``."""
    return f"+4477{(batch * per_batch + i) % 10**8:08d}"


@dataclass
class Run:
    respondents: int
    connections: int
    deadline: float
    signer: Signer
    tag: str
    acked: dict[str, int] = field(default_factory=dict)
    """Messages acknowledged with 200, per number (all batches)."""
    result: loadgen.Result = field(default_factory=loadgen.Result)
    errors: list[str] = field(default_factory=list)
    batches: int = 0

    def request(self, host: str, num: str, m: int) -> bytes:
        body, headers = self.signer.sign(num, SCRIPT[m], message_sid(num, m, self.tag))
        return loadgen.post(WEBHOOK, body, headers, host)


async def connection(run: Run, c: int, ports: list[int], turn: list[int]) -> None:
    """Connection ``c``'s respondents in rounds; each request to the next server of one round
    robin shared by all connections (a load balancer: a respondent's messages land anywhere)."""
    streams = [await asyncio.open_connection("127.0.0.1", port) for port in ports]
    batch = 0
    try:
        while time.monotonic() < run.deadline:
            mine = [
                number(batch, i, run.respondents)
                for i in range(c, run.respondents, run.connections)
            ]
            failed: set[str] = set()
            run.batches = max(run.batches, batch + 1)
            for num in mine:
                run.acked[num] = 0
            for m in range(len(SCRIPT)):
                for num in mine:
                    if num in failed:
                        continue
                    if time.monotonic() >= run.deadline:
                        return
                    k = turn[0] % len(ports)
                    turn[0] += 1
                    reader, writer = streams[k]
                    raw = run.request(f"127.0.0.1:{ports[k]}", num, m)
                    start = time.perf_counter()
                    try:
                        writer.write(raw)
                        status = await loadgen.read_response(reader)
                    except (OSError, asyncio.IncompleteReadError) as exc:
                        run.errors.append(f"{num} message {m}: {exc!r}")
                        failed.add(num)
                        writer.close()
                        streams[k] = await asyncio.open_connection("127.0.0.1", ports[k])
                        continue
                    run.result.record(start, status)
                    if status == 200:
                        run.acked[num] += 1
                    else:
                        run.errors.append(f"{num} message {m}: HTTP {status}")
                        failed.add(num)
            batch += 1
    finally:
        for _, writer in streams:
            writer.close()


async def sample_memory(redis: Redis, run: Run, samples: list[tuple[float, int, int, int]],
                        start: float) -> None:  # fmt: skip
    """(seconds, used_memory, respondents started, of them finished) every few seconds."""
    while True:
        await asyncio.sleep(5)
        used = int((await redis.info("memory"))["used_memory"])
        started = sum(1 for n in run.acked.values() if n)
        done = sum(1 for n in run.acked.values() if n == len(SCRIPT))
        samples.append((time.monotonic() - start, used, started, done))


async def key_sizes(redis: Redis, prefix: str, num: str) -> dict[str, int]:
    store = store_for(redis, prefix)
    rid = store.respondent("sms", num)
    k = store.keys
    sizes: dict[str, int] = {}
    # (the dedupe record and the rate counter live in the session)
    for name, key in (("session", k.session(rid)), ("response", k.response(rid, FLOW_ID))):
        size = await redis.execute_command("MEMORY", "USAGE", key)  # type: ignore[no-untyped-call]
        sizes[name] = int(size or 0)
    return sizes


async def soak(a: argparse.Namespace, redis_url: str, own: RedisServer | None, work: Path) -> int:
    prefix = f"sbsoak-{uuid.uuid4().hex[:8]}"
    flows = copy_flows(work / "flows")
    env = app_env(redis_url, prefix, flows, work / "data")
    servers = [
        AppServer(env, work / f"app{i}", name=f"app{i}", serve=True) for i in range(a.servers)
    ]
    redis = Redis.from_url(redis_url, max_connections=512)
    try:
        for s in servers:
            s.start()
        for s in servers:
            await asyncio.to_thread(s.wait_ready)
        before = int((await redis.info("memory"))["used_memory"])
        start = time.monotonic()
        run = Run(a.respondents, a.connections, start + a.seconds, Signer(), uuid.uuid4().hex[:8])
        samples: list[tuple[float, int, int, int]] = []
        sampler = asyncio.create_task(sample_memory(redis, run, samples, start))
        t0 = time.perf_counter()
        ports, turn = [s.port for s in servers], [0]
        await asyncio.gather(*(connection(run, c, ports, turn) for c in range(a.connections)))
        run.result.elapsed = time.perf_counter() - t0
        sampler.cancel()
        cpu = [loadgen.cpu_seconds(s.proc.pid) if s.proc else 0.0 for s in servers]
        after = int((await redis.info("memory"))["used_memory"])
        done = [n for n, k in run.acked.items() if k == len(SCRIPT)]
        live = [n for n, k in run.acked.items() if 0 < k < len(SCRIPT)]
        sizes_done = await key_sizes(redis, prefix, done[0]) if done else {}
        sizes_live = await key_sizes(redis, prefix, live[0]) if live else {}
        t1 = time.perf_counter()
        problems = await stored_differences(redis, prefix, run.acked, await reference(flows))
        checked_in = time.perf_counter() - t1
        logs = {s.log.name: crash for s in servers if (crash := s.crash_log())}
    finally:
        for s in servers:
            s.stop()
        deleted = await delete_prefix(redis, prefix)
        await redis.aclose()

    started = sum(1 for k in run.acked.values() if k)
    res = run.result
    print(f"soak: {a.respondents:,} respondents a batch x the carers flow ({len(SCRIPT)} messages), "
          f"{a.connections} connections over {a.servers} server processes, one Redis "
          f"({'own, appendfsync ' + a.appendfsync if own else redis_url}), {a.seconds:.0f} s")  # fmt: skip
    print(res.line("surveybot /sms/twilio"))
    print(f"latency max {max(res.latencies, default=0) * 1000:.1f} ms; batches of respondents started: "
          f"{run.batches}; respondents: {started:,} started, {len(done):,} finished, "
          f"{len(live):,} mid-way at the end")  # fmt: skip
    print(
        f"errors: {len(run.errors)} (target 0)"
        + (f"; first: {run.errors[:3]}" if run.errors else "")
    )
    print(f"server CPU seconds: {', '.join(f'{c:.1f}' for c in cpu)} "
          f"({sum(cpu) / max(res.count, 1) * 1000:.2f} ms per request)")  # fmt: skip
    grew = after - before
    print(f"Redis used_memory: {before / 2**20:.1f} MiB before, {after / 2**20:.1f} MiB after "
          f"(+{grew / 2**20:.1f} MiB), {grew / max(started, 1):,.0f} bytes per respondent "
          f"stored (session + response + dedupe + index)")  # fmt: skip
    # The sample with the most sessions mid-way (in the first batch: all of them).
    most = max(samples, key=lambda s: s[2] - s[3], default=None)
    if most is not None:
        t, used, st, fin = most
        print(f"sample at {t:.0f} s: {used / 2**20:.1f} MiB with {st:,} respondents stored, "
              f"{st - fin:,} of them mid-way: {(used - before) / max(st, 1):,.0f} bytes per "
              f"respondent")  # fmt: skip
    if sizes_live:
        print(f"MEMORY USAGE of one live respondent: {sizes_live} = {sum(sizes_live.values())} B")
    if sizes_done:
        print(
            f"MEMORY USAGE of one finished respondent: {sizes_done} = {sum(sizes_done.values())} B"
        )
    print(f"verified in {checked_in:.1f} s: {started - len(problems):,} of {started:,} respondents "
          f"stored exactly as acknowledged ({len(done):,} complete responses equal the route "
          f"sent); {len(problems)} differ" + (f", first: {problems[:3]}" if problems else ""))  # fmt: skip
    for name, text in logs.items():
        print(f"--- {name} has an unhandled exception:\n{text}")
    print(f"{deleted:,} keys deleted")
    return 1 if run.errors or problems or logs else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--respondents", type=int, default=5000, help="respondents per batch")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--servers", type=int, default=2, help="server processes, one port each")
    ap.add_argument("--redis", help="use this Redis (default: start a private redis-server)")
    ap.add_argument("--appendfsync", default="everysec", choices=["always", "everysec", "no"],
                    help="AOF fsync policy of the private redis-server")  # fmt: skip
    a = ap.parse_args()
    if a.respondents > 999_999 or a.respondents < a.connections:
        ap.error("--respondents must be between --connections and 999,999")
    with workspace("surveybot-soak-") as work:
        own = None
        if a.redis is None:
            own = RedisServer(work / "redis", appendfsync=a.appendfsync)
            own.start()
        url = a.redis if own is None else own.url
        try:
            code = asyncio.run(soak(a, url, own, work))
        finally:
            if own is not None:
                own.kill()
    sys.exit(code)


if __name__ == "__main__":
    main()
