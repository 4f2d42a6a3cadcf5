"""Sending without a prompt (reminders): one ``Sender`` per channel that can do it.

A sender raises :class:`bot.errors.ChannelError` for a failure worth retrying later. A refusal
that means "never message this person" (Twilio 21610, a Telegram user who blocked the bot) is
handled inside the sender by recording an opt-out, and is not an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from bot.models import Reply, Session
from bot.schema import Flow

if TYPE_CHECKING:
    from adapters.services import Services


class Sender(Protocol):
    async def send(self, address: str, replies: list[Reply]) -> object: ...


@dataclass(frozen=True)
class Unprompted:
    """A message the person did not prompt (a reminder, the closing message), with what a
    channel needs to choose how it may send it (WhatsApp: the time of their last message)."""

    kind: Literal["remind", "final"]
    flow: Flow
    session: Session
    replies: list[Reply]
    now: datetime


@runtime_checkable
class UnpromptedSender(Protocol):
    """A sender with its own rules for unprompted messages (the worker uses it when it can)."""

    async def send_unprompted(self, message: Unprompted) -> object: ...


def build_senders(services: Services) -> dict[str, Sender]:
    """A sender for each channel that has credentials (the web chat never sends unprompted)."""
    senders: dict[str, Sender] = {}
    settings = services.settings
    if settings.twilio_account_sid and settings.twilio_auth_token:
        from adapters.sms_twilio import build_sender

        senders["sms"] = build_sender(settings, services=services)
    if settings.whatsapp_enabled and settings.twilio_account_sid and settings.twilio_auth_token:
        from adapters.whatsapp_twilio import WhatsAppSender

        senders["whatsapp"] = WhatsAppSender.of(services)
    if settings.telegram_token is not None:
        from adapters.telegram import TelegramSender

        senders["telegram"] = TelegramSender(services)
    return senders
