"""What a phone call can say and hear: Twilio's voices and speech recognition per language, and
which texts do not suit being spoken. Pure data and checks, used by ``surveybot validate``, the
cost estimate and the voice adapter (``adapters/voice_twilio``), like :mod:`bot.sms` for SMS.

**Voices and recognition, per language** (:data:`LANGUAGES`). ``<Say voice=... language=...>``
takes one of the Amazon Polly or Google voices Twilio lists on its text-to-speech page, and the
voice must match its ``language``: Twilio's ``<Say>`` reference warns that "an invalid
combination of voice and language may result in error and <Say> instruction failure", so a wrong
entry here is a call that says nothing, not a call in a default voice. ``<Gather language=...>``
passes the BCP-47 tag through to the speech-to-text provider Twilio picks (by default Google
Speech-to-Text); an unsupported tag is warning 13512/13331 and a Gather that fails. Hence: an
entry is filled in only where the sources below name it, and a language whose voice or
recognition could not be verified has ``None`` there (keys only, or no call in that language)
and a :attr:`Language.unverified` note that ``surveybot validate`` shows.

Sources (checked 2026; recheck the Twilio console's text-to-speech list before going live with a
new language):

* **[say]** Twilio, TwiML ``<Say>``: https://www.twilio.com/docs/voice/twiml/say (``Polly.Amy``
  and ``Google.en-GB-Standard-A`` as examples; voice and language must match).
* **[tts]** Twilio, Text-to-Speech, "Available voices and languages":
  https://www.twilio.com/docs/voice/twiml/say/text-speech#available-voices-and-languages, as
  captured in the crate generated from that page (github.com/dra11y/twilio-voice,
  ``src/twiml/voices/<lang>.rs``, generated May 2025). It lists no Urdu and no Somali voice,
  only ``Standard-N``/``-O`` among Google's en-GB standard voices, ``Standard-F``/``-G`` for
  pl-PL and ``Standard-B`` for ro-RO.
* **[gather]** Twilio, TwiML ``<Gather>``: https://www.twilio.com/docs/voice/twiml/gather#language
  (the tag is passed through; the default model takes the Google Speech-to-Text V2 languages),
  and errors 13512/13331.
* **[stt]** Google Cloud Speech-to-Text language codes: the ``LanguageCodes`` class of the
  Google.Cloud.Speech.V1 client (https://cloud.google.com/dotnet/docs/reference/Google.Cloud.Speech.V1/latest/Google.Cloud.Speech.V1.LanguageCodes,
  "a code-convenient form of the table at https://cloud.google.com/speech/docs/languages"; in
  github.com/googleapis/google-cloud-dotnet ``apis/Google.Cloud.Speech.V1/.../LanguageCodes.cs``):
  gu-IN, pa-guru-IN, ur-PK, bn-BD, hi-IN, ar-EG, pl-PL, ro-RO, en-GB. No Welsh or Somali there,
  and the V2 table (https://cloud.google.com/speech-to-text/v2/docs/speech-to-text-supported-languages)
  could not be read row by row, so Welsh and Somali recognition stay unverified.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    """How one flow language is spoken and heard on a call (None: not available, or not
    verified: see ``unverified``)."""

    say: str | None  # <Say language=...>
    voice: str | None  # <Say voice=...>
    hear: str | None  # <Gather language=...>: speech recognition
    unverified: str = ""  # what could not be verified, in words for `surveybot validate`


LANGUAGES: dict[str, Language] = {
    # Polly.Amy, en-GB [say] [tts: en_gb.rs, standard]; recognition en-GB [stt].
    # (Google.en-GB-Standard-A, the <Say> page's example, is not in the [tts] list.)
    "en": Language("en-GB", "Polly.Amy", "en-GB"),
    # Google.gu-IN-Standard-A [tts: gu_in.rs]; gu-IN [stt: LanguageCodes.Gujarati.India].
    "gu": Language("gu-IN", "Google.gu-IN-Standard-A", "gu-IN"),
    # Google.pa-IN-Standard-A [tts: pa_in.rs]; pa-Guru-IN [stt: LanguageCodes.Punjabi.GurmukhiIndia].
    "pa": Language("pa-IN", "Google.pa-IN-Standard-A", "pa-Guru-IN"),
    # No Urdu voice in [tts] (Google's own ur-IN voices are not offered through Twilio);
    # recognition ur-PK [stt: LanguageCodes.Urdu.Pakistan].
    "ur": Language(None, None, "ur-PK", "Twilio's text-to-speech list has no Urdu voice"),
    # Polly.Ewa, pl-PL [tts: pl_pl.rs, standard]; pl-PL [stt].
    "pl": Language("pl-PL", "Polly.Ewa", "pl-PL"),
    # Google.bn-IN-Standard-A [tts: bn_in.rs]; bn-BD (Bangladeshi Bengali) [stt].
    "bn": Language("bn-IN", "Google.bn-IN-Standard-A", "bn-BD"),
    # Google.hi-IN-Standard-A [tts: hi_in.rs]; hi-IN [stt].
    "hi": Language("hi-IN", "Google.hi-IN-Standard-A", "hi-IN"),
    # Google.ar-XA-Standard-A (Arabic, several accents) [tts: ar_xa.rs]; ar-EG [stt].
    "ar": Language("ar-XA", "Google.ar-XA-Standard-A", "ar-EG"),
    # Polly.Carmen, ro-RO [tts: ro_ro.rs, standard]; ro-RO [stt].
    "ro": Language("ro-RO", "Polly.Carmen", "ro-RO"),
    # Polly.Gwyneth, cy-GB [tts: cy_gb.rs]; Welsh recognition not in [stt]: keys only.
    "cy": Language(
        "cy-GB", "Polly.Gwyneth", None, "Welsh speech recognition could not be verified"
    ),
    # Neither a voice [tts] nor recognition [stt] for Somali.
    "so": Language(None, None, None, "Twilio lists no Somali voice or speech recognition"),
}
FALLBACK = LANGUAGES["en"]


def language(lang: str) -> Language:
    """How ``lang`` is spoken; a language with no voice is said in English (validate warns)."""
    found = LANGUAGES.get(lang)
    return found if found is not None and found.voice is not None else FALLBACK


def hearing(lang: str) -> str | None:
    """The speech-recognition tag for ``lang`` (None: keys only)."""
    found = LANGUAGES.get(lang)
    return found.hear if found is not None else None


def can_speak(lang: str) -> bool:
    found = LANGUAGES.get(lang)
    return found is not None and found.voice is not None


def can_hear(lang: str) -> bool:
    return hearing(lang) is not None


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
