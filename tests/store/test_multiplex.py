"""store.multiplex: many tasks' commands over one connection, each getting its own reply.

The protocol tests feed bytes to a connection without a server (replies split anywhere, error
replies, a reply nobody asked for); the rest talk to the real test server (marked ``redis``).
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import fakeredis
import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.exceptions import (
    BusyLoadingError,
    NoScriptError,
    ReadOnlyError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from store import KeyBuilder, RedisStore, connect
from store.client import retry_policy
from store.multiplex import NO_RETRY, ClusterMultiplexed, Multiplexed, _Protocol, multiplexed
from store.resp import pack_command
from store.scripts import Script
from tests.conftest import REAL_REDIS_URL, delete_prefix, missing, real_redis
from tests.support.cluster import free_port
from tests.support.roundtrips import RoundTripCounter

# -- the protocol, without a server ---------------------------------------------------------------


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def abort(self) -> None:
        self.closed = True


async def connected(wait: float = 5.0) -> tuple[_Protocol, FakeTransport]:
    proto = _Protocol(asyncio.get_running_loop(), wait)
    transport = FakeTransport()
    proto.connection_made(transport)  # type: ignore[arg-type]
    return proto, transport


async def test_commands_of_one_turn_go_in_one_write_and_replies_are_matched_in_order() -> None:
    proto, transport = await connected()
    futures = [proto.send(pack_command(("GET", f"k{i}"))) for i in range(3)]
    await asyncio.sleep(0)
    assert transport.written == [b"".join(pack_command(("GET", f"k{i}")) for i in range(3))]
    proto.data_received(b"$2\r\nv0\r\n:7\r\n*2\r\n$1\r\na\r\n$-1\r\n")
    assert [f.result() for f in futures] == [b"v0", 7, [b"a", None]]


@given(cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=8))
def test_replies_split_anywhere_are_reassembled(cuts: list[int]) -> None:
    async def run() -> None:
        proto, _ = await connected()
        futures = [proto.send(b"x") for _ in range(4)]
        wire = b"$5\r\nhello\r\n+OK\r\n-ERR wrong\r\n*2\r\n:1\r\n$3\r\n\xf0\x9f\x99\r\n"
        points = sorted({min(c, len(wire)) for c in cuts} | {0, len(wire)})
        for a, b in itertools.pairwise(points):
            proto.data_received(wire[a:b])
        assert futures[0].result() == b"hello"
        assert futures[1].result() == b"OK"
        assert isinstance(futures[2].exception(), ResponseError)
        assert futures[3].result() == [1, b"\xf0\x9f\x99"]

    asyncio.run(run())


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        (b"-NOSCRIPT No matching script. Please use EVAL.\r\n", NoScriptError),
        (b"-LOADING Redis is loading the dataset in memory\r\n", BusyLoadingError),
        (b"-READONLY You can't write against a read only replica.\r\n", ReadOnlyError),
        (b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", ResponseError),
    ],
)
async def test_error_replies_raise_what_redis_py_raises(wire: bytes, error: type) -> None:
    proto, _ = await connected()
    failing, after = proto.send(b"x"), proto.send(b"y")
    proto.data_received(wire + b"+OK\r\n")
    assert type(failing.exception()) is error
    assert after.result() == b"OK"  # one error reply does not put the stream out of step


async def test_a_lost_connection_fails_every_waiting_command() -> None:
    proto, _ = await connected()
    futures = [proto.send(b"x") for _ in range(3)]
    proto.data_received(b"+OK\r\n")
    proto.connection_lost(ConnectionResetError("reset by peer"))
    assert futures[0].result() == b"OK"
    assert all(isinstance(f.exception(), RedisConnectionError) for f in futures[1:])
    with pytest.raises(RedisConnectionError):
        proto.send(b"x")


@pytest.mark.parametrize("wire", [b"+OK\r\n", b"!garbage\r\n"])
async def test_a_reply_out_of_step_drops_the_connection(wire: bytes) -> None:
    proto, transport = await connected()
    if wire == b"!garbage\r\n":
        waiting = proto.send(b"x")
        proto.data_received(wire)  # not RESP: a protocol error
        assert isinstance(waiting.exception(), RedisConnectionError)
    else:
        proto.data_received(wire)  # a reply nobody asked for
    assert transport.closed
    assert isinstance(proto.error, RedisConnectionError)


async def test_a_cancelled_caller_does_not_take_the_next_reply() -> None:
    proto, _ = await connected()
    first, second = proto.send(b"x"), proto.send(b"y")
    first.cancel()
    proto.data_received(b"$1\r\na\r\n$1\r\nb\r\n")
    assert second.result() == b"b"


async def test_no_reply_within_the_timeout_fails_the_waiting_commands() -> None:
    proto, transport = await connected(wait=0.05)
    waiting = proto.send(b"x")
    with pytest.raises(RedisTimeoutError):
        await waiting
    assert transport.closed


# -- which clients get one ------------------------------------------------------------------------


def test_single_server_clients_are_multiplexed_and_others_are_not(tmp_path: Path) -> None:
    assert Multiplexed.for_client(connect("redis://127.0.0.1:6379/3")) is not None
    assert Multiplexed.for_client(Redis.from_url("redis://u:pw@127.0.0.1:6379/2")) is not None
    unix = Multiplexed.for_client(connect(f"unix://{tmp_path}/r.sock?db=4"))
    assert unix is not None
    assert (unix.path, unix.db) == (f"{tmp_path}/r.sock", 4)
    assert Multiplexed.for_client(fakeredis.FakeAsyncRedis()) is None
    tls = Multiplexed.for_client(connect("rediss://127.0.0.1:6379/0"))
    assert tls is not None
    assert tls.ssl is not None  # redis-py's own context for the URL's ssl_* options
    assert Multiplexed.for_client(Redis.from_url(REAL_REDIS_URL, decode_responses=True)) is None
    assert Multiplexed.for_client(Redis.from_url(REAL_REDIS_URL, protocol=3)) is None
    assert Multiplexed.for_client(connect("redis+cluster://127.0.0.1:7000")) is None
    settings = Multiplexed.for_client(Redis.from_url(
        "redis://u:pw@h:7/2?socket_timeout=3&socket_connect_timeout=1"
    ))  # fmt: skip
    assert settings is not None
    assert (settings.host, settings.port, settings.db) == ("h", 7, 2)
    assert (settings.username, settings.password) == ("u", "pw")
    assert (settings.timeout, settings.connect_timeout) == (3.0, 1.0)


def test_a_store_on_fakeredis_has_no_hot_connection() -> None:
    store = RedisStore(fakeredis.FakeAsyncRedis(), secret=b"s")
    assert store.hot is None
    assert RedisStore(connect(REAL_REDIS_URL), secret=b"s", multiplex=False).hot is None


# -- against the real server ----------------------------------------------------------------------


def real_url(
    db: int | None = None, username: str | None = None, password: str | None = None
) -> str:
    """``REAL_REDIS_URL`` with another database, or other credentials."""
    url = urlsplit(REAL_REDIS_URL)
    netloc = url.netloc
    if username is not None:
        netloc = f"{username}:{password or ''}@{netloc.rpartition('@')[2]}"
    path = url.path if db is None else f"/{db}"
    return urlunsplit((url.scheme, netloc, path, url.query, url.fragment))


def real_mux(
    url: str = REAL_REDIS_URL, *, retry: Retry | None = None, timeout: float | None = None
) -> Multiplexed:
    """A multiplexed connection to the real test server as the store builds it, with its
    ``retry`` and reply ``timeout`` changed if given."""
    m = Multiplexed.for_client(connect(url))
    assert m is not None
    if retry is not None:
        m.retry = retry
    if timeout is not None:
        m.timeout = timeout
    return m


@pytest.fixture
async def server(key_prefix: str) -> AsyncIterator[Redis]:
    client = await real_redis()
    yield client
    await delete_prefix(client, key_prefix)
    await client.aclose()


@pytest.fixture
async def mux(server: Redis) -> AsyncIterator[Multiplexed]:
    m = real_mux()
    yield m
    await m.aclose()


@pytest.mark.redis
async def test_many_tasks_share_the_connection_and_each_gets_its_own_reply(
    mux: Multiplexed, server: Redis, key_prefix: str
) -> None:
    async def one(i: int) -> tuple[Any, ...]:
        key = f"{key_prefix}:k{i}"
        await mux.execute_command("SET", key, f"v{i}")
        got = await mux.execute_command("GET", key)
        n = await mux.execute_command("INCRBY", f"{key_prefix}:n", i)
        return got, isinstance(n, int)

    results = await asyncio.gather(*(one(i) for i in range(1000)))
    assert results == [(f"v{i}".encode(), True) for i in range(1000)]
    assert await server.get(f"{key_prefix}:n") == str(sum(range(1000))).encode()
    ids = await asyncio.gather(*(mux.execute_command("CLIENT", "ID") for _ in range(100)))
    assert len(set(ids)) == 1  # one connection


@pytest.mark.redis
async def test_a_big_reply_and_emoji_arrive_whole(mux: Multiplexed, key_prefix: str) -> None:
    big = ("🙂 carer " * 300_000).encode()  # ~3.3 MB: many reads
    await mux.execute_command("SET", f"{key_prefix}:big", big)
    small = mux.execute_command("ECHO", "after")
    assert await mux.execute_command("GET", f"{key_prefix}:big") == big
    assert await small == b"after"


@pytest.mark.redis
async def test_execute_many_sends_together_and_raises_the_first_error_after_all(
    mux: Multiplexed, server: Redis, key_prefix: str
) -> None:
    await server.set(f"{key_prefix}:s", "text")
    with pytest.raises(ResponseError):
        await mux.execute_many([
            ("SET", f"{key_prefix}:a", 1),
            ("INCR", f"{key_prefix}:s"),  # not an integer
            ("SET", f"{key_prefix}:b", 2),
        ])  # fmt: skip
    assert await server.mget(f"{key_prefix}:a", f"{key_prefix}:b") == [b"1", b"2"]
    assert await mux.execute_many([("GET", f"{key_prefix}:a"), ("EXISTS", "nope")]) == [b"1", 0]
    assert await mux.execute_many([]) == []


@pytest.mark.redis
async def test_scripts_fall_back_to_eval_through_it(mux: Multiplexed, key_prefix: str) -> None:
    script = Script(f"-- {uuid.uuid4()}\nreturn redis.call('INCR', KEYS[1])")
    with RoundTripCounter(mux) as rt:
        assert await script(mux, [f"{key_prefix}:c"], []) == 1  # NOSCRIPT, then EVAL
        assert await script(mux, [f"{key_prefix}:c"], []) == 2  # EVALSHA
        assert rt.take() == 3


@pytest.mark.redis
async def test_a_killed_connection_is_replaced_and_the_command_retried(
    mux: Multiplexed, server: Redis
) -> None:
    first = await mux.execute_command("CLIENT", "ID")
    assert await server.client_kill_filter(_id=first) == 1
    await asyncio.sleep(0.05)  # the close reaches the client
    assert await mux.execute_command("PING") == b"PONG"
    assert await mux.execute_command("CLIENT", "ID") != first


@pytest.mark.redis
async def test_commands_in_flight_when_the_connection_dies_fail_with_connection_error(
    server: Redis, key_prefix: str
) -> None:
    mux = real_mux(retry=NO_RETRY)
    me = await mux.execute_command("CLIENT", "ID")
    blocked = asyncio.ensure_future(mux.execute_command("BLPOP", f"{key_prefix}:none", 5))
    queued = asyncio.ensure_future(mux.execute_command("PING"))  # behind the BLPOP
    await asyncio.sleep(0.1)
    await server.client_kill_filter(_id=me)
    for task in (blocked, queued):
        with pytest.raises(RedisConnectionError):
            await task
    assert await mux.execute_command("PING") == b"PONG"  # a new connection
    await mux.aclose()


@pytest.mark.redis
async def test_a_reply_that_never_comes_times_out_and_the_next_command_works(
    server: Redis, key_prefix: str
) -> None:
    mux = real_mux(retry=NO_RETRY, timeout=0.2)
    with pytest.raises(RedisTimeoutError):  # BLPOP itself would answer nil after 3 s
        await mux.execute_command("BLPOP", f"{key_prefix}:none", 3)
    assert await mux.execute_command("PING") == b"PONG"
    await mux.aclose()


async def test_no_server_is_a_connection_error_after_the_retries() -> None:
    mux = Multiplexed(host="127.0.0.1", port=1, retry=retry_policy(1), connect_timeout=1)
    with pytest.raises(RedisConnectionError, match="Error connecting"):
        await mux.execute_command("PING")


@pytest.mark.redis
async def test_database_and_credentials_from_the_url(server: Redis, key_prefix: str) -> None:
    user, password = f"sbtest-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    await server.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=["*"],
                             commands=["+@all"])  # fmt: skip
    try:
        mux = real_mux(real_url(db=5, username=user, password=password))
        await mux.execute_command("SET", f"{key_prefix}:db", "five")
        assert await mux.execute_command("ACL", "WHOAMI") == user.encode()
        await mux.aclose()
        db5 = Redis.from_url(real_url(db=5))
        assert await db5.getdel(f"{key_prefix}:db") == b"five"
        await db5.aclose()
        assert await server.get(f"{key_prefix}:db") is None  # not in database 0
        wrong = real_mux(real_url(username=user, password="wrong"), retry=NO_RETRY)
        with pytest.raises(RedisConnectionError):  # AuthenticationError is one
            await wrong.execute_command("PING")
    finally:
        await server.acl_deluser(user)


@pytest.mark.redis
def test_each_event_loop_gets_its_own_connection(key_prefix: str) -> None:
    asyncio.run(_ping_or_skip())
    mux = real_mux()
    assert asyncio.run(mux.execute_command("ECHO", "one")) == b"one"
    assert asyncio.run(mux.execute_command("ECHO", "two")) == b"two"  # a new loop


async def _ping_or_skip() -> None:
    await (await real_redis()).aclose()


@pytest.mark.redis
async def test_the_store_counts_the_same_round_trips_through_it(
    server: Redis, key_prefix: str
) -> None:
    store = RedisStore(connect(REAL_REDIS_URL), secret=b"s", keys=KeyBuilder(prefix=key_prefix))
    assert store.hot is not None
    with RoundTripCounter(store.redis, store.hot) as rt:
        await store.load("r1", "m1")
        assert rt.take() in (1, 2)  # (EVALSHA, EVAL on a cold script cache)
    await store.close()


# -- TLS (rediss://): a local redis-server with a throwaway CA ------------------------------------


def _run(*cmd: str, cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """A TLS-only redis-server on a free port; its CA certificate's path."""
    if shutil.which("redis-server") is None or shutil.which("openssl") is None:
        missing("redis-server and openssl are needed for the TLS tests")
    d = tmp_path_factory.mktemp("tls")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _run("openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
         "-subj", "/CN=surveybot test CA", cwd=d)  # fmt: skip
    _run("openssl", "req", *ec, "-keyout", "server.key", "-out", "server.csr",
         "-subj", "/CN=localhost", cwd=d)  # fmt: skip
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf", cwd=d)  # fmt: skip
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", "server.crt", "--tls-key-file", "server.key",
         "--tls-ca-cert-file", "ca.crt", "--tls-auth-clients", "no",
         "--save", "", "--appendonly", "no"],
        cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    missing("the local TLS redis-server did not start")
                time.sleep(0.05)
        yield port, d / "ca.crt"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_tls_uses_the_context_redis_py_builds_from_the_url(
    tls_server: tuple[int, Path],
) -> None:
    port, ca = tls_server
    url = f"rediss://localhost:{port}/0?ssl_cert_reqs=required&ssl_ca_certs={ca}"
    client = connect(url)
    mux = Multiplexed.for_client(client)
    assert mux is not None
    assert mux.ssl is not None
    assert mux.ssl.verify_mode is ssl.CERT_REQUIRED
    await mux.execute_command("SET", "tls:k", "over TLS 🙂")
    assert await client.get("tls:k") == "over TLS 🙂".encode()  # the same server, via redis-py
    assert await mux.execute_many([("GET", "tls:k"), ("DEL", "tls:k")]) == [
        "over TLS 🙂".encode(),
        1,
    ]
    await mux.aclose()
    await client.aclose()


async def test_tls_refuses_a_server_it_cannot_verify(tls_server: tuple[int, Path]) -> None:
    port, _ = tls_server
    # Required verification against the system CAs only: the test CA is not among them.
    mux = Multiplexed.for_client(connect(f"rediss://localhost:{port}/0?ssl_cert_reqs=required"))
    assert mux is not None
    mux.retry = NO_RETRY
    with pytest.raises(RedisConnectionError, match="certificate verify failed"):
        await mux.execute_command("PING")
    # The plain TCP client cannot talk to a TLS port either: a clean error, never a hang.
    plain = Multiplexed(host="127.0.0.1", port=port, retry=NO_RETRY, timeout=0.5)
    with pytest.raises((RedisConnectionError, RedisTimeoutError)):
        await plain.execute_command("PING")
    await plain.aclose()


# -- Redis Cluster: one connection per master ------------------------------------------------------


@pytest.mark.cluster
async def test_cluster_scripts_go_to_the_master_of_their_slot(
    cluster: RedisCluster, key_prefix: str
) -> None:
    hot = multiplexed(cluster)
    assert isinstance(hot, ClusterMultiplexed)
    script = Script(f"-- {uuid.uuid4()}\nreturn redis.call('INCR', KEYS[1])")
    try:
        with RoundTripCounter(cluster) as rt:
            for i in range(30):
                assert await script(hot, [f"{key_prefix}:{{r{i}}}:n"], [], source=True) == 1
            assert rt.take() == 0  # none through the cluster client
        for i in range(30):
            assert await cluster.get(f"{key_prefix}:{{r{i}}}:n") == b"1"
        assert len([n for n in hot.nodes.values() if n is not None]) == 3  # one per master
        assert await hot.execute_command("PING") in (True, b"PONG")  # not a script: redis-py
    finally:
        await hot.aclose()


@pytest.mark.cluster
async def test_cluster_a_moved_slot_is_followed_through_redis_py(
    cluster: RedisCluster, key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hot = multiplexed(cluster)
    assert isinstance(hot, ClusterMultiplexed)
    key = f"{key_prefix}:{{moved}}:n"
    owner = cluster.nodes_manager.get_node_from_slot(cluster.keyslot(key))
    wrong = next(n for n in cluster.get_primaries() if n.name != owner.name)
    # A stale slot map (as after a resharding): the script goes to the wrong master first.
    to_wrong = Multiplexed.for_settings(
        wrong.connection_class, wrong.connection_kwargs, host=wrong.host, port=wrong.port, db=0
    )
    assert to_wrong is not None
    monkeypatch.setattr(hot, "_node", lambda args: to_wrong)
    try:
        with RoundTripCounter(cluster) as rt:
            got = await hot.execute_command("EVAL", "return redis.call('INCR', KEYS[1])", 1, key)
            assert rt.take() == 1  # the fallback through the cluster client
        assert got == 1
        assert await cluster.get(key) == b"1"  # written once, on the right master
    finally:
        await to_wrong.aclose()
        await hot.aclose()
