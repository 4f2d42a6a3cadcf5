"""``surveybot export`` and ``surveybot report``: results for officers, read from the store.

Both read a flow's responses once, as a stream (``RedisStore.iter_responses``), and never hold
them all. They work on the embedded default Redis (nothing configured) as on a real one.

Tests replace :data:`make_services` to run the commands on fakeredis.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, TypeVar

import typer
from redis.exceptions import RedisError
from rich.console import Console
from rich.markup import escape

from bot.cli import app
from bot.config import Settings
from bot.errors import SurveybotError
from bot.results.export import FORMATS, Counts, Table, about_notes, included, open_sink
from bot.results.report import ReportError, Tally, render
from bot.schema import Flow

if TYPE_CHECKING:
    from adapters.services import Services
    from store import RedisStore

err = Console(stderr=True)
T = TypeVar("T")


def _default_services() -> Services:
    from adapters.services import build_services

    return build_services(Settings())


make_services: Callable[[], Services] = _default_services
"""How the commands get the store and flows (tests swap in fakeredis)."""


class Failed(Exception):
    """An error to show an officer as one plain line (exit code 1)."""


# -- the work (async, testable without the CLI) ---------------------------------------------------


async def export_flow(
    store: RedisStore,
    flow: Flow,
    out: IO[str] | IO[bytes],
    fmt: str,
    *,
    codes: bool = False,
    partial: bool = False,
    since: datetime | None = None,
    now: datetime | None = None,
) -> Counts:
    """Stream ``flow``'s responses from ``store`` into ``out`` as ``fmt``.

    Two passes over the index: the first reads only answer field names (HKEYS) to find
    questions since removed from the flow (their columns must come before the first row), the
    second reads and writes the responses, ``batch`` at a time. The removed-question columns are
    taken from every response, whatever ``since`` and ``partial`` say, so repeated exports of one
    flow keep the same columns.
    """
    # Small pages: 16 index shards x 100 HKEYS replies per round trip keeps the pass's memory low.
    # Columns of questions since removed: from the question ids every served version recorded
    # (one read); data written before that record existed falls back to scanning answer names.
    known = await store.known_questions(flow.id)
    removed = known if known is not None else await store.answer_fields(flow.id, batch=100)
    table = Table(flow, codes=codes, removed=removed)
    about = about_notes(
        flow, exported_at=now or datetime.now(UTC), partial=partial, since=since, codes=codes
    )
    sink = open_sink(fmt, out, table, about=about)
    counts = Counts()
    async for r in store.iter_responses(flow.id, since=since):
        if included(r, partial):
            sink.add(r)
            counts.written += 1
        else:
            counts.left_out += 1
    sink.close()
    return counts


async def report_flow(
    store: RedisStore,
    flow: Flow,
    *,
    by: str | None = None,
    partial: bool = False,
    now: datetime | None = None,
) -> str:
    """The HTML report of ``flow``'s responses in ``store``."""
    tally = Tally(flow, by=by, partial=partial)
    async for r in store.iter_responses(flow.id):
        tally.add(r)
    return render(tally, generated_at=now or datetime.now(UTC))


# -- helpers --------------------------------------------------------------------------------------

OFFICER_HELP = "Who is running this, for the audit trail (default: your login name)"


def actor(officer: str | None) -> str:
    """Who runs a command, for the audit trail: ``--officer``, else the login name."""
    import getpass

    if officer and officer.strip():
        return officer.strip()
    try:
        return f"login:{getpass.getuser()}"
    except (OSError, KeyError):
        return "unknown"


def find_flow(svc: Services, name: str) -> Flow:
    """A flow by id (``carers-strategy``) from the flows folder, or from a flow file's path."""
    flow = svc.registry.get(name)
    if flow is not None:
        return flow
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        from bot.loader import require_flow

        try:
            return require_flow(path)
        except SurveybotError as exc:
            raise Failed(f"{name} is not a valid flow: {exc}") from exc
    known = ", ".join(sorted(svc.registry.flows)) or "none"
    hint = ""
    for file, problems in svc.registry.errors.items():
        if Path(file).stem == name:
            hint = f" ({file} was rejected: {problems[0].format()})"
    raise Failed(
        f"no flow {name!r} in {svc.settings.flows_dir}{hint}. Flows there: {known}. "
        "Give a flow id, or the path of a flow file."
    )


def parse_since(text: str, flow: Flow) -> datetime:
    """``2026-11-01`` (midnight, survey time zone) or an ISO date and time."""
    try:
        if len(text.strip()) == 10:
            return datetime.combine(date.fromisoformat(text.strip()), time(0), tzinfo=flow.tz)
        t = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise typer.BadParameter(
            f"{text!r} is not a date: write it like 2026-11-01 (or 2026-11-01T09:30)"
        ) from exc
    return t if t.tzinfo else t.replace(tzinfo=flow.tz)


async def _with_services(work: Callable[[Services], Awaitable[T]]) -> T:
    svc = make_services()
    try:
        await published_versions(svc)
        return await work(svc)
    finally:
        await svc.store.close()


async def published_versions(svc: Services) -> None:
    """Flows published from the officers' console serve instead of their files, here as in the
    running bot (Redis unreachable: the files, and the command reports the store's error)."""
    from adapters.officers.sync import PublishedSync

    with contextlib.suppress(SurveybotError):
        await PublishedSync(svc).poll()


def run_with_services(work: Callable[[Services], Awaitable[T]]) -> T:
    """Run ``work(services)``, turning store, flow and file errors into one plain line."""
    try:
        return asyncio.run(_with_services(work))
    except (Failed, SurveybotError, RedisError, ValueError) as exc:
        err.print(f"[red]Error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    except OSError as exc:
        err.print(f"[red]Cannot read or write a file:[/] {escape(str(exc))}", highlight=False)
    raise typer.Exit(1)


@contextmanager
def output(path: Path | None, binary: bool) -> Iterator[IO[str] | IO[bytes]]:
    """Standard output, or a file written next to ``path`` then renamed over it (so a failed
    export never leaves half a file behind)."""
    if path is None:
        if binary:
            yield sys.stdout.buffer
            sys.stdout.buffer.flush()
            return
        text = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        try:
            yield text
            text.flush()
        finally:
            text.detach()
        return
    tmp = path.with_name(f".{path.name}.part")
    try:
        if binary:
            with open(tmp, "wb") as fb:
                yield fb
        else:
            with open(tmp, "w", encoding="utf-8", newline="") as ft:
                yield ft
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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
