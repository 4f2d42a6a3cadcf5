"""The web chat: a small accessible chat page per flow, talking to a JSON endpoint.

Routes (see :func:`routes`):

  GET  /chat/{flow_id}            the page (``?source=<group id>``, ``?lang=<code>`` optional)
  POST /chat/{flow_id}/messages   the JSON endpoint the page talks to
  GET  /chat/static/{name}        the page's own CSS and JavaScript (no CDN, no build step)

A respondent is identified by a random cookie (``sb_web``); the store keeps their session, so a
reload or a visit days later resumes where they were. The channel cannot send unprompted, so it
takes no part in reminders.
"""

from __future__ import annotations

from adapters.web.chat import (
    CAN_SEND_UNPROMPTED,
    CHANNEL,
    COOKIE_MAX_AGE,
    COOKIE_NAME,
    MAX_TEXT,
    routes,
)

__all__ = [
    "CAN_SEND_UNPROMPTED",
    "CHANNEL",
    "COOKIE_MAX_AGE",
    "COOKIE_NAME",
    "MAX_TEXT",
    "routes",
]
