"""Hole 2 of issue 17: Telegram's Bot API unreachable at start-up stopped the whole server
("Application startup failed"), taking the SMS webhook and the web chat down with it.

Each channel starts, fails and recovers on its own: a real ``surveybot`` app process (uvicorn)
with Telegram configured against a Bot API address where nothing listens starts anyway, answers
SMS and the web chat, says on ``/healthz`` that Telegram is degraded and why, answers Telegram's
webhook with 503 (so Telegram delivers the update again), and recovers when the Bot API answers.
In process, the same with a Bot API that fails its first calls: the channel retries by itself.
"""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

import adapters.health
from tests.adapters.conftest import copy_flows_dir
from tests.adapters.telegram.conftest import FakeTelegram
from tests.conftest import eventually
from tests.reliability.conftest import StartApp
from tests.reliability.harness import (
    PUBLIC_URL,
    WEBHOOK,
    RedisServer,
    Signer,
    app_env,
    copy_flows,
)
from tests.security.harness import make_world
from tests.support.cluster import free_port

TG_TOKEN = "123456:reliability-telegram-token"
TG_SECRET = "reliability-telegram-secret"
BOT = {"id": 123456, "is_bot": True, "first_name": "Carers", "username": "LLRCarersBot"}


class _BotApi(BaseHTTPRequestHandler):
    """A Bot API that answers every method (getMe with the bot, anything else with true-ish)."""

    calls: list[str] = []  # noqa: RUF012 - one server per test, read after it

    def do_POST(self) -> None:
        method = self.path.rsplit("/", 1)[-1]
        type(self).calls.append(method)
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        result: Any = BOT if method == "getMe" else True
        if method == "sendMessage":
            result = {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 42, "type": "private"},
                "text": "ok",
            }
        body = json.dumps({"ok": True, "result": result}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def bot_api_port() -> int:
    return free_port()


def _serve_bot_api(port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), _BotApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _update(update_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": 42, "type": "private"},
            "from": {"id": 42, "is_bot": False, "first_name": "A"},
            "text": text,
        },
    }


@pytest.mark.slow
async def test_server_starts_serves_and_recovers_with_telegram_unreachable(
    redis_server: RedisServer, start_app: StartApp, work: Path, bot_api_port: int
) -> None:
    env = app_env(redis_server.url, "sbiso", copy_flows(work / "flows"), work / "data")
    env.update({
        "TELEGRAM_TOKEN": TG_TOKEN,
        "TELEGRAM_SECRET_TOKEN": TG_SECRET,
        # Nothing listens there: every Bot API call is refused at once (no outside traffic).
        "TELEGRAM_API_URL": f"http://127.0.0.1:{bot_api_port}/bot",
    })  # fmt: skip
    app = start_app(env)
    await asyncio.to_thread(app.wait_ready)  # the server did not exit: it answers /healthz
    async with httpx.AsyncClient(base_url=app.base_url, timeout=20) as client:
        health = (await client.get("/healthz")).json()
        assert health["status"] == "degraded"
        assert health["degraded"] == ["telegram"]
        assert health["channels"]["telegram"]["status"] in ("degraded", "starting")
        assert health["channels"]["sms"]["status"] == "ok"
        assert health["channels"]["web"]["status"] == "ok"

        async def telegram_reason() -> bool:
            h = (await client.get("/healthz")).json()
            return "reason" in h["channels"]["telegram"]

        await eventually(telegram_reason, timeout=30)

        # SMS and the web chat work meanwhile.
        signer = Signer()
        body, headers = signer.sign("+447700900444", "CARERS", "SMiso0")
        sms = await client.post(WEBHOOK, content=body, headers=headers)
        assert sms.status_code == 200
        assert "Carers" in sms.text
        web = await client.post(
            "/chat/carers-strategy/messages", json={"start": True}, headers={"origin": PUBLIC_URL}
        )
        assert web.status_code == 200
        assert web.json()["replies"]

        # Telegram's webhook: 503, so Telegram delivers the update again later.
        tg_headers = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
        refused = await client.post("/telegram/webhook", json=_update(1, "hi"), headers=tg_headers)
        assert refused.status_code == 503

        # The Bot API comes back: the redelivered update goes through and the channel is ok.
        server = _serve_bot_api(bot_api_port)
        try:
            again = await client.post(
                "/telegram/webhook", json=_update(1, "hi"), headers=tg_headers
            )
            assert again.status_code == 200
            assert "getMe" in _BotApi.calls
            assert "sendMessage" in _BotApi.calls
            health = (await client.get("/healthz")).json()
            assert health["status"] == "ok"
            assert health["channels"]["telegram"]["status"] == "ok"
        finally:
            server.shutdown()
    assert app.crash_log() is None, app.crash_log()


async def test_a_channel_retries_its_start_by_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process: getMe fails three times, then works; the channel goes starting -> degraded
    -> ok on its own, with SMS served throughout."""
    monkeypatch.setattr(adapters.health, "FIRST_RETRY", 0.01)
    copy_flows_dir(tmp_path)
    world = await make_world(tmp_path)
    fake: FakeTelegram = world.telegram
    failures = {"left": 3}
    real = fake.do_request

    async def flaky(url: str, method: str, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        if url.endswith("/getMe") and failures["left"] > 0:
            failures["left"] -= 1
            raise OSError("Bot API unreachable")
        return await real(url, method, *args, **kwargs)

    monkeypatch.setattr(fake, "do_request", flaky)
    transport = httpx.ASGITransport(app=world.app)
    seen: set[str] = set()
    async with (
        world.app.router.lifespan_context(world.app),
        httpx.AsyncClient(transport=transport, base_url="https://testserver") as client,
    ):

        async def recovered() -> bool:
            h = (await client.get("/healthz")).json()
            seen.add(h["channels"]["telegram"]["status"])
            return bool(h["channels"]["telegram"]["status"] == "ok")

        answer = await world.sms("TEST", sid="SMflaky", sender="+447700900555")
        assert answer.status == 200
        await eventually(recovered, timeout=30)
    assert failures["left"] == 0
    assert "degraded" in seen or "starting" in seen
    await world.close()


async def test_sending_while_telegram_is_unreachable_is_a_retryable_send_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reminder worker whose Telegram never started: the send fails as retryable (the
    reminder is tried again), not with an error that stops the worker."""
    from adapters.telegram.channel import TelegramSendError
    from bot.models import Reply

    world = await make_world(tmp_path)
    assert world.channel is not None

    async def down(*args: Any, **kwargs: Any) -> tuple[int, bytes]:
        raise OSError("Bot API unreachable")

    monkeypatch.setattr(world.telegram, "do_request", down)
    with pytest.raises(TelegramSendError) as caught:
        await world.channel.deliver("42", [Reply(text="Hello again")])
    assert caught.value.retryable
    await world.close()
