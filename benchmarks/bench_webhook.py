"""SMS webhook load: signed Twilio webhooks from many numbers walking the carers flow, against
`surveybot serve`'s app on a real Redis, and beside it in the same run a bare Starlette endpoint
doing one Redis GET and one SET (the reference).

Run: .venv/bin/python benchmarks/bench_webhook.py [--numbers 10000] [--connections 32]
     [--workers 1] [--redis redis://127.0.0.1:6379/0 | --cluster] [--bare-multiplexed]
     [--whatsapp] [--voice] [--compare-with DIR] [--misses]

``--workers 2`` runs two server processes (uvicorn workers) on one port. ``--cluster`` starts a
temporary local 3-master Redis Cluster (``store.testing_cluster``, the tests' fixture; AOF with
``appendfsync everysec``, Redis' default) and runs both servers against it
(``REDIS_URL=redis+cluster://...``), then prints how the keys spread over the masters and
stops it.

``--whatsapp`` runs a WhatsApp server in the same run too: the same numbers and answers to
``/whatsapp/twilio`` (``From=whatsapp:+44...``), same connections, with the WhatsApp sender on:
questions with choices go out as buttons or lists through Twilio's REST API (message and, once
per button set, content creation), which is faked in the server process at the twilio library's
HTTP boundary (an ``AsyncHttpClient`` answering 201 at once), so the figures are our own cost.

``--voice`` runs a voice server in the same run too: the same numbers, each making one phone
call through ``/voice/twilio`` that walks the carers flow with keys and spoken answers (call
start plus 21 ``<Gather>`` results, see ``bench_voice.py``), same connections, so calls and
texts are compared on one machine at one time.

``--misses`` adds one reply per walk that is not understood (so the misses log is written once
per respondent), to measure that path.

``--compare-with DIR`` runs a third server in the same run: surveybot from another checkout
(e.g. ``git worktree add /tmp/before HEAD~1``) on the same packages, for before/after figures.

Each connection walks its numbers one message at a time (so a respondent's messages stay in
order), every request signed with Twilio's real RequestValidator. Afterwards every number's
response is checked: complete, with the answers that were sent. Keys use a unique prefix and
are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import httpx
from twilio.request_validator import RequestValidator

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_voice
import loadgen

from bot.models import Status
from store import KeyBuilder, RedisStore, connect
from store.testing_cluster import LocalCluster, delete_prefix, free_port

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-auth-token"
SID = "AC" + "1" * 32
SCRIPT = [
    "CARERS",
    "yes",
    "1",
    "1",
    "50 hours or more",  # by label: a bare 5 or 2 at the banded questions is (rightly) checked
    "1 to 4 years",
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


WA_APP = """
import json
import logging

from twilio.http import AsyncHttpClient
from twilio.http.response import Response

from adapters.app import create_app as surveybot_app
from adapters.services import build_services
from adapters.whatsapp_twilio import WhatsAppSender
from bot.config import Settings


class InstantTwilio(AsyncHttpClient):
    # Twilio's REST API answering at once: what remains is surveybot's own work per request.
    def __init__(self):
        super().__init__(logging.getLogger("bench-twilio"), is_async=True)
        self.n = 0

    async def request(self, method, uri, params=None, data=None, headers=None, auth=None,
                      timeout=None, allow_redirects=False):
        self.n += 1
        kind = "HX" if "content.twilio.com" in uri else "SM"
        return Response(201, json.dumps({"sid": f"{kind}{self.n:032x}", "status": "queued"}))


def create_app():
    settings = Settings()
    services = build_services(settings)
    WhatsAppSender.of(services, InstantTwilio())
    return surveybot_app(settings, services=services)
"""


def start_server(
    target: str, port: int, env: dict[str, str], workers: int, factory: bool, cwd: Path
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    if factory:
        cmd.append("--factory")
    return subprocess.Popen(cmd, env={**os.environ, **env}, cwd=cwd)


def wait_ready(port: int, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not become ready")


def build_requests(
    port: int, numbers: list[str], connections: int, path: str = "/sms/twilio", prefix: str = ""
) -> list[list[bytes]]:
    """Every request, signed; ``prefix`` ``whatsapp:`` makes the addresses WhatsApp ones."""
    validator = RequestValidator(TOKEN)
    url = f"http://127.0.0.1:{port}{path}"
    per: list[list[bytes]] = [[] for _ in range(connections)]
    for n, number in enumerate(numbers):
        for m, text in enumerate(SCRIPT):
            sid = f"SM{uuid.uuid5(uuid.NAMESPACE_URL, f'{number}/{m}').hex}"
            params = {
                "MessageSid": sid,
                "SmsSid": sid,
                "AccountSid": SID,
                "From": prefix + number,
                "To": prefix + "+447700900000",
                "Body": text,
                "NumMedia": "0",
                "NumSegments": "1",
                "ApiVersion": "2010-04-01",
            }
            body = urlencode(params).encode()
            sig = validator.compute_signature(url, params)
            per[n % connections].append(
                loadgen.post(
                    path,
                    body,
                    {
                        "Content-Type": "application/x-www-form-urlencoded",
                        "X-Twilio-Signature": sig,
                    },
                    f"127.0.0.1:{port}",
                )
            )
    return per


async def verify(
    redis_url: str, prefix: str, numbers: list[str], channel: str = "sms"
) -> tuple[int, int]:
    redis = connect(redis_url)  # one Redis or a cluster, as the servers had
    store = RedisStore(redis, secret=b"bench-secret", keys=KeyBuilder(prefix=prefix))
    complete = 0
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
    n = await delete_prefix(redis, prefix)
    await redis.aclose()
    return complete, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--numbers", type=int, default=10_000)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    ap.add_argument(
        "--compare-with",
        type=Path,
        metavar="DIR",
        help="also run surveybot from this checkout (same run, same packages)",
    )
    ap.add_argument(
        "--bare-multiplexed",
        action="store_true",
        help="run the bare endpoint's GET and SET over store.multiplex (the "
        "connection surveybot's per-message commands use) instead of redis-py's pool",
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
        "--cluster",
        action="store_true",
        help="start a temporary local 3-master Redis Cluster and use it",
    )
    ap.add_argument(
        "--misses",
        action="store_true",
        help="each walk also sends one reply the bot cannot understand (a miss to log)",
    )
    a = ap.parse_args()
    if a.misses:
        SCRIPT.insert(3, "purple")  # at "who do you mainly care for?": asked again, logged
    if a.cluster:
        with LocalCluster(masters=3) as cluster:
            a.redis = cluster.url
            run(a, cluster)
    else:
        run(a, None)


def run(a: argparse.Namespace, cluster: LocalCluster | None) -> None:
    run_id = uuid.uuid4().hex[:8]
    tmp = Path(tempfile.mkdtemp(prefix="surveybot-bench-"))
    flows = tmp / "flows"
    flows.mkdir()
    shutil.copy(ROOT / "flows" / "carers-strategy.yaml", flows)
    # A compared checkout serves its own sample flow: its loader may not know this one's fields.
    cmp_flows = tmp / "flows-compared"
    if a.compare_with is not None:
        cmp_flows.mkdir()
        shutil.copy(a.compare_with / "flows" / "carers-strategy.yaml", cmp_flows)
    (tmp / "bare_app.py").write_text(BARE_APP)
    (tmp / "wa_app.py").write_text(WA_APP)
    numbers = [f"+4477{i:08d}" for i in range(a.numbers)]
    # name -> (source tree, its own key prefix): every target starts from empty Redis keys.
    targets = {"bare": (tmp, f"sbbench-{run_id}-bare"), "surveybot": (ROOT, f"sbbench-{run_id}")}
    if a.compare_with is not None:
        targets["compared"] = (a.compare_with.resolve(), f"sbbench-{run_id}-cmp")
    if a.whatsapp:
        targets["whatsapp"] = (ROOT, f"sbbench-{run_id}-wa")
    if a.voice:
        targets["voice"] = (ROOT, f"sbbench-{run_id}-voice")
    results = {}
    cpu_us: dict[str, float] = {}
    for name, (tree, prefix) in targets.items():
        port = free_port()
        env = {
            "REDIS_URL": a.redis,
            "SURVEYBOT_REDIS_PREFIX": prefix,
            "SURVEYBOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "TWILIO_ACCOUNT_SID": SID,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_FROM_NUMBER": "+447700900000",
            "SURVEYBOT_FLOWS": str(cmp_flows if name == "compared" else flows),
            "SURVEYBOT_SECRET": "bench-secret",
            "PYTHONPATH": f"{tree}:{ROOT}:{tmp}",
        }
        if a.bare_multiplexed:
            env["BARE_MULTIPLEXED"] = "1"
        if name == "bare":
            proc = start_server("bare_app:app", port, env, a.workers, False, tmp)
        elif name == "whatsapp":
            env["TWILIO_WHATSAPP_FROM"] = "+447700900000"
            proc = start_server("wa_app:create_app", port, env, a.workers, True, tmp)
        else:
            proc = start_server("adapters.app:create_app", port, env, a.workers, True, tree)
        try:
            wait_ready(port)
            if name == "voice":  # one call first, alone, to learn the Gather action URLs
                urls = bench_voice.record(port, TOKEN)
                reqs = bench_voice.build_requests(port, numbers, a.connections, urls, TOKEN)
            elif name == "whatsapp":
                reqs = build_requests(port, numbers, a.connections, "/whatsapp/twilio", "whatsapp:")
            else:
                reqs = build_requests(port, numbers, a.connections)
            cpu = loadgen.cpu_seconds(proc.pid)
            results[name] = asyncio.run(loadgen.run("127.0.0.1", port, reqs))
            cpu_us[name] = (loadgen.cpu_seconds(proc.pid) - cpu) / results[name].count * 1e6
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    spread = cluster.dbsize() if cluster is not None else {}  # keys per master, before clean-up
    checked = {
        name: asyncio.run(
            verify(
                a.redis,
                prefix,
                numbers if name != "bare" else [],
                {"voice": "voice", "whatsapp": "whatsapp"}.get(name, "sms"),
            )
        )
        for name, (_, prefix) in targets.items()
    }
    shutil.rmtree(tmp, ignore_errors=True)
    bare = results["bare"]
    where = "a 3-master Redis Cluster" if a.cluster else "one Redis"
    print(
        f"{a.numbers:,} numbers x {len(SCRIPT)} messages, {a.connections} connections, "
        f"{a.workers} server process(es), against {where}"
    )
    if a.voice:
        print(f"voice: each number makes one call of {len(bench_voice.SCRIPT) + 1} requests")
    client = "store.multiplex" if a.bare_multiplexed else "redis-py"
    print(bare.line(f"bare Starlette endpoint (1 GET + 1 SET, {client})"))
    labels = {
        "surveybot": "surveybot /sms/twilio (verify, step, commit, TwiML)",
        "compared": f"surveybot from {a.compare_with}",
        "whatsapp": "surveybot /whatsapp/twilio (verify, step, commit, buttons via the REST API)",
        "voice": "surveybot /voice/twilio (verify, step, commit, TwiML with <Say>/<Gather>)",
    }
    for name in targets:
        if name == "bare":
            continue
        bot = results[name]
        print(bot.line(labels[name]))
        print(
            f"  ratio: {bot.rps() / bare.rps():.2f}x the bare endpoint's throughput "
            f"(target >= 0.7); p99 {bot.pct(99):.1f} ms (target <= 50)"
        )
        complete, deleted = checked[name]
        print(
            f"  verified: {complete:,} of {a.numbers:,} numbers have a complete response with "
            f"the answers sent; {deleted:,} keys cleaned up"
        )
    print("server CPU per request: " + ", ".join(f"{n} {us:.0f} us" for n, us in cpu_us.items()))
    if spread:
        total = sum(spread.values()) or 1
        print(
            "keys per master: "
            + ", ".join(f"{port}: {n:,} ({n / total:.0%})" for port, n in sorted(spread.items()))
        )


if __name__ == "__main__":
    main()
