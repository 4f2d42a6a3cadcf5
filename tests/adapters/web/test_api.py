"""The web chat over HTTP: page, JSON endpoint, cookie, dedupe, validation, errors, headers."""

from __future__ import annotations

import json
import re
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import fakeredis
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import web
from adapters.services import Services, build_services
from adapters.web.chat import BadRequest, Message, parse_message
from bot.config import Settings
from bot.models import Status
from tests.adapters.conftest import Clock
from tests.adapters.web.conftest import (
    address_of,
    app_for,
    asks,
    new_id,
    post,
    press,
    say,
    start,
    web_cookie,
)

FLOW = "carers-strategy"


def cookie_of(client: httpx.AsyncClient) -> str:
    return web_cookie(client)


def set_cookie_header(r: httpx.Response) -> SimpleCookie:
    headers = [v for k, v in r.headers.multi_items() if k == "set-cookie"]
    assert len(headers) == 1, headers
    jar: SimpleCookie = SimpleCookie()
    jar.load(headers[0])
    return jar


async def stored(services: Services, client: httpx.AsyncClient, flow: str = FLOW) -> Any:
    rid = services.store.respondent("web", address_of(services, client))
    return await services.store.response(rid, flow)


# -- a new visitor, their cookie, and coming back ----------------------------------------------------


async def test_new_visitor_gets_the_intro_and_first_question(client: httpx.AsyncClient) -> None:
    r = await post(client, FLOW, {"start": True})
    assert r.status_code == 200
    body = r.json()
    assert body["done"] is False
    assert body["lang"] == "en"
    intro, question = body["replies"]
    assert "Leicester, Leicestershire and Rutland" in intro["text"]
    assert question["question"] == "consent"
    assert question["kind"] == "question"
    assert [(c["key"], c["value"], c["label"]) for c in question["choices"]] == [
        ("YES", "yes", "Yes"),
        ("NO", "no", "No"),
    ]


async def test_cookie_has_the_right_attributes(client: httpx.AsyncClient) -> None:
    r = await post(client, FLOW, {"start": True})
    # Behind https a __Host- cookie: Secure, Path=/, no Domain (a subdomain cannot plant it).
    morsel = set_cookie_header(r)[web.SECURE_COOKIE_NAME]
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}\.n\.[A-Za-z0-9_-]{22}", morsel.value)
    assert morsel["httponly"] is True
    assert morsel["secure"] is True  # PUBLIC_URL is https
    assert morsel["samesite"].lower() == "lax"
    assert morsel["path"] == "/"
    assert not morsel["domain"]
    assert int(morsel["max-age"]) == 60 * 24 * 3600


async def test_cookie_is_not_secure_on_a_plain_http_deployment(
    services: Services, settings: Settings
) -> None:
    services.settings = settings.model_copy(update={"public_url": "http://127.0.0.1:8000"})
    transport = httpx.ASGITransport(app=app_for(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
        r = await post(c, FLOW, {"start": True})
        morsel = set_cookie_header(r)[web.COOKIE_NAME]
        assert not morsel["secure"]
        assert morsel["httponly"] is True
        # and it works: the cookie comes back and the answer lands in the same session
        assert asks(await press(c, "consent", "yes")) == "role"


async def test_page_sets_the_cookie_once(client: httpx.AsyncClient) -> None:
    first = await client.get(f"/chat/{FLOW}")
    assert first.status_code == 200
    value = set_cookie_header(first)[web.SECURE_COOKIE_NAME].value
    again = await client.get(f"/chat/{FLOW}")
    assert "set-cookie" not in again.headers  # kept, not replaced
    assert cookie_of(client) == value


async def test_answers_and_a_reload_resumes_where_they_were(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await client.get(f"/chat/{FLOW}")
    await start(client)
    assert asks(await press(client, "consent", "yes")) == "role"
    assert asks(await say(client, "1")) == "cared_for"  # typed, like an SMS

    # reload a minute later: the current question again, no intro, no welcome back
    clock.advance(minutes=1)
    body = await start(client)
    assert [r["question"] for r in body["replies"]] == ["cared_for"]
    assert "Leicester" not in body["replies"][0]["text"]

    # days later (same cookie): welcome back, then the same question
    clock.advance(days=3)
    body = await start(client)
    assert "Welcome back" in body["replies"][0]["text"]
    assert asks(body) == "cared_for"
    assert asks(await press(client, "cared_for", "parent")) == "hours"


async def test_a_new_cookie_is_a_new_respondent(
    client: httpx.AsyncClient, services: Services
) -> None:
    await start(client)
    await press(client, "consent", "yes")
    transport = httpx.ASGITransport(app=app_for(services))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as other:
        body = await start(other)
        assert asks(body) == "consent"
        assert cookie_of(other) != cookie_of(client)


async def test_source_is_recorded(client: httpx.AsyncClient, services: Services) -> None:
    page = await client.get(f"/chat/{FLOW}?source=harborough-carers")
    assert 'data-source="harborough-carers"' in page.text
    await start(client, source="harborough-carers")
    await press(client, "consent", "yes")
    response = await stored(services, client)
    assert response is not None
    assert response.source == "harborough-carers"
    assert response.channel == "web"


async def test_unknown_source_is_ignored(client: httpx.AsyncClient, services: Services) -> None:
    page = await client.get(f"/chat/{FLOW}?source=no-such-group")
    assert 'data-source=""' in page.text
    await start(client, source="no-such-group")
    assert await stored(services, client) is None  # opening the page stores nothing
    await press(client, "consent", "yes")
    response = await stored(services, client)
    assert response is not None
    assert response.source is None


async def test_language_from_the_link(client: httpx.AsyncClient) -> None:
    page = await client.get(f"/chat/{FLOW}?lang=gu")
    assert '<html lang="gu">' in page.text
    assert "કેરર્સ વ્યૂહરચના સર્વે" in page.text
    body = await start(client, lang="gu")
    assert body["lang"] == "gu"
    assert "નમસ્તે" in body["replies"][0]["text"]
    assert [c["label"] for c in body["replies"][-1]["choices"]] == ["હા", "ના"]


# -- answering ------------------------------------------------------------------------------------


async def staff_to_the_end(client: httpx.AsyncClient) -> Any:
    """The shortest path through the carers flow: council staff skip the carer and equality parts."""
    await start(client)
    await press(client, "consent", "yes")
    assert asks(await press(client, "role", "staff")) == "p1_recognise"
    await press(client, "p1_recognise", "4")
    await press(client, "p2_life", "5")
    assert asks(await press(client, "p3_support", "2")) == "support_most"
    body = await press(client, "support_most", ["breaks", "money"])
    assert asks(body) == "anything_else"
    return await say(client, "More short breaks, please.")


async def test_a_whole_survey_with_buttons_and_text(
    client: httpx.AsyncClient, services: Services
) -> None:
    body = await staff_to_the_end(client)
    assert body["done"] is True
    assert body["replies"][-1]["kind"] == "end"
    assert "Thank you" in body["replies"][-1]["text"]
    response = await stored(services, client)
    assert response is not None
    assert response.status is Status.COMPLETE
    assert response.answers["role"].value == "staff"
    assert response.answers["support_most"].value == ["breaks", "money"]
    assert response.answers["anything_else"].value == "More short breaks, please."


async def test_reopening_a_finished_survey_does_not_start_it_again(
    client: httpx.AsyncClient, services: Services, clock: Clock
) -> None:
    await staff_to_the_end(client)
    clock.advance(hours=2)
    body = await start(client)
    assert body["done"] is True
    assert [r["kind"] for r in body["replies"]] == ["end"]
    assert "finished" in body["replies"][0]["text"]
    response = await stored(services, client)
    assert response is not None
    assert response.status is Status.COMPLETE
    assert response.answers["anything_else"].value == "More short breaks, please."


async def test_a_wrong_answer_gets_the_choices_again(client: httpx.AsyncClient) -> None:
    await start(client)
    await press(client, "consent", "yes")
    body = await say(client, "purple")
    assert body["replies"][-1]["kind"] == "error"
    assert body["replies"][-1]["question"] == "role"
    assert len(body["replies"][-1]["choices"]) == 5


async def test_a_button_for_an_old_question_does_not_answer_the_current_one(
    client: httpx.AsyncClient, services: Services
) -> None:
    await start(client)
    await press(client, "consent", "yes")
    body = await press(client, "consent", "yes")  # a stale button from an earlier bubble
    assert asks(body) == "role"
    response = await stored(services, client)
    assert response is not None
    assert "role" not in response.answers


async def test_a_closed_survey_says_so(client: httpx.AsyncClient) -> None:
    page = await client.get("/chat/communities-approach")
    assert page.status_code == 200
    body = await start(client, flow="communities-approach")
    assert body["done"] is True
    assert body["replies"][-1]["kind"] == "end"
    assert "closed" in body["replies"][-1]["text"].lower()


async def test_duplicate_client_message_id_is_answered_once(
    client: httpx.AsyncClient, services: Services
) -> None:
    await start(client)
    await press(client, "consent", "yes")
    message = {"button": {"question": "role", "value": "carer"}, "id": new_id()}
    first = await post(client, FLOW, message)
    second = await post(client, FLOW, message)  # a double click or a retry
    assert asks(first.json()) == "cared_for"
    assert second.status_code == 200
    # Not stepped twice: the page is told it is a duplicate, with the question they are on
    # (the first answer may never have reached the page).
    assert second.json()["duplicate"] is True
    assert asks(second.json()) == "cared_for"
    assert second.json()["replies"] == [r for r in first.json()["replies"] if r.get("question")]
    # the session moved on once: the next answer lands on cared_for
    assert asks(await press(client, "cared_for", "parent")) == "hours"
    response = await stored(services, client)
    assert response is not None
    assert response.answers["role"].value == "carer"
    assert response.answers["cared_for"].value == "parent"


async def test_same_client_id_from_two_people_is_not_a_duplicate(
    client: httpx.AsyncClient, services: Services
) -> None:
    transport = httpx.ASGITransport(app=app_for(services))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as other:
        for c in (client, other):
            await start(c)
        shared = new_id()
        for c in (client, other):
            r = await post(
                c, FLOW, {"button": {"question": "consent", "value": "yes"}, "id": shared}
            )
            assert asks(r.json()) == "role"


# -- bad requests ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "content_type", "code"),
    [
        (b'{"text": "hi"', "application/json", "json"),
        (b"\xff\xfe", "application/json", "json"),
        (b"[1, 2]", "application/json", "json"),
        (b'{"text": "hi", "id": "abcdefgh1"}', "text/plain", "content_type"),
        (b"text=hi&id=abcdefgh1", "application/x-www-form-urlencoded", "content_type"),
        (b'{"text": "hi", "id": "abcdefgh1"}', "", "content_type"),
        (b"{}", "application/json", "invalid"),
        (b'{"text": "hi"}', "application/json", "invalid"),  # no client id
        (b'{"text": 5, "id": "abcdefgh1"}', "application/json", "invalid"),
        (b'{"text": "   ", "id": "abcdefgh1"}', "application/json", "empty"),
        (b'{"text": "hi", "id": "no spaces please"}', "application/json", "invalid"),
        (b'{"text": "hi", "id": 12345678}', "application/json", "invalid"),
        (b'{"text": "hi", "button": {}, "id": "abcdefgh1"}', "application/json", "invalid"),
        (b'{"button": "carer", "id": "abcdefgh1"}', "application/json", "invalid"),
        (b'{"button": {"question": "role"}, "id": "abcdefgh1"}', "application/json", "invalid"),
        (
            b'{"button": {"question": "role", "value": []}, "id": "abcdefgh1"}',
            "application/json",
            "invalid",
        ),
        (
            b'{"button": {"question": "role", "value": [1]}, "id": "abcdefgh1"}',
            "application/json",
            "invalid",
        ),
        (
            b'{"button": {"question": "role", "value": "a,b"}, "id": "abcdefgh1"}',
            "application/json",
            "invalid",
        ),
        (
            b'{"button": {"question": "<x>", "value": "a"}, "id": "abcdefgh1"}',
            "application/json",
            "invalid",
        ),
        (b'{"start": "yes"}', "application/json", "invalid"),
        (b'{"start": true, "source": "<script>"}', "application/json", "invalid"),
        (b'{"start": true, "lang": 7}', "application/json", "invalid"),
    ],
)
async def test_bad_requests_get_400_with_a_json_error(
    client: httpx.AsyncClient, content: bytes, content_type: str, code: str
) -> None:
    await start(client)
    headers = {"Content-Type": content_type} if content_type else {}
    r = await client.post(f"/chat/{FLOW}/messages", content=content, headers=headers)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json()["error"] == code
    assert r.json()["message"]


async def test_huge_text_gets_400(client: httpx.AsyncClient) -> None:
    await start(client)
    r = await post(client, FLOW, {"text": "x" * (web.MAX_TEXT + 1), "id": new_id()})
    assert r.status_code == 400
    assert r.json()["error"] == "too_long"
    ok = await post(client, FLOW, {"text": "x" * web.MAX_TEXT, "id": new_id()})
    assert ok.status_code == 200


async def test_an_oversized_body_gets_413(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"/chat/{FLOW}/messages",
        content=json.dumps({"text": "x" * 40_000, "id": new_id()}),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json()["error"] == "too_large"


async def test_an_answer_without_a_cookie_asks_for_cookies(client: httpx.AsyncClient) -> None:
    r = await post(client, FLOW, {"text": "yes", "id": new_id()})
    assert r.status_code == 400
    assert r.json()["error"] == "cookies"
    assert "set-cookie" not in r.headers


async def test_a_forged_cookie_is_replaced(client: httpx.AsyncClient) -> None:
    client.cookies.set(web.SECURE_COOKIE_NAME, "not a real cookie", domain="testserver.local")
    r = await post(client, FLOW, {"start": True})
    assert r.status_code == 200
    assert set_cookie_header(r)[web.SECURE_COOKIE_NAME].value != "not a real cookie"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["start", "text", "button", "id", "question", "value", "source", "lang"]
            )
            | st.text(max_size=8),
            inner,
            max_size=5,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_parsing_never_fails_unexpectedly(value: Any) -> None:
    error: BadRequest | None = None
    try:
        msg = parse_message("application/json", json.dumps(value).encode())
    except BadRequest as exc:
        error = exc
    if error is not None:
        assert error.status == 400
        assert error.message
    else:
        assert isinstance(msg, Message)
        assert msg.kind in ("start", "text", "button")
        assert len(msg.text) <= web.MAX_TEXT


# -- unknown flows, Redis down ---------------------------------------------------------------------


async def test_unknown_flow_is_404(client: httpx.AsyncClient) -> None:
    page = await client.get("/chat/no-such-survey")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Survey not found" in page.text
    assert page.headers["x-content-type-options"] == "nosniff"
    api = await post(client, "no-such-survey", {"start": True})
    assert api.status_code == 404
    assert api.json()["error"] == "not_found"


async def test_redis_down_is_503_and_the_retry_works(settings: Settings, clock: Clock) -> None:
    server = fakeredis.FakeServer()
    services = build_services(settings, redis=fakeredis.FakeAsyncRedis(server=server), clock=clock)
    transport = httpx.ASGITransport(app=app_for(services))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        await start(c)
        message = {"button": {"question": "consent", "value": "yes"}, "id": new_id()}
        server.connected = False
        r = await post(c, FLOW, message)
        assert r.status_code == 503
        assert r.json() == {
            "error": "unavailable",
            "message": "Sorry, please try again in a minute.",
        }
        assert r.headers["retry-after"] == "5"
        # Opening the page needs no Redis (nothing is stored before the first answer).
        down_start = await post(c, FLOW, {"start": True})
        assert down_start.status_code == 200
        assert asks(down_start.json()) == "consent"
        server.connected = True
        again = await post(c, FLOW, message)  # the page retries with the same id
        assert again.status_code == 200
        assert asks(again.json()) == "role"
    await services.redis.aclose()


# -- page, headers, static files -----------------------------------------------------------------


async def test_page_is_accessible_and_self_contained(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/chat/{FLOW}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    page = r.text
    assert "<title>Carers Strategy survey</title>" in page
    assert 'role="log"' in page
    assert 'aria-live="polite"' in page
    assert '<label for="answer">' in page
    assert 'name="viewport"' in page
    assert 'lang="en"' in page
    # without JavaScript: a note (with the SMS way in), not a form that cannot work
    assert re.search(r'<form id="composer"[^>]*\bhidden\b', page)
    assert "<noscript>" in page
    assert "You can also text CARERS to +447700900000." in page
    # every script, stylesheet, image or font comes from this server
    assets = re.findall(
        r"""<(?:script|link|img|source|iframe)\b[^>]*?\b(?:src|href)=["']([^"']*)""", page
    )
    assert assets
    for url in assets:
        assert url.startswith(("/chat/static/", "data:")), url
    assert not re.search(
        r"""(?:src|href)=["'](?:https?:)?//""",
        page.replace('href="https://www.leicestershire.gov.uk/carers"', ""),
    )
    assert "@import" not in page
    assert "<style" not in page  # no inline styles or scripts: the CSP forbids them
    assert re.search(r"<script(?![^>]*\bsrc=)", page) is None


async def test_static_files_are_self_contained(client: httpx.AsyncClient) -> None:
    for name, media in (("chat.js", "text/javascript"), ("chat.css", "text/css")):
        r = await client.get(f"/chat/static/{name}")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith(media)
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "http://" not in r.text
        assert "https://" not in r.text
        assert "@import" not in r.text
        assert "url(" not in r.text
        again = await client.get(
            f"/chat/static/{name}", headers={"If-None-Match": r.headers["etag"]}
        )
        assert again.status_code == 304
    assert (await client.get("/chat/static/../chat.py")).status_code == 404
    assert (await client.get("/chat/static/page.html")).status_code == 404


async def test_page_links_assets_by_version_for_long_caching(client: httpx.AsyncClient) -> None:
    page = (await client.get(f"/chat/{FLOW}")).text
    js = re.search(r'src="(/chat/static/chat\.js\?v=[0-9a-f]+)"', page)
    assert js
    r = await client.get(js.group(1))
    assert "immutable" in r.headers["cache-control"]
    unversioned = await client.get("/chat/static/chat.js")
    assert unversioned.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", f"/chat/{FLOW}"), ("POST", f"/chat/{FLOW}/messages"), ("GET", "/chat/nope")],
)
async def test_security_headers(client: httpx.AsyncClient, method: str, path: str) -> None:
    r = await client.request(method, path, json={"start": True} if method == "POST" else None)
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    if method == "POST":
        assert r.headers["cache-control"] == "no-store"


async def test_flow_text_is_escaped(
    client: httpx.AsyncClient, services: Services, flows_dir: Path
) -> None:
    source = (flows_dir / "every-type.yaml").read_text()
    tricky = (
        source.replace("id: every-type", "id: tricky")
        .replace("title: Test survey", "title: 'Carers & <script>alert(1)</script> \"survey\"'")
        .replace("keywords: [TEST]", "keywords: [TRICKY]")
    )
    (flows_dir / "tricky.yaml").write_text(tricky)
    services.registry.refresh(force=True)
    assert services.registry.get("tricky") is not None
    page = (await client.get("/chat/tricky")).text
    assert "<script>alert" not in page
    assert "Carers &amp; &lt;script&gt;alert(1)&lt;/script&gt; &quot;survey&quot;" in page


def test_web_cannot_send_unprompted() -> None:
    assert web.CAN_SEND_UNPROMPTED is False
    assert web.CHANNEL == "web"
