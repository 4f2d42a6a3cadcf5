"""Deep links (``https://t.me/<bot>?start=<flow>-<source>``) and log-safe chat ids."""

from __future__ import annotations

import re

PAYLOAD_MAX = 64
_PAYLOAD = re.compile(r"[A-Za-z0-9_-]+\Z")
_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}\Z")


def start_payload(flow_id: str, source_id: str | None = None) -> str:
    """``flow`` or ``flow-source``, checked against Telegram's limit: at most 64 characters of
    ``A-Z a-z 0-9 _ -``. Raises ValueError with what to change."""
    payload = flow_id if not source_id else f"{flow_id}-{source_id}"
    if not payload:
        raise ValueError("a deep link needs a flow id")
    if not _PAYLOAD.match(payload):
        bad = sorted({ch for ch in payload if not re.match(r"[A-Za-z0-9_-]", ch)})
        raise ValueError(
            f"Telegram start payload {payload!r} contains {''.join(bad)!r}: only letters A-Z, "
            "a-z, digits, '_' and '-' are allowed"
        )
    if len(payload) > PAYLOAD_MAX:
        raise ValueError(
            f"Telegram start payload {payload!r} is {len(payload)} characters; at most "
            f"{PAYLOAD_MAX} are allowed. Use a shorter source id, or the flow's keyword with the "
            "source's keyword (e.g. CARERS-HARBOROUGH)"
        )
    return payload


def deep_link(bot_username: str, flow_id: str, source_id: str | None = None) -> str:
    """``https://t.me/<bot>?start=<flow>[-<source>]``: opens a private chat with the bot, and
    pressing Start sends ``/start <payload>``, which starts the flow and records the source."""
    name = bot_username.strip().removeprefix("@")
    if not _USERNAME.match(name):
        raise ValueError(
            f"{bot_username!r} is not a Telegram bot username (5-32 letters, digits or '_', "
            "as set with @BotFather, e.g. LLRCarersBot)"
        )
    return f"https://t.me/{name}?start={start_payload(flow_id, source_id)}"


def chat_link(bot_username: str, payload: str | None = None) -> str:
    """A link to the bot's private chat, with ``payload`` if it is a valid start payload."""
    name = bot_username.strip().removeprefix("@")
    if payload and len(payload) <= PAYLOAD_MAX and _PAYLOAD.match(payload):
        return f"https://t.me/{name}?start={payload}"
    return f"https://t.me/{name}"


def mask_id(chat_id: str | int) -> str:
    """A chat id fit for logs: ``12******89``."""
    raw = str(chat_id)
    if len(raw) <= 4:
        return "*" * len(raw)
    return raw[:2] + "*" * (len(raw) - 4) + raw[-2:]
