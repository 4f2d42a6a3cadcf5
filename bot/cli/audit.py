"""``surveybot audit FLOW``: the flow's audit trail, for an auditor.

One row per entry, oldest first: when (UTC), what, the respondent's pseudonymous id (for their
entries), the question, who (for officers' actions) and the details. See :mod:`bot.audit` for
what is recorded, and ``store.audit`` for how long it is kept. No address, name or answer of a
respondent is in it.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, cast

import orjson
import typer
from rich.console import Console
from rich.markup import escape

from bot.audit import AuditEntry
from bot.cli.common import find_flow, output, parse_since, run_with_services
from bot.results.export import csv_cells, utc_text

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from adapters.services import Services

app = typer.Typer()

err = Console(stderr=True)
COLUMNS = ["at", "event", "flow", "respondent", "question", "by", "details"]
AUDIT_FORMATS = ("csv", "jsonl")


def _row(e: AuditEntry) -> list[str]:
    details = "; ".join(f"{k}={v}" for k, v in sorted(e.detail.items()))
    return [
        utc_text(e.at) or "",
        e.kind,
        e.flow,
        e.respondent or "",
        e.question or "",
        e.actor or "",
        details,
    ]


async def write_audit(entries: AsyncIterator[AuditEntry], out: IO[str], fmt: str) -> int:
    """Write ``entries`` to ``out`` as CSV (formula-safe, opens in Excel) or JSON lines."""
    n = 0
    if fmt == "csv":
        out.write("\ufeff")
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        async for e in entries:
            writer.writerow(csv_cells(_row(e)))
            n += 1
        return n
    async for e in entries:
        line = dict(zip(COLUMNS, _row(e), strict=True))
        record = {k: v for k, v in line.items() if v and k != "details"}
        if e.detail:
            record["details"] = e.detail  # type: ignore[assignment]
        out.write(orjson.dumps(record).decode() + "\n")
        n += 1
    return n


@app.command("audit")
def audit_cmd(
    flow: Annotated[str, typer.Argument(help="Flow id, e.g. carers-strategy (or a flow file)")],
    out: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout)")
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", help="csv or jsonl (default: from -o, else csv)")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only entries from this date on (2026-11-01)")
    ] = None,
) -> None:
    """The audit trail of a flow: versions published, exports and reports (and who ran them),
    erasures, and per respondent (pseudonymous) answers changed, opt-outs and withdrawals."""
    if fmt is None:
        suffix = out.suffix.lower().lstrip(".") if out else ""
        fmt = suffix if suffix in AUDIT_FORMATS else "csv"
    fmt = fmt.lower()
    if fmt not in AUDIT_FORMATS:
        raise typer.BadParameter(f"{fmt!r}: use csv or jsonl", param_hint="--format")

    async def work(svc: Services) -> int:
        f = find_flow(svc, flow)
        since_at = parse_since(since, f) if since else None
        entries = svc.store.audit.entries(f.id, since=since_at)
        if out is None:
            buffer = io.StringIO(newline="")
            n = await write_audit(entries, buffer, fmt)
            with output(None, binary=False) as stream:
                cast("IO[str]", stream).write(buffer.getvalue())
            return n
        with output(out, binary=False) as stream:
            return await write_audit(entries, cast("IO[str]", stream), fmt)

    n = run_with_services(work)
    where = str(out) if out else "standard output"
    err.print(
        f"Wrote {n:,} audit entries of {escape(flow)} ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC) "
        f"to {escape(where)}.",
        highlight=False,
        soft_wrap=True,
    )
