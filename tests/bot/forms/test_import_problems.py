"""Every problem the import reports: one per construct, with sheet, row, column and a fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.forms.importer import import_form
from tests.bot.forms.make_forms import write_xlsx

HEAD = ["type", "name", "label", "relevant", "constraint", "appearance", "choice_filter"]
CHOICES = [
    ["list_name", "name", "label"],
    ["yn", "yes", "Yes"],
    ["yn", "no", "No"],
    ["col", "red", "Red"],
    ["col", "blue", "Blue"],
]
SETTINGS = [["form_id", "council", "contact_email"], ["t", "C", "a@b.org"]]


def _form(tmp_path: Path, survey: list[list[Any]], **sheets: list[list[Any]]) -> Path:
    path = tmp_path / "form.xlsx"
    write_xlsx(
        {
            "survey": [HEAD, *survey],
            "choices": sheets.get("choices", CHOICES),
            "settings": sheets.get("settings", SETTINGS),
            **{k: v for k, v in sheets.items() if k not in ("choices", "settings")},
        },
        path,
    )
    return path


Q = ["text", "q", "A question?"]
CASES: list[tuple[str, list[list[Any]], tuple[str, int | None, str | None, str, str]]] = [
    # (case, survey rows after the header, (sheet, row, column, severity, words in the message))
    (
        "repeat",
        [Q, ["begin repeat", "kids", "Children"], ["text", "kid", "Name?"], ["end repeat"]],
        ("survey", 3, "type", "error", "repeat kids cannot be asked"),
    ),
    (
        "calculate",
        [Q, ["calculate", "c", None]],
        ("survey", 3, "type", "warning", "calculation 'c' is left out"),
    ),
    (
        "calculate used",
        [Q, ["calculate", "c", None], ["text", "t", "Why?", "${c} > 2"]],
        ("survey", 4, "relevant", "error", "${c} was left out of the chat (calculate, row 3)"),
    ),
    (
        "calculate shown",
        [Q, ["calculate", "c", None], ["note", "n", "Total ${c}"]],
        ("survey", 4, "label", "error", "${c} cannot be shown"),
    ),
    (
        "choice_filter",
        [Q, ["select_one col", "s", "Colour?", None, None, None, "name = 'red'"]],
        ("survey", 3, "choice_filter", "error", "choice_filter cannot be used"),
    ),
    (
        "from file",
        [Q, ["select_one_from_file cities.csv", "city", "City?"]],
        ("survey", 3, "type", "error", "cannot be used in a chat"),
    ),
    (
        "external",
        [Q, ["select_one_external col", "city", "City?"]],
        ("survey", 3, "type", "error", "cannot be used in a chat"),
    ),
    (
        "rank",
        [Q, ["rank col", "r", "Rank them"]],
        ("survey", 3, "type", "error", "cannot be used in a chat"),
    ),
    (
        "gps",
        [Q, ["geopoint", "where", "Where?"]],
        ("survey", 3, "type", "warning", "(a location (GPS)) is left out"),
    ),
    (
        "photo",
        [Q, ["image", "pic", "A photo"]],
        ("survey", 3, "type", "warning", "(a photo) is left out"),
    ),
    (
        "metadata",
        [Q, ["deviceid", "dev"]],
        ("survey", 3, "type", "warning", "is left out: a chat records"),
    ),
    (
        "pulldata",
        [Q, ["text", "t", "T?", "pulldata('f', 'a', 'b', ${q}) = 'x'"]],
        ("survey", 3, "relevant", "error", "pulldata() cannot be used in a chat"),
    ),
    (
        "today",
        [Q, ["date", "d", "Date?"], ["text", "t", "T?", "${d} < today()"]],
        ("survey", 4, "relevant", "error", "today() cannot be used"),
    ),
    (
        "arithmetic",
        [["integer", "a", "A?"], ["text", "t", "T?", "${a} + 1 > 3"]],
        ("survey", 3, "relevant", "error", "'+' (arithmetic) cannot be used"),
    ),
    (
        "unknown ref",
        [Q, ["text", "t", "T?", "${qq} = 'x'"]],
        ("survey", 3, "relevant", "error", "${qq} is not a question in this form"),
    ),
    (
        "bad choice",
        [["select_one col", "c", "C?"], ["text", "t", "T?", "${c} = 'green'"]],
        ("survey", 3, "relevant", "error", "'green' is not a choice of c"),
    ),
    (
        "order on choice",
        [["select_one col", "c", "C?"], ["text", "t", "T?", "${c} > 'red'"]],
        ("survey", 3, "relevant", "error", "has no order"),
    ),
    (
        "unclosed",
        [Q, ["text", "t", "T?", "(${q} = 'a'"]],
        ("survey", 3, "relevant", "error", "a bracket is not closed"),
    ),
    (
        "path",
        [Q, ["text", "t", "T?", "/data/q = 'a'"]],
        ("survey", 3, "relevant", "error", "is a path"),
    ),
    (
        "appearance",
        [["text", "t", "T?", None, None, "multiline"]],
        ("survey", 2, "appearance", "warning", "appearance 'multiline' only changes how ODK"),
    ),
    (
        "search",
        [["select_one col", "c", "C?", None, None, "search('cities')"]],
        ("survey", 2, "appearance", "error", "search() reads choices from a file"),
    ),
    (
        "constraint not checked",
        [["text", "t", "T?", None, "regex(., '^[0-9]+$')"]],
        ("survey", 2, "constraint", "warning", "not checked in a chat: regex"),
    ),
    ("unknown type", [["txet", "t", "T?"]], ("survey", 2, "type", "error", "unknown type 'txet'")),
    (
        "no list",
        [["select_one colour", "c", "C?"]],
        ("survey", 2, "type", "error", "the choice list 'colour' is not in the choices sheet"),
    ),
    ("no type", [[None, "t", "T?"]], ("survey", 2, "type", "error", "this row has no type")),
    ("no name", [["text", None, "T?"]], ("survey", 2, "name", "error", "has no name")),
    ("duplicate name", [Q, Q], ("survey", 3, "name", "error", "the name 'q' is used twice")),
    ("no label", [["text", "t", None]], ("survey", 2, "label", "error", "'t' has no label")),
    (
        "no end group",
        [["begin group", "g", "G"], Q],
        ("survey", 2, "type", "error", "has no end group"),
    ),
    (
        "stray end group",
        [Q, ["end group"]],
        ("survey", 3, "type", "error", "has no matching begin group"),
    ),
    (
        "renamed",
        [["text", "Home-Town", "Town?"]],
        ("survey", 2, "name", "warning", "'Home-Town' is called 'home_town' in the flow"),
    ),
    (
        "time",
        [["time", "t", "When?"]],
        ("survey", 2, "type", "warning", "the time is asked as text"),
    ),
    ("default", [["text", "t", "T?"]], ("survey", 2, "type", "ok", "")),
    ("required expression", [["text", "t", "T?"]], ("survey", 2, "type", "ok", "")),
    (
        "html",
        [["note", "n", "<span style='color:red'>Hi</span>"]],
        ("survey", 2, "label", "warning", "formatting tags"),
    ),
    (
        "later question",
        [["text", "t", "T?", "${u} = 'x'"], ["text", "u", "U?"]],
        ("survey", 2, "relevant", "error", "later"),
    ),
]


@pytest.mark.parametrize(("case", "rows", "want"), CASES, ids=[c[0] for c in CASES])
def test_problem(
    tmp_path: Path,
    case: str,
    rows: list[list[Any]],
    want: tuple[str, int | None, str | None, str, str],
) -> None:
    result = import_form(_form(tmp_path, rows))
    sheet, row, column, severity, words = want
    if severity == "ok":
        return
    found = [p for p in result.problems if words in p.message]
    assert found, [p.format() for p in result.problems]
    p = found[0]
    assert (p.sheet, p.row, p.column, p.severity) == (sheet, row, column, severity), p.format()
    assert p.hint, "every problem says what to do"
    if severity == "error":
        assert result.yaml_text is None
    assert "Traceback" not in p.format()


def _problems(tmp_path: Path, survey: list[list[Any]], **sheets: list[list[Any]]) -> list[str]:
    return [p.format() for p in import_form(_form(tmp_path, survey, **sheets)).problems]


def test_default_and_required_expression(tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    write_xlsx(
        {
            "survey": [
                ["type", "name", "label", "default", "required"],
                ["text", "t", "T?", "x", "${q} = 'a'"],
                ["text", "q", "Q?"],
            ],
            "settings": SETTINGS,
        },
        path,
    )
    got = [p.format() for p in import_form(path).problems]
    assert any("row 2, column default: warning: a chat cannot pre-fill" in g for g in got)
    assert any("row 2, column required: warning: required depends on a condition" in g for g in got)


def test_unknown_language(tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    write_xlsx({"survey": [["type", "name", "label::Klingon"], ["text", "t", "T?"]]}, path)
    got = import_form(path).problems
    assert got[0].column == "label::Klingon"
    assert got[0].severity == "error"
    assert "(xx)" in (got[0].hint or "")


def test_not_excel_and_missing_sheet(tmp_path: Path) -> None:
    bad = tmp_path / "f.xlsx"
    bad.write_text("type,name\n")
    assert "not an Excel workbook" in import_form(bad).problems[0].message
    path = tmp_path / "g.xlsx"
    write_xlsx({"survy": [["type"], ["text"]], "choices": CHOICES}, path)
    p = import_form(path).problems[0]
    assert "no sheet named 'survey'" in p.message
    assert "survy" in (p.hint or "")


def test_external_choices_sheet(tmp_path: Path) -> None:
    got = _problems(tmp_path, [Q], external_choices=[["list_name", "name"], ["a", "b"]])
    assert any(
        "sheet external_choices, row 1: error: the external_choices sheet cannot be used" in g
        for g in got
    )


def test_choices_sheet_problems(tmp_path: Path) -> None:
    choices: list[list[Any]] = [
        ["list_name", "name", "label", "filter"],
        ["col", "red", "Red", "x"],
        ["col", "red", "Again", "y"],
        ["col", None, "No name", None],
    ]
    got = _problems(tmp_path, [["select_one col", "c", "C?"]], choices=choices)
    assert any(
        "sheet choices, row 3, column name: error: choice 'red' appears twice" in g for g in got
    )
    assert any(
        "sheet choices, row 4, column name: error: a choice of list 'col' has no name" in g
        for g in got
    )
    assert any("column filter: warning: the choices column 'filter' is ignored" in g for g in got)


def test_blank_and_comment_rows_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    write_xlsx(
        {
            "survey": [
                ["type", "name", "label", "note"],
                [],
                Q,
                [None, None, None, "comment"],
                [],
                ["integer", "n", "N?"],
            ],
            "settings": SETTINGS,
        },
        path,
    )
    result = import_form(path)
    assert result.flow is not None
    assert [q["id"] for q in result.flow["questions"]] == ["q", "n"]


def test_surveybot_column_errors(tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    write_xlsx(
        {
            "survey": [
                ["type", "name", "label", "surveybot"],
                ["text", "t", "T?", "{type: [unclosed"],
            ],
            "settings": SETTINGS,
        },
        path,
    )
    p = import_form(path).errors[0]
    assert (p.row, p.column) == (2, "surveybot")
    assert "cannot be read" in p.message


def test_placeholders_when_the_form_says_nothing(tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    write_xlsx({"survey": [["type", "name", "label"], Q]}, path)
    result = import_form(path)
    assert result.flow is not None
    assert result.flow["council"].startswith("CHANGE ME")
    assert sum(p.code == "placeholder" for p in result.problems) == 2
