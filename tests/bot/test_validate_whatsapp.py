"""``surveybot validate`` and WhatsApp: a flow with reminders needs an approved template for
people whose last message is over 24 hours old; the warnings name the line and the fix."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.loader import load_flow_text
from bot.schema import WhatsApp
from bot.validate import Channels

HX = "HX" + "a" * 32
BASE = """id: wa-test
title: Test
council: Test Council
contact: {phone: "0116 000 0000"}
languages: [en, gu]
intro: "Hello. Text STOP to stop."
thanks: "Thanks."
reminders: {after: 24h, max: 2, final: "Bye"}
questions:
  - {id: q1, type: yesno, text: {en: "Yes?", gu: "હા?"}}
"""


def warnings(text: str, channels: Channels | None) -> list[str]:
    result = load_flow_text(text, "wa-test.yaml", channels)
    assert result.ok, [p.format() for p in result.errors]
    return [p.format() for p in result.warnings if p.code == "whatsapp_template"]


def test_no_warning_when_whatsapp_is_off() -> None:
    assert warnings(BASE, Channels()) == []


def test_whatsapp_on_without_templates_warns_for_reminders_and_the_closing_message() -> None:
    found = warnings(BASE, Channels(whatsapp=True))
    assert len(found) == 2
    assert found[0].startswith("wa-test.yaml:8:")
    assert "no WhatsApp reminder template" in found[0]
    assert "no WhatsApp final template" in found[1]
    assert "Content Template Builder" in found[0]


def test_templates_in_the_settings_count() -> None:
    defaults = WhatsApp.model_validate(
        {"reminder": {"content": HX}, "final": {"content": {"en": HX, "gu": HX}}}
    )
    assert warnings(BASE, Channels(whatsapp=True, whatsapp_templates=defaults)) == []


def test_a_flow_block_turns_the_check_on_and_names_missing_languages() -> None:
    text = BASE + f"whatsapp:\n  reminder: {{content: {{en: {HX}}}}}\n  final: {{content: {HX}}}\n"
    (found,) = warnings(text, None)
    assert "no version for gu" in found
    assert "get the en one" in found


def test_unknown_placeholders_in_template_variables_are_errors() -> None:
    text = BASE + f"whatsapp:\n  reminder: {{content: {HX}, variables: {{'1': '{{name}}'}}}}\n"
    result = load_flow_text(text, "wa-test.yaml", None)
    assert any("{name} cannot be used" in p.message for p in result.errors)


@pytest.mark.parametrize("bad", ["HX123", "MG" + "a" * 32, "hx" + "a" * 32 + "0"])
def test_a_content_sid_must_look_like_one(bad: str) -> None:
    text = BASE + f"whatsapp:\n  reminder: {{content: {bad}}}\n"
    assert not load_flow_text(text, "wa-test.yaml", None).ok


def test_the_command_reads_the_settings(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    (tmp_path / "f.yaml").write_text(BASE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TWILIO_WHATSAPP_FROM", "+447700900000")
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "f.yaml")])
    assert result.exit_code == 0
    assert "no WhatsApp reminder template" in result.output
    monkeypatch.delenv("TWILIO_WHATSAPP_FROM")
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "f.yaml")])
    assert "WhatsApp" not in result.output
