"""WhatsApp in the officers' tools: the wa.me link and its QR code from ``surveybot link`` and on
the poster, and ``surveybot cost`` pricing WhatsApp per message beside SMS per segment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.renderers import LINKS, sms_messages, whatsapp_messages
from bot.cli import app
from bot.loader import require_flow
from bot.results import cost, outreach

ROOT = Path(__file__).resolve().parents[2]
CARERS = require_flow(ROOT / "flows" / "carers-strategy.yaml")
ARGS: dict[str, Any] = {
    "public_url": "https://s.example.gov.uk",
    "bot_username": "LLRCarersBot",
    "from_number": None,
}


def test_the_link_opens_whatsapp_with_the_group_keyword_typed() -> None:
    links = outreach.make_links(
        CARERS, "harborough-carers", formats=LINKS, whatsapp_number="whatsapp:+447700900123", **ARGS
    )
    assert links.whatsapp == "https://wa.me/447700900123?text=CARERS%20HARBOROUGH"
    plain = outreach.make_links(CARERS, formats=LINKS, whatsapp_number="+44 7700 900123", **ARGS)
    assert plain.whatsapp == "https://wa.me/447700900123?text=CARERS"


def test_a_bad_whatsapp_number_is_a_note_not_a_crash() -> None:
    links = outreach.make_links(CARERS, formats=LINKS, whatsapp_number="not a number", **ARGS)
    assert links.whatsapp is None
    assert any("TWILIO_WHATSAPP_FROM" in n for n in links.notes)


def test_the_poster_has_the_whatsapp_way_with_its_own_qr_code() -> None:
    links = outreach.make_links(
        CARERS, "harborough-carers", formats=LINKS, whatsapp_number="+447700900123", **ARGS
    )
    page = outreach.poster_html(links)
    assert "On WhatsApp" in page
    assert page.count("<svg") == 2  # the web chat's QR code and WhatsApp's
    assert "07700 900123" in page
    assert "CARERS HARBOROUGH" in page


def test_link_command_prints_and_writes_the_whatsapp_qr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_WHATSAPP_FROM", "+447700900123")
    monkeypatch.setenv("SURVEYBOT_FLOWS", str(ROOT / "flows"))
    r = CliRunner().invoke(
        app, ["link", "carers-strategy", "-s", "harborough-carers", "-o", str(tmp_path)]
    )
    assert r.exit_code == 0, r.output
    assert "WhatsApp: https://wa.me/447700900123?text=CARERS%20HARBOROUGH" in r.output
    assert (tmp_path / "carers-strategy-harborough-carers-whatsapp-qr.png").is_file()


def test_whatsapp_cost_counts_messages_templates_and_windows() -> None:
    est = cost.estimate(CARERS, render=sms_messages, respondents=1000, price=0.04)
    wa = cost.whatsapp_estimate(
        est, messages=whatsapp_messages, template_price=0.02, message_fee=0.004
    )
    typical = wa.routes["typical"]
    # One message per step (any length), both reminders after 24 h: templates.
    assert typical.templates == 2
    assert typical.service == len(est.routes["typical"].steps)
    assert typical.inbound == est.routes["typical"].inbound
    assert typical.windows == 3
    expected = 2 * 0.02 + (typical.service + 2 + typical.inbound) * 0.004
    assert wa.each(typical) == pytest.approx(expected)
    assert wa.total(typical) == pytest.approx(expected * 1000)
    # Gujarati costs the same number of messages: WhatsApp has no parts.
    gu = cost.whatsapp_estimate(
        cost.estimate(CARERS, render=sms_messages, respondents=1, price=0.04, lang="gu"),
        messages=whatsapp_messages,
        template_price=0.02,
    )
    assert gu.routes["typical"].service == typical.service


def test_cost_command_shows_whatsapp_beside_sms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SURVEYBOT_FLOWS", str(ROOT / "flows"))
    r = CliRunner().invoke(app, ["cost", "carers-strategy", "-n", "100"])
    assert r.exit_code == 0, r.output
    assert "SMS cost estimate" in r.output
    assert "WhatsApp (per message, not per part)" in r.output
    assert "templates" in r.output
