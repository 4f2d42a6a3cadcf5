"""Translation sheets out to a translator and back into the flow file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.forms.translations import export_translations, import_translations, texts
from bot.loader import load_flow, load_flow_text
from bot.schema import ChoiceQuestion, MultiQuestion

CARERS = Path("flows/carers-strategy.yaml")
COMMUNITIES = Path("flows/communities-approach.yaml")


def _flow(path: Path):  # type: ignore[no-untyped-def]
    flow = load_flow(path).flow
    assert flow is not None
    return flow


def test_every_visible_text_has_a_row() -> None:
    flow = _flow(COMMUNITIES)
    ids = {t.id for t in texts(flow, "pa")}
    for q in flow.questions:
        assert f"q.{q.id}.text" in ids
        if q.hint:
            assert f"q.{q.id}.hint" in ids
        if isinstance(q, ChoiceQuestion | MultiQuestion):
            assert {f"q.{q.id}.choice.{c.id}" for c in q.choices} <= ids
    assert {"title", "intro", "thanks", "closed_text", "reminders.text"} <= ids
    assert "q.role.other.label" in ids
    assert "q.role.other.prompt" in ids
    assert "q.involved.none_of_these" in ids
    assert "q.consent.declined" in ids


def test_budgets_follow_the_script() -> None:
    flow = _flow(CARERS)
    rows = {t.id: t for t in texts(flow, "pa")}
    intro = rows["intro"]
    assert (intro.budget_gsm, intro.budget_ucs) == (306, 134)  # the English takes 2 parts
    role = [t for t in rows.values() if t.message == "q.role"]
    assert sum(t.budget_ucs for t in role) <= 134  # the question and its choices share 2 parts
    assert rows["title"].placeholders == []
    assert rows["reminders.text"].placeholders == [
        "progress",
        "title",
    ]


def test_sheet_columns(tmp_path: Path) -> None:
    flow = _flow(CARERS)
    export_translations(flow, "pa", tmp_path / "pa.xlsx")
    ws = load_workbook(tmp_path / "pa.xlsx")["translations"]
    assert [c.value for c in ws[1]] == [
        "id",
        "context",
        "English (en)",
        "Punjabi (pa)",
        "budget",
        "sms",
        "placeholders",
    ]
    row = [c.value for c in ws[2]]
    assert row[0] == "title"
    assert row[2] == "Carers Strategy survey"
    assert not row[3]
    assert "UCS-2" in row[5]
    export_translations(flow, "pl", tmp_path / "pl.xlsx")
    pl = load_workbook(tmp_path / "pl.xlsx")["translations"]
    assert "SMS alphabet" in pl.cell(2, 6).value


def _fill(src: Path, dst: Path, text: dict[int, str | None] | None = None) -> None:
    wb = load_workbook(src)
    ws = wb["translations"]
    for r in range(2, ws.max_row + 1):
        english = ws.cell(r, 3).value
        ws.cell(r, 4).value = "ਪ " + english
    for r, value in (text or {}).items():
        ws.cell(r, 4).value = value
    wb.save(dst)


def test_import_merges_and_reports(tmp_path: Path) -> None:
    flow_file = tmp_path / "carers.yaml"
    shutil.copy(CARERS, flow_file)
    flow = _flow(flow_file)
    export_translations(flow, "pa", tmp_path / "pa.xlsx")
    ws = load_workbook(tmp_path / "pa.xlsx")["translations"]
    row_of = {ws.cell(r, 1).value: r for r in range(2, ws.max_row + 1)}
    _fill(
        tmp_path / "pa.xlsx",
        tmp_path / "done.xlsx",
        {
            row_of["reminders.text"]: "ਫਿਰ {progress} {titel}",  # placeholder changed
            row_of["q.role.hint"]: None,  # missing
            row_of["q.role.choice.carer"]: "ਮੈਂ " * 40,  # over budget
        },
    )
    wb = load_workbook(tmp_path / "done.xlsx")
    ws = wb["translations"]
    ws.delete_rows(row_of["thanks"])  # a missing row
    wb.save(tmp_path / "done.xlsx")
    original = flow_file.read_text()
    report = import_translations(flow_file, tmp_path / "done.xlsx")
    by_code = {(p.code, p.message.split(":")[0]): p for p in report.problems}
    placeholder = by_code[("placeholder", "reminders.text")]
    assert placeholder.severity == "error"
    assert "{title}" in placeholder.message
    assert "{titel}" in placeholder.message
    assert placeholder.row == row_of["reminders.text"] - 1
    assert by_code[("missing", "q.role.hint")].row is not None
    assert "missing from the sheet" in by_code[("missing", "thanks")].message
    assert by_code[("over_budget", "q.role.choice.carer")].severity == "warning"
    assert report.lang == "pa"
    assert report.yaml_text is not None
    merged = load_flow_text(report.yaml_text, "x.yaml").flow
    assert merged is not None
    assert merged.languages == ["en", "gu", "pa"]
    role = merged.question("role")
    assert role is not None
    assert isinstance(role.text, dict)
    assert role.text["pa"].startswith("ਪ ")
    assert isinstance(merged.reminders.text, dict)
    assert "pa" not in merged.reminders.text
    # Officers' comments and layout are kept: the new file only adds lines (and a language).
    import difflib

    old_lines, new_lines = original.splitlines(), report.yaml_text.splitlines()
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old_lines, new_lines).get_opcodes():
        if op == "equal":
            continue
        assert op in ("insert", "replace"), (op, old_lines[i1:i2])
        if op == "replace":  # a one-line map gains its translation at its end
            assert i2 - i1 == j2 - j1
            for old, new in zip(old_lines[i1:i2], new_lines[j1:j2], strict=True):
                assert new == old or (
                    new.startswith(old.rstrip("]}")) and "pa" in new[len(old) - 1 :]
                )
            continue
        assert all("pa:" in line or "ਪ" in line for line in new_lines[j1:j2])


def test_import_into_a_one_language_flow(tmp_path: Path) -> None:
    flow_file = tmp_path / "c.yaml"
    shutil.copy(COMMUNITIES, flow_file)
    export_translations(_flow(flow_file), "gu", tmp_path / "gu.xlsx")
    _fill(tmp_path / "gu.xlsx", tmp_path / "gu-done.xlsx")
    report = import_translations(flow_file, tmp_path / "gu-done.xlsx", "gu")
    assert report.errors == []
    merged = load_flow_text(report.yaml_text or "", "x.yaml").flow
    assert merged is not None
    assert merged.languages == ["en", "gu"]
    assert isinstance(merged.closed_text, dict)
    assert merged.closed_text["gu"].startswith("ਪ ")
    involved = merged.question("involved")
    assert isinstance(involved, MultiQuestion)
    assert isinstance(involved.none_of_these, dict)
    assert "# Communities Approach 2022-26 survey" in (report.yaml_text or "")


@pytest.mark.parametrize(
    ("header", "lang", "words"),
    [("Punjabi (pa)", "gu", "no column for 'gu'"), ("notes", None, "cannot tell which column")],
)
def test_sheet_language_problems(tmp_path: Path, header: str, lang: str | None, words: str) -> None:
    flow_file = tmp_path / "c.yaml"
    shutil.copy(COMMUNITIES, flow_file)
    export_translations(_flow(flow_file), "pa", tmp_path / "pa.xlsx")
    wb = load_workbook(tmp_path / "pa.xlsx")
    wb["translations"].cell(1, 4).value = header
    wb.save(tmp_path / "x.xlsx")
    report = import_translations(flow_file, tmp_path / "x.xlsx", lang)
    assert report.yaml_text is None
    assert words in report.problems[0].message


def test_unknown_and_repeated_ids(tmp_path: Path) -> None:
    flow_file = tmp_path / "c.yaml"
    shutil.copy(COMMUNITIES, flow_file)
    export_translations(_flow(flow_file), "pa", tmp_path / "pa.xlsx")
    wb = load_workbook(tmp_path / "pa.xlsx")
    ws = wb["translations"]
    ws.cell(2, 1).value = "q.nothing.text"
    ws.cell(3, 1).value = ws.cell(4, 1).value
    ws.cell(3, 4).value = ws.cell(4, 4).value = "x"
    wb.save(tmp_path / "x.xlsx")
    codes = {(p.code, p.row) for p in import_translations(flow_file, tmp_path / "x.xlsx").problems}
    assert ("unknown_id", 2) in codes
    assert ("duplicate_id", 4) in codes


def test_wrapped_lists_keep_the_officers_line_breaks() -> None:
    from bot.forms.yamlio import keep_layout

    old = 'a:\n  label: {en: "Carer"}\n  synonyms: ["one", "two",\n             "three"]\nb: 1\n'
    new = 'a:\n  label: {en: "Carer", pa: "ਕੇਅਰਰ"}\n  synonyms: ["one", "two", "three"]\nb: 1\n'
    assert keep_layout(old, new) == (
        "a:\n"
        '  label: {en: "Carer", pa: "ਕੇਅਰਰ"}\n'
        '  synonyms: ["one", "two",\n'
        '             "three"]\n'
        "b: 1\n"
    )
    changed = new.replace('"three"', '"four"')
    assert keep_layout(old, changed) == changed  # a real change takes the new text


def test_phone_call_texts_are_rows_without_an_sms_budget(tmp_path: Path) -> None:
    """What a call says instead (the flow's and each question's ``voice:``) goes to the
    translator too, marked as spoken with no SMS budget, and merges back: a Punjabi caller then
    hears Punjabi, not the English spoken text."""
    flow_file = tmp_path / "carers.yaml"
    shutil.copy(CARERS, flow_file)
    flow = _flow(flow_file)
    rows = {t.id: t for t in texts(flow, "pa")}
    spoken = {tid for tid, t in rows.items() if t.spoken}
    assert spoken == {
        "voice.intro",
        "voice.thanks",
        "voice.closed_text",
        "q.where_help.voice",
        "q.anything_else.voice",
        "q.postcode.voice",
    }
    assert rows["q.postcode.voice"].path == ("questions", "postcode", "voice")
    # The SMS budgets of the texted rows do not count the spoken ones.
    assert rows["intro"].budget_ucs == 134
    export_translations(flow, "pa", tmp_path / "pa.xlsx")
    ws = load_workbook(tmp_path / "pa.xlsx")["translations"]
    row_of = {ws.cell(r, 1).value: r for r in range(2, ws.max_row + 1)}
    said = row_of["q.anything_else.voice"]
    assert ws.cell(said, 5).value is None  # no budget
    assert "phone call" in ws.cell(said, 6).value
    assert ws.cell(row_of["q.anything_else.text"], 5).value > 0
    _fill(tmp_path / "pa.xlsx", tmp_path / "done.xlsx", {said: "ਪ " + "ਸ਼ਬਦ " * 100})
    report = import_translations(flow_file, tmp_path / "done.xlsx")
    assert not [p for p in report.problems if p.code == "over_budget" and ".voice" in p.message]
    assert report.yaml_text is not None
    merged = load_flow_text(report.yaml_text, "x.yaml").flow
    assert merged is not None
    q = merged.question("anything_else")
    assert q is not None
    assert isinstance(q.voice, dict)
    assert q.voice["pa"].startswith("ਪ ")
    assert q.voice["en"] == flow.question("anything_else").voice["en"]
    assert isinstance(merged.voice.thanks, dict)
    assert merged.voice.thanks["pa"].startswith("ਪ ")
