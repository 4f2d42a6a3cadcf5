"""Hostile text in a flow file (title, council, questions, choices, groups) and in answers and
misses is shown escaped on every console page: nothing an officer or a respondent writes runs
as script in an officer's browser."""

from __future__ import annotations

import re
from pathlib import Path

from bot.models import Inbound
from tests.adapters.officers.conftest import Site, page_csrf

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
SVG = "</title><svg onload=alert(3)>"
RAW = ("<script>alert", "<img src=x", "<svg onload", "onerror=alert(2)>")

HOSTILE_FLOW = f"""\
id: hostile
title: 'Survey {SCRIPT}'
council: 'Council {IMG}'
contact: {{phone: "0116 000 0000"}}
intro: 'Hello {SVG}. Text STOP to stop.'
thanks: 'Thanks {SCRIPT}'
keywords: [HOSTILE]
sources:
  - {{id: grp, name: 'Group {IMG}', keyword: GRP}}
questions:
  - id: role
    type: choice
    label: 'Role {SVG}'
    text: 'Who are you {SCRIPT}?'
    choices:
      - {{id: carer, label: 'Carer {IMG}'}}
      - {{id: other, label: 'Other {SVG}'}}
  - id: say
    type: text
    text: 'Anything else {IMG}?'
"""


def assert_escaped(html: str, where: str) -> None:
    for raw in RAW:
        assert raw not in html, (
            where,
            raw,
            html[max(0, html.find(raw) - 200) : html.find(raw) + 200],
        )


async def test_flow_text_and_answers_are_escaped_on_every_page(site: Site) -> None:
    folder = Path(site.services.settings.flows_dir)
    (folder / "hostile.yaml").write_text(HOSTILE_FLOW, encoding="utf-8")
    site.services.registry.refresh()
    assert site.services.registry.get("hostile") is not None, site.services.registry.errors
    # Two respondents: one finishes with a hostile free-text answer, one sends replies the
    # bot does not understand (so they are in the misses log).
    d = site.services.dispatcher
    for n, texts in enumerate(
        [["HOSTILE GRP", "1", SCRIPT + IMG + SVG], ["HOSTILE", SVG + " who", IMG + " me"]]
    ):
        for m, text in enumerate(texts):
            await d.handle(
                Inbound(
                    channel="sms", address=f"+4477009001{n}0", text=text, message_id=f"SM{n}{m}"
                )
            )

    client = await site.signed_in("ed", "admin")
    token = await page_csrf(client, "/console/flows/hostile/edit")
    text = HOSTILE_FLOW.replace("Thanks", "Thank you", 1)
    drafted = await client.post(
        "/console/flows/hostile/drafts",
        json={"text": text, "base": ""},
        headers={"x-csrf-token": token},
    )
    draft = drafted.json()["draft"]
    broken = HOSTILE_FLOW + f"  - {{id: x, type: {SCRIPT}, text: y}}\n"
    checked = await client.post(
        "/console/flows/hostile/edit", data={"csrf": token, "text": broken, "action": "check"}
    )
    assert checked.status_code == 200
    assert_escaped(checked.text, "editor with a hostile problem")
    published = await client.post(
        "/console/flows/hostile/edit", data={"csrf": token, "text": text, "action": "publish"}
    )
    review = published.headers["location"]
    assert (await client.post(review, data={"csrf": token, "note": SCRIPT})).status_code == 303
    version = site.services.registry.get("hostile").version  # type: ignore[union-attr]
    pages = [
        "/console",
        "/console/flows/hostile",
        "/console/flows/hostile/live",
        "/console/flows/hostile/edit",
        f"/console/flows/hostile/edit?draft={draft}",
        "/console/flows/hostile/history",
        f"/console/flows/hostile/versions/{version}",
        f"/console/flows/hostile/drafts/{draft}/chat",
        f"/console/flows/hostile/drafts/{draft}/cost",
        f"/console/flows/hostile/drafts/{draft}/graph",
        f"/console/flows/hostile/drafts/{draft}/publish",
        "/console/officers",
        "/console/flows/" + re.sub(r"[^a-z]", "", SCRIPT),  # not found
    ]
    seen = 0
    for path in pages:
        r = await client.get(path)
        assert r.status_code in (200, 404), (path, r.status_code)
        assert_escaped(r.text, path)
        seen += "&lt;script&gt;" in r.text or "&lt;img" in r.text or "&lt;svg" in r.text
    assert seen >= 8  # the hostile text is there, as text
    # The misses are on the results page, escaped.
    page = await client.get("/console/flows/hostile")
    assert "not understood" in page.text
    # A download of the report is escaped too (the report's own escaping).
    r = await client.post(
        "/console/flows/hostile/download", data={"csrf": token, "what": "report", "partial": "yes"}
    )
    assert r.status_code == 200
    assert_escaped(r.text, "report")
    await client.aclose()


async def test_hostile_sign_in_input_and_next_are_not_reflected_as_html(site: Site) -> None:
    async with site.client() as client:
        r = await client.get("/console/login", params={"next": 'javascript:alert(1)"><script>'})
        assert_escaped(r.text, "login next")
        assert 'value="/console"' in r.text  # an unsafe next falls back to the console
        page = await client.get("/console/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        r = await client.post(
            "/console/login", data={"csrf": token, "name": SCRIPT, "password": "x" * 12}
        )
        assert r.status_code == 401
        assert_escaped(r.text, "login name")
        r = await client.post(
            "/console/login",
            data={"csrf": token, "name": "a", "password": "b", "next": "https://evil.example/"},
        )
        assert "evil.example" not in r.headers.get("location", "")
