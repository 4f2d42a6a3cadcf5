"""store.client: commands packed by hiredis are byte for byte what redis-py's own packer sends."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import DataError

from store import connect
from store.client import _FastConnection, _FastUnixConnection
from tests.conftest import REAL_REDIS_URL, real_redis

python_packer = Connection()
hiredis_packer = _FastConnection()

args = st.one_of(
    st.text(),  # any Unicode, emoji and Gujarati included
    st.binary(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
)


def joined(chunks: list[bytes] | list[Any]) -> bytes:
    return b"".join(bytes(c) for c in chunks)


@given(st.sampled_from(["EVALSHA", "HSET", "SCRIPT LOAD", b"ZADD", b"CLIENT SETNAME"]),
       st.lists(args, max_size=30))  # fmt: skip
def test_same_bytes_as_redis_py(command: str | bytes, rest: list[Any]) -> None:
    assert joined(hiredis_packer.pack_command(command, *rest)) == joined(
        python_packer.pack_command(command, *rest)
    )


def test_big_memoryview_and_bytearray_arguments_too() -> None:
    big = "x" * 100_000
    view = memoryview(b"abc")
    array = bytearray(b"def")
    assert joined(hiredis_packer.pack_command("SET", "k", big, view, array)) == joined(
        python_packer.pack_command("SET", "k", big, view, array)
    )


@pytest.mark.parametrize("bad", [None, True, object()])
def test_what_redis_py_refuses_is_refused(bad: object) -> None:
    with pytest.raises(DataError):
        python_packer.pack_command("SET", "k", bad)  # type: ignore[arg-type]
    with pytest.raises(DataError):
        hiredis_packer.pack_command("SET", "k", bad)


def test_connect_uses_the_fast_classes_for_tcp_and_unix_sockets() -> None:
    tcp = connect("redis://127.0.0.1:6379/0")
    unix = connect("unix:///tmp/nowhere.sock")
    assert isinstance(tcp, Redis)
    assert isinstance(unix, Redis)
    assert tcp.connection_pool.connection_class is _FastConnection
    assert unix.connection_pool.connection_class is _FastUnixConnection
    assert issubclass(_FastUnixConnection, UnixDomainSocketConnection)


@pytest.mark.redis
async def test_a_real_server_understands_it() -> None:
    await (await real_redis()).aclose()  # skips (fails under CI) without a server
    client = connect(REAL_REDIS_URL)
    try:
        key = "sbtest-client:{x}:k"
        await client.set(key, "Gujarati: ગુજરાતી 🙂", ex=5)
        value = await client.get(key)
        assert isinstance(value, bytes)
        assert value.decode() == "Gujarati: ગુજરાતી 🙂"
        assert await client.eval("return {ARGV[1], ARGV[2]}", 0, 1.5, -7) == [b"1.5", b"-7"]
        await client.delete(key)
    finally:
        await client.aclose()
