"""The real app with one test-only switch, for killing a web process at a chosen moment.

A request carrying ``X-Test-Hold: before`` is held *before* the app sees it (nothing stored yet);
``X-Test-Hold: after`` runs the app (the step is committed) and holds the *response*. Either way
the process writes ``<SURVEYBOT_TEST_HOLD_DIR>/<MessageSid>.<before|after>`` once holding, so the
test knows when to SIGKILL it. Every other request passes straight through.

Run by uvicorn as ``tests.reliability.holdapp:create_app --factory``.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.app import create_app as create_real_app

HOLD_SECONDS = 60.0


class Hold:
    def __init__(self, app: ASGIApp, folder: Path) -> None:
        self.app = app
        self.folder = folder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        mode = dict(scope.get("headers", [])).get(b"x-test-hold", b"").decode()
        if scope["type"] != "http" or mode not in ("before", "after"):
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        sid = parse_qs(body.decode())["MessageSid"][0]
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        if mode == "before":
            (self.folder / f"{sid}.before").touch()
            await asyncio.sleep(HOLD_SECONDS)
            await self.app(scope, replay, send)
            return
        held: list[Message] = []

        async def keep(message: Message) -> None:
            held.append(message)

        await self.app(scope, replay, keep)
        (self.folder / f"{sid}.after").touch()
        await asyncio.sleep(HOLD_SECONDS)
        for message in held:
            await send(message)


def create_app() -> ASGIApp:
    return Hold(create_real_app(), Path(os.environ["SURVEYBOT_TEST_HOLD_DIR"]))
