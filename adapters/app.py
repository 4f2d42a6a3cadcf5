"""The one ASGI application that mounts every channel. Stateless: run as many as you like.

Routes:
  GET  /healthz              Redis reachability, each channel's state (which are degraded, and
                             why) and flow-file problems (503 only when Redis is down)
  GET  /                     the open surveys, with their web chat links
  POST /sms/twilio           Twilio inbound SMS webhook (+ /sms/twilio/status delivery callbacks)
  POST /whatsapp/twilio      Twilio inbound WhatsApp webhook (+ /whatsapp/twilio/status)
  POST /voice/twilio         Twilio voice calls: call start and each answer (+ /voice/twilio/status)
  POST /telegram/webhook     Telegram updates (only when TELEGRAM_TOKEN is set)
  GET  /chat/<flow>          the web chat page (+ its JSON endpoint and static files)
  GET  /console              the officers' console (adapters/officers; SURVEYBOT_CONSOLE=false
                             leaves it out)
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import html
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters import officers, sms_twilio, voice_twilio, web, whatsapp_twilio
from adapters.health import keep_starting
from adapters.services import Services, build_services
from adapters.web.limits import RequestGate, per_minute
from bot.config import Settings
from bot.errors import ConflictError, StoreError
from bot.text import tr

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
"""Default largest request body (``SURVEYBOT_MAX_BODY_BYTES``). A Twilio SMS form or a Telegram
update is a few kilobytes."""
CONSOLE_MAX_BODY_BYTES = 5 * 1024 * 1024
"""The console's editor posts a whole flow file (up to 512 kB, and a browser's form sends
non-Latin text as %XX): its handlers read a body only for a signed-in officer."""
FLOW_REFRESH_SECONDS = 5.0
GC_THRESHOLD = (50_000, 10, 10)
"""The garbage collector's thresholds while serving. At CPython's default (700 young objects)
the objects of the requests in flight (32 at a time in the load benchmark) keep crossing the
threshold, so young collections run almost per request, promote in-flight objects, and trigger
full collections that walk the session cache (~60 ms each with 10,000 sessions): 5.9 s of GC in
a 36 s run, about 29 us per request. At 50,000 almost no collection runs (requests free their
objects by reference counting; the app makes next to no cyclic garbage)."""


class BodyLimit:
    """Reject over-large bodies with 413 before any parsing (pure ASGI, so it also covers streams).
    ``wider``: path prefixes with a limit of their own (the console's flow editor)."""

    def __init__(
        self, app: ASGIApp, limit: int = MAX_BODY_BYTES, wider: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.limit = limit
        self.wider = wider or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit
        for prefix, wider in self.wider.items():
            if str(scope.get("path", "")).startswith(prefix):
                limit = max(limit, wider)
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await PlainTextResponse("request body too large", 413)(scope, receive, send)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await PlainTextResponse("request body too large", 413)(scope, receive, send)


class _TooLarge(Exception):
    pass


async def _store_error(request: Request, exc: Exception) -> Response:
    # Redis unreachable or a respondent's messages racing beyond our retries: nothing was
    # written, so ask the provider to retry later.
    log.warning("store unavailable for %s: %s", request.url.path, exc)
    return PlainTextResponse(
        "temporarily unavailable, please retry", 503, headers={"Retry-After": "5"}
    )


def create_app(
    settings: Settings | None = None,
    *,
    services: Services | None = None,
    refresh_flows: bool = True,
) -> Starlette:
    """Build the app. Tests pass ready-made ``services`` (fakeredis, fake clock)."""
    settings = settings or (services.settings if services else Settings())
    svc = services or build_services(settings)
    telegram: Any = None
    routes: list[BaseRoute] = [
        Route("/healthz", _healthz(svc), methods=["GET"]),
        Route("/", _index(svc), methods=["GET"]),
    ]
    routes += sms_twilio.routes(svc)
    health = svc.health
    if settings.twilio_auth_token is not None:
        health.ok("sms")
    else:
        health.set("sms", "off", "TWILIO_AUTH_TOKEN is not set: every SMS webhook is refused")
    routes += whatsapp_twilio.routes(svc)
    if settings.twilio_auth_token is None:
        health.set(
            "whatsapp", "off", "TWILIO_AUTH_TOKEN is not set: every WhatsApp webhook is refused"
        )
    elif not settings.whatsapp_enabled:
        health.set(
            "whatsapp",
            "ok",
            "no WhatsApp sender set: replies as TwiML text, no buttons or reminders",
        )
    else:
        health.ok("whatsapp")
    routes += voice_twilio.routes(svc)
    health.set("voice", *voice_twilio.health(svc))
    if settings.telegram_token is not None:
        from adapters import telegram as tg  # imported only when configured: PTB is heavy

        telegram = tg.TelegramChannel(svc)
        routes += tg.routes(svc, telegram)
    routes += web.routes(svc)
    health.ok("web")
    # The console's published versions reach every process, whether it serves the console or not.
    published = officers.PublishedSync(svc)
    if settings.console:
        routes += officers.routes(svc)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks: list[asyncio.Task[None]] = []
        recorded: set[tuple[str, str]] = set()
        if refresh_flows:
            tasks.append(asyncio.create_task(_refresh_loop(svc, recorded)))
        with contextlib.suppress(StoreError):  # Redis may come up later; scripts load lazily
            await svc.store.prepare()
            await published.poll()  # serve what the console published from the first request
        tasks.append(asyncio.create_task(published.run()))
        await record_published(svc, recorded)
        # Flows, compiled conditions and caches live as long as the process: move them out of
        # the garbage collector's sight so its pauses stay short under load (better p99).
        gc.collect()
        gc.freeze()
        thresholds = gc.get_threshold()
        gc.set_threshold(*GC_THRESHOLD)
        if telegram is not None:
            # In the background: Telegram unreachable must not stop SMS and the web chat.
            tasks.append(asyncio.create_task(keep_starting(health, "telegram", telegram.start)))
        stop = asyncio.Event()
        if settings.run_worker:
            from adapters.senders import build_senders
            from adapters.worker import ReminderWorker

            worker = ReminderWorker(svc, build_senders(svc))
            tasks.append(asyncio.create_task(worker.run(stop)))
        try:
            yield
        finally:
            gc.set_threshold(*thresholds)
            stop.set()
            for task in tasks:
                task.cancel()
            if telegram is not None:
                with contextlib.suppress(Exception):  # never started, or Telegram unreachable
                    await telegram.stop()

    exception_handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        StoreError: _store_error,
        ConflictError: _store_error,
    }
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=exception_handlers)
    app.state.services = svc
    app.add_middleware(
        BodyLimit, limit=settings.max_body_bytes, wider={"/console/": CONSOLE_MAX_BODY_BYTES}
    )
    if settings.access_log:
        from adapters.logs import AccessLog

        app.add_middleware(AccessLog)
    requests = per_minute(settings.web_requests_per_minute)
    if requests is not None:  # outermost: a flooding web client is refused before anything
        app.add_middleware(RequestGate, buckets=requests)
    return app


async def _refresh_loop(svc: Services, published: set[tuple[str, str]]) -> None:
    """Pick up edited flow files; a broken edit keeps the last good version (FlowRegistry)."""
    while True:
        await asyncio.sleep(FLOW_REFRESH_SECONDS)
        try:
            await asyncio.to_thread(svc.registry.refresh)
        except Exception:  # never let a bad file stop the loop
            log.exception("reloading flows failed")
        await record_published(svc, published)


async def record_published(svc: Services, published: set[tuple[str, str]]) -> None:
    """Each flow version this process serves goes into the flow's audit log once (whichever
    process reports it first; the others' reports are no-ops). Redis down: tried again at the
    next reload."""
    for fid, flow in list(svc.registry.flows.items()):
        if (fid, flow.version) in published or fid in svc.registry.published:
            continue  # (the console records what it publishes, with the officer's name)
        try:
            await svc.store.audit.published(
                fid, flow.version, actor="flows folder", at=svc.clock(),
                file=svc.registry.file_of(fid) or "",
            )  # fmt: skip
        except StoreError as exc:
            log.warning("publication of %s not recorded yet: %s", fid, exc)
            return
        published.add((fid, flow.version))


def _healthz(svc: Services) -> Callable[[Request], Awaitable[Response]]:
    async def healthz(request: Request) -> Response:
        try:
            redis_ok = await asyncio.wait_for(svc.store.ping(), timeout=2)
        except (TimeoutError, StoreError, OSError):
            redis_ok = False
        errors = {f: [p.format() for p in ps] for f, ps in svc.registry.errors.items()}
        degraded = svc.health.degraded()
        body = {
            "status": "unavailable" if not redis_ok else "degraded" if degraded else "ok",
            "redis": redis_ok,
            "channels": svc.health.snapshot(),
            "degraded": degraded,
            "flows": {fid: f.version for fid, f in svc.registry.flows.items()},
            "flow_errors": errors,
        }
        # A degraded channel (Telegram unreachable) is 200: this process still serves the
        # others, and a load balancer must not take it out for that. Redis down is 503.
        return JSONResponse(body, status_code=200 if redis_ok else 503)

    return healthz


def _index(svc: Services) -> Callable[[Request], Awaitable[Response]]:
    async def index(request: Request) -> Response:
        now = svc.clock()
        items = "".join(
            f'<li><a href="/chat/{html.escape(f.id)}">{html.escape(tr(f.title, "en"))}</a>'
            + (f" (text {html.escape(f.keywords[0])})" if f.keywords else "")
            + "</li>"
            for f in svc.registry.open_flows(now)
        )
        page = (
            "<!doctype html><html lang=en><meta charset=utf-8>"
            '<meta name=viewport content="width=device-width, initial-scale=1">'
            "<title>Surveys</title><h1>Open surveys</h1>"
            f"<ul>{items or '<li>No surveys are open at the moment.</li>'}</ul></html>"
        )
        return HTMLResponse(page)

    return index
