"""Signing in to the console: sessions, cookies, the throttle, fixation, CSRF and roles."""

from __future__ import annotations

import re

from adapters.officers import routes
from adapters.officers.auth import SECURE_COOKIE
from tests.adapters.conftest import Clock
from tests.adapters.officers.conftest import PASSWORD, Site, csrf_of, page_csrf, sign_in


async def test_sign_in_sets_a_strict_httponly_secure_cookie_and_opens_the_console(
    site: Site,
) -> None:
    await site.officer("jane", "viewer")
    async with site.client() as client:
        r = await sign_in(client, "Jane", PASSWORD)  # names are not case-sensitive
        assert r.status_code == 303
        assert r.headers["location"] == "/console"
        cookie = next(
            c for c in r.headers.get_list("set-cookie") if c.startswith(SECURE_COOKIE + "=")
        )
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "secure", "samesite=strict", "path=/"} <= flags
        assert "domain" not in cookie.lower()
        home = await client.get("/console")
        assert home.status_code == 200
        assert "Signed in as" in home.text
        assert "jane" in home.text


async def test_plain_http_trial_cookie_is_not_secure_but_still_strict(site: Site) -> None:
    settings = site.services.settings.model_copy(update={"public_url": "http://127.0.0.1:8000"})
    from tests.adapters.officers.conftest import make_site

    plain = make_site(settings, Clock(site.services.clock()), site.server)
    await plain.officer("sam", "viewer")
    async with plain.client() as client:
        client.base_url = "http://127.0.0.1:8000"
        r = await sign_in(client, "sam", PASSWORD)
        cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("sb_console="))
        assert "secure" not in cookie.lower()
        assert "samesite=strict" in cookie.lower()
        assert "path=/console" in cookie.lower()
        assert "httponly" in cookie.lower()


async def test_wrong_password_then_lockout_per_account(site: Site) -> None:
    await site.officer("jane", "admin")
    async with site.client("198.51.100.1") as client:
        for _ in range(5):
            r = await sign_in(client, "jane", "not the password at all")
            assert r.status_code == 401
            assert "wrong" in r.text
        # Locked now: even the right password is refused, and says for how long.
        r = await sign_in(client, "jane", PASSWORD)
        assert r.status_code == 429
        assert "Too many failed sign-ins for this account" in r.text
    # From another address too (the account is what is locked).
    async with site.client("198.51.100.2") as other:
        r = await sign_in(other, "jane", PASSWORD)
        assert r.status_code == 429
    # An admin (here: the CLI's call) unlocks it.
    await site.console.officers.unlock("jane")
    async with site.client("198.51.100.3") as client:
        assert (await sign_in(client, "jane", PASSWORD)).status_code == 303


async def test_guessing_many_accounts_from_one_address_is_locked_out(site: Site) -> None:
    await site.officer("jane", "admin")
    async with site.client("192.0.2.9") as client:
        for n in range(20):
            r = await sign_in(client, f"guess{n}", "password123456")
            assert r.status_code == 401
        r = await sign_in(client, "jane", PASSWORD)  # the right one, from the guesser's address
        assert r.status_code == 429
        assert "from this address" in r.text
    async with site.client("192.0.2.10") as elsewhere:
        assert (await sign_in(elsewhere, "jane", PASSWORD)).status_code == 303


async def test_session_fixation_a_planted_cookie_is_never_the_session(site: Site) -> None:
    await site.officer("jane", "editor")
    async with site.client() as client:
        planted = "attacker-chosen-token-value-1234567890"
        client.cookies.set(SECURE_COOKIE, planted, domain="surveys.example.gov.uk", path="/")
        assert (await client.get("/console")).status_code == 401
        r = await sign_in(client, "jane", PASSWORD)
        issued = r.cookies.get(SECURE_COOKIE)
        assert issued
        assert issued != planted
    # The planted value does not open the console after the victim signed in.
    async with site.client() as attacker:
        attacker.cookies.set(SECURE_COOKIE, planted, domain="surveys.example.gov.uk", path="/")
        assert (await attacker.get("/console")).status_code == 401
        # Signing in while holding a session gives a new one and ends the old.
        form = await attacker.get("/console/login")
        attacker.cookies.set(SECURE_COOKIE, issued, domain="surveys.example.gov.uk", path="/")
        assert (await attacker.get("/console")).status_code == 200
        again = await attacker.post(
            "/console/login",
            data={"csrf": csrf_of(form.text), "name": "jane", "password": PASSWORD},
        )
        assert again.status_code == 303
        assert again.cookies.get(SECURE_COOKIE) not in (None, issued)
    async with site.client() as old:
        old.cookies.set(SECURE_COOKIE, issued, domain="surveys.example.gov.uk", path="/")
        assert (await old.get("/console")).status_code == 401  # ended by the new sign-in


async def test_the_stored_session_is_a_hash_of_the_token(site: Site) -> None:
    client = await site.signed_in("jane", "viewer")
    token = client.cookies.get(SECURE_COOKIE)
    assert token
    keys = [k.decode() async for k in site.services.redis.scan_iter("*")]
    assert not any(token in k for k in keys)
    values = [await site.services.redis.get(k) for k in keys if ":s:" in k]
    assert values
    assert not any(token.encode() in (v or b"") for v in values)
    await client.aclose()


async def test_every_console_route_is_refused_without_a_session(site: Site) -> None:
    params = {
        "flow_id": "carers-strategy",
        "draft": "abcdefgh12",
        "version": "abcdef123456",
        "action": "add",
        "name": "console.css",
    }
    checked = 0
    async with site.client() as client:
        for route in routes(site.services):
            path = getattr(route, "path", "")
            if path.endswith(("/login", "/static/{name}")):
                continue
            url = re.sub(r"\{(\w+)\}", lambda m: params[m.group(1)], path)
            for method in sorted(getattr(route, "methods", set()) - {"HEAD"}):
                r = await client.request(method, url, headers={"accept": "text/html"})
                if method == "GET":
                    assert r.status_code == 303, (method, url, r.status_code)
                    assert r.headers["location"].startswith("/console/login?next=")
                else:
                    assert r.status_code == 401, (method, url, r.status_code)
                r = await client.request(method, url, headers={"accept": "application/json"})
                assert r.status_code == 401, (method, url, r.status_code)
                checked += 1
    assert checked >= 20


async def test_a_request_without_the_csrf_token_is_refused(site: Site) -> None:
    client = await site.signed_in("jane", "admin")
    before = await site.console.officers.all()
    r = await client.post(
        "/console/officers/add",
        data={"name": "mallory", "role": "admin", "password": PASSWORD + "x"},
    )
    assert r.status_code == 403
    assert "security token" in r.text
    r = await client.post(
        "/console/officers/add",
        data={"name": "mallory", "role": "admin", "password": PASSWORD + "x", "csrf": "wrong"},
    )
    assert r.status_code == 403
    # The browser says the request came from another site: refused whatever it carries.
    token = await page_csrf(client, "/console/officers")
    r = await client.post(
        "/console/officers/add",
        data={"name": "mallory", "role": "admin", "password": PASSWORD + "x", "csrf": token},
        headers={"sec-fetch-site": "cross-site"},
    )
    assert r.status_code == 403
    r = await client.post("/console/flows/carers-strategy/check", json={"text": "id: x"})
    assert r.status_code == 403
    assert await site.console.officers.all() == before
    # With the token it works.
    r = await client.post(
        "/console/officers/add",
        data={"name": "mallory", "role": "viewer", "password": PASSWORD + "x", "csrf": token},
    )
    assert r.status_code == 303
    await client.aclose()


async def test_the_sign_in_form_needs_its_own_token(site: Site) -> None:
    await site.officer("jane", "viewer")
    async with site.client() as client:
        r = await client.post("/console/login", data={"name": "jane", "password": PASSWORD})
        assert r.status_code == 403
        assert site.services.settings.secret_bytes.decode() not in r.text
        page = await client.get("/console/login")
        token = csrf_of(page.text)
        client.cookies.clear()  # the token belongs to the form's cookie
        r = await client.post(
            "/console/login", data={"name": "jane", "password": PASSWORD, "csrf": token}
        )
        assert r.status_code == 403


async def test_roles_viewer_editor_admin(site: Site) -> None:
    viewer = await site.signed_in("vera", "viewer")
    editor = await site.signed_in("ed", "editor")
    admin = await site.signed_in("ada", "admin")
    flow = "/console/flows/carers-strategy"
    for client in (viewer, editor, admin):
        assert (await client.get(flow)).status_code == 200
        assert (await client.get(flow + "/edit")).status_code == 200
    assert "readonly" in (await viewer.get(flow + "/edit")).text
    token = await page_csrf(viewer, flow)
    r = await viewer.post(
        flow + "/edit", data={"csrf": token, "text": "id: x", "action": "publish"}
    )
    assert r.status_code == 403
    r = await viewer.post(flow + "/rollback", data={"csrf": token, "version": "abcdef123456"})
    assert r.status_code == 403
    assert (await viewer.get("/console/officers")).status_code == 403
    assert (await editor.get("/console/officers")).status_code == 403
    assert (await admin.get("/console/officers")).status_code == 200
    for c in (viewer, editor, admin):
        await c.aclose()


async def test_removing_an_officer_ends_their_sessions_and_sign_out_works(site: Site) -> None:
    client = await site.signed_in("jane", "editor")
    assert (await client.get("/console")).status_code == 200
    await site.console.officers.remove("jane")
    assert (await client.get("/console", headers={"accept": "application/json"})).status_code == 401
    other = await site.signed_in("sam", "viewer")
    token = await page_csrf(other)
    r = await other.post("/console/logout", data={"csrf": token})
    assert r.status_code == 303
    assert (await other.get("/console", headers={"accept": "application/json"})).status_code == 401
    await client.aclose()
    await other.aclose()


async def test_sessions_end_after_the_idle_time_and_the_lifetime(site: Site, clock: Clock) -> None:
    client = await site.signed_in("jane", "viewer")
    # The lifetime: 12 hours after signing in, whatever happens.
    clock.advance(hours=12, seconds=1)
    assert (await client.get("/console", headers={"accept": "application/json"})).status_code == 401
    await client.aclose()
    key = next(iter([k async for k in site.services.redis.scan_iter("*:{console}:s:*")]), None)
    assert key is None  # deleted, not merely refused
