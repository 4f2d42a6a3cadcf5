"""Redis memory per respondent on the carers flow: ``INFO memory`` over many respondents, live
(half-way and at the last question) and finished, through the real dispatcher and store.

Run: .venv/bin/python benchmarks/bench_memory.py [--respondents 10000] [--channel sms]
     [--miss [N]] [--compare-with DIR]

Each checkout measured gets its own private ``redis-server`` (no persistence, nothing else in
it), so ``used_memory`` counts exactly this run's keys: the figure per respondent is the growth
of ``used_memory`` divided by the number of respondents (session, dedupe record, response, flows
set, and their share of the flow's index and reminder-queue shards). Respondents walk the
carers route by SMS (or Telegram / web chat message ids with ``--channel``) in three phases,
measured after each: 10 messages (live, half-way), 18 (live, at the last question), 19
(finished); then what stays for the retention period once the session has ended and the worker
has dropped the reminder entry. ``MEMORY USAGE`` of each key of one respondent is printed beside
it.

The route (:data:`ROUTE`) answers every question the way it asks: no reply is refused, so no
respondent writes the misses log (issue 15) or an audit entry (issue 17), which are written only
when such an event happens. ``--miss`` sends one reply the flow does not understand (a bare
``2`` at the postcode question, as the webhook benchmark's script does): every respondent then
also has an entry in the misses log (phases 10, 19 and 20); ``--miss 3`` sends two more
(``loads`` at the hours question, ``all of it`` at the question that takes two picks).

``--compare-with DIR`` measures another checkout too (e.g. ``git worktree add --detach
/tmp/before main``), in the same run, one after the other, each in a fresh process and Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))  # tests.reliability.harness (after the measured checkout: its code)

ROUTE = [
    "CARERS", "yes", "1", "1", "over 50 hours", "2 years", "agree", "strongly agree", "2",
    "1 and 2", "no", "More short breaks would help me most.", "skip", "1", "1", "1", "1", "2",
    "le16 7aa",
]  # fmt: skip
"""A carer's whole route through flows/carers-strategy.yaml, one message per question."""
MISSES = [(len(ROUTE) - 1, "2"), (4, "loads"), (9, "all of it")]
"""``--miss N`` sends the first N: replies the flow does not understand (postcode, hours a week,
support wanted: too many picks), each just before that question's answer (position in
:data:`ROUTE`)."""


def route_with(misses: int) -> list[str]:
    """The route with the first ``misses`` of :data:`MISSES` inserted."""
    route = list(ROUTE)
    for at, text in sorted(MISSES[:misses], reverse=True):
        route.insert(at, text)
    return route


def phases(route: list[str]) -> tuple[int, int, int]:
    """Messages sent by each respondent before each measurement: half-way (10), at the last
    question, the whole route."""
    return 10, len(route) - 1, len(route)


class Clock:
    """Advances ``step`` per message handled (all respondents interleaved, so one respondent's
    messages are about ``step`` x the number answering at once apart)."""

    def __init__(self, step: timedelta) -> None:
        self.now = datetime(2026, 11, 23, 10, tzinfo=UTC)
        self.step = step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


def address(channel: str, i: int) -> str:
    if channel == "telegram":
        return str(5_000_000_000 + i)
    if channel == "web":
        return uuid.uuid5(uuid.NAMESPACE_URL, f"web/{i}").hex
    return f"+4477{i:08d}"


def message_id(channel: str, i: int, m: int) -> str:
    """What the channel's adapter uses as the message id (store dedupe)."""
    if channel == "telegram":
        return f"tg:{700_000_000 + i * 32 + m}"
    if channel == "web":
        return f"web:{uuid.uuid5(uuid.NAMESPACE_URL, f'c/{i}').hex[:16]}:{m}"
    return "SM" + uuid.uuid5(uuid.NAMESPACE_URL, f"{i}/{m}").hex


async def child(
    url: str, respondents: int, channel: str, flows: Path, step_ms: int, miss: int
) -> dict[str, Any]:
    """Run in the measured checkout's own process (its code on PYTHONPATH first)."""
    from pydantic import SecretStr
    from redis.asyncio import Redis

    from adapters.services import build_services
    from bot.config import Settings
    from bot.models import Inbound

    route = route_with(miss)
    settings = Settings(
        SURVEYBOT_FLOWS=flows,
        SURVEYBOT_SECRET=SecretStr("bench-memory"),
        SURVEYBOT_REDIS_PREFIX="sb",
        _env_file=None,
    )
    redis = Redis.from_url(url)
    svc = build_services(settings, redis=redis, clock=Clock(timedelta(milliseconds=step_ms)))
    d = svc.dispatcher

    async def used() -> int:
        return int((await redis.info("memory"))["used_memory"])

    async def walk(i: int, start: int, stop: int) -> None:
        for m in range(start, stop):
            text = route[m]
            inbound = Inbound(
                channel=channel, address=address(channel, i), text=text,
                message_id=message_id(channel, i, m),
            )  # fmt: skip
            out = await d.handle(inbound)
            if out.session is None:
                raise RuntimeError(f"respondent {i}: message {m} ({text!r}) was not stepped")

    async def sizes(i: int) -> dict[str, int]:
        found: dict[str, int] = {}
        rid = svc.store.respondent(channel, address(channel, i))
        async for key in redis.scan_iter(match=f"*{rid}*", count=1000):
            name = key.decode().split("}:", 1)[-1]
            found[name] = int(await redis.memory_usage(key) or 0)
        return found

    base = await used()
    out: dict[str, Any] = {"base": base, "phases": []}
    # One first message alone: a process's first commit of a flow version records its question
    # ids (the code before this change did that once per concurrent first commit, and 200 at
    # once could run out of connections).
    await walk(0, 0, 1)
    done = 0
    for stop in phases(route):
        for lo in range(0, respondents, 200):
            await asyncio.gather(*(
                walk(i, max(done, 1) if i == 0 else done, stop)
                for i in range(lo, min(respondents, lo + 200))
            ))  # fmt: skip
        out["phases"].append({
            "messages": stop, "used": await used(), "keys": await redis.dbsize(),
            "one": await sizes(0),
        })  # fmt: skip
        done = stop
    # What stays for the retention period: the session ends (min(expiry, 30 days) after the
    # last message), the worker drops the finished session's reminder entry, and (the layout
    # before) the seen ids and rate counter expire (2 days, a minute).
    keys = svc.store.keys
    for lo in range(0, respondents, 500):
        pipe = redis.pipeline(transaction=False)
        for i in range(lo, min(respondents, lo + 500)):
            rid = svc.store.respondent(channel, address(channel, i))
            pipe.delete(keys.session(rid), keys.seen(rid), keys.rate(rid))
            pipe.zrem(keys.due_for("carers-strategy", rid), rid)
        await pipe.execute()
    out["kept"] = {"used": await used(), "keys": await redis.dbsize(), "one": await sizes(0)}
    response = await svc.store.response(
        svc.store.respondent(channel, address(channel, 0)), "carers-strategy"
    )
    out["complete"] = response is not None and response.status.value == "complete"
    out["route"] = len(route)
    await redis.aclose()
    return out


def measure(
    tree: Path, respondents: int, channel: str, work: Path, step_ms: int, miss: int
) -> dict[str, Any]:
    """One checkout: a fresh redis-server and a fresh process running :func:`child`."""
    from tests.reliability.harness import RedisServer, copy_flows

    server = RedisServer(work / f"redis-{uuid.uuid4().hex[:6]}", appendfsync="off")
    server.start()
    try:
        flows = copy_flows(work / "flows")
        env = {**os.environ, "PYTHONPATH": f"{tree}:{ROOT}"}
        cmd = [sys.executable, __file__, "--child", server.url, "--respondents", str(respondents),
               "--channel", channel, "--flows", str(flows), "--step-ms", str(step_ms),
               *(["--miss", str(miss)] if miss else [])]  # fmt: skip
        done = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"measuring {tree} failed:\n{done.stderr[-4000:]}")
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))
    finally:
        server.kill()


def report(name: str, r: dict[str, Any], respondents: int) -> None:
    print(f"{name}:")
    for p in r["phases"]:
        per = (p["used"] - r["base"]) / respondents
        state = "finished" if p["messages"] == r["route"] else "live"
        one = ", ".join(f"{k} {v}" for k, v in sorted(p["one"].items()))
        print(
            f"  after {p['messages']:>2} messages ({state}): {per:,.0f} bytes per respondent "
            f"(used_memory +{(p['used'] - r['base']) / 2**20:.1f} MiB, {p['keys']:,} keys); "
            f"MEMORY USAGE of one: {one} = {sum(p['one'].values())}"
        )
    k = r["kept"]
    one = ", ".join(f"{name} {v}" for name, v in sorted(k["one"].items()))
    print(
        f"  kept for the retention period (session ended, reminder entry gone): "
        f"{(k['used'] - r['base']) / respondents:,.0f} bytes per respondent ({k['keys']:,} keys); "
        f"MEMORY USAGE of one: {one}"
    )
    if not r["complete"]:
        print("  ERROR: the first respondent's response is not complete")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--respondents", type=int, default=10_000)
    ap.add_argument("--channel", default="sms", choices=["sms", "telegram", "web"])
    ap.add_argument("--compare-with", type=Path, metavar="DIR")
    ap.add_argument(
        "--miss",
        type=int,
        nargs="?",
        const=1,
        default=0,
        choices=range(len(MISSES) + 1),
        metavar="N",
        help="N replies (1 if not given, at most 3) per respondent the flow does not understand "
        "(writes the misses log)",
    )
    ap.add_argument(
        "--step-ms",
        type=int,
        default=50,
        help="clock step per message handled (default 50 ms: with 200 respondents answering "
        "at once, each answers every 10 s)",
    )
    ap.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    ap.add_argument("--flows", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        out = asyncio.run(child(a.child, a.respondents, a.channel, a.flows, a.step_ms, a.miss))
        print(json.dumps(out))
        return
    from tests.reliability.harness import workspace

    targets = {"this checkout": ROOT}
    if a.compare_with is not None:
        targets[f"{a.compare_with}"] = a.compare_with.resolve()
    walk = "every reply understood"
    if a.miss:
        walk = f"{a.miss} repl{'y' if a.miss == 1 else 'ies'} not understood (--miss {a.miss})"
    print(f"{a.respondents:,} respondents on the carers flow by {a.channel} ({walk}), "
          "a private Redis each")  # fmt: skip
    with workspace("surveybot-memory-") as work:
        for name, tree in targets.items():
            r = measure(tree, a.respondents, a.channel, work, a.step_ms, a.miss)
            report(name, r, a.respondents)


if __name__ == "__main__":
    main()
