"""A throwaway local Redis Cluster, for tests and benchmarks (not for production).

Starts ``masters`` ``redis-server`` processes in cluster mode on free loopback ports, each in
its own folder under a temporary directory (append-only file on, no RDB snapshots), joins them
with ``redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes``, and waits until every
node reports ``cluster_state:ok`` with all 16,384 slots assigned. :meth:`LocalCluster.kill` and
:meth:`LocalCluster.restart` stop one node outright and bring it back on the same port and folder
(its ``nodes.conf`` and append-only file), for failover tests.

Also two helpers the tests and benchmarks share, importable without pytest: :func:`free_port`
and :func:`delete_prefix`.

Try it by hand::

    .venv/bin/python -m tests.support.cluster      # prints the REDIS_URL, Ctrl-C stops it
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import redis

from store.client import AnyRedis

SLOTS = 16384


class ClusterStartError(RuntimeError):
    """The local cluster could not be started (binary missing, ports taken, never healthy)."""


def find_binaries() -> tuple[str, str] | None:
    """``(redis-server, redis-cli)`` on PATH, or None if either is missing."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    return (server, cli) if server and cli else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the kernel picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_cluster_ports(n: int) -> list[int]:
    """``n`` ports whose cluster bus port (port + 10000) is free too."""
    ports: list[int] = []
    for _ in range(200):
        port = free_port()
        if port + 10000 < 65536 and port not in ports and _port_free(port + 10000):
            ports.append(port)
            if len(ports) == n:
                return ports
    raise ClusterStartError("no free port pairs (P, P+10000) on 127.0.0.1")


async def delete_prefix(client: AnyRedis, prefix: str) -> int:
    """Delete every key of ``prefix`` (SCAN visits every master of a cluster), a pipeline of
    single-key DELs per thousand keys (one DEL of many keys would be CROSSSLOT on a cluster).
    Returns how many were deleted."""
    n = 0
    batch: list[bytes] = []

    async def flush() -> int:
        pipe = client.pipeline(transaction=False)
        for key in batch:
            pipe.delete(key)
        done = sum(int(x) for x in await pipe.execute())
        batch.clear()
        return done

    async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            n += await flush()
    if batch:
        n += await flush()
    return n


@dataclass
class Node:
    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            socket_connect_timeout=1,
            socket_timeout=5,
            decode_responses=True,
        )


@dataclass
class LocalCluster:
    """``masters`` masters, no replicas. Use as a context manager, or :meth:`start`/:meth:`stop`.

    ``appendfsync`` is the AOF fsync policy: ``always`` makes every acknowledged write survive a
    SIGKILL of the node (the restart test), ``everysec`` is Redis' default (benchmarks).
    """

    masters: int = 3
    appendfsync: str = "everysec"
    node_timeout_ms: int = 3000
    folder: Path | None = None
    nodes: list[Node] = field(default_factory=list)
    _own_folder: bool = field(default=False, init=False)
    _binaries: tuple[str, str] = field(default=("redis-server", "redis-cli"), init=False)

    @property
    def url(self) -> str:
        """The ``REDIS_URL`` for :func:`store.client.connect` (every master a startup node)."""
        return "redis+cluster://" + ",".join(n.address for n in self.nodes)

    @property
    def ports(self) -> list[int]:
        return [n.port for n in self.nodes]

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, timeout: float = 30) -> LocalCluster:
        found = find_binaries()
        if found is None:
            raise ClusterStartError("redis-server and redis-cli must be on PATH")
        self._binaries = found
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="surveybot-cluster-"))
            self._own_folder = True
        try:
            for port in free_cluster_ports(self.masters):
                node = Node(port, self.folder / str(port))
                node.folder.mkdir(parents=True, exist_ok=True)
                self.nodes.append(node)
                self._spawn(node)
            for node in self.nodes:
                self._wait_ping(node, timeout)
            create = [
                self._binaries[1],
                "--cluster",
                "create",
                *(n.address for n in self.nodes),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ]
            done = subprocess.run(
                create, capture_output=True, text=True, timeout=timeout, check=False
            )
            if done.returncode != 0:
                raise ClusterStartError(
                    f"redis-cli --cluster create failed:\n{done.stdout}\n{done.stderr}"
                )
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL after 10 s) and remove the folder if ours."""
        for node in self.nodes:
            self._terminate(node)
        if self._own_folder and self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- failures ------------------------------------------------------------------------------

    def kill(self, index: int) -> None:
        """SIGKILL one node: no clean shutdown, only what its AOF already holds survives."""
        node = self.nodes[index]
        if node.process is not None and node.process.poll() is None:
            node.process.send_signal(signal.SIGKILL)
            node.process.wait(timeout=10)
        node.process = None

    def restart(self, index: int, timeout: float = 30) -> None:
        """Start a killed node again on its port and folder, and wait for the cluster to heal."""
        node = self.nodes[index]
        self._spawn(node)
        self._wait_ping(node, timeout)
        self.wait_healthy(timeout)

    def set_appendfsync(self, policy: str) -> None:
        """Change the AOF fsync policy of every running node now, and of restarted ones."""
        self.appendfsync = policy
        for n in self.nodes:
            if n.process is not None:
                with n.client() as c:
                    c.config_set("appendfsync", policy)

    # -- state ---------------------------------------------------------------------------------

    def wait_healthy(self, timeout: float = 30) -> None:
        """Until every node says cluster_state:ok, all slots ok, and knows every other node."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                infos = [self._info(n) for n in self.nodes]
            except (redis.RedisError, OSError) as exc:
                last = str(exc)
            else:
                if all(
                    i.get("cluster_state") == "ok"
                    and i.get("cluster_slots_ok") == str(SLOTS)
                    and i.get("cluster_known_nodes") == str(self.masters)
                    for i in infos
                ):
                    return
                last = repr(infos)
            time.sleep(0.1)
        raise ClusterStartError(f"cluster not healthy after {timeout} s: {last}")

    def dbsize(self) -> dict[int, int]:
        """Keys held by each master (port -> DBSIZE)."""
        out = {}
        for n in self.nodes:
            with n.client() as c:
                out[n.port] = int(c.dbsize())
        return out

    def slots(self) -> dict[int, str]:
        """The slot ranges each master serves (port -> e.g. ``0-5460``), from CLUSTER NODES."""
        out = {}
        for n in self.nodes:
            with n.client() as c:
                text = str(c.execute_command("CLUSTER", "NODES"))
            me = next(line for line in text.splitlines() if "myself" in line)
            out[n.port] = " ".join(me.split()[8:])
        return out

    @staticmethod
    def _info(node: Node) -> dict[str, str]:
        with node.client() as c:
            text = str(c.execute_command("CLUSTER", "INFO"))
        return dict(line.split(":", 1) for line in text.split() if ":" in line)

    # -- processes -----------------------------------------------------------------------------

    def _spawn(self, node: Node) -> None:
        cmd = [
            self._binaries[0],
            "--port",
            str(node.port),
            "--bind",
            "127.0.0.1",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            str(self.node_timeout_ms),
            "--appendonly",
            "yes",
            "--appendfsync",
            self.appendfsync,
            "--save",
            "",
            "--dir",
            str(node.folder),
            "--daemonize",
            "no",
            "--logfile",
            str(node.folder / "redis.log"),
        ]
        node.process = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )

    def _wait_ping(self, node: Node, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if node.process is not None and node.process.poll() is not None:
                log = node.folder / "redis.log"
                tail = log.read_text()[-2000:] if log.exists() else ""
                raise ClusterStartError(f"redis-server on port {node.port} exited:\n{tail}")
            try:
                with node.client() as c:
                    if c.ping():
                        return
            except (redis.RedisError, OSError):
                pass
            time.sleep(0.05)
        raise ClusterStartError(f"redis-server on port {node.port} did not answer")

    @staticmethod
    def _terminate(node: Node) -> None:
        p = node.process
        if p is None or p.poll() is not None:
            node.process = None
            return
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=5)
        node.process = None


def main() -> None:  # pragma: no cover - manual use
    with LocalCluster() as cluster:
        print(f"REDIS_URL={cluster.url}", flush=True)
        print(f"folder: {cluster.folder}; Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
