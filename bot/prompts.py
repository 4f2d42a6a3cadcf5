"""How a question is put to a respondent: its text (with earlier answers piped in) and its choices.

Used by the engine for every question and by ``surveybot validate``/``cost`` to measure prompts,
so both always see the same words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.models import AnswerValue, Reply, ReplyChoice
from bot.schema import (
    ChoiceQuestion,
    ConsentQuestion,
    Flow,
    InfoQuestion,
    MultiQuestion,
    Question,
    ScaleQuestion,
    YesNoQuestion,
)
from bot.text import LText, tr

PIPE = re.compile(r"\{([a-z][a-z0-9_]*)\}")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

YES_NO_LABELS: dict[str, tuple[str, str]] = {
    "en": ("Yes", "No"),
    "gu": ("હા", "ના"),
    "pa": ("ਹਾਂ", "ਨਹੀਂ"),
    "pl": ("Tak", "Nie"),
    "ur": ("ہاں", "نہیں"),
    "so": ("Haa", "Maya"),
    "bn": ("হ্যাঁ", "না"),
}


def keys_for(q: ChoiceQuestion | MultiQuestion, n: int) -> list[str]:
    return list(LETTERS[:n]) if q.letters and n <= len(LETTERS) else [str(i + 1) for i in range(n)]


def answer_label(q: Question, value: AnswerValue | None, lang: str) -> str:
    """An answer in words, for piping into later text and for reports."""
    if value is None:
        return ""
    if isinstance(q, ChoiceQuestion | MultiQuestion):
        labels = {c.id: tr(c.label, lang) for c in q.all_choices()}
        if isinstance(value, list):
            words = [labels.get(v, v) for v in value]
            return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
        return labels.get(str(value), str(value))
    if isinstance(q, ScaleQuestion) and isinstance(value, int):
        label = q.point_label(value, lang)
        return label if label and q.choices is not None else str(value)
    if isinstance(value, bool):
        yes, no = YES_NO_LABELS.get(lang, YES_NO_LABELS["en"])
        return (yes if value else no).lower()
    return str(value)


def pipe(text: LText, flow: Flow, answers: Mapping[str, AnswerValue | None], lang: str) -> str:
    """Fill ``{question_id}`` with earlier answers; unknown names are left as written."""
    raw = tr(text, lang)

    def fill(m: re.Match[str]) -> str:
        q = flow.question(m.group(1))
        if q is None:
            return m.group(0)
        return answer_label(q, answers.get(q.id), lang)

    return PIPE.sub(fill, raw) if "{" in raw else raw


_CHOICES: dict[tuple[int, str], tuple[Question, list[ReplyChoice]]] = {}
_REPLIES: dict[tuple[int, str, bool], tuple[Question, Reply]] = {}


def question_choices(q: Question, lang: str) -> list[ReplyChoice]:
    """The choices shown for ``q`` (cached per question and language: flows are immutable)."""
    key = (id(q), lang)
    hit = _CHOICES.get(key)
    if hit is not None and hit[0] is q:
        return hit[1]
    if len(_CHOICES) > 4096:
        _CHOICES.clear()
    choices = _build_choices(q, lang)
    _CHOICES[key] = (q, choices)
    return choices


def _build_choices(q: Question, lang: str) -> list[ReplyChoice]:
    if isinstance(q, ChoiceQuestion | MultiQuestion):
        cs = q.all_choices()
        return [
            ReplyChoice(key=k, value=c.id, label=tr(c.label, lang))
            for k, c in zip(keys_for(q, len(cs)), cs, strict=True)
        ]
    if isinstance(q, ScaleQuestion):
        return [
            ReplyChoice(key=str(n), value=str(n), label=q.point_label(n, lang) or "")
            for n in range(q.low, q.high + 1)
        ]
    if isinstance(q, YesNoQuestion | ConsentQuestion):
        yes, no = YES_NO_LABELS.get(lang, YES_NO_LABELS["en"])
        return [
            ReplyChoice(key="YES", value="yes", label=yes),
            ReplyChoice(key="NO", value="no", label=no),
        ]
    return []


def question_reply(
    flow: Flow,
    q: Question,
    lang: str,
    answers: Mapping[str, AnswerValue | None],
    *,
    prefix: str = "",
    voice: bool = False,
) -> Reply:
    """The question as put to the respondent; ``voice``: on a phone call (its ``voice:`` text
    when it has one)."""
    if not prefix:
        hit = _REPLIES.get((id(q), lang, voice))
        if hit is not None and hit[0] is q:
            return hit[1]
    written = q.voice if voice and q.voice is not None else q.text
    text = pipe(written, flow, answers, lang)
    if prefix:
        text = f"{prefix}\n{text}"
    if isinstance(q, InfoQuestion):
        return Reply(text=text, question=q.id, kind="info", lang=lang)
    reply = Reply(
        text=text,
        choices=question_choices(q, lang),
        multi=isinstance(q, MultiQuestion),
        question=q.id,
        kind="question",
        lang=lang,
    )
    if not prefix and "{" not in tr(written, lang):
        # Nothing piped in: the same frozen reply serves every respondent.
        if len(_REPLIES) > 4096:
            _REPLIES.clear()
        _REPLIES[(id(q), lang, voice)] = (q, reply)
    return reply
