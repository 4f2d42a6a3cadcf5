"""``surveybot`` subcommands that run the bot or touch stored data (serve, chat, telegram, erase).

The channel and store modules are imported inside each command, so ``surveybot validate``
stays fast and light.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from bot.cli.common import actor
from bot.config import Settings

if TYPE_CHECKING:
    from adapters.outbound import Sender
    from adapters.services import Services

app = typer.Typer()

out = Console()
err = Console(stderr=True)


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port to listen on")] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Web processes (uvicorn workers)")
    ] = 1,
    worker: Annotated[bool, typer.Option("--worker", help="Also send reminders")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Start the web server: SMS, WhatsApp and Telegram webhooks, the web chat and /healthz."""
    import os

    import uvicorn

    if worker:
        os.environ["SURVEYBOT_WORKER"] = "true"

    import logging.config

    from adapters.logs import log_config
    from store.embedded import embedded_url

    settings = Settings()
    logs = log_config("DEBUG" if verbose else "INFO", settings.log_format)
    logging.config.dictConfig(logs)
    host = host or settings.host
    port = port or settings.port
    if settings.redis_url is None:
        # Start (or reuse) the embedded Redis once here, so every worker shares it.
        url = embedded_url(settings.data_dir / "redis")
        os.environ["REDIS_URL"] = url
        out.print(
            f"[bold]No REDIS_URL set:[/] using the embedded local Redis at {url} "
            f"(data in {settings.data_dir / 'redis'})",
            soft_wrap=True,
        )
    base = f"http://{host}:{port}"
    from bot.loader import FlowRegistry

    registry = FlowRegistry(settings.flows_dir)
    from bot.dispatch import utcnow

    for f in registry.open_flows(utcnow()):
        out.print(f"Web chat for [bold]{f.id}[/]: {base}/chat/{f.id}", soft_wrap=True)
    for file, problems in registry.errors.items():
        err.print(f"[red]{file} was not loaded:[/] {problems[0].format()}")
    if settings.console:
        out.print(f"Officers' console: {base}/console (accounts: surveybot officer add)")
    out.print(f"Health: {base}/healthz   (Ctrl-C to stop)")
    # Our logging in every worker (uvicorn applies log_config in each); uvicorn's own access log
    # is off: SURVEYBOT_ACCESS_LOG turns on a cheaper, masked one (adapters/logs.py).
    uvicorn.run(
        "adapters.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=logs,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


@app.command()
def chat(
    flow: Annotated[Path, typer.Argument(help="A flow file, e.g. flows/carers-strategy.yaml")],
    as_channel: Annotated[
        str, typer.Option("--as", help="Render as: sms, telegram or voice (a phone call)")
    ] = "sms",
    source: Annotated[str | None, typer.Option(help="Source group id")] = None,
    lang: Annotated[str | None, typer.Option(help="Language code, e.g. gu")] = None,
) -> None:
    """Try a flow in the terminal, seeing each message as SMS (or Telegram) would show it."""
    from adapters.console import chat_main

    if as_channel not in ("sms", "telegram", "voice"):
        raise typer.BadParameter("use --as sms, --as telegram or --as voice")
    raise typer.Exit(chat_main(flow, as_channel, source, lang, Settings()))


@app.command()
def erase(
    sms: Annotated[
        str | None, typer.Option("--sms", help="Phone number, e.g. +447700900123")
    ] = None,
    whatsapp: Annotated[
        str | None, typer.Option("--whatsapp", help="WhatsApp number, e.g. +447700900123")
    ] = None,
    telegram: Annotated[str | None, typer.Option("--telegram", help="Telegram chat id")] = None,
    web: Annotated[
        str | None, typer.Option("--web", help="Web chat cookie (as the browser shows it)")
    ] = None,
    officer: Annotated[
        str | None,
        typer.Option("--officer", help="Who is running this, for the audit trail (default: login)"),
    ] = None,
) -> None:
    """Erase everything stored about one person (their session and every answer they gave)."""
    pairs = (("sms", sms), ("whatsapp", whatsapp), ("telegram", telegram), ("web", web))
    given = [(c, a) for c, a in pairs if a]
    if len(given) != 1:
        raise typer.BadParameter("give exactly one of --sms, --whatsapp, --telegram or --web")
    channel, address = given[0]
    if channel == "web":
        from adapters.web.session_ids import address_of

        address = address_of(Settings().secret_bytes, address)  # the cookie, or its id

    async def run() -> int:
        from adapters.services import build_services

        svc = build_services(Settings())
        try:
            # Every flow being served too: entries of a first message whose commit was refused.
            return await svc.store.erase(
                channel, address, flows=svc.registry.flows, actor=actor(officer)
            )
        finally:
            await svc.store.close()

    removed = asyncio.run(run())
    out.print(f"Erased {removed} stored item(s) for that {channel} address.")


@app.command("telegram")
def telegram_cmd(
    polling: Annotated[
        bool, typer.Option("--polling", help="Poll Telegram (no public URL)")
    ] = False,
    set_webhook: Annotated[
        bool, typer.Option("--set-webhook", help="Register the webhook")
    ] = False,
) -> None:
    """Run the Telegram bot by polling, or register its webhook with Telegram."""
    from adapters import telegram as tg
    from adapters.services import build_services

    settings = Settings()
    if settings.telegram_token is None:
        raise typer.BadParameter("set TELEGRAM_TOKEN first")
    _logging(False)

    async def run() -> None:
        svc = build_services(settings)
        if set_webhook:
            channel = tg.TelegramChannel(svc)
            await channel.start()
            try:
                await channel.set_webhook(f"{settings.public_url}/telegram/webhook")
            finally:
                await channel.stop()
            out.print("Webhook registered.")
        elif polling:
            await tg.run_polling(svc)
        else:
            raise typer.BadParameter("use --polling or --set-webhook")

    asyncio.run(run())


def _senders(svc: Services) -> dict[str, Sender]:
    from adapters.senders import build_senders

    return build_senders(svc)


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Send due reminders (run one or more beside `serve`; they share the work safely)."""
    from adapters.services import build_services
    from adapters.worker import ReminderWorker

    _logging(verbose)

    async def run() -> None:
        svc = build_services(Settings())
        senders = _senders(svc)
        if not senders:
            err.print("No channel can send reminders: set Twilio or Telegram credentials.")
        w = ReminderWorker(svc, senders)
        if once:
            stats = await w.run_once()
            out.print(
                f"sent {stats.sent}, final {stats.finals}, failed {stats.failed}, "
                f"rescheduled {stats.rescheduled}, removed {stats.removed}"
            )
            return
        stop = asyncio.Event()
        out.print("Reminder worker running (Ctrl-C to stop).")
        await w.run(stop)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


@app.command()
def reminders(
    flow: Annotated[str, typer.Option("--flow", help="Flow id, e.g. carers-strategy")],
) -> None:
    """What is queued: planned reminders of a flow, counted by the hour they are due."""
    from collections import Counter

    from adapters.services import build_services
    from adapters.worker import queued

    async def run() -> tuple[list[tuple[datetime, str]], ZoneInfo]:
        svc = build_services(Settings())
        f = svc.registry.get(flow)
        if f is None:
            raise typer.BadParameter(f"no flow {flow!r} in {svc.settings.flows_dir}")
        try:
            # The channels that can send unprompted (the web chat cannot), configured here or not.
            return await queued(svc, f, {"sms", "telegram"}), f.tz
        finally:
            await svc.store.close()

    rows, tz = asyncio.run(run())
    by_hour: Counter[tuple[datetime, str]] = Counter(
        (at.astimezone(tz).replace(minute=0, second=0, microsecond=0), kind) for at, kind in rows
    )
    table = Table(title=f"Queued for {flow} ({tz.key} time)")
    table.add_column("due hour")
    table.add_column("reminders", justify="right")
    table.add_column("final messages", justify="right")
    for h in sorted({h for h, _ in by_hour}):
        table.add_row(
            f"{h:%a %d %b %Y %H:00}", str(by_hour[(h, "remind")]), str(by_hour[(h, "final")])
        )
    out.print(table)
    out.print(f"{len(rows)} planned in all.")
