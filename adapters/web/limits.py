"""Bounds on what one web client, and all of them together, may make the web chat do.

A web page can be opened by anyone, as often as they like, from a script: unlike SMS (a phone
number costs money) or Telegram (an account), a web visitor costs nothing to make. So:

* **requests per client** (:class:`ClientBuckets`, in memory): each client address may send
  ``SURVEYBOT_WEB_REQUESTS_PER_MINUTE`` requests to the chat endpoint (bursts of half that);
  the rest get ``429`` before their body is read, so one flooding client costs next to nothing
  and cannot slow anyone else.
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

import time
from collections import OrderedDict
from collections.abc import Callable


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
