"""Messages sent outside a webhook answer (reminders, invitations), through Twilio's REST API.

* The rendering is the webhook's (:func:`.render.messages`): one message while the text fits in
  a few segments, else parts labelled ``(1/n)``, sent one after the other in order.
* Every API request first takes a token from a :class:`TokenBucket` of
  ``settings.sms_per_second``, shared by every sender of the process for the same account and
  sender (:func:`shared_bucket`): a survey launch to thousands of numbers cannot burst past the
  number's throughput, which would only make Twilio queue (and eventually fail) them. With
  several processes, give each its share of the rate.
* The twilio client is blocking (``requests``) unless given an ``AsyncHttpClient``: blocking
  calls run in a worker thread (``asyncio.to_thread``), never on the event loop.
* Error 21610 (the number texted STOP to Twilio) is not an error for us: the respondent is
  marked opted out (:mod:`.optout`) and :class:`SendResult` says ``opted_out``. Any other
  failure raises :class:`TwilioSendError` (a :class:`bot.errors.ChannelError`) carrying
  Twilio's code and whether a retry with backoff may help.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any
from uuid import uuid4

from twilio.base.exceptions import TwilioException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from adapters.services import Services
from adapters.sms_twilio.optout import OPTED_OUT_CODE, mark_opted_out
from adapters.sms_twilio.render import mask, messages
from bot.config import Settings
from bot.errors import ChannelError, ConfigError
from bot.models import Reply
from bot.sms import segments

log = logging.getLogger(__name__)

HTTP_TIMEOUT = 10.0
"""Seconds before a REST call to Twilio is abandoned (the library's default is no timeout)."""
STATUS_PATH = "/sms/twilio/status"
RETRYABLE_CODES = frozenset({20429, 20500, 20503})
"""Twilio codes worth retrying besides HTTP 429/5xx: too many requests, internal errors."""

OptOutHook = Callable[[str, str], Awaitable[object]]


class TokenBucket:
    """An async token bucket: ``rate`` tokens a second, at most ``burst`` saved up.

    Each :meth:`acquire` reserves its slot at once, without awaiting, so concurrent callers are
    served in call order and no lock is needed; the bucket then works on any event loop (a
    process-wide instance survives tests' and workers' loops). ``clock`` and ``sleep`` can be
    faked to test the spacing without waiting.
    """

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1.0, burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._last: float | None = None

    def reserve(self) -> float:
        """Take a token now (possibly on credit); returns the seconds to wait before using it."""
        now = self._clock()
        if self._last is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait <= 0:
            return
        try:
            await self._sleep(wait)
        except asyncio.CancelledError:
            self._tokens += 1  # give the slot back
            raise


_buckets: dict[tuple[str, float], TokenBucket] = {}


def shared_bucket(key: str, rate: float) -> TokenBucket:
    """The process-wide bucket for ``key`` (account + sender) at ``rate`` messages a second."""
    bucket = _buckets.get((key, rate))
    if bucket is None:
        bucket = _buckets[(key, rate)] = TokenBucket(rate)
    return bucket


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


class TwilioSendError(ChannelError):
    """Twilio refused a message or could not be reached.

    ``code`` is Twilio's error code (None when the request never got an answer), ``status`` the
    HTTP status, ``retryable`` whether trying again later may work, ``sent`` the sids of parts of
    a split message that did go before the failure.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None,
        status: int | None,
        retryable: bool,
        sent: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.retryable = retryable
        self.sent = sent


def _code(exc: TwilioException) -> int | None:
    raw = getattr(exc, "code", None)
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


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

    async def _create(self, params: dict[str, Any]) -> str:
        api = self.client.messages
        if self.client.http_client.is_async:
            message = await api.create_async(**params)
        else:
            message = await asyncio.to_thread(api.create, **params)
        return str(message.sid)

    async def send(self, address: str, replies: Sequence[Reply]) -> SendResult:
        """Send the replies to ``address`` as SMS, in order (nothing for no replies).

        Raises :class:`TwilioSendError` for any failure but an opted-out number.
        """
        texts = messages(replies)
        sids: list[str] = []
        for text in texts:
            await self.limiter.acquire()
            try:
                sids.append(await self._create(self._params(address, text)))
            except TwilioException as exc:
                code = _code(exc)
                status = getattr(exc, "status", None)
                if code == OPTED_OUT_CODE:
                    log.info("%s has opted out with Twilio: not sent", mask(address))
                    if self.on_opt_out is not None:
                        await self.on_opt_out(address, uuid4().hex)
                    return SendResult(tuple(sids), _billed(texts[: len(sids)]), opted_out=True)
                retryable = status is None or status == 429 or status >= 500
                retryable = retryable or code in RETRYABLE_CODES
                log.warning("Twilio refused a message to %s: %s %s", mask(address), status, code)
                raise TwilioSendError(
                    f"Twilio error {code} (HTTP {status})",
                    code=code,
                    status=status,
                    retryable=retryable,
                    sent=tuple(sids),
                ) from exc
            except Exception as exc:  # transport: connection refused, timeout, DNS...
                log.warning("Twilio unreachable sending to %s: %s", mask(address), exc)
                raise TwilioSendError(
                    f"Twilio unreachable: {type(exc).__name__}",
                    code=None,
                    status=None,
                    retryable=True,
                    sent=tuple(sids),
                ) from exc
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
    sid = settings.twilio_account_sid
    token = settings.twilio_auth_token
    if not sid or token is None:
        raise ConfigError("set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN to send SMS")
    client = Client(sid, token.get_secret_value(), http_client=http_client or _default_http())
    sender_id = settings.twilio_messaging_service_sid or settings.twilio_from_number or ""
    base = settings.public_url.rstrip("/")
    on_opt_out = partial(mark_opted_out, services) if services is not None else None
    return TwilioSender(
        client,
        from_=settings.twilio_from_number,
        messaging_service_sid=settings.twilio_messaging_service_sid,
        limiter=limiter or shared_bucket(f"{sid}:{sender_id}", settings.sms_per_second),
        status_callback=base + STATUS_PATH if base.startswith("https://") else None,
        on_opt_out=on_opt_out,
    )


def _default_http() -> HttpClient:
    return TwilioHttpClient(timeout=HTTP_TIMEOUT)
