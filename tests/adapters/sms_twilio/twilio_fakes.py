"""Real-shaped Twilio webhook payloads, signed the way Twilio signs them, and a fake REST boundary."""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import fakeredis
import httpx
from redis.asyncio import Redis
from starlette.applications import Starlette
from twilio.http import AsyncHttpClient, HttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator

from adapters.services import Services
from adapters.sms_twilio import routes
from bot.sms import segments
from store.client import AnyRedis
from tests.adapters.conftest import BOT_NUMBER as BOT_NUMBER  # re-exported for the tests
from tests.adapters.conftest import PUBLIC_URL, TWILIO_SID, TWILIO_TOKEN

SERVICE_SID = "MG" + "1" * 32
WEBHOOK = "/sms/twilio"
STATUS = "/sms/twilio/status"
FORM = "application/x-www-form-urlencoded"


def inbound_form(body: str, *, sid: str, sender: str, media: int = 0) -> dict[str, str]:
    """The fields Twilio POSTs for one inbound SMS (or MMS when ``media``), as it sends them."""
    form = {
        "ToCountry": "GB",
        "ToState": "",
        "SmsMessageSid": sid,
        "NumMedia": str(media),
        "ToCity": "",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": "GB",
        "To": BOT_NUMBER,
        "MessagingServiceSid": SERVICE_SID,
        "ToZip": "",
        "NumSegments": str(max(1, segments(body))),
        "MessageSid": sid,
        "AccountSid": TWILIO_SID,
        "From": sender,
        "ApiVersion": "2010-04-01",
    }
    for n in range(media):
        form[f"MediaContentType{n}"] = "image/jpeg"
        form[f"MediaUrl{n}"] = (
            f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages/{sid}/Media/ME{n:032d}"
        )
    return form


def status_form(status: str, *, sid: str, to: str, code: str | None = None) -> dict[str, str]:
    """A Twilio message status callback."""
    form = {
        "AccountSid": TWILIO_SID,
        "ApiVersion": "2010-04-01",
        "From": BOT_NUMBER,
        "MessageSid": sid,
        "MessageStatus": status,
        "MessagingServiceSid": SERVICE_SID,
        "SmsSid": sid,
        "SmsStatus": status,
        "To": to,
    }
    if code is not None:
        form["ErrorCode"] = code
    return form


def sign(url: str, params: dict[str, str], token: str = TWILIO_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)  # type: ignore[no-any-return]


def app_for(services: Services) -> Starlette:
    return Starlette(routes=routes(services))


def client_for(services: Services) -> httpx.AsyncClient:
    # The app sees plain http on an internal host, as behind a TLS-terminating proxy.
    transport = httpx.ASGITransport(app=app_for(services))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def post_signed(
    client: httpx.AsyncClient, path: str, form: dict[str, str], *, url: str | None = None
) -> httpx.Response:
    signature = sign(url or PUBLIC_URL + path, form)
    return await client.post(
        path,
        content=urlencode(form),
        headers={"Content-Type": FORM, "X-Twilio-Signature": signature},
    )


def twiml_messages(response: httpx.Response) -> list[str]:
    """The bodies of the ``<Message>`` verbs of a TwiML answer (parsed, so it must be XML)."""
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    assert all(child.tag == "Message" for child in root)
    return [m.text or "" for m in root.findall("Message")]


async def snapshot(redis: AnyRedis, match: str = "*") -> dict[str, Any]:
    """Every key (matching ``match``) with its type and content, to prove a request wrote
    nothing."""
    out: dict[str, Any] = {}
    async for raw in redis.scan_iter(match=match, count=1000):
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        raw_kind: bytes | str = await redis.type(key)
        kind = raw_kind.decode() if isinstance(raw_kind, bytes) else raw_kind
        if kind == "string":
            value: Any = await redis.get(key)
        elif kind == "hash":
            value = await redis.hgetall(key)
        elif kind == "zset":
            value = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "set":
            value = await redis.smembers(key)
        elif kind == "list":
            value = await redis.lrange(key, 0, -1)
        elif kind == "stream":
            value = await redis.xrange(key)
        else:
            value = kind
        out[key] = (kind, value)
    return out


def fake_server(redis: AnyRedis) -> fakeredis.FakeServer:
    """The server behind the fixtures' fakeredis client (tests set ``connected`` to cut Redis)."""
    assert isinstance(redis, Redis)
    server = redis.connection_pool.connection_kwargs["server"]
    assert isinstance(server, fakeredis.FakeServer)
    return server


@dataclass
class Sent:
    method: str
    url: str
    data: dict[str, object]
    auth: tuple[str, str] | None


class FakeHttpClient(HttpClient):  # type: ignore[misc]
    """Twilio's HTTP boundary: records what the real client built and answers with ``replies``
    in turn (status, JSON), then with 201 and a fresh message sid."""

    def __init__(self, replies: list[tuple[int, dict[str, Any]]] | None = None) -> None:
        super().__init__(logging.getLogger("fake-twilio"), is_async=False)
        self.replies = list(replies or [])
        self.sent: list[Sent] = []

    def answer(
        self, method: str, uri: str, data: dict[str, object] | None, auth: tuple[str, str] | None
    ) -> TwilioResponse:
        self.sent.append(Sent(method, uri, dict(data or {}), auth))
        if self.replies:
            status, payload = self.replies.pop(0)
        else:
            status, payload = (
                201,
                {
                    "sid": f"SM{len(self.sent):032d}",
                    "account_sid": TWILIO_SID,
                    "to": (data or {}).get("To"),
                    "body": (data or {}).get("Body"),
                    "status": "queued",
                },
            )
        return TwilioResponse(status, json.dumps(payload))

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        return self.answer(method, uri, data, auth)


class FakeAsyncHttpClient(AsyncHttpClient):  # type: ignore[misc]
    """The same boundary for the client's async API (``create_async``)."""

    def __init__(self) -> None:
        super().__init__(logging.getLogger("fake-twilio"), is_async=True)
        self.sync = FakeHttpClient()

    async def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (the library's signature)
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        return self.sync.answer(method, uri, data, auth)


def error_21610() -> tuple[int, dict[str, Any]]:
    return 400, {
        "code": 21610,
        "message": "Attempt to send to unsubscribed recipient",
        "more_info": "https://www.twilio.com/docs/errors/21610",
        "status": 400,
    }
