"""End to end on WhatsApp: a carer taps a group's wa.me link, sends the keyword, answers over two
days (tapping buttons and typing), gets one reminder after 30 hours through the approved
template, taps its "Carry on" button, finishes; the export shows one complete response with
channel ``whatsapp`` and the source group.

Through the real ASGI app (signed webhooks), the real reminder worker, and Twilio's REST API
faked only at its HTTP boundary. Runs on fakeredis and on the real Redis (``redis_client``).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
from redis.asyncio import Redis

from adapters.app import create_app
from adapters.senders import build_senders
from adapters.services import build_services
from adapters.whatsapp_twilio import WhatsAppSender, wa_link
from adapters.worker import ReminderWorker
from bot.results.export import export_flow
from tests.adapters.conftest import ROOT, Clock
from tests.adapters.sms_twilio.twilio_fakes import post_signed, twiml_messages
from tests.adapters.whatsapp_twilio.conftest import REMINDER_SID, wa_settings
from tests.adapters.whatsapp_twilio.wa_fakes import CARER, WEBHOOK, WhatsAppHttp, wa_form

# Typed words, or (payload, title) for a button or list item tapped.
DAY_ONE: list[str | tuple[str, str]] = [
    "CARERS HARBOROUGH",
    ("a:consent:yes", "Yes"),
    ("a:role:carer", "I am a carer"),
    "parent",
    "50 hours or more",
]
DAY_TWO: list[str | tuple[str, str]] = [
    ("carry-on", "Carry on"),  # the reminder template's button
    "2",
    ("a:p1_recognise:4", "Agree"),
    "strongly agree",
    "2",
    "1 and 2",
    ("a:know_support:no", "No"),
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


async def test_a_carer_completes_on_whatsapp_over_two_days(
    redis_client: Redis, key_prefix: str, tmp_path: Path
) -> None:
    settings = wa_settings(ROOT / "flows", tmp_path / "data", SURVEYBOT_REDIS_PREFIX=key_prefix)
    clock = Clock(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
    svc = build_services(settings, redis=redis_client, clock=clock)
    http = WhatsAppHttp()
    WhatsAppSender.of(svc, http)
    app = create_app(settings, services=svc, refresh_flows=False)
    worker = ReminderWorker(svc, build_senders(svc))
    seq = iter(range(1000))

    # The group's poster: the link opens the chat with the keyword typed.
    assert wa_link(settings.twilio_whatsapp_from or "", "CARERS HARBOROUGH") == (
        "https://wa.me/447700900000?text=CARERS%20HARBOROUGH"
    )

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://internal:8000"
    ) as client:

        async def say(what: str | tuple[str, str]) -> str:
            sid = f"SM{next(seq):032d}"
            if isinstance(what, tuple):
                payload, title = what
                field = "ListId" if payload.startswith("a:p1") else "ButtonPayload"
                text = "ListTitle" if field == "ListId" else "ButtonText"
                kind = "interactive" if field == "ListId" else "button"
                form = wa_form(title, sid=sid, MessageType=kind, **{field: payload, text: title})
            else:
                form = wa_form(what, sid=sid)
            before = len(http.messages())
            r = await post_signed(client, WEBHOOK, form)
            assert r.status_code == 200, r.text
            said = twiml_messages(r)
            for m in http.messages()[before:]:  # replies that went through the API
                said.append(str(m.get("Body") or json.loads(str(m["ContentVariables"]))["1"]))
            return "\n".join(said)

        first = await say(DAY_ONE[0])
        assert "Leicester, Leicestershire and Rutland" in first
        for what in DAY_ONE[1:]:
            clock.advance(minutes=2)
            await say(what)

        # Silence. Nothing is due before 24 hours...
        clock.advance(hours=20)
        assert (await worker.run_once()).sent == 0
        # ... and after 30 hours the one reminder goes, as the approved template.
        clock.advance(hours=10)
        stats = await worker.run_once()
        assert (stats.sent, stats.failed) == (1, 0)
        reminder = http.messages()[-1]
        assert reminder["ContentSid"] == REMINDER_SID
        assert "Body" not in reminder
        assert json.loads(str(reminder["ContentVariables"]))["2"].startswith("4 of ")
        assert (await worker.run_once()).sent == 0  # one reminder, not two

        clock.advance(hours=1)
        back = await say(DAY_TWO[0])
        assert "*How long have you been a carer?*" in back  # where they stopped, in bold
        for what in DAY_TWO[1:]:
            clock.advance(minutes=3)
            last = await say(what)
        assert "Thank you" in last
        clock.advance(days=3)
        assert (await worker.run_once()).sent == 0  # finished: no more reminders

    # Nothing free-form went outside the window: every Body was a reply within minutes.
    templates = [m for m in http.messages() if "ContentSid" in m and "Body" not in m]
    assert [m["ContentSid"] for m in templates if m["ContentSid"] == REMINDER_SID] == [REMINDER_SID]

    rid = svc.store.respondent("whatsapp", CARER)
    response = await svc.store.response(rid, "carers-strategy")
    assert response is not None
    assert response.source == "harborough-carers"
    assert response.answers["p1_recognise"].value == 4

    out = io.StringIO(newline="")
    counts = await export_flow(
        svc.store, svc.registry.flows["carers-strategy"], out, "csv", partial=True
    )
    text = out.getvalue()
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert counts.written == 1
    (row,) = rows
    assert "whatsapp" in row.values()
    assert "complete" in row.values()
    assert "7700900123" not in text
