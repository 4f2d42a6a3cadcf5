"""``surveybot link``, ``surveybot graph`` and ``surveybot cost``: outreach, route diagram, cost.

Each takes a flow by id (looked up in ``SURVEYBOT_FLOWS``, default ``flows/``) or by file path.
Problems are reported in plain words on stderr with exit code 1, never as a traceback.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.config import Settings
from bot.errors import FlowError, SurveybotError
from bot.schema import Flow

app = typer.Typer()

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

FLOW_HELP = "Flow id (e.g. carers-strategy) or flow file (e.g. flows/carers-strategy.yaml)"


def fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/] {escape(message)}")
    raise typer.Exit(1)


def settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        fail(f"a setting in the environment or .env is wrong ({where}): {first.get('msg')}")


def load_flow_arg(flow: str) -> Flow:
    """A flow by file path, or by id from the flows folder; clear errors otherwise."""
    from bot.loader import FlowRegistry, require_flow

    path = Path(flow)
    if path.suffix.lower() in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            fail(f"no flow file {flow}")
        try:
            return require_flow(path)
        except FlowError as exc:
            lines = "\n  ".join(p.format() for p in exc.problems[:10])
            fail(f"{flow} cannot be used:\n  {lines}\nrun: surveybot validate {flow}")
    folder = settings().flows_dir
    registry = FlowRegistry(folder)
    found = registry.get(flow)
    if found is not None:
        return found
    known = ", ".join(sorted(registry.flows)) or "none"
    rejected = (
        f"; files with errors: {', '.join(sorted(registry.errors))} (run: surveybot validate)"
        if registry.errors
        else ""
    )
    fail(f"no flow {flow!r} in {folder}/ (flows there: {known}){rejected}")


# --- link ----------------------------------------------------------------------------------------


@app.command()
def link(
    flow: Annotated[str, typer.Argument(help=FLOW_HELP)],
    source: Annotated[
        str | None, typer.Option("--source", "-s", help="Source group id, e.g. harborough-carers")
    ] = None,
    all_sources: Annotated[
        bool, typer.Option("--all-sources", help="One set of links (and posters) per source")
    ] = False,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for QR codes and posters")
    ] = Path("out"),
    poster: Annotated[
        bool, typer.Option("--poster", help="Also write a printable A4 poster (HTML)")
    ] = False,
    lang: Annotated[
        str | None, typer.Option("--lang", help="Open the web chat in this language, e.g. gu")
    ] = None,
    no_qr: Annotated[bool, typer.Option("--no-qr", help="Print the links only")] = False,
) -> None:
    """Links to share a survey: Telegram, web chat, SMS keyword, WhatsApp, the number to call;
    QR codes and an A4 poster.

    Set SURVEYBOT_PUBLIC_URL, TELEGRAM_BOT_USERNAME, TWILIO_FROM_NUMBER, TWILIO_WHATSAPP_FROM and
    TWILIO_VOICE_NUMBER (environment or .env) for complete links; anything missing is named in
    the notes.
    """
    from adapters.renderers import LINKS
    from bot.loader import FlowRegistry
    from bot.results import outreach

    f = load_flow_arg(flow)
    cfg = settings()
    # The surveys that share the phone number: its spoken menu decides the key to print.
    others = list(FlowRegistry(cfg.flows_dir).flows.values()) if cfg.twilio_voice_number else []
    if all_sources and source:
        fail("give --source or --all-sources, not both")
    if all_sources and not f.sources:
        fail(f"flow {f.id!r} has no sources; add a 'sources:' list to the flow file")
    wanted: list[str | None] = [s.id for s in f.sources] if all_sources else [source]
    notes: list[str] = []
    for sid in wanted:
        try:
            links = outreach.make_links(
                f,
                sid,
                formats=LINKS,
                public_url=cfg.public_url,
                bot_username=cfg.telegram_bot_username,
                from_number=cfg.twilio_from_number,
                whatsapp_number=cfg.twilio_whatsapp_from,
                lang=lang,
                voice_number=cfg.twilio_voice_number,
                others=others,
            )
        except SurveybotError as exc:
            fail(str(exc))
        from bot.text import tr

        head = f"{tr(f.title, links.lang)} ({f.id})"
        if links.source:
            head += f", shared by {links.source.name} ({links.source.id})"
        out.print(f"[bold]{escape(head)}[/]")
        out.print(f"  Telegram: {escape(links.telegram or '(not set: see notes)')}")
        out.print(f"  Web chat: {escape(links.web)}")
        sms_line = links.sms_text or (
            f"Text {links.sms_words} to (number not set: see notes)"
            if links.sms_words
            else "(no SMS keyword: see notes)"
        )
        out.print(f"  SMS:      {escape(sms_line)}")
        out.print(f"  WhatsApp: {escape(links.whatsapp or '(not set: see notes)')}")
        out.print(f"  Phone:    {escape(links.voice_text or '(number not set: see notes)')}")
        if not no_qr:
            png, svg = outreach.write_qr(links.web, output, links.stem)
            out.print(f"  QR code (web chat link): {escape(str(png))}, {escape(str(svg))}")
            if links.whatsapp:
                png, svg = outreach.write_qr(links.whatsapp, output, f"{links.stem}-whatsapp")
                out.print(f"  QR code (WhatsApp link): {escape(str(png))}, {escape(str(svg))}")
        if poster:
            page = outreach.write_poster(links, output)
            out.print(
                f"  Poster: {escape(str(page))} (open in a browser, print on A4 or save as PDF)"
            )
        notes.extend(n for n in links.notes if n not in notes)
    if notes:
        out.print("Notes:")
        for n in notes:
            out.print(f"  - {escape(n)}")


# --- graph ---------------------------------------------------------------------------------------


class GraphFormat(StrEnum):
    mermaid = "mermaid"
    dot = "dot"


_SUFFIX_FORMAT = {".dot": GraphFormat.dot, ".gv": GraphFormat.dot}


@app.command()
def graph(
    flow: Annotated[str, typer.Argument(help=FLOW_HELP)],
    fmt: Annotated[
        GraphFormat | None,
        typer.Option("--format", "-f", help="mermaid (default) or dot; from -o's ending if unset"),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file (.mmd, .md, .dot, .gv)"),
    ] = None,
    lang: Annotated[
        str | None, typer.Option("--lang", help="Question texts in this language")
    ] = None,
) -> None:
    """Draw the flow's route (skip logic) as Mermaid or Graphviz DOT, to check before going live.

    Mermaid renders on GitHub and GitLab, in VS Code's Markdown preview and at mermaid.live; a
    .md output is wrapped in a ```mermaid block. DOT: dot -Tsvg flow.dot -o flow.svg
    """
    from bot.results import graph as diagram

    f = load_flow_arg(flow)
    if lang is not None and lang not in f.languages:
        fail(f"flow {f.id!r} is not in language {lang!r}; it is in: {', '.join(f.languages)}")
    chosen = fmt or (_SUFFIX_FORMAT.get(output.suffix.lower()) if output else None)
    chosen = chosen or GraphFormat.mermaid
    text = diagram.render(f, chosen.value, lang)
    if output is None:
        typer.echo(text, nl=False)
        return
    if chosen is GraphFormat.mermaid and output.suffix.lower() == ".md":
        text = f"```mermaid\n{text}```\n"
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    err.print(f"wrote {escape(str(output))} ({chosen.value})")


# --- cost ----------------------------------------------------------------------------------------


def _money(value: float, currency: str) -> str:
    return f"{currency}{value:,.2f}"


def _price(value: float, currency: str) -> str:
    """A unit price with as many decimals as it has (at least 2): ``£0.0075``."""
    text = f"{value:,.6f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{currency}{whole}.{frac.ljust(2, '0')}"


def _whatsapp_cost(est: object, template: float, service: float, fee: float, currency: str) -> None:
    """The same routes on WhatsApp: messages, templates and windows, not segments."""
    from adapters.renderers import whatsapp_messages
    from bot.results import cost as costing

    assert isinstance(est, costing.Estimate)
    wa = costing.whatsapp_estimate(
        est,
        messages=whatsapp_messages,
        template_price=template,
        service_price=service,
        message_fee=fee,
    )
    out.print(
        f"[bold]WhatsApp[/] (per message, not per part): {_price(template, currency)} per "
        f"template, {_price(service, currency)} per service message, Twilio "
        f"{_price(fee, currency)} per message in or out"
    )
    table = Table(caption="WhatsApp messages per completed response (reminders included)")
    for col in ("route", "service out", "templates", "in", "windows", "each", "total"):
        table.add_column(col, justify="left" if col == "route" else "right")
    for r in wa.routes.values():
        table.add_row(
            r.name,
            str(r.service),
            str(r.templates),
            str(r.inbound),
            str(r.windows),
            _money(wa.each(r), currency),
            _money(wa.total(r), currency),
        )
    out.print(table)
    for note in wa.notes:
        out.print(f"  - {escape(note)}")


def _call_cost(
    est: object,
    per_minute: float,
    speech: float,
    tts: float,
    wpm: float,
    currency: str,
    detail: bool = False,
) -> None:
    """The same survey by phone call: minutes (spoken and listening) per completed response."""
    from adapters.renderers import CALL_SPEECH
    from bot.results import cost as costing
    from bot.results import voice_cost

    assert isinstance(est, costing.Estimate)
    try:
        calls = voice_cost.call_estimate(
            est, speech=CALL_SPEECH, price_per_minute=per_minute, speech_price=speech,
            tts_price=tts, words_per_minute=wpm,
        )  # fmt: skip
    except SurveybotError as exc:
        out.print(f"[bold]Phone calls:[/] {escape(str(exc))}")
        return
    out.print(
        f"[bold]Phone calls[/] (minutes, not messages): {_price(per_minute, currency)} a minute, "
        f"{_price(speech, currency)} per 15 s of speech recognition, {_price(tts, currency)} per "
        "100 characters spoken"
    )
    table = Table(caption="A call per completed response: spoken + listening = call (m:ss)")
    for col in ("route", "answers", "spoken", "listening", "call", "minutes", "each", "total"):
        table.add_column(col, justify="left" if col == "route" else "right", no_wrap=True)
    for r in calls.routes.values():
        table.add_row(
            r.name,
            str(r.answers),
            voice_cost.clock(r.speaking),
            voice_cost.clock(r.listening),
            voice_cost.clock(r.seconds),
            str(r.minutes),
            _money(calls.each(r), currency),
            _money(calls.total(r), currency),
        )
    out.print(table)
    for note in calls.notes:
        out.print(f"  - {escape(note)}")
    if detail:
        for r in calls.routes.values():
            t = Table(title=f"{r.name} call")
            for col in ("step", "spoken", "listening", "characters"):
                t.add_column(col, justify="left" if col == "step" else "right")
            for step in r.steps:
                t.add_row(
                    escape(step.what),
                    f"{step.speaking:.1f} s",
                    f"{step.listening:.1f} s",
                    str(step.characters),
                )
            out.print(t)


@app.command()
def cost(
    flow: Annotated[str, typer.Argument(help=FLOW_HELP)],
    respondents: Annotated[
        int,
        typer.Option(
            "--respondents", "-n", min=0, max=100_000_000, help="People expected to complete it"
        ),
    ] = 1000,
    price_per_segment: Annotated[
        float,
        typer.Option(
            "--price-per-segment", min=0.0, max=1000.0, help="Price of one outbound SMS segment"
        ),
    ] = 0.04,
    inbound_price: Annotated[
        float | None,
        typer.Option(
            "--inbound-price", min=0.0, max=1000.0, help="Price of one inbound SMS segment"
        ),
    ] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="Language, e.g. gu")] = None,
    reminders: Annotated[
        int | None,
        typer.Option(
            "--reminders", min=0, max=50, help="Reminders per respondent (default: the flow's max)"
        ),
    ] = None,
    currency: Annotated[str, typer.Option("--currency", help="Symbol shown before prices")] = "£",
    detail: Annotated[
        bool, typer.Option("--detail", help="List every message of each route with its parts")
    ] = False,
    wa_template_price: Annotated[
        float,
        typer.Option(
            "--wa-template-price",
            min=0.0,
            max=1000.0,
            help="WhatsApp: Meta's price per template message",
        ),
    ] = 0.02,
    wa_service_price: Annotated[
        float,
        typer.Option(
            "--wa-service-price",
            min=0.0,
            max=1000.0,
            help="WhatsApp: Meta's price per service message",
        ),
    ] = 0.0,
    wa_message_fee: Annotated[
        float,
        typer.Option(
            "--wa-message-fee",
            min=0.0,
            max=1000.0,
            help="WhatsApp: Twilio's fee per message, in or out",
        ),
    ] = 0.004,
    price_per_minute: Annotated[
        float,
        typer.Option(
            "--price-per-minute",
            min=0.0,
            max=1000.0,
            help="Phone: price of one call minute (rounded up)",
        ),
    ] = 0.01,
    speech_price: Annotated[
        float,
        typer.Option(
            "--speech-price",
            min=0.0,
            max=1000.0,
            help="Phone: price of 15 seconds of speech recognition",
        ),
    ] = 0.02,
    tts_price: Annotated[
        float,
        typer.Option(
            "--tts-price", min=0.0, max=1000.0, help="Phone: price of 100 characters spoken"
        ),
    ] = 0.0008,
    words_per_minute: Annotated[
        float,
        typer.Option(
            "--words-per-minute", min=60.0, max=400.0, help="Phone: speaking rate of the voice"
        ),
    ] = 150.0,
) -> None:
    """Estimate what a survey costs by SMS (segments, reminders included), by WhatsApp
    (messages, templates) and by phone call (minutes, from the words the call says), with totals.

    Shortest, typical and longest route through the flow; messages that go into an extra part or
    into Unicode (UCS-2) are listed with the characters responsible.
    """
    from adapters.renderers import sms_messages
    from bot.results import cost as costing
    from bot.text import LANGUAGE_NAMES, tr

    f = load_flow_arg(flow)
    try:
        est = costing.estimate(
            f,
            render=sms_messages,
            respondents=respondents,
            price=price_per_segment,
            lang=lang,
            reminders=reminders,
            inbound_price=inbound_price,
        )
    except SurveybotError as exc:
        fail(str(exc))
    lang_name = LANGUAGE_NAMES.get(est.lang, est.lang)
    out.print(
        f"[bold]SMS cost estimate: {escape(tr(f.title, est.lang))} ({f.id}), {lang_name}, "
        f"{respondents:,} completed responses[/]"
    )
    inbound_txt = (
        f"{_price(inbound_price, currency)} per inbound segment"
        if inbound_price is not None
        else "inbound not priced (give --inbound-price)"
    )
    out.print(
        f"{_price(price_per_segment, currency)} per outbound segment; {inbound_txt}; "
        f"{est.reminders} reminder(s) per respondent"
    )
    table = Table(caption="SMS out/in: segments per completed response (out includes reminders)")
    table.add_column("route")
    table.add_column("answers", justify="right")
    table.add_column("SMS out", justify="right")
    table.add_column("reminders", justify="right")
    table.add_column("SMS in", justify="right")
    table.add_column("each", justify="right")
    table.add_column("total", justify="right", no_wrap=True)
    for route in est.routes.values():
        per = est.cost(route) + (est.inbound_cost(route) or 0.0)
        table.add_row(
            route.name,
            str(route.answers),
            str(route.outbound),
            str(route.reminder_segments),
            str(route.inbound),
            _money(per, currency),
            _money(est.total(route), currency),
        )
    out.print(table)
    typical = est.routes["typical"]
    out.print(
        f"Estimated total: [bold]{_money(est.total(typical), currency)}[/] (typical route), "
        f"between {_money(est.total(est.routes['shortest']), currency)} and "
        f"{_money(est.total(est.routes['longest']), currency)}"
        + ("" if inbound_price is not None else "; outbound only")
    )
    for note in est.notes:
        out.print(f"  - {escape(note)}")
    _whatsapp_cost(est, wa_template_price, wa_service_price, wa_message_fee, currency)
    _call_cost(est, price_per_minute, speech_price, tts_price, words_per_minute, currency, detail)
    if est.flags:
        out.print("[bold]Messages that cost more than they need to, or nearly do:[/]")
        for flag in est.flags:
            out.print(f"  - {escape(f'[{flag.what}]')} {escape(flag.message)}")
    if detail:
        for route in est.routes.values():
            t = Table(title=f"{route.name} route")
            t.add_column("message")
            t.add_column("encoding")
            t.add_column("length", justify="right")
            t.add_column("parts", justify="right")
            for p in (*route.steps, *route.reminders):
                t.add_row(escape(p.what), p.encoding, str(p.length), str(p.segments))
            out.print(t)
