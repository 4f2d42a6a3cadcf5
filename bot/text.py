"""Localised text: every text in a flow may be a plain string or a map of language code to string."""

from __future__ import annotations

from typing import TypeAlias

LText: TypeAlias = str | dict[str, str]

DEFAULT_LANGUAGE = "en"

# Names shown in the LANGUAGE menu, written in the language itself so a reader spots their own.
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "gu": "ગુજરાતી (Gujarati)",
    "pa": "ਪੰਜਾਬੀ (Punjabi)",
    "pl": "Polski (Polish)",
    "ur": "اردو (Urdu)",
    "so": "Soomaali (Somali)",
    "bn": "বাংলা (Bengali)",
    "hi": "हिन्दी (Hindi)",
    "ar": "العربية (Arabic)",
    "ro": "Română (Romanian)",
    "cy": "Cymraeg (Welsh)",
}


def tr(text: LText | None, lang: str, fallback: str = DEFAULT_LANGUAGE) -> str:
    """The text in ``lang``, else in ``fallback``, else the first translation there is."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    if lang in text:
        return text[lang]
    if fallback in text:
        return text[fallback]
    return next(iter(text.values()), "")
