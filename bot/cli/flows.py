"""``surveybot validate`` and ``surveybot schema``: check flow files, and the flow format's JSON
Schema for editors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from bot.loader import load_paths
from bot.schema import Flow
from bot.validate import Channels

app = typer.Typer()
err = Console(stderr=True)


@app.command()
def validate(
    paths: Annotated[list[Path] | None, typer.Argument(help="Flow files or folders")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Errors only")] = False,
) -> None:
    """Check flow files; list every problem with file, line, column and a hint.

    Exit code 1 if any file has errors (or no flow file was found), 0 if only warnings or nothing.
    A broken file never stops the others from being checked.
    """
    results = load_paths(paths or [Path("flows")], _channels())
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
                    "problems": [
                        p.as_dict() for p in r.problems if not (quiet and p.severity != "error")
                    ],
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
                f"{escape(r.file)}: {mark}"
                + (f" ({r.flow.id}, {len(r.flow.questions)} questions)" if r.flow else ""),
                highlight=False,
                soft_wrap=True,
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
            out_console.print("no flow files found (they end in .yaml or .yml)")
        out_console.print(
            f"{len(results)} file(s), {n_err} error(s), "
            f"{sum(1 for p in problems if p.severity == 'warning')} warning(s)"
        )
    raise typer.Exit(1 if n_err or not results else 0)


def _channels() -> Channels:
    """What the settings (environment, .env) turn on, for the checks that depend on it; a
    broken setting checks as if nothing were on (``serve`` reports it)."""
    from pydantic import ValidationError

    from bot.config import Settings

    try:
        settings = Settings()
    except ValidationError:
        return Channels()
    return Channels(
        whatsapp=settings.whatsapp_enabled, whatsapp_templates=settings.whatsapp_templates
    )


@app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to this file")
    ] = None,
) -> None:
    """Print the JSON Schema of the flow format, for editors (see README: 'Editing flows')."""
    text = json.dumps(flow_json_schema(), indent=2, ensure_ascii=False)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
        err.print(f"wrote {output}")
    else:
        sys.stdout.write(text + "\n")


# Hover help in the editor for settings whose model field has no description of its own.
_QUESTION_KINDS = {
    "TextQuestion": "text: a free-text answer.",
    "ChoiceQuestion": "choice: pick one answer from a list.",
    "MultiQuestion": "multi: pick one or more answers from a list.",
    "ScaleQuestion": "scale: a number on a scale (min..max), or labelled points (choices).",
    "YesNoQuestion": "yesno: a yes or no answer.",
    "NumberQuestion": "number: a number, e.g. hours a week.",
    "DateQuestion": "date: a date, a month or a year.",
    "PostcodeQuestion": "postcode: a UK postcode; only the district (e.g. LE16) is stored.",
    "InfoQuestion": "info: a message that needs no answer.",
    "ConsentQuestion": "consent: yes/no; 'no' ends the survey politely.",
}
_DESCRIPTIONS: dict[str, str] = {
    "title": "The survey's name, e.g. 'Carers Strategy survey'. Used in reminders ({title}).",
    "contact": "How to reach the team; HELP replies give it.",
    "languages": "Language codes the survey is written in, e.g. [en, gu]. The first is the default.",
    "timezone": "Time zone for opens, closes and quiet hours, e.g. Europe/London.",
    "opens": "First day answers are taken (YYYY-MM-DD).",
    "closed_text": "Sent to anyone who writes after the survey has closed.",
    "reminders": "Gentle nudges to respondents who stop part way through.",
    "sources": "Community groups sharing the survey; a second SMS word records which one.",
    "questions": "The questions, asked in order. Each starts with '- id:'.",
    "type": "The kind of question: text, choice, multi, scale, yesno, number, date, postcode, "
    "info or consent.",
    "choices": "The answers to pick from: a list of {id, label}.",
    "other": "Add an 'Other' choice that asks for a few words.",
    "min_length": "Shortest answer accepted, in characters.",
    "max_length": "Longest answer accepted, in characters.",
    "min_picks": "Fewest choices a respondent must pick.",
    "max_picks": "Most choices a respondent may pick.",
    "letters": "Show A, B, C instead of 1, 2, 3.",
    "min": "Lowest value accepted.",
    "max": "Highest value accepted.",
    "min_year": "Earliest year accepted.",
    "max_year": "Latest year accepted.",
    "name": "A name people recognise.",
    "phone": "Phone number given in HELP replies.",
    "email": "Email address given in HELP replies.",
    "web": "Web address given in HELP replies.",
    "id": "Short code, lower case.",
    "label": "What the respondent sees.",
}


def flow_json_schema() -> dict[str, Any]:
    """The JSON Schema of a flow file, with a description on every setting.

    Written as draft-07 (``definitions``, not ``$defs``): the draft the VS Code YAML extension
    fully supports; it warns that 2020-12 schemas are "not yet fully supported".
    """
    doc = Flow.model_json_schema(mode="validation", ref_template="#/definitions/{model}")
    if "$defs" in doc:
        doc["definitions"] = doc.pop("$defs")
    doc["$schema"] = "http://json-schema.org/draft-07/schema#"
    doc["title"] = "surveybot flow"
    doc["description"] = (
        "A survey for the surveybot chat and SMS bot. Check a file with: surveybot validate FILE"
    )
    doc["properties"].pop("version", None)  # set by the loader, not written by officers
    defs: dict[str, Any] = doc.get("definitions", {})
    for name, kind in _QUESTION_KINDS.items():
        if name in defs:
            defs[name]["description"] = kind + (
                "\n\n" + defs[name]["description"] if "description" in defs[name] else ""
            )
    for name, model in [("Flow", doc), *defs.items()]:
        for field, prop in model.get("properties", {}).items():
            if "description" in prop:
                continue
            if name == "CommandWords":
                prop["description"] = f"Extra words that mean {field.upper()} in this language."
            elif field in _DESCRIPTIONS:
                prop["description"] = _DESCRIPTIONS[field]
    return doc
