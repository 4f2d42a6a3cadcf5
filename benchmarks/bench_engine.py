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
    "CARERS",
    "yes",
    "1",
    "parent",
    "50 hours",
    "2",
    "agree",
    "strongly agree",
    "2",
    "1 and 2",
    "no",
    "More short breaks would help me most.",
    "skip",
    "1",
    "1",
    "1",
    "1",
    "2",
    "2",
    "le16 7aa",
]


def run(seconds: float) -> None:
    flow = require_flow(ROOT / "flows" / "carers-strategy.yaml")
    inbound = [Inbound(channel="sms", address="+447700900123", text=t) for t in SCRIPT]
    start_at = datetime(2026, 11, 23, 10, tzinfo=UTC)
    tick = timedelta(seconds=30)
    steps = completed = 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    walks = 0
    while time.perf_counter() < deadline:
        now = start_at  # every walk on the same day: the survey stays open
        walks += 1
        s = engine.new_session(flow, respondent="r", channel="sms", address="a", now=now)
        for msg in inbound:
            now += tick
            s = engine.step(flow, s, msg, now).session
            steps += 1
        completed += s.status is Status.COMPLETE
    elapsed = time.perf_counter() - start
    print(
        f"engine.step on carers-strategy: {steps:,} steps in {elapsed:.2f} s "
        f"= {steps / elapsed:,.0f} steps/s (one core); {completed:,} of {walks:,} walks of "
        f"{len(SCRIPT)} messages completed the survey"
    )
    if completed != walks:
        raise SystemExit("the script no longer completes the flow: fix SCRIPT")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument(
        "--no-memo",
        action="store_true",
        help="turn off the memo of parsed short answers (as if every text were new)",
    )
    args = parser.parse_args()
    if args.no_memo:
        engine._MEMO_MAX_TEXT = -1
    run(args.seconds)
