"""Twilio's inbound SMS webhook (``POST /sms/twilio``) and delivery callbacks (``/status``).

Both check ``X-Twilio-Signature`` with the twilio library's ``RequestValidator``: an HMAC-SHA1,
keyed with the account's auth token, of the full URL Twilio requested (query string included)
followed by the POST parameters sorted by name.

**Pitfall: sign-check the public URL, not ``request.url``.** Behind a reverse proxy or TLS
terminator (nginx, a load balancer, ngrok), the app sees ``http://10.0.0.5:8000/sms/twilio``
while Twilio signed ``https://surveys.example.gov.uk/sms/twilio``: validating ``request.url``
rejects every genuine message, and the usual "fix" of trusting ``X-Forwarded-*`` headers lets
whoever reaches the app pick the URL. So the URL is ``settings.public_url`` (which must be
exactly the base URL configured in the Twilio console, with any path prefix the proxy strips)
plus the request path (without an ASGI ``root_path``) and the raw query string.

Answers:

* no signature or a wrong one -> 403, nothing stored;
* a body that is not an ``application/x-www-form-urlencoded`` form, or no ``From`` or
  ``MessageSid`` -> 400, nothing stored;
* Redis unreachable (``StoreError``) -> 503 with ``Retry-After``: the commit is all or nothing,
  so Twilio's retry (same ``MessageSid``) runs the step exactly once;
* a ``MessageSid`` already handled -> 200, no second step: the question the person is on again
  if it was their last message, a moment ago (Twilio retrying a reply that never arrived), else
  an empty ``<Response/>``;
* otherwise 200 with TwiML: the step's replies as ``<Message>`` verbs (see :mod:`.render`).

A picture or other media without text (``NumMedia > 0``, empty ``Body``) reaches the engine as
an ``unsupported`` message. The status callback records ``failed``/``undelivered`` messages in
:class:`store.delivery.DeliveryLog` (pseudonymous respondent id, never the number), and an
error 21610 there also marks the respondent opted out (see :mod:`.optout`).
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from twilio.request_validator import RequestValidator

from adapters.services import Services
from adapters.sms_twilio.form import MAX_FIELDS, BadRequest, Params, parse_form
from adapters.sms_twilio.optout import OPTED_OUT_CODE, mark_opted_out
from adapters.sms_twilio.render import mask, messages
from bot.errors import StoreError
from bot.models import Inbound
from store.delivery import DeliveryLog

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
FORM_TYPE = "application/x-www-form-urlencoded"
FAILED = frozenset({"failed", "undelivered"})
TWIML_TYPE = "application/xml"

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


_SENDER = re.compile(
    r"(?:whatsapp:)?\+?[0-9]{3,15}\Z|(?=[A-Za-z0-9 ]*[A-Za-z])[A-Za-z0-9 ]{1,11}\Z"
)
"""What Twilio puts in ``From``: a number (E.164, or a short code), ``whatsapp:`` and a number,
or an alphanumeric sender id (up to 11 letters, digits and spaces, at least one letter).
Anything else is refused: it also closes the re-split of a signed request (Twilio signs names
and values run together, so ``From=+44...`` + ``FromCountry=GB`` signs as
``From=+44...FromCountryGB``)."""


def valid_sender(value: str) -> bool:
    return bool(_SENDER.match(value))


def _number(value: str | None) -> int:
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


def _twiml(texts: list[str]) -> Response:
    return Response(twiml_text(texts), media_type=TWIML_TYPE)


def _unavailable(exc: StoreError) -> Response:
    log.warning("store unavailable, asking Twilio to retry: %s", exc)
    return PlainTextResponse(
        "temporarily unavailable, please retry", 503, headers={"Retry-After": "5"}
    )


class TwilioWebhooks:
    """The two endpoints, sharing the validator and the delivery log."""

    def __init__(self, services: Services) -> None:
        self.services = services
        token = services.settings.twilio_auth_token
        self.validator = RequestValidator(token.get_secret_value()) if token else None
        self.delivery = DeliveryLog.for_store(services.store)

    async def _verified(self, request: Request) -> Params | Response:
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
            return PlainTextResponse(str(exc), 400)
        url = signed_url(self.services.settings.public_url, request)
        # One signature for the configured URL is the usual case; the library's validate()
        # (which also tries the URL with and without the port) only runs when that fails.
        expected = self.validator.compute_signature(url, params)
        genuine = hmac.compare_digest(expected.encode(), signature.encode())
        if not genuine and not self.validator.validate(url, params, signature):
            log.warning("Twilio signature does not match %s: refused", url)
            return PlainTextResponse("forbidden", 403)
        return params

    async def inbound(self, request: Request) -> Response:
        params = await self._verified(request)
        if isinstance(params, Response):
            return params
        sender = params.get("From", "").strip()
        sid = (params.get("MessageSid") or params.get("SmsSid") or "").strip()
        if not sender or not sid:
            return PlainTextResponse("From and MessageSid are required", 400)
        if not valid_sender(sender):
            return PlainTextResponse("From is not a phone number or a sender id", 400)
        body = params.get("Body", "")
        media = _number(params.get("NumMedia"))
        kind = "unsupported" if media > 0 and not body.strip() else "text"
        inbound = Inbound(channel="sms", address=sender, text=body, message_id=sid, kind=kind)
        try:
            outcome = await self.services.dispatcher.handle(inbound)
        except StoreError as exc:  # ConflictError included: nothing was written either way
            return _unavailable(exc)
        # A duplicate (no second step) has the current question again as its replies when it
        # was their last message (Twilio retrying a reply that never arrived), else none.
        return _twiml(messages(outcome.replies))

    async def status(self, request: Request) -> Response:
        params = await self._verified(request)
        if isinstance(params, Response):
            return params
        sid = (params.get("MessageSid") or params.get("SmsSid") or "").strip()
        state = (params.get("MessageStatus") or params.get("SmsStatus") or "").strip().lower()
        if not sid or not state:
            return PlainTextResponse("MessageSid and MessageStatus are required", 400)
        if state not in FAILED:
            return Response(status_code=204)
        to = params.get("To", "").strip()
        if not to:
            return PlainTextResponse("To is required for a failed message", 400)
        if not valid_sender(to):
            return PlainTextResponse("To is not a phone number", 400)
        code = params.get("ErrorCode", "").strip() or None
        svc = self.services
        try:
            await self.delivery.record(
                respondent=svc.store.respondent("sms", to),
                message=sid,
                status=state,
                code=code,
                now=svc.clock(),
            )
            if code == str(OPTED_OUT_CODE):
                await mark_opted_out(svc, to, sid)
        except StoreError as exc:
            return _unavailable(exc)
        log.info("message %s to %s %s (error %s)", sid, mask(to), state, code)
        return Response(status_code=204)
