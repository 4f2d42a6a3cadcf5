"""Each channel's health, for ``/healthz``, and starting a channel without letting its outage
stop the others.

A channel that depends on an outside service at start-up (Telegram's ``getMe``) is started in
the background by :func:`keep_starting`: the server serves SMS and the web chat at once, the
channel is ``starting`` and then ``ok``, or ``degraded`` with the reason while it retries with
back-off, and ``ok`` again when it recovers (a webhook call that gets through counts too).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

log = logging.getLogger(__name__)

Status = Literal["ok", "starting", "degraded", "off"]

FIRST_RETRY = 1.0
"""Seconds before the first retry of a channel that failed to start; doubled up to MAX_RETRY."""
MAX_RETRY = 60.0


@dataclass
class ChannelState:
    status: Status
    reason: str | None = None
    since: float = field(default_factory=time.time)
    failures: int = 0

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"status": self.status, "since": round(self.since)}
        if self.reason:
            out["reason"] = self.reason
        if self.failures:
            out["failures"] = self.failures
        return out


class Health:
    """The state of each channel of this process (in memory: each process says its own)."""

    def __init__(self) -> None:
        self.channels: dict[str, ChannelState] = {}

    def set(self, channel: str, status: Status, reason: str | None = None) -> None:
        old = self.channels.get(channel)
        if old is not None and old.status == status and old.reason == reason:
            return
        failures = (old.failures if old else 0) + (1 if status == "degraded" else 0)
        if status == "ok":
            failures = 0
        self.channels[channel] = ChannelState(status, reason, failures=failures)
        if old is not None and old.status != status:
            level = logging.WARNING if status == "degraded" else logging.INFO
            log.log(level, "channel %s: %s%s", channel, status, f" ({reason})" if reason else "")

    def ok(self, channel: str) -> None:
        self.set(channel, "ok")

    def degraded(self) -> list[str]:
        return sorted(c for c, s in self.channels.items() if s.status in ("degraded", "starting"))

    def snapshot(self) -> dict[str, dict[str, object]]:
        return {c: s.as_dict() for c, s in sorted(self.channels.items())}


async def keep_starting(
    health: Health,
    channel: str,
    start: Callable[[], Awaitable[None]],
    *,
    first_retry: float = FIRST_RETRY,
    max_retry: float = MAX_RETRY,
) -> None:
    """Call ``start`` until it succeeds, marking ``channel`` starting, degraded (with the
    reason) between attempts, then ok. Never raises (but for cancellation): an outside
    service being down must not stop the server."""
    health.set(channel, "starting")
    delay = first_retry
    while True:
        try:
            await start()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"[:200]
            health.set(channel, "degraded", reason)
            log.warning("channel %s did not start (%s); retrying in %.0f s", channel, reason, delay)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, max_retry)
            continue
        health.ok(channel)
        return
