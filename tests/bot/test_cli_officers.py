"""``surveybot officer``: add (password from standard input), list, password, unlock, remove."""

from __future__ import annotations

import asyncio

import fakeredis
import pytest
from typer.testing import CliRunner

import bot.cli.common as commands
from adapters.officers import make_console
from adapters.services import Services, build_services
from bot.cli import app
from tests.adapters.officers.conftest import CHEAP
from tests.results.world import CARERS, settings

runner = CliRunner()
PASSWORD = "three random words here"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> fakeredis.FakeServer:
    server = fakeredis.FakeServer()

    def factory() -> Services:
        svc = build_services(settings(CARERS.parent), redis=fakeredis.FakeAsyncRedis(server=server))
        svc.extras["password_hasher"] = CHEAP
        return svc

    monkeypatch.setattr(commands, "make_services", factory)
    return server


def _sign_in(server: fakeredis.FakeServer, name: str, password: str) -> bool:
    async def run() -> bool:
        svc = commands.make_services()
        return (
            await make_console(svc).accounts.sign_in(name, password, "127.0.0.1")
        ).officer is not None

    return asyncio.run(run())


def test_add_list_password_remove(server: fakeredis.FakeServer) -> None:
    added = runner.invoke(
        app, ["officer", "add", "Jane.Smith", "--role", "editor"], input=PASSWORD + "\n"
    )
    assert added.exit_code == 0, added.output
    assert "Added jane.smith as editor" in added.output
    assert PASSWORD not in added.output
    listed = runner.invoke(app, ["officer", "list"])
    assert "jane.smith  editor" in listed.output
    assert _sign_in(server, "jane.smith", PASSWORD)
    again = runner.invoke(
        app, ["officer", "add", "jane.smith", "--role", "admin"], input=PASSWORD + "\n"
    )
    assert again.exit_code == 1
    assert "already" in again.output
    changed = runner.invoke(
        app, ["officer", "password", "jane.smith"], input="a brand new passphrase\n"
    )
    assert changed.exit_code == 0, changed.output
    assert not _sign_in(server, "jane.smith", PASSWORD)
    assert _sign_in(server, "jane.smith", "a brand new passphrase")
    assert runner.invoke(app, ["officer", "unlock", "jane.smith"]).exit_code == 0
    gone = runner.invoke(app, ["officer", "remove", "jane.smith"])
    assert gone.exit_code == 0
    assert not _sign_in(server, "jane.smith", "a brand new passphrase")
    assert runner.invoke(app, ["officer", "remove", "jane.smith"]).exit_code == 1


@pytest.mark.parametrize(
    ("args", "password", "says"),
    [
        (["officer", "add", "jane", "--role", "boss"], PASSWORD, "role 'boss'"),
        (["officer", "add", "x", "--role", "viewer"], PASSWORD, "not a usable officer name"),
        (["officer", "add", "jane", "--role", "viewer"], "short", "too short"),
        (["officer", "add", "jane", "--role", "viewer"], "jane's password 1", "must not contain"),
    ],
)
def test_bad_input_is_one_plain_line(
    server: fakeredis.FakeServer, args: list[str], password: str, says: str
) -> None:
    result = runner.invoke(app, args, input=password + "\n")
    assert result.exit_code == 2
    assert says in result.output
    assert "Traceback" not in result.output
