"""The whole ASGI app (``adapters.app.create_app``: body limit, every channel, error handlers) on
fakeredis or a real Redis, driven in-process by raw ASGI calls, plus Redis snapshots.

Raw ASGI rather than an HTTP client: a fuzz case costs well under a millisecond, and a test can
send what a client library would refuse to build (two ``Content-Length`` headers, a body that
lies about its length, header values in Latin-1, a body in many chunks without a length).

The Telegram channel talks to :class:`tests.adapters.telegram.conftest.FakeTelegram` (PTB's HTTP
boundary), so nothing leaves the process.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlencode

import fakeredis
import httpx
from pydantic import SecretStr
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.datastructures import ImmutableMultiDict
from telegram.ext import AIORateLimiter
from twilio.request_validator import RequestValidator

from adapters import telegram as tg
from adapters.app import create_app
from adapters.services import Services, build_services
from adapters.web import session_ids
from adapters.web.chat import SECURE_COOKIE_NAME
from bot.config import Settings
from store.client import AnyRedis
from tests.adapters.conftest import (
    PUBLIC_URL,
    START,
    TELEGRAM_SECRET,
    TWILIO_TOKEN,
    Clock,
    adapter_settings,
    copy_flows_dir,
)
from tests.adapters.sms_twilio import twilio_fakes
from tests.adapters.sms_twilio.twilio_fakes import FORM, WEBHOOK, inbound_form, twiml_messages
from tests.adapters.telegram.conftest import FakeTelegram

SECRET = "security-test-secret"  # SURVEYBOT_SECRET, the respondent-id key

Headers = list[tuple[bytes, bytes]]
Pairs = Sequence[tuple[str, str]]


@dataclass
class Answer:
    """What the app sent back."""

    status: int
    headers: Headers
    body: bytes

    def header(self, name: str) -> str | None:
        key = name.lower().encode()
        for k, v in self.headers:
            if k == key:
                return v.decode("latin-1")
        return None

    def twiml(self) -> list[str]:
        """The texts of the ``<Message>`` verbs of a 200 TwiML answer."""
        assert self.status == 200, self
        return twiml_messages(httpx.Response(200, headers=self.headers, content=self.body))


async def call(
    app: Any,
    method: str,
    path: str,
    *,
    headers: Iterable[tuple[bytes, bytes]] = (),
    body: bytes = b"",
    chunks: int = 1,
    query: bytes = b"",
    client: tuple[str, int] = ("10.0.0.9", 50123),
) -> Answer:
    """One HTTP request straight into the ASGI app. ``chunks`` > 1 sends the body in pieces
    (as a streamed upload does). Any exception the app lets escape propagates to the caller."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",  # behind the TLS-terminating proxy
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "query_string": query,
        "root_path": "",
        "headers": list(headers),
        "client": client,
        "server": ("10.0.0.5", 8000),
        "state": {},
    }
    n = max(1, chunks)
    size = max(1, -(-len(body) // n))
    pieces = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    done = asyncio.Event()
    status: list[int] = []
    out_headers: Headers = []
    out_body: list[bytes] = []

    async def receive() -> dict[str, Any]:
        if pieces:
            piece = pieces.pop(0)
            return {"type": "http.request", "body": piece, "more_body": bool(pieces)}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
            out_headers.extend(message.get("headers", []))
        elif message["type"] == "http.response.body":
            out_body.append(message.get("body", b""))
            if not message.get("more_body", False):
                done.set()

    await app(scope, receive, send)
    assert status, "the app sent no response"
    return Answer(status[0], out_headers, b"".join(out_body))


# -- Twilio and Telegram requests ---------------------------------------------------------------


def twilio_signature(url: str, pairs: Pairs, token: str = TWILIO_TOKEN) -> str:
    """Twilio's signature over ``pairs`` (repeated names included, as the app parses them)."""
    return str(RequestValidator(token).compute_signature(url, ImmutableMultiDict(list(pairs))))


def twilio_headers(signature: str | None, content_type: str = FORM) -> Headers:
    headers: Headers = [(b"content-type", content_type.encode())]
    if signature is not None:
        headers.append((b"x-twilio-signature", signature.encode("latin-1", "replace")))
    return headers


# Empty in every GB message; left out so that ``From`` and ``FromCountry`` are neighbours in the
# string Twilio signs (test_forged_and_replayed re-splits a request along that seam).
LOCATION = {"FromCity", "FromState", "FromZip", "ToCity", "ToState", "ToZip"}


def sms_form(body: str, *, sid: str, sender: str) -> list[tuple[str, str]]:
    """The fields Twilio POSTs for one inbound SMS (:func:`inbound_form`, less ``LOCATION``)."""
    form = inbound_form(body, sid=sid, sender=sender)
    return [(k, v) for k, v in form.items() if k not in LOCATION]


def status_form(state: str, *, sid: str, to: str, code: str | None = None) -> list[tuple[str, str]]:
    """A Twilio message status callback (:func:`twilio_fakes.status_form`, as pairs)."""
    return list(twilio_fakes.status_form(state, sid=sid, to=to, code=code).items())


def telegram_headers(secret: bytes | None = TELEGRAM_SECRET.encode()) -> Headers:
    headers: Headers = [(b"content-type", b"application/json")]
    if secret is not None:
        headers.append((tg.SECRET_HEADER.lower().encode(), secret))
    return headers


# -- the world ------------------------------------------------------------------------------------


def make_settings(tmp_path: Path, *, prefix: str = "sb", **extra: Any) -> Settings:
    return adapter_settings(
        copy_flows_dir(tmp_path),
        tmp_path / "data",
        SURVEYBOT_SECRET=SecretStr(SECRET),
        SURVEYBOT_REDIS_PREFIX=prefix,
        **extra,
    )


@dataclass
class World:
    """The app as deployed, on one Redis, with a clock the test moves."""

    settings: Settings
    services: Services
    app: Starlette
    telegram: FakeTelegram
    clock: Clock
    prefix: str
    channel: tg.TelegramChannel | None = None

    @property
    def redis(self) -> AnyRedis:
        return self.services.redis

    async def snapshot(self) -> dict[str, tuple[str, Any]]:
        return await snapshot(self.redis, self.prefix)

    async def sms(self, text: str, *, sid: str, sender: str, path: str = WEBHOOK) -> Answer:
        form = sms_form(text, sid=sid, sender=sender)
        return await self.post_form(path, form)

    async def say_sms(self, sender: str, texts: Iterable[str], *, sid: str, **gap: float) -> None:
        """``sender`` texts each of ``texts`` in turn, each ``gap`` (``Clock.advance`` keywords;
        a minute if none) after the last, with message sids ``{sid}0``, ``{sid}1``...; every one
        must be answered 200."""
        for i, text in enumerate(texts):
            self.clock.advance(**(gap or {"minutes": 1}))
            answer = await self.sms(text, sid=f"{sid}{i}", sender=sender)
            assert answer.status == 200, answer

    async def post_form(self, path: str, form: Pairs, *, query: str = "") -> Answer:
        url = PUBLIC_URL + path + (f"?{query}" if query else "")
        return await call(
            self.app,
            "POST",
            path,
            headers=twilio_headers(twilio_signature(url, form)),
            body=urlencode(list(form)).encode(),
            query=query.encode(),
        )

    async def telegram_update(self, update: dict[str, Any]) -> Answer:
        return await call(
            self.app, "POST", tg.PATH, headers=telegram_headers(), body=json.dumps(update).encode()
        )

    def web_cookie(self, address: str) -> str:
        """The cookie the server issues a visitor whose address (session id) is ``address``,
        once they have a session (``__Host-`` name: the public URL is https)."""
        value = session_ids.encode(self.settings.secret_bytes, session_ids.WebId(address, "s"))
        return f"{SECURE_COOKIE_NAME}={value}"

    async def web(
        self, flow: str, body: dict[str, Any], *, cookie: str, raw: bool = False
    ) -> Answer:
        """A web chat message (JSON) to ``flow`` from the browser whose session id is
        ``cookie`` (signed as the server does), or whose Cookie header is ``cookie`` (``raw``)."""
        header = cookie if raw else self.web_cookie(cookie)
        return await call(
            self.app,
            "POST",
            f"/chat/{flow}/messages",
            headers=[(b"content-type", b"application/json"), (b"cookie", header.encode())],
            body=json.dumps(body).encode(),
        )

    async def close(self) -> None:
        if self.channel is not None:
            await self.channel.stop()


async def make_world(
    tmp_path: Path,
    *,
    redis: AnyRedis | None = None,
    prefix: str = "sb",
    clock: Clock | None = None,
    **settings_extra: Any,
) -> World:
    """The real app (``create_app``) with the real dispatcher and store; fakeredis unless
    ``redis`` is given (then keys live under ``prefix``)."""
    settings = make_settings(tmp_path, prefix=prefix, **settings_extra)
    clock = clock or Clock(START)
    client = redis if redis is not None else fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    services = build_services(settings, redis=client, clock=clock)
    fake = FakeTelegram()
    made: list[tg.TelegramChannel] = []

    class Channel(tg.TelegramChannel):
        """The production channel, with PTB's HTTP client replaced by the fake Bot API."""

        def __init__(self, svc: Services, **_: Any) -> None:
            super().__init__(
                svc,
                request=fake,
                rate_limiter=AIORateLimiter(overall_max_rate=100_000, group_max_rate=100_000),
            )
            made.append(self)

    with mock.patch.object(tg, "TelegramChannel", Channel):
        app = create_app(settings, services=services, refresh_flows=False)
    return World(settings, services, app, fake, clock, prefix, made[0] if made else None)


# -- Redis ----------------------------------------------------------------------------------------


class Touches:
    """Counts every Redis round trip of a client (single commands, pipelines and scripts all
    take a connection from the pool). A request the app refuses must cost zero: stronger than
    "nothing stored", and cheap enough to check on every fuzz case."""

    def __init__(self, redis: Redis) -> None:
        self.count = 0
        pool = redis.connection_pool
        original: Any = pool.get_connection

        async def counting(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await original(*args, **kwargs)

        pool.get_connection = counting  # type: ignore[method-assign]


async def snapshot(redis: AnyRedis, prefix: str) -> dict[str, tuple[str, Any]]:
    """Every key of this world's prefix with its type and content."""
    return await twilio_fakes.snapshot(redis, match=f"{prefix}:*")
