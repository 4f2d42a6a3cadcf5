"""Checks on a flow beyond its shape: conditions, jumps, reachability, piping, translations, SMS.

Errors reject the file; warnings (long or costly SMS, missing translations) let it load.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from bot import expr, sms, voice
from bot.errors import ExpressionError, Problem
from bot.prompts import PIPE, question_reply
from bot.schema import (
    END,
    TEMPLATE_FIELDS,
    ChoiceQuestion,
    ConsentQuestion,
    Flow,
    MultiQuestion,
    Question,
    ScaleQuestion,
    WhatsApp,
    YesNoQuestion,
    _Question,
    whatsapp_template,
)
from bot.text import LText
from bot.validate_words import check_answer_words
from bot.yamlsafe import Located, Path

SMS_MAX_SEGMENTS = 2
SMS_MAX_CHOICES = 9
REMINDER_FIELDS = {"progress", "title", "answered", "total"}
CONDITION_HINT = (
    "a condition compares an earlier answer with a value: numbers without quotes "
    '(hours >= 20), choice ids in quotes (role == "carer"), yes/no questions with yes or no'
)


class UncheckedQuestion(_Question):
    """Stands in for a question whose own settings are wrong (already reported), so that the rest
    of the flow can still be checked: its id, ``when:`` and ``next:`` take part, nothing else."""

    type: Literal["unchecked"] = "unchecked"


class _Report:
    def __init__(self, located: Located, file: str) -> None:
        self.located = located
        self.file = file
        self.problems: list[Problem] = []

    def add(
        self,
        path: Path,
        message: str,
        hint: str | None = None,
        *,
        question: str | None = None,
        severity: str = "error",
        code: str = "invalid",
    ) -> None:
        line, col = self.located.where(path)
        self.problems.append(Problem(self.file, line, col, message, hint, question, severity, code))

    def add_inside(
        self,
        path: Path,
        offset: int,
        message: str,
        hint: str | None = None,
        *,
        question: str | None = None,
        severity: str = "error",
        code: str = "invalid",
    ) -> None:
        """A problem at character ``offset`` (1-based) of the text at ``path``."""
        line, col = self.located.inside(path, offset)
        self.problems.append(Problem(self.file, line, col, message, hint, question, severity, code))


@dataclass(frozen=True)
class Channels:
    """How the bot is set up, for the checks that depend on it (``surveybot validate`` reads
    the settings): WhatsApp on, and the settings' WhatsApp templates."""

    whatsapp: bool = False
    whatsapp_templates: WhatsApp | None = None


def check_flow(
    flow: Flow | None, located: Located, file: str, channels: Channels | None = None
) -> list[Problem]:
    report = _Report(located, file)
    _check_raw(located.data, report)
    if flow is not None:
        _check_choices(flow, report)
        check_answer_words(flow, report)
        _check_conditions(flow, report)
        _check_jumps(flow, report)
        _check_piping(flow, report)
        _check_settings(flow, report)
        _check_translations(flow, report)
        _check_sms(flow, report)
        _check_voice(flow, report)
        _check_whatsapp(flow, report, channels or Channels())
    return report.problems


# --- checks that need only the raw data (run even when the shape is wrong) ------------------------


def _check_raw(data: Any, report: _Report) -> None:
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        return
    first: dict[str, int] = {}
    for i, q in enumerate(data["questions"]):
        if not isinstance(q, dict):
            continue
        qid = q.get("id")
        if isinstance(qid, str):
            if qid in first:
                line = report.located.where(("questions", first[qid], "id"))[0]
                report.add(
                    ("questions", i, "id"),
                    f"duplicate question id {qid!r}",
                    f"already used on line {line}; each question needs its own id",
                    question=qid,
                    code="duplicate_id",
                )
            else:
                first[qid] = i
        if q.get("choices") == [] and q.get("type") not in (
            "text",
            "yesno",
            "number",
            "date",
            "postcode",
            "info",
            "consent",
        ):
            report.add(
                ("questions", i, "choices"),
                "the choice list is empty",
                "add at least two choices, each with an id and a label",
                question=qid if isinstance(qid, str) else None,
                code="empty_choices",
            )


# --- per-question checks ----------------------------------------------------------------------


def _check_choices(flow: Flow, report: _Report) -> None:
    for i, q in enumerate(flow.questions):
        if isinstance(q, ScaleQuestion) and q.choices and len(q.choices) > SMS_MAX_CHOICES:
            report.add(
                ("questions", i, "choices"),
                f"{len(q.choices)} points is a lot to read by SMS",
                "5 or 7 labelled points work best",
                question=q.id,
                severity="warning",
                code="sms_many_choices",
            )
        if isinstance(q, ChoiceQuestion | MultiQuestion) and q.choices:  # empty: see _check_raw
            if len(q.choices) == 1 and q.other is None:
                report.add(
                    ("questions", i, "choices"),
                    "a choice question needs at least two choices",
                    "add another choice, or use type: yesno or type: info",
                    question=q.id,
                    code="one_choice",
                )
            seen: dict[str, int] = {}
            for j, c in enumerate(q.all_choices()):
                if c.id in seen:
                    where: Path = ("questions", i, "choices", min(j, len(q.choices) - 1), "id")
                    report.add(
                        where,
                        f"duplicate choice id {c.id!r}",
                        "each choice in a question needs its own id ('other' and 'none' "
                        "are taken when other: or none_of_these: is set)",
                        question=q.id,
                        code="duplicate_choice",
                    )
                seen[c.id] = j
            n = len(q.all_choices())
            if n > SMS_MAX_CHOICES:
                report.add(
                    ("questions", i, "choices"),
                    f"{n} choices is a lot to read by SMS",
                    "9 or fewer work best; consider a broad question first, then a "
                    "detailed one with when:",
                    question=q.id,
                    severity="warning",
                    code="sms_many_choices",
                )
            if isinstance(q, MultiQuestion):
                if q.min_picks > n:
                    report.add(
                        ("questions", i, "min_picks"),
                        f"min_picks is {q.min_picks} but there are only {n} choices",
                        None,
                        question=q.id,
                        code="picks",
                    )
                if q.max_picks is not None and q.max_picks < q.min_picks:
                    report.add(
                        ("questions", i, "max_picks"),
                        "max_picks is below min_picks",
                        None,
                        question=q.id,
                        code="picks",
                    )


def _check_conditions(flow: Flow, report: _Report) -> None:
    all_ids = [q.id for q in flow.questions]
    earlier: dict[str, Question] = {}
    for i, q in enumerate(flow.questions):
        if q.when is not None:
            path: Path = ("questions", i, "when")
            try:
                tree = expr.parse(q.when)
            except ExpressionError as exc:
                report.add_inside(
                    path,
                    exc.column,
                    f"the condition has a mistake at character {exc.column}: {exc.message}",
                    exc.hint,
                    question=q.id,
                    code="condition_syntax",
                )
            else:
                for issue in expr.check(tree, earlier, all_ids):
                    report.add_inside(
                        path,
                        issue.column,
                        f"condition: {issue.message}",
                        issue.hint or CONDITION_HINT,
                        question=q.id,
                        code="condition",
                    )
        earlier[q.id] = q


def _targets(q: Question) -> dict[str, str]:
    if q.next is None:
        return {}
    if isinstance(q.next, str):
        return {"*": q.next}
    return dict(q.next)


def _valid_next_keys(q: Question) -> set[str] | None:
    if isinstance(q, ChoiceQuestion | MultiQuestion):
        return {c.id for c in q.all_choices()}
    if isinstance(q, YesNoQuestion | ConsentQuestion):
        return {"yes", "no"}
    if isinstance(q, ScaleQuestion):
        return {str(n) for n in range(q.low, q.high + 1)}
    return None


def successors(flow: Flow, index: int) -> list[int | None]:
    """Where question ``index`` can lead (indexes; None = the end), ignoring ``when:``."""
    q = flow.questions[index]
    follow: int | None = index + 1 if index + 1 < len(flow.questions) else None
    targets = _targets(q)
    if not targets:
        return [follow]
    out: list[int | None] = []
    for key, target in targets.items():
        out.append(
            None
            if target == END
            else (flow.position(target) if flow.position(target) >= 0 else None)
        )
        del key
    if isinstance(q.next, dict) and "default" not in q.next:
        out.append(follow)
    return out


def _check_jumps(flow: Flow, report: _Report) -> None:
    ids = [q.id for q in flow.questions]
    bad = False
    for i, q in enumerate(flow.questions):
        if q.next is None:
            continue
        base: Path = ("questions", i, "next")
        if isinstance(q.next, dict) and not isinstance(q, UncheckedQuestion):
            valid = _valid_next_keys(q)
            if valid is None:
                report.add(
                    base,
                    "next: by answer only works for choice, scale and yes/no questions",
                    "use a single question id, or when: on later questions",
                    question=q.id,
                    code="next_map",
                )
            else:
                for key in q.next:
                    if key != "default" and key not in valid:
                        close = difflib.get_close_matches(key, sorted(valid), n=1)
                        hint = (
                            f"did you mean {close[0]!r}?"
                            if close
                            else "answers: " + ", ".join(sorted(valid)) + ", or default"
                        )
                        report.add(
                            (*base, key),
                            f"next: {key!r} is not an answer to this question",
                            hint,
                            question=q.id,
                            code="next_key",
                        )
        for key, target in _targets(q).items():
            where = base if key == "*" else (*base, key)
            if target == END:
                continue
            if target not in ids:
                bad = True
                close = difflib.get_close_matches(target, ids, n=1)
                report.add(
                    where,
                    f"next: unknown question {target!r}",
                    f"did you mean {close[0]!r}?" if close else "use a question id or 'end'",
                    question=q.id,
                    code="next_unknown",
                )
            elif target == q.id:
                bad = True
                report.add(
                    where,
                    "next: a question cannot lead to itself",
                    "jump to a later question or 'end', or remove next:",
                    question=q.id,
                    code="next_cycle",
                )
    if bad or len(set(ids)) != len(ids):
        return  # with a jump to nowhere or two questions of one id, the paths are not known
    cycle = _find_cycle(flow)
    if cycle:
        names = " -> ".join(flow.questions[i].id for i in cycle)
        i = cycle[-2] if len(cycle) > 1 else cycle[0]
        report.add(
            ("questions", i, "next"),
            f"circular next: jumps: {names}",
            "a survey must always move towards the end; jump forwards only",
            question=flow.questions[i].id,
            code="next_cycle",
        )
        return
    reached = _reachable(flow)
    for i, q in enumerate(flow.questions):
        if i not in reached:
            report.add(
                ("questions", i, "id"),
                f"question {q.id!r} can never be reached",
                "a next: before it always jumps past it; change that next: or remove this question",
                question=q.id,
                code="unreachable",
            )


def _find_cycle(flow: Flow) -> list[int] | None:
    """A loop of ``next:`` jumps (indexes, first repeated at the end), without recursion."""
    state: dict[int, int] = {}  # 1 = on the path, 2 = done
    for start in range(len(flow.questions)):
        if start in state:
            continue
        path: list[int] = [start]
        todo: list[Iterator[int | None]] = [iter(successors(flow, start))]
        state[start] = 1
        while todo:
            j = next(todo[-1], -1)
            if j == -1:
                todo.pop()
                state[path.pop()] = 2
            elif j is None or state.get(j) == 2:
                continue
            elif state.get(j) == 1:
                return [*path[path.index(j) :], j]
            else:
                state[j] = 1
                path.append(j)
                todo.append(iter(successors(flow, j)))
    return None


def _reachable(flow: Flow) -> set[int]:
    seen = {0}
    todo = [0]
    while todo:
        for j in successors(flow, todo.pop()):
            if j is not None and j not in seen:
                seen.add(j)
                todo.append(j)
    return seen


def _texts(value: LText | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value.values())


def _located_texts(path: Path, value: LText | None) -> list[tuple[Path, str]]:
    """Each text of a (possibly per-language) value, with its own path."""
    if value is None:
        return []
    if isinstance(value, str):
        return [(path, value)]
    return [((*path, lang), text) for lang, text in value.items()]


def _check_piping(flow: Flow, report: _Report) -> None:
    ids = [q.id for q in flow.questions]

    def unknown(path: Path, offset: int, name: str, qid: str | None) -> None:
        close = difflib.get_close_matches(name, ids, n=1)
        report.add_inside(
            path,
            offset,
            f"{{{name}}} is not a question id",
            f"did you mean {{{close[0]}}}?"
            if close
            else "write {question_id} to show the answer to an earlier question",
            question=qid,
            code="pipe_unknown",
        )

    for i, q in enumerate(flow.questions):
        fields: list[tuple[Path, LText | None]] = [
            (("questions", i, "text"), q.text),
            (("questions", i, "hint"), q.hint),
            (("questions", i, "reprompt"), q.reprompt),
        ]
        if isinstance(q, ChoiceQuestion | MultiQuestion) and q.other is not None:
            fields.append((("questions", i, "other", "prompt"), q.other.prompt))
        if isinstance(q, ConsentQuestion):
            fields.append((("questions", i, "declined"), q.declined))
        for base, value in fields:
            for path, text in _located_texts(base, value):
                for m in PIPE.finditer(text):
                    name = m.group(1)
                    if name not in ids:
                        unknown(path, m.start() + 1, name, q.id)
                    elif ids.index(name) >= i:
                        report.add_inside(
                            path,
                            m.start() + 1,
                            f"{{{name}}} is not answered yet when this is sent",
                            "only answers to earlier questions can be shown",
                            question=q.id,
                            code="pipe_later",
                        )
    for path, text in _located_texts(("thanks",), flow.thanks):
        for m in PIPE.finditer(text):
            if m.group(1) not in ids:
                unknown(path, m.start() + 1, m.group(1), None)
    for path, text in _located_texts(("intro",), flow.intro):
        for m in PIPE.finditer(text):
            report.add_inside(
                path,
                m.start() + 1,
                f"{{{m.group(1)}}} cannot be used in the first message",
                "nothing has been answered yet when it is sent",
                code="pipe_later",
            )
    for path, text in _located_texts(("reminders", "text"), flow.reminders.text):
        for m in PIPE.finditer(text):
            if m.group(1) not in REMINDER_FIELDS:
                report.add_inside(
                    path,
                    m.start() + 1,
                    f"{{{m.group(1)}}} cannot be used in a reminder",
                    "use {progress}, {title}, {answered} or {total}",
                    code="pipe_unknown",
                )


def _check_settings(flow: Flow, report: _Report) -> None:
    o, c = flow.opens_at(), flow.closes_at()
    if o and c and o >= c:
        report.add(
            ("closes",),
            "the survey closes before it opens",
            "check opens: and closes:",
            code="dates",
        )
    for lang in flow.languages:
        if any(ch.isspace() for ch in lang) or not lang:
            report.add(
                ("languages",),
                f"{lang!r} is not a language code",
                "e.g. en, gu, pa, pl",
                code="language",
            )
    ids: set[str] = set()
    words: set[str] = set()
    for j, s in enumerate(flow.sources):
        if s.id in ids:
            report.add(
                ("sources", j, "id"), f"duplicate source id {s.id!r}", None, code="duplicate_source"
            )
        ids.add(s.id)
        if s.keyword:
            if s.keyword.upper() in words:
                report.add(
                    ("sources", j, "keyword"),
                    f"duplicate source keyword {s.keyword!r}",
                    None,
                    code="duplicate_source",
                )
            words.add(s.keyword.upper())
    intro_en = flow.intro if isinstance(flow.intro, str) else flow.intro.get("en", "")
    if intro_en and "STOP" not in intro_en:
        report.add(
            ("intro",),
            "the first message does not say how to stop",
            "add e.g. 'Text STOP to stop.'",
            severity="warning",
            code="intro_stop",
        )


def _walk_texts(flow: Flow, *, spoken: bool = True) -> Iterator[tuple[Path, LText, str | None]]:
    """Every text a respondent may be sent, with its path and question id (``spoken``: and the
    ``voice:`` texts a phone call says instead)."""
    yield ("title",), flow.title, None
    yield ("intro",), flow.intro, None
    yield ("thanks",), flow.thanks, None
    yield ("closed_text",), flow.closed_text, None
    if flow.reminders.text is not None:
        yield ("reminders", "text"), flow.reminders.text, None
    if flow.reminders.final is not None:
        yield ("reminders", "final"), flow.reminders.final, None
    for name in ("intro", "thanks", "closed_text") if spoken else ():
        said = getattr(flow.voice, name)
        if said is not None:
            yield ("voice", name), said, None
    for i, q in enumerate(flow.questions):
        if isinstance(q, UncheckedQuestion):
            continue
        base: Path = ("questions", i)
        yield (*base, "text"), q.text, q.id
        if q.voice is not None and spoken:
            yield (*base, "voice"), q.voice, q.id
        if q.hint is not None:
            yield (*base, "hint"), q.hint, q.id
        if q.reprompt is not None:
            yield (*base, "reprompt"), q.reprompt, q.id
        if isinstance(q, ChoiceQuestion | MultiQuestion | ScaleQuestion):
            for j, c in enumerate(q.choices or []):
                yield (*base, "choices", j, "label"), c.label, q.id
        if isinstance(q, ScaleQuestion):
            for n, label in q.labels.items():
                yield (*base, "labels", n), label, q.id
        if isinstance(q, MultiQuestion) and not isinstance(q.none_of_these, bool | None):
            yield (*base, "none_of_these"), q.none_of_these, q.id
        if isinstance(q, ChoiceQuestion | MultiQuestion) and q.other is not None:
            yield (*base, "other", "label"), q.other.label, q.id
            yield (*base, "other", "prompt"), q.other.prompt, q.id
        if isinstance(q, ConsentQuestion):
            yield (*base, "declined"), q.declined, q.id


def _has_words(text: str) -> bool:
    return sum(ch.isalpha() for ch in text) >= 3


def _unwritten(report: _Report, path: Path, langs: list[str], qid: str | None) -> None:
    """A text the file leaves to its built-in English default, in a flow with other languages."""
    name = ".".join(str(p) for p in path if not isinstance(p, int) and p != "questions")
    example = ", ".join(f"{lang}: ..." for lang in langs)
    where: Path = path[:2] if qid is not None else ("languages",)
    report.add(
        where,
        f"'{name}' is not set, so everyone gets the built-in English text",
        f"add {name.rsplit('.', 1)[-1]}: {{{example}}}",
        question=qid,
        severity="warning",
        code="translation",
    )


def _check_translations(flow: Flow, report: _Report) -> None:
    langs = flow.languages
    written = report.located.has
    if len(langs) < 2:
        # One language: a text map must still include it.
        for path, text, qid in _walk_texts(flow):
            if isinstance(text, dict) and langs[0] not in text:
                report.add(
                    path,
                    f"no text in {langs[0]!r}",
                    f"add '{langs[0]}:'",
                    question=qid,
                    code="translation",
                )
        return
    for path, text, qid in _walk_texts(flow):
        if isinstance(text, str):
            if not written(path):
                if _has_words(text):
                    _unwritten(report, path, langs, qid)
            elif _has_words(text) and path[-1] != "title":
                report.add(
                    path,
                    "this text has no translations",
                    "write it as a map: " + ", ".join(f"{lang}: ..." for lang in langs),
                    question=qid,
                    severity="warning",
                    code="translation",
                )
            continue
        missing = [lang for lang in langs if lang not in text]
        if missing:
            report.add(
                path,
                "missing translation: " + ", ".join(missing),
                "add " + ", ".join(f"'{m}:'" for m in missing),
                question=qid,
                severity="warning",
                code="translation",
            )
        extra = [lang for lang in text if lang not in langs]
        if extra:
            report.add(
                (*path, extra[0]),
                "text in a language the flow does not list: " + ", ".join(extra),
                "add it to languages: or remove it",
                question=qid,
                severity="warning",
                code="translation",
            )


def _latin(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return True
    latin = sum(1 for ch in letters if "LATIN" in unicodedata.name(ch, ""))
    return latin / len(letters) > 0.9


def _char_name(ch: str) -> str:
    name = unicodedata.name(ch, "").lower()
    return f"{ch!r} ({name})" if name else repr(ch)


def _check_sms(flow: Flow, report: _Report) -> None:
    """Length of each question as sent by SMS, and characters that make SMS cost more."""
    for i, q in enumerate(flow.questions):
        if isinstance(q, UncheckedQuestion):
            continue
        for lang in flow.languages:
            text = sms.render(question_reply(flow, q, lang, {}))
            info = sms.info(text)
            if info.segments > SMS_MAX_SEGMENTS:
                path: Path = ("questions", i, "text")
                if isinstance(q.text, dict) and lang in q.text:
                    path = (*path, lang)
                if info.encoding == "GSM-7":
                    detail = f"{info.length} characters"
                elif _latin(text):
                    culprits = " ".join(info.culprits[:3])
                    detail = f"{info.length} characters, as Unicode because of {culprits}"
                else:
                    detail = f"{info.length} characters; {lang} text always goes as Unicode"
                report.add(
                    path,
                    f"[{lang}] this question takes {info.segments} SMS messages ({detail})",
                    f"shorten the text or the choice labels to fit {SMS_MAX_SEGMENTS}; "
                    "each extra part costs money and is harder to read",
                    question=q.id,
                    severity="warning",
                    code="sms_long",
                )
    for base, value, qid in _walk_texts(flow, spoken=False):  # voice: texts are never texted
        for path, text in _located_texts(base, value):
            _check_characters(
                report, path, text, str(path[-1]) if isinstance(value, dict) else None, qid
            )


def _check_characters(
    report: _Report, path: Path, text: str, lang: str | None, qid: str | None
) -> None:
    """Warn about characters outside the SMS alphabet in a text written in Latin letters.

    Curly quotes, long dashes, '...' and odd spaces are swapped for plain ones when sent
    (:func:`bot.sms.gsm_safe`), unless something else in the message needs Unicode anyway;
    emoji and other symbols are never replaced and make the whole message Unicode (UCS-2).
    Letters with accents in a language other than English (Polish 'ł') are the language's own.
    """
    if not _latin(text):
        return  # Gujarati, Urdu...: always UCS-2, nothing to fix
    culprits = sms.info(text).culprits
    if lang not in (None, "en"):
        culprits = tuple(c for c in culprits if not unicodedata.category(c).startswith("L"))
    if not culprits:
        return
    fixable = [c for c in culprits if sms.encoding(sms.gsm_safe(c) or " ") == "GSM-7"]
    stuck = [c for c in culprits if c not in fixable]
    tag = f"[{lang}] " if lang else ""
    first = text.index(culprits[0]) + 1
    if stuck:
        shown = ", ".join(_char_name(c) for c in stuck[:4])
        kept = ", ".join(repr(c) for c in fixable[:4])
        also = f"; while they stay, {kept} cannot be replaced either" if fixable else ""
        report.add_inside(
            path,
            first,
            f"{tag}{shown} will make this SMS Unicode: 70 characters a part instead of 160",
            "these are not replaced automatically: use plain letters and punctuation "
            "(no emoji)" + also,
            question=qid,
            severity="warning",
            code="sms_ucs2",
        )
    else:
        shown = ", ".join(_char_name(c) for c in fixable[:4])
        plain = ", ".join(repr(sms.gsm_safe(c)) for c in fixable[:4])
        report.add_inside(
            path,
            first,
            f"{tag}{shown} would make SMS Unicode (70 characters a part instead of 160)",
            f"they are replaced automatically by {plain} when sent by SMS; "
            "type the plain ones to see exactly what is sent",
            question=qid,
            severity="warning",
            code="sms_lookalike",
        )


# --- phone calls -------------------------------------------------------------------------------


def _spoken_texts(flow: Flow) -> Iterator[tuple[Path, LText, str | None, str]]:
    """Every text a phone call says, with its path, question id and what to do about it."""
    yield ("thanks",), flow.voice.thanks or flow.thanks, None, "add voice: thanks: for calls"
    if flow.voice.intro is not None:
        yield ("voice", "intro"), flow.voice.intro, None, "reword it"
    yield (
        ("closed_text",),
        flow.voice.closed_text or flow.closed_text,
        None,
        "add voice: closed_text: for calls",
    )
    for i, q in enumerate(flow.questions):
        if isinstance(q, UncheckedQuestion):
            continue
        base: Path = ("questions", i)
        if q.voice is not None:
            yield (*base, "voice"), q.voice, q.id, "reword it"
        else:
            yield (*base, "text"), q.text, q.id, "add 'voice:' with the words to say on a call"
        for name in ("hint", "reprompt"):
            value = getattr(q, name)
            if value is not None:
                yield (*base, name), value, q.id, "reword it: calls say it after a wrong answer"
        if isinstance(q, ChoiceQuestion | MultiQuestion | ScaleQuestion):
            for j, c in enumerate(q.choices or []):
                yield (*base, "choices", j, "label"), c.label, q.id, "reword the label"


def _check_voice(flow: Flow, report: _Report) -> None:
    """What will not work well on a phone call: languages without a voice or speech
    recognition, lists too long for the keypad, and texts that read badly aloud."""
    for lang in flow.languages:
        known = voice.LANGUAGES.get(lang)
        why = (
            f"{known.unverified} (bot/voice.py)"
            if known is not None and known.unverified
            else "it is not among the languages checked against Twilio's lists (bot/voice.py)"
        )
        if not voice.can_speak(lang):
            report.add(
                ("languages",),
                f"[{lang}] phone calls cannot speak this language: {why}",
                "callers choose among the languages that have a voice; anyone whose session is "
                f"in {lang!r} hears the {lang} text read by the English voice",
                severity="warning",
                code="voice_language",
            )
        elif not voice.can_hear(lang):
            report.add(
                ("languages",),
                f"[{lang}] no speech recognition for this language on calls: {why}",
                "callers answer with the keypad only; free-text questions cannot be answered",
                severity="warning",
                code="voice_language",
            )
    for i, q in enumerate(flow.questions):
        if not isinstance(q, ChoiceQuestion | MultiQuestion):
            continue
        n = len(q.all_choices())
        if n > voice.MAX_KEYS:
            report.add(
                ("questions", i, "choices"),
                f"{n} choices: on a phone call only 1-9 are single keys",
                "split the question in two (a broad group, then the detail), or callers must "
                "key two digits and # for the rest (several picks cannot be keyed at all)",
                question=q.id,
                severity="warning",
                code="voice_keys",
            )
        elif n == voice.MAX_KEYS:
            report.add(
                ("questions", i, "choices"),
                "9 choices: on a phone call key 9 picks the last one, so help is only by "
                "saying 'help'",
                "fine if intended; 8 choices or fewer keep key 9 for help",
                question=q.id,
                severity="warning",
                code="voice_keys",
            )
    for base, value, qid, fix in _spoken_texts(flow):
        for path, text in _located_texts(base, value):
            for found in voice.unspoken(text):
                tag = f"[{path[-1]}] " if isinstance(value, dict) else ""
                report.add_inside(
                    path,
                    found.offset,
                    f"{tag}{found.message} does not suit being spoken on a phone call",
                    fix,
                    question=qid,
                    severity="warning",
                    code="voice_text",
                )


# --- WhatsApp: templates for what is sent after the 24-hour window ------------------------------

TEMPLATE_HINT = (
    "create a template in the Twilio console (Messaging > Content Template Builder), get it "
    "approved by WhatsApp, then add to the flow  whatsapp: {kind}: {{content: {{en: HX...}}}}  "
    "or set SURVEYBOT_WHATSAPP_TEMPLATES"
)


def _check_whatsapp(flow: Flow, report: _Report, channels: Channels) -> None:
    """WhatsApp allows only approved templates once a person's last message is 24 hours old:
    warn when reminders or a closing message could then not be sent."""
    for kind in ("reminder", "final"):
        block = flow.whatsapp.reminder if kind == "reminder" and flow.whatsapp else None
        if kind == "final" and flow.whatsapp:
            block = flow.whatsapp.final
        if block is None:
            continue
        for name, text in block.variables.items():
            for value in _texts(text):
                for m in PIPE.finditer(value):
                    if m.group(1) not in TEMPLATE_FIELDS:
                        report.add(
                            ("whatsapp", kind, "variables", name),
                            f"{{{m.group(1)}}} cannot be used in a WhatsApp template variable",
                            "use " + ", ".join(f"{{{f}}}" for f in TEMPLATE_FIELDS),
                            code="pipe_unknown",
                        )
    if not (channels.whatsapp or flow.whatsapp is not None):
        return
    wanted: list[tuple[str, str, Path, str]] = []
    if flow.reminders.max > 0:
        wanted.append(("remind", "reminder", ("reminders",), "reminders"))
    if flow.reminders.final is not None:
        wanted.append(("final", "final", ("reminders", "final"), "the closing message"))
    for kind, name, path, what in wanted:
        template = whatsapp_template(flow, channels.whatsapp_templates, kind)  # type: ignore[arg-type]
        if template is None:
            report.add(
                path,
                f"WhatsApp is on but there is no WhatsApp {name} template: {what} cannot reach "
                "anyone whose last message is more than 24 hours old",
                TEMPLATE_HINT.format(kind=name),
                severity="warning",
                code="whatsapp_template",
            )
            continue
        if isinstance(template.content, dict):
            missing = [lang for lang in flow.languages if lang not in template.content]
            if missing and flow.languages[0] not in template.content:
                report.add(
                    ("whatsapp", name, "content") if flow.whatsapp else path,
                    f"the WhatsApp {name} template has no version for "
                    f"{', '.join(missing)}, nor for {flow.languages[0]} to fall back on",
                    "add one Content SID per language",
                    severity="warning",
                    code="whatsapp_template",
                )
            elif missing:
                report.add(
                    ("whatsapp", name, "content") if flow.whatsapp else path,
                    f"the WhatsApp {name} template has no version for {', '.join(missing)}: "
                    f"those respondents get the {flow.languages[0]} one",
                    "add a Content SID for each language of the flow",
                    severity="warning",
                    code="whatsapp_template",
                )
