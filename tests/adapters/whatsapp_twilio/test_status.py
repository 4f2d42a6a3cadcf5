"""POST /whatsapp/twilio/status: WhatsApp delivery callbacks, one table of real payloads."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from adapters.services import Services
from bot.models import Inbound, Status
from store.delivery import DeliveryLog
from tests.adapters.sms_twilio.twilio_fakes import post_signed, snapshot
from tests.adapters.whatsapp_twilio.wa_fakes import CARER, STATUS, wa_client, wa_status


@dataclass(frozen=True)
class Row:
    id: str
    status: str
    code: str | None = None
    recorded: bool = False
    opted_out: bool = False


ROWS = [
    Row("read", "read"),
    Row("delivered", "delivered"),
    Row("failed 63016 (outside the 24-hour window)", "failed", "63016", recorded=True),
    Row("undelivered 63049 (Meta held a template back)", "undelivered", "63049", recorded=True),
    Row("failed 63024 (not a WhatsApp user)", "failed", "63024", recorded=True),
    Row("failed 63014 (blocked the business)", "failed", "63014", recorded=True, opted_out=True),
    Row("failed 21610 (stopped with Twilio)", "failed", "21610", recorded=True, opted_out=True),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
async def test_status_callback(services: Services, row: Row) -> None:
    await services.dispatcher.handle(
        Inbound(channel="whatsapp", address=CARER, text="CARERS", message_id="SMin1")
    )
    before = await snapshot(services.redis)
    form = wa_status(row.status, sid="SM" + "5" * 32, code=row.code)
    async with wa_client(services, None) as client:
        r = await post_signed(client, STATUS, form)
        again = await post_signed(client, STATUS, form)  # Twilio may call twice
    assert r.status_code == again.status_code == 204
    failures = await DeliveryLog.for_store(services.store).recent()
    rid = services.store.respondent("whatsapp", CARER)
    if row.recorded:
        assert [(f.respondent, f.code, f.status) for f in failures] == [(rid, row.code, row.status)]
    else:
        assert failures == []
        assert await snapshot(services.redis) == before
    session = (await services.store.load(rid)).session
    assert session is not None
    assert session.status is (Status.OPTED_OUT if row.opted_out else Status.ACTIVE)


async def test_a_forged_status_callback_is_refused(services: Services) -> None:
    form = wa_status("failed", sid="SM" + "6" * 32, code="63014")
    async with wa_client(services, None) as client:
        r = await client.post(
            STATUS,
            content="&".join(f"{k}={v}" for k, v in form.items()),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": "forged",
            },
        )
    assert r.status_code == 403
