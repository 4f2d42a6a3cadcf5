"""Logging for production: no access log by default, a cheap masked one when asked, JSON lines."""

from __future__ import annotations

import json
import logging
import logging.config
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from adapters.app import create_app
from adapters.logs import ACCESS, AccessLog, JsonFormatter, MaskFilter, log_config, mask
from adapters.services import Services
from bot.config import Settings


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """dictConfig changes process-wide state (root level and handlers, uvicorn's loggers):
    put it back, or later tests would capture INFO lines they do not expect."""
    names = ["", "uvicorn", "uvicorn.error", "uvicorn.access"]
    saved = [
        (lg, lg.level, lg.handlers[:], lg.propagate, lg.disabled)
        for lg in (logging.getLogger(n) for n in names)
    ]
    yield
    for lg, level, handlers, propagate, disabled in saved:
        lg.setLevel(level)
        lg.handlers[:] = handlers
        lg.propagate, lg.disabled = propagate, disabled


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("+447700900123", "+**********23"),
        ("from 07700 900123 today", "from ***** ****23 today"),
        ("/chat/carers-strategy", "/chat/carers-strategy"),
        ("chat 5123456789 said", "chat ********89 said"),
        ("rev 12 at 2026-12-04 15:30:44", "rev 12 at 2026-12-04 15:30:44"),
        ("(0116) 305 0004", "(****) *** **04"),
    ],
)
def test_mask_stars_phone_numbers_but_the_last_two_digits(text: str, masked: str) -> None:
    assert mask(text) == masked


def record(msg: str, *args: Any, **extra: Any) -> logging.LogRecord:
    r = logging.LogRecord("x", logging.WARNING, __file__, 1, msg, args, None)
    r.__dict__.update(extra)
    return r


def test_the_mask_filter_masks_the_formatted_message() -> None:
    r = record("send to %s failed", "+447700900123")
    assert MaskFilter().filter(r)
    assert r.getMessage() == "send to +**********23 failed"


def test_json_lines_carry_the_access_fields() -> None:
    line = JsonFormatter().format(record("POST /x 200", method="POST", path="/x", status=200))
    got = json.loads(line)
    assert got["level"] == "WARNING"
    assert got["message"] == "POST /x 200"
    assert (got["method"], got["path"], got["status"]) == ("POST", "/x", 200)
    assert got["time"].endswith("Z")


@pytest.mark.usefixtures("restore_logging")
def test_log_config_is_a_valid_dict_config_without_uvicorns_access_log() -> None:
    for fmt in ("text", "json"):
        cfg = log_config("INFO", fmt)
        logging.config.dictConfig(cfg)
        assert cfg["loggers"]["uvicorn.access"]["propagate"] is False


async def requests(app: Any) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/chat/carers-strategy")).status_code == 200
        assert (await client.get("/chat/447700900123")).status_code == 404


def is_access_middleware(app: Any) -> bool:
    return any(m.cls is AccessLog for m in app.user_middleware)


async def test_no_access_log_by_default(
    settings: Settings, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    assert settings.access_log is False
    app = create_app(settings, services=services, refresh_flows=False)
    assert not is_access_middleware(app)
    with caplog.at_level(logging.INFO, logger=ACCESS):
        await requests(app)
    assert not [r for r in caplog.records if r.name == ACCESS]


async def test_the_access_log_setting_logs_each_request_masked(
    settings: Settings, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    on = settings.model_copy(update={"access_log": True})
    app = create_app(on, services=services, refresh_flows=False)
    with caplog.at_level(logging.INFO, logger=ACCESS):
        await requests(app)
    lines = [r for r in caplog.records if r.name == ACCESS]
    assert [(r.__dict__["path"], r.__dict__["status"]) for r in lines] == [
        ("/chat/carers-strategy", 200),
        ("/chat/**********23", 404),
    ]
    assert all("447700900123" not in r.getMessage() for r in lines)


@pytest.mark.usefixtures("restore_logging")
def test_serve_hands_uvicorn_our_logging_and_no_access_log(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from bot.cli import app
    from bot.cli import ops as cli_ops

    assert cli_ops.serve is not None
    got: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: got.update(kw))
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("SURVEYBOT_FLOWS", str(tmp_path))
    monkeypatch.setenv("SURVEYBOT_LOG_FORMAT", "json")
    result = CliRunner().invoke(app, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert got["access_log"] is False
    assert got["log_config"]["formatters"]["default"]["()"].endswith("JsonFormatter")
