"""A small HTTP/1.1 keep-alive load generator on asyncio streams (no client library overhead).

Each connection sends its requests one after another (so one respondent's messages stay in
order), and records the latency of each. Used by the webhook benchmarks, which also take the
server processes' CPU time from here (:func:`cpu_seconds`).

:func:`run_spread` is a load balancer in front of several server processes: each lane (a
stream of requests sent one at a time, one respondent's messages in order) keeps a kept-alive
connection to every server and sends each request to the next server in one round-robin shared
by all lanes, as a load balancer spreads requests over its upstream connections. So a
respondent's next message lands on any process, whatever went where before.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    elapsed: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    def record(self, start: float, status: int) -> None:
        """One response with ``status``, to a request sent at ``start`` (``time.perf_counter()``)."""
        self.latencies.append(time.perf_counter() - start)
        self.statuses[status] += 1

    def rps(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    def line(self, name: str) -> str:
        errors = sum(n for s, n in self.statuses.items() if s >= 400)
        return (
            f"{name}: {self.count:,} requests in {self.elapsed:.1f} s = {self.rps():,.0f} req/s;"
            f" latency p50 {self.pct(50):.1f} ms, p99 {self.pct(99):.1f} ms, "
            f"mean {statistics.fmean(self.latencies) * 1000:.1f} ms; "
            f"statuses {dict(sorted(self.statuses.items()))}; errors {errors}"
        )


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response (head and body, by Content-Length or chunked); its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lname = name.strip().lower()
        if lname == b"content-length":
            length = int(value.strip())
        elif lname == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def _connection(host: str, port: int, requests: Sequence[bytes], result: Result) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for raw in requests:
            start = time.perf_counter()
            writer.write(raw)
            result.record(start, await read_response(reader))
    finally:
        writer.close()


async def run(host: str, port: int, per_connection: Sequence[Sequence[bytes]]) -> Result:
    """Send every connection's requests in order; all connections at once."""
    result = Result()
    start = time.perf_counter()
    await asyncio.gather(*(_connection(host, port, reqs, result) for reqs in per_connection))
    result.elapsed = time.perf_counter() - start
    return result


async def _lane(
    host: str, ports: Sequence[int], requests: Sequence[bytes], result: Result, turn: list[int]
) -> None:
    if len(ports) == 1:
        turn = [0]  # (a lane of its own)
    streams = [await asyncio.open_connection(host, port) for port in ports]
    try:
        for raw in requests:
            reader, writer = streams[turn[0] % len(streams)]
            turn[0] += 1
            start = time.perf_counter()
            writer.write(raw)
            result.record(start, await read_response(reader))
    finally:
        for _, writer in streams:
            writer.close()


async def run_spread(
    host: str, ports: Sequence[int], lanes: Sequence[Sequence[bytes]], *, sticky: bool = False
) -> Result:
    """Every lane's requests in order, all lanes at once, each request to the next of
    ``ports`` in one round-robin shared by all lanes (a load balancer; see the module doc).
    ``sticky``: lane ``i`` sends everything to ``ports[i % len(ports)]`` instead."""
    result = Result()
    turn = [0]
    start = time.perf_counter()
    await asyncio.gather(*(
        _lane(host, [ports[i % len(ports)]] if sticky else ports, reqs, result, turn)
        for i, reqs in enumerate(lanes)
    ))  # fmt: skip
    result.elapsed = time.perf_counter() - start
    return result


def post(path: str, body: bytes, headers: dict[str, str], host: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def get(path: str, host: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


def cpu_seconds(root_pid: int) -> float:
    """User + system CPU seconds of process ``root_pid`` and its children (uvicorn's workers),
    from /proc (0 where there is none)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        pid, ppid = int(stat.parent.name), int(fields[1])
        if root_pid in (pid, ppid):
            total += (int(fields[11]) + int(fields[12])) / tick
    return total
