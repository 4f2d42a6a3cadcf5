"""Making the ``redis.asyncio`` client the store runs on: one Redis, or a Redis Cluster.

``REDIS_URL`` forms:

* ``redis://[user:password@]host:6379/0`` (``rediss://`` for TLS): one Redis server, or a
  managed Redis / Sentinel-fronted endpoint with failover.
* ``redis+cluster://[user:password@]host:7000[,host2:7001,...]`` (``rediss+cluster://`` for
  TLS): a Redis Cluster. The listed nodes are only where the client starts: it asks them for the
  slot map and then talks to every master directly, following MOVED/ASK redirections and
  re-reading the map after a failover. Give two or three nodes so a start-up does not depend on
  one. No database number (a cluster has only database 0).

Query-string options (``?socket_timeout=5``...) are passed to the connections in both forms.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import SSLConnection, parse_url
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisClusterException, RedisError

from bot.errors import StoreError
from store.embedded import embedded_url

AnyRedis: TypeAlias = Redis | RedisCluster
"""What the store runs on: one server (``Redis``) or a cluster (``RedisCluster``). Every store
operation uses only commands and pipelines that are legal on both (see ``store.keys``)."""

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def is_cluster_url(url: str | None) -> bool:
    return url is not None and urlsplit(url).scheme.lower() in CLUSTER_SCHEMES


def is_cluster(client: AnyRedis) -> bool:
    return isinstance(client, RedisCluster)


def is_redis_failure(exc: BaseException) -> bool:
    """Whether ``exc`` means "Redis did not do it" (the caller answers 503 and retries later).

    Besides ``RedisError`` and ``OSError`` that is ``RedisClusterException`` (no node reachable,
    slot not covered: not a ``RedisError``), and an ``AttributeError``, ``TypeError`` or
    ``RuntimeError`` raised inside redis-py, asyncio or uvloop when a connection is closed
    under a command in flight. redis-py 8.1's asyncio cluster client does that when it refreshes
    its slot map while commands are running (after a node restart, and on a burst of commands
    before the first refresh: :meth:`RedisStore.prepare` reads the map before serving), and a
    write on a socket the peer reset leaks such an error too (redis-py issue #4287). Seen here
    with a master restarted mid-run (tests/store/test_cluster.py).
    """
    if isinstance(exc, RedisError | RedisClusterException | OSError):
        return True
    if isinstance(exc, AttributeError | TypeError | RuntimeError):
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        module = str(tb.tb_frame.f_globals.get("__name__", "")) if tb is not None else ""
        return module.startswith(("redis.", "asyncio.", "uvloop."))
    return False


@contextmanager
def redis_errors(what: str) -> Iterator[None]:
    """Turn a Redis failure (:func:`is_redis_failure`) into ``StoreError``, which the web layer
    answers with 503 so that Twilio and Telegram deliver again later. Anything else propagates."""
    try:
        yield
    except Exception as exc:
        if not is_redis_failure(exc):
            raise
        raise StoreError(f"Redis {what} failed: {type(exc).__name__}: {exc}") from exc


def parse_cluster_url(url: str) -> tuple[list[tuple[str, int]], dict[str, Any]]:
    """The startup nodes ``[(host, port), ...]`` and the connection options of a cluster URL."""
    parts = urlsplit(url)
    scheme = CLUSTER_SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        raise ValueError(f"not a cluster URL (redis+cluster:// or rediss+cluster://): {url!r}")
    auth, _, hosts = parts.netloc.rpartition("@")
    nodes: list[tuple[str, int]] = []
    for item in hosts.split(","):
        item = item.strip()
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep:
            host, port = item, "6379"
        host = host.strip("[]")  # [::1]:7000
        if not host or not port.isdigit():
            raise ValueError(f"bad cluster node {item!r} in REDIS_URL (want host:port)")
        nodes.append((host, int(port)))
    if not nodes:
        raise ValueError("a redis+cluster:// URL needs at least one host:port")
    if parts.path.strip("/") not in ("", "0"):
        raise ValueError("Redis Cluster has only database 0: drop the /N from the cluster URL")
    # Let redis-py parse credentials and query options from an equivalent one-node URL.
    first = f"{auth}@{hosts.split(',')[0]}" if auth else hosts.split(",")[0]
    options: dict[str, Any] = dict(parse_url(urlunsplit((scheme, first, "", parts.query, ""))))
    for name in ("host", "port", "db", "path"):
        options.pop(name, None)
    if options.pop("connection_class", None) is SSLConnection or scheme == "rediss":
        options["ssl"] = True
    return nodes, options


def retry_policy(retries: int = 2) -> Retry:
    """How often a command is sent again after a connection error or a timeout, and the
    back-off between (every store operation is safe to repeat: see ``connect``)."""
    return Retry(ExponentialBackoff(cap=0.5, base=0.05), retries)


def connect(
    url: str | None, data_dir: str | Path = "data/redis", *, max_connections: int = 1024
) -> AnyRedis:
    """A client for ``url``, or for the embedded server in ``data_dir`` when ``url`` is None.

    A plain (non-blocking) pool with room for ``max_connections`` concurrent commands: redis-py's
    blocking pool costs ~25 us more per command, which is felt on every message; a process
    with a thousand commands in flight is overloaded anyway, and then fails fast with a
    StoreError (503: the provider retries). Timeouts are short and retries few: a webhook must
    answer well within Twilio's 15 s. Retrying a command is safe for every store operation (the
    commit is version- and message-id-checked; the rest are idempotent).

    A ``redis+cluster://`` URL gives a :class:`RedisCluster` with the same limits
    (``max_connections`` per node); see :func:`connect_cluster`.
    """
    if url is None:
        url = embedded_url(data_dir)
    if is_cluster_url(url):
        return connect_cluster(url, max_connections=max_connections)
    pool = ConnectionPool.from_url(
        url,
        max_connections=max_connections,
        socket_connect_timeout=2,
        socket_timeout=5,
        retry=retry_policy(),
        health_check_interval=30,
    )
    return Redis.from_pool(pool)  # closing the client closes its pool


def connect_cluster(url: str, *, max_connections: int = 1024) -> RedisCluster:
    """A Redis Cluster client for a ``redis+cluster://`` URL. Nothing is contacted until the
    first command (which reads the slot map from the first startup node that answers). Read
    it before a burst of concurrent commands (``await client.initialize()``, or
    :meth:`RedisStore.prepare`, which the web app runs at start-up): redis-py 8.1 can close
    connections under commands that race the first slot-map read.

    ``retry`` sets how often a command is re-sent after a connection error, a timeout or
    CLUSTERDOWN, each time after re-reading the slot map (a node restarted or failed over).
    """
    nodes, options = parse_cluster_url(url)
    settings: dict[str, Any] = {
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
        "health_check_interval": 30,
        **options,  # the URL's own options win
    }
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in nodes],
        max_connections=max_connections,
        retry=retry_policy(3),
        **settings,
    )
