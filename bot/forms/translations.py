"""Translation sheets: every text a respondent can see, out to a translator and back.

``surveybot translations FLOW --lang pa -o pa.xlsx`` writes one row per text (questions, hints,
re-prompts, choices, the 'Other' and 'None of these' choices, the first and last messages,
reminders, the standard sentences the flow overrides, and what a phone call says instead: the
flow's and each question's ``voice:`` texts) with a stable id, the text in the flow's first
language, context for the translator and the **SMS budget** of that row (none for a spoken
text: it is said, not texted): how many
characters the translation may take for its message to stay within the parts the English needs
(at least :data:`bot.validate.SMS_MAX_SEGMENTS`), counted in the language's SMS encoding (GSM-7,
160 a message and 153 a part, or UCS-2 for non-Latin scripts, 70 and 67; :mod:`bot.sms`). A
question's message holds its text and its choices, so that budget is shared between those rows
in proportion to the English.

``--import pa.xlsx`` checks each row (unknown or repeated ids, empty translations, placeholders
such as ``{title}`` lost or changed, texts over budget), merges every row whose placeholders are
right into the flow file with ruamel.yaml (comments and layout kept), adds the language, and
saves only if the bot's loader accepts the result.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import sms
from bot.errors import FormError, FormProblem
from bot.forms.languages import column_name, parse_language, sms_encoding
from bot.phrases import EN as STANDARD
from bot.prompts import question_reply
from bot.schema import (
    ChoiceQuestion,
    ConsentQuestion,
    Flow,
    MultiQuestion,
    Other,
    ScaleQuestion,
)
from bot.text import LText, tr
from bot.validate import SMS_MAX_SEGMENTS

SHEET = "translations"
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
FIXED_HEADERS = ("id", "context", "budget", "sms", "placeholders")
PLACEHOLDER_LENGTH = 10
"""Characters counted for a placeholder whose value is not known in advance ({max}, {answered})."""


@dataclass
class Text:
    """One translatable text of a flow."""

    id: str
    path: tuple[str | int, ...]
    """Where it lives in the flow file (question and choice ids, not positions)."""
    source: str
    current: str | None
    context: str
    message: str
    """Texts sharing a message share its SMS budget (a question and its choices)."""
    budget_gsm: int = 0
    budget_ucs: int = 0
    spoken: bool = False
    """Said on a phone call (a ``voice:`` text): never sent by SMS, so no budget."""

    @property
    def placeholders(self) -> list[str]:
        return sorted(set(PLACEHOLDER.findall(self.source)))


@dataclass
class ImportReport:
    problems: list[FormProblem] = field(default_factory=list)
    merged: int = 0
    lang: str = ""
    yaml_text: str | None = None
    rows: dict[str, int] = field(default_factory=dict)
    """Sheet row of each id."""

    @property
    def errors(self) -> list[FormProblem]:
        return [p for p in self.problems if p.severity == "error"]


def _current(value: LText | None, lang: str) -> str | None:
    if isinstance(value, dict):
        return value.get(lang)
    return None


def texts(flow: Flow, lang: str) -> list[Text]:
    """Every respondent-facing text of ``flow``, in the order the flow file has them."""
    src = flow.languages[0]
    out: list[Text] = []

    def add(
        tid: str,
        path: tuple[str | int, ...],
        value: LText | None,
        context: str,
        message: str | None = None,
        *,
        spoken: bool = False,
    ) -> None:
        if value is None:
            return
        english = tr(value, src)
        if not english.strip():
            return
        current = _current(value, lang)
        out.append(Text(tid, path, english, current, context, message or tid, spoken=spoken))

    add("title", ("title",), flow.title, "The survey's name; {title} in reminders and HELP")
    add(
        "intro",
        ("intro",),
        flow.intro,
        "The first message: who asks, why, how long. Keep STOP and HELP in capitals",
    )
    add("thanks", ("thanks",), flow.thanks, "Sent when someone finishes")
    add("closed_text", ("closed_text",), flow.closed_text, "Sent after the closing date")
    for name, what in (
        ("intro", "said after the standard welcome (who asks, how to stop, how to get help)"),
        ("thanks", "said instead of the thanks when someone finishes"),
        ("closed_text", "said instead of the closed message after the closing date"),
    ):
        add(
            f"voice.{name}",
            ("voice", name),
            getattr(flow.voice, name),
            f"On a phone call: {what}",
            spoken=True,
        )
    add(
        "reminders.text",
        ("reminders", "text"),
        flow.reminders.text,
        "A reminder to someone who stopped part way; the question follows it",
    )
    add(
        "reminders.final",
        ("reminders", "final"),
        flow.reminders.final,
        "Last message when the survey closes or a half-done session ends",
    )
    n = len(flow.questions)
    for i, q in enumerate(flow.questions, start=1):
        base = f"q.{q.id}"
        path: tuple[str | int, ...] = ("questions", q.id)
        kind = {
            "choice": "question (pick one)",
            "multi": "question (pick one or more)",
            "scale": "question (a scale)",
            "yesno": "yes/no question",
            "consent": "consent question (yes/no)",
            "info": "message (no answer needed)",
        }.get(q.type, f"question ({q.type} answer)")
        where = f"{kind} {i} of {n}, '{q.id}'"
        add(f"{base}.text", (*path, "text"), q.text, where.capitalize(), base)
        add(
            f"{base}.voice",
            (*path, "voice"),
            q.voice,
            f"Said instead of the text of {where} on a phone call (the keys to press follow)",
            spoken=True,
        )
        add(
            f"{base}.hint",
            (*path, "hint"),
            q.hint,
            f"How to answer {where}; sent after a wrong answer",
        )
        add(
            f"{base}.reprompt",
            (*path, "reprompt"),
            q.reprompt,
            f"Sent when an answer to {where} is not understood",
        )
        if isinstance(q, ChoiceQuestion | MultiQuestion | ScaleQuestion):
            for c in q.choices or []:
                add(
                    f"{base}.choice.{c.id}",
                    (*path, "choices", c.id, "label"),
                    c.label,
                    f"A choice of {where}; keep it short",
                    base,
                )
        if isinstance(q, ScaleQuestion):
            for point, label in q.labels.items():
                add(
                    f"{base}.labels.{point}",
                    (*path, "labels", point),
                    label,
                    f"The label of point {point} on the scale of {where}",
                    base,
                )
        if isinstance(q, ChoiceQuestion | MultiQuestion) and q.other is not None:
            add(
                f"{base}.other.label",
                (*path, "other", "label"),
                q.other.label,
                f"The 'other' choice of {where}",
                base,
            )
            add(
                f"{base}.other.prompt",
                (*path, "other", "prompt"),
                q.other.prompt,
                f"Asked after someone picks '{tr(q.other.label, src)}' in {where}",
            )
        if isinstance(q, MultiQuestion) and q.none_of_these:
            value: LText = "None of these" if q.none_of_these is True else q.none_of_these
            add(
                f"{base}.none_of_these",
                (*path, "none_of_these"),
                value,
                f"The 'none of these' choice of {where}",
                base,
            )
        if isinstance(q, ConsentQuestion):
            add(
                f"{base}.declined",
                (*path, "declined"),
                q.declined,
                f"Sent when someone answers no to {where}; the survey ends",
            )
    overridden = sorted({k for msgs in flow.messages.values() for k in msgs})
    for key in overridden:
        english = flow.messages.get(src, {}).get(key) or STANDARD.get(key)
        if english is None:
            continue
        current = flow.messages.get(lang, {}).get(key)
        out.append(
            Text(
                f"messages.{key}",
                ("messages", key),
                english,
                current,
                f"The bot's standard sentence '{key}', changed for this survey",
                f"messages.{key}",
            )
        )
    _budgets(flow, out, lang)
    return out


def _capacity(parts: int, encoding: str) -> int:
    if encoding == "GSM-7":
        return sms.GSM_SINGLE if parts == 1 else parts * sms.GSM_PART
    return sms.UCS2_SINGLE if parts == 1 else parts * sms.UCS2_PART


def _placeholder_length(name: str, flow: Flow, lang: str) -> int:
    if name == "title":
        return len(tr(flow.title, lang))
    if name == "council":
        return len(flow.council)
    return PLACEHOLDER_LENGTH


def _measure(text: str, flow: Flow, lang: str) -> int:
    """Length as sent: placeholders counted as the value they are likely to get."""
    total = 0
    pos = 0
    for m in PLACEHOLDER.finditer(text):
        total += len(text[pos : m.start()]) + _placeholder_length(m.group(1), flow, lang)
        pos = m.end()
    return total + len(text[pos:])


def _budgets(flow: Flow, rows: list[Text], lang: str) -> None:
    src = flow.languages[0]
    groups: dict[str, list[Text]] = {}
    for row in rows:
        if not row.spoken:  # said, not texted: no SMS budget
            groups.setdefault(row.message, []).append(row)
    for message, members in groups.items():
        english = [_measure(r.source, flow, src) for r in members]
        total = sum(english) or 1
        overhead = 0
        sent = " ".join(r.source for r in members)
        if message.startswith("q.") and len(message.split(".")) == 2:
            q = flow.question(message[2:])
            if q is not None:
                rendered = sms.render(question_reply(flow, q, src, {}), gsm=False)
                sent = rendered
                overhead = max(0, len(rendered) - total)
        parts = max(SMS_MAX_SEGMENTS, sms.segments(sent))
        for row, length in zip(members, english, strict=True):
            share = length / total
            row.budget_gsm = max(1, int((_capacity(parts, "GSM-7") - overhead) * share))
            row.budget_ucs = max(1, int((_capacity(parts, "UCS-2") - overhead) * share))


def _budget_note(row: Text, encoding: str) -> str:
    if row.spoken:
        return "said on a phone call, not texted: no budget; write it to be heard"
    if encoding == "GSM-7":
        return (
            f"{row.budget_gsm} characters in the SMS alphabet; {row.budget_ucs} if it needs "
            "letters outside it (accents such as ł, ŵ, or any emoji)"
        )
    return f"{row.budget_ucs} characters: this script always goes as Unicode SMS (UCS-2)"


# --- the sheet out -----------------------------------------------------------------------------


def export_translations(flow: Flow, lang: str, path: str | Path) -> list[Text]:
    """Write the sheet for translating ``flow`` into ``lang``; returns its rows."""
    from openpyxl import Workbook
    from openpyxl.formatting.rule import FormulaRule
    from openpyxl.styles import Alignment, Font, PatternFill

    rows = texts(flow, lang)
    encoding = sms_encoding(lang)
    src = flow.languages[0]
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    headers = [
        "id",
        "context",
        column_name(src),
        column_name(lang),
        "budget",
        "sms",
        "placeholders",
    ]
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        budget = row.budget_gsm if encoding == "GSM-7" else row.budget_ucs
        ws.append(
            [
                row.id,
                row.context,
                row.source,
                row.current or "",
                None if row.spoken else budget,
                _budget_note(row, encoding),
                " ".join("{" + p + "}" for p in row.placeholders),
            ]
        )
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"
    last = ws.max_row
    for letter, width in zip("ABCDEFG", (28, 40, 50, 50, 8, 40, 16), strict=True):
        ws.column_dimensions[letter].width = width
    for row_cells in ws.iter_rows(min_row=2, max_col=4):
        for cell in row_cells[1:4]:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "D2"
    # Excel turns a translation red while it is longer than its budget.
    ws.conditional_formatting.add(
        f"D2:D{max(last, 2)}",
        FormulaRule(
            formula=["AND(ISNUMBER(E2),LEN(D2)>E2)"],  # a spoken row has no budget
            fill=PatternFill("solid", bgColor="FFC7CE"),
        ),
    )
    notes = wb.create_sheet("how to")
    for line in _instructions(flow, lang, encoding):
        notes.append([line])
    notes.column_dimensions["A"].width = 110
    wb.save(str(path))
    return rows


def _instructions(flow: Flow, lang: str, encoding: str) -> list[str]:
    name = column_name(lang)
    return [
        f"Translating '{tr(flow.title, flow.languages[0])}' into {name}",
        "",
        f"Write each translation in column D ({name}), on the row of its English text.",
        "These texts are sent by text message (SMS), so keep them short and plain.",
        "Column E (budget) is the most characters the translation should take: a cell turns "
        "red when it is longer.",
        "Each text message part holds 153 characters of the SMS alphabet, or 67 characters of "
        "any other script (Gujarati, Punjabi, Urdu...).",
        f"{name}: {'the SMS alphabet' if encoding == 'GSM-7' else 'Unicode SMS (UCS-2)'}.",
        "Rows whose 'sms' column says 'said on a phone call' are spoken to people who answer "
        "by phone: they have no budget; write them to be heard (no web addresses or symbols).",
        "Keep words in curly brackets exactly as they are, e.g. {title} or {progress}: the bot "
        "fills them in.",
        "Keep STOP, HELP, SKIP, YES and NO in English capitals: people may type them.",
        "Do not change column A (id). Leave a row empty if you cannot translate it.",
    ]


# --- the sheet back in -------------------------------------------------------------------------


@dataclass
class _SheetRow:
    number: int
    id: str
    text: str


def _read_rows(
    path: str | Path, lang: str | None, default: str
) -> tuple[str, str, list[_SheetRow]]:
    """The sheet's name, the translation column's language, and its rows with an id."""
    file = str(path)
    data = Path(path).read_bytes()
    cells: list[list[Any]]
    sheet_name = SHEET
    if data.startswith(b"PK\x03\x04"):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:
            raise _fail(
                file, f"the workbook cannot be read ({type(exc).__name__}: {exc})"
            ) from None
        ws = wb[SHEET] if SHEET in wb.sheetnames else wb.worksheets[0]
        sheet_name = ws.title
        cells = [list(r) for r in ws.iter_rows(values_only=True)]
        wb.close()
    elif data.startswith(b"\xd0\xcf\x11\xe0"):
        import xlrd

        try:
            book = xlrd.open_workbook(file_contents=data)
        except Exception as exc:
            raise _fail(
                file, f"the workbook cannot be read ({type(exc).__name__}: {exc})"
            ) from None
        names = book.sheet_names()
        sh = book.sheet_by_name(SHEET) if SHEET in names else book.sheet_by_index(0)
        sheet_name = sh.name
        cells = [sh.row_values(i) for i in range(sh.nrows)]
    else:
        raise _fail(file, "this is not an Excel workbook (.xlsx or .xls)")
    if not cells:
        raise _fail(file, "the sheet is empty")
    headers = [str(h).strip() if h is not None else "" for h in cells[0]]
    try:
        id_col = [h.lower() for h in headers].index("id")
    except ValueError:
        raise _fail(file, "the first row has no 'id' column", sheet_name) from None
    candidates: list[tuple[int, str]] = []
    for i, h in enumerate(headers):
        if not h or h.lower() in FIXED_HEADERS:
            continue
        code = parse_language(h)
        if code is not None and code != default:
            candidates.append((i, code))
    if lang is not None:
        chosen = [c for c in candidates if c[1] == lang]
        if not chosen:
            found = ", ".join(code for _, code in candidates) or "none"
            raise _fail(
                file,
                f"the sheet has no column for {lang!r} (languages found: {found})",
                sheet_name,
                "the translation column's heading must name the language, e.g. "
                f"{column_name(lang)}",
            )
    else:
        if len(candidates) != 1:
            found = ", ".join(code for _, code in candidates) or "none"
            raise _fail(
                file,
                f"cannot tell which column holds the translation (languages found: {found})",
                sheet_name,
                "pass --lang CODE",
            )
        chosen = candidates
    col, code = chosen[0]
    rows: list[_SheetRow] = []
    for number, values in enumerate(cells[1:], start=2):
        tid = values[id_col] if id_col < len(values) else None
        text = values[col] if col < len(values) else None
        if tid is None or str(tid).strip() == "":
            continue
        rows.append(_SheetRow(number, str(tid).strip(), _cell_text(text)))
    return sheet_name, code, rows


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _fail(file: str, message: str, sheet: str | None = None, hint: str | None = None) -> FormError:
    return FormError([FormProblem(file, sheet, None, None, message, hint, code="translations")])


def check_translations(
    flow: Flow, path: str | Path, lang: str | None = None, rows_out: dict[str, int] | None = None
) -> tuple[str, dict[str, str], list[FormProblem]]:
    """Read a translation sheet and check it against ``flow``.

    Returns the language, the translations to merge (id -> text) and every problem.
    """
    file = str(path)
    default = flow.languages[0]
    sheet, code, rows = _read_rows(path, lang, default)
    problems: list[FormProblem] = []
    wanted = {t.id: t for t in texts(flow, code)}
    order = {tid: n for n, tid in enumerate(wanted, start=2)}
    encoding = sms_encoding(code)
    seen: dict[str, int] = {}
    merged: dict[str, str] = {}

    def add(row: int | None, message: str, hint: str | None, severity: str, kind: str) -> None:
        problems.append(
            FormProblem(file, sheet, row, column_name(code), message, hint, severity, kind)
        )

    for r in rows:
        text = wanted.get(r.id)
        if text is None:
            add(
                r.number,
                f"{r.id!r} is not a text of this flow",
                "the flow changed since the sheet was made: make a new one with surveybot translations",
                "error",
                "unknown_id",
            )
            continue
        if r.id in seen:
            add(
                r.number,
                f"{r.id!r} is also on row {seen[r.id]}",
                "keep one row per id",
                "error",
                "duplicate_id",
            )
            continue
        seen[r.id] = r.number
        if rows_out is not None:
            rows_out[r.id] = r.number
        if not r.text:
            add(
                r.number,
                f"{r.id}: no translation; the {column_name(default)} text is sent",
                None,
                "warning",
                "missing",
            )
            continue
        want = set(PLACEHOLDER.findall(text.source))
        got = set(PLACEHOLDER.findall(r.text))
        if want != got:
            lost = ", ".join("{" + p + "}" for p in sorted(want - got))
            new = ", ".join("{" + p + "}" for p in sorted(got - want))
            what = "; ".join(
                part
                for part in (
                    f"lost {lost}" if lost else "",
                    f"not in the original: {new}" if new else "",
                )
                if part
            )
            add(
                r.number,
                f"{r.id}: placeholders changed ({what}); this row is not used",
                "copy the words in curly brackets exactly from the original; the bot fills them in",
                "error",
                "placeholder",
            )
            continue
        merged[r.id] = r.text
        real = "GSM-7" if sms.encoding(r.text) == "GSM-7" else "UCS-2"
        budget = text.budget_gsm if real == "GSM-7" else text.budget_ucs
        length = _measure(r.text, flow, code)
        if length > budget and not text.spoken:
            note = (
                ""
                if real == encoding or (real == "UCS-2" and encoding == "UCS-2")
                else f" (it needs Unicode SMS because of {', '.join(sms.info(r.text).culprits[:3])})"
            )
            add(
                r.number,
                f"{r.id}: {length} characters, over its budget of {budget}{note}",
                "shorten it: each extra SMS part costs money and is harder to read",
                "warning",
                "over_budget",
            )
    for tid in wanted:
        if tid not in seen:
            add(
                None,
                f"{tid}: missing from the sheet (row {order[tid]} of a new sheet); the {column_name(default)} text is sent",
                f"add a row with id {tid}",
                "warning",
                "missing",
            )
    return code, merged, problems


# --- merging into the flow file ----------------------------------------------------------------


def merge(flow_text: str, flow: Flow, lang: str, merged: dict[str, str]) -> str:
    """The flow file with the translations in ``lang`` added, comments and layout kept."""
    from bot.forms.yamlio import (
        dump_roundtrip,
        keep_layout,
        key,
        load_roundtrip,
        new_map,
        text_value,
    )

    data, y = load_roundtrip(flow_text)
    default = flow.languages[0]
    rows = {t.id: t for t in texts(flow, lang)}
    for tid, translation in merged.items():
        row = rows[tid]
        if row.path[0] == "messages":
            msgs = _ensure_map(data, "messages", before="questions")
            per = msgs.get(lang)
            if per is None:
                msgs[key(lang)] = per = new_map({}, flow_style=False)
            per[key(str(row.path[1]))] = text_value(translation)
            continue
        container, name = _locate(data, row.path)
        current = container.get(name) if name in container else None
        if isinstance(current, dict):
            current[key(lang)] = text_value(translation)
        else:
            original: Any = current if isinstance(current, str) else text_value(row.source)
            flow_style = isinstance(current, str) and "\n" not in current and len(current) < 60
            container[name] = new_map(
                {default: original, lang: text_value(translation)}, flow_style=flow_style
            )
    languages = data.get("languages")
    if languages is None:
        from ruamel.yaml.comments import CommentedSeq

        seq = CommentedSeq([default, lang])
        seq.fa.set_flow_style()
        pos = list(data).index("contact") + 1 if "contact" in data else len(data)
        data.insert(pos, "languages", seq)
    elif lang not in languages:
        languages.append(key(lang))
    return keep_layout(flow_text, dump_roundtrip(data, y))


def _ensure_map(data: Any, name: str, before: str) -> Any:
    if name not in data or data[name] is None:
        from ruamel.yaml.comments import CommentedMap

        pos = list(data).index(before) if before in data else len(data)
        data.insert(pos, name, CommentedMap())
    return data[name]


def _locate(data: Any, path: tuple[str | int, ...]) -> tuple[Any, str | int]:
    """The map holding the text at ``path`` (question and choice ids resolved), and its key.

    Maps on the way that the file leaves to defaults (reminders, other) are created.
    """
    from ruamel.yaml.comments import CommentedMap

    node = data
    parts = list(path)
    i = 0
    while i < len(parts) - 1:
        part = parts[i]
        if part in ("questions", "choices"):
            wanted = parts[i + 1]
            node = next(item for item in node[part] if str(item.get("id")) == str(wanted))
            i += 2
            continue
        if part == "labels":
            labels = node["labels"]
            return labels, int(parts[i + 1]) if int(parts[i + 1]) in labels else str(parts[i + 1])
        if part not in node or node[part] is None:
            node[part] = CommentedMap()
        node = node[part]
        i += 1
    last = parts[-1]
    if last == "closed_text" and last not in node:
        pos = list(node).index("questions") if "questions" in node else len(node)
        node.insert(pos, last, None)
    return node, last


def import_translations(
    flow_path: str | Path, sheet: str | Path, lang: str | None = None
) -> ImportReport:
    """Check ``sheet`` and merge it into the flow file's text (not written: see :func:`write`)."""
    from bot.loader import load_flow_text

    text = Path(flow_path).read_text(encoding="utf-8")
    result = load_flow_text(text, str(flow_path))
    report = ImportReport()
    if result.flow is None:
        report.problems.append(
            FormProblem(
                str(flow_path),
                None,
                None,
                None,
                "the flow file has errors: run surveybot validate on it first",
                None,
                code="flow",
            )
        )
        return report
    flow = result.flow
    try:
        code, merged, problems = check_translations(flow, sheet, lang, report.rows)
    except FormError as exc:
        report.problems.extend(exc.problems)
        return report
    report.lang = code
    report.problems.extend(problems)
    report.merged = len(merged)
    new_text = merge(text, flow, code, merged)
    after = load_flow_text(new_text, str(flow_path))
    if after.flow is None:
        for p in after.errors:
            report.problems.append(
                FormProblem(
                    str(flow_path),
                    None,
                    p.line,
                    None,
                    f"the merged flow would not load: {p.message}",
                    p.hint,
                    code="merge",
                )
            )
        return report
    report.problems.extend(_message_budgets(after.flow, code, str(sheet), report.rows))
    report.yaml_text = new_text
    return report


def _message_budgets(flow: Flow, lang: str, file: str, rows: dict[str, int]) -> list[FormProblem]:
    """Whole questions, as sent in ``lang``, that take more parts than allowed."""
    out: list[FormProblem] = []
    for q in flow.questions:
        english = sms.segments(sms.render(question_reply(flow, q, flow.languages[0], {})))
        rendered = sms.render(question_reply(flow, q, lang, {}))
        parts = sms.segments(rendered)
        allowed = max(SMS_MAX_SEGMENTS, english)
        if parts > allowed:
            out.append(
                FormProblem(
                    file,
                    SHEET,
                    rows.get(f"q.{q.id}.text"),
                    column_name(lang),
                    f"q.{q.id}: the question with its choices takes {parts} SMS parts in {lang} ({sms.info(rendered).length} characters); at most {allowed}",
                    "shorten its text or choices",
                    "warning",
                    "over_budget",
                )
            )
    return out


def write_atomically(path: str | Path, text: str) -> None:
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=str(p.parent or "."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ids(flow: Flow) -> Iterator[str]:
    return (t.id for t in texts(flow, flow.languages[0]))


__all__ = [
    "ImportReport",
    "Other",
    "Text",
    "check_translations",
    "export_translations",
    "import_translations",
    "texts",
    "write_atomically",
]
