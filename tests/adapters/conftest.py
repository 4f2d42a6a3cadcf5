"""Fixtures for channel tests: the real dispatcher and store on fakeredis, a clock we move."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fakeredis
import pytest
from pydantic import SecretStr

from adapters.services import Services, build_services
from bot.config import Settings

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_URL = "https://surveys.example.gov.uk"
TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "twilio-test-auth-token"
TELEGRAM_TOKEN = "123456:TEST-token-for-tests"
TELEGRAM_SECRET = "telegram-webhook-secret"
BOT_NUMBER = "+447700900000"  # the Twilio number respondents text
START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # where the test clock starts


class Clock:
    """A clock the test moves by hand (the engine never reads the real time)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


def copy_flows_dir(tmp_path: Path) -> Path:
    """``tmp_path/flows``: the shipped flows plus tests/bot/flows/every-type.yaml."""
    folder = tmp_path / "flows"
    folder.mkdir(exist_ok=True)
    for f in (ROOT / "flows").glob("*.yaml"):
        shutil.copy(f, folder / f.name)
    shutil.copy(ROOT / "tests" / "bot" / "flows" / "every-type.yaml", folder / "every-type.yaml")
    return folder


def adapter_settings(flows: Path, data: Path, **extra: Any) -> Settings:
    """Settings with every channel configured with the test credentials; ``extra`` adds or
    overrides values (keyed as below)."""
    values: dict[str, Any] = {
        "SURVEYBOT_FLOWS": flows,
        "SURVEYBOT_DATA": data,
        "SURVEYBOT_SECRET": SecretStr("test-secret"),
        "SURVEYBOT_PUBLIC_URL": PUBLIC_URL,
        "twilio_account_sid": TWILIO_SID,
        "twilio_auth_token": SecretStr(TWILIO_TOKEN),
        "twilio_from_number": BOT_NUMBER,
        "telegram_token": SecretStr(TELEGRAM_TOKEN),
        "telegram_secret_token": SecretStr(TELEGRAM_SECRET),
        "telegram_bot_username": "LLRCarersBot",
        "_env_file": None,
    }
    return Settings(**(values | extra))


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    return copy_flows_dir(tmp_path)


@pytest.fixture
def settings(flows_dir: Path, tmp_path: Path) -> Settings:
    return adapter_settings(flows_dir, tmp_path / "data")


@pytest.fixture
async def services(settings: Settings, clock: Clock) -> AsyncIterator[Services]:
    redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    svc = build_services(settings, redis=redis, clock=clock)
    yield svc
    await redis.aclose()
