"""flow -> XLSForm -> flow, and XLSForm -> flow -> XLSForm -> flow, give the same flow."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyxform.xls2xform import convert

from bot import expr
from bot.forms.exporter import export_form
from bot.forms.importer import import_form
from bot.loader import load_flow, load_flow_text
from bot.schema import Flow
from tests.bot.forms.make_forms import DATA, FORMS

SAMPLES = ["flows/carers-strategy.yaml", "flows/communities-approach.yaml"]


def _through_xlsform(flow: Flow, tmp_path: Path) -> Flow:
    path = tmp_path / f"{flow.id}.xlsx"
    export_form(flow, path)
    result = import_form(path)
    assert result.errors == [], [p.format() for p in result.errors]
    assert result.yaml_text is not None
    back = load_flow_text(result.yaml_text, "back.yaml")
    assert back.flow is not None, [p.format() for p in back.errors]
    return back.flow


@pytest.mark.parametrize("sample", SAMPLES)
def test_sample_flow_survives_an_xlsform(sample: str, tmp_path: Path) -> None:
    flow = load_flow(sample).flow
    assert flow is not None
    back = _through_xlsform(flow, tmp_path)
    assert back.model_dump() == flow.model_dump()


@pytest.mark.parametrize("sample", SAMPLES)
def test_exported_form_is_a_valid_xlsform(sample: str, tmp_path: Path) -> None:
    """pyxform, the reference converter, turns the export into an XForm without complaint."""
    flow = load_flow(sample).flow
    assert flow is not None
    path = tmp_path / "form.xlsx"
    export_form(flow, path)
    result = convert(xlsform=str(path), validate=False)
    assert "<h:html" in result.xform
    assert f'id="{flow.id}"' in result.xform


@pytest.mark.parametrize("name", sorted(FORMS))
def test_import_export_import(name: str, tmp_path: Path) -> None:
    first = import_form(DATA / f"{name}.xlsx")
    assert first.yaml_text is not None
    flow = load_flow_text(first.yaml_text, "first.yaml").flow
    assert flow is not None
    again = _through_xlsform(flow, tmp_path)
    assert again.model_dump() == flow.model_dump()


def test_conditions_round_trip_through_xpath(tmp_path: Path) -> None:
    flow = load_flow("flows/carers-strategy.yaml").flow
    assert flow is not None
    back = _through_xlsform(flow, tmp_path)
    for q, b in zip(flow.questions, back.questions, strict=True):
        if q.when:
            assert b.when is not None
            assert expr.parse(b.when) == expr.parse(q.when)


def test_phone_call_texts_round_trip(tmp_path: Path) -> None:
    """A flow's ``voice:`` block (the survey's key, intro, thanks, closed text, per language or
    one text) and every kind of question's ``voice:`` text survive flow -> XLSForm -> flow."""
    flow = load_flow("flows/carers-strategy.yaml").flow
    assert flow is not None
    voice = flow.voice.model_copy(
        update={"key": 2, "closed_text": "Closed. Thank you for calling.", "intro": None}
    )
    spoken = {"en": "Say or key it.", "gu": "બોલો અથવા દબાવો."}
    questions = [
        q.model_copy(update={"voice": spoken if i % 2 else "Say it, or press the keys."})
        for i, q in enumerate(flow.questions)
    ]
    flow = flow.model_copy(update={"voice": voice, "questions": questions})
    back = _through_xlsform(flow, tmp_path)
    assert back.voice == voice
    assert [q.voice for q in back.questions] == [q.voice for q in questions]
    assert back.model_dump() == flow.model_dump()
