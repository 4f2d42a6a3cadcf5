"""store.resp and store.tls: what store.multiplex sends and raises is what redis-py sends and
raises, built only from public APIs (hiredis' ``pack_command``, redis-py's exception classes and
connection options). These tests fail, naming the versions, when an upgrade changes either side.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import hiredis
import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st
from redis import exceptions as e
from redis.asyncio import Redis
from redis.asyncio.connection import Connection, SSLConnection

from store import connect
from store.multiplex import Multiplexed
from store.resp import error_from_reply, pack_command
from store.tls import tls_context
from tests.conftest import REAL_REDIS_URL, real_redis

VERSIONS = f"redis-py {redis.__version__}, hiredis {hiredis.__version__}"
python_packer = Connection()  # redis-py's own (pure Python) packer: the reference

args = st.one_of(
    st.text(),  # any Unicode, emoji and Gujarati included
    st.binary(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
)


def reference(*command: Any) -> bytes:
    return b"".join(bytes(c) for c in python_packer.pack_command(*command))


@given(st.sampled_from(["EVALSHA", "HSET", "SCRIPT LOAD", b"ZADD", b"CLIENT SETNAME"]),
       st.lists(args, max_size=30))  # fmt: skip
def test_same_bytes_as_redis_py(command: str | bytes, rest: list[Any]) -> None:
    assert pack_command((command, *rest)) == reference(command, *rest), VERSIONS


def test_big_memoryview_and_bytearray_arguments_too() -> None:
    big = "x" * 100_000
    view, array = memoryview(b"abc"), bytearray(b"def")
    assert pack_command(("SET", "k", big, view, array)) == reference("SET", "k", big, view, array)


@pytest.mark.parametrize("bad", [None, True, object()])
def test_what_redis_py_refuses_is_refused(bad: object) -> None:
    with pytest.raises(e.DataError):
        python_packer.pack_command("SET", "k", bad)  # type: ignore[arg-type]
    with pytest.raises(e.DataError):
        pack_command(("SET", "k", bad))


@pytest.mark.parametrize(
    ("reply", "cls", "message"),
    [
        ("NOSCRIPT No matching script.", e.NoScriptError, "No matching script."),
        ("LOADING Redis is loading the dataset in memory", e.BusyLoadingError, None),
        ("READONLY You can't write against a read only replica.", e.ReadOnlyError, None),
        ("OOM command not allowed when used memory > 'maxmemory'.", e.OutOfMemoryError, None),
        ("MOVED 3999 127.0.0.1:6381", e.MovedError, "3999 127.0.0.1:6381"),
        ("ASK 3999 127.0.0.1:6381", e.AskError, "3999 127.0.0.1:6381"),
        ("TRYAGAIN Multiple keys request during rehashing of slot", e.TryAgainError, None),
        ("CLUSTERDOWN The cluster is down", e.ClusterDownError, None),
        ("CROSSSLOT Keys in request don't hash to the same slot", e.ClusterCrossSlotError, None),
        ("MASTERDOWN Link with MASTER is down", e.MasterDownError, None),
        ("NOAUTH Authentication required.", e.AuthenticationError, None),
        ("WRONGPASS invalid username-password pair", e.AuthenticationError, None),
        ("NOPERM this user has no permissions", e.NoPermissionError, None),
        ("EXECABORT Transaction discarded", e.ExecAbortError, None),
        ("ERR max number of clients reached", e.ConnectionError, None),
        ("ERR unknown command 'NOPE'", e.ResponseError, "unknown command 'NOPE'"),
        ("WRONGTYPE Operation against a key holding the wrong kind of value", e.ResponseError,
         "WRONGTYPE Operation against a key holding the wrong kind of value"),
    ],
)  # fmt: skip
def test_error_replies_become_redis_py_exceptions(
    reply: str, cls: type, message: str | None
) -> None:
    error = error_from_reply(reply)
    assert type(error) is cls or (cls is e.ConnectionError and isinstance(error, cls)), VERSIONS
    if message is not None:
        assert str(error) == message
    if cls is e.MovedError:
        assert isinstance(error, e.MovedError)
        assert (error.slot_id, error.host, error.port) == (3999, "127.0.0.1", 6381)


@pytest.mark.redis
async def test_real_error_replies_raise_what_redis_py_raises() -> None:
    client = await real_redis()
    mux = Multiplexed.for_client(Redis.from_url(REAL_REDIS_URL))
    assert mux is not None
    key = "sbtest-resp:{x}:list"
    try:
        await client.rpush(key, "a")
        cases: list[tuple[tuple[Any, ...], Callable[[], Awaitable[Any]]]] = [
            (("EVALSHA", "0" * 40, 0), lambda: client.evalsha("0" * 40, 0)),
            (("GET", key), lambda: client.get(key)),
            (("EVAL", "return redis.error_reply('MY code')", 0),
             lambda: client.eval("return redis.error_reply('MY code')", 0)),
            (("EVAL", "return redis.call('NOPE')", 0), lambda: client.eval("return redis.call('NOPE')", 0)),
        ]  # fmt: skip
        for command, redis_py in cases:
            with pytest.raises(e.ResponseError) as theirs:
                await redis_py()
            with pytest.raises(e.ResponseError) as ours:
                await mux.execute_command(*command)
            assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value)), (
                f"{command[0]}: {VERSIONS}"
            )
    finally:
        await client.delete(key)
        await client.aclose()
        await mux.aclose()


# -- what store.multiplex reads of a redis-py client's settings -------------------------------------


def test_redis_py_pools_still_expose_the_settings_multiplex_reads() -> None:
    """Multiplexed.for_client reads ``client.connection_pool.connection_class`` and
    ``.connection_kwargs`` (the pool's constructor arguments). If an upgrade renames them, the
    per-message path would silently fall back to redis-py's pool: fail loudly here instead."""
    client = connect("redis://u:pw@127.0.0.1:6379/3?socket_timeout=4")
    assert isinstance(client, Redis)
    pool = client.connection_pool
    assert pool.connection_class is Connection, VERSIONS
    kwargs = pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("127.0.0.1", 6379, 3), VERSIONS
    assert (kwargs["username"], kwargs["password"]) == ("u", "pw"), VERSIONS
    assert kwargs["socket_timeout"] == 4.0, VERSIONS
    assert Multiplexed.for_client(client) is not None, VERSIONS


def test_the_tls_context_follows_redis_py_s_options(tmp_path: Any) -> None:
    url = "rediss://localhost:6380/0?ssl_cert_reqs=none"
    client = connect(url)
    assert isinstance(client, Redis)
    assert client.connection_pool.connection_class is SSLConnection, VERSIONS
    loose = tls_context(client.connection_pool.connection_kwargs)
    assert (loose.verify_mode, loose.check_hostname) == (ssl.CERT_NONE, False)
    strict = tls_context({})  # redis-py's defaults: certificates required, host names checked
    assert (strict.verify_mode, strict.check_hostname) == (ssl.CERT_REQUIRED, True)
    no_host = tls_context({"ssl_check_hostname": False, "ssl_min_version": ssl.TLSVersion.TLSv1_3})
    assert (no_host.check_hostname, no_host.minimum_version) == (False, ssl.TLSVersion.TLSv1_3)
    with pytest.raises(ValueError, match="ssl_cert_reqs"):
        tls_context({"ssl_cert_reqs": "sometimes"})
