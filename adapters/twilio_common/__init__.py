"""What every Twilio channel shares (SMS, WhatsApp and voice), so each is written once.

* :mod:`.form` - the strict webhook form parser (``application/x-www-form-urlencoded``).
* :mod:`.webhook` - the signature check against the configured public URL, TwiML answers, the
  ``503`` that makes Twilio retry, the ``From`` check, a channel's two routes, and the delivery
  status callback.
* :mod:`.rest` - the REST client: the per-sender rate limit, one message created (blocking or
  async), Twilio's error codes mapped to "retry later", "never again" or "opted out".
* :mod:`.optout` - a number Twilio (or WhatsApp) says opted out, recorded as the person's STOP.
* :func:`mask` - a phone number (or ``whatsapp:`` address) fit for a log line.

Channel adapters (``adapters/sms_twilio``, ``adapters/whatsapp_twilio``,
``adapters/voice_twilio``) keep only what is their own: how replies are rendered (or spoken)
and which payload fields they read.
"""

from __future__ import annotations


def mask(address: str) -> str:
    """A phone number fit for a log line: ``+447700900123`` -> ``+4477******23``; a channel prefix
    such as ``whatsapp:`` is kept (``whatsapp:+4477******23``)."""
    address = address.strip()
    prefix, colon, number = address.rpartition(":")
    if colon and prefix.isalpha():
        return f"{prefix}:{mask(number)}"
    if len(address) <= 7:
        return "*" * len(address)
    return address[:5] + "*" * (len(address) - 7) + address[-2:]


__all__ = ["mask"]
