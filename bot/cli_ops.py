"""``surveybot`` subcommands that run the bot or touch stored data (serve, chat, telegram, erase).

They are registered on the same Typer app as ``validate`` and ``schema``; the channel and store
modules are imported inside each command so ``surveybot validate`` stays fast and light.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.cli import app
from bot.config import Settings

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
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    workers: Annotated[int, typer.Option(help="Web processes (uvicorn workers)")] = 1,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Start the web server: SMS and Telegram webhooks, the web chat and /healthz."""
    import uvicorn

    from store.embedded import embedded_url

    _logging(verbose)
    settings = Settings()
    host = host or settings.host
    port = port or settings.port
    if settings.redis_url is None:
        # Start (or reuse) the embedded Redis once here, so every worker shares it.
        url = embedded_url(settings.data_dir / "redis")
        import os

        os.environ["REDIS_URL"] = url
        out.print(f"[bold]No REDIS_URL set:[/] using the embedded local Redis at {url} "
                  f"(data in {settings.data_dir / 'redis'})")
    base = f"http://{host}:{port}"
    from bot.loader import FlowRegistry

    registry = FlowRegistry(settings.flows_dir)
    for fid in sorted(registry.flows):
        out.print(f"Web chat for [bold]{fid}[/]: {base}/chat/{fid}")
    for file, problems in registry.errors.items():
        err.print(f"[red]{file} was not loaded:[/] {problems[0].format()}")
    out.print(f"Health: {base}/healthz   (Ctrl-C to stop)")
    uvicorn.run(
        "adapters.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="debug" if verbose else "info",
        proxy_headers=True,
    )


@app.command()
def chat(
    flow: Annotated[Path, typer.Argument(help="A flow file, e.g. flows/carers-strategy.yaml")],
    as_channel: Annotated[str, typer.Option("--as", help="Render as: sms or telegram")] = "sms",
    source: Annotated[str | None, typer.Option(help="Source group id")] = None,
    lang: Annotated[str | None, typer.Option(help="Language code, e.g. gu")] = None,
) -> None:
    """Try a flow in the terminal, seeing each message as SMS (or Telegram) would show it."""
    from adapters.console import chat_main

    if as_channel not in ("sms", "telegram"):
        raise typer.BadParameter("use --as sms or --as telegram")
    raise typer.Exit(chat_main(flow, as_channel, source, lang, Settings()))


@app.command()
def erase(
    sms: Annotated[str | None, typer.Option("--sms", help="Phone number, e.g. +447700900123")] = None,
    telegram: Annotated[str | None, typer.Option("--telegram", help="Telegram chat id")] = None,
    web: Annotated[str | None, typer.Option("--web", help="Web chat cookie id")] = None,
) -> None:
    """Erase everything stored about one person (their session and every answer they gave)."""
    given = [(c, a) for c, a in (("sms", sms), ("telegram", telegram), ("web", web)) if a]
    if len(given) != 1:
        raise typer.BadParameter("give exactly one of --sms, --telegram or --web")
    channel, address = given[0]

    async def run() -> int:
        from adapters.services import build_services

        svc = build_services(Settings())
        try:
            return await svc.store.erase(channel, address)
        finally:
            await svc.store.close()

    removed = asyncio.run(run())
    out.print(f"Erased {removed} stored item(s) for that {channel} address.")


@app.command("telegram")
def telegram_cmd(
    polling: Annotated[bool, typer.Option("--polling", help="Poll Telegram (no public URL)")] = False,
    set_webhook: Annotated[bool, typer.Option("--set-webhook", help="Register the webhook")] = False,
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
