"""Flow -> XLSForm: ``surveybot export-form FLOW -o FORM.xlsx``.

Each question becomes the XLSForm row ODK, KoBoToolbox and Enketo understand (``select_one``,
``select_multiple``, ``integer``, ``range``, ``note``, ...), with ``relevant`` and ``constraint`` in
XPath and the texts in ``label::English (en)`` columns. What XLSForm has no column for (a short
export label, ``next:`` jumps, synonyms, yes/no and postcode types, reminders, sources...) goes in
a ``surveybot`` column as JSON, which ODK ignores and ``surveybot import`` reads back, so a flow
goes out and comes back the same. An "Other" choice becomes the spec's own pattern: a last
choice and a text question whose ``relevant`` is ``selected(${q}, 'other')``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bot import expr as E
from bot.forms import xpath
from bot.forms.languages import column_name
from bot.schema import (
    ChoiceQuestion,
    ConsentQuestion,
    DateQuestion,
    Flow,
    InfoQuestion,
    MultiQuestion,
    NumberQuestion,
    Other,
    PostcodeQuestion,
    Question,
    ScaleQuestion,
    TextQuestion,
    YesNoQuestion,
)
from bot.text import LText

_FLOW_COLUMNS = {"id", "council", "contact", "languages", "intro", "thanks", "questions"}
_QUESTION_COLUMNS = {
    "id", "type", "text", "hint", "optional", "when", "reprompt", "min_length", "max_length",
    "min", "max", "integer", "precision", "min_year", "max_year", "choices", "other",
    "min_picks", "max_picks", "none_of_these",
}  # fmt: skip
"""Question fields the XLSForm columns carry; every other field set in the flow file goes in the
``surveybot`` column as it is (so a field added to the schema survives the round trip)."""
_CHOICE_COLUMNS = {"id", "label"}


class _Sheet:
    """Rows of cells by header; headers in first-use order."""

    def __init__(self, fixed: Iterable[str]) -> None:
        self.headers: list[str] = list(fixed)
        self.rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> None:
        for k in row:
            if k not in self.headers:
                self.headers.append(k)
        self.rows.append({k: v for k, v in row.items() if v not in (None, "")})


class _Export:
    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.langs = list(flow.languages)
        self.default = self.langs[0]
        self.single = len(self.langs) == 1
        self.survey = _Sheet(["type", "name"])
        self.choices = _Sheet(["list_name", "name"])
        self.names = {q.id for q in flow.questions}
        self.sources: dict[str, xpath.Source] = {}
        for q in flow.questions:
            src = xpath.Source(q.id, q.type)
            if isinstance(q, ScaleQuestion) and q.choices:
                src.points = {i + 1: c.id for i, c in enumerate(q.choices)}
            self.sources[q.id] = src
        self.yes_no_list: str | None = None

    def texts(self, field: str, value: LText | None) -> dict[str, str]:
        """Cells for one text: a plain column, or one column per language."""
        if value is None:
            return {}
        if isinstance(value, str):
            return {field: value}
        return {f"{field}::{column_name(lang)}": text for lang, text in value.items()}

    def unique(self, base: str) -> str:
        name, n = base, 2
        while name in self.names:
            name = f"{base}_{n}"
            n += 1
        self.names.add(name)
        return name

    def run(self) -> None:
        for q in self.flow.questions:
            self.question(q)

    def question(self, q: Question) -> None:
        row: dict[str, Any] = {"type": "", "name": q.id}
        row.update(self.texts("label", q.text))
        row.update(self.texts("hint", q.hint))
        if q.answerable and not q.optional:
            row["required"] = "yes"
        if q.when:
            row["relevant"] = xpath.from_condition(E.parse(q.when), self.sources)
        row.update(self.texts("constraint_message", q.reprompt))
        extra: dict[str, Any] = {}
        if q.label is not None:
            extra["label"] = q.label
        if q.next is not None:
            extra["next"] = q.next
        constraint: list[str] = []
        follow: dict[str, Any] | None = None
        if isinstance(q, TextQuestion | PostcodeQuestion):
            row["type"] = "text"
            if isinstance(q, PostcodeQuestion):
                extra["type"] = "postcode"
            else:
                if q.min_length != 1:
                    constraint.append(f"string-length(.) >= {q.min_length}")
                if q.max_length != 1000:
                    constraint.append(f"string-length(.) <= {q.max_length}")
        elif isinstance(q, NumberQuestion):
            row["type"] = "integer" if q.integer else "decimal"
            if q.min is not None:
                constraint.append(f". >= {_num(q.min)}")
            if q.max is not None:
                constraint.append(f". <= {_num(q.max)}")
        elif isinstance(q, DateQuestion):
            row["type"] = "date"
            if q.precision != "day":
                row["appearance"] = "month-year" if q.precision == "month" else "year"
            if q.min_year != 1900:
                constraint.append(f". >= date('{q.min_year:04d}-01-01')")
            if q.max_year != 2100:
                constraint.append(f". <= date('{q.max_year:04d}-12-31')")
        elif isinstance(q, InfoQuestion):
            row["type"] = "note"
        elif isinstance(q, YesNoQuestion | ConsentQuestion):
            row["type"] = f"select_one {self.yes_no()}"
            if isinstance(q, ConsentQuestion):
                extra["type"] = "consent"
                if q.declined != ConsentQuestion.model_fields["declined"].default:
                    extra["declined"] = q.declined
        elif isinstance(q, ScaleQuestion):
            if q.choices is not None:
                row["type"] = f"select_one {q.id}"
                row["appearance"] = "likert"
                self.choice_rows(q.id, q.choices)
            else:
                row["type"] = "range"
                row["parameters"] = f"start={q.min} end={q.max} step=1"
                if q.labels:
                    extra["labels"] = {str(k): v for k, v in q.labels.items()}
        elif isinstance(q, ChoiceQuestion | MultiQuestion):
            multi = isinstance(q, MultiQuestion)
            row["type"] = f"{'select_multiple' if multi else 'select_one'} {q.id}"
            names = sorted(c.id.lower() for c in q.choices)
            if not multi and names == ["no", "yes"] and q.other is None:
                extra["type"] = "choice"  # else it would come back as a yes/no question
            if q.letters:
                extra["letters"] = True
            self.choice_rows(q.id, q.choices)
            if q.other is not None:
                follow = self.other(q, q.other)
            if isinstance(q, MultiQuestion):
                exclusive = [c.id for c in q.choices if c.exclusive]
                if q.none_of_these:
                    label: LText = "None of these" if q.none_of_these is True else q.none_of_these
                    row_extra = {"none_of_these": True} if q.none_of_these is True else None
                    self.choice_row(q.id, "none", label, row_extra)
                    exclusive.append("none")
                for cid in exclusive:
                    constraint.append(f"not(selected(., '{cid}') and count-selected(.) > 1)")
                if q.min_picks != 1:
                    constraint.append(f"count-selected(.) >= {q.min_picks}")
                if q.max_picks is not None:
                    constraint.append(f"count-selected(.) <= {q.max_picks}")
        if constraint:
            row["constraint"] = " and ".join(constraint)
        rest = q.model_dump(mode="json", include=q.model_fields_set - _QUESTION_COLUMNS)
        for key, value in rest.items():
            extra.setdefault(key, value)
        if extra:
            row["surveybot"] = json.dumps(extra, ensure_ascii=False)
        self.survey.add(row)
        if follow is not None:
            self.survey.add(follow)

    def other(self, q: ChoiceQuestion | MultiQuestion, other: Other) -> dict[str, Any]:
        self.choice_row(q.id, other.id, other.label, None)
        name = self.unique(f"{q.id}_{other.id}"[:30])
        row: dict[str, Any] = {"type": "text", "name": name}
        row.update(self.texts("label", other.prompt))
        row["relevant"] = f"selected(${{{q.id}}}, '{other.id}')"
        if other.max_length != 500:
            row["constraint"] = f"string-length(.) <= {other.max_length}"
        return row

    def choice_rows(self, list_name: str, choices: Iterable[Any]) -> None:
        for c in choices:
            extra = c.model_dump(mode="json", include=c.model_fields_set - _CHOICE_COLUMNS)
            self.choice_row(list_name, c.id, c.label, extra or None)

    def choice_row(
        self, list_name: str, name: str, label: LText, extra: dict[str, Any] | None
    ) -> None:
        row: dict[str, Any] = {"list_name": list_name, "name": name}
        row.update(self.texts("label", label))
        if extra:
            row["surveybot"] = json.dumps(extra, ensure_ascii=False)
        self.choices.add(row)

    def yes_no(self) -> str:
        if self.yes_no_list is None:
            name, n = "yes_no", 2
            while name in {q.id for q in self.flow.questions}:
                name = f"yes_no_{n}"
                n += 1
            self.yes_no_list = name
            self.choice_row(name, "yes", "Yes", None)
            self.choice_row(name, "no", "No", None)
        return self.yes_no_list

    def settings(self) -> _Sheet:
        flow = self.flow
        sheet = _Sheet(["form_title", "form_id", "default_language"])
        title = flow.title if isinstance(flow.title, str) else flow.title.get(self.default, "")
        row: dict[str, Any] = {
            "form_title": title,
            "form_id": flow.id,
            "default_language": column_name(self.default),
            "council": flow.council,
        }
        for k in ("name", "phone", "email", "web"):
            row[f"contact_{k}"] = getattr(flow.contact, k)
        row.update(self.texts("intro", flow.intro))
        row.update(self.texts("thanks", flow.thanks))
        rest = flow.model_dump(mode="json", include=flow.model_fields_set - _FLOW_COLUMNS)
        if isinstance(flow.title, str):
            rest.pop("title", None)
        if rest:
            row["surveybot"] = json.dumps(rest, ensure_ascii=False)
        sheet.add(row)
        return sheet


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def export_form(flow: Flow, path: str | Path) -> None:
    """Write ``flow`` as an XLSForm workbook (survey, choices, settings)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    ex = _Export(flow)
    ex.run()
    wb = Workbook()
    sheets = [("survey", ex.survey), ("choices", ex.choices), ("settings", ex.settings())]
    first = True
    for title, sheet in sheets:
        ws = wb.active if first else wb.create_sheet()
        first = False
        ws.title = title
        ws.append(sheet.headers)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in sheet.rows:
            ws.append([row.get(h) for h in sheet.headers])
            for cell in ws[ws.max_row]:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"  # text that looks like a formula stays text
        ws.freeze_panes = "A2"
        for i, header in enumerate(sheet.headers, start=1):
            width = 40 if header.startswith(("label", "hint", "intro", "thanks")) else 18
            ws.column_dimensions[ws.cell(1, i).column_letter].width = width
    wb.save(str(path))
