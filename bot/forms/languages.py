"""Language codes and names, as XLSForm column headers write them (``label::English (en)``).

XLSForm names a language by free text after ``::``; the spec recommends ``Name (code)``, but real
forms also write ``label::English``, ``label::en`` or ``label:Gujarati``. A flow needs codes, so a
bare name is looked up here. The table covers the languages UK councils translate surveys into
and the world's larger ones; any other language is still accepted as ``Name (code)``.
"""

from __future__ import annotations

import re

NAMES: dict[str, str] = {
    "af": "Afrikaans",
    "am": "Amharic",
    "ar": "Arabic",
    "az": "Azerbaijani",
    "be": "Belarusian",
    "bg": "Bulgarian",
    "bn": "Bengali",
    "bs": "Bosnian",
    "ca": "Catalan",
    "cs": "Czech",
    "cy": "Welsh",
    "da": "Danish",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "et": "Estonian",
    "fa": "Persian",
    "fi": "Finnish",
    "fr": "French",
    "ga": "Irish",
    "gd": "Scottish Gaelic",
    "gu": "Gujarati",
    "ha": "Hausa",
    "he": "Hebrew",
    "hi": "Hindi",
    "hr": "Croatian",
    "hu": "Hungarian",
    "hy": "Armenian",
    "id": "Indonesian",
    "ig": "Igbo",
    "is": "Icelandic",
    "it": "Italian",
    "ja": "Japanese",
    "ka": "Georgian",
    "kk": "Kazakh",
    "km": "Khmer",
    "kn": "Kannada",
    "ko": "Korean",
    "ku": "Kurdish",
    "ky": "Kyrgyz",
    "lt": "Lithuanian",
    "lv": "Latvian",
    "mk": "Macedonian",
    "ml": "Malayalam",
    "mn": "Mongolian",
    "mr": "Marathi",
    "ms": "Malay",
    "mt": "Maltese",
    "my": "Burmese",
    "ne": "Nepali",
    "nl": "Dutch",
    "no": "Norwegian",
    "om": "Oromo",
    "pa": "Punjabi",
    "pl": "Polish",
    "ps": "Pashto",
    "pt": "Portuguese",
    "ro": "Romanian",
    "ru": "Russian",
    "rw": "Kinyarwanda",
    "si": "Sinhala",
    "sk": "Slovak",
    "sl": "Slovenian",
    "so": "Somali",
    "sq": "Albanian",
    "sr": "Serbian",
    "sv": "Swedish",
    "sw": "Swahili",
    "ta": "Tamil",
    "te": "Telugu",
    "tg": "Tajik",
    "th": "Thai",
    "ti": "Tigrinya",
    "tl": "Tagalog",
    "tr": "Turkish",
    "tw": "Twi",
    "uk": "Ukrainian",
    "ur": "Urdu",
    "uz": "Uzbek",
    "vi": "Vietnamese",
    "wo": "Wolof",
    "xh": "Xhosa",
    "yo": "Yoruba",
    "zh": "Chinese",
    "zu": "Zulu",
}
"""ISO 639-1 code -> English name."""

_ALIASES: dict[str, str] = {
    "farsi": "fa",
    "panjabi": "pa",
    "filipino": "tl",
    "mandarin": "zh",
    "cantonese": "zh",
    "gaelic": "gd",
    "kurmanji": "ku",
    "sorani": "ku",
    "dari": "fa",
    "myanmar": "my",
    "bangla": "bn",
    "castilian": "es",
    "moldovan": "ro",
}
_BY_NAME: dict[str, str] = {
    **{name.casefold(): code for code, name in NAMES.items()},
    **_ALIASES,
}

# Scripts other than Latin: every SMS in these is UCS-2 (70 characters, 67 a part).
NON_LATIN: frozenset[str] = frozenset(
    [
        "am",
        "ar",
        "be",
        "bg",
        "bn",
        "el",
        "fa",
        "gu",
        "he",
        "hi",
        "hy",
        "ja",
        "ka",
        "kk",
        "km",
        "kn",
        "ko",
        "ky",
        "mk",
        "ml",
        "mn",
        "mr",
        "my",
        "ne",
        "pa",
        "ps",
        "ru",
        "si",
        "sr",
        "ta",
        "te",
        "tg",
        "th",
        "ti",
        "uk",
        "ur",
        "zh",
    ]
)

CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*\Z")
_NAME_CODE = re.compile(
    r"^(?P<name>.*?)\s*\(\s*(?P<code>[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*)\s*\)\Z"
)


def parse_language(text: str) -> str | None:
    """The code a column's language part stands for, or None when it cannot be told.

    ``English (en)`` -> ``en``; ``en`` -> ``en``; ``English`` -> ``en``; ``Klingon`` -> None.
    """
    text = " ".join(text.split())
    if re.fullmatch(r"[A-Za-z]{2,3}", text):
        text = text.lower()  # EN, Gu: a code in capitals
    m = _NAME_CODE.match(text)
    if m:
        return m.group("code").lower()
    if CODE.match(text) and (text in NAMES or len(text) in (2, 3)):
        return text
    return _BY_NAME.get(text.casefold())


def column_name(code: str) -> str:
    """How an exported XLSForm names a language: ``English (en)`` (``xx (xx)`` if unknown)."""
    return f"{NAMES.get(code, code)} ({code})"


def sms_encoding(code: str) -> str:
    """The SMS encoding text in this language normally needs: ``UCS-2`` for non-Latin scripts.

    Latin-script languages are ``GSM-7`` as long as they keep to the SMS alphabet (English,
    Somali); accented letters outside it (Polish ``ł``, Welsh ``ŵ``) make a message UCS-2, which
    the translation sheet says beside each budget.
    """
    base = code.split("-", 1)[0].lower()
    return "UCS-2" if base in NON_LATIN or base not in NAMES else "GSM-7"
