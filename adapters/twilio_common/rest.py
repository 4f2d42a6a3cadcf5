"""Twilio's REST API for every Twilio channel: the client, the send rate, one message, its errors.

* Every API request first takes a token from a :class:`TokenBucket`, shared by every sender of
  the process for the same account and sender (:func:`shared_bucket`): a survey launch to
  thousands of numbers cannot burst past the sender's throughput, which would only make Twilio
  queue (and eventually fail) them. With several processes, give each its share of the rate.
* The twilio client is blocking (``requests``) unless given an ``AsyncHttpClient``: blocking
  calls run in a worker thread (``asyncio.to_thread``), never on the event loop.
* :func:`failure` turns whatever a request raised into a :class:`TwilioSendError` carrying
  Twilio's code and whether a retry with backoff may help; the caller decides what an opt-out
  code (:data:`adapters.twilio_common.optout.OPT_OUT_CODES`) means for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from twilio.base.exceptions import TwilioException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from adapters.twilio_common import mask
from bot.config import Settings
from bot.errors import ChannelError, ConfigError

log = logging.getLogger(__name__)

HTTP_TIMEOUT = 10.0
"""Seconds before a REST call to Twilio is abandoned (the library's default is no timeout)."""
RETRYABLE_CODES = frozenset({20429, 20500, 20503, 63018})
"""Twilio codes worth retrying besides HTTP 429/5xx: too many requests, internal errors, and
WhatsApp's rate limit for the sender (63018)."""


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


def error_code(exc: TwilioException) -> int | None:
    raw = getattr(exc, "code", None)
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def failure(exc: Exception, address: str, sent: tuple[str, ...] = ()) -> TwilioSendError:
    """What a failed request means: Twilio's code, the HTTP status, and whether to retry.

    A refusal from the API (:class:`TwilioException`) is retryable on HTTP 429/5xx and on
    :data:`RETRYABLE_CODES`; anything else raised (connection refused, timeout, DNS) is a
    transport failure, always retryable.
    """
    if isinstance(exc, TwilioException):
        code = error_code(exc)
        status = getattr(exc, "status", None)
        retryable = status is None or status == 429 or status >= 500 or code in RETRYABLE_CODES
        log.warning("Twilio refused a message to %s: %s %s", mask(address), status, code)
        return TwilioSendError(
            f"Twilio error {code} (HTTP {status})",
            code=code,
            status=status,
            retryable=retryable,
            sent=sent,
        )
    log.warning("Twilio unreachable sending to %s: %s", mask(address), exc)
    return TwilioSendError(
        f"Twilio unreachable: {type(exc).__name__}",
        code=None,
        status=None,
        retryable=True,
        sent=sent,
    )


async def create_message(client: Client, params: dict[str, Any]) -> str:
    """Create one message (``client.messages.create``); its sid. Raises what the library raises."""
    api = client.messages
    if client.http_client.is_async:
        message = await api.create_async(**params)
    else:
        message = await asyncio.to_thread(api.create, **params)
    return str(message.sid)


def client_for(settings: Settings, http_client: HttpClient | None = None, *, what: str) -> Client:
    """A ``twilio.rest.Client`` for the configured account (``what`` names the job in the error)."""
    sid = settings.twilio_account_sid
    token = settings.twilio_auth_token
    if not sid or token is None:
        raise ConfigError(f"set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN to {what}")
    return Client(sid, token.get_secret_value(), http_client=http_client or default_http())


def status_callback(settings: Settings, path: str) -> str | None:
    """``<public_url><path>`` when the public URL is https (Twilio cannot call a local address)."""
    base = settings.public_url.rstrip("/")
    return base + path if base.startswith("https://") else None


def default_http() -> HttpClient:
    return TwilioHttpClient(timeout=HTTP_TIMEOUT)
