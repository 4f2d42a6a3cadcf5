"""Checks on the fields that teach the bot officers' answer words: ``pack``, ``phrases``,
``range``, ``means`` and ``answer_words``. Each problem names the file, line and a fix.

Called by :func:`bot.validate.check_flow`. Errors reject the file; warnings let it load but say
what the bot will do with the words (often: ignore them, or ask again).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Protocol

from bot import words as W
from bot.bands import Band, band_of_label, band_of_range
from bot.packs import PACKS
from bot.schema import Choice, ChoiceQuestion, Flow, MultiQuestion, Question, ScaleQuestion
from bot.standard import CONCEPTS, concept_of_label
from bot.words import normalise

if TYPE_CHECKING:
    from bot.yamlsafe import Path


class _Report(Protocol):
    """Where the problems go (``bot.validate``'s report, which calls this module: seen through
    this protocol, so the two never import each other)."""

    def add(
        self,
        path: Path,
        message: str,
        hint: str | None = None,
        *,
        question: str | None = None,
        severity: str = "error",
        code: str = "invalid",
    ) -> None: ...


__all__ = ["check_answer_words"]


def check_answer_words(flow: Flow, report: _Report) -> None:
    for i, q in enumerate(flow.questions):
        if isinstance(q, ChoiceQuestion | MultiQuestion):
            _check_packs(q, i, report)
        if isinstance(q, ChoiceQuestion | MultiQuestion | ScaleQuestion) and q.choices:
            choices = list(q.choices)
            _check_phrases(flow, q, i, choices, report)
            _check_means(q, i, choices, report)
            if isinstance(q, ChoiceQuestion):
                _check_bands(q, i, choices, report)
            else:
                _check_ranges_unused(q, i, choices, report)
    _check_flow_words(flow, report)


def _standard(c: Choice) -> str | None:
    labels = [c.label] if isinstance(c.label, str) else list(c.label.values())
    return c.means or concept_of_label(labels)


def _ids(ids: Iterable[str]) -> str:
    return ", ".join(sorted(ids))


# --- pack ----------------------------------------------------------------------------------------


def _check_packs(q: ChoiceQuestion | MultiQuestion, i: int, report: _Report) -> None:
    mine = {c.id for c in q.choices}
    for name in q.packs():
        known = set(PACKS[name])
        where: Path = ("questions", i, "pack")
        shared = mine & known
        if not shared:
            report.add(
                where,
                f"answer pack {name!r} shares no choice id with this question, so it adds "
                f"no words (this question's ids: {_ids(mine)})",
                f"give the choices the pack's ids (it knows: {_ids(known)}), or remove pack:",
                question=q.id,
                code="pack_ids",
            )
            continue
        for j, c in enumerate(q.choices):
            if c.id in known or _standard(c) is not None:
                continue
            close = _nearest(c.id, known)
            report.add(
                ("questions", i, "choices", j, "id"),
                f"choice {c.id!r} gets no words from answer pack {name!r} (not one of its ids)",
                f"did you mean id: {close}?"
                if close
                else f"fine if no pack word fits it; the pack's ids are: {_ids(known)}",
                question=q.id,
                severity="warning",
                code="pack_ids",
            )


def _nearest(word: str, options: Iterable[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.75)
    return found[0] if found else None


# --- phrases and synonyms --------------------------------------------------------------------------


def _phrase_lists(c: Choice) -> list[tuple[str | None, int, str]]:
    """(language or None, index, phrase) of a choice's phrases."""
    if isinstance(c.phrases, list):
        return [(None, k, p) for k, p in enumerate(c.phrases)]
    return [(lang, k, p) for lang, ps in c.phrases.items() for k, p in enumerate(ps)]


def _check_phrases(
    flow: Flow, q: Question, i: int, choices: Sequence[Choice], report: _Report
) -> None:
    from bot.answers import contested, phrase_words

    def path(j: int, field: str, lang: str | None, k: int) -> Path:
        return ("questions", i, "choices", j, field, *((lang,) if lang else ()), k)

    owners: dict[tuple[str, ...], tuple[int, str]] = {}
    every: list[tuple[int, str | None, int, str, tuple[str, ...]]] = []  # ..., text, stems
    for j, c in enumerate(choices):
        for field in ("phrases", "synonyms"):
            value = getattr(c, field)
            if isinstance(value, dict):
                for lang in value:
                    if lang not in flow.languages:
                        report.add(
                            ("questions", i, "choices", j, field, lang),
                            f"{field} for language {lang!r}, which this flow is not in",
                            f"the flow's languages are: {', '.join(flow.languages)}",
                            question=q.id,
                            severity="warning",
                            code="phrase_language",
                        )
            items = (
                _phrase_lists(c)
                if field == "phrases"
                else [
                    (lang, k, w)
                    for lang, ws in (
                        [(None, value)] if isinstance(value, list) else list(value.items())
                    )
                    for k, w in enumerate(ws)
                ]
            )
            for lang, k, text in items:
                words = tuple(normalise(text).split())
                bare = text.strip()
                if field == "phrases" and (
                    not words or bare.startswith(("...", "…")) or bare.endswith(("...", "…"))
                ):
                    report.add(
                        path(j, field, lang, k),
                        f"phrase {text!r} has no words, or starts or ends with '...'",
                        "'...' stands between words, e.g. 'I ... care for'",
                        question=q.id,
                        code="phrase",
                    )
                    continue
                if not words:
                    continue
                key = words
                first = owners.get(key)
                if first is not None and first[1] != c.id:
                    report.add(
                        path(j, field, lang, k),
                        f"{text!r} is given to choice {first[1]!r} too, so a reply with it names "
                        "neither and is asked again",
                        f"keep it on one choice only (it is also on choice {first[1]!r})",
                        question=q.id,
                        severity="warning",
                        code="phrase_shared",
                    )
                owners.setdefault(key, (j, c.id))
                if field == "phrases":
                    every.append((j, lang, k, text, phrase_words(text)))
    for j, lang, k, text, words in every:
        others = [(t, w) for jj, _, _, t, w in every if choices[jj].id != choices[j].id]
        if contested(words, [w for _, w in others]):
            longer = next(
                t for t, w in others if len(w) > len(words) and tuple(w[: len(words)]) == words
            )
            report.add(
                path(j, "phrases", lang, k),
                f"phrase {text!r} is only the start of another choice's phrase ({longer!r}): "
                "found alone it could be the start of either, so it names neither",
                f"make it longer (e.g. {text + ' ...'!r} with the words that make it this "
                "choice), or remove it",
                question=q.id,
                severity="warning",
                code="phrase_contested",
            )


# --- means ---------------------------------------------------------------------------------------


def _check_means(q: Question, i: int, choices: Sequence[Choice], report: _Report) -> None:
    seen: dict[str, str] = {}
    for j, c in enumerate(choices):
        labels = [c.label] if isinstance(c.label, str) else list(c.label.values())
        by_label = concept_of_label(labels)
        if c.means is not None and by_label is not None and by_label != c.means:
            report.add(
                ("questions", i, "choices", j, "means"),
                f"means: {c.means} but the label says {by_label}",
                f"write means: {by_label}, or remove means: (the label is enough)",
                question=q.id,
                severity="warning",
                code="means",
            )
        concept = c.means or by_label
        if concept is None:
            continue
        if concept in seen:
            report.add(
                ("questions", i, "choices", j, "means" if c.means else "label"),
                f"choices {seen[concept]!r} and {c.id!r} both mean {concept}, so its words "
                "name neither",
                "keep one choice for each standard answer",
                question=q.id,
                severity="warning",
                code="means",
            )
        seen.setdefault(concept, c.id)


# --- range ---------------------------------------------------------------------------------------


def _band(c: Choice) -> Band | None:
    if c.range is not None:
        return band_of_range(*c.range)
    return band_of_label(c.label["en"] if isinstance(c.label, dict) and "en" in c.label else (
        c.label if isinstance(c.label, str) else next(iter(c.label.values()))
    ))  # fmt: skip


def _show(b: Band) -> str:
    lo = "" if b.low == -math.inf else f"{b.low:g}"
    hi = "" if b.high == math.inf else f"{b.high - 1:g}"
    return f"{lo} to {hi}".strip() if lo and hi else (f"{lo} or more" if lo else f"{hi} or less")


def _same_band(said: Band, given: Band) -> bool:
    """Whether a label's band and a range agree ("9 hours or fewer" is [0, 9]: a label's open
    end below agrees with any range starting at 0 or below)."""
    low_ok = said.low == given.low or (said.low == -math.inf and given.low <= 0)
    return low_ok and said.high == given.high


def _check_bands(q: ChoiceQuestion, i: int, choices: Sequence[Choice], report: _Report) -> None:
    bands = [(j, c, band) for j, c in enumerate(choices) if (band := _band(c)) is not None]
    for j, c in enumerate(choices):
        if c.range is None:
            continue
        said = band_of_label(c.label["en"] if isinstance(c.label, dict) and "en" in c.label
                             else c.label if isinstance(c.label, str) else "")  # fmt: skip
        given = band_of_range(*c.range)
        if said is not None and not _same_band(said, given):
            report.add(
                ("questions", i, "choices", j, "range"),
                f"range: is {_show(given)} but the label says {_show(said)}",
                "make them agree: numbers are read by range:, people read the label",
                question=q.id,
                severity="warning",
                code="range",
            )
    if not any(c.range is not None for c in choices):
        return  # bands read from labels alone: left as they are (see README)
    if len(bands) < 2:
        j = next(j for j, c in enumerate(choices) if c.range is not None)
        report.add(
            ("questions", i, "choices", j, "range"),
            "only one choice is a band, so numbers are not read into bands here",
            "give every band its range: (or a label like '10 to 19 hours')",
            question=q.id,
            severity="warning",
            code="range",
        )
        return
    loose = [c.id for c in choices if _band(c) is None and _standard(c) is None]
    if loose:
        report.add(
            ("questions", i, "choices"),
            f"numbers are read into bands only when every other choice is a standard answer "
            f"(prefer not to say, don't know); {_ids(loose)} is neither",
            "give it a range:, or means: prefer_not (or dont_know) if that is what it is",
            question=q.id,
            severity="warning",
            code="range",
        )
    ordered = sorted(bands, key=lambda t: (t[2].low, t[2].high))
    for (_, a, ba), (j, b, bb) in pairwise(ordered):
        if bb.low < ba.high:
            report.add(
                ("questions", i, "choices", j, "range" if b.range else "label"),
                f"choices {a.id!r} ({_show(ba)}) and {b.id!r} ({_show(bb)}) overlap, so a "
                "number in both is never understood",
                "make the bands meet without overlapping, e.g. [0, 9] and [10, 19]",
                question=q.id,
                code="range_overlap",
            )
        elif bb.low > ba.high:
            report.add(
                ("questions", i, "choices", j, "range" if b.range else "label"),
                f"no choice holds the numbers between {a.id!r} ({_show(ba)}) and {b.id!r} "
                f"({_show(bb)})",
                "fine if nobody can answer those; else widen one of the bands",
                question=q.id,
                severity="warning",
                code="range_gap",
            )


def _check_ranges_unused(
    q: MultiQuestion | ScaleQuestion, i: int, choices: Sequence[Choice], report: _Report
) -> None:
    for j, c in enumerate(choices):
        if c.range is not None:
            report.add(
                ("questions", i, "choices", j, "range"),
                f"range: is read only on a choice question, not on a {q.type} question",
                "remove it, or make the question type: choice",
                question=q.id,
                severity="warning",
                code="range",
            )


# --- answer_words ----------------------------------------------------------------------------------


def _check_flow_words(flow: Flow, report: _Report) -> None:
    meant: set[str] = set()
    for q in flow.questions:
        if isinstance(q, ChoiceQuestion | MultiQuestion | ScaleQuestion) and q.choices:
            meant.update(s for c in q.choices if (s := _standard(c)) is not None)
    commands = {normalise(w): name for name in W.COMMANDS for w in W.words_for(name, "en")}
    for lang, per in flow.answer_words.items():
        if lang not in flow.languages and lang != "en":
            report.add(
                ("answer_words", lang),
                f"answer_words for language {lang!r}, which this flow is not in",
                f"the flow's languages are: {', '.join(flow.languages)}",
                severity="warning",
                code="answer_words",
            )
        owner: dict[str, str] = {}
        for concept, ws in per.items():
            if concept not in meant:
                report.add(
                    ("answer_words", lang, concept),
                    f"no choice in this flow means {concept}, so these words are never used",
                    f"label a choice as one (e.g. 'Prefer not to say'), or add means: {concept}"
                    if concept in CONCEPTS
                    else None,
                    severity="warning",
                    code="answer_words",
                )
            for k, w in enumerate(ws):
                folded = normalise(w)
                where: Path = ("answer_words", lang, concept, k)
                if not folded:
                    report.add(where, f"{w!r} has no letters or digits", None, code="answer_words")
                    continue
                if folded in commands:
                    report.add(
                        where,
                        f"{w!r} is the {commands[folded].upper()} command: sent alone it does "
                        "that, never answers",
                        "remove it",
                        severity="warning",
                        code="answer_words",
                    )
                if folded in owner and owner[folded] != concept:
                    report.add(
                        where,
                        f"{w!r} is given for both {owner[folded]} and {concept}, so it "
                        "names neither",
                        "keep it under one",
                        severity="warning",
                        code="answer_words",
                    )
                owner.setdefault(folded, concept)
