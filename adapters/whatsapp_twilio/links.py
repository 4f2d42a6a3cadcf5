"""WhatsApp's click-to-chat link: ``https://wa.me/<number>?text=<keyword>``.

Tapping it (or scanning its QR code) opens a chat with the survey's number, the keyword already
typed; the person only presses send. The number is written in full international form without
``+``, spaces or the ``whatsapp:`` prefix (WhatsApp's rule); spaces in the text are ``%20``.
"""

from __future__ import annotations

from urllib.parse import quote

import phonenumbers


def wa_number(raw: str) -> str:
    """The digits WhatsApp's link wants, from ``whatsapp:+447700900000`` or ``+44 7700 900000``.

    Raises ValueError for something that is not a full international number."""
    text = raw.strip().removeprefix("whatsapp:")
    try:
        number = phonenumbers.parse(text, "GB")
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{raw!r} is not a phone number") from exc
    if not phonenumbers.is_possible_number(number):
        raise ValueError(f"{raw!r} is not a phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


def wa_link(number: str, text: str | None = None) -> str:
    """``https://wa.me/447700900000?text=CARERS%20HARBOROUGH``."""
    link = f"https://wa.me/{wa_number(number)}"
    return f"{link}?text={quote(text, safe='')}" if text else link
