"""What a phone call can say and hear: Twilio's voices and speech recognition per language, and
which texts do not suit being spoken. Pure data and checks, used by ``surveybot validate``, the
cost estimate and the voice adapter (``adapters/voice_twilio``), like :mod:`bot.sms` for SMS.

**Voices and recognition, per language** (:data:`LANGUAGES`). ``<Say voice=... language=...>``
takes Amazon Polly or Google voices (Twilio's ``<Say>`` reference gives ``Google.en-GB-Standard-A``
and ``Polly.Amy`` as examples, and warns that a voice must match its ``language``);
``<Gather language=...>`` takes a BCP-47 tag and Twilio logs warning 13512/13331 for one its
speech-to-text provider does not support. The table lists, for Leicester's community languages,
the Google Standard voice and the recognition tag Twilio passes to Google's speech-to-text, as
far as we could check them (README, "Answer by phone"). Somali has no voice at Twilio's
providers: a Somali text cannot be spoken, so callers hear the flow's first spoken language
(``surveybot validate`` warns). Check the Twilio console's text-to-speech list before going
live with a new language; a wrong entry here only makes Twilio fall back to its default voice.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    """How one flow language is spoken and heard on a call (None: not available)."""

    say: str | None  # <Say language=...>
    voice: str | None  # <Say voice=...>
    hear: str | None  # <Gather language=...>: speech recognition


LANGUAGES: dict[str, Language] = {
    "en": Language("en-GB", "Google.en-GB-Standard-A", "en-GB"),
    "gu": Language("gu-IN", "Google.gu-IN-Standard-A", "gu-IN"),
    "pa": Language("pa-IN", "Google.pa-IN-Standard-A", "pa-Guru-IN"),
    "ur": Language("ur-IN", "Google.ur-IN-Standard-A", "ur-PK"),
    "pl": Language("pl-PL", "Google.pl-PL-Standard-A", "pl-PL"),
    "bn": Language("bn-IN", "Google.bn-IN-Standard-A", "bn-BD"),
    "hi": Language("hi-IN", "Google.hi-IN-Standard-A", "hi-IN"),
    "ar": Language("ar-XA", "Google.ar-XA-Standard-A", "ar-EG"),
    "ro": Language("ro-RO", "Google.ro-RO-Standard-A", "ro-RO"),
    "cy": Language("cy-GB", "Polly.Gwyneth", "cy-GB"),
    "so": Language(None, None, None),
}
FALLBACK = LANGUAGES["en"]


def language(lang: str) -> Language:
    """How ``lang`` is spoken; a language with no voice is said in English (validate warns)."""
    found = LANGUAGES.get(lang)
    return found if found is not None and found.voice is not None else FALLBACK


def can_speak(lang: str) -> bool:
    found = LANGUAGES.get(lang)
    return found is not None and found.voice is not None


def can_hear(lang: str) -> bool:
    found = LANGUAGES.get(lang)
    return found is not None and found.hear is not None


# --- texts that do not suit being spoken --------------------------------------------------------

MAX_KEYS = 9
"""Choices a caller can pick with one key (1-9)."""

URL = re.compile(
    r"(?i)\b(?:https?://|www\.)\S+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:gov\.uk|org\.uk|co\.uk|nhs\.uk|"
    r"ac\.uk|com|org|net|uk)(?:/\S*)?"
)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
TEXT_COMMAND = re.compile(
    r"(?i)\b(?:text|txt|reply|send)\s+(?:us\s+)?(?:STOP|START|HELP|SKIP|BACK|YES|NO|RESTART)\b"
)


def emoji(text: str) -> list[str]:
    """Pictures and symbols a voice cannot say (emoji, dingbats, arrows...)."""
    return [ch for ch in text if unicodedata.category(ch) == "So"]


@dataclass(frozen=True)
class Unspoken:
    """Something in a text that reads badly aloud: where (1-based) and what to say about it."""

    offset: int
    message: str


def unspoken(text: str) -> list[Unspoken]:
    """What in ``text`` does not suit a phone call: web addresses, email addresses, emoji and
    instructions to text or reply a word (the caller has no keyboard)."""
    found: list[Unspoken] = []
    for m in URL.finditer(text):
        if not EMAIL.search(text, max(0, m.start() - 64), m.end()):
            found.append(Unspoken(m.start() + 1, f"a web address ({m.group(0)!r})"))
    for m in EMAIL.finditer(text):
        found.append(Unspoken(m.start() + 1, f"an email address ({m.group(0)!r})"))
    pictures = emoji(text)
    if pictures:
        shown = " ".join(dict.fromkeys(pictures))
        found.append(Unspoken(text.index(pictures[0]) + 1, f"emoji or symbols ({shown})"))
    for m in TEXT_COMMAND.finditer(text):
        found.append(Unspoken(m.start() + 1, f"an instruction to text a word ({m.group(0)!r})"))
    return sorted(found, key=lambda u: u.offset)


def speakable(text: str) -> str:
    """``text`` fit for text-to-speech: pictures and symbols dropped, spaces tidied."""
    if not emoji(text):
        return " ".join(text.split())
    return " ".join("".join(ch for ch in text if unicodedata.category(ch) != "So").split())
