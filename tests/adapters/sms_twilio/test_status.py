"""POST /sms/twilio/status: Twilio's delivery callbacks, one table of real payloads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from adapters.services import Services
from bot.models import Inbound, Status
from store.delivery import DeliveryLog
from tests.adapters.conftest import PUBLIC_URL, Clock
from tests.adapters.sms_twilio.twilio_fakes import (
    FORM,
    STATUS,
    client_for,
    fake_server,
    post_signed,
    sign,
    snapshot,
    status_form,
)

CARER = "+447700900123"


@dataclass(frozen=True)
class Row:
    id: str
    status: str
    code: str | None = None
    forged: bool = False
    # expectations
    http: int = 204
    recorded: bool = False
    opted_out: bool = False


ROWS = [
    Row("delivered", "delivered"),
    Row("sent", "sent"),
    Row("failed 30003 (unreachable handset)", "failed", "30003", recorded=True),
    Row("undelivered 30005 (unknown handset)", "undelivered", "30005", recorded=True),
    Row("failed 21610 (opted out with Twilio)", "failed", "21610", recorded=True, opted_out=True),
    Row("forged signature", "failed", "21610", forged=True, http=403),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
async def test_status_callback(services: Services, clock: Clock, row: Row) -> None:
    # The respondent is mid-survey (so opting out has a session to record it in).
    await services.dispatcher.handle(
        Inbound(channel="sms", address=CARER, text="TEST", message_id="SMin1")
    )
    before = await snapshot(services.redis)
    form = status_form(row.status, sid="SM" + "5" * 32, to=CARER, code=row.code)
    async with client_for(services) as client:
        if row.forged:
            r = await client.post(
                STATUS,
                content=urlencode(form),
                headers={
                    "Content-Type": FORM,
                    "X-Twilio-Signature": sign(PUBLIC_URL + STATUS, form, "wrong"),
                },
            )
        else:
            r = await post_signed(client, STATUS, form)
    assert r.status_code == row.http, r.text

    rid = services.store.respondent("sms", CARER)
    log = DeliveryLog.for_store(services.store)
    report = await log.report(now=clock())
    if row.recorded:
        (failure,) = report.recent
        assert failure.respondent == rid
        assert failure.status == row.status
        assert failure.code == row.code
        assert failure.message == form["MessageSid"]
        assert report.counts == {clock().date().isoformat(): {row.code: 1}}
    else:
        assert report.recent == []
        assert report.counts == {}
    # never the raw number: not in any key or value
    after = await snapshot(services.redis)
    assert CARER not in repr({k: v for k, v in after.items() if "{dlv}" in k})
    assert "7700900123" not in repr([k for k in after])

    stored = await services.store.response(rid, "every-type")
    assert stored is not None
    assert stored.status is (Status.OPTED_OUT if row.opted_out else Status.ACTIVE)
    assert await services.store.is_opted_out(rid) is row.opted_out
    if not row.recorded and not row.opted_out:
        assert after == before


async def test_a_repeated_callback_counts_once(services: Services, clock: Clock) -> None:
    form = status_form("undelivered", sid="SM" + "6" * 32, to=CARER, code="30005")
    async with client_for(services) as client:
        for _ in range(3):
            assert (await post_signed(client, STATUS, form)).status_code == 204
        clock.advance(days=1)
        form2 = status_form("failed", sid="SM" + "7" * 32, to=CARER, code="30003")
        assert (await post_signed(client, STATUS, form2)).status_code == 204
    report = await DeliveryLog.for_store(services.store).report(now=clock())
    assert [f.message for f in report.recent] == [form2["MessageSid"], form["MessageSid"]]
    day1 = (clock() - timedelta(days=1)).date().isoformat()
    assert report.counts == {day1: {"30005": 1}, clock().date().isoformat(): {"30003": 1}}
    assert report.total == 2


async def test_21610_without_a_session_still_marks_the_opt_out(services: Services) -> None:
    """Twilio refused a number we hold no live session for: the opt-out marker keeps the bot
    silent to them (no menu) until they text a survey keyword again."""
    stranger = "+447700900555"
    form = status_form("failed", sid="SM" + "8" * 32, to=stranger, code="21610")
    async with client_for(services) as client:
        assert (await post_signed(client, STATUS, form)).status_code == 204
    rid = services.store.respondent("sms", stranger)
    assert await services.store.is_opted_out(rid)
    out = await services.dispatcher.handle(
        Inbound(channel="sms", address=stranger, text="hello", message_id="SMs1")
    )
    assert out.replies == []
    out = await services.dispatcher.handle(
        Inbound(channel="sms", address=stranger, text="TEST", message_id="SMs2")
    )
    assert out.session is not None
    assert out.session.status is Status.ACTIVE
    assert not await services.store.is_opted_out(rid)


async def test_missing_fields_are_400(services: Services) -> None:
    form = status_form("failed", sid="SM" + "9" * 32, to=CARER, code="30003")
    del form["To"]
    no_status = status_form("failed", sid="SM" + "9" * 32, to=CARER)
    del no_status["MessageStatus"], no_status["SmsStatus"]
    async with client_for(services) as client:
        assert (await post_signed(client, STATUS, form)).status_code == 400
        assert (await post_signed(client, STATUS, no_status)).status_code == 400
    assert await snapshot(services.redis) == {}


async def test_redis_down_is_503(services: Services) -> None:
    form = status_form("failed", sid="SM" + "4" * 32, to=CARER, code="30003")
    server = fake_server(services.redis)
    async with client_for(services) as client:
        server.connected = False
        try:
            r = await post_signed(client, STATUS, form)
        finally:
            server.connected = True
    assert r.status_code == 503
    assert await snapshot(services.redis) == {}
