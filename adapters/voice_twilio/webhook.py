"""Twilio Programmable Voice webhooks: ``POST /voice/twilio`` and ``/voice/twilio/status``.

Point the number's "A call comes in" webhook (HTTP POST) at ``$SURVEYBOT_PUBLIC_URL/voice/twilio``
(add ``?flow=<id>`` to tie the number to one survey) and its call status callback at
``/voice/twilio/status``. The same URL takes the call start and every ``<Gather>`` result (the
action URLs we write carry the call's state, :mod:`.call`).

Checked exactly like SMS and WhatsApp (the shared :class:`adapters.twilio_common.webhook.
TwilioWebhook`): no or a wrong ``X-Twilio-Signature`` -> 403 before anything else; a body that
is not a form, no ``CallSid``/``From``, or a ``From`` that is neither a number or sender id
(:func:`~adapters.twilio_common.webhook.valid_sender`) nor one of the stand-ins Twilio sends for a
withheld number -> 400; Redis unreachable -> 503 with ``Retry-After`` and nothing written
(Twilio's retry, with the same step counter, then runs the step once); a request already handled
(``<CallSid>:<n>`` seen) -> no second step, the current question again.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from adapters.outbound import Sender
from adapters.services import Services
from adapters.twilio_common import mask
from adapters.twilio_common.webhook import TwilioWebhook, bad_request, unavailable, valid_sender
from adapters.voice_twilio.call import WITHHELD, Calls, Heard, sureness
from adapters.voice_twilio.speech import VOICE
from adapters.voice_twilio.twiml import twiml
from bot.errors import StoreError

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/voice/twilio"
STATUS_PATH = "/voice/twilio/status"
TWIML_TYPE = "application/xml"
_STATE = ("n", "k", "q", "t", "a", "o", "f", "flow")
MAX_STATE_CHARS = 400


class VoiceWebhooks(TwilioWebhook):
    """The two call endpoints: :meth:`call` (start and answers) and the call :meth:`status`."""

    def __init__(self, services: Services, sender: Sender | None = None) -> None:
        super().__init__(services, VOICE)
        self.calls = Calls(services, sender)

    async def call(self, request: Request) -> Response:
        params = await self.verified(request)
        if isinstance(params, Response):
            return params
        sid = params.get("CallSid", "").strip()
        caller = params.get("From")
        if not sid or caller is None or len(sid) > 64:
            return bad_request("CallSid and From are required")
        # A number or sender id, as for a text (never a re-split signed form such as
        # "+44...FromCountryGB"), or one of Twilio's stand-ins for a withheld number ("anonymous",
        # nothing), which makes the caller a respondent for this call only (:mod:`.call`).
        if caller.strip().lower() not in WITHHELD and not valid_sender(caller.strip()):
            return bad_request("From is not a phone number or a sender id")
        query = request.query_params
        state = {k: query[k] for k in _STATE if k in query and len(query[k]) <= MAX_STATE_CHARS}
        digits = params.get("Digits")
        speech = params.get("SpeechResult")
        gathered = "n" in state
        heard = Heard(
            call=sid,
            caller=caller,
            state=state,
            digits=digits or None,
            speech=speech if speech and speech.strip() else None,
            confidence=sureness(params.get("Confidence")),
            start=not gathered,
        )
        try:
            answer = await self.calls.answer(heard)
        except StoreError as exc:  # ConflictError too: nothing was written
            return unavailable(exc)
        public = self.services.settings.public_url
        return Response(twiml(answer, public, WEBHOOK_PATH), media_type=TWIML_TYPE)

    async def status(self, request: Request) -> Response:
        """A call status callback (not a message's: nothing to record, see below)."""
        params = await self.verified(request)
        if isinstance(params, Response):
            return params
        sid = params.get("CallSid", "").strip()
        state = params.get("CallStatus", "").strip().lower()
        if not sid or not state:
            return bad_request("CallSid and CallStatus are required")
        # Every answer was committed as it was given: hanging up loses nothing, so there is
        # nothing to store here. The log keeps call lengths for the cost estimate's check.
        log.info(
            "call %s from %s %s after %ss",
            sid,
            mask(params.get("From", "")),
            state,
            params.get("CallDuration", "?"),
        )
        return Response(status_code=204)
