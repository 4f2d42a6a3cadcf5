"""The senders of unprompted messages (reminders), one per channel that has credentials.

Apart from :mod:`adapters.outbound` (what a sender is), which the channels import: this module
imports the channels, so the two never import each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.outbound import Sender
    from adapters.services import Services


def build_senders(services: Services) -> dict[str, Sender]:
    """A sender for each channel that has credentials (the web chat never sends unprompted).
    Each channel is imported only when it is configured."""
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
