"""surveybot import / export-form / translations from the command line."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from tests.bot.forms.make_forms import DATA

runner = CliRunner()


def test_import_writes_a_valid_flow_and_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "flows" / "c.yaml"
    result = runner.invoke(app, ["import", str(DATA / "carers-gujarati.xlsx"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output
    assert out.exists()
    again = runner.invoke(app, ["import", str(DATA / "carers-gujarati.xlsx"), "-o", str(out)])
    assert again.exit_code == 1
    assert "exists already" in again.output
    check = runner.invoke(app, ["validate", str(out)])
    assert check.exit_code == 0, check.output


def test_import_errors_exit_1_without_writing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a workbook")
    result = runner.invoke(app, ["import", str(bad), "-o", str(tmp_path / "x.yaml")])
    assert result.exit_code == 1
    assert "not an Excel workbook" in result.output
    assert not (tmp_path / "x.yaml").exists()


def test_export_form_and_translations(tmp_path: Path) -> None:
    flow = tmp_path / "c.yaml"
    shutil.copy("flows/communities-approach.yaml", flow)
    form = tmp_path / "form.xlsx"
    assert runner.invoke(app, ["export-form", str(flow), "-o", str(form)]).exit_code == 0
    sheet = tmp_path / "pa.xlsx"
    result = runner.invoke(app, ["translations", str(flow), "--lang", "pa", "-o", str(sheet)])
    assert result.exit_code == 0, result.output
    assert sheet.exists()
    result = runner.invoke(app, ["translations", str(flow), "--import", str(sheet), "--dry-run"])
    assert "would merge 0 pa texts" in result.output
    assert (
        runner.invoke(app, ["translations", str(flow), "--lang", "en", "-o", str(sheet)]).exit_code
        == 2
    )
