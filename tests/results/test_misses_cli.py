"""``surveybot misses``: real conversations through the dispatcher (engine, store and misses log
on fakeredis), then the command as an officer runs it."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fakeredis
import pytest
from typer.testing import CliRunner

import bot.cli.common as commands
from adapters.services import Services, build_services
from bot.cli import app
from bot.dispatch import Dispatcher
from bot.errors import StoreError
from bot.misses import Miss
from bot.models import Inbound, Step
from tests.results.world import CARERS, Clock, settings

runner = CliRunner()
START = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)

# Five carers who call their husband "my fella" (not a word the pack knows) and then pick the
# choice; one gives a phone number where the hours go; one never gets past the question.
PEOPLE: list[tuple[str, list[str]]] = [
    *((f"+4477009001{n:02d}", ["CARERS", "yes", "1", "my fella", "2"]) for n in range(4)),
    ("+447700900150", ["CARERS", "yes", "1", "my fella", "my fella"]),
    ("+447700900160", ["CARERS", "yes", "1", "mum", "call me on 07700 900160 or bob@example.com"]),
]


def _flows(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    folder.mkdir()
    shutil.copy(CARERS, folder / CARERS.name)
    return folder


async def _talk(svc: Services, clock: Clock, people: Sequence[tuple[str, list[str]]]) -> None:
    for k, (address, messages) in enumerate(people):
        for m, text in enumerate(messages):
            clock.now += timedelta(minutes=1)
            inbound = Inbound(channel="sms", address=address, text=text, message_id=f"{k}-{m}")
            await svc.dispatcher.handle(inbound)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Services:
    flows = _flows(tmp_path)
    server = fakeredis.FakeServer()
    clock = Clock(START)
    svc = build_services(
        settings(flows), redis=fakeredis.FakeAsyncRedis(server=server), clock=clock
    )
    asyncio.run(_talk(svc, clock, PEOPLE))

    def factory() -> Services:
        return build_services(settings(flows), redis=fakeredis.FakeAsyncRedis(server=server))

    monkeypatch.setattr(commands, "make_services", factory)
    return svc


def test_misses_by_question_with_final_answers_and_a_suggestion(world: Services) -> None:
    result = runner.invoke(app, ["misses", "carers-strategy"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Misses for carers-strategy" in out
    assert "cared_for (Cares for): 6 replies from 5 people" in out
    assert "'my fella'" in out
    assert "Husband, wife or partner (4)" in out
    assert "(no answer yet) (1)" in out
    assert "hours (Caring hours a week)" in out
    assert "'call me on [phone] or [email]'" in out
    assert "'my fella' was followed by choice 'partner' (Husband, wife or partner) 4 times" in out
    for address, _ in PEOPLE:
        assert address not in out
        assert address[3:] not in out
    assert "07700 900160" not in out
    assert "bob@" not in out


def test_json_and_since(world: Services) -> None:
    result = runner.invoke(app, ["misses", "carers-strategy", "--json", "--min", "5"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["flow"] == "carers-strategy"
    assert {q["question"] for q in data["questions"]} == {"cared_for", "hours"}
    assert data["suggestions"] == []  # five must agree; four did
    assert (data["full"], data["people_cap"]) == (False, None)
    later = runner.invoke(app, ["misses", "carers-strategy", "--since", "2026-12-01"])
    assert later.exit_code == 0, later.output
    assert "No misses logged for carers-strategy since 2026-12-01" in later.stdout
    bad = runner.invoke(app, ["misses", "nope"])
    assert bad.exit_code == 1
    assert "no flow 'nope'" in bad.stderr


def test_erasing_a_person_removes_their_misses(world: Services) -> None:
    async def erase() -> int:
        return await world.store.erase("sms", "+447700900160")

    assert asyncio.run(erase()) > 0
    out = runner.invoke(app, ["misses", "carers-strategy"]).stdout
    assert "[phone]" not in out
    assert "hours" not in out


def test_a_full_log_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the flow's cap (two people here) new people's misses are not logged, and the
    command says how many were left out."""
    import store.misses

    monkeypatch.setattr(store.misses, "PER_FLOW", 2)
    flows = _flows(tmp_path)
    server = fakeredis.FakeServer()
    clock = Clock(START)
    svc = build_services(
        settings(flows), redis=fakeredis.FakeAsyncRedis(server=server), clock=clock
    )
    asyncio.run(_talk(svc, clock, PEOPLE))
    monkeypatch.setattr(
        commands,
        "make_services",
        lambda: build_services(settings(flows), redis=fakeredis.FakeAsyncRedis(server=server)),
    )
    out = runner.invoke(app, ["misses", "carers-strategy"]).stdout
    assert "2 people" in out
    assert "The log is full: it keeps the misses of the first 2 people" in out
    assert "later people's misses were not logged" in out
    data = json.loads(runner.invoke(app, ["misses", "carers-strategy", "--json"]).stdout)
    assert (data["people"], data["full"], data["people_cap"]) == (2, True, 2)


class Broken:
    async def record(self, step: Step, misses: Sequence[Miss], now: datetime) -> None:
        raise StoreError("Redis misses failed: gone")


def test_a_failing_misses_log_never_fails_the_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    flows = _flows(tmp_path)
    clock = Clock(START)
    svc = build_services(
        settings(flows), redis=fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer()), clock=clock
    )
    svc.dispatcher = Dispatcher(svc.registry, svc.store, clock=clock, misses=Broken())
    asyncio.run(_talk(svc, clock, [("+447700900170", ["CARERS", "yes", "1", "my fella"])]))

    async def current() -> str | None:
        loaded = await svc.store.load(svc.store.respondent("sms", "+447700900170"))
        return loaded.session.current if loaded.session else None

    assert asyncio.run(current()) == "cared_for"
    assert "misses of" in caplog.text
    assert "not logged" in caplog.text
