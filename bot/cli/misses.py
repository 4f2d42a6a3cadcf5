"""``surveybot misses FLOW [--since DATE]``: the replies the bot did not understand, or had to
check, by question, with what each person finally answered, and synonyms worth adding.

Reads the misses log (``store.misses.MissLog``) (replies masked before they were stored) and, for the final
answers, the responses themselves. See :mod:`bot.misses` for the grouping and the suggestions.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from bot.cli.common import find_flow, parse_since, run_with_services
from bot.misses import Summary, summarise

if TYPE_CHECKING:
    from datetime import datetime

    from adapters.services import Services
    from bot.schema import Flow

app = typer.Typer()
out = Console(soft_wrap=True, highlight=False)


async def misses_summary(
    svc: Services, flow: Flow, since: datetime | None, *, min_people: int = 3
) -> Summary:
    from store.misses import MissLog

    log = MissLog.for_store(svc.store)
    records = [r async for r in log.records(flow, since)]
    return summarise(flow, records, min_people=min_people)


async def log_full(svc: Services, flow: Flow) -> int | None:
    """The flow's misses cap (people) if it was reached, else None: past it, new people's
    misses are not logged (``store.misses``)."""
    from store.misses import MissLog

    log = MissLog.for_store(svc.store)
    return log.per_flow if await log.people(flow.id) > log.per_flow else None


def _full_note(cap: int | None) -> str | None:
    if cap is None:
        return None
    return (
        f"The log is full: it keeps the misses of the first {cap:,} people who sent a reply "
        "not understood; later people's misses were not logged."
    )


def _as_json(s: Summary, top: int, cap: int | None) -> dict[str, Any]:
    return {
        "flow": s.flow,
        "replies": s.replies,
        "people": s.people,
        "full": cap is not None,
        "people_cap": cap,
        "questions": [
            {
                "question": q.question,
                "label": q.label,
                "replies": q.replies,
                "people": len(q.people),
                "top": [
                    {
                        "reply": r.text,
                        "replies": r.replies,
                        "people": len(r.people),
                        "not_understood": r.kinds["n"],
                        "checked": r.kinds["c"],
                        "finally": dict(r.finally_gave.most_common()),
                    }
                    for r in q.top(top)
                ],
            }
            for q in s.questions
        ],
        "suggestions": [
            {
                "question": g.question,
                "reply": g.text,
                "choice": g.choice,
                "label": g.label,
                "people": g.people,
            }
            for g in s.suggestions
        ],
    }


def _print(s: Summary, since: str | None, top: int, cap: int | None) -> None:
    when = f" since {since}" if since else ""
    note = _full_note(cap)
    if not s.questions:
        out.print(f"No misses logged for {s.flow}{when}: every reply was understood at once.")
        if note:
            out.print(note)
        return
    out.print(
        f"[bold]Misses for {escape(s.flow)}{escape(when)}[/]: {s.replies} replies from "
        f"{s.people} people, at {len(s.questions)} question(s). Phone numbers, emails and "
        "full postcodes were masked before storing."
    )
    for q in s.questions:
        out.print(
            f"\n[bold]{escape(q.question)}[/] ({escape(q.label)}): {q.replies} replies "
            f"from {len(q.people)} people"
        )
        for r in q.top(top):
            how = []
            if r.kinds["n"]:
                how.append(f"not understood {r.kinds['n']}x")
            if r.kinds["c"]:
                how.append(f"checked {r.kinds['c']}x")
            finals = ", ".join(f"{escape(k)} ({v})" for k, v in r.finally_gave.most_common(3))
            out.print(
                f"  {len(r.people):>4} people  '{escape(r.text)}'  [dim]{', '.join(how)}[/]  "
                f"-> finally: {finals}"
            )
        hidden = len(q.by_reply) - top
        if hidden > 0:
            out.print(f"  [dim]... and {hidden} other replies (--top to see more)[/]")
    if s.suggestions:
        out.print("\n[bold]Suggested synonyms[/] (add them to the choice in the flow file):")
        for g in s.suggestions:
            out.print(f"  {escape(g.sentence())}")
    if note:
        out.print(f"\n{note}")


@app.command("misses")
def misses_cmd(
    flow: Annotated[str, typer.Argument(help="Flow id, e.g. carers-strategy (or a flow file)")],
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only replies sent on or after this date (2026-11-01)"),
    ] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Replies shown per question")] = 10,
    min_people: Annotated[
        int,
        typer.Option("--min", min=1, help="People who must agree before a synonym is suggested"),
    ] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Replies that were not understood or needed a check, by question: how often, what each
    person finally answered, and synonyms to add to the flow file."""

    async def work(svc: Services) -> tuple[Summary, int | None]:
        f = find_flow(svc, flow)
        since_at = parse_since(since, f) if since else None
        summary = await misses_summary(svc, f, since_at, min_people=min_people)
        return summary, await log_full(svc, f)

    summary, cap = run_with_services(work)
    if as_json:
        typer.echo(json.dumps(_as_json(summary, top, cap), indent=2, ensure_ascii=False))
    else:
        _print(summary, since, top, cap)
