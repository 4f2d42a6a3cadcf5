"""Published versions (Redis) into this process's flow registry, within a second of a publish.

Every web process and reminder worker polls one counter (``sb:{flows}:gen``, a GET a second);
when it moved, it reads which version of each flow is live and loads the ones it does not serve
yet. A version that no longer loads (a stricter check after an upgrade) is logged and the last
good one keeps serving, as with a broken file.
"""

from __future__ import annotations

import asyncio
import logging

from adapters.services import Services
from bot.errors import Problem, StoreError
from bot.loader import load_flow_text
from store.published import PublishedFlows

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0


class PublishedSync:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.published = PublishedFlows(services.redis, services.store.keys)
        self.seen = -1

    async def poll(self) -> bool:
        """Load what was published since the last poll. True when anything changed. Raises
        StoreError when Redis is down (the caller tries again later)."""
        gen = await self.published.generation()
        if gen == self.seen:
            return False
        registry = self.services.registry
        changed = False
        for fid, version in (await self.published.live()).items():
            served = registry.published.get(fid)
            if served is not None and served.version == version:
                continue
            text = await self.published.text(fid, version)
            where = f"{fid}.yaml (published version {version})"
            if text is None:
                log.error("published flow %s: the text of version %s is missing", fid, version)
                continue
            result = await asyncio.to_thread(load_flow_text, text, where)
            if result.flow is None or result.flow.id != fid:
                registry.problems[where] = result.errors or [
                    Problem(where, 1, 1, "the published text is of another flow", None)
                ]
                log.error(
                    "published flow %s version %s does not load; still serving %s: %s",
                    fid,
                    version,
                    registry.flows[fid].version if fid in registry.flows else "nothing",
                    "; ".join(p.format() for p in result.errors[:5]),
                )
                continue
            registry.use_published(result.flow)
            for stale in [f for f in registry.problems if f.startswith(f"{fid}.yaml (published")]:
                del registry.problems[stale]  # an earlier published version that did not load
            changed = True
        self.seen = gen
        return changed

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Poll until cancelled (or ``stop`` is set); Redis down is retried quietly."""
        while stop is None or not stop.is_set():
            _still_running()
            try:
                await self.poll()
            except StoreError as exc:
                _still_running()
                log.debug("published flows not read: %s", exc)
            except Exception:  # never let one bad entry stop the loop
                _still_running()
                log.exception("reading published flows failed")
            await asyncio.sleep(POLL_SECONDS)


def _still_running() -> None:
    """A cancel that arrived inside a Redis call can come out as a connection error, or be
    swallowed by the client's retry: the loop still stops."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
