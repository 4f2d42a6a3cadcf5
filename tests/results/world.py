"""Test data for exports and reports: real conversations through the dispatcher (engine + store) on fakeredis.

Respondents of the every-type test flow, each driven message by message with a clock the test
controls, so the stored responses are exactly what a live bot would have stored.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict, Unpack

import fakeredis
from redis.asyncio import Redis

from adapters.services import Services, build_services
from bot.config import Settings
from bot.models import Inbound
from bot.schema import Flow

ROOT = Path(__file__).resolve().parents[2]
EVERY_TYPE = ROOT / "tests/bot/flows/every-type.yaml"
CARERS = ROOT / "flows/carers-strategy.yaml"
SECRET = "results-test-secret"
START = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)

# (channel, address, language, messages). Addresses are what must never reach an export.
PEOPLE: list[tuple[str, str, str | None, list[str]]] = [
    # A carer, every question answered; formula-like free text at the end.
    ("sms", "+447700900001", None,
     ["TEST HARBOROUGH", "yes", "Asha", "1", "sometimes", "1 and 3", "strongly agree", "4",
      "no", "42", "April 1960", "le16 7aa", "=SUM(A1:A9) more breaks please"]),
    # Something else (other text), skips the optional ones; a name starting with @.
    ("telegram", "123456789", None,
     ["TEST", "yes", "@ben", "4", "a neighbour", "2", "none of these", "1", "5", "yes",
      "skip", "skip", "-5 stars, <b>not</b> good & slow"]),
    # An organisation: jumps straight to comments.
    ("web", "cookie-7f3a", None,
     ["TEST", "yes", "Cara", "3", "We run a carers cafe.\nTuesdays, 10-12."]),
    # Partial: stopped at role (still active).
    ("sms", "+447700900004", None, ["TEST", "yes", "Dev"]),
    # Opted out at the name question.
    ("sms", "+447700900005", None, ["TEST", "yes", "STOP"]),
    # Declined consent.
    ("sms", "07700 900006", None, ["TEST", "no"]),
    # Polish, through Telegram: a carer who answers everything.
    ("telegram", "555000111", "pl",
     ["TEST", "tak", "Ewa", "1", "3", "2", "3", "3", "tak", "20", "1975-05-06", "LE1 1AA",
      "Dziekuje"]),
]  # fmt: skip
ADDRESSES = [p[1] for p in PEOPLE] + ["447700900001", "07700900006", "+447700900006"]


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Env(TypedDict, total=False):
    """Settings a test may add, by their environment names."""

    SURVEYBOT_REDIS_PREFIX: str


def settings(flows: Path, **env: Unpack[Env]) -> Settings:
    return Settings(SURVEYBOT_FLOWS=str(flows), SURVEYBOT_SECRET=SECRET, **env)


@dataclass
class World:
    svc: Services
    clock: Clock
    flows: Path

    @property
    def flow(self) -> Flow:
        flow = self.svc.registry.get("every-type")
        assert flow is not None
        return flow

    async def say(
        self, channel: str, address: str, texts: list[str], lang: str | None = None
    ) -> None:
        for i, text in enumerate(texts):
            self.clock.now += timedelta(minutes=2)
            inbound = Inbound(
                channel=channel,
                address=address,
                text=text,
                message_id=f"{address}-{self.clock.now.timestamp()}-{i}",
                lang=lang if i == 0 else None,
            )
            await self.svc.dispatcher.handle(inbound)

    async def everyone(self) -> None:
        for n, (channel, address, lang, texts) in enumerate(PEOPLE):
            self.clock.now = START + timedelta(hours=5 * n)
            await self.say(channel, address, texts, lang)


def make_world(redis: Redis, flows: Path, **env: Unpack[Env]) -> World:
    clock = Clock()
    svc = build_services(settings(flows, **env), redis=redis, clock=clock)
    return World(svc, clock, flows)


def flows_folder(tmp_path: Path) -> Path:
    """A flows folder holding a copy of the every-type test flow (tests may edit it)."""
    folder = tmp_path / "flows"
    folder.mkdir()
    shutil.copy(EVERY_TYPE, folder / "every-type.yaml")
    return folder


async def every_type_world(flows: Path) -> World:
    """Everyone in PEOPLE has had their conversation, on a fresh fakeredis."""
    redis: Redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    w = make_world(redis, flows)
    await w.everyone()
    return w
