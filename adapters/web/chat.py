"""The web chat channel: page, JSON endpoint and static files. Thin: parse, dispatch, render.

The JSON endpoint takes one of::

    {"start": true, "source": "harborough-carers", "lang": "gu"}    the page was opened
    {"text": "Short breaks help most", "id": "<client message id>"}  a typed answer
    {"button": {"question": "role", "value": "carer"}, "id": "..."}   a choice button
    {"button": {"question": "support_most", "value": ["breaks", "money"]}, "id": "..."}

and answers ``{"replies": [{"text", "kind", "question", "multi", "choices": [{"key", "value",
"label"}]}], "done": bool, "lang": "en"}``. The client message id (a UUID the page makes per
action, reused on a retry) becomes the dedupe id, so a double click or a retry never answers
twice. A typed answer also says which question it answers (``"question"``) and every message
repeats the page's ``source`` and ``lang``. Errors are JSON too: 400 for bad input, 404 for an
unknown flow, 429 when a client sends too much or too many sessions begin at once, 503 when the
store is down (the page says "please try again in a minute" and retries with the same id).

Opening the page stores nothing: the first step (intro and first question) is computed and not
committed, and the visitor's first answer stores it together with that answer. So a script
opening the page again and again costs no Redis at all, and the report counts only people who
answered. Session ids are issued and signed by the server (:mod:`adapters.web.session_ids`);
request and session-creation limits are in :mod:`adapters.web.limits`.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from string import Template
from typing import Any, Literal

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from adapters.services import Services
from adapters.web import session_ids
from adapters.web.limits import ClientBuckets, per_hour
from adapters.web.session_ids import WebId
from bot.dispatch import Admit
from bot.errors import StoreError
from bot.models import Inbound, Reply
from bot.schema import Flow
from bot.text import tr
from store.budget import Budget

log = logging.getLogger(__name__)

CHANNEL = "web"
CAN_SEND_UNPROMPTED = False
"""A web page only answers requests: no reminders or other unprompted messages on this channel."""

COOKIE_NAME = "sb_web"
COOKIE_PATH = "/chat"
SECURE_COOKIE_NAME = "__Host-sb_web"
"""The cookie's name behind https: a ``__Host-`` cookie (Secure, Path=/, no Domain), which a
sibling subdomain cannot set or overwrite, so it cannot be planted from one."""
COOKIE_MAX_AGE = 60 * 24 * 3600
"""60 days: long enough to come back to a half-finished survey (flows expire sooner)."""
MAX_TEXT = 5_000
"""Longest typed message accepted (characters). Flows set their own, shorter, answer limits."""
MAX_BODY = 32 * 1024
"""Largest JSON body read (bytes); the app's own body limit applies on top."""

_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}\Z")
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")  # question ids, source ids, language codes
_MAX_VALUE = 200
_MAX_PICKS = 50

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'none'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
_STATIC_TYPES = {
    "chat.js": "text/javascript; charset=utf-8",
    "chat.css": "text/css; charset=utf-8",
}
TRY_AGAIN = "Sorry, please try again in a minute."
BUSY = "Lots of people are starting this survey right now. Please try again in a minute."

Endpoint = Callable[[Request], Awaitable[Response]]


# -- package files ---------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _package_file(*parts: str) -> bytes:
    """A file shipped inside this package (works from a source tree or an installed wheel)."""
    node = resources.files(__package__ or "adapters.web")
    for part in parts:
        node = node.joinpath(part)
    return node.read_bytes()


@lru_cache(maxsize=8)
def _asset_version(name: str) -> str:
    return hashlib.sha256(_package_file("static", name)).hexdigest()[:12]


def _template(name: str) -> Template:
    return Template(_package_file(name).decode("utf-8"))


# -- the respondent's cookie -------------------------------------------------------------------------


def _secure(services: Services) -> bool:
    return services.settings.public_url.lower().startswith("https://")


def cookie_name(services: Services) -> str:
    return SECURE_COOKIE_NAME if _secure(services) else COOKIE_NAME


def _cookie_of(request: Request, services: Services) -> WebId | None:
    """The visitor's id if their cookie is one this server signed, else None."""
    value = request.cookies.get(cookie_name(services))
    return session_ids.read(services.settings.secret_bytes, value)


def _set_cookie(response: Response, web_id: WebId, services: Services) -> None:
    secure = _secure(services)
    response.set_cookie(
        cookie_name(services),
        session_ids.encode(services.settings.secret_bytes, web_id),
        max_age=COOKIE_MAX_AGE,
        path="/" if secure else COOKIE_PATH,
        secure=secure,
        httponly=True,
        samesite="lax",
    )


def _cookie_tag(cookie: str) -> str:
    """A short one-way tag of the cookie, for dedupe ids (the raw cookie is never stored)."""
    return hashlib.sha256(cookie.encode()).hexdigest()[:16]


# -- parsing the page's messages ---------------------------------------------------------------------


class BadRequest(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Message:
    """One request from the page, validated."""

    kind: Literal["start", "text", "button"]
    text: str = ""
    question: str | None = None
    client_id: str | None = None
    source: str | None = None
    lang: str | None = None


def _name(value: object, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise BadRequest("invalid", f"'{what}' must be a short name of letters, digits, - or _")
    return value


def parse_message(content_type: str, body: bytes) -> Message:
    """Validate one request from the page. Raises :class:`BadRequest` with a plain message."""
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        raise BadRequest("content_type", "Send JSON with Content-Type: application/json.")
    try:
        data = orjson.loads(body)  # refuses nesting deeper than 1,024 with a ValueError
    except ValueError as exc:
        raise BadRequest("json", "The request is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise BadRequest("json", "The request must be a JSON object.")
    kinds = [k for k in ("start", "text", "button") if k in data]
    if len(kinds) != 1:
        raise BadRequest("invalid", "Send exactly one of 'start', 'text' or 'button'.")
    kind = kinds[0]
    client_id = data.get("id")
    if client_id is not None and (
        not isinstance(client_id, str) or not _CLIENT_ID.match(client_id)
    ):
        raise BadRequest("invalid", "'id' must be 8 to 64 letters, digits, - or _.")
    if kind == "start":
        if data["start"] is not True:
            raise BadRequest("invalid", "'start' must be true.")
        source = data.get("source") or None
        lang = data.get("lang") or None
        return Message(
            "start",
            client_id=client_id,
            source=_name(source, "source") if source is not None else None,
            lang=_name(lang, "lang") if lang is not None else None,
        )
    if client_id is None:
        raise BadRequest("invalid", "'id' (a message id made by the page) is required.")
    source = data.get("source") or None
    lang = data.get("lang") or None
    source = _name(source, "source") if source is not None else None
    lang = _name(lang, "lang") if lang is not None else None
    if kind == "text":
        text = data["text"]
        if not isinstance(text, str):
            raise BadRequest("invalid", "'text' must be a string.")
        if len(text) > MAX_TEXT:
            raise BadRequest("too_long", f"Please keep your message under {MAX_TEXT} characters.")
        text = text.strip()
        if not text:
            raise BadRequest("empty", "Please type an answer first.")
        asked = data.get("question") or None
        question = _name(asked, "question") if asked is not None else None
        return Message(
            "text", text=text, question=question, client_id=client_id, source=source, lang=lang
        )
    button = data["button"]
    if not isinstance(button, dict):
        raise BadRequest("invalid", "'button' must be an object with 'question' and 'value'.")
    question = _name(button.get("question"), "button.question")
    value = button.get("value")
    raw: list[object] = list(value) if isinstance(value, list) else [value]
    if not raw or len(raw) > _MAX_PICKS:
        raise BadRequest("invalid", "Please choose at least one answer.")
    picks: list[str] = []
    for pick in raw:
        if not isinstance(pick, str) or not pick or len(pick) > _MAX_VALUE or "," in pick:
            raise BadRequest("invalid", "'button.value' must be a choice value or a list of them.")
        picks.append(pick)
    return Message(
        "button",
        text=",".join(picks),
        question=question,
        client_id=client_id,
        source=source,
        lang=lang,
    )


# -- talking to the dispatcher -----------------------------------------------------------------------


@dataclass
class Exchange:
    replies: list[Reply]
    done: bool
    duplicate: bool
    lang: str | None


def _start_inbound(flow: Flow, address: str, msg: Message) -> Inbound:
    """The page was opened (or reloaded): the dispatcher and engine start the flow or pick up
    where the respondent is (a finished survey answers "you have finished")."""
    lang = msg.lang if msg.lang in flow.languages else None
    source = flow.source(msg.source)
    return Inbound(
        channel=CHANNEL,
        address=address,
        kind="start",
        text=f"{flow.id}-{source.id}" if source else flow.id,
        source=source.id if source else None,
        lang=lang,
        message_id=_message_id(address, msg.client_id) if msg.client_id else None,
    )


def _message_id(address: str, client_id: str) -> str:
    return f"web:{_cookie_tag(address)}:{client_id}"


class Refused(Exception):
    """No new session was begun: this client, or everyone together, began too many."""


async def converse(
    services: Services,
    flow: Flow,
    web_id: WebId | None,
    msg: Message,
    admit: Admit | None = None,
) -> tuple[Exchange, WebId]:
    """One request from the page through the dispatcher, and the id the visitor has after it.
    Raises StoreError when Redis is down, :class:`Refused` when ``admit`` said no.

    A page opened without a (valid) cookie gets a new id and its first step computed with no
    Redis at all; with one, the step is stored only if it continues a stored session. An
    answer is stored with the start replayed before it when there is no session yet, under
    the id bound to it (:func:`session_ids.bind`)."""
    secret = services.settings.secret_bytes
    dispatcher = services.dispatcher
    if msg.kind == "start":
        if web_id is None or not web_id.bound:
            # Nothing can be stored under this id (sessions live under bound ids): no Redis.
            web_id = web_id or session_ids.issue(secret)
            out = dispatcher.preview(_start_inbound(flow, web_id.id, msg))
        else:
            out = await dispatcher.handle(_start_inbound(flow, web_id.id, msg), create=False)
    else:
        assert web_id is not None
        assert msg.client_id is not None
        web_id = session_ids.bind(secret, web_id, msg.client_id)
        inbound = Inbound(
            channel=CHANNEL,
            address=web_id.id,
            text=msg.text,
            kind=msg.kind,
            question=msg.question,
            message_id=_message_id(web_id.id, msg.client_id),
        )
        opening = _start_inbound(
            flow, web_id.id, Message("start", source=msg.source, lang=msg.lang)
        )
        out = await dispatcher.handle(inbound, opening=opening, admit=admit)
        if out.refused:
            raise Refused
    session = out.session
    if out.preview and out.step is not None:
        session = out.step.session  # what the page shows, though nothing is stored yet
    lang = session.lang if session is not None else None
    exchange = Exchange(
        replies=out.replies,
        done=bool(session is not None and session.status.finished),
        duplicate=out.duplicate,
        lang=lang,
    )
    return exchange, web_id


def reply_json(reply: Reply) -> dict[str, Any]:
    return {
        "text": reply.text,
        "kind": reply.kind,
        "question": reply.question,
        "multi": reply.multi,
        "choices": [{"key": c.key, "value": c.value, "label": c.label} for c in reply.choices],
    }


# -- HTTP ------------------------------------------------------------------------------------------


def _headers(**extra: str) -> dict[str, str]:
    headers = dict(SECURITY_HEADERS)
    headers.update(extra)
    return headers


def _json(body: dict[str, Any], status: int = 200, **extra: str) -> JSONResponse:
    return JSONResponse(
        body, status_code=status, headers=_headers(**{"Cache-Control": "no-store", **extra})
    )


def _error(status: int, code: str, message: str, **extra: str) -> JSONResponse:
    return _json({"error": code, "message": message}, status, **extra)


async def _read_body(request: Request) -> bytes:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise BadRequest("too_large", "The request is too large.", 413)
    chunks: list[bytes] = []
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > MAX_BODY:
            raise BadRequest("too_large", "The request is too large.", 413)
        chunks.append(chunk)
    return b"".join(chunks)


def client_of(request: Request) -> str:
    """The client's address as the ASGI server reports it (behind a trusted proxy, from
    X-Forwarded-For: see :mod:`adapters.web.limits`)."""
    return request.client.host if request.client is not None else "unknown"


@dataclass
class Limits:
    new_per_client: ClientBuckets | None
    new_in_all: Budget

    @classmethod
    def of(cls, services: Services) -> Limits:
        s = services.settings
        budget = Budget(services.redis, services.store.keys, "web-new", s.web_new_per_minute)
        return cls(per_hour(s.web_new_per_client), budget)

    def admit(self, services: Services, client: str) -> Admit:
        async def admit() -> bool:
            if self.new_per_client is not None and not self.new_per_client.allow(client):
                log.warning("web chat: a client began too many sessions; refused")
                return False
            if not await self.new_in_all.spend(services.clock()):
                log.warning("web chat: the budget of new sessions a minute is spent; refused")
                return False
            return True

        return admit


def _messages(services: Services, limits: Limits) -> Endpoint:
    async def messages(request: Request) -> Response:
        flow = services.registry.get(request.path_params["flow_id"])
        if flow is None:
            return _error(404, "not_found", "We could not find that survey.")
        client = client_of(request)  # (its request rate is checked by limits.RequestGate)
        try:
            msg = parse_message(request.headers.get("content-type", ""), await _read_body(request))
        except BadRequest as exc:
            return _error(exc.status, exc.code, exc.message)
        had = _cookie_of(request, services)
        web_id = had
        if web_id is None and msg.kind != "start":
            if not request.cookies.get(cookie_name(services)):
                return _error(
                    400, "cookies", "Please allow cookies for this site: they keep your place."
                )
            msg = Message("start", source=msg.source, lang=msg.lang)  # an unknown id: start afresh
        try:
            ex, web_id = await converse(services, flow, web_id, msg, limits.admit(services, client))
        except Refused:
            return _error(429, "busy", BUSY, **{"Retry-After": "30"})
        except StoreError as exc:
            log.warning("web chat: store unavailable (%s): %s", flow.id, exc)
            return _error(503, "unavailable", TRY_AGAIN, **{"Retry-After": "5"})
        log.info(
            "web chat %s: %s -> %d replies%s",
            flow.id,
            msg.kind,
            len(ex.replies),
            " (duplicate)" if ex.duplicate else "",
        )
        body: dict[str, Any] = {
            "replies": [reply_json(r) for r in ex.replies],
            "done": ex.done,
            "lang": ex.lang,
        }
        if ex.duplicate:
            body["duplicate"] = True
        response = _json(body)
        if web_id != had or msg.kind == "start":
            _set_cookie(response, web_id, services)  # a start also renews the 60 days
        return response

    return messages


def _link(href: str, text: str) -> str:
    return f'<a href="{html.escape(href)}">{html.escape(text)}</a>'


def _contact_html(flow: Flow) -> str:
    c = flow.contact
    parts: list[str] = []
    if c.phone:
        parts.append(_link("tel:" + re.sub(r"[^0-9+]", "", c.phone), c.phone))
    if c.email:
        parts.append(_link("mailto:" + c.email, c.email))
    if c.web:
        parts.append(_link(c.web, c.web.split("://", 1)[-1].rstrip("/")))
    return " | ".join(parts)


def render_page(
    services: Services, flow: Flow, *, endpoint: str, lang: str | None, source: str | None
) -> str:
    """The chat page of ``flow`` talking to ``endpoint`` (the officers' console points its
    preview of a draft at its own endpoint)."""
    asked = lang if lang in flow.languages else None
    shown = asked or ("en" if "en" in flow.languages else flow.languages[0])
    group = flow.source(source)
    sms = ""
    number = services.settings.twilio_from_number
    if number and flow.keywords:
        sms = f"You can also text {flow.keywords[0]} to {number}."
    esc = html.escape
    return _template("page.html").substitute(
        lang=esc(shown),
        title=esc(tr(flow.title, shown)),
        council=esc(flow.council),
        flow_id=esc(flow.id),
        endpoint=esc(endpoint),
        source=esc(group.id if group else ""),
        ask_lang=esc(asked or ""),
        contact=_contact_html(flow),
        sms=esc(sms),
        css=esc(f"/chat/static/chat.css?v={_asset_version('chat.css')}"),
        js=esc(f"/chat/static/chat.js?v={_asset_version('chat.js')}"),
    )


def _page(services: Services) -> Endpoint:
    async def page(request: Request) -> Response:
        flow = services.registry.get(request.path_params["flow_id"])
        if flow is None:
            page = _template("not_found.html").substitute(
                css=f"/chat/static/chat.css?v={_asset_version('chat.css')}"
            )
            return HTMLResponse(page, 404, headers=_headers(**{"Cache-Control": "no-store"}))
        page = render_page(
            services,
            flow,
            endpoint=f"/chat/{flow.id}/messages",
            lang=request.query_params.get("lang"),
            source=request.query_params.get("source"),
        )
        response = HTMLResponse(page, headers=_headers(**{"Cache-Control": "no-store"}))
        if _cookie_of(request, services) is None:
            _set_cookie(response, session_ids.issue(services.settings.secret_bytes), services)
        return response

    return page


async def _static(request: Request) -> Response:
    name = request.path_params["name"]
    media = _STATIC_TYPES.get(name)
    if media is None:
        return Response("not found", 404, media_type="text/plain", headers=_headers())
    version = _asset_version(name)
    etag = f'"{version}"'
    cache = (
        "public, max-age=31536000, immutable"
        if request.query_params.get("v") == version
        else "no-cache"
    )
    headers = _headers(**{"Cache-Control": cache, "ETag": etag})
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(_package_file("static", name), media_type=media, headers=headers)


def routes(services: Services) -> list[BaseRoute]:
    """The page, its JSON endpoint and its static files, for the app to mount."""
    limits = Limits.of(services)
    return [
        Route("/chat/static/{name}", _static, methods=["GET"]),
        Route("/chat/{flow_id}", _page(services), methods=["GET"]),
        Route("/chat/{flow_id}/messages", _messages(services, limits), methods=["POST"]),
    ]
