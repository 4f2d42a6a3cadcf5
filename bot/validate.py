"""Checks on a flow beyond its shape: conditions, jumps, reachability, piping, translations, SMS.

Errors reject the file; warnings (long or costly SMS, missing translations) let it load.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterator
from typing import Any

from bot import expr, sms
from bot.errors import ExpressionError, Problem
from bot.prompts import PIPE, question_reply
from bot.schema import (
    END,
    ChoiceQuestion,
    ConsentQuestion,
    Flow,
    MultiQuestion,
    Question,
    ScaleQuestion,
    YesNoQuestion,
)
from bot.text import LText
from bot.yamlsafe import Located, Path

SMS_MAX_SEGMENTS = 2
SMS_MAX_CHOICES = 9
REMINDER_FIELDS = {"progress", "title", "answered", "total"}


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
        column_offset: int = 0,
    ) -> None:
        line, col = self.located.where(path)
        if col is not None and column_offset:
            col += column_offset
        self.problems.append(Problem(self.file, line, col, message, hint, question, severity, code))


def check_flow(flow: Flow | None, located: Located, file: str) -> list[Problem]:
    report = _Report(located, file)
    _check_raw(located.data, report)
    if flow is not None:
        _check_choices(flow, report)
        _check_conditions(flow, report)
        _check_jumps(flow, report)
        _check_piping(flow, report)
        _check_settings(flow, report)
        _check_translations(flow, report)
        _check_sms(flow, report)
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
        if "choices" in q and q["choices"] == []:
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
        if isinstance(q, ChoiceQuestion | MultiQuestion):
            if len(q.choices) == 1 and q.other is None:
                report.add(
                    ("questions", i, "choices"),
                    "a choice question needs at least two choices",
                    None,
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
                report.add(
                    path,
                    f"condition: {exc.message} (column {exc.column} of '{q.when}')",
                    exc.hint,
                    question=q.id,
                    code="condition_syntax",
                )
            else:
                for issue in expr.check(tree, earlier, all_ids):
                    report.add(
                        path,
                        f"condition: {issue.message}",
                        issue.hint,
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
        if isinstance(q.next, dict):
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
                    None,
                    question=q.id,
                    code="next_cycle",
                )
    if bad:
        return
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
    state: dict[int, int] = {}  # 1 = on the stack, 2 = done
    stack: list[int] = []

    def visit(i: int) -> list[int] | None:
        state[i] = 1
        stack.append(i)
        for j in successors(flow, i):
            if j is None:
                continue
            if state.get(j) == 1:
                return [*stack[stack.index(j) :], j]
            if j not in state:
                found = visit(j)
                if found:
                    return found
        stack.pop()
        state[i] = 2
        return None

    for start in range(len(flow.questions)):
        if start not in state:
            found = visit(start)
            if found:
                return found
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


def _check_piping(flow: Flow, report: _Report) -> None:
    ids = [q.id for q in flow.questions]
    for i, q in enumerate(flow.questions):
        for fld in ("text", "hint", "reprompt"):
            for text in _texts(getattr(q, fld)):
                for m in PIPE.finditer(text):
                    name = m.group(1)
                    if name not in ids:
                        close = difflib.get_close_matches(name, ids, n=1)
                        report.add(
                            ("questions", i, fld),
                            f"{{{name}}} is not a question id",
                            f"did you mean {{{close[0]}}}?"
                            if close
                            else "write {question_id} to show an earlier answer",
                            question=q.id,
                            code="pipe_unknown",
                        )
                    elif ids.index(name) >= i:
                        report.add(
                            ("questions", i, fld),
                            f"{{{name}}} is not answered yet here",
                            "only earlier answers can be shown",
                            question=q.id,
                            code="pipe_later",
                        )
    for text in _texts(flow.reminders.text):
        for m in PIPE.finditer(text):
            if m.group(1) not in REMINDER_FIELDS:
                report.add(
                    ("reminders", "text"),
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


def _walk_texts(flow: Flow) -> Iterator[tuple[Path, LText, str | None]]:
    yield ("title",), flow.title, None
    yield ("intro",), flow.intro, None
    yield ("thanks",), flow.thanks, None
    yield ("closed_text",), flow.closed_text, None
    if flow.reminders.text is not None:
        yield ("reminders", "text"), flow.reminders.text, None
    if flow.reminders.final is not None:
        yield ("reminders", "final"), flow.reminders.final, None
    for i, q in enumerate(flow.questions):
        base: Path = ("questions", i)
        yield (*base, "text"), q.text, q.id
        if q.hint is not None:
            yield (*base, "hint"), q.hint, q.id
        if q.reprompt is not None:
            yield (*base, "reprompt"), q.reprompt, q.id
        if isinstance(q, ChoiceQuestion | MultiQuestion | ScaleQuestion):
            for j, c in enumerate(q.choices or []):
                yield (*base, "choices", j, "label"), c.label, q.id
        if isinstance(q, ChoiceQuestion | MultiQuestion) and q.other is not None:
            yield (*base, "other", "label"), q.other.label, q.id
            yield (*base, "other", "prompt"), q.other.prompt, q.id
        if isinstance(q, ConsentQuestion):
            yield (*base, "declined"), q.declined, q.id


def _has_words(text: str) -> bool:
    return sum(ch.isalpha() for ch in text) >= 3


def _check_translations(flow: Flow, report: _Report) -> None:
    langs = flow.languages
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
            if _has_words(text) and path[-1] != "title":
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
                path,
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


def _check_sms(flow: Flow, report: _Report) -> None:
    for i, q in enumerate(flow.questions):
        for lang in flow.languages:
            reply = question_reply(flow, q, lang, {})
            text = sms.render(reply)
            info = sms.info(text)
            path: Path = ("questions", i, "text")
            if info.segments > SMS_MAX_SEGMENTS:
                report.add(
                    path,
                    f"[{lang}] the SMS for this question takes {info.segments} "
                    f"messages ({info.length} {'characters' if info.encoding == 'GSM-7' else 'UCS-2 units'}, {info.encoding})",
                    "shorten the text or the choice labels; each extra part costs money",
                    question=q.id,
                    severity="warning",
                    code="sms_long",
                )
            if info.encoding == "UCS-2" and _latin(text):
                shown = " ".join(repr(c) for c in info.culprits[:5])
                report.add(
                    path,
                    f"[{lang}] {shown} make this SMS Unicode: 70 characters per "
                    "message instead of 160",
                    "replace them (emoji, special symbols) with plain characters",
                    question=q.id,
                    severity="warning",
                    code="sms_ucs2",
                )
