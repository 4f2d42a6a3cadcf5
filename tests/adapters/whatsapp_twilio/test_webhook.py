"""POST /whatsapp/twilio: tables of real WhatsApp webhook forms, signed with the twilio library.

Each row is one form as Twilio posts it (text, quick-reply button, list item, template button,
picture with and without caption, voice note, location, sticker, contact, reaction) sent to a
carer part way through the carers survey; the row says what the engine must receive and what
the carer gets back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest

from adapters.services import Services
from bot.dispatch import Outcome
from bot.models import Inbound, Status
from tests.adapters.conftest import PUBLIC_URL, Clock
from tests.adapters.sms_twilio.twilio_fakes import (
    FORM,
    fake_server,
    post_signed,
    sign,
    snapshot,
    twiml_messages,
)
from tests.adapters.whatsapp_twilio.wa_fakes import (
    CARER,
    MESSAGES,
    WEBHOOK,
    WhatsAppHttp,
    twilio_error,
    wa_client,
    wa_form,
)

MEDIA = "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM1/Media/ME1"


@dataclass(frozen=True)
class Row:
    id: str
    form: dict[str, str]
    kind: str = "text"
    text: str = ""
    question: str | None = None
    # what the carer is on afterwards, and what they are told
    current: str = "role"
    says: str = ""


def media(kind: str, ctype: str, body: str = "") -> dict[str, str]:
    return {
        "MessageType": kind,
        "NumMedia": "1",
        "MediaContentType0": ctype,
        "MediaUrl0": MEDIA,
        "Body": body,
    }


ROWS = [
    Row("typed number", {"Body": "1"}, text="1", current="cared_for"),
    Row("typed words", {"Body": "I am a carer"}, text="I am a carer", current="cared_for"),
    Row(
        "quick-reply button",
        {
            "MessageType": "button",
            "ButtonPayload": "a:role:carer",
            "ButtonText": "I am a carer",
            "Body": "I am a carer",
        },
        kind="button",
        text="carer",
        question="role",
        current="cared_for",
    ),
    Row(
        "list item",
        {
            "MessageType": "interactive",
            "ListId": "a:role:staff",
            "ListTitle": "I work for the council…",
            "Body": "I work for the council…",
        },
        kind="button",
        text="staff",
        question="role",
        current="p1_recognise",
    ),
    Row(
        "template button (a reminder's Carry on)",
        {
            "MessageType": "button",
            "ButtonPayload": "carry-on",
            "ButtonText": "Carry on",
            "Body": "Carry on",
        },
        kind="start",
        text="Carry on",
        says="Which best describes you?",
    ),
    Row(
        "key button (a reply without a question)",
        {"MessageType": "button", "ButtonPayload": "k:1", "ButtonText": "English"},
        text="1",
        current="cared_for",
    ),
    Row("picture", media("image", "image/jpeg"), kind="unsupported", says="only read text"),
    Row("picture with a caption", media("image", "image/jpeg", "1"), text="1", current="cared_for"),
    Row("voice note", media("audio", "audio/ogg"), kind="unsupported", says="only read text"),
    Row("sticker", media("sticker", "image/webp"), kind="unsupported", says="only read text"),
    Row("document", media("document", "application/pdf"), kind="unsupported", says="only read"),
    Row(
        "location",
        {
            "MessageType": "location",
            "Latitude": "52.6369",
            "Longitude": "-1.1398",
            "Address": "Leicester",
            "Label": "Home",
        },
        kind="unsupported",
        says="only read text",
    ),
    Row("contact card", {"MessageType": "contacts", "NumMedia": "1"}, kind="unsupported"),
    Row("reaction", {"MessageType": "reaction", "Body": "👍"}, kind="unsupported"),
]


async def consented(services: Services, clock: Clock) -> None:
    """The carer started with the keyword and said yes: they are on the role question."""
    for n, text in enumerate(("CARERS", "yes")):
        await services.dispatcher.handle(
            Inbound(channel="whatsapp", address=CARER, text=text, message_id=f"SMstart{n}")
        )
        clock.advance(minutes=1)


def spy(services: Services) -> list[Inbound]:
    seen: list[Inbound] = []
    real = services.dispatcher.handle

    async def handle(inbound: Inbound, **options: Any) -> Outcome:
        seen.append(inbound)
        return await real(inbound, **options)

    services.dispatcher.handle = handle  # type: ignore[method-assign]
    return seen


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
async def test_real_forms(services: Services, clock: Clock, row: Row) -> None:
    await consented(services, clock)
    seen = spy(services)
    form = wa_form(sid="SM" + "7" * 32, **row.form)
    async with wa_client(services, None) as client:  # no sender: every reply is TwiML
        r = await post_signed(client, WEBHOOK, form)
    assert r.status_code == 200
    (inbound,) = seen
    assert (inbound.channel, inbound.address, inbound.message_id) == (
        "whatsapp",
        CARER,
        form["MessageSid"],
    )
    assert (inbound.kind, inbound.text, inbound.question) == (row.kind, row.text, row.question)
    said = " ".join(twiml_messages(r))
    assert row.says in said
    session = (await services.store.load(services.store.respondent("whatsapp", CARER))).session
    assert session is not None
    assert session.current == row.current


@dataclass(frozen=True)
class Bad:
    id: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 400


def signed_raw(form: dict[str, str]) -> dict[str, str]:
    return {"Content-Type": FORM, "X-Twilio-Signature": sign(PUBLIC_URL + WEBHOOK, form)}


GOOD = wa_form("hello", sid="SM" + "1" * 32)
NO_FROM = {k: v for k, v in GOOD.items() if k != "From"}
SMS_FROM = wa_form("hello", sid="SM" + "1" * 32, sender="+447700900123")
BAD = [
    Bad("no signature", urlencode(GOOD).encode(), {"Content-Type": FORM}, 403),
    Bad(
        "signature for another body",
        urlencode(GOOD | {"Body": "STOP"}).encode(),
        signed_raw(GOOD),
        403,
    ),
    Bad("no From", urlencode(NO_FROM).encode(), signed_raw(NO_FROM)),
    Bad(
        "an SMS number, not a WhatsApp address", urlencode(SMS_FROM).encode(), signed_raw(SMS_FROM)
    ),
    Bad(
        "not a form",
        b'{"Body": "hi"}',
        {"Content-Type": "application/json", "X-Twilio-Signature": "x"},
    ),
    Bad(
        "broken escape",
        b"Body=%E2%28&From=whatsapp%3A%2B44",
        {"Content-Type": FORM, "X-Twilio-Signature": "x"},
    ),
]


@pytest.mark.parametrize("bad", BAD, ids=[b.id for b in BAD])
async def test_refused_requests_store_nothing(services: Services, bad: Bad) -> None:
    before = await snapshot(services.redis)
    async with wa_client(services, None) as client:
        r = await client.post(WEBHOOK, content=bad.body, headers=bad.headers)
    assert r.status_code == bad.status
    assert await snapshot(services.redis) == before


async def test_redis_down_is_503_with_retry_after_and_the_retry_steps_once(
    services: Services, clock: Clock
) -> None:
    await consented(services, clock)
    form = wa_form("1", sid="SM" + "8" * 32)
    async with wa_client(services, None) as client:
        fake_server(services.redis).connected = False
        r = await post_signed(client, WEBHOOK, form)
        assert r.status_code == 503
        assert r.headers["Retry-After"]
        fake_server(services.redis).connected = True
        again = await post_signed(client, WEBHOOK, form)
        retried = await post_signed(client, WEBHOOK, form)  # Twilio retrying once more
    assert again.status_code == retried.status_code == 200
    rid = services.store.respondent("whatsapp", CARER)
    response = await services.store.response(rid, "carers-strategy")
    assert response is not None
    assert response.answers["role"].value == "carer"
    session = (await services.store.load(rid)).session
    assert session is not None
    assert session.current == "cared_for"


async def test_buttons_go_through_the_api_and_twiml_stays_empty(
    services: Services, clock: Clock, http: WhatsAppHttp
) -> None:
    await consented(services, clock)
    async with wa_client(services, http) as client:
        r = await post_signed(client, WEBHOOK, wa_form("1", sid="SM" + "2" * 32))
    assert twiml_messages(r) == []
    (content,) = http.contents()
    assert content["language"] == "en"
    picker = content["types"]["twilio/list-picker"]  # type: ignore[index]
    assert picker["body"] == "{{1}}"
    assert picker["button"] == "Choose"
    assert [i["id"] for i in picker["items"]][:2] == ["a:cared_for:parent", "a:cared_for:partner"]
    (sent,) = http.messages()
    assert sent["To"] == CARER
    assert sent["From"] == "whatsapp:+447700900000"
    assert sent["ContentSid"] == "HX" + "0" * 31 + "1"
    assert "Body" not in sent
    body = json.loads(str(sent["ContentVariables"]))["1"]
    assert body == "*Who do you mainly care for?*"


async def test_api_refusal_falls_back_to_numbered_text_in_twiml(
    services: Services, clock: Clock
) -> None:
    await consented(services, clock)
    http = WhatsAppHttp([twilio_error(20500, 500)])  # the Content API fails
    async with wa_client(services, http) as client:
        r = await post_signed(client, WEBHOOK, wa_form("1", sid="SM" + "3" * 32))
    # Buttons unavailable: the same message goes through the API as numbered text.
    assert twiml_messages(r) == []
    (sent,) = http.messages()
    assert "Reply" in str(sent["Body"]) or "1 " in str(sent["Body"])

    http2 = WhatsAppHttp()
    services.extras.clear()
    async with wa_client(services, http2) as client:
        http2.replies = [twilio_error(20503, 503)]  # the Content API answers, the send fails
        http2.replies.insert(0, (201, {"sid": "HX" + "f" * 32}))
        r = await post_signed(client, WEBHOOK, wa_form("2", sid="SM" + "4" * 32))
    (said,) = twiml_messages(r)
    assert "Reply" in said or "\n1 " in said


async def test_a_blocked_person_is_opted_out_when_a_reply_is_refused(
    services: Services, clock: Clock
) -> None:
    await consented(services, clock)
    http = WhatsAppHttp()
    async with wa_client(services, http) as client:
        http.replies = [(201, {"sid": "HX" + "e" * 32}), twilio_error(63014)]
        r = await post_signed(client, WEBHOOK, wa_form("1", sid="SM" + "5" * 32))
    assert twiml_messages(r) == []
    session = (await services.store.load(services.store.respondent("whatsapp", CARER))).session
    assert session is not None
    assert session.status is Status.OPTED_OUT
    assert [m["To"] for m in http.messages()] == [CARER]


async def test_stop_is_honoured_and_the_respondent_id_is_per_channel(
    services: Services, clock: Clock
) -> None:
    await consented(services, clock)
    async with wa_client(services, None) as client:
        r = await post_signed(client, WEBHOOK, wa_form("STOP", sid="SM" + "6" * 32))
    assert "no more messages" in " ".join(twiml_messages(r))
    store = services.store
    wa, sms = store.respondent("whatsapp", CARER), store.respondent("sms", "+447700900123")
    assert wa != sms
    assert store.respondent("whatsapp", "+447700900123") == wa
    session = (await store.load(wa)).session
    assert session is not None
    assert session.status is Status.OPTED_OUT
    assert (await store.load(sms)).session is None
    assert MESSAGES  # (the module's REST address, used by other tests)
