"""SMS through Twilio: the inbound webhook, delivery callbacks and the REST sender.

``routes(services)`` gives ``POST /sms/twilio`` (inbound SMS, answered with TwiML) and
``POST /sms/twilio/status`` (delivery status callbacks); see :mod:`.webhook` for the signature
check (and why it uses the configured public URL), :mod:`.render` for how replies become
messages, :mod:`.sender` for reminders and other sends outside a webhook answer.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from adapters.services import Services
from adapters.sms_twilio.render import MAX_SEGMENTS, mask, messages, sms_text
from adapters.sms_twilio.sender import SendResult, TwilioSender, build_sender
from adapters.sms_twilio.webhook import TwilioWebhooks
from adapters.twilio_common.optout import mark_opted_out
from adapters.twilio_common.rest import TokenBucket, TwilioSendError, shared_bucket
from adapters.twilio_common.webhook import signed_url

WEBHOOK_PATH = "/sms/twilio"
STATUS_PATH = "/sms/twilio/status"


def routes(services: Services) -> list[BaseRoute]:
    hooks = TwilioWebhooks(services)
    return hooks.routes("sms_twilio", WEBHOOK_PATH, STATUS_PATH, hooks.inbound)


__all__ = [
    "MAX_SEGMENTS",
    "STATUS_PATH",
    "WEBHOOK_PATH",
    "SendResult",
    "TokenBucket",
    "TwilioSendError",
    "TwilioSender",
    "TwilioWebhooks",
    "build_sender",
    "mark_opted_out",
    "mask",
    "messages",
    "routes",
    "shared_bucket",
    "signed_url",
    "sms_text",
]
