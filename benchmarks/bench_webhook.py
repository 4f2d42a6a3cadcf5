"""SMS webhook load: signed Twilio webhooks from many numbers walking the carers flow, against
``surveybot serve`` processes behind a round-robin load balancer, and beside it in the same run a
bare Starlette endpoint doing one Redis GET and one SET (the reference).

Run: .venv/bin/python benchmarks/bench_webhook.py [--numbers 3000] [--connections 32]
     [--processes 1,2,4] [--runs 3] [--redis URL | --cluster] [--compare-with DIR] [--sticky]
     [--bare-multiplexed] [--whatsapp] [--voice] [--misses]

What runs is exactly what users run: ``N`` processes of ``surveybot serve --port P`` (the
console script, with its default settings: access log, log level and all), each on its own
port, for each ``N`` in ``--processes``. The load generator plays the load balancer in front of
Twilio: each of ``--connections`` lanes sends one respondent's messages one at a time, in order,
and every request goes to the next process in one round-robin shared by all lanes, over kept-
alive connections (``loadgen.run_spread``). So a respondent's consecutive messages land on any
process, as behind a real load balancer. (``surveybot serve --workers N`` shares one listening
socket: a kept-alive connection stays on one process, which would hide exactly this.)
``--sticky`` sends each respondent's messages to one process instead (the old measurement).

More targets in the same run, behind the same load balancer, interleaved with the others:

* ``--whatsapp``: the same numbers and answers to ``/whatsapp/twilio`` (``From=whatsapp:+44...``),
  with the WhatsApp sender on: questions with choices go out as buttons or lists through Twilio's
  REST API (message and, once per button set, content creation), which is faked in each server
  process at the twilio library's HTTP boundary (an ``AsyncHttpClient`` answering 201 at once),
  so the figures are our own cost. The servers are ``surveybot serve`` itself, started through
  a small wrapper that installs that client (``wa_serve.py``, written to the work folder).
* ``--voice``: the same numbers, each making one phone call through ``/voice/twilio`` that walks
  the carers flow with keys and spoken answers (call start plus 21 ``<Gather>`` results, see
  ``bench_voice.py``); a call's requests go one at a time down its lane, each to the next
  process, so one call's turns are spread like one texter's messages.

``--misses`` adds one reply per walk that is not understood (so the misses log is written once
per respondent), to measure that path.

Every request is signed with Twilio's real ``RequestValidator`` for one public URL that all
processes are told (as behind a load balancer). Afterwards every number's stored response is
checked: complete, with the answers that were sent.

Runs are interleaved: for each of ``--runs`` rounds, each process count, each target (the bare
endpoint, surveybot, and with ``--compare-with DIR`` surveybot from another checkout, e.g.
``git worktree add --detach /tmp/before main``) in turn, the order rotating between rounds;
the summary gives min / median / max per target and process count. Reported per request beside
req/s and latency: server CPU (all server processes, from ``/proc``), Redis script calls
(``EVALSHA``/``EVAL``) and all Redis commands (those inside scripts included; ``INFO
commandstats``), Redis CPU (``INFO cpu``) and the load generator's own CPU.

Without ``--redis`` the benchmark starts its own ``redis-server`` (AOF, ``appendfsync
everysec``) so the Redis figures are this run's alone. ``--cluster`` starts a temporary local
3-master Redis Cluster instead (Redis figures then not reported). Keys use a unique prefix per
run and are deleted after each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from redis import Redis
from twilio.request_validator import RequestValidator

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.reliability.harness
import bench_voice
import loadgen

from bot.models import Status
from store import KeyBuilder, RedisStore, connect
from tests.support.cluster import LocalCluster, delete_prefix, free_port

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-auth-token"
SID = "AC" + "1" * 32
PUBLIC_URL = "https://surveys.example.gov.uk"
SCRIPT = [
    "CARERS", "yes", "1", "1",
    "50 hours or more",  # by label: a bare 5 or 2 at the banded questions is (rightly) checked
    "1 to 4 years", "agree", "strongly agree", "2", "1 and 2", "no",
    "More short breaks would help me most.", "skip", "1", "1", "1", "1", "2", "2", "le16 7aa",
]  # fmt: skip
MISS = (3, "purple")
"""``--misses``: at "who do you mainly care for?", a reply not understood (asked again, logged)."""
BARE_APP = """
import contextlib
import os
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

if os.environ["REDIS_URL"].startswith("redis+cluster://"):
    from store.client import connect_cluster
    redis = connect_cluster(os.environ["REDIS_URL"])
else:
    redis = Redis.from_url(os.environ["REDIS_URL"])


@contextlib.asynccontextmanager
async def lifespan(app):
    if hasattr(redis, "initialize"):
        await redis.initialize()  # read the slot map before the first burst (as surveybot does)
    yield
prefix = os.environ["SURVEYBOT_REDIS_PREFIX"]

mux = None
if os.environ.get("BARE_MULTIPLEXED"):  # --bare-multiplexed: on the store's own connection
    from store.multiplex import Multiplexed
    mux = Multiplexed.for_client(redis)

async def bare(request):
    body = await request.body()
    key = prefix + ":bare:" + str(len(body))
    if mux is not None:
        await mux.execute_command("GET", key)
        await mux.execute_command("SET", key, body, "EX", 60)
    else:
        await redis.get(key)
        await redis.set(key, body, ex=60)
    return Response('<?xml version="1.0" encoding="UTF-8"?><Response />',
                    media_type="application/xml")

async def health(request):
    return Response("ok")

app = Starlette(routes=[Route("/sms/twilio", bare, methods=["POST"]),
                        Route("/healthz", health)], lifespan=lifespan)
"""
WA_SERVE = """
# surveybot serve, with Twilio's REST API answering at once (what remains is surveybot's own
# work per request): the real command line, only the HTTP client of the WhatsApp sender faked.
import json
import logging
import sys

from twilio.http import AsyncHttpClient
from twilio.http.response import Response

import adapters.app
from adapters.services import build_services
from adapters.whatsapp_twilio import WhatsAppSender
from bot.config import Settings


class InstantTwilio(AsyncHttpClient):
    def __init__(self):
        super().__init__(logging.getLogger("bench-twilio"), is_async=True)
        self.n = 0

    async def request(self, method, uri, params=None, data=None, headers=None, auth=None,
                      timeout=None, allow_redirects=False):
        self.n += 1
        kind = "HX" if "content.twilio.com" in uri else "SM"
        return Response(201, json.dumps({"sid": f"{kind}{self.n:032x}", "status": "queued"}))


surveybot_app = adapters.app.create_app


def create_app():
    settings = Settings()
    services = build_services(settings)
    WhatsAppSender.of(services, InstantTwilio())
    return surveybot_app(settings, services=services)


adapters.app.create_app = create_app  # what "surveybot serve" (one process) imports by name

if __name__ == "__main__":
    from bot.cli import main

    sys.argv = ["surveybot", *sys.argv[1:]]
    main()
"""


@dataclass
class Target:
    name: str
    label: str
    tree: Path  # the checkout whose code the servers run
    bare: bool = False
    channel: str = "sms"  # what its requests are: "sms", "whatsapp" or "voice"
    flows: Path | None = None  # its own flows folder (a compared checkout: its own sample flow)


@dataclass
class Measured:
    rps: float
    p50: float
    p99: float
    errors: int
    server_us: float
    scripts: float | None  # Redis script calls per request
    commands: float | None  # all Redis commands per request (inside scripts too)
    redis_us: float | None
    loadgen_us: float
    complete: int | None  # numbers verified complete (None for the bare endpoint)


@dataclass
class Bench:
    args: argparse.Namespace
    redis_url: str
    work: Path
    flows: Path
    numbers: list[str]
    results: dict[tuple[str, int], list[Measured]] = field(default_factory=dict)
    lanes: dict[str, list[list[bytes]]] = field(default_factory=dict)  # by channel


def surveybot_cmd(port: int, target: Target, work: Path) -> list[str]:
    """``surveybot serve`` exactly as a user starts it (the console script of this venv; the
    checkout it runs comes first on PYTHONPATH); for WhatsApp through ``wa_serve.py``."""
    args = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    if target.channel == "whatsapp":
        return [sys.executable, str(work / "wa_serve.py"), *args]
    return [str(Path(sys.executable).with_name("surveybot")), *args]


def bare_cmd(port: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", "bare_app:app", "--host", "127.0.0.1", "--port",
            str(port), "--log-level", "warning", "--no-access-log"]  # fmt: skip


def env_for(b: Bench, target: Target, prefix: str) -> dict[str, str]:
    mine = ("SURVEYBOT_", "TWILIO_", "TELEGRAM_", "REDIS_URL")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(mine)}
    env.update({
        "REDIS_URL": b.redis_url, "SURVEYBOT_REDIS_PREFIX": prefix,
        "SURVEYBOT_PUBLIC_URL": PUBLIC_URL, "TWILIO_ACCOUNT_SID": SID,
        "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_FROM_NUMBER": "+447700900000",
        "SURVEYBOT_FLOWS": str(target.flows or b.flows), "SURVEYBOT_SECRET": "bench-secret",
        "SURVEYBOT_DATA": str(b.work / "data"),
        "PYTHONPATH": f"{target.tree}:{ROOT}:{b.work}",
    })  # fmt: skip
    if b.args.bare_multiplexed:
        env["BARE_MULTIPLEXED"] = "1"
    if target.channel == "whatsapp":
        env["TWILIO_WHATSAPP_FROM"] = "+447700900000"
    return env


@contextmanager
def servers(b: Bench, target: Target, n: int, prefix: str) -> Iterator[list[Any]]:
    """``n`` server processes of ``target`` on their own ports, ready; stopped afterwards."""
    env = env_for(b, target, prefix)
    procs: list[tuple[subprocess.Popen[bytes], int]] = []
    try:
        for _ in range(n):
            port = free_port()
            cmd = bare_cmd(port) if target.bare else surveybot_cmd(port, target, b.work)
            log = (b.work / f"{target.name}-{port}.log").open("ab")
            proc = subprocess.Popen(cmd, env=env, cwd=b.work if target.bare else target.tree,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log)  # fmt: skip
            procs.append((proc, port))
        for proc, port in procs:
            wait_ready(proc, port, b.work / f"{target.name}-{port}.log")
        yield procs
    finally:
        for proc, _ in procs:
            proc.terminate()
        for proc, _ in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not become ready:\n{log.read_text()[-3000:]}")


def build_lanes(
    numbers: list[str], lanes: int, path: str = "/sms/twilio", prefix: str = ""
) -> list[list[bytes]]:
    """Each number's messages in order, a number's whole walk on one lane; ``prefix``
    ``whatsapp:`` makes the addresses WhatsApp ones (to ``/whatsapp/twilio``)."""
    validator = RequestValidator(TOKEN)
    url = PUBLIC_URL + path
    out: list[list[bytes]] = [[] for _ in range(lanes)]
    for n, number in enumerate(numbers):
        for m, text in enumerate(SCRIPT):
            sid = f"SM{uuid.uuid5(uuid.NAMESPACE_URL, f'{number}/{m}').hex}"
            params = {
                "MessageSid": sid, "SmsSid": sid, "AccountSid": SID, "From": prefix + number,
                "To": prefix + "+447700900000", "Body": text, "NumMedia": "0",
                "NumSegments": "1", "ApiVersion": "2010-04-01",
            }  # fmt: skip
            body = urlencode(params).encode()
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": validator.compute_signature(url, params),
            }
            out[n % lanes].append(loadgen.post(path, body, headers, "127.0.0.1"))
    return out


def lanes_for(b: Bench, target: Target, ports: list[int]) -> list[list[bytes]]:
    """The target's requests (built once per channel; a call's URLs are learnt from one call
    made first, alone, on a server of this run: ``bench_voice.record``)."""
    found = b.lanes.get(target.channel)
    if found is None:
        n = b.args.connections
        if target.channel == "voice":
            urls = bench_voice.record(ports[0], TOKEN, PUBLIC_URL)
            found = bench_voice.build_requests(b.numbers, n, urls, TOKEN, PUBLIC_URL)
        elif target.channel == "whatsapp":
            found = build_lanes(b.numbers, n, "/whatsapp/twilio", "whatsapp:")
        else:
            found = build_lanes(b.numbers, n)
        b.lanes[target.channel] = found
    return found


def redis_stats(url: str | None) -> tuple[int, int, float] | None:
    """(script calls, all commands, CPU seconds) of a private Redis so far."""
    if url is None:
        return None
    r = Redis.from_url(url)
    try:
        stats = r.info("commandstats")
        scripts = sum(
            int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("evalsha", "eval")
        )
        total = int(r.info("stats")["total_commands_processed"])
        cpu = r.info("cpu")
        return scripts, total, float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])
    finally:
        r.close()


async def verify(redis_url: str, prefix: str, numbers: list[str], channel: str = "sms") -> int:
    redis = connect(redis_url)  # one Redis or a cluster, as the servers had
    store = RedisStore(redis, secret=b"bench-secret", keys=KeyBuilder(prefix=prefix))
    complete = 0
    try:
        for number in numbers:
            resp = await store.response(store.respondent(channel, number), "carers-strategy")
            if (
                resp is not None
                and resp.status is Status.COMPLETE
                and resp.answers["role"].value == "carer"
                and resp.answers["hours"].value == "50+"  # banded: by label, or a key on a call
                and resp.answers["years_caring"].value == "1-4"
                and resp.answers["postcode"].value == "LE16"
            ):
                complete += 1
    finally:
        await redis.aclose()
    return complete


async def clean(redis_url: str, prefix: str) -> None:
    redis = connect(redis_url)
    try:
        await delete_prefix(redis, prefix)
    finally:
        await redis.aclose()


def one(b: Bench, target: Target, n: int, stats_url: str | None) -> Measured:
    prefix = f"sbbench-{uuid.uuid4().hex[:8]}"
    with servers(b, target, n, prefix) as procs:
        ports = [port for _, port in procs]
        lanes = lanes_for(b, target, ports)
        before_cpu = sum(loadgen.cpu_seconds(p.pid) for p, _ in procs)
        before_redis = redis_stats(stats_url)
        before_self = time.process_time()
        res = asyncio.run(loadgen.run_spread("127.0.0.1", ports, lanes, sticky=b.args.sticky))
        loadgen_s = time.process_time() - before_self
        after_redis = redis_stats(stats_url)
        server_s = sum(loadgen.cpu_seconds(p.pid) for p, _ in procs) - before_cpu
    count = res.count or 1
    scripts = commands = redis_us = None
    if before_redis is not None and after_redis is not None:
        scripts = (after_redis[0] - before_redis[0]) / count
        commands = (after_redis[1] - before_redis[1]) / count
        redis_us = (after_redis[2] - before_redis[2]) / count * 1e6
    complete = (
        None if target.bare else asyncio.run(verify(b.redis_url, prefix, b.numbers, target.channel))
    )
    asyncio.run(clean(b.redis_url, prefix))
    errors = sum(k for s, k in res.statuses.items() if s >= 400)
    return Measured(res.rps(), res.pct(50), res.pct(99), errors, server_s / count * 1e6, scripts,
                    commands, redis_us, loadgen_s / count * 1e6, complete)  # fmt: skip


def fmt(values: list[float], spec: str = ",.0f") -> str:
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return format(med, spec)
    return f"{format(med, spec)} ({format(min(values), spec)}-{format(max(values), spec)})"


def summary(b: Bench, targets: list[Target], counts: list[int]) -> None:
    a = b.args
    where = (
        "a 3-master Redis Cluster"
        if a.cluster
        else ("the Redis at " + a.redis if a.redis else "a private Redis")
    )
    mode = (
        "each respondent on one process (--sticky)"
        if a.sticky
        else "round-robin over the processes"
    )
    print(f"\n{len(b.numbers):,} numbers x {len(SCRIPT)} messages, {a.connections} lanes, {mode}, "
          f"against {where}; median (min-max) of {a.runs} interleaved run(s)")  # fmt: skip
    if a.voice:
        print(f"voice: each number makes one call of {len(bench_voice.SCRIPT) + 1} requests")
    print("| target | processes | req/s | vs 1 process | p50 / p99 ms | server CPU us/req | "
          "Redis scripts / commands per req | Redis CPU us/req | load generator us/req | errors | verified |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for t in targets:
        base = b.results.get((t.name, counts[0]), [])
        for n in counts:
            ms = b.results.get((t.name, n), [])
            if not ms:
                continue
            ratio = "-"
            if n != counts[0] and base:
                ratio = f"{statistics.median(m.rps for m in ms) / statistics.median(m.rps for m in base):.2f}x"
            scripts = [m.scripts for m in ms if m.scripts is not None]
            cmds = [m.commands for m in ms if m.commands is not None]
            redis_us = [m.redis_us for m in ms if m.redis_us is not None]
            verified = "-" if ms[0].complete is None else "/".join(f"{m.complete:,}" for m in ms)
            print(
                f"| {t.label} | {n} | {fmt([m.rps for m in ms])} | {ratio} | "
                f"{statistics.median(m.p50 for m in ms):.1f} / {fmt([m.p99 for m in ms], '.1f')} | "
                f"{fmt([m.server_us for m in ms])} | "
                f"{fmt(scripts, '.2f')} / {fmt(cmds, '.1f')} | {fmt(redis_us)} | "
                f"{fmt([m.loadgen_us for m in ms])} | {sum(m.errors for m in ms)} | {verified} |"
            )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--numbers", type=int, default=3_000)
    ap.add_argument("--connections", type=int, default=32, help="lanes (requests in flight)")
    ap.add_argument("--processes", default="1,2,4", help="server process counts, e.g. 1,2,4")
    ap.add_argument("--runs", type=int, default=3, help="interleaved rounds (medians reported)")
    ap.add_argument("--redis", help="use this Redis (default: start a private redis-server)")
    ap.add_argument(
        "--compare-with",
        type=Path,
        metavar="DIR",
        help="also run surveybot from this checkout (same run, same packages)",
    )
    ap.add_argument(
        "--sticky",
        action="store_true",
        help="send each respondent's messages to one process (no load balancer)",
    )
    ap.add_argument("--no-bare", action="store_true", help="skip the bare reference endpoint")
    ap.add_argument(
        "--bare-multiplexed",
        action="store_true",
        help="run the bare endpoint's GET and SET over store.multiplex (the "
        "connection surveybot's per-message commands use) instead of redis-py's pool",
    )
    ap.add_argument(
        "--cluster",
        action="store_true",
        help="start a temporary local 3-master Redis Cluster and use it",
    )
    ap.add_argument(
        "--whatsapp",
        action="store_true",
        help="also run the same load as WhatsApp (/whatsapp/twilio, buttons sent through "
        "Twilio's REST API faked in-process)",
    )
    ap.add_argument(
        "--voice",
        action="store_true",
        help="also run phone calls walking the same flow (/voice/twilio, keys and speech)",
    )
    ap.add_argument(
        "--misses",
        action="store_true",
        help="each walk also sends one reply the bot cannot understand (a miss to log)",
    )
    a = ap.parse_args()  # fmt: skip
    if a.misses:
        SCRIPT.insert(*MISS)
    from tests.reliability.harness import RedisServer, copy_flows, workspace

    with workspace("surveybot-bench-") as work:
        (work / "bare_app.py").write_text(BARE_APP)
        (work / "wa_serve.py").write_text(WA_SERVE)
        flows = copy_flows(work / "flows")
        if a.cluster:
            with LocalCluster(masters=3) as cluster:
                run(a, work, flows, cluster.url, None)
                print("keys per master at the end (should be ~0: cleaned):", cluster.dbsize())
        elif a.redis:
            run(a, work, flows, a.redis, None)
        else:
            server = RedisServer(work / "redis", appendfsync="everysec")
            server.start()
            try:
                run(a, work, flows, server.url, server.url)
            finally:
                server.kill()


def copy_flow_of(tree: Path, dest: Path) -> Path:
    """``tree``'s own sample flow (as ``copy_flows`` does for this checkout: closing far ahead)."""
    dest.mkdir(parents=True, exist_ok=True)
    raw = (tree / "flows" / "carers-strategy.yaml").read_text(encoding="utf-8")
    lines = [
        "closes: 2099-12-31\n" if line.startswith("closes:") else line
        for line in raw.splitlines(keepends=True)
    ]
    (dest / "carers-strategy.yaml").write_text("".join(lines), encoding="utf-8")
    return dest


def run(a: argparse.Namespace, work: Path, flows: Path, url: str, stats_url: str | None) -> None:
    numbers = [f"+4477{i:08d}" for i in range(a.numbers)]
    b = Bench(a, url, work, flows, numbers)
    targets = (
        [] if a.no_bare else [Target("bare", "bare endpoint (1 GET + 1 SET)", work, bare=True)]
    )
    targets.append(Target("surveybot", "surveybot serve", ROOT))
    if a.compare_with is not None:
        # A compared checkout serves its own sample flow: its loader may not know this one's
        # fields.
        tree = a.compare_with.resolve()
        own = copy_flow_of(tree, work / "flows-compared")
        targets.append(Target("compared", f"surveybot serve from {a.compare_with}", tree,
                              flows=own))  # fmt: skip
    if a.whatsapp:
        targets.append(Target("whatsapp", "surveybot serve, WhatsApp", ROOT, channel="whatsapp"))
    if a.voice:
        targets.append(Target("voice", "surveybot serve, voice calls", ROOT, channel="voice"))
    counts = [int(x) for x in a.processes.split(",")]
    for r in range(a.runs):
        for n in counts:
            order = targets[r % len(targets) :] + targets[: r % len(targets)]
            for t in order:
                m = one(b, t, n, stats_url)
                b.results.setdefault((t.name, n), []).append(m)
                extra = "" if m.complete is None else f", verified {m.complete:,}/{len(numbers):,}"
                scripts = "" if m.scripts is None else f", {m.scripts:.2f} scripts/req"
                print(f"run {r + 1}, {n} process(es), {t.label}: {m.rps:,.0f} req/s, p99 {m.p99:.1f} ms, "
                      f"server {m.server_us:.0f} us/req{scripts}, errors {m.errors}{extra}", flush=True)  # fmt: skip
    summary(b, targets, counts)


if __name__ == "__main__":
    main()
