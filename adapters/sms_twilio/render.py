"""Engine replies as SMS messages, the same for a TwiML answer and a REST send.

One step's replies (say the intro, then the first question) are rendered with
:func:`bot.sms.render` (GSM-7 kept whenever the content allows) and joined with a blank line into
**one** text. That text goes as **one** message whenever it fits in :data:`MAX_SEGMENTS` segments
(918 GSM-7 characters, 402 UCS-2 code units): the phone reassembles the parts of one
concatenated message in order, so the intro can never arrive after the question.

Only a longer text is split, with :func:`bot.sms.split`, at sentence ends or line breaks into
several messages of at most :data:`MAX_SEGMENTS` segments each (plus at most one segment the
label below may add). Twilio does not guarantee the order in which several ``<Message>`` verbs
(or several REST messages) reach the handset, so each part is then labelled ``(1/3)``,
``(2/3)``... for the reader to put them back in order. A bigger single message would avoid that,
but Twilio refuses bodies over 1,600 characters and carriers handle very long concatenations
badly; survey steps rarely come near the limit (a long language menu or a long help text).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from adapters.twilio_common import mask
from bot.models import Reply
from bot.sms import render, segments, split

MAX_SEGMENTS = 6
"""Segments one message may take before the text is split into several messages."""


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_char(ch: str) -> bool:
    o = ord(ch)
    return (
        ch in "\t\n\r" or 0x20 <= o <= 0xD7FF or 0xE000 <= o <= 0xFFFD or 0x10000 <= o <= 0x10FFFF
    )


def clean(text: str) -> str:
    """``text`` without characters XML 1.0 cannot carry (control characters, lone surrogates).

    A reply may quote what a respondent typed; one stray control character must not turn the
    TwiML answer into invalid XML (Twilio would then send nothing at all).
    """
    if not _NOT_XML.search(text):
        return text
    return "".join(ch for ch in text if _xml_char(ch))


def sms_text(replies: Sequence[Reply]) -> str:
    """The step's replies as one SMS text (empty replies left out)."""
    texts = (clean(render(r)).strip() for r in replies)
    return "\n\n".join(t for t in texts if t)


def messages(replies: Sequence[Reply], max_segments: int = MAX_SEGMENTS) -> list[str]:
    """The SMS messages to send for one step, in order (``[]`` when there is nothing to say)."""
    text = sms_text(replies)
    if not text:
        return []
    if segments(text) <= max_segments:
        return [text]
    parts = split(text, max_segments)
    if len(parts) == 1:
        return parts
    n = len(parts)
    return [f"({i}/{n}) {part}" for i, part in enumerate(parts, 1)]


__all__ = ["MAX_SEGMENTS", "clean", "mask", "messages", "sms_text"]
