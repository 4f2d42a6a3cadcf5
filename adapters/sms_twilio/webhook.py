"""Twilio's inbound SMS webhook (``POST /sms/twilio``) and delivery callbacks (``/status``).

The signature check, the strict form, the ``503`` that makes Twilio retry and the status
callback are shared with every Twilio channel (:mod:`adapters.twilio_common.webhook`, which also
explains why the signature is checked against the configured public URL). What is SMS's own:

* no ``From`` or ``MessageSid`` -> 400, nothing stored;
* a ``MessageSid`` already handled -> 200, no second step: the question the person is on again
  if it was their last message, a moment ago (Twilio retrying a reply that never arrived), else
  an empty ``<Response/>``;
* otherwise 200 with TwiML: the step's replies as ``<Message>`` verbs (see :mod:`.render`).

A picture or other media without text (``NumMedia > 0``, empty ``Body``) reaches the engine as
an ``unsupported`` message. Error 21610 in a status callback marks the respondent opted out
(see :mod:`adapters.twilio_common.optout`).
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from adapters.services import Services
from adapters.sms_twilio.render import messages
from adapters.twilio_common.webhook import (
    TwilioWebhook,
    bad_request,
    number,
    signed_url,
    twiml,
    twiml_text,
    unavailable,
    valid_sender,
)
from bot.errors import StoreError
from bot.models import Inbound

log = logging.getLogger(__name__)

CHANNEL = "sms"


class TwilioWebhooks(TwilioWebhook):
    """The two SMS endpoints: :meth:`inbound` here, :meth:`status` shared."""

    def __init__(self, services: Services) -> None:
        super().__init__(services, CHANNEL)

    async def inbound(self, request: Request) -> Response:
        params = await self.verified(request)
        if isinstance(params, Response):
            return params
        sender = params.get("From", "").strip()
        sid = (params.get("MessageSid") or params.get("SmsSid") or "").strip()
        if not sender or not sid:
            return bad_request("From and MessageSid are required")
        if not valid_sender(sender):
            return bad_request("From is not a phone number or a sender id")
        body = params.get("Body", "")
        media = number(params.get("NumMedia"))
        kind = "unsupported" if media > 0 and not body.strip() else "text"
        inbound = Inbound(channel=CHANNEL, address=sender, text=body, message_id=sid, kind=kind)
        try:
            outcome = await self.services.dispatcher.handle(inbound)
        except StoreError as exc:  # ConflictError included: nothing was written either way
            return unavailable(exc)
        # A duplicate (no second step) has the current question again as its replies when it
        # was their last message (Twilio retrying a reply that never arrived), else none.
        return twiml(messages(outcome.replies))


__all__ = ["TwilioWebhooks", "signed_url", "twiml_text"]
