"""XLSForms written from the spec's examples and the sample consultations, each with its flow."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.forms.importer import import_form
from bot.loader import load_flow, load_flow_text
from bot.schema import MultiQuestion
from tests.bot.forms.make_forms import DATA, FORMS, XLS

NAMES = sorted(FORMS)


@pytest.mark.parametrize("name", NAMES)
def test_committed_workbooks_hold_the_definitions(name: str) -> None:
    wb = load_workbook(DATA / f"{name}.xlsx", read_only=True)
    for sheet, rows in FORMS[name].items():
        got = [list(r) for r in wb[sheet].iter_rows(values_only=True)]
        want = [list(r) for r in rows]
        width = max((len(r) for r in want), default=0)
        trimmed = [(r + [None] * width)[:width] for r in got]
        assert [r for r in trimmed] == [(r + [None] * width)[:width] for r in want]


@pytest.mark.parametrize("name", NAMES)
def test_form_imports_as_its_expected_flow(name: str) -> None:
    result = import_form(DATA / f"{name}.xlsx")
    assert result.errors == []
    expected = (DATA / f"{name}.expected.yaml").read_text(encoding="utf-8")
    assert result.yaml_text == expected
    loaded = load_flow_text(expected, f"{name}.yaml")
    assert loaded.flow is not None, [p.format() for p in loaded.errors]


@pytest.mark.parametrize("name", XLS)
def test_real_xls_reads_the_same_as_xlsx(name: str) -> None:
    xls = import_form(DATA / f"{name}.xls")
    xlsx = import_form(DATA / f"{name}.xlsx")
    assert xls.errors == []
    assert xls.flow == xlsx.flow


def test_every_question_says_where_it_came_from() -> None:
    text = (DATA / "carers-gujarati.expected.yaml").read_text(encoding="utf-8")
    assert "# from sheet survey, row 2: acknowledge" in text
    assert "# from sheet survey, row 5: select_one cared_for, in group carers_only" in text
    assert text.startswith("# Imported from carers-gujarati.xlsx")


def test_gujarati_translation_comes_through() -> None:
    flow = load_flow_text((DATA / "carers-gujarati.expected.yaml").read_text(), "x.yaml").flow
    assert flow is not None
    assert flow.languages == ["en", "gu"]
    role = flow.question("role")
    assert role is not None
    assert isinstance(role.text, dict)
    assert role.text["gu"].startswith("તમારા માટે")
    assert isinstance(flow.intro, dict)
    assert "STOP" in flow.intro["gu"]


def test_carers_form_maps_the_spec_idioms() -> None:
    flow = load_flow_text((DATA / "carers-gujarati.expected.yaml").read_text(), "x.yaml").flow
    assert flow is not None
    q = {q.id: q for q in flow.questions}
    # group relevance joins its questions' conditions; the group has no label, so no message
    assert q["cared_for"].when == 'role == "carer"'
    assert "carers_only" not in q
    # 'other, please specify' follow-up folded into other:
    other = q["cared_for"].other  # type: ignore[union-attr]
    assert other is not None
    assert other.id == "other"
    assert other.max_length == 200
    assert "cared_for_other" not in q
    assert q["p1_recognise"].type == "scale"
    multi = q["support_most"]
    assert isinstance(multi, MultiQuestion)
    assert multi.max_picks == 3
    assert multi.none_of_these == {"en": "None of these", "gu": "કોઈ નહીં"}
    assert q["know_support"].type == "yesno"
    assert q["where_help"].when == "know_support == false"
    assert q["age"].when == 'role in ["carer", "cared_for", "public"]'
    assert q["consent"].type == "consent"


def test_samples_exist() -> None:
    for name in ("carers-strategy", "communities-approach"):
        assert load_flow(Path("flows") / f"{name}.yaml").flow is not None
