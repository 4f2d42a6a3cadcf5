"""The Telegram channel (python-telegram-bot 22): webhook route, polling, outbound sender.

* :func:`routes` - ``POST /telegram/webhook`` for the ASGI app.
* :class:`TelegramChannel` - the bot; ``start``/``stop`` in the app's lifespan, ``set_webhook``.
* :class:`TelegramSender` - reminders and other outbound messages.
* :func:`run_polling` - for a bot without a public URL.
* :func:`deep_link` - ``https://t.me/<bot>?start=<flow>-<source>``.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from adapters.services import Services
from adapters.telegram.channel import (
    ALLOWED_UPDATES,
    BadUpdate,
    SendResult,
    TelegramChannel,
    TelegramSender,
    TelegramSendError,
)
from adapters.telegram.links import deep_link, mask_id, start_payload
from adapters.telegram.polling import run_polling
from adapters.telegram.render import render
from adapters.telegram.webhook import PATH, SECRET_HEADER, endpoint

__all__ = [
    "ALLOWED_UPDATES",
    "PATH",
    "SECRET_HEADER",
    "BadUpdate",
    "SendResult",
    "TelegramChannel",
    "TelegramSendError",
    "TelegramSender",
    "deep_link",
    "mask_id",
    "render",
    "routes",
    "run_polling",
    "start_payload",
]


def routes(services: Services, channel: TelegramChannel | None = None) -> list[BaseRoute]:
    """The webhook route. ``channel`` defaults to the services' channel (made if needed)."""
    channel = channel or TelegramChannel.of(services)
    return [Route(PATH, endpoint(services, channel), methods=["POST"])]
