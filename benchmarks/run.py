"""Every benchmark of BENCHMARKS.md, one after another, with the arguments the figures there
came from (about 30 minutes on 2 cores; run it on a quiet machine). The webhook benchmarks start
``surveybot serve`` itself, the command users run, with its default settings.

Run: make bench    (or .venv/bin/python benchmarks/run.py [--quick])

``--quick`` runs each with a small size, to check they all work (about 2 minutes); its figures
are not the ones to record.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

FULL: list[list[str]] = [
    ["bench_engine.py", "--seconds", "8"],
    ["bench_engine.py", "--seconds", "8", "--no-memo"],
    ["bench_store.py", "--messages", "4000"],
    ["bench_webhook.py", "--numbers", "3000", "--runs", "3", "--processes", "1,2,4"],
    ["bench_webhook.py", "--numbers", "3000", "--runs", "1", "--processes", "2", "--cluster"],
    [
        "bench_webhook.py",
        "--numbers",
        "3000",
        "--runs",
        "1",
        "--processes",
        "1",
        "--bare-multiplexed",
    ],
    ["bench_webhook.py", "--numbers", "3000", "--runs", "1", "--processes", "1,2", "--whatsapp"],
    ["bench_webhook.py", "--numbers", "3000", "--runs", "1", "--processes", "1,2", "--voice"],
    ["bench_memory.py", "--respondents", "10000"],
    ["bench_soak.py"],
    ["bench_reminders.py", "--sessions", "100000", "--workers", "2"],
    ["bench_export.py", "-n", "100000"],
    ["bench_web_flood.py", "--seconds", "60", "--baseline", "20"],
    ["bench_console.py", "-n", "1000,10000,100000"],
]

QUICK: list[list[str]] = [
    ["bench_engine.py", "--seconds", "1"],
    ["bench_store.py", "--messages", "400"],
    ["bench_webhook.py", "--numbers", "200", "--runs", "1", "--processes", "1,2"],
    ["bench_webhook.py", "--numbers", "200", "--runs", "1", "--processes", "2", "--cluster"],
    [
        "bench_webhook.py",
        "--numbers",
        "200",
        "--runs",
        "1",
        "--processes",
        "1",
        "--bare-multiplexed",
    ],
    ["bench_webhook.py", "--numbers", "200", "--runs", "1", "--processes", "2", "--whatsapp"],
    ["bench_webhook.py", "--numbers", "200", "--runs", "1", "--processes", "2", "--voice"],
    ["bench_memory.py", "--respondents", "500"],
    ["bench_soak.py", "--seconds", "10", "--respondents", "200"],
    ["bench_reminders.py", "--sessions", "1000", "--workers", "2"],
    ["bench_export.py", "-n", "2000"],
    ["bench_web_flood.py", "--seconds", "5", "--baseline", "3"],
    ["bench_console.py", "-n", "500"],
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes: check they all run")
    failed = 0
    for args in QUICK if ap.parse_args().quick else FULL:
        print(f"\n$ .venv/bin/python benchmarks/{' '.join(args)}", flush=True)
        failed += subprocess.call([sys.executable, str(HERE / args[0]), *args[1:]]) != 0
    print(f"\n{failed} benchmark(s) failed" if failed else "\nall benchmarks ran")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
