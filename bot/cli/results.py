"""``surveybot export`` and ``surveybot report``: results for officers, read from the store.

Both read a flow's responses once, as a stream (``RedisStore.iter_responses``), and never hold
them all (:func:`bot.results.export.export_flow`, :func:`bot.results.report.report_flow`). They
work on the embedded default Redis (nothing configured) as on a real one.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from bot.cli.common import (
    OFFICER_HELP,
    Failed,
    actor,
    find_flow,
    output,
    parse_since,
    run_with_services,
)
from bot.results.export import FORMATS, Counts, export_flow
from bot.results.report import ReportError, report_flow

if TYPE_CHECKING:
    from adapters.services import Services

app = typer.Typer()
err = Console(stderr=True)


# -- commands -------------------------------------------------------------------------------------


@app.command("export")
def export_cmd(
    flow: Annotated[str, typer.Argument(help="Flow id, e.g. carers-strategy (or a flow file)")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="csv, xlsx or jsonl (default: from -o, else csv)"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout)")
    ] = None,
    partial: Annotated[
        bool,
        typer.Option("--partial", help="Include unfinished, opted-out, expired, ... responses"),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only responses started on or after this date (2026-11-01)"),
    ] = None,
    codes: Annotated[
        bool, typer.Option("--codes", help="Ids instead of labels (choice ids, column ids)")
    ] = False,
    officer: Annotated[str | None, typer.Option("--officer", help=OFFICER_HELP)] = None,
) -> None:
    """Export responses: one row per respondent, one column per question.

    Only complete responses unless --partial. Times are UTC (ISO 8601).

    csv opens in Excel (UTF-8 with BOM); xlsx is a workbook; jsonl has codes and labels.

    No phone number or chat id is ever exported: respondents have pseudonymous ids.
    """
    if fmt is None:
        suffix = out.suffix.lower().lstrip(".") if out else ""
        fmt = suffix if suffix in FORMATS else "csv"
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise typer.BadParameter(f"{fmt!r}: use csv, xlsx or jsonl", param_hint="--format")
    if out is None and fmt == "xlsx" and sys.stdout.isatty():
        raise typer.BadParameter("xlsx is a binary file: add -o FILE.xlsx (or redirect > FILE)")

    async def work(svc: Services) -> Counts:
        f = find_flow(svc, flow)
        since_at = parse_since(since, f) if since else None
        with output(out, binary=fmt == "xlsx") as stream:
            counts = await export_flow(
                svc.store, f, stream, fmt, codes=codes, partial=partial, since=since_at
            )
        await svc.store.audit.record(
            f.id, "exported", actor=actor(officer), at=datetime.now(UTC), format=fmt,
            rows=counts.written, partial=str(partial).lower(), since=since or "",
            codes=str(codes).lower(),
        )  # fmt: skip
        return counts

    counts = run_with_services(work)
    where = str(out) if out else "standard output"
    left = (
        f" {counts.left_out:,} unfinished or stopped response(s) left out: add --partial "
        "to include them."
        if counts.left_out
        else ""
    )
    err.print(
        f"Exported {counts.written:,} response(s) of {escape(flow)} as {fmt} to "
        f"{escape(where)}.{left}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("report")
def report_cmd(
    flow: Annotated[str, typer.Argument(help="Flow id, e.g. carers-strategy (or a flow file)")],
    out: Annotated[
        Path | None, typer.Option("--output", "-o", help="HTML file to write (default: stdout)")
    ] = None,
    by: Annotated[
        str | None,
        typer.Option("--by", help="Split every question by this question's answer, e.g. role"),
    ] = None,
    partial: Annotated[
        bool, typer.Option("--partial", help="Count unfinished responses in question results")
    ] = False,
    officer: Annotated[str | None, typer.Option("--officer", help=OFFICER_HELP)] = None,
) -> None:
    """Write a printable HTML report: responses, drop-off funnel and every question's results.

    One self-contained file: no internet is needed to open or print it.
    """

    async def work(svc: Services) -> int:
        f = find_flow(svc, flow)
        try:
            page = await report_flow(svc.store, f, by=by, partial=partial)
        except ReportError as exc:
            raise Failed(str(exc)) from exc
        data = page.encode("utf-8")
        with output(out, binary=True) as stream:
            stream.write(data)  # type: ignore[arg-type]
        await svc.store.audit.record(
            f.id, "report", actor=actor(officer), at=datetime.now(UTC), by_question=by or "",
            partial=str(partial).lower(),
        )  # fmt: skip
        return len(data)

    size = run_with_services(work)
    if out is not None:
        err.print(
            f"Wrote the report of {escape(flow)} to {escape(str(out))} ({size / 1024:,.0f} KB).",
            highlight=False,
        )
