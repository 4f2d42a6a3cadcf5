"""Editing, checking, previewing and publishing a flow in the console; versions, rollback, and
every process serving the published version."""

from __future__ import annotations

import re
from pathlib import Path

import fakeredis

from adapters.officers import PublishedSync
from adapters.services import build_services
from bot.config import Settings
from store.published import PublishedFlows
from tests.adapters.conftest import Clock
from tests.adapters.officers.conftest import Site, make_site, page_csrf, text_of

FLOW = "/console/flows/carers-strategy"


def carers(settings: Settings) -> str:
    return (Path(settings.flows_dir) / "carers-strategy.yaml").read_text(encoding="utf-8")


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


async def _publish(client: object, text: str, note: str = "") -> str:
    import httpx

    assert isinstance(client, httpx.AsyncClient)
    token = await page_csrf(client, FLOW + "/edit")
    r = await client.post(
        FLOW + "/edit", data={"csrf": token, "text": text, "base": "", "action": "publish"}
    )
    assert r.status_code == 303, r.text[:500]
    review = r.headers["location"]
    page = await client.get(review)
    assert page.status_code == 200
    r = await client.post(review, data={"csrf": token, "note": note})
    assert r.status_code == 303, text_of(r.text)[:800]
    return review


async def test_problems_come_with_their_lines_as_the_officer_types(site: Site) -> None:
    client = await site.signed_in("ed", "editor")
    token = await page_csrf(client, FLOW + "/edit")
    text = carers(site.services.settings)
    broken = text.replace("type: choice", "type: choise", 1)
    r = await client.post(FLOW + "/check", json={"text": broken}, headers={"x-csrf-token": token})
    body = r.json()
    assert body["errors"] == 1
    error = next(p for p in body["problems"] if p["severity"] == "error")
    assert error["line"] == line_of(broken, "type: choise")
    assert "choise" in error["message"]
    assert "did you mean 'choice'" in error["hint"]
    # Without JavaScript: the Check button renders the same at its line in the gutter.
    r = await client.post(FLOW + "/edit", data={"csrf": token, "text": broken, "action": "check"})
    assert r.status_code == 200
    n = error["line"]
    assert f'class="ln ln-error" data-line="{n}"' in r.text
    assert f"Line {n}" in r.text
    # A changed id and a keyword another flow uses are errors only the console can see.
    other = text.replace("id: carers-strategy", "id: carers-2", 1)
    r = await client.post(FLOW + "/check", json={"text": other}, headers={"x-csrf-token": token})
    assert any("must stay 'carers-strategy'" in p["message"] for p in r.json()["problems"])
    await client.aclose()


async def test_a_draft_with_errors_cannot_be_published(site: Site) -> None:
    client = await site.signed_in("ed", "editor")
    token = await page_csrf(client, FLOW + "/edit")
    broken = carers(site.services.settings).replace("type: choice", "type: choise", 1)
    r = await client.post(FLOW + "/edit", data={"csrf": token, "text": broken, "action": "publish"})
    review = r.headers["location"]
    page = await client.get(review)
    assert "cannot be published" in page.text
    assert 'class="primary"' not in page.text
    r = await client.post(review, data={"csrf": token})
    assert r.status_code == 409
    assert await PublishedFlows(site.services.redis, site.services.store.keys).live() == {}
    await client.aclose()


async def test_publish_keeps_history_audit_and_every_process_serves_it(
    site: Site, clock: Clock
) -> None:
    before = site.services.registry.get("carers-strategy")
    assert before is not None
    # A second web process on the same Redis (its own registry, loaded from the files).
    other = build_services(
        site.services.settings, redis=fakeredis.FakeAsyncRedis(server=site.server), clock=clock
    )
    sync = PublishedSync(other)
    await sync.poll()
    assert other.registry.get("carers-strategy").version == before.version  # type: ignore[union-attr]

    client = await site.signed_in("ed", "editor")
    text = carers(site.services.settings)
    new = text.replace("Thank you", "Thank you so much", 1)
    await _publish(client, new, note="warmer thanks")
    served = site.services.registry.get("carers-strategy")
    assert served is not None
    assert served.version != before.version
    assert await sync.poll()  # the other within its next poll (a second)
    assert other.registry.get("carers-strategy").version == served.version  # type: ignore[union-attr]

    history = await PublishedFlows(site.services.redis, site.services.store.keys).history(
        "carers-strategy"
    )
    assert [(h.kind, h.version) for h in history] == [
        ("file", before.version),
        ("publish", served.version),
    ]
    assert history[1].by == "ed"
    assert history[1].note == "warmer thanks"
    log = await site.services.store.audit.flow_log("carers-strategy")
    entry = next(e for e in log if e.kind == "published" and e.actor == "ed")
    assert entry.detail["version"] == served.version
    assert entry.detail["previous"] == before.version

    page = await client.get(FLOW + "/history")
    shown = text_of(page.text)
    assert "warmer thanks" in shown
    assert "ed" in shown
    assert served.version in shown

    # The diff against the live version, then one-click rollback to the file's version.
    v = await client.get(f"{FLOW}/versions/{before.version}")
    assert "Thank you so much" in v.text
    assert "d-del" in v.text
    token = await page_csrf(client, FLOW + "/history")
    r = await client.post(
        FLOW + "/rollback", data={"csrf": token, "version": before.version, "base": served.version}
    )
    assert r.status_code == 303
    assert site.services.registry.get("carers-strategy").version == before.version  # type: ignore[union-attr]
    await sync.poll()
    assert other.registry.get("carers-strategy").version == before.version  # type: ignore[union-attr]
    log = await site.services.store.audit.flow_log("carers-strategy")
    assert any(e.detail.get("how") == "rollback" and e.actor == "ed" for e in log)
    await client.aclose()


async def test_two_editors_publishing_from_the_same_version_second_is_refused(site: Site) -> None:
    a = await site.signed_in("ann", "editor")
    b = await site.signed_in("bob", "editor")
    text = carers(site.services.settings)
    token_a = await page_csrf(a, FLOW + "/edit")
    token_b = await page_csrf(b, FLOW + "/edit")
    base = re.search(r'name="base" value="([0-9a-f]+)"', (await b.get(FLOW + "/edit")).text)
    assert base
    ra = await a.post(
        FLOW + "/edit",
        data={
            "csrf": token_a,
            "text": text.replace("Thank you", "Ta", 1),
            "base": base.group(1),
            "action": "publish",
        },
    )
    rb = await b.post(
        FLOW + "/edit",
        data={
            "csrf": token_b,
            "text": text.replace("Thank you", "Cheers", 1),
            "base": base.group(1),
            "action": "publish",
        },
    )
    assert (await a.post(ra.headers["location"], data={"csrf": token_a})).status_code == 303
    refused = await b.post(rb.headers["location"], data={"csrf": token_b})
    assert refused.status_code == 409
    assert "since you opened it" in refused.text
    served = site.services.registry.get("carers-strategy")
    assert served is not None
    assert "Ta" in str(served.thanks)
    await a.aclose()
    await b.aclose()


async def test_a_file_edit_does_not_replace_a_published_version(site: Site) -> None:
    client = await site.signed_in("ed", "editor")
    text = carers(site.services.settings)
    await _publish(client, text.replace("Thank you", "Published thanks", 1))
    published = site.services.registry.get("carers-strategy")
    path = Path(site.services.settings.flows_dir) / "carers-strategy.yaml"
    path.write_text(text.replace("Thank you", "File thanks", 1), encoding="utf-8")
    site.services.registry.refresh(force=True)
    assert site.services.registry.get("carers-strategy") is published
    # The file's version is known, so the console can show it differs.
    assert "File thanks" in str(site.services.registry.from_files["carers-strategy"].thanks)
    # A process that starts later serves the published version from its first request.
    quiet = site.services.settings.model_copy(update={"telegram_token": None})  # no network
    later = make_site(quiet, Clock(site.services.clock()), site.server)
    async with later.app.router.lifespan_context(later.app):
        assert later.services.registry.get("carers-strategy").version == published.version  # type: ignore[union-attr]
    await client.aclose()


async def test_preview_runs_the_draft_and_stores_nothing_live(site: Site) -> None:
    client = await site.signed_in("ed", "editor")
    token = await page_csrf(client, FLOW + "/edit")
    text = carers(site.services.settings).replace("Hello from", "PREVIEW-ONLY hello from", 1)
    r = await client.post(
        FLOW + "/drafts", json={"text": text, "base": ""}, headers={"x-csrf-token": token}
    )
    chat_url = r.json()["chat"]
    page = await client.get(chat_url)
    assert page.status_code == 200
    assert 'id="chat"' in page.text
    endpoint = re.search(r'data-endpoint="([^"]+)"', page.text).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    before = {k async for k in site.services.redis.scan_iter("*")}
    start = await client.post(endpoint, json={"start": True, "id": "preview-1"})
    assert start.status_code == 200
    replies = start.json()["replies"]
    assert "PREVIEW-ONLY" in replies[0]["text"]
    question = next(r["question"] for r in replies if r["question"])
    answer = await client.post(
        endpoint, json={"text": "yes", "id": "preview-2", "question": question}
    )
    assert answer.status_code == 200
    assert answer.json()["replies"]
    after = {k async for k in site.services.redis.scan_iter("*")}
    new = {k.decode() for k in after - before}
    assert new
    assert all(":{console}:pv:" in k for k in new), new
    # Without the token in its URL the endpoint refuses (a page elsewhere cannot drive it).
    bare = endpoint.split("?")[0]
    assert (await client.post(bare, json={"start": True, "id": "preview-3"})).status_code == 403
    await client.aclose()


async def test_cost_and_graph_of_the_draft_are_one_click_away(site: Site) -> None:
    client = await site.signed_in("ed", "editor")
    token = await page_csrf(client, FLOW + "/edit")
    text = carers(site.services.settings)
    for action, expect in (
        ("cost", "SMS parts per completed response"),
        ("graph", "Route of the draft"),
    ):
        r = await client.post(FLOW + "/edit", data={"csrf": token, "text": text, "action": action})
        assert r.status_code == 303
        page = await client.get(r.headers["location"])
        assert page.status_code == 200
        assert expect in page.text
    await client.aclose()
