"""Web chat session ids: issued by the server, signed, and bound to a browser at its first answer.

A web visitor is known by a cookie. Its value is ``<id>.<state>.<signature>``:

* ``id``: 32 random URL-safe characters (``secrets.token_urlsafe(24)``); the respondent id is the
  HMAC of this (``store.identity``), so the cookie itself is never stored;
* ``state``: ``n`` for an id issued to a page that has not answered yet (nothing is stored for
  it), ``s`` once the visitor has a stored session;
* ``signature``: HMAC-SHA256 of the two with ``SURVEYBOT_SECRET`` (128 bits, URL-safe base64).

A value the server did not sign (made up, altered, or an old unsigned cookie) is unknown: the
visitor gets a fresh id, never the session of that value (session fixation). And a fresh ``n``
id is never the one a session is stored under: at the first answer the server derives a new id
from it and the page's own message id (:func:`bind`), which whoever planted the ``n`` cookie in a
victim's browser cannot know; a retry of that answer derives the same id, so it is still
answered once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Literal

_ID = re.compile(r"[A-Za-z0-9_-]{32}\Z")
_SIG = re.compile(r"[A-Za-z0-9_-]{22}\Z")

State = Literal["n", "s"]


@dataclass(frozen=True)
class WebId:
    id: str
    state: State

    @property
    def bound(self) -> bool:
        """Whether a session may be stored under this id (it went through :func:`bind`)."""
        return self.state == "s"


def _mac(secret: bytes, *parts: str) -> bytes:
    return hmac.new(secret, "\x00".join(("web-session", *parts)).encode(), hashlib.sha256).digest()


def _b64(raw: bytes, n: int) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")[:n]


def encode(secret: bytes, web_id: WebId) -> str:
    sig = _b64(_mac(secret, web_id.id, web_id.state), 22)
    return f"{web_id.id}.{web_id.state}.{sig}"


def issue(secret: bytes) -> WebId:
    """A new, unbound id for a page that has no (valid) cookie."""
    return WebId(secrets.token_urlsafe(24), "n")


def read(secret: bytes, value: str | None) -> WebId | None:
    """The id in a cookie value the server signed, or None (unknown: issue a fresh one)."""
    if not value or len(value) != 57:
        return None
    ident, state, sig = value[:32], value[33:34], value[35:]
    if value[32] != "." or value[34] != "." or state not in ("n", "s"):
        return None
    if not _ID.match(ident) or not _SIG.match(sig):
        return None
    expected = _b64(_mac(secret, ident, state), 22)
    if not hmac.compare_digest(expected.encode(), sig.encode()):
        return None
    return WebId(ident, "s" if state == "s" else "n")


def bind(secret: bytes, web_id: WebId, client_message_id: str) -> WebId:
    """The id a first answer stores its session under: derived from the unbound id and the
    page's message id for that answer (so a retry of it lands on the same session)."""
    if web_id.bound:
        return web_id
    return WebId(_b64(_mac(secret, "bind", web_id.id, client_message_id), 32), "s")


def address_of(secret: bytes, value: str) -> str:
    """The address (the id) in a cookie value, for ``surveybot erase --web``: the whole cookie
    as the browser shows it, or the bare id."""
    found = read(secret, value.strip())
    if found is not None:
        return found.id
    return value.strip()
