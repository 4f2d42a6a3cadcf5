"""The officer's loop: replies the bot did not understand, or had to check, and what they teach.

Pure functions, no I/O. :func:`misses_of` turns one step into the entries to log (its
``not_understood`` and ``confirm`` events, with the reply masked by :func:`mask`);
:func:`summarise` groups logged entries by question and reply, with the answer each person
finally gave (read from their response), and suggests synonyms ("'hubby' was followed by choice
'partner' 14 times: add it?"). ``store.misses`` keeps the entries; ``surveybot misses`` prints
the summary.

Masking happens before anything is stored: phone numbers, email addresses and the inward half of
full postcodes (``LE4 7XY`` -> ``LE4 ***``) never reach the log. The district stays: it is what
the survey itself keeps.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.models import AnswerValue, Step
from bot.schema import Choice, ChoiceQuestion, Flow, MultiQuestion, Question, ScaleQuestion
from bot.text import tr
from bot.words import normalise

__all__ = [
    "MAX_TEXT",
    "Miss",
    "QuestionMisses",
    "ReplyMisses",
    "Suggestion",
    "Summary",
    "mask",
    "misses_of",
    "summarise",
]

MAX_TEXT = 160
"""Longest reply kept (after masking): enough to read what was meant, bounded for a flood."""

KINDS = {"not_understood": "n", "confirm": "c"}
"""Engine events that are misses, and their one-letter code in the log."""

_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# Seven or more digits, with the spaces, dots, dashes and brackets people put in numbers.
_PHONE = re.compile(r"(?<![\w])\+?\(?\d[\d\s().\-/]{5,}\d(?![\w])")
_FULL_POSTCODE = re.compile(
    r"(?<![A-Za-z0-9])([A-Za-z]{1,2}[0-9][A-Za-z0-9]?)\s*([0-9][A-Za-z]{2})(?![A-Za-z0-9])"
)


def mask(text: str) -> str:
    """``text`` without phone numbers, email addresses or full postcodes (the district kept),
    cut to :data:`MAX_TEXT` characters."""
    out = _EMAIL.sub("[email]", text)
    out = _PHONE.sub(lambda m: "[phone]" if _digits(m.group(0)) >= 7 else m.group(0), out)
    out = _FULL_POSTCODE.sub(lambda m: f"{m.group(1).upper()} ***", out)
    out = " ".join(out.split())
    return out if len(out) <= MAX_TEXT else out[: MAX_TEXT - 1] + "…"


def _digits(s: str) -> int:
    return sum(c.isdigit() for c in s)


@dataclass(frozen=True)
class Miss:
    """One reply that was not understood (``kind`` ``n``) or needed a check (``c``)."""

    question: str
    text: str  # masked
    kind: str
    at: datetime
    reason: str | None = None  # why it was not understood (the parser's reason code)
    offered: AnswerValue | None = None  # what the check offered


def misses_of(step: Step, text: str, now: datetime) -> list[Miss]:
    """The entries one step adds to the log: the message ``text`` (masked) at each question it
    was not understood at or needed a check at."""
    out: list[Miss] = []
    masked: str | None = None
    for e in step.events:
        kind = KINDS.get(e.kind)
        if kind is None or e.question is None:
            continue
        if masked is None:
            masked = mask(text)
        if not masked:
            continue
        offered = None
        pending = step.session.pending
        if kind == "c" and pending is not None and pending.kind == "confirm":
            offered = pending.value
        out.append(Miss(e.question, masked, kind, now, e.data.get("reason"), offered))
    return out


# --- the summary -------------------------------------------------------------------------------

NO_ANSWER = "(no answer yet)"


@dataclass
class ReplyMisses:
    """One reply (as folded for matching), how often it was sent and what followed it."""

    text: str  # the most common way it was written
    replies: int = 0
    people: set[str] = field(default_factory=set)
    kinds: Counter[str] = field(default_factory=Counter)
    finally_gave: Counter[str] = field(default_factory=Counter)  # answer label -> people
    final_ids: Counter[str] = field(default_factory=Counter)  # one choice id -> people
    forms: Counter[str] = field(default_factory=Counter)


@dataclass
class QuestionMisses:
    question: str
    label: str
    replies: int = 0
    people: set[str] = field(default_factory=set)
    by_reply: dict[str, ReplyMisses] = field(default_factory=dict)

    def top(self, n: int) -> list[ReplyMisses]:
        return sorted(self.by_reply.values(), key=lambda r: (-len(r.people), -r.replies, r.text))[
            :n
        ]


@dataclass(frozen=True)
class Suggestion:
    question: str
    text: str
    choice: str
    label: str
    people: int

    def sentence(self) -> str:
        return (
            f"'{self.text}' was followed by choice '{self.choice}' ({self.label}) "
            f"{self.people} times at {self.question}: add it to its synonyms?"
        )


@dataclass
class Summary:
    flow: str
    questions: list[QuestionMisses]
    suggestions: list[Suggestion]

    @property
    def replies(self) -> int:
        return sum(q.replies for q in self.questions)

    @property
    def people(self) -> int:
        return len(set().union(*(q.people for q in self.questions))) if self.questions else 0


def _answer_label(q: Question | None, value: AnswerValue | None, lang: str = "en") -> str:
    if value is None:
        return NO_ANSWER
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(q, ChoiceQuestion | MultiQuestion):
        labels = {c.id: tr(c.label, lang) for c in q.all_choices()}
        if isinstance(value, list):
            return ", ".join(labels.get(str(v), str(v)) for v in value) or "(none)"
        return labels.get(str(value), str(value))
    if isinstance(q, ScaleQuestion) and isinstance(value, int):
        return q.point_label(value, lang) or str(value)
    return str(value)


def _one_choice(q: Question | None, value: AnswerValue | None) -> str | None:
    """The single choice id an answer is, on a question whose choices take synonyms."""
    if isinstance(q, ChoiceQuestion) and isinstance(value, str):
        return value
    if isinstance(q, MultiQuestion) and isinstance(value, list) and len(value) == 1:
        return str(value[0])
    if isinstance(q, ScaleQuestion) and q.choices and isinstance(value, int) and value >= 1:
        return q.choices[value - 1].id if value <= len(q.choices) else None
    return None


def _choices(q: Question | None) -> list[Choice]:
    if isinstance(q, ChoiceQuestion | MultiQuestion):
        return q.all_choices()
    if isinstance(q, ScaleQuestion) and q.choices:
        return list(q.choices)
    return []


def _choice_label(q: Question | None, choice: str) -> str:
    return next((tr(c.label, "en") for c in _choices(q) if c.id == choice), choice)


def _flat(words: Iterable[str] | Iterable[list[str]]) -> list[str]:
    return [w for item in words for w in ([item] if isinstance(item, str) else item)]


def _known_words(q: Question) -> set[str]:
    """What the question already answers to by its own text: labels and synonyms."""
    out: set[str] = set()
    for c in _choices(q):
        labels = [c.label] if isinstance(c.label, str) else list(c.label.values())
        out.update(normalise(t) for t in labels)
        syn = c.synonyms if isinstance(c.synonyms, list) else c.synonyms.values()
        out.update(normalise(s) for s in _flat(syn))
    return out


def summarise(
    flow: Flow,
    records: Iterable[tuple[str, Sequence[Miss], Mapping[str, AnswerValue | None]]],
    *,
    min_people: int = 3,
    share: float = 0.75,
) -> Summary:
    """Group the logged misses by question (in the flow's order) and reply.

    ``records`` are (respondent, their misses, their final answers by question id). A reply is
    suggested as a synonym when, at a question whose choices take synonyms, at least
    ``min_people`` people who sent it went on to answer the same single choice, and that choice
    is at least ``share`` of those who answered at all. Short replies only (four words or fewer,
    not a number), and not one the question already knows."""
    by_q: dict[str, QuestionMisses] = {}
    for rid, misses, finals in records:
        for m in misses:
            q = flow.question(m.question)
            qm = by_q.get(m.question)
            if qm is None:
                label = (q.label or m.question) if q is not None else m.question
                qm = by_q[m.question] = QuestionMisses(m.question, tr(label, "en"))
            qm.replies += 1
            qm.people.add(rid)
            key = normalise(m.text) or m.text
            rm = qm.by_reply.get(key)
            if rm is None:
                rm = qm.by_reply[key] = ReplyMisses(m.text)
            rm.replies += 1
            rm.kinds[m.kind] += 1
            rm.forms[m.text] += 1
            if rid not in rm.people:
                rm.people.add(rid)
                final = finals.get(m.question)
                rm.finally_gave[_answer_label(q, final)] += 1
                one = _one_choice(q, final)
                if one is not None:
                    rm.final_ids[one] += 1
    order = {q.id: i for i, q in enumerate(flow.questions)}
    questions = sorted(by_q.values(), key=lambda qm: (order.get(qm.question, 1 << 30), qm.question))
    suggestions: list[Suggestion] = []
    for qm in questions:
        q = flow.question(qm.question)
        if q is None:
            continue
        known = _known_words(q)
        for key, rm in qm.by_reply.items():
            rm.text = rm.forms.most_common(1)[0][0]
            if not rm.final_ids or len(key.split()) > 4 or key in known:
                continue
            if key.replace(" ", "").isdigit() or "[" in rm.text or "***" in rm.text:
                continue
            choice, n = rm.final_ids.most_common(1)[0]
            answered = sum(v for k, v in rm.finally_gave.items() if k != NO_ANSWER)
            if n >= min_people and n >= share * answered:
                suggestions.append(
                    Suggestion(qm.question, key, choice, _choice_label(q, choice), n)
                )
    suggestions.sort(key=lambda s: (-s.people, s.question, s.text))
    return Summary(flow.id, questions, suggestions)
