"""Exports: one row per respondent, one column per question, as CSV, XLSX or JSON lines.

Pure: a flow and responses in, rows written to a stream as the responses come (nothing is held,
so memory stays flat however many there are). The ``surveybot export`` command feeds it from the
store through :func:`export_flow` (any :class:`ResponseSource`: ``store.RedisStore`` is one).

Columns, in this order (headers as written by default; ``codes=True`` gives the short names in
brackets, and ids instead of labels in the cells):

* Respondent [respondent]: the pseudonymous id. Never a phone number or chat id (responses in the
  store do not hold them).
* Channel [channel], Source group [source] (the group's name; its id with codes), Language [lang].
* Status [status]: complete, partial (still active, unfinished), opted out, expired, declined or
  closed.
* Started (UTC) [started_utc], Finished (UTC) [finished_utc], Last message (UTC) [last_utc]: times
  in UTC, ISO 8601 text (``2026-11-23T10:00:00Z``); Flow version [version].
* One or more columns per question, in the flow's order (``info`` questions have none), headed
  by the question's ``label:`` (its id with codes, or when it has no label):
  choice: the choice's label (id with codes), plus "<question> - other text" [<id>_other] when
  it has ``other:``; multi: one 0/1 column per choice, "<question>: <choice>" [<id>/<choice id>]
  (all empty when the question was not answered), plus the other text; scale: the point's number, or its label for a labelled scale (number with
  codes); yesno and consent: Yes/No (yes/no with codes); number: a number; date: ISO text
  (``1960``, ``1960-04``, ``1960-04-03``); postcode: the district (``LE16``); text: the text.
  An empty cell is a question not asked or skipped (JSON lines tell the two apart).
* Questions since removed from the flow keep a column after the current ones, headed
  ``<id> (removed)``, with the stored value as it was (choice ids; several joined by ``; ``;
  an other text after a colon).

Times are UTC throughout: the headers say so, and so does the XLSX "About" sheet.

Spreadsheet safety: in CSV, text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return gets a leading ``'`` so a spreadsheet never runs it as a formula; in XLSX every text is
written as a text cell (never a formula). Numbers stay numbers in both. CSV is UTF-8 with a byte
order mark, so Excel reads Gujarati and Polish text correctly.

XLSX is written by a small streaming writer (:class:`XlsxSink`) rather than openpyxl: openpyxl's
write-only mode measured about 15 microseconds a cell here, over a minute for 100,000 carers
responses; this writer emits the same SpreadsheetML (inline strings) at a fraction of that.

Speed (100,000 carers responses in well under 10 s, see BENCHMARKS.md): each question's cells
come from one precomputed function (:class:`_Part`), and responses straight from the store
(:class:`StoredResponseLike`: ``store.stored.StoredResponse``) are filled from their stored
values without an answer object or a datetime each; the XLSX writer makes each distinct cell
text once. Responses built any other way (tests, pydantic ``Response``) take the same functions
through ``answers``, with the same output. CSV's formula check is one pass over each finished
row (:func:`csv_cells`), so the rest of the code never thinks about it: about a fifth of the
time to build a carers CSV row (2.5 us over 44 cells), some 5% of a whole export.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import zipfile
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any, Protocol, cast
from xml.sax.saxutils import escape as _xml_escape

from bot.models import AnswerValue, AnyAnswer, Status, StoredAnswer
from bot.prompts import YES_NO_LABELS
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
from bot.text import tr

Cell = str | int | float | None
FORMATS = ("csv", "xlsx", "jsonl")

STATUS_WORDS: dict[str, str] = {
    Status.COMPLETE: "complete",
    Status.ACTIVE: "partial",
    Status.OPTED_OUT: "opted out",
    Status.EXPIRED: "expired",
    Status.DECLINED: "declined",
    Status.CLOSED: "closed",
}
STATUS_CODES: dict[str, str] = {s: w.replace(" ", "_") for s, w in STATUS_WORDS.items()}

FORMULA_START = frozenset("=+-@\t\r")

META_HEADERS = (
    "Respondent",
    "Channel",
    "Source group",
    "Language",
    "Status",
    "Started (UTC)",
    "Finished (UTC)",
    "Last message (UTC)",
    "Flow version",
)
META_CODES = (
    "respondent",
    "channel",
    "source",
    "lang",
    "status",
    "started_utc",
    "finished_utc",
    "last_utc",
    "version",
)


class ResponseLike(Protocol):
    """What an export or report reads of one response (``store.Response`` has all of it)."""

    @property
    def respondent(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def source(self) -> str | None: ...
    @property
    def lang(self) -> str: ...
    @property
    def status(self) -> Status: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def last_at(self) -> datetime: ...
    @property
    def finished_at(self) -> datetime | None: ...
    @property
    def answers(self) -> Mapping[str, AnyAnswer]: ...


class StoredResponseLike(ResponseLike, Protocol):
    """A response read straight from the store (``store.stored.StoredResponse``): the same, and
    its stored values without an answer object or a datetime each. Exports fill rows from these
    (100,000 carers responses hold 2.5 million answers); they must agree with ``answers``."""

    def answer_values(self) -> Iterable[tuple[str, AnswerValue | None, str | None, int]]:
        """``(question id, value, other, ms)`` of each answer in ``answers``, in any order."""
        ...

    def utc_texts(self) -> tuple[str, str | None, str]:
        """``utc_text`` of ``started_at``, ``finished_at`` and ``last_at``, in that order."""
        ...


def _has_stored_values(cls: type) -> bool:
    return callable(getattr(cls, "answer_values", None)) and callable(
        getattr(cls, "utc_texts", None)
    )


def _times(r: ResponseLike) -> tuple[str | None, str | None, str | None]:
    """Started, finished and last message times as export text (``utc_text``)."""
    return utc_text(r.started_at), utc_text(r.finished_at), utc_text(r.last_at)


def included(r: ResponseLike, partial: bool) -> bool:
    """Whether a response belongs in an export or report: complete ones, or all with partial."""
    return partial or r.status is Status.COMPLETE


def utc_text(t: datetime | None) -> str | None:
    """``2026-11-23T10:00:00Z`` (UTC, whole seconds), or None."""
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_DAYS: dict[int, str] = {}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ms_text(ms: int) -> str:
    """Epoch milliseconds as :func:`utc_text` writes them (``2026-11-23T10:00:00Z``)."""
    day, rest = divmod(ms, 86_400_000)
    date = _DAYS.get(day)
    if date is None:
        if len(_DAYS) >= 4096:  # a consultation spans a few hundred days: never in practice
            _DAYS.clear()
        date = _DAYS[day] = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
    hours, rest = divmod(rest // 1000, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{date}{hours:02d}:{minutes:02d}:{seconds:02d}Z"


def neutralise(text: str) -> str:
    """Text a spreadsheet could take for a formula gets a leading apostrophe (CSV only)."""
    return "'" + text if text[:1] in FORMULA_START else text


def raw_text(value: AnswerValue | None) -> Cell:
    """A stored value as one cell, for a question the flow no longer has."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return value


def answerable_ids(flow: Flow) -> list[str]:
    return [q.id for q in flow.questions if not isinstance(q, InfoQuestion)]


# -- columns --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    header: str
    question: str | None = None


Fill = Callable[[AnswerValue, "str | None"], Sequence[Cell]]
"""The cells of one question's columns for an answer's ``(value, other)``; ``value`` is never
None (an unanswered or skipped question gets the part's ``blank`` cells)."""

Labeler = Callable[[AnswerValue], "str | list[str] | None"]


@dataclass(frozen=True)
class _Part:
    qid: str
    columns: list[Column]
    fill: Fill
    blank: tuple[Cell, ...]
    label: Labeler | None = None
    """Words for a value (JSON lines), for choice-like questions."""
    removed: bool = False
    cell: Callable[[AnswerValue], Cell] | None = None
    """For a one-column question that ignores "other": the cell itself (no tuple per row)."""


def _same(v: AnswerValue) -> Cell:
    """A stored value as one cell: text and numbers as they are, several ids joined."""
    return "; ".join(v) if isinstance(v, list) else v


def _single(qid: str, column: Column, get: Callable[[AnswerValue], Cell]) -> _Part:
    """A question with one column whose cell depends on the value alone."""

    def fill(v: AnswerValue, other: str | None) -> Sequence[Cell]:
        return (get(v),)

    return _Part(qid, [column], fill, (None,), cell=get)


_Where = tuple[int, Callable[[AnswerValue], Cell] | None, Fill, int]


class Table:
    """The columns of an export of ``flow`` and how one response fills them.

    ``removed``: ids of questions found in stored answers (see ``RedisStore.answer_fields``);
    those the flow no longer asks get a column after the current questions.

    A row is built by a precomputed function per question (``_Part.fill``) from the answer's
    stored value. Responses straight from the store (:class:`StoredResponseLike`) are filled
    from ``answer_values()`` without building an answer object each: an export of 100,000
    carers responses fills 2.5 million answers.
    """

    def __init__(self, flow: Flow, *, codes: bool = False, removed: Iterable[str] = ()) -> None:
        self.flow = flow
        self.codes = codes
        self.lang = flow.languages[0]
        current = set(answerable_ids(flow))
        self.removed = sorted(set(removed) - current)
        self._sources = {s.id: s.name for s in flow.sources}
        self._parts = self._build()
        # For stored values: by question id, where its cells go (first column, the part's cell
        # or fill, its number of columns); a row starts from ``_blanks``.
        self._where: dict[str, _Where] = {}
        at = len(META_CODES)
        for p in self._parts:
            self._where[p.qid] = (at, p.cell, p.fill, len(p.blank))
            at += len(p.blank)
        self._blanks: list[Cell] = [None] * (at - len(META_CODES))
        self._stored_types: dict[type, bool] = {}
        meta = META_CODES if codes else META_HEADERS
        cols = [Column(h) for h in meta]
        cols += [c for p in self._parts for c in p.columns]
        self.columns = _unique(cols)

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    # -- one row ----------------------------------------------------------------------------------

    def row(self, r: ResponseLike) -> list[Cell]:
        """The cells of one response, as they are (XLSX, and the base of every format)."""
        src = r.source
        source = (src if self.codes else self._sources.get(src, src)) if src else None
        status = r.status
        stored = self._stored(r)
        times = _times(r) if stored is None else stored.utc_texts()
        out: list[Cell] = [
            r.respondent,
            r.channel,
            source,
            r.lang,
            (STATUS_CODES if self.codes else STATUS_WORDS).get(status, str(status)),
            *times,
            r.version,
        ]
        if stored is not None:
            return self._fill_values(out, stored.answer_values())
        extend = out.extend
        answers = r.answers
        for p in self._parts:
            a = answers.get(p.qid)
            if a is None or a.value is None:
                extend(p.blank)
            else:
                extend(p.fill(a.value, a.other))
        return out

    def _stored(self, r: ResponseLike) -> StoredResponseLike | None:
        """``r`` if it is a :class:`StoredResponseLike` (decided once per type), else None."""
        kind = type(r)
        stored = self._stored_types.get(kind)
        if stored is None:
            stored = self._stored_types[kind] = _has_stored_values(kind)
        return cast(StoredResponseLike, r) if stored else None

    def _fill_values(
        self, out: list[Cell], values: Iterable[tuple[str, AnswerValue | None, str | None, int]]
    ) -> list[Cell]:
        """The question cells of a response from its stored values (the same cells as the
        parts make from ``answers``). The hot loop of an export: it starts from blank cells and
        visits only the answers there are (a respondent is asked about two thirds of the carers
        questions), each going straight to its columns."""
        out += self._blanks
        where = self._where.get
        for qid, v, other, _ in values:
            if v is None:  # skipped
                continue
            spot = where(qid)
            if spot is None:  # a question with no column (not in the flow, nor among removed)
                continue
            at, cell, fill, width = spot
            if cell is not None:
                out[at] = cell(v)
            else:
                out[at : at + width] = fill(v, other)
        return out

    def csv_row(self, r: ResponseLike) -> list[Cell]:
        """The cells of one response with every text cell :func:`neutralise`-d (CSV)."""
        return csv_cells(self.row(r))

    def record(self, r: ResponseLike) -> dict[str, Any]:
        """One JSON-lines object: codes and labels, skipped answers as ``"value": null``."""
        stored = self._stored(r)
        started, finished, last = _times(r) if stored is None else stored.utc_texts()
        out: dict[str, Any] = {
            "respondent": r.respondent,
            "channel": r.channel,
            "source": r.source,
            "source_name": self._sources.get(r.source) if r.source else None,
            "lang": r.lang,
            "status": STATUS_CODES.get(r.status, str(r.status)),
            "version": r.version,
            "started_at": started,
            "finished_at": finished,
            "last_at": last,
        }
        answers: dict[str, Any] = {}
        given = r.answers
        for p in self._parts:
            a = given.get(p.qid)
            if a is None:
                continue
            item: dict[str, Any] = {"value": a.value}
            if p.removed:
                item["removed"] = True
            elif p.label is not None and a.value is not None:
                label = p.label(a.value)
                if label is not None:
                    item["label"] = label
            if a.other is not None:
                item["other"] = a.other
            if a.confidence is not None:  # spoken on a call: how sure speech recognition was
                item["confidence"] = a.confidence
            # An answer read back from the store keeps its stored milliseconds: formatting
            # those directly saves making and formatting a datetime for each of millions.
            ms = a.ms if type(a) is StoredAnswer else None
            item["at"] = ms_text(ms) if type(ms) is int else utc_text(a.at)
            answers[p.qid] = item
        out["answers"] = answers
        return out

    # -- building the parts -----------------------------------------------------------------------

    def _build(self) -> list[_Part]:
        parts = [
            dataclasses.replace(self._part(q), label=labeler(q, self.lang))
            for q in self.flow.questions
            if not isinstance(q, InfoQuestion)
        ]
        parts += [self._removed_part(qid) for qid in self.removed]
        return parts

    def _head(self, q: Question) -> str:
        return q.id if self.codes else q.label or q.id

    def _other_column(self, q: Question) -> Column:
        head = f"{q.id}_other" if self.codes else f"{self._head(q)} - other text"
        return Column(head, question=q.id)

    def _part(self, q: Question) -> _Part:
        head, lang, codes = self._head(q), self.lang, self.codes
        col = Column(head, question=q.id)
        if isinstance(q, ChoiceQuestion):
            labels = {c.id: tr(c.label, lang) for c in q.all_choices()}

            def choice(v: AnswerValue) -> Cell:
                if codes:
                    return _same(v)
                label = labels.get(v if type(v) is str else str(v))
                return label if label is not None else _same(v)

            if q.other is None:
                return _single(q.id, col, choice)

            def choice_other(v: AnswerValue, other: str | None) -> Sequence[Cell]:
                return (choice(v), other)

            return _Part(q.id, [col, self._other_column(q)], choice_other, (None, None))
        if isinstance(q, MultiQuestion):
            return self._multi(q)
        if isinstance(q, ScaleQuestion):
            if q.choices is not None and not codes:
                points = {i + 1: tr(c.label, lang) for i, c in enumerate(q.choices)}

                def point(v: AnswerValue) -> Cell:
                    return points.get(v, v) if isinstance(v, int) else _same(v)

                return _single(q.id, col, point)
            return _single(q.id, col, _same)
        if isinstance(q, YesNoQuestion | ConsentQuestion):
            words = ("yes", "no") if codes else YES_NO_LABELS.get(lang, YES_NO_LABELS["en"])
            yes, no = words

            def yes_no(v: AnswerValue) -> Cell:
                return (yes if v else no) if isinstance(v, bool) else _same(v)

            return _single(q.id, col, yes_no)
        # number, text, date, postcode: the value itself
        return _single(q.id, col, _same)

    def _multi(self, q: MultiQuestion) -> _Part:
        choices = q.all_choices()
        position = {c.id: i for i, c in enumerate(choices)}
        head = self._head(q)
        if self.codes:
            cols = [Column(f"{q.id}/{c.id}", question=q.id) for c in choices]
        else:
            cols = [Column(f"{head}: {tr(c.label, self.lang)}", question=q.id) for c in choices]
        with_other = q.other is not None
        if with_other:
            cols.append(self._other_column(q))
        zeros: list[Cell] = [0] * len(choices)

        def fill(v: AnswerValue, other: str | None) -> Sequence[Cell]:
            # 1 for each choice picked (a lone value counts as one pick), 0 for the rest; an id
            # since removed from the flow has no column.
            cells = zeros.copy()
            for picked in v if isinstance(v, list) else (str(v),):
                i = position.get(picked)
                if i is not None:
                    cells[i] = 1
            if with_other:
                cells.append(other)
            return cells

        return _Part(q.id, cols, fill, (None,) * len(cols))

    def _removed_part(self, qid: str) -> _Part:
        def fill(v: AnswerValue, other: str | None) -> Sequence[Cell]:
            text = raw_text(v)
            return (f"{text}: {other}",) if other else (text,)

        column = Column(f"{qid} (removed)", question=qid)
        return _Part(qid, [column], fill, (None,), removed=True)


def csv_cells(cells: Iterable[Cell]) -> list[Cell]:
    """A row with every text cell :func:`neutralise`-d, whatever its column (stored text,
    labels, a value a flow edit left in a column of another type): a pass over the finished row,
    so the rest of the export never has to think about it."""
    return [  # neutralise, inlined: this runs for every cell of every row
        ("'" + c if c[:1] in FORMULA_START else c) if isinstance(c, str) else c for c in cells
    ]


def labeler(q: Question, lang: str) -> Labeler | None:
    """Words for the stored values of a choice-like question (None for other types)."""
    if isinstance(q, ChoiceQuestion | MultiQuestion):
        labels = {c.id: tr(c.label, lang) for c in q.all_choices()}

        def choice(value: AnswerValue) -> str | list[str] | None:
            if isinstance(value, list):
                return [labels.get(v, v) for v in value]
            return labels.get(str(value), str(value))

        return choice
    if isinstance(q, ScaleQuestion) and q.choices is not None:
        points = {i + 1: tr(c.label, lang) for i, c in enumerate(q.choices)}
        return lambda value: points.get(value, str(value)) if isinstance(value, int) else None
    if isinstance(q, YesNoQuestion | ConsentQuestion):
        yes, no = YES_NO_LABELS.get(lang, YES_NO_LABELS["en"])
        return lambda value: (yes if value else no) if isinstance(value, bool) else None
    return None


def _unique(cols: list[Column]) -> list[Column]:
    """Headers made unique (two questions with one label), by adding the question id."""
    seen: dict[str, int] = {}
    for c in cols:
        seen[c.header] = seen.get(c.header, 0) + 1
    out: list[Column] = []
    used: set[str] = set()
    for c in cols:
        h = c.header
        if seen[h] > 1 and c.question:
            h = f"{h} [{c.question}]"
        n = 2
        base = h
        while h in used:
            h, n = f"{base} ({n})", n + 1
        used.add(h)
        out.append(Column(h, c.question))
    return out


# -- sinks: where rows go -------------------------------------------------------------------------


class Sink(Protocol):
    def add(self, r: ResponseLike) -> None: ...
    def close(self) -> None: ...


class CsvSink:
    """UTF-8 CSV with a byte order mark; ``out`` must be opened with ``newline=""``."""

    def __init__(self, out: IO[str], table: Table) -> None:
        self.table = table
        out.write("\ufeff")
        self._w = csv.writer(out)
        self._w.writerow(csv_cells(table.headers))

    def add(self, r: ResponseLike) -> None:
        self._w.writerow(csv_cells(self.table.row(r)))

    def close(self) -> None:
        pass


class JsonlSink:
    """One JSON object per line (UTF-8, no BOM)."""

    def __init__(self, out: IO[str], table: Table) -> None:
        self.table = table
        self._out = out

    def add(self, r: ResponseLike) -> None:
        self._out.write(json.dumps(self.table.record(r), ensure_ascii=False) + "\n")

    def close(self) -> None:
        pass


# -- XLSX -----------------------------------------------------------------------------------------

# Characters XML 1.0 cannot hold (control characters, lone surrogates, U+FFFE/U+FFFF).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
XLSX_CELL_MAX = 32767

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument"

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.spreadsheetml.sheet.main+xml"/>'
    f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.spreadsheetml.styles+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.spreadsheetml.worksheet+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet2.xml" ContentType="{_CT}.spreadsheetml.worksheet+xml"/>'
    f'<Override PartName="/docProps/app.xml" ContentType="{_CT}.extended-properties+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL}/extended-properties" Target="docProps/app.xml"/>'
    "</Relationships>"
)
_APP = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    "<Application>surveybot</Application></Properties>"
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<workbook xmlns="{_NS}" xmlns:r="{_REL}">'
    '<bookViews><workbookView activeTab="0"/></bookViews><sheets>'
    '<sheet name="Responses" sheetId="1" r:id="rId1"/>'
    '<sheet name="About" sheetId="2" r:id="rId2"/>'
    "</sheets></workbook>"
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL}/worksheet" Target="worksheets/sheet2.xml"/>'
    f'<Relationship Id="rId3" Type="{_REL}/styles" Target="styles.xml"/>'
    "</Relationships>"
)
# Two cell styles: 0 normal, 1 bold (the header row).
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<styleSheet xmlns="{_NS}">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<worksheet xmlns="{_NS}" xmlns:r="{_REL}">'
)


def column_letter(n: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    s = ""
    n += 1
    while n:
        n, rem = divmod(n - 1, 26)
        s = chr(65 + rem) + s
    return s


def _xml_text(s: str) -> str:
    if _XML_ILLEGAL.search(s):
        s = _XML_ILLEGAL.sub("", s)
    if len(s) > XLSX_CELL_MAX:
        s = s[:XLSX_CELL_MAX]
    return _xml_escape(s)


def _num(v: int | float) -> str:
    return str(v) if isinstance(v, int) else repr(v)


def _text_tail(v: str, style: str = "") -> str:
    """The part of an inline-string cell after its reference: ``" t="inlineStr">...</c>``;
    ``style`` is the cell's style attribute (`` s="1"``), if any."""
    if v.isascii() and v.isprintable() and len(v) <= XLSX_CELL_MAX:
        # Most cells (ids, times, English text): nothing to strip, at most & < > to escape,
        # and a space is the only whitespace that can stand at either end.
        t = _xml_escape(v) if "&" in v or "<" in v or ">" in v else v
        edge = v[:1] == " " or v[-1:] == " "
    else:
        t = _xml_text(v)
        edge = t[:1].isspace() or t[-1:].isspace()
    sp = ' xml:space="preserve"' if edge else ""
    return f'" t="inlineStr"{style}><is><t{sp}>{t}</t></is></c>'


TAIL_CACHE = 4096
"""Text cells remembered by :class:`_SheetWriter` (labels repeat on every row); emptied when
full, so unique free text cannot make it grow."""


class _SheetWriter:
    """Streams one worksheet's XML: rows of text (inline strings) and numbers."""

    def __init__(self, stream: IO[bytes], ncols: int, *, freeze: bool, widths: list[int]) -> None:
        self._s = stream
        self._letters = [column_letter(i) for i in range(max(ncols, 1))]
        # Each cell is its column's opening, the row number, and a tail that depends only on
        # the value: a label's escaped tail is made once, not on each of 100,000 rows.
        self._opening = [f'<c r="{c}' for c in self._letters]
        self._tails: dict[str, str] = {}
        self._n = 0
        self._buf: list[str] = [_SHEET_HEAD]
        if freeze:
            self._buf.append(
                '<sheetViews><sheetView workbookViewId="0">'
                '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
                "</sheetView></sheetViews>"
            )
        if widths:
            self._buf.append("<cols>")
            self._buf += [
                f'<col min="{i + 1}" max="{i + 1}" width="{w}" customWidth="1"/>'
                for i, w in enumerate(widths)
            ]
            self._buf.append("</cols>")
        self._buf.append("<sheetData>")

    def row(self, cells: Sequence[Cell], style: int = 0) -> None:
        """One row; ``style`` is a cell style of ``_STYLES`` (1: the bold header)."""
        self._n += 1
        n = str(self._n)
        s = f' s="{style}"' if style else ""
        parts = ['<row r="', n, '">']
        add = parts.append
        # A styled row (the header, once) has its own tails: the cache's carry no style.
        tails = self._tails if not style else {}
        for opening, v in zip(self._opening, cells, strict=True):
            if v is None:
                continue
            if type(v) is str:
                if not v:
                    continue
                tail = tails.get(v)
                if tail is None:
                    if len(tails) >= TAIL_CACHE:
                        tails.clear()
                    tail = tails[v] = _text_tail(v, s)
                add(opening)
                add(n)
                add(tail)
            elif type(v) is int:
                add(f'{opening}{n}"{s}><v>{v}</v></c>')
            elif type(v) is float:
                add(f'{opening}{n}"{s}><v>{v!r}</v></c>')
            elif type(v) is bool:
                add(f'{opening}{n}" t="b"{s}><v>{int(v)}</v></c>')
            elif isinstance(v, str):  # a str subclass: as text, uncached
                if v:
                    add(f"{opening}{n}{_text_tail(v, s)}")
            else:
                add(f'{opening}{n}"{s}><v>{_num(v)}</v></c>')
        add("</row>")
        self._buf.append("".join(parts))
        if len(self._buf) >= 200:
            self.flush()

    def flush(self) -> None:
        if self._buf:
            self._s.write("".join(self._buf).encode("utf-8"))
            self._buf = []

    def close(self, *, autofilter: bool) -> None:
        self._buf.append("</sheetData>")
        if autofilter and self._n:
            self._buf.append(f'<autoFilter ref="A1:{self._letters[-1]}{self._n}"/>')
        self._buf.append("</worksheet>")
        self.flush()


class XlsxSink:
    """A real .xlsx (Office Open XML) written as rows come: one zip entry streamed per sheet.

    Sheet "Responses" has the header row (bold, frozen, with a filter) and one row per response;
    sheet "About" holds the ``about`` notes (what was exported, that times are UTC). ``out`` may
    be a pipe (zipfile then writes data descriptors instead of seeking back).
    """

    def __init__(
        self,
        out: IO[bytes],
        table: Table,
        *,
        about: Sequence[tuple[str, str]] = (),
        compresslevel: int = 1,
    ) -> None:
        self.table = table
        self._about = list(about)
        self._zip = zipfile.ZipFile(
            out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel
        )
        for name, text in (
            ("[Content_Types].xml", _CONTENT_TYPES),
            ("_rels/.rels", _ROOT_RELS),
            ("docProps/app.xml", _APP),
            ("xl/workbook.xml", _WORKBOOK),
            ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
            ("xl/styles.xml", _STYLES),
        ):
            self._zip.writestr(name, text)
        self._entry = self._zip.open("xl/worksheets/sheet1.xml", "w", force_zip64=True)
        widths = [min(60, max(10, len(h) + 2)) for h in table.headers]
        self._sheet = _SheetWriter(self._entry, len(table.columns), freeze=True, widths=widths)
        self._sheet.row(table.headers, style=1)

    def add(self, r: ResponseLike) -> None:
        self._sheet.row(self.table.row(r))

    def close(self) -> None:
        self._sheet.close(autofilter=True)
        self._entry.close()
        with self._zip.open("xl/worksheets/sheet2.xml", "w") as entry:
            about = _SheetWriter(entry, 2, freeze=False, widths=[24, 100])
            for key, value in self._about:
                about.row([key, value], style=0)
            about.close(autofilter=False)
        self._zip.close()


def about_notes(
    flow: Flow, *, exported_at: datetime, partial: bool, since: datetime | None, codes: bool
) -> list[tuple[str, str]]:
    """What an export holds, in words (the XLSX "About" sheet)."""
    return [
        ("Survey", tr(flow.title, flow.languages[0])),
        ("Flow id", flow.id),
        ("Current flow version", flow.version or "-"),
        ("Exported (UTC)", utc_text(exported_at) or ""),
        ("Responses", "all (complete and not)" if partial else "complete only"),
        ("Started since (UTC)", utc_text(since) or "the start"),
        ("Cells", "ids (codes)" if codes else "labels"),
        ("Times", "UTC, ISO 8601 (e.g. 2026-11-23T10:00:00Z)"),
        (
            "Status",
            "complete; partial = still active, not finished; opted out (STOP); expired "
            "(silent too long); declined (said no to consent); closed (survey closed first)",
        ),
        ("Empty cell", "not asked, or skipped"),
        ("Multi-choice", "one column per choice: 1 picked, 0 not picked"),
        ("(removed)", "a question no longer in the flow; stored values as they were"),
        ("Privacy", "respondent ids are pseudonymous; still personal data - keep this file safe"),
    ]


def open_sink(
    fmt: str,
    out: IO[str] | IO[bytes],
    table: Table,
    *,
    about: Sequence[tuple[str, str]] = (),
) -> Sink:
    """A sink for ``fmt``: csv and jsonl write text (``out`` opened with ``newline=""``),
    xlsx writes bytes."""
    if fmt == "csv":
        return CsvSink(out, table)  # type: ignore[arg-type]
    if fmt == "jsonl":
        return JsonlSink(out, table)  # type: ignore[arg-type]
    if fmt == "xlsx":
        return XlsxSink(out, table, about=about)  # type: ignore[arg-type]
    raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")


@dataclass
class Counts:
    written: int = 0
    left_out: int = 0


def export(
    flow: Flow,
    responses: Iterable[ResponseLike],
    out: IO[str] | IO[bytes],
    fmt: str,
    *,
    codes: bool = False,
    partial: bool = False,
    removed: Iterable[str] = (),
    about: Sequence[tuple[str, str]] = (),
) -> Counts:
    """Write ``responses`` (complete ones, or all with ``partial``) to ``out`` as ``fmt``."""
    sink = open_sink(fmt, out, Table(flow, codes=codes, removed=removed), about=about)
    counts = Counts()
    for r in responses:
        if included(r, partial):
            sink.add(r)
            counts.written += 1
        else:
            counts.left_out += 1
    sink.close()
    return counts


class ResponseSource(Protocol):
    """Where a flow's responses are read from (``store.RedisStore``): results never import the
    store, the composition root (the CLI, the officers' console) hands it in."""

    async def known_questions(self, flow_id: str) -> set[str] | None:
        """Question ids of every version that served a message, or None if never recorded."""
        ...

    async def answer_fields(self, flow_id: str, batch: int = ...) -> set[str]:
        """Question ids answered (or skipped) in any response of the flow."""
        ...

    def iter_responses(
        self, flow_id: str, since: datetime | None = None
    ) -> AsyncIterator[StoredResponseLike]:
        """Every response of the flow (any status), oldest first, as a stream."""
        ...


async def export_flow(
    store: ResponseSource,
    flow: Flow,
    out: IO[str] | IO[bytes],
    fmt: str,
    *,
    codes: bool = False,
    partial: bool = False,
    since: datetime | None = None,
    now: datetime | None = None,
) -> Counts:
    """Stream ``flow``'s responses from ``store`` into ``out`` as ``fmt``.

    Two passes over the index: the first reads only answer field names (HKEYS) to find
    questions since removed from the flow (their columns must come before the first row), the
    second reads and writes the responses, ``batch`` at a time. The removed-question columns are
    taken from every response, whatever ``since`` and ``partial`` say, so repeated exports of one
    flow keep the same columns.
    """
    # Small pages: 16 index shards x 100 HKEYS replies per round trip keeps the pass's memory low.
    # Columns of questions since removed: from the question ids every served version recorded
    # (one read); data written before that record existed falls back to scanning answer names.
    known = await store.known_questions(flow.id)
    removed = known if known is not None else await store.answer_fields(flow.id, batch=100)
    table = Table(flow, codes=codes, removed=removed)
    about = about_notes(
        flow, exported_at=now or datetime.now(UTC), partial=partial, since=since, codes=codes
    )
    sink = open_sink(fmt, out, table, about=about)
    counts = Counts()
    async for r in store.iter_responses(flow.id, since=since):
        if included(r, partial):
            sink.add(r)
            counts.written += 1
        else:
            counts.left_out += 1
    sink.close()
    return counts
