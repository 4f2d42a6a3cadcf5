"""Bounds on what one web client, and all of them together, may make the web chat do.

A web page can be opened by anyone, as often as they like, from a script: unlike SMS (a phone
number costs money) or Telegram (an account), a web visitor costs nothing to make. So:

* **requests per client** (:class:`RequestGate`, in memory): each client address may send
  ``SURVEYBOT_WEB_REQUESTS_PER_MINUTE`` requests to the chat endpoint (bursts of half that);
  the rest wait a second and get ``429``, before routing, parsing or any store access, so a
  flooding client is slowed to a trickle and costs next to nothing.
* **new sessions per client** (in memory too): a client address may begin
  ``SURVEYBOT_WEB_NEW_PER_CLIENT`` stored sessions an hour (a library computer or a shared
  connection has room for many real people; a script does not).
* **new sessions in all** (:class:`store.budget.Budget`, in Redis, so it holds across every
  process): at most ``SURVEYBOT_WEB_NEW_PER_MINUTE`` web sessions begin a minute, whoever asks.
  This is what bounds Redis under a flood from many addresses.

Opening the page stores nothing at all (the web chat's first step is computed, not committed),
so only a visitor who answers reaches the last two. The per-client buckets are per process:
with N processes behind a load balancer a client may get up to N times as much.

The client address is the one the ASGI server reports: behind a reverse proxy, run uvicorn with
``--forwarded-allow-ips`` set to the proxy's address (``surveybot serve`` trusts
``X-Forwarded-For`` from ``SURVEYBOT_FORWARDED_ALLOW_IPS``, default 127.0.0.1) or every visitor
will look like the proxy.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send


class ClientBuckets:
    """A token bucket per client key: ``rate`` per second, ``burst`` at most, for the ``size``
    clients seen last (older ones are forgotten: a forgotten client starts with a full bucket,
    which a flood of distinct addresses cannot turn into more than ``burst`` each)."""

    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        size: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self.size = size
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, key: str, cost: float = 1.0) -> bool:
        now = self.clock()
        tokens, at = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        ok = tokens >= cost
        if ok:
            tokens -= cost
        self._buckets[key] = (tokens, now)
        self._buckets.move_to_end(key)
        if len(self._buckets) > self.size:
            self._buckets.popitem(last=False)
        return ok

    def __len__(self) -> int:
        return len(self._buckets)


def per_minute(n: int) -> ClientBuckets | None:
    """``n`` a minute, bursts of half that (at least 10); None when ``n`` is 0 (off)."""
    return ClientBuckets(n / 60, max(10, n // 2)) if n > 0 else None


def per_hour(n: int) -> ClientBuckets | None:
    """``n`` an hour, all of them at once if need be; None when ``n`` is 0 (off)."""
    return ClientBuckets(n / 3600, n) if n > 0 else None


TARPIT_SECONDS = 1.0
"""How long a request over its client's limit waits before its 429: a script looping as fast as
it can is slowed to a few requests a second per connection, instead of being answered as fast
as it can send (which would still cost the server its time). As nginx's ``limit_req`` delays."""
TARPIT_MAX = 256
"""Most requests held at once; past this the 429 goes at once (holding costs memory)."""
_BUSY_BODY = (
    b'{"error":"slow_down","message":"You have sent a lot of messages. Please wait a minute, '
    b'then try again."}'
)


class RequestGate:
    """Pure ASGI, in front of everything: a POST to the web chat from a client over its
    per-minute limit gets a prebuilt ``429`` (after :data:`TARPIT_SECONDS`), before routing,
    parsing or any store access. Other paths and methods pass straight through."""

    def __init__(self, app: ASGIApp, buckets: ClientBuckets, prefix: str = "/chat/") -> None:
        self.app = app
        self.buckets = buckets
        self.prefix = prefix
        self.held = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") != "POST"
            or not str(scope.get("path", "")).startswith(self.prefix)
        ):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        key = str(client[0]) if client else "unknown"
        if self.buckets.allow(key):
            await self.app(scope, receive, send)
            return
        if self.held < TARPIT_MAX:
            self.held += 1
            try:
                await asyncio.sleep(TARPIT_SECONDS)
            finally:
                self.held -= 1
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(_BUSY_BODY)).encode()),
                    (b"retry-after", b"10"),
                    (b"cache-control", b"no-store"),
                    (b"x-content-type-options", b"nosniff"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _BUSY_BODY})
