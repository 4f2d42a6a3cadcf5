"""The live numbers of a flow, for its console page: counted from Redis, shared by every officer
watching through this process, and recounted at most every couple of seconds.

The counting is the report's own (:class:`bot.results.report.Tally`: status, channel, source
group, day, median time to complete, drop-off funnel) and its sections are the report's HTML
(charts as SVG with tables beside them), so the console and ``surveybot report`` never disagree.
A count reads every response of the flow once, so it is not repeated sooner than ``MIN_AGE``
seconds, nor sooner than ``COST_FACTOR`` times as long as the last count took: a big
consultation is recounted less often instead of keeping a core busy (BENCHMARKS.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime

from adapters.services import Services
from bot.misses import Summary, summarise
from bot.results.report import Tally, duration_words, pct, sections
from bot.schema import Flow
from store.misses import MissLog

MIN_AGE = 1.0
_TABLE = re.compile(r"<table><caption>(.*?)</caption>.*?</table>", re.DOTALL)


def scrollable_tables(html: str) -> str:
    """Each of the report's tables in a region that scrolls sideways on its own, named by its
    caption and reachable by keyboard, so a narrow screen (320 px) never scrolls the page."""
    return _TABLE.sub(
        lambda m: (
            f'<div class="table-wrap" role="region" tabindex="0" aria-label="{m.group(1)}">'
            f"{m.group(0)}</div>"
        ),
        html,
    )


COST_FACTOR = 4.0


@dataclass(frozen=True)
class Snapshot:
    flow: Flow
    at: datetime
    started: int
    complete: int
    rate: str
    median: str | None
    responses_html: str
    funnel_html: str
    misses: Summary
    seconds: float
    stamp: str = field(default="")


class LiveStats:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._cache: dict[tuple[str, str], tuple[float, Snapshot]] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def get(self, flow: Flow) -> Snapshot:
        key = (flow.id, flow.version)
        hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < max(
            MIN_AGE, COST_FACTOR * hit[1].seconds
        ):
            return hit[1]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one count at a time per flow; the others wait for it
            hit = self._cache.get(key)
            if hit is not None and time.monotonic() - hit[0] < MIN_AGE:
                return hit[1]
            snap = await self._count(flow)
            self._cache[key] = (time.monotonic(), snap)
            return snap

    async def _count(self, flow: Flow) -> Snapshot:
        began = time.perf_counter()
        tally = Tally(flow)
        async for r in self.services.store.iter_responses(flow.id):
            tally.add(r)
        records = [r async for r in MissLog.for_store(self.services.store).records(flow)]
        misses = summarise(flow, records)
        responses_html, funnel_html = (scrollable_tables(h) for h in sections(tally))
        complete = tally.status.get("complete", 0)
        median = duration_words(statistics.median(tally.durations)) if tally.durations else None
        stamp = hashlib.sha256(
            f"{tally.started}|{complete}|{misses.replies}|{responses_html}|{funnel_html}".encode()
        ).hexdigest()[:16]
        return Snapshot(
            flow=flow,
            at=self.services.clock(),
            started=tally.started,
            complete=complete,
            rate=pct(complete, tally.started),
            median=median,
            responses_html=responses_html,
            funnel_html=funnel_html,
            misses=misses,
            seconds=time.perf_counter() - began,
            stamp=stamp,
        )
