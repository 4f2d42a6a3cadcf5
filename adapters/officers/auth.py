"""Signing in and out, the session cookie, CSRF tokens and the role each page needs.

* The session is a random token (256 bits) made by the server at each sign-in, never one the
  browser offers: a cookie planted before sign-in (session fixation) is ignored and any session
  the browser had is ended. Redis keeps only its SHA-256 (:mod:`store.officers`).
* The cookie is HttpOnly, SameSite=Strict, and behind https ``__Host-sb_console`` (Secure,
  Path=/, no Domain: a sibling subdomain cannot set it); on a plain-http trial ``sb_console``
  with Path=/console.
* Every form carries the session's CSRF token (the sign-in form a token bound to a short-lived
  cookie of its own); the console's JSON requests send it in ``X-CSRF-Token``. A request the
  browser marks as cross-site (``Sec-Fetch-Site``) is refused before anything else.
* A page asked for without a session redirects to the sign-in page; anything else gets 401.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from adapters.officers import pages
from adapters.officers.accounts import Accounts
from adapters.officers.live import LiveStats
from adapters.services import Services
from adapters.web.chat import client_of
from store.officers import ConsoleSession, Officer, OfficerStore
from store.published import PublishedFlows

log = logging.getLogger(__name__)

PREFIX = "/console"
COOKIE = "sb_console"
SECURE_COOKIE = "__Host-sb_console"
LOGIN_COOKIE = "sb_console_login"
SECURE_LOGIN_COOKIE = "__Host-sb_console_login"
MAX_FORM = 5 * 1024 * 1024
"""Largest form read (a flow file may be 512 kB, and a browser sends non-Latin text as %XX)."""
SAFE_METHODS = ("GET", "HEAD")
_NEXT = re.compile(r"/console(/[A-Za-z0-9._~/?=&%-]*)?\Z")


@dataclass
class Console:
    """The console's parts, made once per app."""

    services: Services
    officers: OfficerStore
    accounts: Accounts
    published: PublishedFlows
    live: LiveStats
    checking: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
    """Draft checks running at once in this process (each is CPU in a thread)."""

    @property
    def secure(self) -> bool:
        return self.services.settings.public_url.lower().startswith("https://")

    @property
    def cookie(self) -> str:
        return SECURE_COOKIE if self.secure else COOKIE

    @property
    def login_cookie(self) -> str:
        return SECURE_LOGIN_COOKIE if self.secure else LOGIN_COOKIE

    def set_cookie(self, response: Response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/" if self.secure else PREFIX,
            secure=self.secure,
            httponly=True,
            samesite="strict",
        )

    def clear_cookie(self, response: Response, name: str) -> None:
        response.delete_cookie(
            name,
            path="/" if self.secure else PREFIX,
            secure=self.secure,
            httponly=True,
            samesite="strict",
        )

    def login_token(self, nonce: str) -> str:
        key = self.services.settings.secret_bytes
        return hmac.new(key, b"console-login:" + nonce.encode(), hashlib.sha256).hexdigest()

    async def current(self, request: Request) -> Signed | None:
        token = request.cookies.get(self.cookie, "")
        if not token:
            return None
        session = await self.officers.session(token, self.services.clock())
        if session is None:
            return None
        officer = await self.officers.get(session.officer)
        if officer is None:  # removed since signing in
            await self.officers.end_session(session.key, session.officer)
            return None
        return Signed(officer, session)


@dataclass(frozen=True)
class Signed:
    officer: Officer
    session: ConsoleSession

    @property
    def csrf(self) -> str:
        return self.session.csrf


Handler = Callable[[Request, Signed], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a console path, never another site."""
    if value and _NEXT.match(value) and "//" not in value:
        return value
    return PREFIX


def cross_site(request: Request) -> bool:
    return request.headers.get("sec-fetch-site", "") == "cross-site"


async def read_form(request: Request) -> dict[str, str]:
    """A URL-encoded form (the console's forms are no more), bounded; the last value of a name."""
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        return {}
    chunks: list[bytes] = []
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > MAX_FORM:
            raise ValueError("form too large")
        chunks.append(chunk)
    body = b"".join(chunks).decode("utf-8", errors="replace")
    return dict(parse_qsl(body, keep_blank_values=True, max_num_fields=50))


def denied(request: Request, status: int, message: str) -> Response:
    if "text/html" in request.headers.get("accept", "") and request.method in SAFE_METHODS:
        return pages.page(
            "error.html", {"title": "Not allowed", "message": message, "signed": None}, status
        )
    if request.headers.get("content-type", "").startswith("application/json") or (
        "application/json" in request.headers.get("accept", "")
    ):
        return JSONResponse({"error": message}, status, headers=pages.headers())
    return PlainTextResponse(message, status, headers=pages.headers())


CSRF_REFUSED = (
    "This request did not carry the console's security token (it may come from another site, "
    "or the page is old): go back, reload the page and try again."
)


def guarded(
    console: Console, role: str, handler: Handler, *, token_in_query: bool = False
) -> Endpoint:
    """``handler`` for a signed-in officer with ``role`` or above; a change (anything but GET)
    also needs the CSRF token: form field ``csrf``, header ``X-CSRF-Token`` or, for the preview
    chat's own script, the query (``token_in_query``)."""

    async def endpoint(request: Request) -> Response:
        if cross_site(request):
            return denied(request, 403, CSRF_REFUSED)
        signed = await console.current(request)
        if signed is None:
            if request.method in SAFE_METHODS and "text/html" in request.headers.get("accept", ""):
                target = f"{PREFIX}/login?next={quote(request.url.path, safe='/')}"
                return RedirectResponse(target, 303, headers=pages.headers())
            return denied(request, 401, "Please sign in to the console.")
        if not signed.officer.may(role):
            return denied(
                request, 403, f"This needs the {role} role; you are a {signed.officer.role}."
            )
        if request.method not in SAFE_METHODS:
            given = request.headers.get("x-csrf-token", "")
            if not given and token_in_query:
                given = request.query_params.get("csrf", "")
            if not given:
                try:
                    form = await read_form(request)
                except ValueError:
                    return denied(request, 413, "The form is too large.")
                request.state.form = form
                given = form.get("csrf", "")
            if not given or not hmac.compare_digest(given.encode(), signed.csrf.encode()):
                log.warning(
                    "console: %s %s refused (CSRF token missing or wrong)",
                    request.method,
                    request.url.path,
                )
                return denied(request, 403, CSRF_REFUSED)
        return await handler(request, signed)

    return endpoint


async def form_of(request: Request) -> dict[str, str]:
    form = getattr(request.state, "form", None)
    if form is None:
        form = await read_form(request)
    return dict(form)


# -- sign in and out ---------------------------------------------------------------------------


def login_page(console: Console) -> Endpoint:
    async def login(request: Request) -> Response:
        if request.method == "POST":
            return await _sign_in(console, request)
        if await console.current(request) is not None:
            return RedirectResponse(
                safe_next(request.query_params.get("next")), 303, headers=pages.headers()
            )
        return await _form(console, request, None, 200)

    return login


async def _form(
    console: Console, request: Request, error: str | None, status: int, name: str = ""
) -> Response:
    nonce = secrets.token_urlsafe(24)
    context: dict[str, Any] = {
        "title": "Sign in",
        "signed": None,
        "error": error,
        "name": name,
        "csrf": console.login_token(nonce),
        "next": safe_next(request.query_params.get("next")),
        "notice": "You are signed out." if request.query_params.get("out") == "1" else None,
        "no_officers": not await console.officers.all(),
    }
    response = pages.page("login.html", context, status)
    console.set_cookie(response, console.login_cookie, nonce, 3600)
    return response


async def _sign_in(console: Console, request: Request) -> Response:
    if cross_site(request):
        return denied(request, 403, CSRF_REFUSED)
    try:
        form = await read_form(request)
    except ValueError:
        return denied(request, 413, "The form is too large.")
    nonce = request.cookies.get(console.login_cookie, "")
    given = form.get("csrf", "")
    if not nonce or not hmac.compare_digest(given.encode(), console.login_token(nonce).encode()):
        return await _form(console, request, "The sign-in form had expired: please try again.", 403)
    name, password = form.get("name", ""), form.get("password", "")
    if not name or not password:
        return await _form(console, request, "Enter your name and password.", 400, name[:64])
    address = client_of(request)
    result = await console.accounts.sign_in(name, password, address)
    if result.lockout is not None:
        minutes = max(1, round(result.lockout.seconds / 60))
        log.warning("console: sign-in refused, too many failures (%s)", result.lockout.scope)
        why = "for this account" if result.lockout.scope == "account" else "from this address"
        return await _form(
            console, request,
            f"Too many failed sign-ins {why}. Try again in {minutes} minute{'s' if minutes != 1 else ''}, "
            "or ask an admin to unlock the account.",
            429, name[:64],
        )  # fmt: skip
    if result.officer is None:
        log.warning("console: failed sign-in from %s", address)
        return await _form(console, request, "The name or password is wrong.", 401, name[:64])
    # A fresh token at every sign-in; whatever session the browser had ends (fixation).
    old = request.cookies.get(console.cookie, "")
    if old:
        previous = await console.officers.session(old, console.services.clock())
        if previous is not None:
            await console.officers.end_session(previous.key, previous.officer)
    token = secrets.token_urlsafe(32)
    await console.officers.create_session(
        token, result.officer.name, secrets.token_urlsafe(32), console.services.clock()
    )
    log.info("console: %s signed in", result.officer.name)
    response = RedirectResponse(safe_next(form.get("next")), 303, headers=pages.headers())
    console.set_cookie(
        response, console.cookie, token, int(console.officers.lifetime.total_seconds())
    )
    console.clear_cookie(response, console.login_cookie)
    return response


def logout(console: Console) -> Handler:
    async def out(request: Request, signed: Signed) -> Response:
        await console.officers.end_session(signed.session.key, signed.officer.name)
        response = RedirectResponse(f"{PREFIX}/login?out=1", 303, headers=pages.headers())
        console.clear_cookie(response, console.cookie)
        return response

    return out
