"""What the results (``bot/results``) take from the channels, handed to them as parameters.

Results never import adapters: the cost estimate counts a step exactly as the SMS and WhatsApp
adapters send it, the call estimate times it as the voice adapter says it, and the outreach
links use the Telegram and WhatsApp adapters' link formats and the call's menu of surveys. The
composition root (``bot/cli``) and the officers' console pass these values in, so each channel's
rendering stays written in one place: its adapter.
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters.sms_twilio.render import messages as sms_messages
from adapters.telegram.links import deep_link
from adapters.voice_twilio.call import survey_keys
from adapters.voice_twilio.speech import language_menu, spoken_languages, turn
from adapters.voice_twilio.twiml import WORDS_PAUSE
from adapters.whatsapp_twilio.links import wa_link
from adapters.whatsapp_twilio.render import render as whatsapp_render
from bot.models import Reply
from bot.results.outreach import LinkFormats
from bot.results.voice_cost import CallSpeech


def whatsapp_messages(replies: Sequence[Reply]) -> int:
    """The WhatsApp messages the adapter sends for one step's replies."""
    return len(whatsapp_render(replies))


CALL_SPEECH = CallSpeech(
    turn=turn,
    language_menu=language_menu,
    spoken_languages=spoken_languages,
    words_pause=WORDS_PAUSE,
)
"""How a call speaks (``adapters.voice_twilio``), for ``bot.results.voice_cost``."""

LINKS = LinkFormats(telegram=deep_link, whatsapp=wa_link, survey_keys=survey_keys)
"""The Telegram and WhatsApp link formats and the call's menu, for ``bot.results.outreach``."""

__all__ = ["CALL_SPEECH", "LINKS", "sms_messages", "whatsapp_messages"]
