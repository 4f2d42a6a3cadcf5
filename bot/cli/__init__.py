"""The ``surveybot`` command: one console script, with a subcommand for each job.

**The composition root.** This package is the only code that wires ``bot``, ``store`` and
``adapters`` together (the services, the officers' console, the channels' renderers handed to
the results). Nothing else imports it (``[tool.importlinter]`` in pyproject.toml checks that),
so the layers below stay one-way: ``adapters`` over ``store`` over ``bot``.

Each module holds one group of commands on a Typer app of its own, assembled here; none of them
imports another but :mod:`bot.cli.common` (what the commands that read the store share). The
channels' rendering and link formats the results take as parameters come from
:mod:`adapters.renderers`.
"""

from __future__ import annotations

import typer

from bot.cli import audit, flows, forms, misses, officers, ops, results, tools
from bot.cli.flows import flow_json_schema

app = typer.Typer(
    name="surveybot",
    help="A chat and SMS survey bot for public consultations.",
    no_args_is_help=True,
    add_completion=False,
)
# In this order in `surveybot --help`.
app.add_typer(flows.app)  # validate, schema
app.add_typer(forms.app)  # import, export-form, translations
app.add_typer(results.app)  # export, report
app.add_typer(ops.app)  # serve, chat, erase, telegram, worker, reminders
app.add_typer(audit.app)  # audit
app.add_typer(misses.app)  # misses
app.add_typer(tools.app)  # link, graph, cost
app.add_typer(officers.app, name="officer")  # officer add, remove, list, password, unlock


def main() -> None:
    from pydantic import ValidationError

    try:
        app(standalone_mode=True)
    except ValidationError as exc:  # a setting from the environment out of its bounds
        for line in settings_problems(exc):
            typer.echo(f"Error: {line}", err=True)
        raise SystemExit(2) from None


def settings_problems(exc: Exception) -> list[str]:
    """One plain line per bad setting: its environment variable, what is wrong, what was given."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return [str(exc)]
    lines = []
    for e in exc.errors():
        name = ".".join(str(x) for x in e["loc"]).upper() or "a setting"
        given = str(e.get("input"))[:40]
        lines.append(f"{name}: {e['msg']} (got {given!r})")
    return lines


__all__ = ["app", "flow_json_schema", "main", "settings_problems"]
