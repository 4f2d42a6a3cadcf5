"""WhatsApp through Twilio: the inbound webhook, delivery callbacks and the REST sender.

``routes(services)`` gives ``POST /whatsapp/twilio`` (inbound messages, the same signed form as
SMS with ``From=whatsapp:+44...``) and ``POST /whatsapp/twilio/status`` (delivery callbacks).
:mod:`.inbound` reads the form, :mod:`.render` turns replies into messages with buttons or a
list, :mod:`.sender` sends them and keeps to the 24-hour window (templates outside it),
:mod:`.content` makes the Content API resources the buttons need. Everything Twilio channels
share is in :mod:`adapters.twilio_common`.
"""

from __future__ import annotations

import logging

from starlette.routing import BaseRoute

from adapters.services import Services
from adapters.whatsapp_twilio.links import wa_link
from adapters.whatsapp_twilio.sender import (
    STATUS_PATH,
    SendResult,
    WhatsAppSender,
    WindowClosed,
    build_sender,
    in_window,
)
from adapters.whatsapp_twilio.webhook import WhatsAppWebhooks
from bot.errors import SurveybotError

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/whatsapp/twilio"


def routes(services: Services) -> list[BaseRoute]:
    """The two routes. Buttons and API replies need the WhatsApp sender (settings); without
    it, replies go as TwiML text."""
    settings = services.settings
    sender = None
    if settings.whatsapp_enabled and settings.twilio_account_sid and settings.twilio_auth_token:
        try:
            sender = WhatsAppSender.of(services)
        except SurveybotError as exc:  # the channel still answers, in text; the rest carry on
            log.error("WhatsApp sender not configured (%s): replies go as TwiML text", exc)
    hooks = WhatsAppWebhooks(services, sender)
    return hooks.routes("whatsapp_twilio", WEBHOOK_PATH, STATUS_PATH, hooks.inbound)


__all__ = [
    "STATUS_PATH",
    "WEBHOOK_PATH",
    "SendResult",
    "WhatsAppSender",
    "WhatsAppWebhooks",
    "WindowClosed",
    "build_sender",
    "in_window",
    "routes",
    "wa_link",
]
