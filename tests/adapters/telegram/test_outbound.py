"""Reminders through TelegramSender, polling, webhook setup and the channel's lifecycle."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from adapters import telegram as tg
from adapters.services import Services
from adapters.telegram import polling
from bot import engine
from bot.errors import ChannelError, ConfigError, StoreError
from bot.models import Inbound, Reply, ReplyChoice, Status
from tests.adapters.conftest import TELEGRAM_SECRET, TELEGRAM_TOKEN, Clock
from tests.adapters.telegram.conftest import CHAT, FakeTelegram, callback, message

ADDRESS = str(CHAT)


async def start_survey(services: Services, *texts: str) -> Any:
    out = None
    for n, text in enumerate(texts):
        kind = "start" if n == 0 else "text"
        out = await services.dispatcher.handle(
            Inbound(channel="telegram", address=ADDRESS, text=text, kind=kind, message_id=f"x{n}")
        )
    assert out is not None
    return out.session


async def test_a_reminder_is_rendered_like_a_reply(
    services: Services, fake: FakeTelegram, channel: tg.TelegramChannel, clock: Clock
) -> None:
    session = await start_survey(services, "every-type", "yes", "Asha", "1", "2")
    assert session.current == "support"
    flow = services.registry.get("every-type")
    assert flow is not None
    clock.advance(hours=30)
    replies = engine.reminder(flow, session)
    fake.clear()
    result = await tg.TelegramSender(services, channel=channel).send(ADDRESS, replies, lang="pl")
    assert result == tg.SendResult(sent=len(replies), opted_out=False)
    sent = fake.of("sendMessage")
    assert [c.params["chat_id"] for c in sent] == [CHAT] * len(replies)
    assert all("reply_markup" not in c.params for c in sent[:-1])
    assert sent[-1].datas[-1] == "d:support:0"
    assert sent[-1].labels[-1] == "✅ Gotowe"


async def test_a_person_who_blocked_the_bot_is_opted_out(
    services: Services, fake: FakeTelegram, channel: tg.TelegramChannel
) -> None:
    await start_survey(services, "carers-strategy", "yes")
    fake.fail[CHAT] = (403, "Forbidden: bot was blocked by the user")
    fake.clear()
    sender = tg.TelegramSender(services, channel=channel)
    result = await sender.send(ADDRESS, [Reply(text="Hello again."), Reply(text="Which best?")])
    assert result.opted_out
    assert len(fake.of("sendMessage")) == 1  # stopped at the first refusal; STOP's reply unsent
    rid = services.store.respondent("telegram", ADDRESS)
    loaded = await services.store.load(rid)
    assert loaded.session is not None
    assert loaded.session.status is Status.OPTED_OUT
    # and nothing more is sent to them until they come back
    assert await services.store.is_opted_out(rid)


@pytest.mark.parametrize(
    ("status", "description", "retryable"),
    [
        (400, "Bad Request: chat not found", False),
        (429, "Too Many Requests: retry after 5", True),
        (502, "Bad Gateway", True),
    ],
)
async def test_other_failures_raise_channel_error(
    services: Services,
    fake: FakeTelegram,
    channel: tg.TelegramChannel,
    status: int,
    description: str,
    retryable: bool,
) -> None:
    fake.fail[CHAT] = (status, description)
    sender = tg.TelegramSender(services, channel=channel)
    with pytest.raises(ChannelError, match=r"55\*+34") as caught:
        await sender.send(ADDRESS, [Reply(text="Hi")])
    assert isinstance(caught.value, tg.TelegramSendError)
    assert caught.value.retryable is retryable
    assert await sender.send(ADDRESS, []) == tg.SendResult()  # nothing to send: fine


async def test_set_webhook_sends_url_secret_and_update_types(
    services: Services, fake: FakeTelegram, channel: tg.TelegramChannel
) -> None:
    assert await channel.set_webhook() is True
    [call] = fake.of("setWebhook")
    assert call.params == {
        "url": "https://surveys.example.gov.uk/telegram/webhook",
        "secret_token": TELEGRAM_SECRET,
        "allowed_updates": ["message", "edited_message", "callback_query", "my_chat_member"],
    }
    with pytest.raises(ConfigError, match="https"):
        await channel.set_webhook("http://surveys.example.gov.uk/telegram/webhook")
    services.settings.telegram_secret_token = None
    with pytest.raises(ConfigError, match="TELEGRAM_SECRET_TOKEN"):
        await channel.set_webhook()


async def test_lifecycle_and_lazy_start(services: Services, fake: FakeTelegram) -> None:
    ch = tg.TelegramChannel(services, request=fake)
    assert tg.TelegramChannel.of(services) is ch
    app = Starlette(routes=tg.routes(services))  # finds the same channel
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://x"
    ) as client:
        r = await client.post(
            tg.PATH, json=message(1, "/start"), headers={tg.SECRET_HEADER: TELEGRAM_SECRET}
        )
    assert r.status_code == 200
    assert [c.method for c in fake.calls] == ["getMe", "sendMessage"]  # started on first use
    assert all(u.startswith(f"https://api.telegram.org/bot{TELEGRAM_TOKEN}/") for u in fake.urls)
    await ch.start()
    assert [c.method for c in fake.calls].count("getMe") == 1
    assert ch.username == "LLRCarersBot"
    await ch.stop()
    await ch.stop()


def test_no_token_no_channel(services: Services) -> None:
    services.settings.telegram_token = None
    with pytest.raises(ConfigError, match="TELEGRAM_TOKEN"):
        tg.TelegramChannel(services)


async def _until(cond: Any) -> None:
    """Wait (at most 5 s) for the fake Bot API to have seen enough calls."""
    async with asyncio.timeout(5):
        for _ in range(1000):
            if cond():
                return
            await asyncio.sleep(0.005)


async def test_polling_handles_updates_with_the_same_code(
    services: Services, fake: FakeTelegram, channel: tg.TelegramChannel
) -> None:
    fake.updates = [
        [message(501, "/start carers-strategy-harborough-carers"), message(502, "yes")],
        [callback(503, "a:role:carer"), message(502, "yes")],  # 502 again: a redelivery
    ]
    stop = asyncio.Event()
    task = asyncio.create_task(tg.run_polling(services, stop=stop, channel=channel))
    await _until(lambda: not fake.updates and len(fake.of("getUpdates")) >= 3)
    stop.set()
    await asyncio.wait_for(task, 5)
    methods = [c.method for c in fake.calls]
    assert methods.index("deleteWebhook") < methods.index("getUpdates")
    polls = fake.of("getUpdates")
    assert polls[0].params["allowed_updates"] == tg.ALLOWED_UPDATES
    assert "offset" not in polls[0].params
    assert polls[1].params["offset"] == 503
    assert polls[2].params["offset"] == 504
    assert polls[-1].params == {"offset": 504, "timeout": 0, "limit": 1}  # confirmed on the way out
    rid = services.store.respondent("telegram", ADDRESS)
    response = await services.store.response(rid, "carers-strategy")
    assert response is not None
    assert response.source == "harborough-carers"
    assert {q: a.value for q, a in response.answers.items()} == {"consent": True, "role": "carer"}


async def test_polling_keeps_an_update_while_the_store_is_down(
    services: Services,
    fake: FakeTelegram,
    channel: tg.TelegramChannel,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(polling, "BACKOFF_START", 0.01)
    real = services.dispatcher.handle
    failures = [StoreError("down")]

    async def flaky(inbound: Inbound) -> Any:
        if failures:
            raise failures.pop()
        return await real(inbound)

    monkeypatch.setattr(services.dispatcher, "handle", flaky)
    fake.updates = [
        [message(601, "/start"), message(602, "TEST")],
        [message(601, "/start"), message(602, "TEST")],
    ]
    stop = asyncio.Event()
    task = asyncio.create_task(tg.run_polling(services, stop=stop, channel=channel))
    await _until(lambda: not fake.updates and len(fake.of("getUpdates")) >= 3)
    stop.set()
    await asyncio.wait_for(task, 5)
    polls = fake.of("getUpdates")
    assert "offset" not in polls[1].params  # 601 failed: fetched again from the start
    assert polls[2].params["offset"] == 603
    texts = fake.texts()
    assert len(texts) == 3  # each update handled once, in order
    assert "CARERS - Carers Strategy survey" in texts[0]  # the menu for the bare /start
    assert texts[1].startswith("Hello from Test Borough Council")
    assert texts[2] == "Do you agree to take part?"


async def test_polling_stops_promptly(
    services: Services, fake: FakeTelegram, channel: tg.TelegramChannel
) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(tg.run_polling(services, stop=stop, channel=channel))
    await _until(lambda: len(fake.of("getUpdates")) >= 1)
    stop.set()
    await asyncio.wait_for(task, 1)
    assert not [c for c in fake.calls if c.method == "sendMessage"]


def test_replies_with_choices_for_reminders_fit(services: Services) -> None:
    reply = Reply(
        text="?",
        question="q" * 30,
        kind="question",
        choices=[ReplyChoice(key="1", value="v" * 30, label="x")],
    )
    [out] = tg.render([reply])
    assert out.markup is not None


def test_the_bot_token_never_reaches_the_logs(
    channel: tg.TelegramChannel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    url = f"https://api.telegram.org/bot{TELEGRAM_TOKEN}/sendMessage"
    logging.getLogger("httpx").info('HTTP Request: %s %s "%s"', "POST", url, "HTTP/1.1 200 OK")
    assert TELEGRAM_TOKEN not in caplog.text
    assert "bot<TELEGRAM_TOKEN>/sendMessage" in caplog.text
