"""``surveybot officer``: accounts for the officers' console (add, remove, list, password, unlock).

The password is read without echo from the terminal (asked twice), or as the first line of
standard input when it is not a terminal (``printf '%s\\n' "$PW" | surveybot officer add ...``):
never from the command line, where other users and the shell history would see it.
"""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from bot.cli.common import Failed, actor, run_with_services

if TYPE_CHECKING:
    from adapters.officers.auth import Console as OfficersConsole
    from adapters.services import Services

app = typer.Typer(
    help="Officer accounts for the console at /console (viewer, editor, admin).",
    no_args_is_help=True,
)
"""Added to the root app as ``surveybot officer``."""
out = Console(soft_wrap=True, highlight=False)

ROLE_HELP = (
    "viewer (sees results), editor (also edits and publishes flows), admin (also manages officers)"
)


def read_password(prompt: str = "Password") -> str:
    """From the terminal without echo (twice), else the first line of standard input."""
    if sys.stdin is not None and sys.stdin.isatty():
        first = getpass.getpass(f"{prompt}: ")
        if getpass.getpass(f"{prompt} again: ") != first:
            raise typer.BadParameter("the two passwords differ")
        return first
    line = sys.stdin.readline() if sys.stdin is not None else ""
    return line.rstrip("\r\n")


def _console(svc: Services) -> OfficersConsole:
    from adapters.officers import make_console

    return make_console(svc)


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Sign-in name, e.g. jane.smith")],
    role: Annotated[str, typer.Option("--role", help=ROLE_HELP)] = "viewer",
) -> None:
    """Add an officer; the password is asked for (or read from standard input)."""
    from adapters.officers.accounts import AccountError, check_name, check_password, check_role

    try:
        check_name(name)
        check_role(role)
    except AccountError as exc:
        raise typer.BadParameter(str(exc)) from exc
    password = read_password()
    try:
        check_password(password, name)
    except AccountError as exc:
        raise typer.BadParameter(str(exc)) from exc

    async def work(svc: Services) -> str:
        try:
            officer = await _console(svc).accounts.add(
                name, role, password, by=actor(None), now=datetime.now(UTC)
            )
        except AccountError as exc:
            raise Failed(str(exc)) from exc
        return officer.name

    added = run_with_services(work)
    out.print(f"Added {escape(added)} as {role}. They sign in at /console.")


@app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="The officer's sign-in name")]) -> None:
    """Remove an officer; every session they have ends at once."""

    async def work(svc: Services) -> bool:
        return bool(await _console(svc).officers.remove(name.strip().lower()))

    if not run_with_services(work):
        out.print(f"There is no officer called {escape(name)}.")
        raise typer.Exit(1)
    out.print(f"Removed {escape(name)}; their sessions have ended.")


@app.command("list")
def list_officers() -> None:
    """The officers and their roles."""

    async def work(svc: Services) -> list[tuple[str, str, str]]:
        return [
            (o.name, o.role, f"{o.created_at:%Y-%m-%d} by {o.created_by}")
            for o in await _console(svc).officers.all()
        ]

    rows = run_with_services(work)
    if not rows:
        out.print("No officers yet: surveybot officer add NAME --role admin")
    for name, role, added in rows:
        out.print(f"{escape(name)}  {role}  (added {escape(added)})")


@app.command("password")
def password(name: Annotated[str, typer.Argument(help="The officer's sign-in name")]) -> None:
    """Set a new password (asked for, or read from standard input); their sessions end."""
    from adapters.officers.accounts import AccountError

    new = read_password("New password")

    async def work(svc: Services) -> None:
        try:
            await _console(svc).accounts.set_password(name, new)
        except AccountError as exc:
            raise Failed(str(exc)) from exc

    run_with_services(work)
    out.print(f"New password set for {escape(name)}; their sessions have ended.")


@app.command("unlock")
def unlock(name: Annotated[str, typer.Argument(help="The officer's sign-in name")]) -> None:
    """Clear the failed sign-ins that locked an account."""

    async def work(svc: Services) -> None:
        await _console(svc).officers.unlock(name.strip().lower())

    run_with_services(work)
    out.print(f"Sign-in unlocked for {escape(name)}.")
