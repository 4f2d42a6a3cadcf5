"""Redis killed (SIGKILL) while 200 respondents answer by signed Twilio webhooks, then restarted.

During the outage every webhook gets 503 with Retry-After (Twilio retries), never a 500 or a
dropped connection. After the restart the requests that did not get a 200 are replayed with
their own MessageSid, as Twilio's retries would be. Then every respondent's stored session and
answers must be exactly the script prefix acknowledged with 200: nothing lost (Redis runs with
``appendfsync always``, so an acknowledged commit is on disk) and nothing doubled (a step whose
commit landed just before the kill is recognised as a duplicate on replay).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from tests.conftest import delete_prefix, eventually
from tests.reliability.harness import (
    SCRIPT,
    AppServer,
    Lanes,
    RedisServer,
    Signer,
    app_env,
    copy_flows,
    message_sid,
    phone,
    reference,
    stored_differences,
)

pytestmark = pytest.mark.slow

RESPONDENTS = 200
CONNECTIONS = 32
KILL_AFTER = RESPONDENTS * 5
"""Messages acknowledged (of 200 x 20) when Redis is killed: about a quarter of the way."""
RETRY_SECONDS = 0.05
"""How soon a walker sends its failed message again during the outage (Twilio waits longer)."""


@dataclass
class Walker:
    key: int
    number: str
    acked: int = 0
    """Messages of SCRIPT acknowledged with 200: the next one to send is SCRIPT[acked]."""
    pending: bool = False
    """SCRIPT[acked] was sent and refused (not 200): it awaits a retry."""


async def test_redis_killed_and_restarted_loses_and_doubles_nothing(
    work: Path, redis_server: RedisServer, start_app: Callable[..., AppServer]
) -> None:
    flows = copy_flows(work / "flows")
    prefix = f"sbrel-{uuid.uuid4().hex[:8]}"
    app = start_app(app_env(redis_server.url, prefix, flows, work / "data"))
    ref = await reference(flows)
    await asyncio.to_thread(app.wait_ready)

    run = uuid.uuid4().hex[:6]
    walkers = [Walker(i, phone(run, i)) for i in range(RESPONDENTS)]
    signer = Signer()
    # Statuses by when the answer came: before the kill, during the outage, to the replays.
    statuses: dict[str, dict[int, int]] = {"before": {}, "outage": {}, "replay": {}}
    broken: list[str] = []  # connection errors, 503s without Retry-After: each one a failure
    phase = "before"
    stop = asyncio.Event()

    async def send(w: Walker) -> int:
        sid = message_sid(w.number, w.acked, run)
        body, headers = signer.sign(w.number, SCRIPT[w.acked], sid)
        try:
            r = await lanes.post(w.key, body, headers)
        except httpx.TransportError as exc:
            broken.append(f"{type(exc).__name__}: {exc!r} ({phase})")
            w.pending = True
            return 0
        counts = statuses[phase]
        counts[r.status_code] = counts.get(r.status_code, 0) + 1
        if r.status_code == 503 and not r.headers.get("retry-after"):
            broken.append("503 without Retry-After")
        if r.status_code != 200:
            w.pending = True
            return r.status_code
        w.acked += 1
        w.pending = False
        return 200

    async def walk(w: Walker) -> None:
        while w.acked < len(SCRIPT) and not stop.is_set():
            if await send(w) != 200:
                await asyncio.sleep(RETRY_SECONDS)

    lanes = Lanes(app.base_url, CONNECTIONS)
    try:
        tasks = [asyncio.create_task(walk(w)) for w in walkers]
        try:
            while sum(w.acked for w in walkers) < KILL_AFTER:
                assert not all(t.done() for t in tasks), "walkers ended before the kill"
                await asyncio.sleep(0.005)
            redis_server.kill()
            phase = "outage"
            acked_at_kill = sum(w.acked for w in walkers)
            # The walkers keep sending, and retrying, until most have had a message refused.
            await eventually(lambda: sum(w.pending for w in walkers) > RESPONDENTS // 2)
            stop.set()  # each walker ends after its request in flight (still refused)
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        waiting = [w for w in walkers if w.pending]
        redis_server.start()  # same port, same folder, same AOF (from the main thread: see harness)

        # Twilio's retries of everything not acknowledged, each with its own MessageSid.
        phase = "replay"
        for _ in range(5):
            await asyncio.gather(*(send(w) for w in waiting if w.pending))
            if any(w.pending for w in waiting):
                await asyncio.sleep(0.2)
        unanswered = [w.number for w in waiting if w.pending]
    finally:
        await lanes.aclose()

    async with Redis.from_url(redis_server.url) as client:
        acked = {w.number: w.acked for w in walkers}
        problems = await stored_differences(client, prefix, acked, ref)
        await delete_prefix(client, prefix)

    summary = (
        f"statuses {statuses}; acknowledged at kill {acked_at_kill}, at the end "
        f"{sum(w.acked for w in walkers)}; replayed {len(waiting)}"
    )
    print(summary)
    assert not broken, f"{len(broken)} broken answers, first: {broken[:5]}\n{summary}"
    assert set(statuses["before"]) == {200}, summary
    assert set(statuses["outage"]) <= {200, 503}, summary  # 200: committed just before the kill
    assert statuses["outage"].get(503, 0) >= len(waiting), summary
    assert set(statuses["replay"]) <= {200, 503}, summary
    # Nearly every walker (all were under way) had its last message refused by the end.
    assert len(waiting) > RESPONDENTS // 2, summary
    assert not unanswered, f"replays still refused after Redis came back: {unanswered[:5]}"
    assert not problems, f"{len(problems)} respondents differ: {problems[:5]}\n{summary}"
    assert (crash := app.crash_log()) is None, crash
    assert app.proc is not None
    assert app.proc.poll() is None, "the app died"
