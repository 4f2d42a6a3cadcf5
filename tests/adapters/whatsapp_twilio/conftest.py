"""WhatsApp fixtures: the adapters' settings (so their ``services``) with a WhatsApp sender and
reminder templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from bot.schema import WhatsApp
from tests.adapters.conftest import BOT_NUMBER, adapter_settings
from tests.adapters.whatsapp_twilio.wa_fakes import WhatsAppHttp

REMINDER_SID = "HX" + "a" * 32
REMINDER_GU_SID = "HX" + "b" * 32
FINAL_SID = "HX" + "c" * 32
TEMPLATES = WhatsApp.model_validate(
    {
        "reminder": {
            "content": {"en": REMINDER_SID, "gu": REMINDER_GU_SID},
            "variables": {"1": "{title}", "2": "{progress}"},
        },
        "final": {"content": FINAL_SID},
    }
)


def wa_settings(flows: Path, data: Path, **extra: object) -> Settings:
    values: dict[str, object] = {
        "twilio_whatsapp_from": BOT_NUMBER,
        "SURVEYBOT_WHATSAPP_TEMPLATES": TEMPLATES,
    }
    return adapter_settings(flows, data, **(values | extra))


@pytest.fixture
def settings(flows_dir: Path, tmp_path: Path) -> Settings:
    return wa_settings(flows_dir, tmp_path / "data")


@pytest.fixture
def http() -> WhatsAppHttp:
    return WhatsAppHttp()
