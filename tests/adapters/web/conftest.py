"""Fixtures for the web chat: a small app with only the web routes, and a client with cookies."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from adapters import web
from adapters.services import Services


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


async def post(client: httpx.AsyncClient, flow: str, body: Any) -> httpx.Response:
    return await client.post(f"/chat/{flow}/messages", json=body)


async def start(client: httpx.AsyncClient, flow: str = "carers-strategy", **extra: Any) -> Any:
    r = await post(client, flow, {"start": True, **extra})
    assert r.status_code == 200, r.text
    return r.json()


async def say(client: httpx.AsyncClient, text: str, flow: str = "carers-strategy") -> Any:
    r = await post(client, flow, {"text": text, "id": new_id()})
    assert r.status_code == 200, r.text
    return r.json()


async def press(
    client: httpx.AsyncClient, question: str, value: str | list[str], flow: str = "carers-strategy"
) -> Any:
    r = await post(client, flow, {"button": {"question": question, "value": value}, "id": new_id()})
    assert r.status_code == 200, r.text
    return r.json()


def asks(body: Any) -> str | None:
    """The question the last reply asks (None if it asks nothing)."""
    replies = body["replies"]
    return replies[-1]["question"] if replies else None
