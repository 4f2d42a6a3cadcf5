"""Column headers of an XLSForm sheet: which field each holds, and in which language.

Follows pyxform's reading of headers: names in any case, ``big image`` as ``big_image``, the
spec's aliases (``relevance``, ``caption``, ``jr:constraintMsg``...), and a language after
``::`` (or after a single ``:`` in older forms that use no ``::`` anywhere):
``label::English (en)``, ``label:English``, ``label::en``, ``media::image::English (en)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import FormProblem
from bot.forms.languages import parse_language

TRANSLATABLE = frozenset(
    {"label", "hint", "guidance_hint", "constraint_message", "required_message", "media"}
)
"""Fields whose columns may carry a language."""

SURVEY_ALIASES: dict[str, str] = {
    "caption": "label",
    "relevance": "relevant",
    "constraining_message": "constraint_message",
    "jr:constraintmsg": "constraint_message",
    "requiredmsg": "required_message",
    "jr:requiredmsg": "required_message",
    "calculate": "calculation",
    "count": "repeat_count",
    "jr:count": "repeat_count",
    "readonly": "read_only",
    "command": "type",
    "tag": "name",
    "value": "name",
    "image": "media",
    "big_image": "media",
    "big-image": "media",
    "audio": "media",
    "video": "media",
    "noapperrorstring": "no_app_error_string",
    "jr:noapperrorstring": "no_app_error_string",
}
CHOICES_ALIASES: dict[str, str] = {
    "list name": "list_name",
    "caption": "label",
    "value": "name",
    "image": "media",
    "big_image": "media",
    "big-image": "media",
    "audio": "media",
    "video": "media",
}
SETTINGS_ALIASES: dict[str, str] = {
    "set_form_title": "form_title",
    "title": "form_title",
    "set_form_id": "form_id",
    "id_string": "form_id",
}
_MEDIA_KINDS = {"image", "big_image", "big-image", "audio", "video"}


@dataclass(frozen=True)
class Column:
    header: str
    """As written in the first row."""
    field: str
    """What it holds: ``label``, ``relevant``, ``media``, ``bind``..."""
    lang: str | None = None
    """Language code, for a translatable field written with a language."""
    detail: str | None = None
    """The rest of the header: ``image`` for ``media::image``, ``oc:itemgroup`` for ``bind::...``."""


def snake(text: str) -> str:
    return "_".join(text.split()).lower()


def parse_headers(
    headers: list[str],
    aliases: dict[str, str],
    *,
    file: str,
    sheet: str,
    translatable: frozenset[str] = TRANSLATABLE,
) -> tuple[list[Column], list[FormProblem]]:
    """Each header as a :class:`Column`, and a problem for each language that cannot be told."""
    double = any("::" in h for h in headers)
    columns: list[Column] = []
    problems: list[FormProblem] = []
    for header in headers:
        text = " ".join(header.split())
        if "::" in text or double:
            tokens = [t.strip() for t in text.split("::")]
        else:
            tokens = [t.strip() for t in text.split(":")]
            if len(tokens) > 1 and tokens[0].lower() == "jr":
                tokens = [f"jr:{tokens[1]}", *tokens[2:]]
        first = snake(tokens[0])
        field = aliases.get(first, first)
        rest = tokens[1:]
        detail: str | None = None
        lang: str | None = None
        if first in _MEDIA_KINDS:
            detail = first.replace("-", "_")
        elif field == "media" and rest:
            detail, rest = snake(rest[0]).replace("-", "_"), rest[1:]
        elif field in ("bind", "body", "instance") and rest:
            detail, rest = rest[0], rest[1:]
        if rest and field in translatable:
            written = "::".join(rest)
            lang = parse_language(written)
            if lang is None:
                problems.append(
                    FormProblem(
                        file,
                        sheet,
                        1,
                        header,
                        f"the language {written!r} in this heading is not one surveybot knows",
                        f"write it as name and code, e.g. '{tokens[0]}::{written} (xx)' with the "
                        "language's ISO 639 code",
                        code="language",
                    )
                )
                continue
        elif rest:
            detail = "::".join(rest) if detail is None else f"{detail}::{'::'.join(rest)}"
        columns.append(Column(header, field, lang, detail))
    return columns, problems
