"""WhatsApp messages through Twilio's REST API: replies with buttons, reminders, the closing note.

**The 24-hour customer service window.** WhatsApp lets a business send free-form messages
(text, buttons, lists) only within 24 hours of the person's last message. Outside it, the only
thing that may be sent is a template approved by Meta, sent with ``ContentSid`` and
``ContentVariables`` (a ``Body`` is refused with error 63016, and since April 2025 so is a
template written into ``Body``). So :meth:`WhatsAppSender.send_unprompted` (the worker's way in):

* within the window (the session's ``last_at``, the time of their last message, less than
  24 hours ago minus :data:`WINDOW_MARGIN`), sends the reminder or closing message as a reply
  would be sent, with the question and its buttons;
* outside it, sends the flow's (else the settings') template for that kind and the person's
  language, never free-form text; with no template it sends nothing and raises
  :class:`WindowClosed` (not retryable, so the worker gives that reminder up);
* a refusal (63016 and the like) is recorded in the delivery log and raised as retryable, so
  the worker backs off; a free-form message refused with 63016 falls back to the template.

**Opted out.** Error 21610 (STOP with Twilio's opt-out handling) and 63014 (the person blocked
the business on WhatsApp) are not errors: the respondent is marked opted out, as on SMS.

The rate limit (``SURVEYBOT_WHATSAPP_PER_SECOND``) paces unprompted messages; replies to a
person's own message go at once (they are spread by the people writing).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from uuid import uuid4

from twilio.http import HttpClient
from twilio.rest import Client

from adapters.outbound import Unprompted
from adapters.services import Services
from adapters.twilio_common import mask
from adapters.twilio_common.optout import OPT_OUT_CODES, mark_opted_out
from adapters.twilio_common.rest import (
    TokenBucket,
    TwilioSendError,
    client_for,
    create_message,
    failure,
    shared_bucket,
    status_callback,
)
from adapters.whatsapp_twilio.content import ContentCache
from adapters.whatsapp_twilio.render import Buttons, Outgoing, Text, chunks, render
from bot import engine
from bot.config import Settings
from bot.errors import ChannelError, ConfigError
from bot.models import Reply, Session
from bot.schema import Flow, WhatsApp, WhatsAppTemplate, whatsapp_template
from bot.text import tr
from store.delivery import DeliveryLog

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
PREFIX = "whatsapp:"
STATUS_PATH = "/whatsapp/twilio/status"
EXTRAS_KEY = "whatsapp"
WINDOW = timedelta(hours=24)
WINDOW_MARGIN = timedelta(minutes=15)
"""Free-form messages stop this long before the window closes (queueing, clocks)."""
WINDOW_CODES = frozenset({63016})
"""Outside the customer service window (or a content type that cannot open a conversation)."""
RETRY_LATER_CODES = frozenset({63016, 63018, 63049})
"""Refusals worth retrying after a backoff: the window (the person may write meanwhile), the
sender's rate limit, and Meta holding back a template message for now (63049)."""

OptOutHook = Callable[..., Awaitable[object]]


class WindowClosed(ChannelError):
    """Outside the 24-hour window with no approved template for this message: nothing sent."""

    retryable = False


@dataclass(frozen=True)
class SendResult:
    """What a send did: Twilio's message sids, whether the person turned out to be opted out,
    and the template used (``None`` for free-form messages)."""

    sids: tuple[str, ...] = ()
    opted_out: bool = False
    template: str | None = None

    @property
    def sent(self) -> int:
        return len(self.sids)


def whatsapp_address(address: str) -> str:
    """``whatsapp:+447700900123`` whether given with the prefix or without."""
    address = address.strip()
    return address if address.startswith(PREFIX) else PREFIX + address


def in_window(last_message: datetime, now: datetime) -> bool:
    """Whether free-form messages may still be sent (with :data:`WINDOW_MARGIN` to spare)."""
    return now - last_message < WINDOW - WINDOW_MARGIN


template_for = whatsapp_template


_SPACES = re.compile(r"[\t\r\n]+| {4,}")


class _Fields(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def template_variables(template: WhatsAppTemplate, flow: Flow, session: Session) -> dict[str, str]:
    """The template's variables filled in for ``session``. WhatsApp refuses a variable with a
    line break, a tab or more than three spaces in a row: those become one space."""
    answered, total = engine.progress(flow, session)
    lang = session.lang
    fields = _Fields(
        title=tr(flow.title, lang),
        progress=f"{answered} of {total}",
        answered=str(answered),
        total=str(total),
        council=flow.council,
    )
    out: dict[str, str] = {}
    for name, text in template.variables.items():
        value = tr(text, lang).format_map(fields)
        out[name] = _SPACES.sub(" ", value).strip() or "-"
    return out


class WhatsAppSender:
    """Sends engine replies and unprompted messages to WhatsApp numbers through Twilio."""

    def __init__(
        self,
        client: Client,
        *,
        from_: str | None = None,
        messaging_service_sid: str | None = None,
        limiter: TokenBucket,
        status_callback: str | None = None,
        contents: ContentCache | None = None,
        buttons: bool = True,
        templates: WhatsApp | None = None,
        on_opt_out: OptOutHook | None = None,
        delivery: DeliveryLog | None = None,
    ) -> None:
        if not from_ and not messaging_service_sid:
            raise ConfigError(
                "set TWILIO_WHATSAPP_FROM or TWILIO_WHATSAPP_MESSAGING_SERVICE_SID to send on "
                "WhatsApp"
            )
        self.client = client
        self.from_ = whatsapp_address(from_) if from_ else None
        self.messaging_service_sid = messaging_service_sid
        self.limiter = limiter
        self.status_callback = status_callback
        self.contents = contents
        self.buttons = buttons and contents is not None
        self.templates = templates
        self.on_opt_out = on_opt_out
        self.delivery = delivery

    @classmethod
    def of(cls, services: Services, http_client: HttpClient | None = None) -> WhatsAppSender:
        """The process's sender for these services (made on first use; tests and benchmarks
        make it first with a fake ``http_client``)."""
        found = services.extras.get(EXTRAS_KEY)
        if isinstance(found, WhatsAppSender):
            return found
        sender = build_sender(services.settings, http_client, services=services)
        services.extras[EXTRAS_KEY] = sender
        return sender

    # -- requests ------------------------------------------------------------------------------

    def _params(self, address: str, **fields: Any) -> dict[str, Any]:
        params: dict[str, Any] = {"to": whatsapp_address(address), **fields}
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        if self.from_:
            params["from_"] = self.from_
        if self.status_callback:
            params["status_callback"] = self.status_callback
        return params

    async def _content_params(self, m: Buttons) -> dict[str, Any] | None:
        if not self.buttons or self.contents is None:
            return None
        try:
            sid = await self.contents.sid(m)
        except Exception as exc:  # the Content API refused or is unreachable: numbered text
            log.warning("WhatsApp buttons not available (%s): sending numbered text", exc)
            return None
        return {"content_sid": sid, "content_variables": _json({"1": m.body})}

    async def _one(self, address: str, fields: dict[str, Any], sids: list[str]) -> None:
        try:
            sids.append(await create_message(self.client, self._params(address, **fields)))
        except Exception as exc:  # refused by Twilio, or never answered
            raise failure(exc, address, tuple(sids)) from exc

    async def _opted_out(self, address: str, error: TwilioSendError) -> None:
        log.info("%s has opted out or blocked us on WhatsApp: not sent", mask(address))
        if self.on_opt_out is not None:
            await self.on_opt_out(address, uuid4().hex, channel=CHANNEL, code=error.code)

    async def deliver(
        self, address: str, outgoing: Sequence[Outgoing], *, paced: bool = False
    ) -> SendResult:
        """Send the messages of one step in order, each once the previous one was accepted.

        Raises :class:`TwilioSendError` (``sent`` holds the sids that went) for any failure but
        an opted-out person.
        """
        sids: list[str] = []
        for m in outgoing:
            fields = await self._content_params(m) if isinstance(m, Buttons) else None
            if fields is not None:
                await self._paced(paced)
                await self._attempt(address, fields, sids)
                continue
            for part in chunks(m.fallback) if isinstance(m, Buttons) else [m.body]:
                await self._paced(paced)
                await self._attempt(address, {"body": part}, sids)
        return SendResult(tuple(sids))

    async def _attempt(self, address: str, fields: dict[str, Any], sids: list[str]) -> None:
        try:
            await self._one(address, fields, sids)
        except TwilioSendError as error:
            if error.code in OPT_OUT_CODES:
                await self._opted_out(address, error)
                raise _OptedOut(tuple(sids)) from error
            raise

    async def _paced(self, paced: bool) -> None:
        if paced:
            await self.limiter.acquire()

    async def send(self, address: str, replies: Sequence[Reply]) -> SendResult:
        """Send a step's replies as free-form messages (within the window), paced."""
        return await self.deliver_step(address, render(replies, buttons=self.buttons), paced=True)

    async def deliver_step(
        self, address: str, outgoing: Sequence[Outgoing], *, paced: bool = False
    ) -> SendResult:
        """:meth:`deliver`, with an opted-out person as a result rather than an error."""
        try:
            return await self.deliver(address, outgoing, paced=paced)
        except _OptedOut as stop:
            return SendResult(stop.sids, opted_out=True)

    # -- unprompted: reminders and the closing message ------------------------------------------

    async def send_unprompted(self, message: Unprompted) -> SendResult:
        """A reminder or closing message, free-form within the window, else as a template."""
        session = message.session
        address = session.address
        if address is None:
            raise WindowClosed("no address to send to")
        if in_window(session.last_at, message.now):
            try:
                return await self.send(address, message.replies)
            except TwilioSendError as exc:
                if exc.code not in WINDOW_CODES or exc.sent:
                    raise await self._recorded(session, exc, message.now) from exc
                await self._record(session, exc, message.now)
                log.info("WhatsApp says the window is closed for %s: template", session.respondent)
        template = template_for(message.flow, self.templates, message.kind)
        sid = template.content_for(session.lang, message.flow.languages[0]) if template else None
        if template is None or sid is None:
            what = "reminder" if message.kind == "remind" else "closing message"
            log.warning(
                "WhatsApp %s for %s not sent: their last message is over 24 hours old and no "
                "template is set (flow %s, whatsapp: %s)",
                what,
                session.respondent,
                message.flow.id,
                "reminder" if message.kind == "remind" else "final",
            )
            raise WindowClosed(f"outside the 24-hour window and no WhatsApp {what} template")
        fields: dict[str, Any] = {"content_sid": sid}
        variables = template_variables(template, message.flow, session)
        if variables:
            fields["content_variables"] = _json(variables)
        sids: list[str] = []
        await self.limiter.acquire()
        try:
            await self._attempt(address, fields, sids)
        except _OptedOut:
            return SendResult(opted_out=True, template=sid)
        except TwilioSendError as exc:
            raise await self._recorded(session, exc, message.now) from exc
        return SendResult(tuple(sids), template=sid)

    async def _record(self, session: Session, exc: TwilioSendError, now: datetime) -> None:
        if self.delivery is None or exc.code is None:
            return
        await self.delivery.record(
            respondent=session.respondent,
            message=f"refused:{uuid4().hex}",
            status="failed",
            code=str(exc.code),
            now=now,
            channel=CHANNEL,
        )

    async def _recorded(
        self, session: Session, exc: TwilioSendError, now: datetime
    ) -> TwilioSendError:
        """Record a refusal and return the error to raise (retryable for "not now" codes)."""
        await self._record(session, exc, now)
        if exc.code in RETRY_LATER_CODES and not exc.retryable:
            return TwilioSendError(
                str(exc), code=exc.code, status=exc.status, retryable=True, sent=exc.sent
            )
        return exc


class _OptedOut(Exception):
    """Internal: the person opted out part way through a send (``sids`` went before)."""

    def __init__(self, sids: tuple[str, ...]) -> None:
        super().__init__("opted out")
        self.sids = sids


def _json(values: dict[str, str]) -> str:
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def build_sender(
    settings: Settings, http_client: HttpClient | None = None, *, services: Services | None = None
) -> WhatsAppSender:
    """A sender from the settings (``TWILIO_WHATSAPP_FROM`` and/or
    ``TWILIO_WHATSAPP_MESSAGING_SERVICE_SID``). With ``services``, opt-outs are recorded as the
    respondent's STOP, refusals go to the delivery log and button contents are cached in Redis.
    """
    client = client_for(settings, http_client, what="send on WhatsApp")
    sender_id = (
        settings.twilio_whatsapp_messaging_service_sid or settings.twilio_whatsapp_from or ""
    )
    redis = services.redis if services is not None else None
    prefix = services.store.keys.prefix if services is not None else settings.redis_prefix
    return WhatsAppSender(
        client,
        from_=settings.twilio_whatsapp_from,
        messaging_service_sid=settings.twilio_whatsapp_messaging_service_sid,
        limiter=shared_bucket(
            f"{settings.twilio_account_sid}:{PREFIX}{sender_id}", settings.whatsapp_per_second
        ),
        status_callback=status_callback(settings, STATUS_PATH),
        contents=ContentCache(client, redis, prefix),
        buttons=settings.whatsapp_buttons,
        templates=settings.whatsapp_templates,
        on_opt_out=partial(mark_opted_out, services) if services is not None else None,
        delivery=DeliveryLog.for_store(services.store) if services is not None else None,
    )


__all__ = [
    "CHANNEL",
    "STATUS_PATH",
    "SendResult",
    "Text",
    "WhatsAppSender",
    "WindowClosed",
    "build_sender",
    "in_window",
    "template_for",
    "template_variables",
    "whatsapp_address",
]
