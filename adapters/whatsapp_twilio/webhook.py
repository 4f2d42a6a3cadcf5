"""Twilio's inbound WhatsApp webhook (``POST /whatsapp/twilio``) and delivery callbacks.

The signature check against the configured public URL, the strict form, the ``503`` with
``Retry-After`` that makes Twilio retry, duplicates by ``MessageSid`` and the status callback
are the shared Twilio ones (:mod:`adapters.twilio_common.webhook`), exactly as for SMS. What is
WhatsApp's own:

* the form is read by :func:`.inbound.parse` (buttons, lists, media, locations, reactions);
* the replies are rendered by :func:`.render.render`. Plain text goes back in the TwiML answer,
  as on SMS. A step that ends on a question shown with buttons or a list is sent through the
  REST API instead (TwiML cannot carry a ``ContentSid``), in order, and the answer is an empty
  ``<Response/>``; if Twilio cannot take it, whatever was not sent goes back in the TwiML answer
  as numbered text, so the person always gets the question. Without a WhatsApp sender
  configured, every reply is TwiML text.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from adapters.services import Services
from adapters.twilio_common.rest import TwilioSendError
from adapters.twilio_common.webhook import TwilioWebhook, bad_request, twiml, unavailable
from adapters.whatsapp_twilio.inbound import parse
from adapters.whatsapp_twilio.render import Buttons, Outgoing, as_text, render
from adapters.whatsapp_twilio.sender import CHANNEL, WhatsAppSender
from bot.errors import StoreError

log = logging.getLogger(__name__)


class WhatsAppWebhooks(TwilioWebhook):
    """The two WhatsApp endpoints: :meth:`inbound` here, :meth:`status` shared."""

    def __init__(self, services: Services, sender: WhatsAppSender | None = None) -> None:
        super().__init__(services, CHANNEL)
        self.sender = sender

    async def inbound(self, request: Request) -> Response:
        params = await self.verified(request)
        if isinstance(params, Response):
            return params
        inbound = parse(params)
        if isinstance(inbound, str):
            return bad_request(inbound)
        try:
            outcome = await self.services.dispatcher.handle(inbound)
        except StoreError as exc:  # ConflictError included: nothing was written either way
            return unavailable(exc)
        sender = self.sender
        outgoing = render(outcome.replies, buttons=sender is not None and sender.buttons)
        if sender is None or not any(isinstance(m, Buttons) for m in outgoing):
            return twiml(as_text(outgoing))
        return twiml(await self._send(sender, inbound.address, outgoing))

    async def _send(
        self, sender: WhatsAppSender, address: str, outgoing: list[Outgoing]
    ) -> list[str]:
        """Send through the REST API, in order; what could not be sent, as TwiML text."""
        for n, m in enumerate(outgoing):
            try:
                result = await sender.deliver_step(address, [m])
            except TwilioSendError as exc:
                # Already committed: the person must still get the question, so Twilio
                # delivers the rest from the TwiML answer.
                log.warning("WhatsApp reply through the API failed (%s): sent as TwiML", exc)
                return as_text(outgoing[n:])
            if result.opted_out:
                return []
        return []
