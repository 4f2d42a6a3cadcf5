"""Redis Cluster: the URL, a node killed and restarted mid-run, and how the keys spread.

The rest of the store's tests (and the reminder worker's, the export's and the delivery log's)
also run on the local cluster through the ``cluster`` parameter of ``redis_client``. These are
the checks only a cluster has. They share the session's 3-master cluster (``redis_cluster``).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from bot.errors import ConflictError, StoreError
from bot.models import Session
from store import KeyBuilder, RedisStore, connect
from store.client import is_cluster_url, parse_cluster_url
from store.scheduler import ReminderQueue
from tests.conftest import cluster_client, delete_prefix, eventually
from tests.store.conftest import NOW, SECRET, answer, make_flow, new_session
from tests.support.cluster import LocalCluster

# -- the URL (no server needed) -------------------------------------------------------------------


def test_cluster_url_forms() -> None:
    assert is_cluster_url("redis+cluster://h:7000")
    assert is_cluster_url("REDISS+CLUSTER://h:7000")
    assert not is_cluster_url("redis://h:6379/0")
    assert not is_cluster_url(None)
    nodes, opts = parse_cluster_url("redis+cluster://h1:7000,h2:7001, h3")
    assert nodes == [("h1", 7000), ("h2", 7001), ("h3", 6379)]
    assert opts == {}
    nodes, opts = parse_cluster_url(
        "rediss+cluster://bot:s%40cret@10.0.0.1:7000,10.0.0.2:7000/0?socket_timeout=3"
    )
    assert nodes == [("10.0.0.1", 7000), ("10.0.0.2", 7000)]
    assert opts == {"username": "bot", "password": "s@cret", "socket_timeout": 3.0, "ssl": True}
    assert parse_cluster_url("redis+cluster://[::1]:7000")[0] == [("::1", 7000)]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+cluster://h:7000/2", "only database 0"),
        ("redis+cluster://", "at least one"),
        ("redis+cluster://h:port", "bad cluster node"),
        ("redis://h:6379", "not a cluster URL"),
    ],
)
def test_bad_cluster_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_cluster_url(url)


async def test_connect_builds_a_cluster_client_only_for_a_cluster_url() -> None:
    cluster = connect("redis+cluster://127.0.0.1:7000,127.0.0.1:7001")
    single = connect("redis://127.0.0.1:6379/0")
    try:
        assert isinstance(cluster, RedisCluster)
        assert [(n.host, n.port) for n in cluster.startup_nodes] == [
            ("127.0.0.1", 7000),
            ("127.0.0.1", 7001),
        ]
        assert isinstance(single, Redis)
    finally:
        await cluster.aclose()
        await single.aclose()


async def test_unreachable_cluster_raises_store_error(unused_tcp_port: int) -> None:
    store = RedisStore(connect(f"redis+cluster://127.0.0.1:{unused_tcp_port}"), secret=SECRET)
    flow = make_flow()
    rid = store.respondent("sms", "+447700900123")
    with pytest.raises(StoreError, match="Redis"):
        await store.load(rid, "m1")
    step = answer(new_session(rid, flow), "role", "carer")
    with pytest.raises(StoreError):
        await store.commit(step, expected_rev=0, message_id="m1", flow=flow, now=NOW)
    assert not await store.ping()
    await store.close()


# -- on the local cluster -------------------------------------------------------------------------


@pytest.mark.cluster
async def test_prepare_loads_the_scripts_on_every_master(
    redis_cluster: LocalCluster, cluster: RedisCluster, key_prefix: str
) -> None:
    store = RedisStore(cluster, secret=SECRET, keys=KeyBuilder(prefix=key_prefix))
    queue = ReminderQueue(cluster, store.keys)
    await store.prepare()
    await queue.prepare()
    from store.redis_store import _COMMIT, _LOAD
    from store.scheduler import _CLAIM, _FINISH

    shas = [s.sha for s in (_COMMIT, _LOAD, _CLAIM, _FINISH)]
    for node in redis_cluster.nodes:
        with node.client() as c:
            assert c.script_exists(*shas) == [True] * 4, node.address


def port_of(client: RedisCluster, key: str) -> int:
    """The port of the master that holds ``key``."""
    node = client.get_node_from_key(key)
    assert node is not None
    return int(node.port)


@dataclass
class Ledger:
    """What the writers were told was committed (the only answers that must survive)."""

    acked: dict[str, Session] = field(default_factory=dict)
    failures: int = 0
    after_restart: Counter[int] = field(default_factory=Counter)  # port -> commits after restart


@pytest.mark.cluster
async def test_a_master_killed_and_restarted_mid_run_keeps_every_committed_answer(
    redis_cluster: LocalCluster,
) -> None:
    """Writers commit answers continuously; one master is SIGKILLed and restarted from its
    append-only file (``appendfsync always`` for this test) while they run. Every commit that returned is
    in Redis afterwards, the client finds the node again by itself (no new client), and the
    writers go on committing to every master, the restarted one included."""
    prefix = "sbfailover"
    redis_cluster.set_appendfsync("always")  # every acknowledged write is on disk
    client = await cluster_client(redis_cluster)
    store = RedisStore(client, secret=SECRET, keys=KeyBuilder(prefix=prefix))
    flow = make_flow("failover")
    questions = ["role", "hours", "say"]
    rids = [store.respondent("sms", f"+4477009{i:05d}") for i in range(120)]
    node_of = {rid: port_of(client, store.keys.session(rid)) for rid in rids}
    victim = 1
    victim_port = redis_cluster.nodes[victim].port
    assert victim_port in node_of.values()
    ledger = Ledger()
    restarted = asyncio.Event()
    stop = asyncio.Event()

    async def writer(rid: str) -> None:
        session: Session | None = None
        n = 0
        while not stop.is_set():
            # After a failure, reload: the commit may or may not have landed (at-least-once).
            if session is None:
                try:
                    session = (await store.load(rid)).session
                except StoreError:
                    ledger.failures += 1
                    await asyncio.sleep(0.05)
                    continue
            base = session or new_session(rid, flow)
            qid = questions[n % len(questions)]
            now = NOW + timedelta(seconds=n)
            step = answer(base, qid, f"{rid[:6]}-{n}", now)
            try:
                session = await store.commit(
                    step, expected_rev=base.rev, message_id=f"m{n}", flow=flow, now=now
                )
            except ConflictError:
                session = None  # the lost-ack case: it was stored, reload and go on
                n += 1
                continue
            except StoreError:
                ledger.failures += 1
                session = None
                await asyncio.sleep(0.05)
                continue
            ledger.acked[rid] = session
            if restarted.is_set():
                ledger.after_restart[node_of[rid]] += 1
            n += 1
            await asyncio.sleep(0.01)

    tasks = [asyncio.create_task(writer(r)) for r in rids]
    try:
        await eventually(lambda: len(ledger.acked) == len(rids))  # every writer committed once
        acked_before = dict(ledger.acked)
        assert len(acked_before) == len(rids)
        failures_before = ledger.failures
        await asyncio.to_thread(redis_cluster.kill, victim)
        await eventually(lambda: ledger.failures > failures_before)  # the writers saw the outage
        t = time.monotonic()
        await asyncio.to_thread(redis_cluster.restart, victim)
        healed_in = time.monotonic() - t
        restarted.set()
        # Until every master, the restarted one included, took a commit again.
        await eventually(lambda: set(ledger.after_restart) == set(node_of.values()))
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        if redis_cluster.nodes[victim].process is None:  # the test failed mid-way
            await asyncio.to_thread(redis_cluster.restart, victim)
    try:
        assert ledger.failures > 0  # the outage was real
        assert ledger.after_restart[victim_port] > 0  # the client found the node again
        assert set(ledger.after_restart) == set(node_of.values())
        for rid in rids:
            stored = await store.load(rid)
            acked = ledger.acked[rid]
            assert stored.session is not None
            assert stored.rev >= acked.rev  # nothing acknowledged was lost...
            assert acked.rev >= acked_before[rid].rev
            response = await store.response(rid, flow.id)
            assert response is not None
            for qid, value in acked.answers.items():
                assert qid in response.answers  # ...and the answers are there
                if stored.rev == acked.rev:
                    assert response.answers[qid].value == value
        assert await store.count_responses(flow.id) == len(rids)
        print(
            f"\nrestart: {ledger.failures} failed commits during the outage, cluster healthy "
            f"{healed_in:.1f} s after restart, {sum(ledger.after_restart.values())} commits after"
            f" ({ledger.after_restart[victim_port]} on the restarted node)"
        )
    finally:
        await delete_prefix(client, prefix)
        await client.aclose()
        redis_cluster.set_appendfsync("everysec")


@pytest.mark.cluster
async def test_ten_thousand_respondents_spread_over_the_masters(
    redis_cluster: LocalCluster, record_property: Callable[[str, object], None]
) -> None:
    """10,000 respondents through the real commit path (first answer: index + reminder queue +
    commit script), with the production key prefix and a real flow id. No master may hold more
    than half the keys, and the flow's index and due shards must sit on every master."""
    prefix = "sb"
    client = await cluster_client(redis_cluster)
    await delete_prefix(client, prefix)  # a private cluster; clean slate for DBSIZE
    store = RedisStore(client, secret=SECRET, keys=KeyBuilder(prefix=prefix))
    flow = make_flow("carers-strategy")
    n = 10_000
    sem = asyncio.Semaphore(200)

    async def one(i: int) -> None:
        rid = store.respondent("sms", f"+44770{i:07d}")
        step = answer(new_session(rid, flow), "role", "carer")
        async with sem:
            await store.commit(step, expected_rev=0, message_id="m1", flow=flow, now=NOW)

    t = time.monotonic()
    try:
        await store.remember_questions(flow)
        await asyncio.gather(*(one(i) for i in range(n)))
        took = time.monotonic() - t
        assert await store.count_responses(flow.id) == n
        ours: dict[int, int] = {}
        shards: dict[int, int] = {}
        for node in redis_cluster.nodes:
            with node.client() as c:
                keys = list(c.scan_iter(match=f"{prefix}:*", count=5000))
            ours[node.port] = len(keys)
            shards[node.port] = sum(":idx:" in k or ":due:" in k for k in keys)
        sizes = redis_cluster.dbsize()
        slots = redis_cluster.slots()
        total = sum(ours.values())
        # s, r per respondent (the dedupe record and rate counter live in s, the flows a
        # respondent answered are the flow ids set's); idx+due shards; qids, flowids
        assert total == 2 * n + 2 * store.keys.shards + 2
        share = {port: count / total for port, count in ours.items()}
        line = "; ".join(
            f"slots {slots[port]}: {ours[port]:,} keys ({share[port]:.1%}, DBSIZE {sizes[port]:,}),"
            f" {shards[port]} of the {2 * store.keys.shards} index/due shards"
            for port in sorted(ours, key=lambda p: int(slots[p].split("-")[0]))
        )
        print(f"\n{n:,} respondents committed in {took:.1f} s; {total:,} keys: {line}")
        record_property("cluster_key_spread", line)
        assert max(share.values()) <= 0.5
        assert all(count > 0 for count in shards.values())
    finally:
        await delete_prefix(client, prefix)
        await client.aclose()
