"""Fixtures for the web chat: a small app with only the web routes, and a client with cookies."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

import httpx
import pytest
from starlette.applications import Starlette

from adapters import web
from adapters.services import Services
from adapters.web import session_ids


def app_for(services: Services) -> Starlette:
    return Starlette(routes=web.routes(services))


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    # https, like the test PUBLIC_URL: the cookie is Secure, so a client on http would drop it.
    transport = httpx.ASGITransport(app=app_for(services))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Page:
    """What the page keeps between messages (as chat.js does): its source and language, sent
    with every message, and the question last asked, sent with a typed answer."""

    extra: dict[str, str] = field(default_factory=dict)
    asked: str | None = None


_PAGES: WeakKeyDictionary[httpx.AsyncClient, Page] = WeakKeyDictionary()


def page_of(client: httpx.AsyncClient) -> Page:
    return _PAGES.setdefault(client, Page())


async def post(client: httpx.AsyncClient, flow: str, body: Any) -> httpx.Response:
    r = await client.post(f"/chat/{flow}/messages", json=body)
    if r.status_code == 200:
        asked = asks(r.json())
        if asked is not None:
            page_of(client).asked = asked
    return r


async def start(client: httpx.AsyncClient, flow: str = "carers-strategy", **extra: Any) -> Any:
    page_of(client).extra = {k: v for k, v in extra.items() if k in ("source", "lang") and v}
    r = await post(client, flow, {"start": True, "id": new_id(), **extra})
    assert r.status_code == 200, r.text
    return r.json()


async def say(client: httpx.AsyncClient, text: str, flow: str = "carers-strategy") -> Any:
    page = page_of(client)
    body = {"text": text, "id": new_id(), **page.extra}
    if page.asked:
        body["question"] = page.asked
    r = await post(client, flow, body)
    assert r.status_code == 200, r.text
    return r.json()


async def press(
    client: httpx.AsyncClient, question: str, value: str | list[str], flow: str = "carers-strategy"
) -> Any:
    body = {"button": {"question": question, "value": value}, "id": new_id()}
    r = await post(client, flow, {**body, **page_of(client).extra})
    assert r.status_code == 200, r.text
    return r.json()


def asks(body: Any) -> str | None:
    """The question the last reply asks (None if it asks nothing)."""
    replies = body["replies"]
    return replies[-1]["question"] if replies else None


def web_cookie(client: httpx.AsyncClient) -> str:
    """The visitor's cookie value (``<id>.<state>.<signature>``)."""
    value = client.cookies.get(web.SECURE_COOKIE_NAME) or client.cookies.get(web.COOKIE_NAME)
    assert value
    return value


def address_of(services: Services, client: httpx.AsyncClient) -> str:
    """The visitor's address (the id in their signed cookie), as the store knows them."""
    found = session_ids.read(services.settings.secret_bytes, web_cookie(client))
    assert found is not None
    return found.id
