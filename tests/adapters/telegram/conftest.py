"""A fake Telegram Bot API at PTB's HTTP boundary, and real Update JSON as Telegram sends it.

PTB builds and validates every request itself; :class:`FakeTelegram` only records what reached
the wire and answers like the Bot API would, so tests assert the real payloads.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from telegram.ext import AIORateLimiter
from telegram.request import BaseRequest, RequestData

from adapters import telegram as tg
from adapters.services import Services
from tests.adapters.conftest import START, TELEGRAM_SECRET, TELEGRAM_TOKEN

BOT_ID = int(TELEGRAM_TOKEN.split(":")[0])
BOT_USERNAME = "LLRCarersBot"
BOT_USER: dict[str, Any] = {  # the bot, as a User in updates and sent messages
    "id": BOT_ID,
    "is_bot": True,
    "first_name": "LLR Carers survey",
    "username": BOT_USERNAME,
}
DATE = int(START.timestamp())  # 2026-11-23 10:00 UTC, the services clock
CHAT = 5550001234
GROUP = -1001234567890


@dataclass
class Call:
    method: str
    params: dict[str, Any]

    @property
    def markup(self) -> dict[str, Any] | None:
        raw = self.params.get("reply_markup")
        return json.loads(raw) if isinstance(raw, str) else raw

    @property
    def datas(self) -> list[str]:
        m = self.markup or {}
        return [
            b["callback_data"]
            for row in m.get("inline_keyboard", [])
            for b in row
            if "callback_data" in b
        ]

    @property
    def labels(self) -> list[str]:
        m = self.markup or {}
        return [b["text"] for row in m.get("inline_keyboard", []) for b in row]


@dataclass
class FakeTelegram(BaseRequest):
    """Records (url, method, parameters); answers {"ok": true, "result": ...} per API method."""

    calls: list[Call] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    updates: list[list[dict[str, Any]]] = field(default_factory=list)
    fail: dict[int, tuple[int, str]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(100))

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        api = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        assert method == "POST"
        self.urls.append(url)
        self.calls.append(Call(api, params))
        chat_id = params.get("chat_id")
        if isinstance(chat_id, int) and chat_id in self.fail and api == "sendMessage":
            code, description = self.fail[chat_id]
            return code, json.dumps(
                {"ok": False, "error_code": code, "description": description}
            ).encode()
        return 200, json.dumps({"ok": True, "result": await self._result(api, params)}).encode()

    async def _result(self, api: str, p: dict[str, Any]) -> Any:
        if api == "getMe":
            return {
                **BOT_USER,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if api in ("sendMessage", "editMessageText", "editMessageReplyMarkup"):
            chat_id = int(p["chat_id"])
            msg: dict[str, Any] = {
                "message_id": p.get("message_id") or next(self._ids),
                "from": dict(BOT_USER),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                "date": DATE,
                "text": p.get("text", "(text)"),
            }
            if p.get("reply_markup"):
                msg["reply_markup"] = p["reply_markup"]
            return msg
        if api == "getUpdates":
            if self.updates:
                return self.updates.pop(0)
            await asyncio.sleep(0.01)
            return []
        if api in ("answerCallbackQuery", "setWebhook", "deleteWebhook"):
            return True
        raise AssertionError(f"unexpected Bot API method {api}")

    # -- helpers for assertions --------------------------------------------------------------

    def of(self, api: str) -> list[Call]:
        return [c for c in self.calls if c.method == api]

    def texts(self) -> list[str]:
        return [c.params["text"] for c in self.of("sendMessage")]

    def last_message(self) -> Call:
        return self.of("sendMessage")[-1]

    def clear(self) -> None:
        self.calls.clear()
        self.urls.clear()


# -- Update JSON, shaped as the Bot API sends it ---------------------------------------------


def user(uid: int = CHAT, lang: str | None = "en") -> dict[str, Any]:
    u: dict[str, Any] = {"id": uid, "is_bot": False, "first_name": "Asha", "last_name": "Patel"}
    if lang:
        u["language_code"] = lang
    return u


def private_chat(uid: int = CHAT) -> dict[str, Any]:
    return {"id": uid, "first_name": "Asha", "last_name": "Patel", "type": "private"}


def message(
    update_id: int,
    text: str | None = None,
    *,
    chat_id: int = CHAT,
    lang: str | None = "en",
    **extra: Any,
) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "message_id": update_id % 100000,
        "from": user(chat_id, lang),
        "chat": private_chat(chat_id),
        "date": DATE,
    }
    if text is not None:
        msg["text"] = text
        if text.startswith("/"):
            msg["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
    msg.update(extra)
    return {"update_id": update_id, "message": msg}


def callback(
    update_id: int, data: str, *, on: dict[str, Any] | None = None, chat_id: int = CHAT
) -> dict[str, Any]:
    """A button press; ``on`` is the message the keyboard was on (as the bot sent it)."""
    query: dict[str, Any] = {
        "id": f"{update_id}77",
        "from": user(chat_id),
        "chat_instance": "-4620095373920451234",
        "data": data,
    }
    query["message"] = on or {
        "message_id": 1,
        "date": DATE,
        "chat": private_chat(chat_id),
        "text": "(question)",
        "from": dict(BOT_USER),
    }
    return {"update_id": update_id, "callback_query": query}


def blocked(update_id: int, chat: int = CHAT) -> dict[str, Any]:
    """The person in private chat ``chat`` blocked the bot."""
    return {
        "update_id": update_id,
        "my_chat_member": {
            "chat": private_chat(chat),
            "from": user(chat),
            "date": DATE,
            "old_chat_member": {"user": dict(BOT_USER), "status": "member"},
            "new_chat_member": {"user": dict(BOT_USER), "status": "kicked", "until_date": 0},
        },
    }


def json_paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (keys and list indexes) into a JSON value, for mutating updates in tests."""
    out: list[tuple[Any, ...]] = []
    items = (
        obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else []
    )
    for k, v in items:
        out.append((*prefix, k))
        out += json_paths(v, (*prefix, k))
    return out


def as_sent(call: Call, message_id: int = 4242) -> dict[str, Any]:
    """The Message a sendMessage call produced, as it comes back inside a callback query."""
    msg: dict[str, Any] = {
        "message_id": message_id,
        "date": DATE,
        "from": dict(BOT_USER),
        "chat": private_chat(int(call.params["chat_id"])),
        "text": call.params["text"],
    }
    if call.markup:
        msg["reply_markup"] = call.markup
    return msg


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def fake() -> FakeTelegram:
    return FakeTelegram()


@pytest.fixture
async def channel(services: Services, fake: FakeTelegram) -> AsyncIterator[tg.TelegramChannel]:
    ch = tg.TelegramChannel(
        services,
        request=fake,
        rate_limiter=AIORateLimiter(overall_max_rate=10_000, group_max_rate=10_000),
    )
    await ch.start()
    yield ch
    await ch.stop()


class Webhook:
    def __init__(self, client: httpx.AsyncClient, fake: FakeTelegram) -> None:
        self.client = client
        self.fake = fake

    async def post(
        self, update: dict[str, Any] | bytes, *, secret: str | None = TELEGRAM_SECRET
    ) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[tg.SECRET_HEADER] = secret.encode()  # type: ignore[assignment]
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        return await self.client.post(tg.PATH, content=body, headers=headers)

    async def send(self, update: dict[str, Any]) -> list[Call]:
        """Post an update that must be accepted; returns the Bot API calls it caused."""
        before = len(self.fake.calls)
        r = await self.post(update)
        assert r.status_code == 200, r.text
        return self.fake.calls[before:]


@pytest.fixture
async def hook(
    services: Services, channel: tg.TelegramChannel, fake: FakeTelegram
) -> AsyncIterator[Webhook]:
    app = Starlette(routes=tg.routes(services, channel))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://surveys.example.gov.uk"
    ) as client:
        fake.clear()
        yield Webhook(client, fake)


async def redis_keys(services: Services) -> set[Any]:
    return set(await services.redis.keys("*"))
