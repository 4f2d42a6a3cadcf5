"""``surveybot`` subcommands for spreadsheets: ``import``, ``export-form`` and ``translations``.

The work is in :mod:`bot.forms`; this module only reads the options, prints the problems (sheet,
row, column, what to do) and writes files. A file is written only when it has no errors, and a
flow file only after the bot's own loader accepted it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from bot.errors import FormProblem

app = typer.Typer()

out = Console()
err = Console(stderr=True)


def _print(problems: list[FormProblem], *, quiet: bool = False) -> None:
    for p in problems:
        if quiet and p.severity != "error":
            continue
        colour = "red" if p.severity == "error" else "yellow"
        err.print(f"[{colour}]{escape(p.format())}[/]", highlight=False, soft_wrap=True)


def _counts(problems: list[FormProblem]) -> str:
    n_err = sum(1 for p in problems if p.severity == "error")
    return f"{n_err} error(s), {len(problems) - n_err} warning(s)"


def _load(path: Path) -> object:
    from bot.loader import load_flow

    result = load_flow(path)
    if result.flow is None:
        for p in result.errors or result.problems:
            err.print(f"[red]{escape(p.format())}[/]", highlight=False, soft_wrap=True)
        err.print(f"{path} has errors: fix them first (surveybot validate {path})")
        raise typer.Exit(1)
    return result.flow


@app.command("import")
def import_(
    form: Annotated[Path, typer.Argument(help="The XLSForm (.xlsx or .xls)")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="The flow file (default flows/ID.yaml)")
    ] = None,
    flow_id: Annotated[str | None, typer.Option("--id", help="Flow id (default form_id)")] = None,
    council: Annotated[str | None, typer.Option(help="Who runs the survey")] = None,
    contact: Annotated[
        str | None, typer.Option(help="Contact for HELP: an email, phone or web address")
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(help="Language code of columns with none (label, hint); default en"),
    ] = None,
    no_group_messages: Annotated[
        bool, typer.Option("--no-group-messages", help="Do not send group labels as messages")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Problems as JSON")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Errors only")] = False,
) -> None:
    """Turn an XLSForm (KoBoToolbox, ODK, SurveyCTO) into a flow file.

    Every question says in a comment which sheet and row it came from. What a chat cannot do
    (repeats, calculations, GPS, photos, choice filters...) is reported with its sheet, row and
    column. Exit code 1 if the form has errors (nothing is written).
    """
    from bot.forms.importer import Options, import_form

    opts = Options(flow_id, council, contact, language, not no_group_messages)
    result = import_form(form, opts, output=str(output) if output else None)
    target = output
    if result.flow is not None and target is None:
        target = Path("flows") / f"{result.flow['id']}.yaml"
    problems = list(result.problems)
    if result.yaml_text is not None and target is not None and target.exists() and not force:
        problems.append(
            FormProblem(
                str(target), None, None, None, "the file exists already", "pass --force, or -o"
            )
        )
    ok = result.yaml_text is not None and not any(p.severity == "error" for p in problems)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "ok": ok,
                    "file": str(target) if ok else None,
                    "problems": [p.as_dict() for p in problems],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        _print(problems, quiet=quiet)
    if not ok or target is None or result.yaml_text is None:
        if not as_json:
            err.print(f"[red]not imported[/]: {_counts(problems)}")
        raise typer.Exit(1)
    from bot.forms.translations import write_atomically

    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, result.yaml_text)
    if not as_json:
        n = len(result.flow["questions"]) if result.flow else 0
        out.print(f"wrote {target} ({n} questions; {_counts(problems)})", highlight=False)


@app.command("export-form")
def export_form_command(
    flow: Annotated[Path, typer.Argument(help="The flow file")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The XLSForm to write (.xlsx)")],
) -> None:
    """Write a flow as an XLSForm (survey, choices and settings sheets) for ODK or KoBoToolbox.

    surveybot import reads it back into the same flow.
    """
    from bot.forms.exporter import export_form
    from bot.schema import Flow

    loaded = _load(flow)
    assert isinstance(loaded, Flow)
    export_form(loaded, output)
    out.print(f"wrote {output} ({len(loaded.questions)} questions)", highlight=False)


@app.command()
def translations(
    flow: Annotated[Path, typer.Argument(help="The flow file")],
    lang: Annotated[
        str | None, typer.Option("--lang", help="Language code, e.g. pa, gu, pl, ur")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="The sheet to write (.xlsx)")
    ] = None,
    import_sheet: Annotated[
        Path | None,
        typer.Option("--import", help="Merge this translated sheet into the flow file"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check the sheet; change nothing")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Problems as JSON")] = False,
) -> None:
    """Send a flow's texts to a translator (--lang pa -o pa.xlsx) and merge them back (--import).

    The sheet has each text a respondent sees, with its id, the original, context and the SMS
    budget for that row in that language's script. On --import, missing rows, placeholders lost
    or changed and texts over budget are reported with their row; rows with placeholder errors
    are not merged (exit code 1), the rest are, and the language is added to the flow.
    """
    from bot.forms.translations import export_translations, import_translations, write_atomically
    from bot.schema import Flow

    if import_sheet is None:
        if lang is None or output is None:
            err.print("give --lang CODE and -o FILE.xlsx to write a sheet, or --import FILE.xlsx")
            raise typer.Exit(2)
        from bot.forms.languages import CODE

        if not CODE.match(lang):
            err.print(f"{lang!r} is not a language code (e.g. pa, gu, pl, ur)")
            raise typer.Exit(2)
        loaded = _load(flow)
        assert isinstance(loaded, Flow)
        if lang == loaded.languages[0]:
            err.print(f"{lang} is the flow's own language; choose the language to translate into")
            raise typer.Exit(2)
        rows = export_translations(loaded, lang, output)
        out.print(f"wrote {output} ({len(rows)} texts to translate into {lang})", highlight=False)
        return
    report = import_translations(flow, import_sheet, lang)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "language": report.lang,
                    "merged": report.merged,
                    "written": bool(report.yaml_text) and not dry_run,
                    "problems": [p.as_dict() for p in report.problems],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        _print(report.problems)
    if report.yaml_text is None:
        if not as_json:
            err.print(f"[red]nothing merged[/]: {_counts(report.problems)}")
        raise typer.Exit(1)
    if not dry_run:
        write_atomically(output or flow, report.yaml_text)
    if not as_json:
        verb = "would merge" if dry_run else "merged"
        out.print(
            f"{verb} {report.merged} {report.lang} texts into {output or flow} "
            f"({_counts(report.problems)})",
            highlight=False,
        )
    if report.errors:
        raise typer.Exit(1)
