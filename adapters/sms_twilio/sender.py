"""Messages sent outside a webhook answer (reminders, invitations), through Twilio's REST API.

* The rendering is the webhook's (:func:`.render.messages`): one message while the text fits in
  a few segments, else parts labelled ``(1/n)``, sent one after the other in order.
* The rate limit, the client and the error mapping are the shared Twilio ones
  (:mod:`adapters.twilio_common.rest`); ``settings.sms_per_second`` sets the rate.
* Error 21610 (the number texted STOP to Twilio) is not an error for us: the respondent is
  marked opted out (:mod:`adapters.twilio_common.optout`) and :class:`SendResult` says
  ``opted_out``. Any other failure raises :class:`TwilioSendError` (a
  :class:`bot.errors.ChannelError`) carrying Twilio's code and whether a retry may help.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any
from uuid import uuid4

from twilio.http import HttpClient
from twilio.rest import Client

from adapters.services import Services
from adapters.sms_twilio.render import messages
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
from bot.config import Settings
from bot.errors import ConfigError
from bot.models import Reply
from bot.sms import segments

log = logging.getLogger(__name__)

STATUS_PATH = "/sms/twilio/status"

OptOutHook = Callable[[str, str], Awaitable[object]]


@dataclass(frozen=True)
class SendResult:
    """What :meth:`TwilioSender.send` did: Twilio's message sids (one per message sent), the
    segments they are billed as, and whether the number turned out to be opted out."""

    sids: tuple[str, ...] = ()
    segments: int = 0
    opted_out: bool = False

    @property
    def sent(self) -> int:
        return len(self.sids)


class TwilioSender:
    """Sends engine replies to one phone number through a ``twilio.rest.Client``."""

    def __init__(
        self,
        client: Client,
        *,
        from_: str | None = None,
        messaging_service_sid: str | None = None,
        limiter: TokenBucket,
        status_callback: str | None = None,
        on_opt_out: OptOutHook | None = None,
    ) -> None:
        if not from_ and not messaging_service_sid:
            raise ConfigError("set TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER to send SMS")
        self.client = client
        self.from_ = from_
        self.messaging_service_sid = messaging_service_sid
        self.limiter = limiter
        self.status_callback = status_callback
        self.on_opt_out = on_opt_out

    def _params(self, address: str, body: str) -> dict[str, Any]:
        params: dict[str, Any] = {"to": address, "body": body}
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        else:
            params["from_"] = self.from_
        if self.status_callback:
            params["status_callback"] = self.status_callback
        return params

    async def send(self, address: str, replies: Sequence[Reply]) -> SendResult:
        """Send the replies to ``address`` as SMS, in order (nothing for no replies).

        Raises :class:`TwilioSendError` for any failure but an opted-out number.
        """
        texts = messages(replies)
        sids: list[str] = []
        for text in texts:
            await self.limiter.acquire()
            try:
                sids.append(await create_message(self.client, self._params(address, text)))
            except Exception as exc:  # refused by Twilio, or never answered
                error = failure(exc, address, tuple(sids))
                if error.code in OPT_OUT_CODES:
                    log.info("%s has opted out with Twilio: not sent", mask(address))
                    if self.on_opt_out is not None:
                        await self.on_opt_out(address, uuid4().hex)
                    return SendResult(tuple(sids), _billed(texts[: len(sids)]), opted_out=True)
                raise error from exc
        return SendResult(tuple(sids), _billed(texts))


def _billed(texts: Sequence[str]) -> int:
    return sum(segments(t) for t in texts)


def build_sender(
    settings: Settings,
    http_client: HttpClient | None = None,
    *,
    services: Services | None = None,
    limiter: TokenBucket | None = None,
) -> TwilioSender:
    """A sender from the settings. Pass ``services`` so that an opted-out number (21610) is
    recorded as the respondent's STOP; without it the result only says ``opted_out``.

    Uses ``TWILIO_MESSAGING_SERVICE_SID`` when set, else ``TWILIO_FROM_NUMBER``. Delivery
    callbacks go to ``<public_url>/sms/twilio/status`` when the public URL is https (Twilio
    cannot call a local address).
    """
    client = client_for(settings, http_client, what="send SMS")
    sender_id = settings.twilio_messaging_service_sid or settings.twilio_from_number or ""
    on_opt_out = partial(mark_opted_out, services) if services is not None else None
    return TwilioSender(
        client,
        from_=settings.twilio_from_number,
        messaging_service_sid=settings.twilio_messaging_service_sid,
        limiter=limiter
        or shared_bucket(f"{settings.twilio_account_sid}:{sender_id}", settings.sms_per_second),
        status_callback=status_callback(settings, STATUS_PATH),
        on_opt_out=on_opt_out,
    )


__all__ = ["SendResult", "TokenBucket", "TwilioSendError", "TwilioSender", "build_sender"]
