"""A web process killed (SIGKILL) mid-request while another serves the same Redis.

Respondents answer by signed Twilio webhooks spread over two app processes, A and B (as a load
balancer would, so each process's session cache is often stale and the version-checked commit
must catch it). A is killed while requests are in flight; every request that got no answer is
retried, with its own MessageSid, on B, as Twilio's retry would be. Every step must then be
stored exactly once.

Two of the requests are held in A at a known point (tests/reliability/holdapp.py), so both sides
of the race are always covered, not only when the timing happens to fall that way:

* held *after* A committed the step, with the reply not yet sent: B must see the MessageSid as
  done and not step again (it answers with the current question again, since the reply of the
  step never arrived; the stored message count proves there was no second step);
* held *before* A touched Redis: B must apply the step, once.
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

from tests.conftest import delete_prefix
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

RESPONDENTS = 60
CONNECTIONS = 12
"""Per process."""
KILL_AFTER = RESPONDENTS * 6
"""Messages acknowledged before the kill (of 60 x 20)."""
AFTER_KILL = 3
"""Messages each respondent sends after the kill, the retried one included."""
HELD_AT = 4
"""Which message of the two held respondents A holds."""


@dataclass
class Walker:
    key: int
    number: str
    hold: str = ""
    acked: int = 0
    limit: int = len(SCRIPT)
    retried: int | None = None
    """The message that got no answer from A and was sent again to B."""
    retry_reply: str = ""
    """B's answer to that retry."""


async def test_killed_web_process_retried_on_another_applies_each_step_once(
    work: Path, redis_server: RedisServer, start_app: Callable[..., AppServer]
) -> None:
    flows = copy_flows(work / "flows")
    prefix = f"sbrel-{uuid.uuid4().hex[:8]}"
    env = app_env(redis_server.url, prefix, flows, work / "data")
    holds = work / "holds"
    holds.mkdir()
    a = start_app(
        {**env, "SURVEYBOT_TEST_HOLD_DIR": str(holds)},
        name="a",
        factory="tests.reliability.holdapp:create_app",
    )
    b = start_app(env, name="b")
    ref = await reference(flows)
    await asyncio.gather(asyncio.to_thread(a.wait_ready), asyncio.to_thread(b.wait_ready))

    run = uuid.uuid4().hex[:6]
    walkers = [Walker(i, phone(run, i)) for i in range(RESPONDENTS)]
    held = [
        Walker(0, phone(run, RESPONDENTS), hold="after"),
        Walker(1, phone(run, RESPONDENTS + 1), hold="before"),
    ]
    signer = Signer()
    to_a, to_b = Lanes(a.base_url, CONNECTIONS), Lanes(b.base_url, CONNECTIONS)
    held_a, held_b = Lanes(a.base_url, 2), Lanes(b.base_url, 2)
    killed = False
    broken: list[str] = []
    statuses: dict[str, dict[int, int]] = {"a": {}, "b": {}}

    async def walk(w: Walker, lanes_a: Lanes, lanes_b: Lanes) -> None:
        use_b = w.key % 2 == 1 and not w.hold
        while w.acked < w.limit:
            m = w.acked
            if killed:
                use_b = True
            body, headers = signer.sign(w.number, SCRIPT[m], message_sid(w.number, m, run))
            if w.hold and m == HELD_AT and not use_b:
                headers["X-Test-Hold"] = w.hold
            name = "b" if use_b else "a"
            try:
                r = await (lanes_b if use_b else lanes_a).post(w.key, body, headers)
            except httpx.TransportError as exc:
                if use_b or not killed:
                    broken.append(f"{w.number} message {m} to {name}: {exc!r}")
                    return
                w.retried = m  # no answer from A: Twilio retries, this time landing on B
                use_b = True
                continue
            statuses[name][r.status_code] = statuses[name].get(r.status_code, 0) + 1
            if r.status_code != 200:
                broken.append(f"{w.number} message {m} to {name}: {r.status_code} {r.text}")
                return
            if w.retried == m:
                w.retry_reply = r.text
            w.acked += 1
            if not w.hold:
                use_b = not use_b  # spread over both processes, as a load balancer does

    tasks = [asyncio.create_task(walk(w, to_a, to_b)) for w in walkers]
    tasks += [asyncio.create_task(walk(w, held_a, held_b)) for w in held]
    try:
        markers = [holds / f"{message_sid(w.number, HELD_AT, run)}.{w.hold}" for w in held]
        while sum(w.acked for w in walkers) < KILL_AFTER or not all(p.exists() for p in markers):
            assert not all(t.done() for t in tasks[:RESPONDENTS]), f"ended early: {broken[:3]}"
            assert a.proc is not None
            assert a.proc.poll() is None, a.output()
            await asyncio.sleep(0.005)
        for w in walkers:
            w.limit = min(len(SCRIPT), w.acked + AFTER_KILL)
        killed = True
        a.kill()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for lanes in (to_a, to_b, held_a, held_b):
            await lanes.aclose()

    async with Redis.from_url(redis_server.url) as client:
        acked = {w.number: w.acked for w in walkers + held}
        problems = await stored_differences(client, prefix, acked, ref)
        await delete_prefix(client, prefix)

    retried = [w for w in walkers if w.retried is not None]
    summary = (
        f"statuses {statuses}; {len(retried)} of {RESPONDENTS} respondents had a request "
        f"without answer retried on B"
    )
    print(summary)
    assert not broken, f"{broken[:5]}\n{summary}"
    after, before = held
    assert after.retried == HELD_AT, after
    assert before.retried == HELD_AT, before
    # Both retries are answered with a question; that each step is stored exactly once (no
    # second step for `after`, a first one for `before`) is what `problems` checks.
    assert "<Message>" in after.retry_reply, f"A had committed it, B said nothing: {after}"
    assert "<Message>" in before.retry_reply, f"A had not committed it, B did not step: {before}"
    assert not problems, f"{len(problems)} respondents differ: {problems[:5]}\n{summary}"
    assert after.acked == before.acked == len(SCRIPT)
    assert (crash := b.crash_log()) is None, crash
