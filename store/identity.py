"""Pseudonymous respondent ids: a keyed hash of channel + normalised address.

The raw phone number or chat id never appears in a key or an answer. The id is still personal
data (whoever holds the secret can test a number), so the secret lives in config, not in code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

import phonenumbers

DEFAULT_REGION = "GB"
_PHONE_CHANNELS = frozenset({"sms", "whatsapp", "voice"})
SHARED_IDS = {"voice": "sms"}
"""Channels whose respondents are the same people as another channel's. A phone number is one
person whether they text or call, so a call and a text from it are one respondent (one session,
one response): a caller can carry on by text and a texter can finish by phone. Keyed as "sms"
so SMS ids stay as they were."""
ONE_CALL = "call:"
"""The address of a caller whose number is withheld: ``call:<CallSid>``, a respondent for that
call only (never shared, never a phone number)."""


def normalise_address(channel: str, address: str, *, region: str = DEFAULT_REGION) -> str:
    """The form of ``address`` that identifies one person on ``channel``.

    Phone numbers become E.164 (``07700 900123`` and ``+447700900123`` are the same person);
    a number ``phonenumbers`` cannot parse is kept with only ``+`` and digits, so it still maps
    to one stable id; a sender with letters (an alphanumeric sender id) or no digits is kept
    whole, without spaces and case-folded, so two such senders never share an id. Other
    channels (Telegram chat ids, web cookies) are only stripped.
    """
    channel = channel.strip().lower()
    address = address.strip()
    if address.startswith(ONE_CALL):
        return address
    if channel in _PHONE_CHANNELS and address:
        # Twilio's WhatsApp addresses look like "whatsapp:+44...".
        if ":" in address:
            address = address.rsplit(":", 1)[1]
        if channel == "whatsapp" and "." in address:
            # A business-scoped user id ("GB.1234..."), sent instead of a number by people who
            # hide theirs: an identity of its own, never reduced to its digits.
            return address.upper()
        try:
            number = phonenumbers.parse(address, region)
        except phonenumbers.NumberParseException:
            number = None
        if number is not None and phonenumbers.is_possible_number(number):
            return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
        digits = "".join(c for c in address if c.isdigit() or c == "+")
        if any(c.isdigit() for c in digits) and not any(c.isalpha() for c in address):
            return digits  # a short code or an odd number: its digits identify it
        # An alphanumeric sender id ("COUNCIL", "Tesco2") or something with no digits at all:
        # the letters are what tell senders apart (keeping only digits would give every such
        # sender the same id, and so one shared response).
        return "id:" + "".join(address.split()).casefold()
    return address


def respondent_id(
    secret: bytes, channel: str, address: str, *, region: str = DEFAULT_REGION
) -> str:
    """HMAC-SHA256 of channel and normalised address; 26 lower-case base32 characters (128 bits)."""
    return _respondent_id(secret, channel, address, region)


@lru_cache(maxsize=65536)  # per message; parsing a phone number costs more than the whole step
def _respondent_id(secret: bytes, channel: str, address: str, region: str) -> str:
    if not secret:
        raise ValueError("the respondent-id secret must not be empty")
    channel = channel.strip().lower()
    normalised = normalise_address(channel, address, region=region)
    if not normalised:
        raise ValueError(f"an empty {channel} address identifies no one")
    if not normalised.startswith(ONE_CALL):
        channel = SHARED_IDS.get(channel, channel)
    message = f"{channel}\x00{normalised}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()[:16]
    return base64.b32encode(digest).decode("ascii").rstrip("=").lower()
