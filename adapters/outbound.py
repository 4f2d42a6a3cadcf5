"""Sending without a prompt (reminders): one ``Sender`` per channel that can do it.

A sender raises :class:`bot.errors.ChannelError` for a failure worth retrying later. A refusal
that means "never message this person" (Twilio 21610, a Telegram user who blocked the bot) is
handled inside the sender by recording an opt-out, and is not an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from bot.models import Reply

if TYPE_CHECKING:
    from adapters.services import Services


class Sender(Protocol):
    async def send(self, address: str, replies: list[Reply]) -> object: ...


def build_senders(services: Services) -> dict[str, Sender]:
    """A sender for each channel that has credentials (the web chat never sends unprompted)."""
    senders: dict[str, Sender] = {}
    settings = services.settings
    if settings.twilio_account_sid and settings.twilio_auth_token:
        from adapters.sms_twilio import build_sender

        senders["sms"] = build_sender(settings, services=services)
    if settings.telegram_token is not None:
        from adapters.telegram import TelegramSender

        senders["telegram"] = TelegramSender(services)
    return senders
