"""The web chat channel: page, JSON endpoint and static files. Thin: parse, dispatch, render.

The JSON endpoint takes one of::

    {"start": true, "source": "harborough-carers", "lang": "gu"}    the page was opened
    {"text": "Short breaks help most", "id": "<client message id>"}  a typed answer
    {"button": {"question": "role", "value": "carer"}, "id": "..."}   a choice button
    {"button": {"question": "support_most", "value": ["breaks", "money"]}, "id": "..."}

and answers ``{"replies": [{"text", "kind", "question", "multi", "choices": [{"key", "value",
"label"}]}], "done": bool, "lang": "en"}``. The client message id (a UUID the page makes per
action, reused on a retry) becomes the dedupe id, so a double click or a retry never answers
twice. Errors are JSON too: 400 for bad input, 404 for an unknown flow, 503 when the store is
down (the page says "please try again in a minute" and retries with the same id).
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import secrets
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
from bot.errors import StoreError
from bot.models import Inbound, Reply
from bot.schema import Flow
from bot.text import tr

log = logging.getLogger(__name__)

CHANNEL = "web"
CAN_SEND_UNPROMPTED = False
"""A web page only answers requests: no reminders or other unprompted messages on this channel."""

COOKIE_NAME = "sb_web"
COOKIE_PATH = "/chat"
COOKIE_MAX_AGE = 60 * 24 * 3600
"""60 days: long enough to come back to a half-finished survey (flows expire sooner)."""
MAX_TEXT = 5_000
"""Longest typed message accepted (characters). Flows set their own, shorter, answer limits."""
MAX_BODY = 32 * 1024
"""Largest JSON body read (bytes); the app's own body limit applies on top."""

_COOKIE = re.compile(r"[A-Za-z0-9_-]{32}\Z")  # secrets.token_urlsafe(24)
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


def _cookie_of(request: Request) -> str | None:
    value = request.cookies.get(COOKIE_NAME)
    return value if value and _COOKIE.match(value) else None


def _set_cookie(response: Response, value: str, services: Services) -> None:
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=COOKIE_MAX_AGE,
        path=COOKIE_PATH,
        secure=services.settings.public_url.lower().startswith("https://"),
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
    if kind == "text":
        text = data["text"]
        if not isinstance(text, str):
            raise BadRequest("invalid", "'text' must be a string.")
        if len(text) > MAX_TEXT:
            raise BadRequest("too_long", f"Please keep your message under {MAX_TEXT} characters.")
        text = text.strip()
        if not text:
            raise BadRequest("empty", "Please type an answer first.")
        return Message("text", text=text, client_id=client_id)
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
    return Message("button", text=",".join(picks), question=question, client_id=client_id)


# -- talking to the dispatcher -----------------------------------------------------------------------


@dataclass
class Exchange:
    replies: list[Reply]
    done: bool
    duplicate: bool
    lang: str | None


def _start_inbound(flow: Flow, cookie: str, msg: Message) -> Inbound:
    """The page was opened (or reloaded): the dispatcher and engine start the flow or pick up
    where the respondent is (a finished survey answers "you have finished")."""
    lang = msg.lang if msg.lang in flow.languages else None
    source = flow.source(msg.source)
    return Inbound(
        channel=CHANNEL,
        address=cookie,
        kind="start",
        text=f"{flow.id}-{source.id}" if source else flow.id,
        source=source.id if source else None,
        lang=lang,
    )


async def converse(services: Services, flow: Flow, cookie: str, msg: Message) -> Exchange:
    """One request from the page through the dispatcher. Raises StoreError when Redis is down."""
    if msg.kind == "start":
        inbound = _start_inbound(flow, cookie, msg)
    else:
        inbound = Inbound(
            channel=CHANNEL,
            address=cookie,
            text=msg.text,
            kind=msg.kind,
            question=msg.question,
            message_id=f"web:{_cookie_tag(cookie)}:{msg.client_id}",
        )
    out = await services.dispatcher.handle(inbound)
    if msg.kind != "start" and not out.duplicate and out.session is None:
        # No live session (it expired, or was erased) while the page stayed open. This page
        # belongs to one flow, so carry on as opening it would: start that flow.
        inbound = _start_inbound(flow, cookie, Message("start"))
        out = await services.dispatcher.handle(inbound)
    session = out.session
    return Exchange(
        replies=out.replies,
        done=bool(session is not None and session.status.finished),
        duplicate=out.duplicate,
        lang=session.lang if session is not None else None,
    )


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


def _messages(services: Services) -> Endpoint:
    async def messages(request: Request) -> Response:
        flow = services.registry.get(request.path_params["flow_id"])
        if flow is None:
            return _error(404, "not_found", "We could not find that survey.")
        try:
            msg = parse_message(request.headers.get("content-type", ""), await _read_body(request))
        except BadRequest as exc:
            return _error(exc.status, exc.code, exc.message)
        cookie = _cookie_of(request)
        fresh = cookie is None
        if cookie is None:
            if msg.kind != "start":
                return _error(
                    400, "cookies", "Please allow cookies for this site: they keep your place."
                )
            cookie = secrets.token_urlsafe(24)
        try:
            ex = await converse(services, flow, cookie, msg)
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
        if fresh or msg.kind == "start":
            _set_cookie(response, cookie, services)  # a start also renews the 60 days
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


def _page(services: Services) -> Endpoint:
    async def page(request: Request) -> Response:
        flow = services.registry.get(request.path_params["flow_id"])
        if flow is None:
            page = _template("not_found.html").substitute(
                css=f"/chat/static/chat.css?v={_asset_version('chat.css')}"
            )
            return HTMLResponse(page, 404, headers=_headers(**{"Cache-Control": "no-store"}))
        asked = request.query_params.get("lang")
        lang = asked if asked in flow.languages else None
        shown = lang or ("en" if "en" in flow.languages else flow.languages[0])
        source = flow.source(request.query_params.get("source"))
        sms = ""
        number = services.settings.twilio_from_number
        if number and flow.keywords:
            sms = f"You can also text {flow.keywords[0]} to {number}."
        esc = html.escape
        page = _template("page.html").substitute(
            lang=esc(shown),
            title=esc(tr(flow.title, shown)),
            council=esc(flow.council),
            flow_id=esc(flow.id),
            endpoint=esc(f"/chat/{flow.id}/messages"),
            source=esc(source.id if source else ""),
            ask_lang=esc(lang or ""),
            contact=_contact_html(flow),
            sms=esc(sms),
            css=esc(f"/chat/static/chat.css?v={_asset_version('chat.css')}"),
            js=esc(f"/chat/static/chat.js?v={_asset_version('chat.js')}"),
        )
        response = HTMLResponse(page, headers=_headers(**{"Cache-Control": "no-store"}))
        if _cookie_of(request) is None:
            _set_cookie(response, secrets.token_urlsafe(24), services)
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
    return [
        Route("/chat/static/{name}", _static, methods=["GET"]),
        Route("/chat/{flow_id}", _page(services), methods=["GET"]),
        Route("/chat/{flow_id}/messages", _messages(services), methods=["POST"]),
    ]
