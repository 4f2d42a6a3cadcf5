"""What every Twilio webhook shares: the signature check, the form, TwiML, retries, status.

Requests carry ``X-Twilio-Signature``, checked with the twilio library's ``RequestValidator``:
an HMAC-SHA1, keyed with the account's auth token, of the full URL Twilio requested (query
string included) followed by the POST parameters sorted by name.

**Pitfall: sign-check the public URL, not ``request.url``.** Behind a reverse proxy or TLS
terminator (nginx, a load balancer, ngrok), the app sees ``http://10.0.0.5:8000/sms/twilio``
while Twilio signed ``https://surveys.example.gov.uk/sms/twilio``: validating ``request.url``
rejects every genuine message, and the usual "fix" of trusting ``X-Forwarded-*`` headers lets
whoever reaches the app pick the URL. So the URL is ``settings.public_url`` (which must be
exactly the base URL configured in the Twilio console, with any path prefix the proxy strips)
plus the request path (without an ASGI ``root_path``) and the raw query string.

Answers every channel gives the same way:

* no signature or a wrong one -> 403, nothing read from Redis or stored;
* a body that is not an ``application/x-www-form-urlencoded`` form -> 400;
* Redis unreachable (``StoreError``) -> 503 with ``Retry-After``: the commit is all or nothing,
  so Twilio's retry (same ``MessageSid``) runs the step exactly once;
* a delivery status callback (:meth:`TwilioWebhook.status`) records ``failed``/``undelivered``
  messages in :class:`store.delivery.DeliveryLog` (pseudonymous respondent id, never the
  number); an opt-out code there also marks the respondent opted out.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from twilio.request_validator import RequestValidator

from adapters.services import Services
from adapters.twilio_common import mask
from adapters.twilio_common.form import MAX_FIELDS, BadRequest, Params, parse_form
from adapters.twilio_common.optout import OPT_OUT_CODES, mark_opted_out
from bot.errors import StoreError
from store.delivery import DeliveryLog

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
FORM_TYPE = "application/x-www-form-urlencoded"
FAILED = frozenset({"failed", "undelivered"})
TWIML_TYPE = "application/xml"
RETRY_AFTER = "5"

Handler = Callable[[Request], Awaitable[Response]]


def signed_url(public_url: str, request: Request) -> str:
    """The URL Twilio signed: the configured public base URL + path + raw query string."""
    path: str = request.scope.get("path", "/")
    root: str = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    query = request.scope.get("query_string", b"").decode("latin-1")
    return public_url.rstrip("/") + path + (f"?{query}" if query else "")


async def read_form(request: Request) -> Params:
    """The POSTed form, strictly (see :func:`.form.parse_form`); other content types are refused."""
    ctype = request.headers.get("content-type", FORM_TYPE).split(";")[0].strip().lower()
    if ctype != FORM_TYPE:
        raise BadRequest(f"expected {FORM_TYPE}, got {ctype or 'no content type'}")
    return parse_form(await request.body(), MAX_FIELDS)


def number(value: str | None) -> int:
    """A count field (``NumMedia``) as an int; anything unreadable is 0."""
    try:
        return int(value or 0)
    except ValueError:
        return 0


_XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'


def twiml_text(texts: list[str]) -> str:
    """Exactly what ``str(MessagingResponse)`` with one ``message()`` per text gives (a test
    checks this for any text), without building and serialising an ElementTree per request."""
    if not texts:
        return _XML_HEAD + "<Response />"
    body = "".join(f"<Message>{escape(t)}</Message>" if t else "<Message />" for t in texts)
    return f"{_XML_HEAD}<Response>{body}</Response>"


def twiml(texts: list[str]) -> Response:
    return Response(twiml_text(texts), media_type=TWIML_TYPE)


def unavailable(exc: StoreError) -> Response:
    log.warning("store unavailable, asking Twilio to retry: %s", exc)
    return PlainTextResponse(
        "temporarily unavailable, please retry", 503, headers={"Retry-After": RETRY_AFTER}
    )


_SENDER = re.compile(
    r"\+?[0-9]{3,15}\Z"  # a number (E.164) or a short code
    r"|(?=[A-Za-z0-9 ]*[A-Za-z])[A-Za-z0-9 ]{1,11}\Z"  # an alphanumeric sender id
    r"|whatsapp:(?:\+?[0-9]{3,15}|[A-Z]{2}\.[A-Za-z0-9]{1,64})\Z"  # WhatsApp: a number or a
)  # business-scoped user id ("GB.1234...")
"""What Twilio puts in ``From`` (and a status callback's ``To``). Anything else is refused: it
also closes the re-split of a signed request (Twilio signs names and values run together, so
``From=+44...`` + ``FromCountry=GB`` signs as ``From=+44...FromCountryGB``, which would
otherwise pass as one odd ``From``)."""


def valid_sender(value: str) -> bool:
    return bool(_SENDER.match(value))


def bad_request(message: str) -> Response:
    return PlainTextResponse(message, 400)


class TwilioWebhook:
    """The signature check and the status callback, shared by a channel's endpoints."""

    def __init__(self, services: Services, channel: str) -> None:
        self.services = services
        self.channel = channel
        token = services.settings.twilio_auth_token
        self.validator = RequestValidator(token.get_secret_value()) if token else None
        self.delivery = DeliveryLog.for_store(services.store)

    def routes(self, name: str, path: str, status_path: str, inbound: Handler) -> list[BaseRoute]:
        """The channel's webhook (``inbound``) and its status callback, POST only."""
        return [
            Route(path, inbound, methods=["POST"], name=name),
            Route(status_path, self.status, methods=["POST"], name=f"{name}_status"),
        ]

    async def verified(self, request: Request) -> Params | Response:
        """The form of a genuine Twilio request, or the response refusing it."""
        signature = request.headers.get(SIGNATURE_HEADER)
        if self.validator is None:
            log.error("TWILIO_AUTH_TOKEN is not set: refusing Twilio webhooks")
            return PlainTextResponse("forbidden", 403)
        if not signature:
            log.warning("Twilio webhook without %s refused", SIGNATURE_HEADER)
            return PlainTextResponse("forbidden", 403)
        try:
            params = await read_form(request)
        except BadRequest as exc:
            return bad_request(str(exc))
        url = signed_url(self.services.settings.public_url, request)
        # One signature for the configured URL is the usual case; the library's validate()
        # (which also tries the URL with and without the port) only runs when that fails.
        expected = self.validator.compute_signature(url, params)
        genuine = hmac.compare_digest(expected.encode(), signature.encode())
        if not genuine and not self.validator.validate(url, params, signature):
            log.warning("Twilio signature does not match %s: refused", url)
            return PlainTextResponse("forbidden", 403)
        return params

    async def status(self, request: Request) -> Response:
        """A delivery status callback: failures recorded, an opt-out code honoured."""
        params = await self.verified(request)
        if isinstance(params, Response):
            return params
        sid = (params.get("MessageSid") or params.get("SmsSid") or "").strip()
        state = (params.get("MessageStatus") or params.get("SmsStatus") or "").strip().lower()
        if not sid or not state:
            return bad_request("MessageSid and MessageStatus are required")
        if state not in FAILED:
            return Response(status_code=204)
        to = params.get("To", "").strip()
        if not to:
            return bad_request("To is required for a failed message")
        if not valid_sender(to):
            return bad_request("To is not a phone number or a sender id")
        code = params.get("ErrorCode", "").strip() or None
        svc = self.services
        try:
            await self.delivery.record(
                respondent=svc.store.respondent(self.channel, to),
                message=sid,
                status=state,
                code=code,
                now=svc.clock(),
                channel=self.channel,
            )
            if (
                code is not None
                and code.isascii()
                and code.isdigit()
                and int(code) in OPT_OUT_CODES
            ):
                await mark_opted_out(svc, to, sid, channel=self.channel, code=int(code))
        except StoreError as exc:
            return unavailable(exc)
        log.info("message %s to %s %s (error %s)", sid, mask(to), state, code)
        return Response(status_code=204)
