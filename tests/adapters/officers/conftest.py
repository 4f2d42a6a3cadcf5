"""Console fixtures: the whole ASGI app on fakeredis (as served), officers with cheap argon2
parameters (the real defaults cost 0.15 s a hash), and a client that signs in like a browser."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import fakeredis
import httpx
import pytest
from argon2 import PasswordHasher
from starlette.applications import Starlette

from adapters.app import create_app
from adapters.officers import Console, make_console
from adapters.services import Services, build_services
from bot.config import Settings
from tests.adapters.conftest import PUBLIC_URL, Clock, adapter_settings

PASSWORD = "correct horse battery staple"
CHEAP = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, html[:2000]
    return found.group(1)


@dataclass
class Site:
    app: Starlette
    services: Services
    console: Console
    server: fakeredis.FakeServer

    def client(self, address: str = "203.0.113.7") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL, follow_redirects=False)

    async def officer(self, name: str, role: str) -> None:
        await self.console.accounts.add(name, role, PASSWORD, by="test", now=datetime.now(UTC))

    async def signed_in(
        self, name: str, role: str, address: str = "203.0.113.7"
    ) -> httpx.AsyncClient:
        await self.officer(name, role)
        client = self.client(address)
        await sign_in(client, name, PASSWORD)
        return client


async def sign_in(client: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    page = await client.get("/console/login")
    assert page.status_code == 200
    return await client.post(
        "/console/login",
        data={"csrf": csrf_of(page.text), "name": name, "password": password, "next": "/console"},
    )


def make_site(settings: Settings, clock: Clock, server: fakeredis.FakeServer | None = None) -> Site:
    server = server or fakeredis.FakeServer()
    svc = build_services(settings, redis=fakeredis.FakeAsyncRedis(server=server), clock=clock)
    svc.extras["password_hasher"] = CHEAP
    console = make_console(svc)
    app = create_app(settings, services=svc, refresh_flows=False)
    return Site(app, svc, console, server)


@pytest.fixture
def console_settings(flows_dir: Path, tmp_path: Path) -> Settings:
    return adapter_settings(flows_dir, tmp_path / "data")


@pytest.fixture
def site(console_settings: Settings, clock: Clock) -> Site:
    return make_site(console_settings, clock)


async def page_csrf(client: httpx.AsyncClient, path: str = "/console") -> str:
    r = await client.get(path)
    assert r.status_code == 200, (path, r.status_code, r.text[:500])
    return csrf_of(r.text)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
