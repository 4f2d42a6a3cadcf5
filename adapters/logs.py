"""Logging for the web processes: one format for our lines and uvicorn's, phone numbers masked,
and an optional access log that costs nothing when off (the default).

uvicorn's own access log writes a coloured line per request (client address, full path with the
query string) at ~47 us of CPU a request, a fifth of a webhook's cost; a consultation does not
need it (Twilio's and Telegram's consoles keep their own delivery logs, and errors are logged
anyway). ``SURVEYBOT_ACCESS_LOG=true`` turns on ours instead: one line per request (method, path
with digits masked, status, milliseconds), as text or JSON (``SURVEYBOT_LOG_FORMAT``), from a
plain ASGI middleware (~5 us a request).

:func:`log_config` is a :func:`logging.config.dictConfig` dictionary that ``surveybot serve``
hands to uvicorn, so every worker process (``--workers N``) logs the same way.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ACCESS = "surveybot.access"
_DIGITS = re.compile(r"\+?\d(?:[ ()]{0,2}\d){8,}")
"""Nine digits or more, maybe spaced or bracketed: phone numbers and chat ids, not dates."""


def mask(text: str) -> str:
    """Phone numbers and other long digit runs (chat ids) in ``text``, all but the last two
    digits starred: ``+447700900123`` -> ``+**********23``; dates and times are left alone."""
    if not any(c.isdigit() for c in text):
        return text
    return _DIGITS.sub(_star, text)


def _star(m: re.Match[str]) -> str:
    s = m.group(0)
    return "".join("*" if c.isdigit() else c for c in s[:-2]) + s[-2:]


class MaskFilter(logging.Filter):
    """Masks phone numbers in every record's message (a safety net: our code logs pseudonymous
    ids, but a library's error may quote a number)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC ISO), level, logger, message, and the access log's
    fields (``method``, ``path``, ``status``, ``ms``) when present."""

    FIELDS = ("method", "path", "status", "ms")

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in self.FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_config(level: str = "INFO", fmt: str = "text") -> dict[str, Any]:
    """Root, uvicorn and access loggers to stderr in ``fmt`` ("text" or "json"), masked."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if fmt == "json" else {"format": TEXT_FORMAT}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "default",
        "filters": ["mask"],
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"mask": {"()": f"{__name__}.MaskFilter"}},
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            # uvicorn's loggers propagate to ours (no handlers of their own); its access log is
            # never used (see the module doc).
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
    }


class AccessLog:
    """One log line per HTTP request on the ``surveybot.access`` logger (pure ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = logging.getLogger(ACCESS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # unless a response starts

        async def sent(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            path = mask(scope.get("path", ""))
            elapsed = round((time.perf_counter() - start) * 1000, 1)
            method = scope.get("method", "")
            self.log.info(
                "%s %s %d %.1fms", method, path, status, elapsed,
                extra={"method": method, "path": path, "status": status, "ms": elapsed},
            )  # fmt: skip
