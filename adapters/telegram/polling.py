"""``surveybot telegram --polling``: long-poll ``getUpdates`` for a bot without a public URL,
through the same handling code as the webhook."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import Update
from telegram.error import Conflict, TelegramError

from adapters.health import keep_starting
from adapters.services import Services
from adapters.telegram.channel import ALLOWED_UPDATES, TelegramChannel
from bot.errors import StoreError

log = logging.getLogger(__name__)

POLL_TIMEOUT = 30
"""Seconds Telegram holds a getUpdates call open when there is nothing new."""
BACKOFF_START = 1.0
BACKOFF_MAX = 60.0


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _poll(
    channel: TelegramChannel, stop: asyncio.Event, offset: int | None, wait: int
) -> tuple[Update, ...] | None:
    """One getUpdates call, or None when ``stop`` was set first."""
    poll = asyncio.ensure_future(
        channel.bot.get_updates(offset=offset, timeout=wait, allowed_updates=ALLOWED_UPDATES)
    )
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({poll, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if poll not in done:
        poll.cancel()
        with contextlib.suppress(asyncio.CancelledError, TelegramError):
            await poll
        return None
    return poll.result()


async def run_polling(
    services: Services,
    *,
    stop: asyncio.Event | None = None,
    channel: TelegramChannel | None = None,
    poll_timeout: int = POLL_TIMEOUT,
) -> None:
    """Fetch and handle updates until ``stop`` is set (or the task is cancelled).

    Deletes any webhook first (Telegram refuses getUpdates while one is set). An update is
    confirmed to Telegram only after it was handled; when the store is down the same update is
    fetched again after a pause, and the dedupe on ``update_id`` keeps a redelivery harmless.
    """
    stop = stop or asyncio.Event()
    channel = channel or TelegramChannel.of(services)
    # Telegram unreachable at start-up: keep trying (with back-off) rather than exit.
    await keep_starting(services.health, "telegram", channel.start)
    offset: int | None = None
    backoff = BACKOFF_START
    try:
        await channel.delete_webhook()
        log.info("polling Telegram as @%s", channel.username)
        while not stop.is_set():
            try:
                updates = await _poll(channel, stop, offset, poll_timeout)
            except Conflict as exc:
                log.error("another process is polling this bot, or a webhook is set: %s", exc)
                await _sleep(stop, backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            except TelegramError as exc:
                log.warning("getUpdates failed: %s", exc)
                await _sleep(stop, backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            if updates is None:
                break
            for update in updates:
                try:
                    await channel.handle_update(update)
                except StoreError as exc:
                    log.warning(
                        "store unavailable, update %s kept for later: %s", update.update_id, exc
                    )
                    await _sleep(stop, backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX)
                    break
                except Exception:
                    log.exception("telegram update %s failed; skipped", update.update_id)
                offset = max(offset or 0, update.update_id + 1)
            else:
                backoff = BACKOFF_START
    finally:
        if offset is not None:
            # Confirm what was handled, so a restart does not fetch it again.
            with contextlib.suppress(TelegramError, asyncio.CancelledError):
                await channel.bot.get_updates(offset=offset, timeout=0, limit=1)
        await channel.stop()
