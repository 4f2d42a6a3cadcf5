"""Forged and replayed webhooks through the whole app: 403 or acknowledged and ignored, and then
nothing in Redis changes (a snapshot of every key before and after) and nothing is sent.

What tests/adapters already covers is not repeated here: a Twilio signature made with the wrong
token, for the http URL or the proxy's internal URL, with the query string left out, a tampered
``From``, no or an empty signature header, an immediate Twilio retry, a forged 21610 status
callback, a repeated status callback; a wrong, missing or non-ASCII Telegram secret, a Telegram
re-delivery of the same update and of the same button press; a web chat double click.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr

from adapters import telegram as tg
from bot.models import Status
from tests.adapters.conftest import PUBLIC_URL, TELEGRAM_SECRET, TWILIO_TOKEN
from tests.adapters.sms_twilio.twilio_fakes import STATUS, WEBHOOK
from tests.adapters.telegram.conftest import CHAT, callback, message
from tests.security.harness import (
    SECRET,
    Answer,
    World,
    call,
    make_settings,
    make_world,
    sms_form,
    status_form,
    telegram_headers,
    twilio_headers,
    twilio_signature,
)

CARER = "+447700900461"
NEIGHBOUR = "+447700900462"


async def send_raw(
    w: World,
    path: str,
    pairs: list[tuple[str, str]],
    signature: str | None,
    *,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> Answer:
    return await call(
        w.app,
        "POST",
        path,
        headers=[*twilio_headers(signature), *(extra or [])],
        body=urlencode(pairs).encode(),
    )


# -- Twilio: signatures that do not fit the request ----------------------------------------------

SIGNED = sms_form("TEST", sid="SMsigned", sender=CARER)


def _altered(change: str) -> list[tuple[str, str]]:
    pairs = list(SIGNED)
    if change == "body":
        return [(k, "STOP" if k == "Body" else v) for k, v in pairs]
    if change == "sid":
        return [(k, "SMother" if k == "MessageSid" else v) for k, v in pairs]
    if change == "added":
        return [*pairs, ("OptOutType", "STOP")]
    if change == "removed":
        return [p for p in pairs if p[0] != "NumMedia"]
    if change == "repeated From":
        return [*pairs, ("From", NEIGHBOUR)]  # the app would read the last From
    raise AssertionError(change)


@pytest.mark.parametrize("change", ["body", "sid", "added", "removed", "repeated From"])
async def test_a_body_altered_after_signing_is_refused(world: World, change: str) -> None:
    await world.say_sms(CARER, ["TEST"], sid="SMa", minutes=2)
    before = await world.snapshot()
    signature = twilio_signature(PUBLIC_URL + WEBHOOK, SIGNED)
    answer = await send_raw(world, WEBHOOK, _altered(change), signature)
    assert answer.status == 403
    assert await world.snapshot() == before


async def test_a_genuine_request_re_split_under_the_same_signature_changes_nothing(
    world: World,
) -> None:
    """Twilio signs the URL plus every name and value run together with no separator, so
    ``Body=yes`` and ``Bodyy=es`` sign the same, as do ``From=+44...`` + ``FromCountry=GB`` and
    ``From=+44...FromCountryGB``. A captured genuine request re-split that way keeps its signature;
    it must still change nothing: the same sender and MessageSid are a duplicate, and a ``From``
    with ``FromCountryGB`` stuck on is not a sender at all (400)."""
    await world.say_sms(CARER, ["TEST"], sid="SMh", minutes=2)
    genuine = sms_form("yes", sid="SMgenuine", sender=CARER)
    signature = twilio_signature(PUBLIC_URL + WEBHOOK, genuine)
    assert (await send_raw(world, WEBHOOK, genuine, signature)).twiml() == [
        "What should we call you?"
    ]
    before = await world.snapshot()
    body_shift = [("Bodyy", "es") if k == "Body" else (k, v) for k, v in genuine]
    from_shift = [
        (k, v + "FromCountryGB") if k == "From" else (k, v)
        for k, v in genuine
        if k != "FromCountry"
    ]
    # The body shift: the same sender and MessageSid, a duplicate of their last message, so no
    # step, only the question they are on again.
    assert twilio_signature(PUBLIC_URL + WEBHOOK, body_shift) == signature  # the weakness
    answer = await send_raw(world, WEBHOOK, body_shift, signature)
    assert answer.status == 200
    texts = answer.twiml()
    assert len(texts) == 1
    assert texts[0].startswith("What should")
    # The From shift: "+44...FromCountryGB" is neither a number nor a sender id: refused.
    assert twilio_signature(PUBLIC_URL + WEBHOOK, from_shift) == signature
    assert (await send_raw(world, WEBHOOK, from_shift, signature)).status == 400
    assert await world.snapshot() == before


@pytest.mark.parametrize(
    ("signed_for", "posted_to", "proxy_headers"),
    [
        (PUBLIC_URL + STATUS, WEBHOOK, []),
        (PUBLIC_URL + WEBHOOK, STATUS, []),
        ("https://evil.example" + WEBHOOK, WEBHOOK, []),
        (
            "https://evil.example" + WEBHOOK,
            WEBHOOK,
            [
                (b"host", b"evil.example"),
                (b"x-forwarded-host", b"evil.example"),
                (b"x-forwarded-proto", b"https"),
                (b"forwarded", b"host=evil.example;proto=https"),
            ],
        ),
        (PUBLIC_URL + WEBHOOK + "/", WEBHOOK, []),
        (PUBLIC_URL.upper() + WEBHOOK, WEBHOOK, []),
    ],
    ids=[
        "status URL on inbound",
        "inbound URL on status",
        "another host",
        "another host, with proxy headers claiming it",
        "trailing slash",
        "upper-case host",
    ],
)
async def test_a_signature_for_another_url_is_refused(
    world: World, signed_for: str, posted_to: str, proxy_headers: list[tuple[bytes, bytes]]
) -> None:
    """The app checks against its configured public URL only; the Host and X-Forwarded-* headers
    of a request (which anyone can send) never choose the URL."""
    await world.say_sms(CARER, ["TEST", "yes"], sid="SMb", minutes=2)
    before = await world.snapshot()
    pairs = (
        sms_form("STOP", sid="SMx", sender=CARER)
        if posted_to == WEBHOOK
        else status_form("failed", sid="SMx", to=CARER, code="21610")
    )
    answer = await send_raw(
        world, posted_to, pairs, twilio_signature(signed_for, pairs), extra=proxy_headers
    )
    assert answer.status == 403
    assert await world.snapshot() == before


async def test_a_genuine_opt_out_callback_cannot_be_redirected_to_another_number(
    world: World,
) -> None:
    """A status callback saying 21610 (opted out) opts that number out; the same signed callback
    with ``To`` changed must not opt out anyone else."""
    await world.say_sms(CARER, ["TEST", "yes"], sid="SMc", minutes=2)
    await world.say_sms(NEIGHBOUR, ["TEST", "yes"], sid="SMd", minutes=2)
    genuine = status_form("failed", sid="SM21610", to=CARER, code="21610")
    signature = twilio_signature(PUBLIC_URL + STATUS, genuine)
    before = await world.snapshot()
    redirected = [(k, NEIGHBOUR if k == "To" else v) for k, v in genuine]
    assert (await send_raw(world, STATUS, redirected, signature)).status == 403
    assert await world.snapshot() == before
    assert (await send_raw(world, STATUS, genuine, signature)).status == 204
    store = world.services.store
    assert await store.is_opted_out(store.respondent("sms", CARER))
    assert not await store.is_opted_out(store.respondent("sms", NEIGHBOUR))
    neighbour = await store.response(store.respondent("sms", NEIGHBOUR), "every-type")
    assert neighbour is not None
    assert neighbour.status is Status.ACTIVE


# -- Twilio: replays ----------------------------------------------------------------------------------


async def test_an_old_sms_replayed_after_the_person_moved_on_is_ignored(world: World) -> None:
    """A captured "yes" replayed 47 hours later, after three more answers: acknowledged with an
    empty answer, and not a single key changes (within the dedupe window, 48 hours)."""
    await world.say_sms(CARER, ["TEST"], sid="SMe", minutes=2)
    consent = sms_form("yes", sid="SMconsent", sender=CARER)
    first = await world.post_form(WEBHOOK, consent)
    assert first.twiml() == ["What should we call you?"]
    await world.say_sms(CARER, ["Asha", "1", "sometimes"], sid="SMf", minutes=2)
    world.clock.advance(hours=47)
    before = await world.snapshot()
    again = await world.post_form(WEBHOOK, consent)
    assert again.twiml() == []
    assert await world.snapshot() == before


async def test_a_replay_cannot_change_a_finished_response(world: World) -> None:
    """Even after the dedupe window, an old signed message (Twilio signatures carry no time)
    reaches a finished response: it may be answered, but the answers stay as they were."""
    answers = ["TEST", "yes", "Asha", "3", "No more to say."]  # an organisation: a short route
    await world.say_sms(CARER, answers, sid="SMg", minutes=2)
    store = world.services.store
    rid = store.respondent("sms", CARER)
    done = await store.response(rid, "every-type")
    assert done is not None
    assert done.status is Status.COMPLETE
    await world.say_sms(CARER, answers, sid="SMg", days=3)  # the same messages, replayed
    after = await store.response(rid, "every-type")
    assert after is not None
    assert after.status is Status.COMPLETE
    assert {q: a.value for q, a in after.answers.items()} == {
        q: a.value for q, a in done.answers.items()
    }


# -- Telegram ---------------------------------------------------------------------------------------


async def test_no_configured_secret_refuses_every_update(tmp_path: Path) -> None:
    """Without TELEGRAM_SECRET_TOKEN the webhook cannot tell Telegram from anyone: it refuses all,
    whatever header is sent (an empty one included)."""
    w = await make_world(tmp_path, telegram_secret_token=None)
    try:
        body = json.dumps(message(1, "/start every-type")).encode()
        for secret in (None, b"", b"None", TELEGRAM_SECRET.encode()):
            answer = await call(w.app, "POST", tg.PATH, headers=telegram_headers(secret), body=body)
            assert answer.status == 403
        assert await w.snapshot() == {}
        assert w.telegram.calls == []
    finally:
        await w.close()


@pytest.mark.parametrize(
    "secret",
    [TELEGRAM_SECRET.upper().encode(), TELEGRAM_SECRET.encode() + b"\x00", b"*", b"%s"],
    ids=["other case", "with a NUL", "wildcard", "format string"],
)
async def test_near_miss_secrets_are_refused(world: World, secret: bytes) -> None:
    await world.telegram_update(message(1, "/start every-type"))
    before = await world.snapshot()
    calls = len(world.telegram.calls)
    body = json.dumps(message(2, "yes")).encode()
    answer = await call(world.app, "POST", tg.PATH, headers=telegram_headers(secret), body=body)
    assert answer.status == 403
    assert await world.snapshot() == before
    assert len(world.telegram.calls) == calls


async def test_an_old_update_replayed_after_the_person_moved_on_is_ignored(world: World) -> None:
    for n, text in enumerate(["/start every-type", "yes", "Asha"], start=1):
        world.clock.advance(minutes=1)
        assert (await world.telegram_update(message(n, text))).status == 200
    pressed = callback(4, "a:role:carer")
    assert (await world.telegram_update(pressed)).status == 200
    assert (await world.telegram_update(message(5, "2"))).status == 200
    world.clock.advance(hours=47)
    before = await world.snapshot()
    calls = len(world.telegram.calls)
    for old in (message(2, "yes"), message(3, "Someone else"), pressed, message(5, "1")):
        assert (await world.telegram_update(old)).status == 200
    assert await world.snapshot() == before
    # At most the spinner of a replayed button press is stopped; nothing is said.
    assert {c.method for c in world.telegram.calls[calls:]} <= {"answerCallbackQuery"}
    session = (
        await world.services.store.load(world.services.store.respondent("telegram", str(CHAT)))
    ).session
    assert session is not None
    assert session.answers["name"] == "Asha"


# -- web chat ---------------------------------------------------------------------------------------


async def test_a_web_chat_message_replayed_later_is_ignored(world: World) -> None:
    async def post(body: dict[str, Any]) -> Answer:
        return await world.web("every-type", body, cookie="r" * 32)

    assert (await post({"start": True})).status == 200
    consent = {"button": {"question": "consent", "value": "yes"}, "id": "click-0001"}
    assert (await post(consent)).status == 200
    assert (await post({"text": "Asha", "id": "typed-0002"})).status == 200
    world.clock.advance(hours=47)
    before = await world.snapshot()
    for old in (consent, {"text": "Someone else", "id": "typed-0002"}):
        again = await post(old)
        assert again.status == 200
        assert json.loads(again.body).get("duplicate") is True
    assert await world.snapshot() == before


def test_secrets_never_show_in_the_settings(tmp_path: Path) -> None:
    """The Telegram secret, the Twilio token and the respondent-id key never show in a repr or a
    dump of the settings (which an error report or a debug log might print)."""
    s = make_settings(tmp_path)
    shown = repr(s) + str(s.model_dump()) + str(s)
    for secret in (TELEGRAM_SECRET, TWILIO_TOKEN, SECRET):
        assert secret not in shown
    assert isinstance(s.telegram_secret_token, SecretStr)
