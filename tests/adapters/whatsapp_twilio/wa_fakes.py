"""Real-shaped Twilio WhatsApp webhook forms and a fake REST boundary that also makes content.

The forms carry the fields Twilio posts for WhatsApp (``whatsapp:`` addresses, ``ProfileName``,
``WaId``, ``MessageType``, ``ButtonPayload``/``ButtonText``, ``ListId``/``ListTitle``,
``Latitude``/``Longitude``, media), signed with the twilio library like the SMS ones.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from starlette.applications import Starlette
from twilio.http.response import Response as TwilioResponse

from adapters.services import Services
from adapters.whatsapp_twilio import WhatsAppSender, routes
from tests.adapters.conftest import BOT_NUMBER, TWILIO_SID
from tests.adapters.sms_twilio.twilio_fakes import FakeHttpClient, Sent

WEBHOOK = "/whatsapp/twilio"
STATUS = "/whatsapp/twilio/status"
BOT = f"whatsapp:{BOT_NUMBER}"
CARER = "whatsapp:+447700900123"
MESSAGES = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
CONTENT = "https://content.twilio.com/v1/Content"


def wa_form(body: str = "", *, sid: str, sender: str = CARER, **extra: str) -> dict[str, str]:
    """The fields Twilio POSTs for one inbound WhatsApp message (a text unless ``extra`` says
    otherwise: ``MessageType``, ``ButtonPayload``, ``NumMedia``...)."""
    form = {
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ProfileName": "Asha",
        "MessageType": "text",
        "SmsSid": sid,
        "WaId": sender.removeprefix("whatsapp:+"),
        "SmsStatus": "received",
        "Body": body,
        "To": BOT,
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": sid,
        "AccountSid": TWILIO_SID,
        "From": sender,
        "ApiVersion": "2010-04-01",
    }
    form.update(extra)
    return form


def wa_status(status: str, *, sid: str, to: str = CARER, code: str | None = None) -> dict[str, str]:
    form = {
        "ChannelPrefix": "whatsapp",
        "ApiVersion": "2010-04-01",
        "MessageStatus": status,
        "SmsSid": sid,
        "SmsStatus": status,
        "ChannelInstallSid": "XE" + "0" * 32,
        "To": to,
        "From": BOT,
        "MessageSid": sid,
        "StructuredMessage": "false",
        "AccountSid": TWILIO_SID,
        "ChannelToAddress": to.removeprefix("whatsapp:")[:-4] + "XXXX",
    }
    if code is not None:
        form["ErrorCode"] = code
    return form


class WhatsAppHttp(FakeHttpClient):
    """Twilio's HTTP boundary for messages and Content API resources: records every request
    the real client built; a content create answers with an ``HX`` sid."""

    def answer(
        self, method: str, uri: str, data: dict[str, object] | None, auth: tuple[str, str] | None
    ) -> TwilioResponse:
        if uri.startswith(CONTENT) and not self.replies:
            self.sent.append(Sent(method, uri, dict(data or {}), auth))
            n = sum(1 for s in self.sent if s.url.startswith(CONTENT))
            payload: dict[str, Any] = {"sid": f"HX{n:032x}", "account_sid": TWILIO_SID}
            return TwilioResponse(201, json.dumps(payload))
        return super().answer(method, uri, data, auth)

    def messages(self) -> list[dict[str, object]]:
        return [s.data for s in self.sent if s.url == MESSAGES]

    def contents(self) -> list[dict[str, object]]:
        return [s.data for s in self.sent if s.url.startswith(CONTENT)]


def twilio_error(code: int, status: int = 400) -> tuple[int, dict[str, Any]]:
    return status, {
        "code": code,
        "message": f"error {code}",
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def wa_app(services: Services, http: WhatsAppHttp | None) -> Starlette:
    """The WhatsApp routes, with the REST sender on the fake boundary (``None``: no sender)."""
    if http is not None:
        WhatsAppSender.of(services, http)
    else:
        services.settings = services.settings.model_copy(update={"twilio_whatsapp_from": None})
    return Starlette(routes=routes(services))


def wa_client(services: Services, http: WhatsAppHttp | None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=wa_app(services, http))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")
