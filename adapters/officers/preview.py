"""The preview panel: a draft run in the web chat's own page and script, touching no live data.

The page is the respondents' chat page (:func:`adapters.web.chat.render_page`), pointed at a
console endpoint instead of ``/chat/<flow>/messages``. Each message runs the pure engine on the
draft and a session kept under the console's own key (``sb:{console}:pv:...``, two hours): no
respondent id, no index entry, no response, no audit entry, no misses, no reminders. Reloading
the page starts the draft again from the beginning.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from adapters.web.chat import Message, reply_json
from bot import engine
from bot.models import Inbound, Session
from bot.schema import Flow
from store.officers import OfficerStore

CHANNEL = "web"
ADDRESS = "console-preview"
TTL = timedelta(hours=2)


async def converse(
    store: OfficerStore, flow: Flow, key: str, msg: Message, now: datetime
) -> dict[str, Any]:
    """One message of a preview conversation: the chat endpoint's JSON answer."""
    session: Session | None = None
    if msg.kind != "start":
        saved = await store.get_blob("pv", key)
        if saved is not None and saved.get("version") == flow.version:
            try:
                session = Session.model_validate(saved.get("session"))
            except ValidationError:
                session = None
    source = flow.source(msg.source)
    start = Inbound(
        channel=CHANNEL,
        address=ADDRESS,
        kind="start",
        text=flow.id,
        source=source.id if source else None,
        lang=msg.lang if msg.lang in flow.languages else None,
    )
    replies = []
    if session is None:
        session = engine.new_session(
            flow,
            respondent="preview",
            channel=CHANNEL,
            address=ADDRESS,
            now=now,
            source=start.source,
            lang=start.lang,
        )
        first = engine.step(flow, session, start, now)
        session = first.session
        if msg.kind == "start" or msg.question != session.current:
            replies = list(first.replies)
    if msg.kind != "start" and (replies == [] or msg.question == session.current):
        inbound = Inbound(
            channel=CHANNEL,
            address=ADDRESS,
            kind=msg.kind,
            text=msg.text,
            question=msg.question,
        )
        step = engine.step(flow, session, inbound, now)
        session = step.session
        replies += step.replies
    await store.put_blob(
        "pv", key, {"version": flow.version, "session": session.model_dump(mode="json")}, TTL
    )
    return {
        "replies": [reply_json(r) for r in replies],
        "done": session.status.finished,
        "lang": session.lang,
    }
