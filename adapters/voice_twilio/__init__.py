"""Answer by phone call: Twilio Programmable Voice.

``routes(services)`` gives ``POST /voice/twilio`` (call start and every ``<Gather>`` result,
answered with TwiML) and ``POST /voice/twilio/status`` (call status callbacks). The channel's
logic is transport-free in :mod:`.call` (also driven by ``surveybot chat --as voice``), how replies
are spoken and key presses read in :mod:`.speech`, the TwiML in :mod:`.twiml`. Signatures, the
form parser and the SMS sender ("text me") are the SMS adapter's (:mod:`adapters.sms_twilio`).
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from adapters.outbound import Sender
from adapters.services import Services
from adapters.voice_twilio.call import Answer, Calls, Heard, can_text, withheld
from adapters.voice_twilio.webhook import STATUS_PATH, WEBHOOK_PATH, VoiceWebhooks


def sms_sender(services: Services) -> Sender | None:
    """The SMS sender "text me" uses: one injected in ``services.extras["sms_sender"]`` (tests),
    else Twilio's when an SMS number or messaging service is configured."""
    given = services.extras.get("sms_sender")
    if given is not None:
        return given  # type: ignore[return-value]
    settings = services.settings
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        return None
    if not (settings.twilio_from_number or settings.twilio_messaging_service_sid):
        return None
    from adapters.sms_twilio import build_sender

    return build_sender(settings, services=services)


def routes(services: Services) -> list[BaseRoute]:
    hooks = VoiceWebhooks(services, sms_sender(services))
    return [
        Route(WEBHOOK_PATH, hooks.call, methods=["POST"], name="voice_twilio"),
        Route(STATUS_PATH, hooks.status, methods=["POST"], name="voice_twilio_status"),
    ]


__all__ = [
    "STATUS_PATH",
    "WEBHOOK_PATH",
    "Answer",
    "Calls",
    "Heard",
    "VoiceWebhooks",
    "can_text",
    "routes",
    "sms_sender",
    "withheld",
]
