"""A number that serves several surveys: the spoken menu, each survey at its own key.

The test flows folder has two surveys open at the test clock (carers-strategy and every-type);
the number's webhook has no ``?flow=``. A survey's ``voice: key`` is the key on its posters
("Call 0116 ... and press 2"), so it must hold however many surveys are open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import fakeredis
import pytest

from adapters.services import Services, build_services
from adapters.voice_twilio.call import survey_keys
from bot.loader import load_flow_text
from bot.schema import Flow
from tests.adapters.conftest import PUBLIC_URL, Clock, adapter_settings
from tests.adapters.voice_twilio.voice_fakes import CALL_PATH, Caller, client_for

URL = PUBLIC_URL + CALL_PATH


def _set_key(flows_dir: Path, name: str, key: int) -> None:
    path = flows_dir / name
    text = path.read_text(encoding="utf-8")
    if "\nvoice:\n" in text:
        text = text.replace("\nvoice:\n", f"\nvoice:\n  key: {key}\n", 1)
    else:
        text += f"\nvoice:\n  key: {key}\n"
    path.write_text(text, encoding="utf-8")


@asynccontextmanager
async def _services(flows_dir: Path, tmp_path: Path, clock: Clock) -> AsyncIterator[Services]:
    """Services on the flows folder as the test left it (the fixture's are built before)."""
    redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    try:
        yield build_services(
            adapter_settings(flows_dir, tmp_path / "data"), redis=redis, clock=clock
        )
    finally:
        await redis.aclose()


@pytest.fixture
async def keyed(flows_dir: Path, tmp_path: Path, clock: Clock) -> AsyncIterator[Services]:
    """Carers at key 2, every-type without a key."""
    _set_key(flows_dir, "carers-strategy.yaml", 2)
    async with _services(flows_dir, tmp_path, clock) as svc:
        yield svc


async def test_without_keys_the_menu_numbers_open_surveys_by_id(services: Services) -> None:
    async with client_for(services) as client:
        said = await Caller(client, "CA" + "1" * 32, url=URL).start()
    assert said.text.startswith("Which survey would you like to answer?")
    assert "For the Carers Strategy survey, press 1." in said.text
    assert "press 2." in said.text
    assert said.state["o"] == "carers-strategy.every-type"
    assert said.gather is not None
    assert said.gather["numDigits"] == "1"


async def test_a_surveys_own_key_holds_and_picks_it(keyed: Services) -> None:
    async with client_for(keyed) as client:
        call = Caller(client, "CA" + "2" * 32, url=URL)
        said = await call.start()
        assert "For the Test survey, press 1." in said.text
        assert "For the Carers Strategy survey, press 2." in said.text
        assert said.state["o"] == "every-type.carers-strategy"
        said = await call.press("2")  # as the poster says
        assert "For English, press 1." in said.text  # the carers survey's language menu
        said = await call.press("1")
        assert "Carers Strategy survey" in said.text
        assert "Can we use your answers" in said.text


async def test_a_gap_or_a_wrong_key_says_the_menu_again(
    flows_dir: Path, tmp_path: Path, clock: Clock
) -> None:
    _set_key(flows_dir, "carers-strategy.yaml", 3)  # keys 1 (every-type) and 3: 2 is a gap
    async with _services(flows_dir, tmp_path, clock) as svc, client_for(svc) as client:
        call = Caller(client, "CA" + "3" * 32, url=URL)
        said = await call.start()
        assert said.state["o"] == "every-type..carers-strategy"
        assert said.state["k"] == "c3"
        said = await call.press("2")
        assert said.text.startswith("Sorry")
        assert "press 3." in said.text
        said = await call.press("3")
        assert "For English, press 1." in said.text


async def test_one_open_survey_with_a_key_still_offers_it(
    flows_dir: Path, tmp_path: Path, clock: Clock
) -> None:
    """The printed key must work even when no other survey is open: the menu is said."""
    (flows_dir / "every-type.yaml").unlink()
    _set_key(flows_dir, "carers-strategy.yaml", 4)
    async with _services(flows_dir, tmp_path, clock) as svc, client_for(svc) as client:
        call = Caller(client, "CA" + "4" * 32, url=URL)
        said = await call.start()
        assert "For the Carers Strategy survey, press 4." in said.text
        said = await call.press("4")
        assert "For English, press 1." in said.text


def _flow(fid: str, key: int | None) -> Flow:
    voice = f"voice: {{key: {key}}}\n" if key is not None else ""
    text = (
        f"id: {fid}\ntitle: {fid}\ncouncil: C\ncontact: {{phone: '0116 000 0000'}}\n{voice}"
        "intro: Hello.\nthanks: Thanks.\n"
        "questions:\n  - {id: q, type: yesno, text: 'Yes?'}\n"
    )
    result = load_flow_text(text, f"{fid}.yaml")
    assert result.flow is not None, result.problems
    return result.flow


def test_survey_keys_keep_declared_keys_and_fill_the_gaps() -> None:
    a, b, c, d = _flow("a", None), _flow("b", 1), _flow("c", 1), _flow("d", 3)
    keys = {k: f.id for k, f in survey_keys([d, c, b, a]).items()}
    # b keeps 1 (first by id of the two that want it); a and c take the lowest free keys.
    assert keys == {1: "b", 3: "d", 2: "a", 4: "c"}
    many = [_flow(f"s{i:02d}", None) for i in range(12)]
    assert sorted(survey_keys(many)) == list(range(1, 10))  # one key each, at most 9


async def test_a_caller_coming_back_presses_the_printed_key_and_resumes(keyed: Services) -> None:
    """With printed keys the menu comes first for everyone: a carer following the poster on a
    second call picks their survey with 2 (not "2" as the answer to their next question), and
    carries on where they were, without the language menu."""
    async with client_for(keyed) as client:
        call = Caller(client, "CA" + "5" * 32, url=URL)
        await call.start()
        await call.press("2")  # the carers survey
        await call.press("1")  # English
        said = await call.press("1")  # consent: yes
        assert "Which best describes you?" in said.text

        again = Caller(client, "CA" + "6" * 32, url=URL)
        said = await again.start()
        assert said.text.startswith("Which survey would you like to answer?")
        said = await again.press("2")
        assert said.text.startswith("Welcome back. You have answered 1 of about")
        assert "Which best describes you?" in said.text
    rid = keyed.store.respondent("voice", call.caller)
    session = (await keyed.store.load(rid)).session
    assert session is not None
    assert session.current == "role"  # the 2 picked the survey: nothing was answered with it


async def test_without_printed_keys_a_caller_coming_back_resumes_at_once(
    services: Services,
) -> None:
    async with client_for(services) as client:
        call = Caller(client, "CA" + "8" * 32, url=URL)
        await call.start()
        await call.press("1")  # carers (first by id)
        await call.press("1")  # English
        await call.press("1")  # consent
        said = await Caller(client, "CA" + "9" * 32, url=URL).start()
        assert said.text.startswith("Welcome back.")
        assert "Which best describes you?" in said.text
