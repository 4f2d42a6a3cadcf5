"""Many concurrent commands over one Redis connection (auto-pipelining), for the per-message path.

redis-py gives each command a connection from its pool and waits for the reply before that
connection serves another: about 30 us of CPU per command in a web process (measured with 32
concurrent callers; see BENCHMARKS.md), more than the rest of a webhook's Redis work. redis-py
has no auto-pipelining (redis/redis-py#3767), and coredis, which multiplexes, measured 45-60 us
per command here. But Redis answers the commands of one connection in order, so the commands of
any number of tasks can share one connection: each goes into a buffer, everything issued in one
turn of the event loop is sent in one write, and each reply read belongs to the oldest command
still waiting. That costs 2-5 us per command, and Redis too reads and writes less often.

:class:`Multiplexed` carries the store's per-message commands (LOAD, COMMIT, THROTTLE, the first
message's index entries) on one Redis server (``redis://``, ``rediss://`` with the TLS context
redis-py builds from the URL's options, or ``unix://``); on a Redis Cluster,
:class:`ClusterMultiplexed` keeps one per master. Everything else (exports, erasure, SCAN, the
reminder worker's claims) stays on redis-py's pool: a long reply on the shared connection would
hold up every message behind it. RESP3, ``decode_responses`` or a credential provider keep
redis-py for everything (:func:`multiplexed` says None).

Failures, as redis-py's (the same exception classes, so ``store.client.redis_errors`` maps them):

* the connection drops: every command in flight fails with ``ConnectionError``; the next command
  connects again;
* no reply within ``timeout`` seconds: every command in flight fails with ``TimeoutError`` and
  the connection is dropped (a half-open connection would otherwise hang them all);
* both are retried by a redis-py ``Retry`` (the pool's own, from the client's settings): every command sent this way is safe to repeat (the commit is version- and
  message-id-checked, the rest idempotent);
* an error reply raises what redis-py raises for it (``NoScriptError``, ``ResponseError``...;
  see :mod:`store.resp`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from ssl import SSLContext
from typing import Any, TypeVar, cast

import hiredis
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MasterDownError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from store.client import retry_policy
from store.resp import error_from_reply, pack_command
from store.tls import tls_context

Command = Sequence[Any]
_T = TypeVar("_T")

_REPRODUCIBLE = {Connection, SSLConnection, UnixDomainSocketConnection}
"""Connection classes whose settings this module can reproduce: TCP, TLS or a unix socket
(fakeredis' connection class subclasses ``Connection`` too, hence a fixed set)."""


class _Protocol(asyncio.Protocol):
    """One connection: commands are buffered until the loop's next turn, replies matched FIFO."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.loop = loop
        self.timeout = timeout
        self.reader = hiredis.Reader()
        self.waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self.buffer: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.error: Exception | None = None  # set once the connection is unusable
        self._flushing: asyncio.Handle | None = None
        self._timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        waiting = self.waiting
        while True:
            try:
                reply = self.reader.gets()
            except hiredis.ProtocolError as exc:
                self.fail(RedisConnectionError(f"Redis protocol error: {exc}"))
                return
            if reply is False:
                return
            if not waiting:  # a reply nobody asked for: the stream is out of step
                self.fail(RedisConnectionError("unexpected reply from Redis"))
                return
            future, _ = waiting.popleft()
            if future.done():  # its caller was cancelled
                continue
            if isinstance(reply, hiredis.ReplyError):
                future.set_exception(error_from_reply(str(reply)))
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(RedisConnectionError(f"Connection closed by server: {exc or 'EOF'}"))

    # -- commands ------------------------------------------------------------------------------

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        if self.error is not None:
            raise _fresh(self.error)
        future = self.loop.create_future()
        self.waiting.append((future, self.loop.time()))
        self.buffer.append(packed)
        if self._flushing is None:
            self._flushing = self.loop.call_soon(self._flush)
        if self._timer is None:
            self._timer = self.loop.call_later(self.timeout, self._check_timeout)
        return future

    def _flush(self) -> None:
        self._flushing = None
        data, self.buffer = b"".join(self.buffer), []
        if self.error is not None or self.transport is None:
            return
        try:
            self.transport.write(data)
        except Exception as exc:  # a transport closed under us (uvloop raises RuntimeError)
            self.fail(RedisConnectionError(f"Error writing to Redis: {exc}"))

    def _check_timeout(self) -> None:
        self._timer = None
        if not self.waiting or self.error is not None:
            return
        overdue = self.waiting[0][1] + self.timeout - self.loop.time()
        if overdue <= 0:
            self.fail(RedisTimeoutError(f"Timeout reading from Redis ({self.timeout:g} s)"))
        else:
            self._timer = self.loop.call_later(overdue, self._check_timeout)

    def fail(self, error: Exception) -> None:
        """Make the connection unusable: fail every waiting command and close the socket."""
        if self.error is None:
            self.error = error
        self.buffer.clear()
        for future, _ in self.waiting:
            if not future.done():
                future.set_exception(_fresh(self.error))
        self.waiting.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()


class Multiplexed:
    """Commands of concurrent tasks over one connection to one Redis server.

    The connection opens on the first command and again after a failure; it belongs to the event
    loop that opened it (a command from another loop opens its own).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 6379,
        path: str | None = None,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 5.0,
        connect_timeout: float = 2.0,
        retry: Retry | None = None,
        ssl: SSLContext | None = None,
    ) -> None:
        self.host, self.port, self.path = host, port, path
        self.ssl = ssl
        self.db, self.username, self.password = db, username, password
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retry = retry or retry_policy()
        self._proto: _Protocol | None = None
        self._opening: asyncio.Future[_Protocol] | None = None

    @classmethod
    def for_client(cls, client: object) -> Multiplexed | None:
        """One for the server of a redis-py client (same address, database, credentials, TLS and
        timeouts), or None when that client's settings are not ones this module reproduces."""
        if type(client) is not Redis:  # not fakeredis, not a cluster
            return None
        pool = client.connection_pool
        return cls.for_settings(pool.connection_class, pool.connection_kwargs)

    @classmethod
    def for_settings(
        cls, connection_class: type[Any], kwargs: dict[str, Any], **override: Any
    ) -> Multiplexed | None:
        """One for redis-py connection settings (a pool's or a cluster node's), or None."""
        if connection_class not in _REPRODUCIBLE or kwargs.get("decode_responses"):
            return None
        if kwargs.get("protocol") not in (None, 2, "2"):
            return None
        if kwargs.get("credential_provider") or kwargs.get("redis_connect_func"):
            return None
        settings: dict[str, Any] = {
            "host": kwargs.get("host", "127.0.0.1"),
            "port": int(kwargs.get("port", 6379)),
            "path": kwargs.get("path"),
            "db": int(kwargs.get("db") or 0),
            "username": kwargs.get("username"),
            "password": kwargs.get("password"),
            "timeout": float(kwargs.get("socket_timeout") or 5.0),
            "connect_timeout": float(kwargs.get("socket_connect_timeout") or 2.0),
            "ssl": tls_context(kwargs) if connection_class is SSLConnection else None,
            "retry": kwargs.get("retry"),
        }
        return cls(**{**settings, **override})

    @property
    def where(self) -> str:
        return f"unix:{self.path}" if self.path else f"{self.host}:{self.port}"

    async def execute_command(self, *args: Any) -> Any:
        """One command; its reply as redis-py's hiredis parser gives it (bytes, int, list...)."""
        packed = pack_command(args)
        return await self._retrying(lambda proto: proto.send(packed))

    async def execute_many(self, commands: Sequence[Command]) -> list[Any]:
        """Several commands sent together (one write, one wait); their replies in order. The
        first error reply is raised after every reply has arrived."""
        packed = [pack_command(tuple(c)) for c in commands]

        async def send_all(proto: _Protocol) -> list[Any]:
            done = await asyncio.gather(*(proto.send(p) for p in packed), return_exceptions=True)
            for reply in done:  # a lost connection first: that one is retried
                if isinstance(reply, RedisConnectionError | RedisTimeoutError):
                    raise reply
            for reply in done:
                if isinstance(reply, BaseException):
                    raise reply
            return list(done)

        return await self._retrying(send_all)

    async def _retrying(self, send: Callable[[_Protocol], Awaitable[_T]]) -> _T:
        """``send`` on the live connection, and on a new one after a connection error or a
        timeout, as often as ``retry`` says."""

        async def attempt() -> _T:
            proto = self._proto
            if proto is None or proto.error is not None or proto.loop is not _loop():
                proto = await self._open()
            return await send(proto)

        return await self.retry.call_with_retry(attempt, _ignore)

    async def _open(self) -> _Protocol:
        """The live connection, opening it if needed (concurrent callers share one attempt)."""
        loop = _loop()
        opening = self._opening
        if opening is not None and opening.get_loop() is loop:
            return await asyncio.shield(opening)
        if self._proto is not None and self._proto.loop is not loop:
            self._discard()
        opening = self._opening = loop.create_future()
        try:
            proto = await self._connect(loop)
        except BaseException as exc:
            # Callers sharing this attempt retry on a ConnectionError; this caller's own
            # cancellation is not theirs.
            shared = exc if isinstance(exc, Exception) else RedisConnectionError("cancelled")
            opening.set_exception(shared)
            opening.exception()  # retrieved: callers sharing it get it from their own await
            raise
        finally:
            self._opening = None
        self._proto = proto
        opening.set_result(proto)
        return proto

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Protocol:
        proto = _Protocol(loop, self.timeout)
        try:
            async with asyncio.timeout(self.connect_timeout):
                if self.path:
                    await loop.create_unix_connection(lambda: proto, self.path)
                else:
                    await loop.create_connection(lambda: proto, self.host, self.port, ssl=self.ssl)
                hello: list[tuple[Any, ...]] = []
                if self.password is not None:
                    auth = (self.username, self.password) if self.username else (self.password,)
                    hello.append(("AUTH", *auth))
                if self.db:
                    hello.append(("SELECT", self.db))
                for future in [proto.send(pack_command(c)) for c in hello]:
                    await future
        except (OSError, TimeoutError) as exc:
            proto.fail(RedisConnectionError(f"Error connecting to {self.where}: {exc}"))
            raise RedisConnectionError(f"Error connecting to {self.where}: {exc}") from exc
        except BaseException:
            proto.fail(RedisConnectionError("connection set-up failed"))
            raise
        return proto

    def _discard(self) -> None:
        proto, self._proto = self._proto, None
        if proto is not None:
            with contextlib.suppress(Exception):  # its loop may be closed already
                proto.fail(RedisConnectionError("connection closed by client"))

    async def aclose(self) -> None:
        self._discard()


NO_RETRY = Retry(NoBackoff(), 0)
"""For a cluster node's connection: a failure goes straight to redis-py's cluster client."""

_REDIRECTED = (
    AskError,  # MovedError too
    TryAgainError,
    ClusterDownError,
    MasterDownError,
    SlotNotCoveredError,
    RedisConnectionError,
    RedisTimeoutError,
)
"""What sends a command back through redis-py's cluster client: a resharding or failover moved
the slot, or the node is down. That client follows the redirection and re-reads the slot map."""


class ClusterMultiplexed:
    """The per-message scripts of a Redis Cluster client, over one :class:`Multiplexed` connection
    per master: each goes to the master of its first key's slot, by redis-py's own slot map.

    Anything else, and any script the node does not run (:data:`_REDIRECTED`), goes through the
    cluster client itself, once: safe, as every command sent this way may be repeated (see the
    module docstring). The node connections do not retry on their own, so a failover is left to
    redis-py's cluster logic at once.
    """

    def __init__(self, cluster: RedisCluster) -> None:
        self.cluster = cluster
        self.nodes: dict[str, Multiplexed | None] = {}

    async def execute_command(self, *args: Any) -> Any:
        node = self._node(args)
        if node is not None:
            try:
                return await node.execute_command(*args)
            except _REDIRECTED:
                pass
        return await self.cluster.execute_command(*args)

    async def execute_many(self, commands: Sequence[Command]) -> list[Any]:
        """Commands on keys in different slots (a first message's index entries): redis-py's
        cluster pipeline, which sends each node its share."""
        pipe = self.cluster.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        return list(await pipe.execute())

    def _node(self, args: tuple[Any, ...]) -> Multiplexed | None:
        if args[0] not in ("EVALSHA", "EVAL") or int(args[2]) < 1:
            return None
        try:
            node = self.cluster.get_node_from_key(args[3])
        except (SlotNotCoveredError, KeyError, IndexError, TypeError):
            node = None  # no slot map yet: the cluster client reads it
        if node is None:
            return None
        if node.name not in self.nodes:
            self.nodes[node.name] = Multiplexed.for_settings(
                node.connection_class, node.connection_kwargs,
                host=node.host, port=node.port, db=0, retry=NO_RETRY,
            )  # fmt: skip
        return self.nodes[node.name]

    async def aclose(self) -> None:
        for node in self.nodes.values():
            if node is not None:
                await node.aclose()
        self.nodes.clear()


def multiplexed(client: object) -> Multiplexed | ClusterMultiplexed | None:
    """The multiplexed connection(s) for ``client``'s server or cluster, or None."""
    if type(client) is RedisCluster:
        return ClusterMultiplexed(client)
    return Multiplexed.for_client(client)


async def _ignore(error: Exception) -> None:
    """Nothing to undo between attempts: a failed connection is replaced by the next one."""


def _fresh(error: Exception) -> Exception:
    """A new exception like ``error``: one instance raised in many tasks would collect all
    their tracebacks."""
    return type(error)(*error.args)


def _loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()
