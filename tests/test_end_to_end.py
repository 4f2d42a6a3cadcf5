"""End to end: a carer completes the carers flow by SMS over two days, through the real ASGI app
(signed Twilio webhooks), with one retried webhook and one message delivered twice at the same
moment; the export then shows exactly one complete response.

Runs on fakeredis and on the real Redis (``redis_client`` fixture, unique key prefix).
"""

from __future__ import annotations

import asyncio
import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr
from redis.asyncio import Redis
from twilio.request_validator import RequestValidator

from adapters.app import create_app
from adapters.services import build_services
from bot.config import Settings
from bot.results.export import export_flow
from tests.adapters.conftest import Clock

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = "https://surveys.example.gov.uk"
TOKEN = "e2e-auth-token"
NUMBER = "+447700900777"

# Bare "5" and "2" at the banded hours and years questions are also "5 hours" and "2 years":
# the engine would check them, so the carer says what she means.
DAY_ONE = [
    "CARERS HARBOROUGH",
    "yes",
    "1",
    "parent",
    "over 50 hours",
    "2 years",
    "agree",
    "strongly agree",
]
DAY_TWO = [
    "2",
    "1 and 2",
    "no",
    "More short breaks, please.",
    "skip",
    "1",
    "1",
    "1",
    "1",
    "2",
    "2",
    "le16 7aa",
]


async def test_a_carer_completes_by_sms_over_two_days(
    redis_client: Redis, key_prefix: str, tmp_path: Path
) -> None:
    settings = Settings(
        SURVEYBOT_FLOWS=ROOT / "flows",
        SURVEYBOT_SECRET=SecretStr("e2e"),
        SURVEYBOT_REDIS_PREFIX=key_prefix,
        SURVEYBOT_PUBLIC_URL=PUBLIC,
        twilio_account_sid="AC" + "2" * 32,
        twilio_auth_token=SecretStr(TOKEN),
        _env_file=None,
    )
    clock = Clock(datetime(2026, 11, 23, 18, 30, tzinfo=UTC))
    svc = build_services(settings, redis=redis_client, clock=clock)
    app = create_app(settings, services=svc, refresh_flows=False)
    validator = RequestValidator(TOKEN)
    seq = iter(range(1000))

    def signed(text: str, sid: str) -> tuple[dict[str, str], bytes]:
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "AccountSid": "AC" + "2" * 32,
            "From": NUMBER,
            "To": "+447700900000",
            "Body": text,
            "NumMedia": "0",
        }
        sig = validator.compute_signature(f"{PUBLIC}/sms/twilio", params)
        return (
            {"X-Twilio-Signature": sig, "Content-Type": "application/x-www-form-urlencoded"},
            urlencode(params).encode(),
        )

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://internal:8000"
    ) as client:

        async def send(text: str, sid: str | None = None) -> str:
            headers, body = signed(text, sid or f"SM{next(seq):032d}")
            r = await client.post("/sms/twilio", content=body, headers=headers)
            assert r.status_code == 200, r.text
            return " ".join(m.text or "" for m in ET.fromstring(r.text).iter("Message"))

        first = await send(DAY_ONE[0])
        assert "Leicester, Leicestershire and Rutland" in first
        for text in DAY_ONE[1:-1]:
            clock.advance(minutes=2)
            await send(text)
        # Twilio retries a webhook whose answer it did not get: same MessageSid, one step.
        clock.advance(minutes=2)
        reply = await send(DAY_ONE[-1], sid="SMretried")
        assert "Priority 3" in reply
        again = await send(DAY_ONE[-1], sid="SMretried")
        # Acknowledged, not stepped twice: the question they are on goes out again (the first
        # reply never reached Twilio), and nothing is stored twice (checked at the end).
        assert again.startswith("Priority 3")
        assert again in reply

        # Evening of day two (welcome back), the first message delivered twice at once.
        clock.advance(hours=25)
        headers, body = signed(DAY_TWO[0], "SMdouble")
        a, b = await asyncio.gather(
            client.post("/sms/twilio", content=body, headers=headers),
            client.post("/sms/twilio", content=body, headers=headers),
        )
        assert {a.status_code, b.status_code} == {200}
        said = [
            " ".join(m.text or "" for m in ET.fromstring(r.text).iter("Message")) for r in (a, b)
        ]
        # One is stepped (welcome back, then the question); the other finds it done and puts
        # the question again: the carer may get it twice, never a step twice.
        assert sum("Welcome back" in x for x in said) == 1
        assert all(said)
        for text in DAY_TWO[1:]:
            clock.advance(minutes=3)
            last = await send(text)
        assert "Thank you" in last

    rid = svc.store.respondent("sms", NUMBER)
    response = await svc.store.response(rid, "carers-strategy")
    assert response is not None
    assert response.source == "harborough-carers"
    assert response.answers["p3_support"].value == 2  # the double message counted once

    out = io.StringIO(newline="")
    counts = await export_flow(
        svc.store, svc.registry.flows["carers-strategy"], out, "csv", partial=True
    )
    rows = list(csv.DictReader(io.StringIO(out.getvalue().lstrip("\ufeff"))))
    assert counts.written == 1
    assert len(rows) == 1
    row = rows[0]
    assert NUMBER not in out.getvalue()
    assert "complete" in row.values()
    assert "harborough-carers" in row.values() or "Harborough carers support group" in row.values()
