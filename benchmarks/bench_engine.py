"""Pure engine throughput: steps per second walking the carers flow (one core, no I/O).

Run: .venv/bin/python benchmarks/bench_engine.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot import engine
from bot.loader import require_flow
from bot.models import Inbound, Status

ROOT = Path(__file__).resolve().parents[1]

# One carer's replies, as typed: numbers, words, a typo, a multi answer, free text, a postcode.
SCRIPT = [
    "CARERS", "yes", "1", "parent", "5", "2", "agree", "strongly agree", "2", "1 and 2", "no",
    "More short breaks would help me most.", "skip", "1", "1", "1", "1", "2", "2", "le16 7aa",
]


def run(seconds: float) -> None:
    flow = require_flow(ROOT / "flows" / "carers-strategy.yaml")
    inbound = [Inbound(channel="sms", address="+447700900123", text=t) for t in SCRIPT]
    now = datetime(2026, 11, 23, 10, tzinfo=UTC)
    tick = timedelta(seconds=30)
    steps = completed = 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        s = engine.new_session(flow, respondent="r", channel="sms", address="a", now=now)
        for msg in inbound:
            now += tick
            s = engine.step(flow, s, msg, now).session
            steps += 1
        completed += s.status is Status.COMPLETE
    elapsed = time.perf_counter() - start
    print(f"engine.step on carers-strategy: {steps:,} steps in {elapsed:.2f} s "
          f"= {steps / elapsed:,.0f} steps/s (one core); {completed:,} complete walks "
          f"of {len(SCRIPT)} messages")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    run(parser.parse_args().seconds)
