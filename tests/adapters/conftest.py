"""Fixtures for channel tests: the real dispatcher and store on fakeredis, a clock we move."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

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


class Clock:
    """A clock the test moves by hand (the engine never reads the real time)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    folder.mkdir()
    for f in (ROOT / "flows").glob("*.yaml"):
        shutil.copy(f, folder / f.name)
    shutil.copy(ROOT / "tests" / "bot" / "flows" / "every-type.yaml", folder / "every-type.yaml")
    return folder


@pytest.fixture
def settings(flows_dir: Path, tmp_path: Path) -> Settings:
    return Settings(
        SURVEYBOT_FLOWS=flows_dir,
        SURVEYBOT_DATA=tmp_path / "data",
        SURVEYBOT_SECRET=SecretStr("test-secret"),
        SURVEYBOT_PUBLIC_URL=PUBLIC_URL,
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=SecretStr(TWILIO_TOKEN),
        twilio_from_number="+447700900000",
        telegram_token=SecretStr(TELEGRAM_TOKEN),
        telegram_secret_token=SecretStr(TELEGRAM_SECRET),
        telegram_bot_username="LLRCarersBot",
        _env_file=None,
    )


@pytest.fixture
async def services(settings: Settings, clock: Clock) -> AsyncIterator[Services]:
    redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    svc = build_services(settings, redis=redis, clock=clock)
    yield svc
    await redis.aclose()
