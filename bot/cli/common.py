"""What the commands that read the store share: the services, the flow by name, dates, output.

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
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar

import typer
from redis.exceptions import RedisError
from rich.console import Console
from rich.markup import escape

from bot.config import Settings
from bot.errors import SurveybotError
from bot.schema import Flow

if TYPE_CHECKING:
    from adapters.services import Services

err = Console(stderr=True)
T = TypeVar("T")


def _default_services() -> Services:
    from adapters.services import build_services

    return build_services(Settings())


make_services: Callable[[], Services] = _default_services
"""How the commands get the store and flows (tests swap in fakeredis)."""


class Failed(Exception):
    """An error to show an officer as one plain line (exit code 1)."""


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
