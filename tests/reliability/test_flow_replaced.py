"""A live flow file overwritten with an invalid one: the last good version keeps serving, and both
``/healthz`` and the log say which file, which line and why. Then a valid edit is picked up and
the error clears.

The real app with its real refresh loop (lifespan), in process over httpx's ASGI transport, on
fakeredis; only the refresh interval is shortened (5 s in production).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import fakeredis
import httpx
import pytest
from pydantic import SecretStr

import adapters.app
from adapters.app import create_app
from adapters.services import Services, build_services
from bot.config import Settings
from tests.reliability.harness import (
    ACCOUNT_SID,
    EMPTY_TWIML,
    FLOW_FILE,
    FLOW_ID,
    PUBLIC_URL,
    SCRIPT,
    SECRET,
    TOKEN,
    WEBHOOK,
    Signer,
    copy_flows,
    message_sid,
    mismatch,
    reference,
    workspace,
)

REFRESH = 0.05


def _yaml_error(lines: list[str]) -> tuple[list[str], int, str]:
    """A ``key: value: more`` line: not YAML at all."""
    at = next(i for i, line in enumerate(lines) if line.startswith("closes:"))
    return [*lines[:at], "closes: 2099-12-31: soon\n", *lines[at + 1 :]], at + 1, "':' here"


def _schema_error(lines: list[str]) -> tuple[list[str], int, str]:
    """Good YAML, bad flow: a question type that does not exist."""
    at = next(i for i, line in enumerate(lines) if line.strip() == "type: choice")
    bad = lines[at].replace("type: choice", "type: chioce")
    return [*lines[:at], bad, *lines[at + 1 :]], at + 1, "unknown question type 'chioce'"


Breakage = Callable[[list[str]], tuple[list[str], int, str]]


@pytest.fixture
async def live(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    monkeypatch.setattr(adapters.app, "FLOW_REFRESH_SECONDS", REFRESH)
    with workspace() as work:
        settings = Settings(
            SURVEYBOT_FLOWS=copy_flows(work / "flows"), SURVEYBOT_DATA=work / "data",
            SURVEYBOT_SECRET=SecretStr(SECRET), SURVEYBOT_PUBLIC_URL=PUBLIC_URL,
            twilio_account_sid=ACCOUNT_SID, twilio_auth_token=SecretStr(TOKEN),
            _env_file=None,
        )  # fmt: skip
        redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
        svc = build_services(settings, redis=redis)
        app = create_app(settings, services=svc)
        transport = httpx.ASGITransport(app=app)
        try:
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
            ):
                yield client, svc
        finally:
            gc.unfreeze()  # the app's start-up froze everything the test process had
            await redis.aclose()


def _save(path: Path, text: str) -> None:
    """Replace the file in one step, as an editor saving through a temporary file does: the
    refresh loop (every REFRESH s) never reads it half-written (empty, or cut short)."""
    tmp = path.with_name(f".{path.name}.tmp")  # not a flow file name: the loader skips it
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


async def _until(
    client: httpx.AsyncClient, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """``/healthz`` once ``done`` holds for it, or at the (generous) deadline."""
    deadline = time.monotonic() + 60
    while True:
        health: dict[str, Any] = (await client.get("/healthz")).json()
        if done(health) or time.monotonic() > deadline:
            return health
        await asyncio.sleep(REFRESH)


@pytest.mark.parametrize("breakage", [_yaml_error, _schema_error], ids=["yaml", "schema"])
async def test_invalid_flow_file_keeps_the_last_good_version_serving(
    live: tuple[httpx.AsyncClient, Services], breakage: Breakage, caplog: pytest.LogCaptureFixture
) -> None:
    client, svc = live
    path = svc.settings.flows_dir / FLOW_FILE
    ref = await reference(svc.settings.flows_dir)
    signer = Signer()

    async def send(number: str, m: int) -> str:
        body, headers = signer.sign(number, SCRIPT[m], message_sid(number, m, "flow"))
        r = await client.post(WEBHOOK, content=body, headers=headers)
        assert r.status_code == 200, r.text
        assert r.text != EMPTY_TWIML, (m, r.text)
        assert "<Message>" in r.text, (m, r.text)
        return r.text

    health = (await client.get("/healthz")).json()
    good = health["flows"][FLOW_ID]
    assert health["flow_errors"] == {}, health
    early = "+447700900101"
    for m in range(4):
        await send(early, m)

    caplog.set_level(logging.ERROR, logger="bot.loader")
    good_text = path.read_text(encoding="utf-8")
    broken, line, why = breakage(good_text.splitlines(keepends=True))
    _save(path, "".join(broken))
    health = await _until(client, lambda h: bool(h["flow_errors"]))

    # /healthz names the file and the line, and says why.
    assert list(health["flow_errors"]) == [str(path)], health
    first = health["flow_errors"][str(path)][0]
    assert first.startswith(f"{path}:{line}:"), first
    assert why in first, first
    # The log says the same, and that the last good version is still served.
    records = [r.getMessage() for r in caplog.records if str(path) in r.getMessage()]
    assert records, caplog.text
    assert f"{path}:{line}:" in records[0], records
    assert why in records[0], records
    assert f"still serving the last good version of {FLOW_ID!r}" in records[0], records
    # ... and it is: the same version, for a respondent mid-way and for a new one.
    assert health["flows"] == {FLOW_ID: good}, health
    await asyncio.sleep(3 * REFRESH)  # more refreshes of the broken file change nothing
    for m in range(4, 8):
        await send(early, m)
    late = "+447700900102"
    for m in range(3):
        await send(late, m)
    for number, acked in ((early, 8), (late, 3)):
        assert await mismatch(svc.store, number, acked, ref) is None
        loaded = await svc.store.load(svc.store.respondent("sms", number))
        assert loaded.session is not None
        assert loaded.session.version == good

    # The officer fixes the file (with a change): the new version serves, the error clears.
    _save(path, good_text.replace("Text STOP to stop", "Text STOP to end"))
    health = await _until(client, lambda h: not h["flow_errors"])
    assert health["flow_errors"] == {}, health
    assert health["flows"][FLOW_ID] != good, health
    assert "Text STOP to end" in await send("+447700900103", 0)
