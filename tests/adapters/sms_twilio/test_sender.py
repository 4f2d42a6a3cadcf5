"""TwilioSender: the real twilio Client builds every request; only its HTTP boundary is fake."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import requests
from twilio.http.response import Response as TwilioResponse

from adapters.services import Services
from adapters.sms_twilio import (
    SendResult,
    TokenBucket,
    TwilioSendError,
    build_sender,
    shared_bucket,
)
from bot.config import Settings
from bot.errors import ChannelError, ConfigError
from bot.models import Inbound, Reply, Status
from tests.adapters.conftest import PUBLIC_URL, TWILIO_SID, TWILIO_TOKEN
from tests.adapters.sms_twilio.twilio_fakes import (
    SERVICE_SID,
    FakeAsyncHttpClient,
    FakeHttpClient,
    Sent,
    error_21610,
    snapshot,
)

CARER = "+447700900123"
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
REMINDER = [
    Reply(text="Hello again. Please finish our Test survey when you can. Text STOP to stop.")
]


def body(sent: Sent) -> str:
    value = sent.data["Body"]
    assert isinstance(value, str)
    return value


class FakeTime:
    """A monotonic clock and a sleep that does not wait. With ``advance`` the sleep moves the
    clock (right for one caller at a time); without, time stands still (to see the waits that
    concurrent callers reserved at one instant)."""

    def __init__(self, advance: bool = True) -> None:
        self.now = 1000.0
        self.advance = advance
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        if self.advance:
            self.now += seconds
        await asyncio.sleep(0)


def unlimited() -> TokenBucket:
    return TokenBucket(1e9)


async def test_the_library_builds_the_real_request(settings: Settings) -> None:
    fake = FakeHttpClient()
    sender = build_sender(settings, fake, limiter=unlimited())
    result = await sender.send(CARER, REMINDER)
    (sent,) = fake.sent
    assert sent.method == "POST"
    assert sent.url == MESSAGES_URL
    assert sent.auth == (TWILIO_SID, TWILIO_TOKEN)
    assert sent.data == {
        "To": CARER,
        "Body": REMINDER[0].text,
        "From": "+447700900000",
        "StatusCallback": PUBLIC_URL + "/sms/twilio/status",
    }
    assert result == SendResult(sids=("SM" + "0" * 31 + "1",), segments=1)
    assert result.sent == 1


async def test_a_messaging_service_replaces_the_from_number(settings: Settings) -> None:
    settings.twilio_messaging_service_sid = SERVICE_SID
    fake = FakeHttpClient()
    await build_sender(settings, fake, limiter=unlimited()).send(CARER, REMINDER)
    (sent,) = fake.sent
    assert sent.data["MessagingServiceSid"] == SERVICE_SID
    assert "From" not in sent.data


async def test_no_status_callback_to_a_local_url(settings: Settings) -> None:
    settings.public_url = "http://127.0.0.1:8000"
    fake = FakeHttpClient()
    await build_sender(settings, fake, limiter=unlimited()).send(CARER, REMINDER)
    assert "StatusCallback" not in fake.sent[0].data


async def test_nothing_to_say_sends_nothing(settings: Settings) -> None:
    fake = FakeHttpClient()
    result = await build_sender(settings, fake, limiter=unlimited()).send(CARER, [])
    assert result == SendResult()
    assert fake.sent == []


async def test_a_long_text_goes_as_labelled_parts_in_order(settings: Settings) -> None:
    fake = FakeHttpClient()
    text = " ".join(f"Point {n}: short breaks matter to carers." for n in range(80))
    result = await build_sender(settings, fake, limiter=unlimited()).send(CARER, [Reply(text=text)])
    n = len(fake.sent)
    assert n > 1
    assert result.sent == n
    assert [body(s).split(" ", 1)[0] for s in fake.sent] == [f"({i}/{n})" for i in range(1, n + 1)]
    assert result.segments >= n


async def test_21610_marks_the_respondent_opted_out_and_sends_nothing_more(
    services: Services,
) -> None:
    await services.dispatcher.handle(
        Inbound(channel="sms", address=CARER, text="TEST", message_id="SMin")
    )
    fake = FakeHttpClient([error_21610()])
    sender = build_sender(services.settings, fake, services=services, limiter=unlimited())
    result = await sender.send(CARER, REMINDER)
    assert result.opted_out
    assert result.sids == ()
    assert len(fake.sent) == 1  # the engine's "You will get no more messages" is not sent
    rid = services.store.respondent("sms", CARER)
    stored = await services.store.response(rid, "every-type")
    assert stored is not None
    assert stored.status is Status.OPTED_OUT
    assert await services.store.is_opted_out(rid)


async def test_21610_without_services_only_reports_it(settings: Settings) -> None:
    fake = FakeHttpClient([error_21610()])
    result = await build_sender(settings, fake, limiter=unlimited()).send(CARER, REMINDER)
    assert result.opted_out


@pytest.mark.parametrize(
    ("status", "payload", "code", "retryable"),
    [
        (400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}, 21211, False),
        (
            400,
            {
                "code": 21408,
                "message": "Permission to send an SMS has not been enabled",
                "status": 400,
            },
            21408,
            False,
        ),
        (429, {"code": 20429, "message": "Too Many Requests", "status": 429}, 20429, True),
        (500, {"code": 20500, "message": "Internal Server Error", "status": 500}, 20500, True),
        (503, {"message": "Service Unavailable"}, 503, True),
    ],
    ids=[
        "invalid number",
        "region not enabled",
        "too many requests",
        "internal error",
        "unavailable",
    ],
)
async def test_other_errors_raise_a_channel_error_with_the_code(
    settings: Settings, status: int, payload: dict[str, Any], code: int, retryable: bool
) -> None:
    fake = FakeHttpClient([(status, payload)])
    with pytest.raises(TwilioSendError) as caught:
        await build_sender(settings, fake, limiter=unlimited()).send(CARER, REMINDER)
    assert isinstance(caught.value, ChannelError)
    assert caught.value.code == code
    assert caught.value.status == status
    assert caught.value.retryable is retryable
    assert CARER not in str(caught.value)


async def test_twilio_unreachable_is_retryable(settings: Settings) -> None:
    class Down(FakeHttpClient):
        def request(self, *args: Any, **kw: Any) -> Any:
            raise requests.ConnectionError("connection refused")

    with pytest.raises(TwilioSendError) as caught:
        await build_sender(settings, Down(), limiter=unlimited()).send(CARER, REMINDER)
    assert caught.value.code is None
    assert caught.value.retryable


async def test_a_failure_mid_way_reports_the_parts_already_sent(settings: Settings) -> None:
    ok = (201, {"sid": "SM" + "a" * 32, "status": "queued"})
    fake = FakeHttpClient([ok, (500, {"code": 20500, "message": "Internal Server Error"})])
    text = " ".join(f"Point {n}: short breaks matter to carers." for n in range(80))
    with pytest.raises(TwilioSendError) as caught:
        await build_sender(settings, fake, limiter=unlimited()).send(CARER, [Reply(text=text)])
    assert caught.value.sent == ("SM" + "a" * 32,)


async def test_the_async_http_client_is_used_without_threads(settings: Settings) -> None:
    fake = FakeAsyncHttpClient()
    result = await build_sender(settings, fake, limiter=unlimited()).send(CARER, REMINDER)
    assert result.sent == 1
    assert fake.sync.sent[0].data["To"] == CARER


def test_token_bucket_spaces_reservations() -> None:
    t = FakeTime()
    bucket = TokenBucket(4, clock=t.clock, sleep=t.sleep)
    assert [bucket.reserve() for _ in range(4)] == [0.0, 0.25, 0.5, 0.75]
    t.now += 10  # idle: saves up at most `burst` (1) token
    assert [bucket.reserve() for _ in range(2)] == [0.0, 0.25]


async def test_the_rate_limit_spaces_sequential_sends(settings: Settings) -> None:
    t = FakeTime()
    fake = FakeHttpClient()
    seen: list[float] = []
    real = fake.answer

    def timed(
        method: str, uri: str, data: dict[str, object] | None, auth: tuple[str, str] | None
    ) -> TwilioResponse:
        seen.append(t.now)
        return real(method, uri, data, auth)

    fake.answer = timed  # type: ignore[method-assign]
    sender = build_sender(settings, fake, limiter=TokenBucket(2, clock=t.clock, sleep=t.sleep))
    for n in range(4):
        await sender.send(f"+4477009001{n:02d}", REMINDER)
    assert [round(s - seen[0], 6) for s in seen] == [0.0, 0.5, 1.0, 1.5]
    assert t.slept == [0.5, 0.5, 0.5]


async def test_concurrent_sends_share_one_bucket(settings: Settings) -> None:
    t = FakeTime(advance=False)
    fake = FakeHttpClient()
    sender = build_sender(settings, fake, limiter=TokenBucket(5, clock=t.clock, sleep=t.sleep))
    await asyncio.gather(*(sender.send(f"+4477009002{n:02d}", REMINDER) for n in range(5)))
    assert len(fake.sent) == 5
    # all five reserved at the same instant: waits of 0 (no sleep), 0.2, 0.4, 0.6, 0.8
    assert sorted(t.slept) == [0.2, 0.4, 0.6, 0.8]


def test_senders_of_one_process_share_the_bucket(settings: Settings) -> None:
    a = build_sender(settings, FakeHttpClient())
    b = build_sender(settings, FakeHttpClient())
    assert a.limiter is b.limiter
    assert a.limiter is shared_bucket(f"{TWILIO_SID}:+447700900000", settings.sms_per_second)
    assert a.limiter.rate == settings.sms_per_second


def test_missing_credentials_or_sender_are_config_errors(settings: Settings) -> None:
    no_token = settings.model_copy(update={"twilio_auth_token": None})
    with pytest.raises(ConfigError):
        build_sender(no_token, FakeHttpClient())
    no_sender = settings.model_copy(update={"twilio_from_number": None})
    with pytest.raises(ConfigError):
        build_sender(no_sender, FakeHttpClient())
    assert build_sender(
        settings.model_copy(
            update={"twilio_from_number": None, "twilio_messaging_service_sid": SERVICE_SID}
        ),
        FakeHttpClient(),
    )


async def test_an_opted_out_send_writes_only_the_opt_out(services: Services) -> None:
    """Sending to someone without a session who opted out with Twilio: only the marker."""
    fake = FakeHttpClient([error_21610()])
    sender = build_sender(services.settings, fake, services=services, limiter=unlimited())
    assert (await sender.send(CARER, REMINDER)).opted_out
    keys = await snapshot(services.redis)
    rid = services.store.respondent("sms", CARER)
    assert list(keys) == [services.store.keys.optout(rid)]
