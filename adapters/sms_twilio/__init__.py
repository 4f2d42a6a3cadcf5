"""SMS through Twilio: the inbound webhook, delivery callbacks and the REST sender.

``routes(services)`` gives ``POST /sms/twilio`` (inbound SMS, answered with TwiML) and
``POST /sms/twilio/status`` (delivery status callbacks); see :mod:`.webhook` for the signature
check (and why it uses the configured public URL), :mod:`.render` for how replies become
messages, :mod:`.sender` for reminders and other sends outside a webhook answer.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from adapters.services import Services
from adapters.sms_twilio.optout import mark_opted_out
from adapters.sms_twilio.render import MAX_SEGMENTS, mask, messages, sms_text
from adapters.sms_twilio.sender import (
    SendResult,
    TokenBucket,
    TwilioSender,
    TwilioSendError,
    build_sender,
    shared_bucket,
)
from adapters.sms_twilio.webhook import TwilioSignature, TwilioWebhooks, signed_url, unavailable

WEBHOOK_PATH = "/sms/twilio"
STATUS_PATH = "/sms/twilio/status"


def routes(services: Services) -> list[BaseRoute]:
    hooks = TwilioWebhooks(services)
    return [
        Route(WEBHOOK_PATH, hooks.inbound, methods=["POST"], name="sms_twilio"),
        Route(STATUS_PATH, hooks.status, methods=["POST"], name="sms_twilio_status"),
    ]


__all__ = [
    "MAX_SEGMENTS",
    "STATUS_PATH",
    "WEBHOOK_PATH",
    "SendResult",
    "TokenBucket",
    "TwilioSendError",
    "TwilioSender",
    "TwilioSignature",
    "TwilioWebhooks",
    "build_sender",
    "mark_opted_out",
    "mask",
    "messages",
    "routes",
    "shared_bucket",
    "signed_url",
    "sms_text",
    "unavailable",
]
