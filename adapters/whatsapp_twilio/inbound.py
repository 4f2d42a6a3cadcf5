"""Twilio's WhatsApp webhook form as an :class:`bot.models.Inbound`. Pure, so it is table-tested.

Twilio posts the same form as for SMS, with the addresses as ``whatsapp:+44...`` and a few
fields of WhatsApp's own, which are read here:

* ``ButtonPayload`` / ``ButtonText`` (a quick-reply button tapped) and ``ListId`` /
  ``ListTitle`` (a list item chosen): one of our payloads (see :mod:`.render`) is an answer to
  its question; any other payload is a template's button (a reminder's "Carry on"), which picks
  the survey up where the person left it, as their keyword would;
* ``MessageType`` (``text``, ``image``, ``audio``, ``location``, ``reaction``...), ``NumMedia``
  and ``Latitude``/``Longitude``: a picture, voice note, video, document, sticker, contact card,
  location or reaction gets the engine's polite "I can only read text" (a picture with a caption
  is read as its caption, as on SMS);
* ``ProfileName`` and ``WaId`` (the person's WhatsApp name and number) are never read: the name
  is personal data we have no use for.
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.twilio_common.webhook import number, valid_sender
from adapters.whatsapp_twilio.render import parse_payload
from adapters.whatsapp_twilio.sender import CHANNEL, PREFIX
from bot.models import Inbound

NOT_TEXT = frozenset(
    {
        "image",
        "video",
        "audio",
        "voice",
        "document",
        "sticker",
        "location",
        "contacts",
        "reaction",
        "unsupported",
    }
)
"""``MessageType`` values that carry no words to read."""


def parse(params: Mapping[str, str]) -> Inbound | str:
    """The inbound message, or why the form is not one (the webhook answers 400)."""
    sender = params.get("From", "").strip()
    sid = (params.get("MessageSid") or params.get("SmsSid") or "").strip()
    if not sender or not sid:
        return "From and MessageSid are required"
    if not sender.startswith(PREFIX) or not valid_sender(sender):
        return f"From must be a WhatsApp address ({PREFIX}+44...)"
    base = {"channel": CHANNEL, "address": sender, "message_id": sid}
    payload = (params.get("ButtonPayload") or params.get("ListId") or "").strip()
    if payload:
        press = parse_payload(payload)
        if press is not None and press.question is not None:
            return Inbound(**base, kind="button", question=press.question, text=press.value)
        if press is not None:
            return Inbound(**base, text=press.value)
        label = params.get("ButtonText") or params.get("ListTitle") or params.get("Body")
        return Inbound(**base, kind="start", text=(label or payload).strip())
    body = params.get("Body", "")
    kind = params.get("MessageType", "").strip().lower()
    located = bool(params.get("Latitude") or params.get("Longitude"))
    if kind == "reaction" or (
        not body.strip() and (kind in NOT_TEXT or located or number(params.get("NumMedia")) > 0)
    ):
        return Inbound(**base, kind="unsupported")
    return Inbound(**base, text=body)
