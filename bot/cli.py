"""The ``surveybot`` command: one console script, with a subcommand for each job."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from bot.loader import load_paths
from bot.schema import Flow

app = typer.Typer(
    name="surveybot",
    help="A chat and SMS survey bot for public consultations.",
    no_args_is_help=True,
    add_completion=False,
)
err = Console(stderr=True)


@app.command()
def validate(
    paths: Annotated[list[Path] | None, typer.Argument(help="Flow files or folders")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Errors only")] = False,
) -> None:
    """Check flow files; list every problem with file, line and a hint.

    Exit code 1 if any file has errors, 0 if only warnings (or nothing) were found.
    """
    results = load_paths(paths or [Path("flows")])
    problems = [p for r in results for p in r.problems if not (quiet and p.severity != "error")]
    n_err = sum(1 for p in problems if p.severity == "error")
    if as_json:
        out = {
            "files": [
                {
                    "file": r.file,
                    "ok": r.ok,
                    "flow": r.flow.id if r.flow else None,
                    "version": r.flow.version if r.flow else None,
                    "problems": [p.as_dict() for p in r.problems],
                }
                for r in results
            ],
            "errors": n_err,
            "warnings": sum(1 for p in problems if p.severity == "warning"),
        }
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        out_console = Console()
        for r in results:
            mark = "[green]ok[/]" if r.ok else "[red]rejected[/]"
            out_console.print(
                f"{r.file}: {mark}"
                + (f" ({r.flow.id}, {len(r.flow.questions)} questions)" if r.flow else "")
            )
            for p in r.problems:
                if quiet and p.severity != "error":
                    continue
                colour = "red" if p.severity == "error" else "yellow"
                out_console.print(
                    f"  [{colour}]{escape(p.format())}[/]",
                    highlight=False,
                    markup=True,
                    soft_wrap=True,
                )
        if not results:
            out_console.print("no flow files found")
        out_console.print(
            f"{len(results)} file(s), {n_err} error(s), "
            f"{sum(1 for p in problems if p.severity == 'warning')} warning(s)"
        )
    raise typer.Exit(1 if n_err else 0)


@app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to this file")
    ] = None,
) -> None:
    """Print the JSON Schema of the flow format, for editors (see README: 'Editing flows')."""
    doc = Flow.model_json_schema(mode="validation")
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["title"] = "surveybot flow"
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
        err.print(f"wrote {output}")
    else:
        sys.stdout.write(text + "\n")


def main() -> None:
    from bot import cli_ops  # noqa: F401  (registers serve, chat, erase, ... on `app`)

    app()


if __name__ == "__main__":
    main()
