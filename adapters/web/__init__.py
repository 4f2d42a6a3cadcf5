"""The web chat: a small accessible chat page per flow, talking to a JSON endpoint.

Routes (see :func:`routes`):

  GET  /chat/{flow_id}            the page (``?source=<group id>``, ``?lang=<code>`` optional)
  POST /chat/{flow_id}/messages   the JSON endpoint the page talks to
  GET  /chat/static/{name}        the page's own CSS and JavaScript (no CDN, no build step)

A respondent is identified by a cookie the server issues and signs (``__Host-sb_web`` behind
https, ``sb_web`` on a plain-http trial; :mod:`adapters.web.session_ids`); the store keeps their
session from their first answer on, so a reload or a visit days later resumes where they were. The channel cannot send unprompted, so it
takes no part in reminders.
"""

from __future__ import annotations

from adapters.web.chat import (
    CAN_SEND_UNPROMPTED,
    CHANNEL,
    COOKIE_MAX_AGE,
    COOKIE_NAME,
    MAX_TEXT,
    SECURE_COOKIE_NAME,
    routes,
)

__all__ = [
    "CAN_SEND_UNPROMPTED",
    "CHANNEL",
    "COOKIE_MAX_AGE",
    "COOKIE_NAME",
    "MAX_TEXT",
    "SECURE_COOKIE_NAME",
    "routes",
]
