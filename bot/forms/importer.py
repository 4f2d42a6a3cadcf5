"""XLSForm -> flow: ``surveybot import FORM.xlsx``.

Reads the ``survey``, ``choices`` and ``settings`` sheets as the XLSForm spec and pyxform do
(any case, aliases, language columns, blank and comment rows), flattens groups (a group's
``relevant`` joins its questions' conditions; a labelled group becomes an info message),
translates ``relevant`` into the flow's condition language and simple ``constraint``s into limits,
and reports what a chat cannot do, one problem per construct, with sheet, row and column and
what to do instead. The flow is then checked by the bot's own loader, and its problems are
reported against the spreadsheet rows they came from.

A ``surveybot`` column (survey, choices and settings sheets) may hold flow settings that XLSForm
has no column for, as YAML or JSON (``{type: postcode}``, ``{next: {"no": end}}``); ``surveybot
export-form`` writes it so that a flow goes out to a spreadsheet and comes back the same.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import expr as E
from bot.errors import FormProblem, Problem
from bot.forms import xpath
from bot.forms.columns import (
    CHOICES_ALIASES,
    SETTINGS_ALIASES,
    SURVEY_ALIASES,
    Column,
    parse_headers,
)
from bot.forms.languages import column_name, parse_language
from bot.forms.workbook import Row, Sheet, Workbook, read_workbook
from bot.forms.yamlio import dump_flow
from bot.schema import CHOICE_ID, FLOW_ID, QUESTION_ID, Choice
from bot.text import LText

_CHOICE_EXTRAS = (set(Choice.model_fields) - {"id", "label"}) | {"none_of_these"}
"""What a choice's ``surveybot`` cell may set: any field of a flow's choice (and the exporter's
marker for a multi question's "none of these")."""

# --- what each XLSForm type becomes -----------------------------------------------------------

PLAIN_TYPES: dict[str, str] = {
    "text": "text",
    "string": "text",
    "integer": "number",
    "int": "number",
    "decimal": "number",
    "date": "date",
    "note": "info",
    "acknowledge": "consent",
    "trigger": "consent",
    "range": "range",
    "time": "text",
    "datetime": "text",
}
_AS_TEXT = {
    "time": "a chat cannot show a clock: the time is asked as text (e.g. '9:30')",
    "datetime": "a chat cannot show a date-and-time picker: it is asked as text",
}
METADATA = {
    "start": "the time the form was opened",
    "end": "the time the form was finished",
    "today": "today's date",
    "deviceid": "the phone's id",
    "imei": "the phone's id",
    "subscriberid": "the SIM's subscriber id",
    "simserial": "the SIM's serial number",
    "phonenumber": "the phone number",
    "username": "the data collector's user name",
    "email": "the data collector's email",
    "audit": "an audit log of the data collector",
    "start-geopoint": "where the form was opened",
    "background-audio": "a recording of the interview",
    "background-geopoint": "locations while the form is open",
    "uri:deviceid": "the phone's id",
    "uri:email": "the data collector's email",
    "uri:phonenumber": "the phone number",
    "uri:username": "the data collector's user name",
    "uri:subscriberid": "the SIM's subscriber id",
    "uri:simserial": "the SIM's serial number",
}
DROPPED_TYPES: dict[str, tuple[str, str]] = {
    "geopoint": (
        "a location (GPS)",
        "a chat cannot read a location: ask for a postcode instead (surveybot column: "
        "{type: postcode})",
    ),
    "geotrace": ("a GPS line", "a chat cannot read a location: ask for a postcode instead"),
    "geoshape": ("a GPS area", "a chat cannot read a location: ask for a postcode instead"),
    "image": ("a photo", "a chat takes text only: ask people to describe it in words (type text)"),
    "photo": ("a photo", "a chat takes text only: ask people to describe it in words (type text)"),
    "audio": ("a recording", "a chat takes text only: ask for an answer in words (type text)"),
    "video": ("a video", "a chat takes text only: ask for an answer in words (type text)"),
    "file": ("a file", "a chat takes text only: ask for an answer in words (type text)"),
    "barcode": ("a barcode scan", "ask people to type the code (type text)"),
    "hidden": ("a hidden value", "a chat has no hidden fields; remove the row"),
    "xml-external": ("external data", "a chat cannot read external data files"),
    "csv-external": ("external data", "a chat cannot read external data files"),
    "calculate": (
        "a calculation",
        "a chat cannot calculate; work it out from the export instead",
    ),
}
ERROR_TYPES: dict[str, str] = {
    "select_one_from_file": "choices from a file cannot be read in a chat: copy them into the "
    "choices sheet and use select_one",
    "select_multiple_from_file": "choices from a file cannot be read in a chat: copy them into "
    "the choices sheet and use select_multiple",
    "select one from file": "choices from a file cannot be read in a chat: copy them into the "
    "choices sheet and use select_one",
    "select multiple from file": "choices from a file cannot be read in a chat: copy them into "
    "the choices sheet and use select_multiple",
    "select_one_external": "external choices cannot be filtered in a chat: copy the choices "
    "into the choices sheet (one question per group, with relevant)",
    "rank": "a chat cannot rank: ask 'which matters most?' (select_one), or select_multiple "
    "with count-selected(.) <= 3",
    "osm": "map features cannot be drawn in a chat: describe them in words (type text)",
}
_SELECT_COMMANDS = (
    "select all that apply from",
    "add select multiple prompt using",
    "add select one prompt using",
    "select all that apply",
    "select_one_external",
    "select_one_from_file",
    "select_multiple_from_file",
    "select one from file",
    "select multiple from file",
    "select one from",
    "select_multiple",
    "select_one",
    "select one",
    "select1",
    "rank",
)
_MULTI = {
    "select all that apply from",
    "add select multiple prompt using",
    "select all that apply",
    "select_multiple",
}
RE_SELECT = re.compile(
    r"^(?P<cmd>" + "|".join(re.escape(c) for c in _SELECT_COMMANDS) + r")\s+(?P<list>\S+)"
    r"(?:\s+(?P<other>or specify other|or_other|or other))?\Z",
    re.IGNORECASE,
)
RE_BEGIN = re.compile(
    r"^begin[\s_](?P<kind>group|repeat|loop|lgroup|looped group)(?:\s+(?:over\s+)?(?P<list>\S+))?\Z"
)
RE_END = re.compile(r"^end[\s_](?P<kind>group|repeat|loop|lgroup|looped group)\Z")
KNOWN_TYPES = [
    *sorted(set(PLAIN_TYPES) | set(METADATA) | set(DROPPED_TYPES)),
    "select_one LIST",
    "select_multiple LIST",
    "begin group",
    "end group",
]


def _pyxform_types() -> dict[str, dict[str, Any]]:
    from pyxform import QUESTION_TYPE_DICT

    return {k.lower(): v for k, v in QUESTION_TYPE_DICT.items()}


_PYXFORM_TYPES = _pyxform_types()
_MEDIA = {"image/*": "image", "audio/*": "audio", "video/*": "video", "osm/*": "osm"}
_INPUTS = {
    "int": "integer",
    "decimal": "decimal",
    "date": "date",
    "datetime": "datetime",
    "time": "time",
    "string": "text",
}


def canonical_type(t: str) -> tuple[str, dict[str, str]]:
    """The type an older or longer spelling stands for (``add text prompt`` -> ``text``,
    ``gps`` -> ``geopoint``, ``percentage`` -> ``integer`` with its constraint), by pyxform's
    own table of question types; and the constraint and hint that type brings."""
    if t in PLAIN_TYPES or t in METADATA or t in DROPPED_TYPES:
        return t, {}
    spec = _PYXFORM_TYPES.get(t)
    if spec is None:
        return t, {}
    bind: dict[str, Any] = spec.get("bind", {})
    control: dict[str, Any] = spec.get("control", {})
    extra = {
        k: v
        for k, v in (("constraint", bind.get("constraint")), ("hint", spec.get("hint")))
        if isinstance(v, str)
    }
    if "jr:preload" in bind:
        param = str(bind.get("jr:preloadParams", "start"))
        return (param if param in METADATA else "start"), {}
    btype = str(bind.get("type", "")).lower()
    tag = control.get("tag")
    if btype in ("geopoint", "geotrace", "geoshape", "barcode"):
        return btype, {}
    if btype == "binary":
        return _MEDIA.get(str(control.get("mediatype")), "file"), {}
    if tag == "trigger":
        return "acknowledge", {}
    if bind.get("readonly") == "true()":
        return "note", {}
    if tag == "input" and btype in _INPUTS:
        return _INPUTS[btype], extra
    if not control and btype == "string":
        return "calculate", {}
    return t, {}


# Survey columns and what surveybot does with each (anything else: one warning per column).
SURVEY_USED = {
    "type",
    "name",
    "label",
    "hint",
    "required",
    "required_message",
    "constraint",
    "constraint_message",
    "relevant",
    "appearance",
    "parameters",
    "surveybot",
}
SURVEY_WARNED = {
    "default": "a chat cannot pre-fill an answer: the default is not used",
    "guidance_hint": "guidance for data collectors is not sent in a chat",
    "media": "a chat sends text only: pictures, sound and video are not sent",
    "read_only": "a read-only question is shown as a message in a chat",
    "trigger": "a chat cannot re-calculate on a trigger",
    "calculation": None,  # reported with calculate rows
    "choice_filter": None,  # an error of its own
    "repeat_count": None,  # with repeats
    "autoplay": "a chat sends text only: nothing is played",
    "rows": "the height of a text box does not apply to a chat",
    "bind": "custom bind:: attributes are not used in a chat",
    "body": "custom body:: attributes are not used in a chat",
    "instance": "custom instance:: attributes are not used in a chat",
    "no_app_error_string": "not used in a chat",
    "disabled": None,
    "save_to": "entities (saving answers to ODK lists) are not used in a chat",
}
SETTINGS_KNOWN = {
    "form_title",
    "form_id",
    "default_language",
    "version",
    "instance_name",
    "style",
    "public_key",
    "submission_url",
    "allow_choice_duplicates",
    "name",
    "clean_text_values",
    "namespaces",
    "auto_send",
    "auto_delete",
    "sms_keyword",
    "prefix",
    "delimiter",
    "client_editable",
    "entities_version",
    # surveybot's own settings
    "council",
    "contact_name",
    "contact_phone",
    "contact_email",
    "contact_web",
    "intro",
    "thanks",
    "surveybot",
}
SETTINGS_TEXTS = frozenset({"intro", "thanks", "form_title", "label", "hint"})
_TRUE = {"yes", "true", "true()", "1", "y"}
_FALSE = {"no", "false", "false()", "0", "n", ""}
_TAG = re.compile(r"</?(span|b|i|strong|em|u|br|p|font|div)\b[^>]*>", re.IGNORECASE)
_REF_IN_TEXT = re.compile(r"\$\{\s*([^}\s]+)\s*\}")
_CODE_TO_COLUMN = {
    "condition": "relevant",
    "condition_syntax": "relevant",
    "translation": "label",
    "sms_long": "label",
    "sms_ucs2": "label",
    "sms_lookalike": "label",
    "pipe_unknown": "label",
    "pipe_later": "label",
    "next_map": "surveybot",
    "next_key": "surveybot",
    "next_unknown": "surveybot",
    "next_cycle": "surveybot",
    "one_choice": "type",
    "empty_choices": "type",
    "duplicate_choice": "type",
    "sms_many_choices": "type",
    "picks": "constraint",
}

PLACEHOLDER_COUNCIL = "CHANGE ME: the council or team running this survey"
PLACEHOLDER_EMAIL = "change-me@example.org"


@dataclass
class Options:
    flow_id: str | None = None
    council: str | None = None
    contact: str | None = None
    language: str | None = None
    """Language code of columns written without one (``label``); default from settings, else en."""
    group_messages: bool = True
    """A labelled group becomes an info message."""


@dataclass
class ImportResult:
    file: str
    flow: dict[str, Any] | None
    yaml_text: str | None
    problems: list[FormProblem]

    @property
    def errors(self) -> list[FormProblem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[FormProblem]:
        return [p for p in self.problems if p.severity == "warning"]


@dataclass
class _Cells:
    """One row's cells by column, with the sheet and row number for messages."""

    sheet: str
    row: int
    values: dict[Column, str]

    def get(self, field_name: str) -> str | None:
        for col, v in self.values.items():
            if col.field == field_name and col.lang is None and col.detail is None:
                return v
        return None

    def header(self, field_name: str) -> str:
        for col in self.values:
            if col.field == field_name:
                return col.header
        return field_name

    def texts(self, field_name: str) -> tuple[str | None, dict[str, str]]:
        plain: str | None = None
        per: dict[str, str] = {}
        for col, v in self.values.items():
            if col.field != field_name or col.detail is not None:
                continue
            if col.lang is None:
                plain = v
            else:
                per[col.lang] = v
        return plain, per


@dataclass
class _Choice:
    name: str
    cells: _Cells
    id: str = ""
    label: LText | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Item:
    """A survey row that becomes a flow question (or an info message from a group)."""

    cells: _Cells
    name: str
    id: str
    kind: str
    """Flow type, or ``range`` until its parameters are read."""
    xls_type: str
    list_name: str | None = None
    or_other: bool = False
    groups: list[_Group] = field(default_factory=list)
    from_group: _Group | None = None
    data: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    implied: dict[str, str] = field(default_factory=dict)
    """Constraint and hint an older type name brings (``percentage``)."""
    skip: bool = False
    """Folded into the question before it (an 'other, please specify' follow-up)."""


@dataclass
class _Group:
    cells: _Cells
    name: str
    kind: str
    relevant: str | None
    label: LText | None = None


class _Importer:
    def __init__(self, wb: Workbook, options: Options) -> None:
        self.wb = wb
        self.file = wb.file
        self.opts = options
        self.problems: list[FormProblem] = []
        self.languages: list[str] = []
        self.default = "en"
        self.single = True
        self.ids: dict[str, str] = {}  # XLSForm name -> flow id
        self.targets: dict[str, xpath.Target] = {}
        self.lists: dict[str, list[_Choice]] = {}
        self.list_rows: dict[str, int] = {}
        self.items: list[_Item] = []
        self.required_messages: dict[str, dict[str, int]] = {}

    # -- reporting --

    def add(
        self,
        cells: _Cells | None,
        column: str | None,
        message: str,
        hint: str | None = None,
        *,
        severity: str = "error",
        code: str = "invalid",
        sheet: str | None = None,
        row: int | None = None,
    ) -> None:
        self.problems.append(
            FormProblem(
                self.file,
                cells.sheet if cells else sheet,
                cells.row if cells else row,
                column,
                message,
                hint,
                severity,
                code,
            )
        )

    def warn(
        self,
        cells: _Cells | None,
        column: str | None,
        message: str,
        hint: str | None = None,
        *,
        code: str = "unsupported",
        sheet: str | None = None,
        row: int | None = None,
    ) -> None:
        self.add(cells, column, message, hint, severity="warning", code=code, sheet=sheet, row=row)

    # -- sheets --

    def _sheet(self, key: str) -> Sheet | None:
        return self.wb.sheet(key)

    def _columns(
        self, sheet: Sheet, aliases: dict[str, str], translatable: frozenset[str] | None = None
    ) -> dict[str, Column]:
        kwargs: dict[str, Any] = {}
        if translatable is not None:
            kwargs["translatable"] = translatable
        cols, problems = parse_headers(
            sheet.headers, aliases, file=self.file, sheet=sheet.name, **kwargs
        )
        self.problems.extend(problems)
        return {c.header: c for c in cols}

    def _cells(self, sheet: Sheet, row: Row, cols: dict[str, Column]) -> _Cells:
        return _Cells(
            sheet.name, row.number, {cols[h]: v for h, v in row.cells.items() if h in cols}
        )

    def run(self) -> dict[str, Any] | None:
        survey = self._sheet("survey")
        if survey is None:
            names = ", ".join(self.wb.sheet_names) or "none"
            close = difflib.get_close_matches(
                "survey", [n.lower() for n in self.wb.sheet_names], n=1
            )
            self.add(
                None,
                None,
                f"the workbook has no sheet named 'survey' (its sheets: {names})",
                f"rename {close[0]!r} to 'survey'"
                if close
                else "an XLSForm needs a survey sheet with type, name and label columns",
                code="no_survey",
            )
            return None
        for other in ("external_choices", "entities", "osm"):
            sheet = self._sheet(other)
            if sheet is not None and sheet.rows:
                if other == "entities":
                    self.warn(
                        None,
                        None,
                        "the entities sheet is not used: a chat does not update ODK entity lists",
                        code="unsupported",
                        sheet=sheet.name,
                        row=1,
                    )
                else:
                    self.add(
                        None,
                        None,
                        f"the {other} sheet cannot be used in a chat",
                        "copy the choices into the choices sheet"
                        if other == "external_choices"
                        else "describe map features in words (type text)",
                        code="unsupported",
                        sheet=sheet.name,
                        row=1,
                    )
        s_cols = self._columns(survey, SURVEY_ALIASES)
        c_sheet = self._sheet("choices")
        c_cols = self._columns(c_sheet, CHOICES_ALIASES) if c_sheet else {}
        st_sheet = self._sheet("settings")
        st_cols = self._columns(st_sheet, SETTINGS_ALIASES, SETTINGS_TEXTS) if st_sheet else {}
        if "type" not in {c.field for c in s_cols.values()}:
            self.add(
                None,
                "type",
                "the survey sheet has no 'type' column",
                "the first row must name the columns: type, name, label, ...",
                code="no_type_column",
                sheet=survey.name,
                row=1,
            )
            return None
        settings = self._settings(st_sheet, st_cols)
        self._languages([s_cols, c_cols, st_cols], settings)
        self._check_columns(survey, s_cols, SURVEY_USED, SURVEY_WARNED)
        if c_sheet is not None:
            self._choices(c_sheet, c_cols)
        self._walk(survey, s_cols)
        questions = self._questions()
        return self._flow(settings, questions)

    # -- settings and languages --

    def _settings(self, sheet: Sheet | None, cols: dict[str, Column]) -> _Cells | None:
        if sheet is None:
            return None
        rows = [r for r in sheet.rows if r.cells]
        if not rows:
            return None
        if len(rows) > 1:
            self.warn(
                self._cells(sheet, rows[1], cols),
                None,
                "only the first row of the settings sheet is used",
                "put every setting in the first row under its heading",
                code="settings_rows",
            )
        cells = self._cells(sheet, rows[0], cols)
        for col in cols.values():
            if col.field not in SETTINGS_KNOWN and not col.header.startswith("$"):
                self.warn(
                    cells,
                    col.header,
                    f"the setting {col.header!r} is not used by surveybot",
                    code="unknown_column",
                )
        return cells

    def _languages(self, all_cols: list[dict[str, Column]], settings: _Cells | None) -> None:
        found: list[str] = []
        plain = False
        for cols in all_cols:
            for col in cols.values():
                if col.field in (
                    "label",
                    "hint",
                    "constraint_message",
                    "required_message",
                    "intro",
                    "thanks",
                ):
                    if col.lang is None:
                        plain = True
                    elif col.lang not in found:
                        found.append(col.lang)
        written = settings.get("default_language") if settings else None
        default: str | None = None
        if written:
            default = parse_language(written)
            if default is None:
                self.warn(
                    settings,
                    "default_language",
                    f"the default language {written!r} is not one surveybot knows",
                    "write it as in the column headings, e.g. English (en)",
                    code="language",
                )
        if default is None:
            default = self.opts.language
        if default is None:
            default = found[0] if found and not plain else "en"
        self.default = default
        self.languages = [default, *[lang for lang in found if lang != default]]
        self.single = len(self.languages) == 1

    def _text(self, cells: _Cells, field_name: str) -> LText | None:
        plain, per = cells.texts(field_name)
        if plain is not None:
            plain = self._clean(cells, field_name, plain)
        per = {k: self._clean(cells, field_name, v) for k, v in per.items()}
        if not per:
            return plain
        if plain is not None and self.default not in per:
            per[self.default] = plain
        ordered = {lang: per[lang] for lang in self.languages if lang in per}
        if self.single and len(ordered) == 1:
            return next(iter(ordered.values()))
        return ordered

    def _clean(self, cells: _Cells, field_name: str, text: str) -> str:
        if _TAG.search(text):
            text = _TAG.sub("", text)
            self.warn(
                cells,
                cells.header(field_name),
                "formatting tags (<span>, <b>...) are removed: a chat sends plain text",
                "remove the tags from the label",
                code="html",
            )
        return text

    def _check_columns(
        self, sheet: Sheet, cols: dict[str, Column], used: set[str], warned: dict[str, str | None]
    ) -> None:
        for col in cols.values():
            if col.field in used or col.header.startswith("$") or col.field.startswith("$"):
                continue
            rows = [r for r in sheet.rows if r.cells.get(col.header)]
            if not rows:
                continue
            if col.field in warned:
                message = warned[col.field]
                if message is None:
                    continue
                for r in rows:
                    self.warn(
                        _Cells(sheet.name, r.number, {}),
                        col.header,
                        message,
                        "nothing to do for the chat; the column stays in the form for ODK",
                        code="unsupported",
                    )
                continue
            self.warn(
                _Cells(sheet.name, rows[0].number, {}),
                col.header,
                f"the column {col.header!r} is not an XLSForm column surveybot knows; it is ignored",
                "check the spelling of the heading",
                code="unknown_column",
            )

    # -- choices --

    def _choices(self, sheet: Sheet, cols: dict[str, Column]) -> None:
        fields = {c.field for c in cols.values()}
        if sheet.rows and "list_name" not in fields:
            self.add(
                None,
                None,
                "the choices sheet has no 'list_name' column",
                "the first row must name the columns: list_name, name, label",
                code="choices_columns",
                sheet=sheet.name,
                row=1,
            )
            return
        if sheet.rows and "name" not in fields:
            self.add(
                None,
                None,
                "the choices sheet has no 'name' column",
                "the first row must name the columns: list_name, name, label",
                code="choices_columns",
                sheet=sheet.name,
                row=1,
            )
            return
        media_warned = False
        others: dict[str, int] = {}
        for row in sheet.rows:
            cells = self._cells(sheet, row, cols)
            if not cells.values:
                continue
            list_name = cells.get("list_name")
            name = cells.get("name")
            if list_name is None and name is None:
                continue  # a comment row
            if list_name is None:
                self.add(
                    cells,
                    "list_name",
                    f"choice {name!r} has no list_name",
                    "write the list's name in the list_name column",
                    code="choice_list",
                )
                continue
            if name is None:
                self.add(
                    cells,
                    "name",
                    f"a choice of list {list_name!r} has no name",
                    "write a short code in the name column, e.g. yes",
                    code="choice_name",
                )
                continue
            choices = self.lists.setdefault(list_name, [])
            self.list_rows.setdefault(list_name, row.number)
            if any(c.name == name for c in choices):
                self.add(
                    cells,
                    "name",
                    f"choice {name!r} appears twice in list {list_name!r}",
                    "give each choice in a list its own name",
                    code="duplicate_choice",
                )
                continue
            choice = _Choice(name, cells, label=self._text(cells, "label"))
            if choice.label is None:
                choice.label = name
                self.warn(
                    cells,
                    "label",
                    f"choice {name!r} has no label: its name is shown",
                    code="no_label",
                )
            raw = cells.get("surveybot")
            if raw:
                choice.extra = self._extra(cells, raw, _CHOICE_EXTRAS)
            choices.append(choice)
            for col in cells.values:
                if col.field == "media" and not media_warned:
                    media_warned = True
                    self.warn(
                        cells,
                        col.header,
                        "a chat sends text only: choice pictures and sounds are not sent",
                        code="unsupported",
                    )
                elif col.field not in (
                    "list_name",
                    "name",
                    "label",
                    "media",
                    "surveybot",
                ) and not col.header.startswith("$"):
                    others.setdefault(col.header, row.number)
        for header, number in others.items():
            self.warn(
                None,
                header,
                f"the choices column {header!r} is ignored (choice filters cannot be used in a chat)",
                code="unknown_column",
                sheet=sheet.name,
                row=number,
            )

    # -- the survey sheet --

    def _walk(self, sheet: Sheet, cols: dict[str, Column]) -> None:
        stack: list[_Group] = []
        used_ids: set[str] = set()
        for row in sheet.rows:
            cells = self._cells(sheet, row, cols)
            if not cells.values:
                continue
            type_text = cells.get("type")
            name = cells.get("name")
            if type_text is None:
                if name is None and not any(c.field == "label" for c in cells.values):
                    continue  # a comment row
                self.add(
                    cells,
                    "type",
                    "this row has no type",
                    "write e.g. text, integer or select_one LIST in the type column (or clear the row)",
                    code="no_type",
                )
                continue
            t = " ".join(type_text.split()).lower()
            self._chat_unsafe_columns(cells)
            m = RE_BEGIN.match(t)
            if m:
                kind = "group" if m.group("kind") == "group" else "repeat"
                group = _Group(
                    cells,
                    name or f"group_{row.number}",
                    kind,
                    cells.get("relevant"),
                    self._text(cells, "label"),
                )
                if kind == "repeat":
                    self.add(
                        cells,
                        "type",
                        f"repeat {name or ''!s} cannot be asked in a chat".replace("  ", " "),
                        "a chat asks each question once: ask 'how many ...?' (integer) and one text question for the details, or copy the questions for a fixed number of times",
                        code="repeat",
                    )
                if name is None:
                    self.warn(cells, "name", "this group has no name", code="group_name")
                stack.append(group)
                if kind == "group" and group.label is not None and self.opts.group_messages:
                    gid = self._new_id(cells, group.name, used_ids)
                    item = _Item(
                        cells, group.name, gid, "info", t, groups=list(stack), from_group=group
                    )
                    item.data["text"] = group.label
                    self.items.append(item)
                self._appearance(cells, group=True)
                continue
            m = RE_END.match(t)
            if m:
                if not stack:
                    self.add(
                        cells,
                        "type",
                        f"'{type_text}' has no matching begin {m.group('kind')}",
                        "remove it, or add the begin row",
                        code="group_end",
                    )
                else:
                    stack.pop()
                continue
            if name is None:
                self.add(
                    cells,
                    "name",
                    f"this {type_text} row has no name",
                    "write a short unique name, e.g. age",
                    code="no_name",
                )
                continue
            if name in self.targets:
                self.add(
                    cells,
                    "name",
                    f"the name {name!r} is used twice",
                    "give each row its own name",
                    code="duplicate_name",
                )
                continue
            self._row(cells, t, type_text, name, stack, used_ids)
        for group in stack:
            self.add(
                group.cells,
                "type",
                f"begin {group.kind} {group.name!r} has no end {group.kind}",
                f"add an 'end {group.kind}' row after its last question",
                code="group_end",
            )

    def _chat_unsafe_columns(self, cells: _Cells) -> bool:
        cf = cells.get("choice_filter")
        if cf:
            self.add(
                cells,
                cells.header("choice_filter"),
                "choice_filter cannot be used in a chat (choices cannot be filtered by an earlier answer)",
                "split the list into one question per group, each with its own relevant (see the ethnic group questions in flows/carers-strategy.yaml)",
                code="choice_filter",
            )
        return bool(cf)

    def _new_id(self, cells: _Cells, name: str, used: set[str]) -> str:
        base = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "q"
        if not base[0].isalpha():
            base = f"q_{base}"
        base = base[:30].rstrip("_")
        qid, n = base, 2
        while qid in used:
            suffix = f"_{n}"
            qid = base[: 30 - len(suffix)] + suffix
            n += 1
        used.add(qid)
        if qid != name:
            self.warn(
                cells,
                "name",
                f"{name!r} is called {qid!r} in the flow",
                "flow ids are lower-case letters, digits and _, up to 30 characters; rename it in the form to keep the same name",
                code="renamed",
            )
        self.ids[name] = qid
        return qid

    def _row(
        self, cells: _Cells, t: str, written: str, name: str, stack: list[_Group], used: set[str]
    ) -> None:
        groups = list(stack)
        t, implied = canonical_type(t)
        if t in METADATA:
            self.warn(
                cells,
                "type",
                f"{written} ({METADATA[t]}) is left out: a chat records when each answer was given, and nothing about the phone",
                "nothing to do: remove the row if you like; the export has the time of every answer",
                code="metadata",
            )
            self.targets[name] = xpath.Target(name, "dropped", why=f"{written}, row {cells.row}")
            return
        if t in DROPPED_TYPES:
            what, instead = DROPPED_TYPES[t]
            if t == "calculate" or (cells.get("calculation") and t == "hidden"):
                self.warn(
                    cells,
                    "type",
                    f"calculation {name!r} is left out: a chat cannot calculate",
                    "work it out from the export; a condition or label that uses it is reported too",
                    code="calculate",
                )
            else:
                self.warn(
                    cells,
                    "type",
                    f"{written} question {name!r} ({what}) is left out",
                    instead,
                    code="dropped",
                )
            self.targets[name] = xpath.Target(name, "dropped", why=f"{written}, row {cells.row}")
            return
        for key, hint in ERROR_TYPES.items():
            if t == key or t.startswith(key + " "):
                self.add(
                    cells,
                    "type",
                    f"{written} cannot be used in a chat",
                    hint,
                    code="unsupported_type",
                )
                self.targets[name] = xpath.Target(
                    name, "dropped", why=f"{written}, row {cells.row}"
                )
                return
        m = RE_SELECT.match(" ".join(written.split()))
        if m:
            cmd = m.group("cmd").lower()
            list_name = m.group("list")
            if list_name.startswith("${"):
                self.add(
                    cells,
                    "type",
                    "choices from an earlier answer cannot be used in a chat",
                    "write the choices in the choices sheet",
                    code="unsupported_type",
                )
                self.targets[name] = xpath.Target(
                    name, "dropped", why=f"{written}, row {cells.row}"
                )
                return
            kind = "multi" if cmd in _MULTI else "choice"
            if list_name not in self.lists:
                close = difflib.get_close_matches(list_name, list(self.lists), n=1)
                self.add(
                    cells,
                    "type",
                    f"the choice list {list_name!r} is not in the choices sheet",
                    f"did you mean {close[0]!r}?"
                    if close
                    else "add its choices to the choices sheet, with list_name " + list_name,
                    code="no_list",
                )
                self.targets[name] = xpath.Target(
                    name, "dropped", why=f"{written}, row {cells.row}"
                )
                return
            item = _Item(
                cells,
                name,
                self._new_id(cells, name, used),
                kind,
                written,
                list_name,
                bool(m.group("other")),
                groups,
            )
        elif t in PLAIN_TYPES:
            kind = PLAIN_TYPES[t]
            if t in _AS_TEXT:
                self.warn(
                    cells,
                    "type",
                    _AS_TEXT[t],
                    "give an example of the answer in the hint",
                    code="as_text",
                )
            item = _Item(cells, name, self._new_id(cells, name, used), kind, written, groups=groups)
            if t in ("integer", "int"):
                item.data["integer"] = True
            elif t == "decimal":
                item.data["integer"] = False
        else:
            close = difflib.get_close_matches(t, [k.split()[0] for k in KNOWN_TYPES], n=1)
            self.add(
                cells,
                "type",
                f"unknown type {written!r}",
                (f"did you mean {close[0]!r}? " if close else "")
                + "XLSForm types surveybot reads: text, integer, decimal, range, date, select_one LIST, select_multiple LIST, note, acknowledge, begin group, end group",
                code="unknown_type",
            )
            self.targets[name] = xpath.Target(name, "dropped", why=f"unknown type, row {cells.row}")
            return
        item.implied = implied
        raw = cells.get("surveybot")
        if raw:
            item.extra = self._extra(cells, raw, None)
        read_only = cells.get("read_only")
        if read_only and read_only.strip().lower() in _TRUE:
            item.kind = "info"  # shown, never answered
        self.items.append(item)
        self.targets[name] = xpath.Target(item.id, item.kind)

    def _extra(self, cells: _Cells, raw: str, allowed: set[str] | None) -> dict[str, Any]:
        from bot.yamlsafe import load_yaml

        located, problems = load_yaml(raw, f"{self.file} {cells.sheet} row {cells.row}")
        data = located.data if located is not None else None
        if problems or not isinstance(data, dict):
            detail = (
                problems[0].message if problems else "it is not a set of 'name: value' settings"
            )
            self.add(
                cells,
                "surveybot",
                f"the surveybot column cannot be read: {detail}",
                'write flow settings as YAML or JSON, e.g. {type: postcode} or {"next": {"no": "end"}}',
                code="surveybot_column",
            )
            return {}
        if allowed is not None:
            for k in list(data):
                if k not in allowed:
                    self.add(
                        cells,
                        "surveybot",
                        f"{k!r} cannot be set on a choice",
                        "a choice may have " + ", ".join(sorted(allowed)),
                        code="surveybot_column",
                    )
                    data.pop(k)
        return {str(k): v for k, v in data.items()}

    def _appearance(self, cells: _Cells, *, group: bool = False, used: str | None = None) -> None:
        raw = cells.get("appearance")
        if not raw:
            return
        for word in raw.split():
            if word == used:
                continue
            if group and word in ("field-list", "table-list"):
                continue  # how ODK lays out a page; a chat sends one question at a time anyway
            if word.startswith("search(") or word.startswith("search"):
                self.add(
                    cells,
                    "appearance",
                    "search() reads choices from a file, which a chat cannot",
                    "copy the choices into the choices sheet",
                    code="unsupported",
                )
                continue
            self.warn(
                cells,
                "appearance",
                f"appearance '{word}' only changes how ODK shows the question; a chat ignores it",
                "nothing to do, or clear the appearance cell",
                code="appearance",
            )

    # -- questions --

    def _questions(self) -> list[_Item]:
        self._fold_others()
        for item in self.items:
            if item.skip:
                continue
            if item.from_group is not None:
                self._finish_group_info(item)
                continue
            self._build(item)
        return [i for i in self.items if not i.skip]

    def _fold_others(self) -> None:
        """A select followed by its 'please specify' text question becomes ``other:``."""
        for i, item in enumerate(self.items[:-1]):
            nxt = self.items[i + 1]
            if item.kind not in ("choice", "multi") or item.or_other or item.list_name is None:
                continue
            if nxt.kind != "text" or nxt.from_group is not None or nxt.extra:
                continue
            rel = nxt.cells.get("relevant")
            if not rel:
                continue
            m = re.fullmatch(
                r"\s*(?:selected\(\s*\$\{(\S+?)\}\s*,\s*'([^']*)'\s*\)|\$\{(\S+?)\}\s*=\s*'([^']*)')\s*",
                rel,
            )
            if not m:
                continue
            ref, value = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            choices = self.lists.get(item.list_name, [])
            if ref != item.name or not choices:
                continue
            tail = [c for c in choices if not (c.extra.get("none_of_these") or c.name == "none")]
            if not tail or tail[-1].name != value.strip():
                continue
            allowed = {
                "type",
                "name",
                "label",
                "hint",
                "relevant",
                "constraint",
                "required",
                "surveybot",
            }
            if any(
                c.field not in allowed and not c.header.startswith("$") for c in nxt.cells.values
            ):
                continue
            if nxt.groups != item.groups:
                continue
            nxt.skip = True
            item.data["_other_from"] = (tail[-1], nxt)
            self.targets[nxt.name] = xpath.Target(
                item.id, "dropped", why=f"the 'other' answer of {item.name}, row {nxt.cells.row}"
            )

    def _finish_group_info(self, item: _Item) -> None:
        when = self._conditions(item.cells, item.groups, None)
        q: dict[str, Any] = {"id": item.id, "type": "info"}
        if when:
            q["when"] = when
        q["text"] = self._pipe(item.cells, "label", item.data["text"])
        item.data = q

    def _conditions(self, cells: _Cells, groups: list[_Group], own: str | None) -> str | None:
        parts: list[E.Expr] = []
        for group in groups:
            if group.relevant:
                cond = self._relevant(group.cells, group.relevant)
                if cond is not None:
                    parts.append(cond)
        if own:
            cond = self._relevant(cells, own)
            if cond is not None:
                parts.append(cond)
        if not parts:
            return None
        flat: list[E.Expr] = []
        for p in parts:
            flat.extend(p.items if isinstance(p, E.And) else (p,))
        return E.unparse(flat[0] if len(flat) == 1 else E.And(tuple(flat)))

    def _relevant(self, cells: _Cells, text: str) -> E.Expr | None:
        try:
            tree = xpath.parse(_straight(text))
            return xpath.to_condition(tree, self.targets)
        except xpath.XPathError as exc:
            self.add(
                cells,
                cells.header("relevant"),
                f"relevant, at character {exc.column}: {exc.message}",
                exc.hint,
                code="relevant",
            )
        except ValueError as exc:  # an id the condition language cannot hold
            self.add(
                cells,
                cells.header("relevant"),
                f"relevant cannot be used: {exc}",
                None,
                code="relevant",
            )
        return None

    def _pipe(self, cells: _Cells, field_name: str, text: LText) -> LText:
        def one(s: str) -> str:
            def sub(m: re.Match[str]) -> str:
                ref = m.group(1)
                target = self.targets.get(ref)
                if target is None or target.kind in ("dropped",):
                    why = f" ({target.why})" if target is not None else ""
                    self.add(
                        cells,
                        cells.header(field_name),
                        f"${{{ref}}} cannot be shown: it is not a question the chat asks{why}",
                        "remove it from the text, or show an answer the chat asks",
                        code="pipe",
                    )
                    return m.group(0)
                return "{" + target.id + "}"

            return _REF_IN_TEXT.sub(sub, s)

        if isinstance(text, str):
            return one(text)
        return {k: one(v) for k, v in text.items()}

    def _build(self, item: _Item) -> None:
        cells = item.cells
        extra = dict(item.extra)
        kind = str(extra.pop("type", item.kind))
        q: dict[str, Any] = {"id": item.id, "type": kind}
        integer = item.data.get("integer")
        short = extra.pop("label", None)
        if short is not None:
            q["label"] = short
        required = cells.get("required")
        answerable = kind != "info"
        if answerable:
            if required is None or required.strip().lower() in _FALSE:
                q["optional"] = True
            elif required.strip().lower() not in _TRUE:
                q["optional"] = True
                self.warn(
                    cells,
                    "required",
                    f"required depends on a condition ({required}); in a chat the question is optional",
                    "write yes or no",
                    code="required_expression",
                )
        elif required and required.strip().lower() in _TRUE:
            pass
        when = self._conditions(cells, item.groups, cells.get("relevant"))
        if when:
            q["when"] = when
        text = self._text(cells, "label")
        hint = self._text(cells, "hint") or item.implied.get("hint")
        if text is None:
            if hint is not None:
                text, hint = hint, None
            elif kind == "info":
                self.warn(
                    cells,
                    "label",
                    f"note {item.name!r} has no text (only pictures or sound): it is left out",
                    code="dropped",
                )
                item.skip = True
                return
            else:
                self.add(
                    cells,
                    "label",
                    f"{item.name!r} has no label",
                    "write the question in the label column",
                    code="no_label",
                )
                text = item.name
        q["text"] = self._pipe(cells, "label", text)
        if hint is not None:
            q["hint"] = self._pipe(cells, "hint", hint)
        reprompt = self._text(cells, "constraint_message")
        if reprompt is not None:
            q["reprompt"] = self._pipe(cells, "constraint_message", reprompt)
        rmsg = self._text(cells, "required_message")
        if rmsg is not None:
            texts = {self.default: rmsg} if isinstance(rmsg, str) else rmsg
            for lang, t in texts.items():
                self.required_messages.setdefault(lang, {}).setdefault(t, cells.row)
        if kind == "number" and integer is False:
            q["integer"] = False
        if item.list_name is not None:
            self._select(item, q, kind, extra)
            kind = q["type"]
        elif kind == "range":
            kind = self._range(item, q)
        elif kind == "date":
            self._date(item, q)
        else:
            self._appearance(cells)
        if (
            item.xls_type.lower() in ("acknowledge", "trigger")
            and "optional" in q
            and kind == "consent"
        ):
            q["type"] = kind = "yesno"
        if kind == "info":
            q.pop("optional", None)
        self._constraint(item, q, kind)
        for k, v in extra.items():
            q[k] = v
        item.data = q

    def _select(self, item: _Item, q: dict[str, Any], kind: str, extra: dict[str, Any]) -> None:
        cells = item.cells
        assert item.list_name is not None
        choices = self.lists[item.list_name]
        appearance = (cells.get("appearance") or "").split()
        if kind == "choice" and "likert" in appearance:
            kind = "scale"
        self._appearance(cells, used="likert")
        names = [c.name for c in choices]
        if (
            kind == "choice"
            and "type" not in item.extra
            and sorted(n.lower() for n in names) == ["no", "yes"]
            and not item.or_other
        ):
            kind = "yesno"
        q["type"] = kind
        used: set[str] = set()
        mapping: dict[str, str] = {}
        out: list[dict[str, Any]] = []
        none_choice: _Choice | None = None
        other = item.data.pop("_other_from", None)
        for c in choices:
            cid = self._choice_id(c, used)
            mapping[c.name] = cid
            if other is not None and c is other[0]:
                continue
            if c.extra.get("none_of_these") and kind == "multi":
                none_choice = c
                continue
            entry: dict[str, Any] = {
                "id": cid,
                "label": self._pipe(c.cells, "label", c.label or c.name),
            }
            for k, v in c.extra.items():
                if k != "none_of_these":
                    entry[k] = v
            out.append(entry)
        target = self.targets[item.name]
        if kind == "scale":
            target.points = {c.name: i + 1 for i, c in enumerate(choices)}
        elif kind in ("choice", "multi"):
            target.choices = mapping
        target.kind = kind
        if kind == "yesno":
            return
        if kind in ("choice", "multi", "scale"):
            q["choices"] = out
        if item.or_other and kind in ("choice", "multi"):
            q["other"] = {"id": "other"}
            mapping["other"] = "other"
        if other is not None and kind in ("choice", "multi"):
            choice, follow = other
            spec: dict[str, Any] = {
                "id": mapping[choice.name],
                "label": choice.label or choice.name,
            }
            prompt = self._text(follow.cells, "label")
            if prompt is not None:
                spec["prompt"] = prompt
            limits = self._limits(follow.cells, "text", True)
            if "max_length" in limits.fields:
                spec["max_length"] = limits.fields["max_length"]
            q["other"] = spec
        if none_choice is not None:
            q["none_of_these"] = (
                True if none_choice.extra.get("none_of_these") is True else none_choice.label
            )
            mapping[none_choice.name] = "none"

    def _choice_id(self, c: _Choice, used: set[str]) -> str:
        cid = c.name
        if not re.match(CHOICE_ID, cid):
            cid = re.sub(r"[^A-Za-z0-9_.+-]+", "_", cid).strip("_.+-")[:30] or "choice"
            if not cid[0].isalnum():
                cid = f"c{cid}"[:30]
        base, n = cid, 2
        while cid in used:
            cid = f"{base[:27]}_{n}"
            n += 1
        used.add(cid)
        if cid != c.name:
            self.warn(
                c.cells,
                "name",
                f"choice {c.name!r} is called {cid!r} in the flow",
                "choice ids are letters, digits and _ . + -, no spaces, up to 30 characters",
                code="renamed",
            )
        c.id = cid
        return cid

    def _range(self, item: _Item, q: dict[str, Any]) -> str:
        cells = item.cells
        params = _parameters(cells.get("parameters") or "")
        self._appearance(cells)

        def num(key: str, default: float) -> float:
            raw = params.get(key)
            if raw is None:
                return default
            try:
                return float(raw)
            except ValueError:
                self.add(
                    cells,
                    "parameters",
                    f"range {key}={raw!r} is not a number",
                    "e.g. start=1 end=5 step=1",
                    code="range",
                )
                return default

        start, end, step = num("start", 1), num("end", 10), num("step", 1)
        for k in params:
            if k not in ("start", "end", "step"):
                self.warn(
                    cells,
                    "parameters",
                    f"range parameter {k!r} is not used in a chat",
                    code="parameters",
                )
        whole = all(float(v).is_integer() for v in (start, end, step))
        lo, hi = min(start, end), max(start, end)
        if whole and step == 1 and 1 <= hi - lo <= 10:
            q["type"] = "scale"
            q["min"], q["max"] = int(lo), int(hi)
            self.targets[item.name].kind = "scale"
            return "scale"
        q["type"] = "number"
        q["integer"] = whole
        q["min"], q["max"] = (int(lo), int(hi)) if whole else (lo, hi)
        if step not in (0, 1) and not (not whole and step):
            self.warn(
                cells,
                "parameters",
                f"range step {step:g} is not checked in a chat: any number from {lo:g} to {hi:g} is accepted",
                code="range_step",
            )
        self.targets[item.name].kind = "number"
        return "number"

    def _date(self, item: _Item, q: dict[str, Any]) -> None:
        appearance = (item.cells.get("appearance") or "").split()
        used = None
        if "month-year" in appearance:
            q["precision"], used = "month", "month-year"
        elif "year" in appearance:
            q["precision"], used = "year", "year"
        self._appearance(item.cells, used=used)

    def _limits(
        self, cells: _Cells, kind: str, integer: bool, implied: str | None = None
    ) -> xpath.Limits:
        text = _straight(cells.get("constraint") or implied or "")
        if not text:
            return xpath.Limits()
        try:
            return xpath.constraint_limits(text, kind, integer=integer)
        except xpath.XPathError as exc:
            self.warn(
                cells,
                cells.header("constraint"),
                f"constraint, at character {exc.column}: {exc.message}; it is not checked in the chat",
                exc.hint,
                code="constraint",
            )
            return xpath.Limits()

    def _constraint(self, item: _Item, q: dict[str, Any], kind: str) -> None:
        cells = item.cells
        if not (cells.get("constraint") or item.implied.get("constraint")):
            return
        if kind not in ("number", "scale", "text", "multi", "date"):
            self.warn(
                cells,
                cells.header("constraint"),
                f"the constraint is not checked in a chat for a {item.xls_type} question",
                "answers are limited to the choices already",
                code="constraint",
            )
            return
        limits = self._limits(
            cells, kind, bool(q.get("integer", True)), item.implied.get("constraint")
        )
        if kind == "scale" and "choices" not in q:
            for k in ("min", "max"):
                if k in limits.fields:
                    q[k] = int(limits.fields[k])
        else:
            q.update(limits.fields)
        for name in limits.exclusive:
            if (
                q.get("none_of_these") is not None
                and self.targets[item.name].choices.get(name) == "none"
            ):
                continue
            for c in q.get("choices", []):
                if self.targets[item.name].choices.get(name) == c["id"]:
                    if c is q["choices"][-1] and c["id"] == "none" and "none_of_these" not in q:
                        q["none_of_these"] = c["label"]
                        q["choices"].pop()
                    else:
                        c["exclusive"] = True
                    break
            else:
                self.warn(
                    cells,
                    "constraint",
                    f"{name!r} is not a choice of this question",
                    None,
                    code="constraint",
                )
        for column, text in limits.unused:
            self.warn(
                cells,
                cells.header("constraint"),
                f"this part of the constraint is not checked in a chat: {text}",
                "a chat checks number ranges (. >= 0 and . <= 168), lengths (string-length(.) <= 200) and how many are picked (count-selected(.) <= 3); check the rest in the export",
                code="constraint",
            )
            del column

    # -- the flow --

    def _flow(self, settings: _Cells | None, items: list[_Item]) -> dict[str, Any] | None:
        if not items:
            self.add(
                None,
                None,
                "the form has no question a chat can ask",
                "add rows to the survey sheet",
                code="no_questions",
                sheet="survey",
            )
            return None
        s = settings
        form_id = s.get("form_id") if s else None
        title = (self._text(s, "form_title") if s else None) or form_id or Path(self.file).stem
        extra: dict[str, Any] = {}
        if s is not None and s.get("surveybot"):
            extra = self._extra(s, s.get("surveybot") or "", None)
        flow_id = self.opts.flow_id or form_id or Path(self.file).stem
        if not re.match(FLOW_ID, flow_id):
            fixed = re.sub(r"[^a-z0-9]+", "-", flow_id.lower()).strip("-")[:40] or "survey"
            if s is not None and form_id and not self.opts.flow_id:
                self.warn(
                    s,
                    "form_id",
                    f"form_id {flow_id!r} is {fixed!r} in the flow",
                    "a flow id is lower-case letters, digits and -",
                    code="renamed",
                )
            flow_id = fixed
        council = self.opts.council or (s.get("council") if s else None)
        contact: dict[str, str] = {}
        if s is not None:
            for k in ("name", "phone", "email", "web"):
                v = s.get(f"contact_{k}")
                if v:
                    contact[k] = v
        if self.opts.contact:
            contact.update(_contact(self.opts.contact))
        flow: dict[str, Any] = {"id": flow_id, "title": title}
        if council is None and "council" not in extra:
            council = PLACEHOLDER_COUNCIL
            self.warn(
                s,
                None,
                "the form does not say who runs the survey: the flow says 'CHANGE ME'",
                "add a council column to the settings sheet, or pass --council",
                code="placeholder",
                sheet="settings",
                row=2,
            )
        if council is not None:
            flow["council"] = council
        if not contact and "contact" not in extra:
            contact = {"email": PLACEHOLDER_EMAIL}
            self.warn(
                s,
                None,
                f"the form gives no contact for HELP replies: the flow says {PLACEHOLDER_EMAIL}",
                "add a contact_email, contact_phone or contact_web column to the settings sheet, or pass --contact",
                code="placeholder",
                sheet="settings",
                row=2,
            )
        if contact:
            flow["contact"] = contact
        flow["languages"] = list(self.languages)
        intro = self._text(s, "intro") if s else None
        thanks = self._text(s, "thanks") if s else None
        asked = sum(1 for i in items if i.data.get("type") != "info")
        if intro is None and "intro" not in extra:
            who = council if council and council != PLACEHOLDER_COUNCIL else None
            intro = (
                (f"Hello from {who}. " if who else "Hello. ")
                + f"Please answer our {_plain(title, self.default)}: {asked} short questions. Text STOP to stop, HELP for help."
            )
        if intro is not None:
            flow["intro"] = intro
        if thanks is None and "thanks" not in extra:
            thanks = "Thank you for your answers."
        if thanks is not None:
            flow["thanks"] = thanks
        messages = self._required_messages()
        if messages:
            flow["messages"] = messages
        for k, v in extra.items():
            flow[k] = v
        flow["questions"] = [i.data for i in items]
        return flow

    def _required_messages(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for lang, texts in self.required_messages.items():
            first = next(iter(texts))
            out[lang] = {"cannot_skip": first}
            if len(texts) > 1:
                for t, row in list(texts.items())[1:]:
                    self.warn(
                        None,
                        "required_message",
                        f"a chat has one 'please answer' message for the whole survey: {first!r} is used, not {t!r}",
                        "give every question the same required_message, or change messages: cannot_skip in the flow",
                        code="required_message",
                        sheet="survey",
                        row=row,
                    )
        return out


_SMART_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def _straight(text: str) -> str:
    """Curly quotes made straight in an expression, as pyxform and ODK do."""
    return text.translate(_SMART_QUOTES)


def _plain(text: LText, lang: str) -> str:
    return text if isinstance(text, str) else text.get(lang, next(iter(text.values())))


def _parameters(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in re.split(r"[;,\s]+", text.strip()):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip().lower()] = v.strip()
    return out


def _contact(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in re.split(r"[;,]\s*", text):
        part = part.strip()
        if not part:
            continue
        if "@" in part:
            out["email"] = part
        elif part.startswith(("http://", "https://", "www.")) or (
            "." in part and not any(ch.isdigit() for ch in part.replace(".", ""))
        ):
            out["web"] = part
        elif sum(ch.isdigit() for ch in part) >= 6:
            out["phone"] = part
        else:
            out["name"] = part
    return out


# --- the public entry points -----------------------------------------------------------------


def import_workbook(
    wb: Workbook, options: Options | None = None, *, output: str | None = None
) -> ImportResult:
    """Turn a read workbook into flow data and YAML text, with every problem found."""
    imp = _Importer(wb, options or Options())
    try:
        flow = imp.run()
    except Exception as exc:  # a fault of ours must reach the officer as a message, not a traceback
        import logging

        logging.getLogger(__name__).exception("importing %s failed", wb.file)
        imp.add(
            None,
            None,
            f"the form could not be imported ({type(exc).__name__}: {exc})"[:300],
            "this is a fault in surveybot, not in the form: please report it with a copy of the form",
            code="internal",
        )
        flow = None
    problems = imp.problems
    if flow is None or any(p.severity == "error" for p in problems):
        return ImportResult(wb.file, None, None, _sorted(problems))
    notes = [_origin(i) for i in imp.items if not i.skip]
    header = _header(wb, imp)
    text = dump_flow(flow, header=header, question_notes=notes)
    problems.extend(_check(text, output or f"flows/{flow['id']}.yaml", imp))
    ok = not any(p.severity == "error" for p in problems)
    return ImportResult(wb.file, flow if ok else None, text if ok else None, _sorted(problems))


def import_form(
    path: str | Path, options: Options | None = None, *, output: str | None = None
) -> ImportResult:
    from bot.errors import FormError

    try:
        wb = read_workbook(path)
    except FormError as exc:
        return ImportResult(str(path), None, None, exc.problems)
    return import_workbook(wb, options, output=output)


def _origin(item: _Item) -> str:
    where = f"from sheet {item.cells.sheet}, row {item.cells.row}: {item.xls_type}"
    if item.name != item.id:
        where += f" (name {item.name})"
    groups = [g.name for g in item.groups if g is not item.from_group]
    if groups:
        where += ", in group " + " > ".join(groups)
    return where


def _header(wb: Workbook, imp: _Importer) -> list[str]:
    langs = ", ".join(f"{lang} ({column_name(lang)})" for lang in imp.languages)
    return [
        f"Imported from {Path(wb.file).name} by surveybot import.",
        "Each question says where it came from (sheet and row). Languages: " + langs + ".",
        "Check 'council', 'contact', 'intro' and 'thanks' before going live, then run",
        "  surveybot validate flows/",
    ]


def _check(text: str, file: str, imp: _Importer) -> list[FormProblem]:
    """The bot's own checks on the generated flow, reported against the spreadsheet."""
    from bot.loader import load_flow_text

    result = load_flow_text(text, file)
    rows = {i.data.get("id"): i for i in imp.items if not i.skip}
    out: list[FormProblem] = []
    for p in result.problems:
        out.append(_map_problem(p, rows, imp))
    return out


def _map_problem(p: Problem, rows: dict[Any, _Item], imp: _Importer) -> FormProblem:
    item = rows.get(p.question) if p.question else None
    column = _CODE_TO_COLUMN.get(p.code)
    where = f" (flow line {p.line})" if p.line else ""
    if item is not None:
        return FormProblem(
            imp.file,
            item.cells.sheet,
            item.cells.row,
            column,
            p.message + where,
            p.hint,
            p.severity,
            p.code,
        )
    return FormProblem(
        imp.file, "settings", None, None, p.message + where, p.hint, p.severity, p.code
    )


def _sorted(problems: list[FormProblem]) -> list[FormProblem]:
    order = {"settings": 0, "survey": 1, "choices": 2}
    seen: set[tuple[Any, ...]] = set()
    out: list[FormProblem] = []
    for p in problems:
        k = (p.sheet, p.row, p.column, p.message)
        if k not in seen:
            seen.add(k)
            out.append(p)
    return sorted(
        out,
        key=lambda p: (p.severity != "error", order.get((p.sheet or "").lower(), 3), p.row or 0),
    )


__all__ = ["QUESTION_ID", "ImportResult", "Options", "import_form", "import_workbook"]
