"""Answer by phone call: Twilio Programmable Voice.

``routes(services)`` gives ``POST /voice/twilio`` (call start and every ``<Gather>`` result,
answered with TwiML) and ``POST /voice/twilio/status`` (call status callbacks). The channel's
logic is transport-free in :mod:`.call` (also driven by ``surveybot chat --as voice``), how replies
are spoken and key presses read in :mod:`.speech`, the TwiML in :mod:`.twiml`. The signature
check, the form parser and the 503 are shared by every Twilio channel
(:mod:`adapters.twilio_common`); the SMS sender ("text me") is the SMS adapter's
(:mod:`adapters.sms_twilio`).
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from adapters.health import Status
from adapters.outbound import Sender
from adapters.services import Services
from adapters.voice_twilio.call import Answer, Calls, Heard, can_text, withheld
from adapters.voice_twilio.webhook import STATUS_PATH, WEBHOOK_PATH, VoiceWebhooks
from bot.config import Settings


def texts_back(settings: Settings) -> bool:
    """Whether Twilio can send SMS for "text me": an account and an SMS number or service."""
    account = settings.twilio_account_sid and settings.twilio_auth_token
    return bool(account and (settings.twilio_from_number or settings.twilio_messaging_service_sid))


def sms_sender(services: Services) -> Sender | None:
    """The SMS sender "text me" uses: one injected in ``services.extras["sms_sender"]`` (tests),
    else Twilio's when an SMS number or messaging service is configured."""
    given = services.extras.get("sms_sender")
    if given is not None:
        return given  # type: ignore[return-value]
    if not texts_back(services.settings):
        return None
    from adapters.sms_twilio import build_sender

    return build_sender(services.settings, services=services)


def routes(services: Services) -> list[BaseRoute]:
    hooks = VoiceWebhooks(services, sms_sender(services))
    return hooks.routes("voice_twilio", WEBHOOK_PATH, STATUS_PATH, hooks.call)


def health(services: Services) -> tuple[Status, str | None]:
    """The channel's state for ``/healthz``: off without the auth token (every call webhook is
    refused), else ok, with what is missing for "text me" or the posters."""
    settings = services.settings
    if settings.twilio_auth_token is None:
        return "off", "TWILIO_AUTH_TOKEN is not set: every call webhook is refused"
    missing = []
    if "sms_sender" not in services.extras and not texts_back(settings):
        missing.append("no SMS number set: callers cannot carry on by text")
    if not settings.twilio_voice_number:
        missing.append("TWILIO_VOICE_NUMBER is not set: links and posters give no number to call")
    return "ok", "; ".join(missing) or None


__all__ = [
    "STATUS_PATH",
    "WEBHOOK_PATH",
    "Answer",
    "Calls",
    "Heard",
    "VoiceWebhooks",
    "can_text",
    "health",
    "routes",
    "sms_sender",
    "texts_back",
    "withheld",
]
