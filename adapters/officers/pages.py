"""The console's pages: one Jinja2 environment (autoescaping on for everything), its headers and
its static files. Nothing is fetched from anywhere else: the CSP allows this origin only."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, date, datetime
from functools import lru_cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; font-src 'none'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)
HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "SAMEORIGIN",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cache-Control": "no-store",
}
STATIC_TYPES = {
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
}


def when(value: datetime | None) -> str:
    """A time as officers read it: ``Tue 3 Mar 2026, 10:04 UTC``."""
    if value is None:
        return "-"
    t = value.astimezone(UTC) if value.tzinfo is not None else value
    return f"{t:%a} {t.day} {t:%b %Y, %H:%M} UTC"


def day(value: date | datetime | None) -> str:
    return f"{value:%a} {value.day} {value:%b %Y}" if value is not None else "-"


env = Environment(
    loader=PackageLoader("adapters.officers", "templates"),
    autoescape=True,  # every template, whatever its name: flow texts and answers are untrusted
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters["when"] = when
env.filters["day"] = day


@lru_cache(maxsize=8)
def static_file(name: str) -> bytes:
    return resources.files("adapters.officers").joinpath("static", name).read_bytes()


@lru_cache(maxsize=8)
def asset(name: str) -> str:
    """The static file's URL with a content hash, so it can be cached for good."""
    version = hashlib.sha256(static_file(name)).hexdigest()[:12]
    return f"/console/static/{name}?v={version}"


env.globals["asset"] = asset


def trusted(html: str) -> Markup:
    """HTML made by our own escaping code (the report's charts and tables)."""
    return Markup(html)  # (bot.results.report escapes every value it writes)


def page(
    name: str, context: dict[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> HTMLResponse:
    body = env.get_template(name).render(**context)
    return HTMLResponse(body, status, headers={**HEADERS, **(headers or {})})


def headers(**extra: str) -> dict[str, str]:
    return {**HEADERS, **extra}


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    media = STATIC_TYPES.get(name)
    if media is None:
        return Response("not found", 404, media_type="text/plain", headers=headers())
    cache = (
        "public, max-age=31536000, immutable"
        if asset(name).endswith(request.query_params.get("v", "-"))
        else "no-cache"
    )
    return Response(
        static_file(name), media_type=media, headers=headers(**{"Cache-Control": cache})
    )
