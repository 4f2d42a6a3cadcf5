"""Downloads from the console (CSV, XLSX, the HTML report) and the live numbers."""

from __future__ import annotations

import csv
import io

from bot.models import Inbound
from tests.adapters.officers.conftest import Site, page_csrf, text_of

ANSWERS = ["CARERS HARBOROUGH", "yes", "1", "parent", "over 50 hours"]


async def answer(site: Site, phone: str, texts: list[str]) -> None:
    for n, text in enumerate(texts):
        await site.services.dispatcher.handle(
            Inbound(channel="sms", address=phone, text=text, message_id=f"{phone}-{n}")
        )


async def test_each_download_is_audited_with_the_officer_name(site: Site) -> None:
    await answer(site, "+447700900101", ANSWERS)
    client = await site.signed_in("vera", "viewer")
    token = await page_csrf(client, "/console/flows/carers-strategy")
    r = await client.post(
        "/console/flows/carers-strategy/download",
        data={"csrf": token, "what": "csv", "partial": "yes"},
    )
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith('attachment; filename="carers-strategy-')
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == 2  # the header and the one (partial) response
    r = await client.post(
        "/console/flows/carers-strategy/download", data={"csrf": token, "what": "xlsx"}
    )
    assert r.status_code == 200
    assert r.content[:2] == b"PK"
    r = await client.post(
        "/console/flows/carers-strategy/download", data={"csrf": token, "what": "report"}
    )
    assert r.status_code == 200
    assert "Drop-off funnel" in r.text
    log = await site.services.store.audit.flow_log("carers-strategy")
    mine = [(e.kind, e.detail.get("format", "")) for e in log if e.actor == "vera"]
    assert mine == [("exported", "csv"), ("exported", "xlsx"), ("report", "")]
    assert all(e.detail.get("via") == "console" for e in log if e.actor == "vera")
    await client.aclose()


async def test_the_live_numbers_follow_new_responses(site: Site, monkeypatch: object) -> None:
    import pytest

    from adapters.officers import live

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setattr(live, "MIN_AGE", 0.0)
    client = await site.signed_in("vera", "viewer")
    first = await client.get("/console/flows/carers-strategy/live")
    assert first.status_code == 200
    stamp = first.headers["etag"]
    same = await client.get("/console/flows/carers-strategy/live", headers={"if-none-match": stamp})
    assert same.status_code == 304
    await answer(site, "+447700900102", ANSWERS)
    after = await client.get(
        "/console/flows/carers-strategy/live", headers={"if-none-match": stamp}
    )
    assert after.status_code == 200
    shown = text_of(after.text)
    assert "Started 1" in shown
    assert "By channel" in shown
    assert "Drop-off funnel" in shown
    assert "Harborough" in shown  # by source group
    await client.aclose()
