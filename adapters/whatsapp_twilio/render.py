"""Engine replies as WhatsApp messages: text, or text with buttons or a list. Pure (no I/O).

**One message per step.** As on SMS, a step's replies (say the intro, then the first question)
are joined with a blank line into one message, so the intro can never arrive after the question.
WhatsApp is not billed per part; a message only has to stay within Twilio's 1,600 characters
(longer texts are split at paragraph, line or word breaks, in order).

**Choices.** The question a step ends on (the last reply with choices, unless a closing message
follows it) is shown, where it fits, with Twilio Content API types:

* ``twilio/quick-reply``: up to :data:`MAX_QUICK_REPLIES` buttons, titles of at most 20
  characters (Yes / No, short scales);
* ``twilio/list-picker``: up to :data:`MAX_LIST_ITEMS` items of at most 24 characters, a longer
  label (up to 72) cut in the item and given whole as its description;
* otherwise, and for questions taking several picks, numbered text as on SMS ("Reply 1 Never,
  2 Sometimes"). Only then is "reply with a number" said.

The body of a message with buttons is at most 1,024 characters; when the step's text is longer,
the earlier replies go first as a text message of their own. Whatever the person types instead
of tapping is read exactly as on SMS.

**Formatting.** A question is shown in bold (``*...*``, line by line, as WhatsApp marks it up;
a line that already holds ``*`` is left alone). Nothing is changed for GSM-7: WhatsApp carries
any character at the same price.

**Button payloads** (the id WhatsApp sends back as ``ButtonPayload`` or ``ListId``):
``a:<question>:<value>`` answers a question (a choice id, a scale point, ``yes``/``no``), as the
Telegram adapter's callback data; ``k:<key>`` is as if the person typed ``key`` (replies with no
question, such as the language menu).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.models import Reply, ReplyChoice
from bot.sms import choice_line

MAX_QUICK_REPLIES = 3
"""Buttons a ``twilio/quick-reply`` may carry in a conversation (WhatsApp's own limit)."""
MAX_LIST_ITEMS = 10
QUICK_REPLY_TITLE = 20
LIST_ITEM = 24
LIST_DESCRIPTION = 72
BODY_MAX = 1024
"""Longest body of a message with buttons (Content API)."""
TEXT_MAX = 1600
"""Longest ``Body`` Twilio sends as one message."""
PAYLOAD_MAX = 200

LIST_BUTTON: dict[str, str] = {
    "en": "Choose",
    "gu": "પસંદ કરો",
    "pa": "ਚੁਣੋ",
    "pl": "Wybierz",
    "ur": "منتخب کریں",
    "so": "Dooro",
    "bn": "বেছে নিন",
}
"""The list-picker's button, which opens the list (at most 20 characters)."""

Kind = Literal["quick-reply", "list-picker"]


@dataclass(frozen=True)
class Option:
    """One button or list item: what it shows, what comes back, and a longer description."""

    title: str
    id: str
    description: str = ""


@dataclass(frozen=True)
class Text:
    """A plain WhatsApp message."""

    body: str


@dataclass(frozen=True)
class Buttons:
    """A message whose choices are buttons or a list. ``fallback`` is the same message as
    numbered text, for when the buttons cannot be sent."""

    body: str
    kind: Kind
    options: tuple[Option, ...]
    lang: str
    fallback: str
    button: str = ""  # the list-picker's button label

    def definition(self) -> dict[str, Any]:
        """The Content API definition, the body left as variable ``{{1}}`` so that one content
        resource serves every respondent (piped answers, reminders, error notes)."""
        if self.kind == "quick-reply":
            actions = [{"type": "QUICK_REPLY", "title": o.title, "id": o.id} for o in self.options]
            kind: dict[str, Any] = {"body": "{{1}}", "actions": actions}
        else:
            items = [
                {"item": o.title, "id": o.id, "description": o.description} for o in self.options
            ]
            kind = {"body": "{{1}}", "button": self.button, "items": items}
        return {"language": self.lang, "types": {f"twilio/{self.kind}": kind}}

    def digest(self) -> str:
        """A stable name for :meth:`definition` (same choices, same content resource)."""
        raw = json.dumps(self.definition(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


Outgoing = Text | Buttons


@dataclass(frozen=True)
class Press:
    """What a button payload means: an answer to ``question``, or a ``key`` as if typed."""

    question: str | None
    value: str = field(default="")


def answer_payload(question: str, value: str) -> str:
    return f"a:{question}:{value}"


def key_payload(key: str) -> str:
    return f"k:{key}"


def parse_payload(payload: str) -> Press | None:
    """One of our payloads, or None (a template's button, an old or forged payload)."""
    if not payload or len(payload) > PAYLOAD_MAX:
        return None
    kind, _, rest = payload.partition(":")
    if kind == "a":
        question, sep, value = rest.partition(":")
        return Press(question, value) if sep and question and value else None
    if kind == "k" and rest:
        return Press(None, rest)
    return None


# -- text -------------------------------------------------------------------------------------


def bold(text: str) -> str:
    """WhatsApp's bold, line by line (markup does not span lines); lines holding ``*`` as is."""
    lines = text.split("\n")
    return "\n".join(f"*{ln.strip()}*" if ln.strip() and "*" not in ln else ln for ln in lines)


def reply_text(reply: Reply, *, with_buttons: bool) -> str:
    """A reply's text: the question in bold, and the numbered choices unless buttons show them."""
    text = reply.text.strip()
    if reply.kind == "question" and text:
        text = bold(text)
    if reply.choices and not with_buttons:
        line = choice_line(reply)
        text = f"{text}\n{line}" if text else line
    return text


def chunks(text: str, limit: int = TEXT_MAX) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut at the latest paragraph break,
    else line break, else space, else anywhere; in order, none empty."""
    out: list[str] = []
    text = text.strip()
    while len(text) > limit:
        cut = -1
        for sep in ("\n\n", "\n", " "):
            cut = text.rfind(sep, limit // 2, limit)
            if cut > 0:
                break
        if cut <= 0:
            cut = limit
        out.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        out.append(text)
    return out


def _join(texts: Sequence[str]) -> str:
    return "\n\n".join(t for t in texts if t)


# -- buttons ----------------------------------------------------------------------------------


def _title(c: ReplyChoice, mixed: bool) -> str:
    # A scale labelled only at its ends shows "1 Poor", "2", ..., "5 Excellent".
    return f"{c.key} {c.label}".strip() if mixed else (c.label.strip() or c.key)


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit - 1)
    return (text[: cut if cut > limit // 2 else limit - 1]).rstrip(" ,;:-") + "…"


def options_for(reply: Reply) -> tuple[Kind, tuple[Option, ...]] | None:
    """How the reply's choices fit WhatsApp's buttons, or None (then numbered text)."""
    cs = reply.choices
    if not cs or reply.multi or len(cs) > MAX_LIST_ITEMS:
        return None
    mixed = any(c.label for c in cs) and any(not c.label for c in cs)
    titles = [_title(c, mixed) for c in cs]
    ids = [
        answer_payload(reply.question, c.value) if reply.question else key_payload(c.key)
        for c in cs
    ]
    if any(len(i) > PAYLOAD_MAX for i in ids) or len(set(titles)) < len(titles):
        return None
    if len(cs) <= MAX_QUICK_REPLIES and all(len(t) <= QUICK_REPLY_TITLE for t in titles):
        return "quick-reply", tuple(Option(t, i) for t, i in zip(titles, ids, strict=True))
    if any(len(t) > LIST_DESCRIPTION for t in titles):
        return None
    items = tuple(
        Option(t, i) if len(t) <= LIST_ITEM else Option(_shorten(t, LIST_ITEM), i, t)
        for t, i in zip(titles, ids, strict=True)
    )
    if len({o.title for o in items}) < len(items):
        return None  # two labels cut to the same words: the list would be ambiguous
    return "list-picker", items


def _keyed(replies: Sequence[Reply]) -> int | None:
    """The reply that may carry buttons: the last one, if it has choices."""
    if replies and replies[-1].choices:
        return len(replies) - 1
    return None


def render(replies: Sequence[Reply], *, buttons: bool = True) -> list[Outgoing]:
    """The WhatsApp messages for one step, in order (``[]`` when there is nothing to say)."""
    keyed = _keyed(replies) if buttons else None
    fit = options_for(replies[keyed]) if keyed is not None else None
    if keyed is None or fit is None:
        return [
            Text(c) for c in chunks(_join([reply_text(r, with_buttons=False) for r in replies]))
        ]
    question = replies[keyed]
    head = _join([reply_text(r, with_buttons=False) for r in replies[:keyed]])
    own = reply_text(question, with_buttons=True)
    numbered = reply_text(question, with_buttons=False)
    if len(own) > BODY_MAX:
        return [Text(c) for c in chunks(_join([head, numbered]))]
    kind, options = fit
    lead: list[Outgoing] = []
    body, fallback = _join([head, own]), _join([head, numbered])
    if len(body) > BODY_MAX:  # the earlier replies go first, on their own
        lead = [Text(c) for c in chunks(head)]
        body, fallback = own, numbered
    if len(fallback) > TEXT_MAX:
        fallback = numbered
    button = LIST_BUTTON.get(question.lang, LIST_BUTTON["en"]) if kind == "list-picker" else ""
    return [*lead, Buttons(body, kind, options, question.lang, fallback, button)]


def as_text(outgoing: Sequence[Outgoing]) -> list[str]:
    """The same messages as plain text (buttons as numbered choices): the TwiML answer."""
    out: list[str] = []
    for m in outgoing:
        out += chunks(m.fallback) if isinstance(m, Buttons) else [m.body]
    return out
