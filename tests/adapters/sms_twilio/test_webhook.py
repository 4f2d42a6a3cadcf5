"""POST /sms/twilio: one table of real Twilio webhook payloads with the expected result.

Each row may first send some messages (signed, through the endpoint), then sends its own
request and checks the HTTP status, the TwiML (parsed as XML) and what the store holds
afterwards (``services.store.response(respondent("sms", From), flow)``). Rows that must store
nothing compare a snapshot of every Redis key before and after the request.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from adapters.services import Services
from bot.models import Status
from tests.adapters.conftest import PUBLIC_URL
from tests.adapters.sms_twilio.twilio_fakes import (
    FORM,
    WEBHOOK,
    client_for,
    fake_server,
    inbound_form,
    post_signed,
    sign,
    snapshot,
    twiml_messages,
)

CARER = "+447700900123"
STRANGER = "+447700900999"
LONG = ("I look after my mum and my brother. " * 140)[:5000]
EMOJI_NAME = "Asha 😀🙏🏽"

Signing = Literal["ok", "none", "forged", "http", "internal", "empty"]


@dataclass(frozen=True)
class Row:
    id: str
    body: str = ""
    before: tuple[str, ...] = ()
    sender: str = CARER
    signing: Signing = "ok"
    media: int = 0
    drop: tuple[str, ...] = ()
    raw: bytes | None = None
    content_type: str = FORM
    redis_down: bool = False
    same_sid_as_before: bool = False  # the MessageSid of the last message in `before`
    sid_of_before: int | None = None  # or of this one
    # expectations
    status: int = 200
    says: tuple[str, ...] = ()
    not_says: tuple[str, ...] = ()
    n_messages: int | None = None
    unchanged: bool = False  # no Redis key may change
    counted: bool = False  # only the sender's rate-limit counter may change
    flow: str = "every-type"
    stored_status: Status | None = None  # None: no response stored in `flow`
    source: str | None = None
    answers: tuple[tuple[str, Any], ...] = ()
    unanswered: tuple[str, ...] = ()


ROWS = [
    Row(
        "keyword start",
        body="CARERS",
        flow="carers-strategy",
        says=(
            "Hello from Leicester, Leicestershire and Rutland",
            "Can we use your answers",
            "Reply YES or NO",
        ),
        n_messages=1,
        stored_status=Status.ACTIVE,
    ),
    Row(
        "keyword with source group",
        body="CARERS HARBOROUGH",
        flow="carers-strategy",
        says=("Hello from Leicester",),
        stored_status=Status.ACTIVE,
        source="harborough-carers",
    ),
    Row(
        "an answer",
        before=("TEST",),
        body="yes",
        says=("What should we call you?",),
        n_messages=1,
        stored_status=Status.ACTIVE,
        answers=(("consent", True),),
    ),
    Row(
        # Twilio retries when our reply did not reach it: no second step, but the question
        # they are on now goes out again (else they answer the next one blind).
        "duplicate MessageSid of their last message (Twilio retry)",
        before=("TEST", "yes"),
        body="yes",
        same_sid_as_before=True,
        says=("What should we call you?",),
        n_messages=1,
        unchanged=True,
        stored_status=Status.ACTIVE,
        answers=(("consent", True),),
        unanswered=("name",),
    ),
    Row(
        "duplicate MessageSid of an earlier message",
        before=("TEST", "yes", "Sam"),
        body="yes",
        sid_of_before=1,
        n_messages=0,
        unchanged=True,
        stored_status=Status.ACTIVE,
        answers=(("consent", True), ("name", "Sam")),
    ),
    Row(
        "forged signature",
        body="TEST",
        signing="forged",
        status=403,
        unchanged=True,
    ),
    Row("missing signature", body="TEST", signing="none", status=403, unchanged=True),
    Row("empty signature", body="TEST", signing="empty", status=403, unchanged=True),
    Row(
        "http URL signed where Twilio calls https",
        body="TEST",
        signing="http",
        status=403,
        unchanged=True,
    ),
    Row(
        "request.url behind the proxy signed",
        body="TEST",
        signing="internal",
        status=403,
        unchanged=True,
    ),
    Row(
        "unknown number without keyword gets the menu",
        sender=STRANGER,
        body="hello",
        says=("Which survey?", "CARERS - Carers Strategy survey", "TEST - Test survey"),
        not_says=("COMMUNITIES",),
        counted=True,
    ),
    Row(
        "STOP mid-survey",
        before=("TEST", "yes"),
        body="STOP",
        says=("You will get no more messages",),
        stored_status=Status.OPTED_OUT,
        unanswered=("name",),
    ),
    Row(
        "after STOP, silence",
        before=("TEST", "STOP"),
        body="hello?",
        n_messages=0,
        stored_status=Status.OPTED_OUT,
    ),
    Row(
        "picture without text",
        before=("TEST",),
        body="",
        media=1,
        says=("I can only read text", "Do you agree to take part?"),
        stored_status=Status.ACTIVE,
        unanswered=("consent",),
    ),
    Row(
        "picture with a caption is its text",
        before=("TEST",),
        body="yes",
        media=2,
        says=("What should we call you?",),
        stored_status=Status.ACTIVE,
        answers=(("consent", True),),
    ),
    Row(
        "5,000-character message",
        before=("TEST", "yes"),
        body=LONG,
        says=("That is too long",),
        n_messages=1,
        stored_status=Status.ACTIVE,
        unanswered=("name",),
    ),
    Row(
        "emoji",
        before=("TEST", "yes"),
        body=EMOJI_NAME,
        says=(f"Hi {EMOJI_NAME}. Who are you?", "1 I am a carer"),
        stored_status=Status.ACTIVE,
        answers=(("name", EMOJI_NAME),),
    ),
    Row("missing From", body="TEST", drop=("From",), status=400, unchanged=True),
    Row(
        "missing MessageSid",
        body="TEST",
        drop=("MessageSid", "SmsSid", "SmsMessageSid"),
        status=400,
        unchanged=True,
    ),
    Row(
        "JSON instead of a form",
        raw=b'{"From": "+447700900123", "Body": "TEST"}',
        content_type="application/json",
        status=400,
        unchanged=True,
    ),
    Row(
        "not UTF-8",
        raw=b"From=%2B447700900123&Body=%FF%FE&MessageSid=SMx",
        status=400,
        unchanged=True,
    ),
    Row(
        "malformed form",
        raw=b"From=%2B447700900123&&Body",
        status=400,
        unchanged=True,
    ),
    Row(
        "Redis down",
        before=("TEST",),
        body="yes",
        redis_down=True,
        status=503,
        unchanged=True,
        stored_status=Status.ACTIVE,
        unanswered=("consent",),
    ),
]


def _sid(row: Row, n: int) -> str:
    return "SM" + hashlib.sha1(f"{row.id}:{n}".encode()).hexdigest()[:32]


async def _request(client: httpx.AsyncClient, row: Row, sid: str) -> httpx.Response:
    if row.raw is not None:
        return await client.post(
            WEBHOOK,
            content=row.raw,
            headers={"Content-Type": row.content_type, "X-Twilio-Signature": "c2lnbmF0dXJl"},
        )
    form = inbound_form(row.body, sid=sid, sender=row.sender, media=row.media)
    for name in row.drop:
        form.pop(name)
    url = {
        "http": PUBLIC_URL.replace("https://", "http://") + WEBHOOK,
        "internal": "http://testserver" + WEBHOOK,  # what request.url says behind the proxy
    }.get(row.signing, PUBLIC_URL + WEBHOOK)
    headers = {"Content-Type": row.content_type}
    if row.signing == "forged":
        headers["X-Twilio-Signature"] = sign(url, form, token="not-the-auth-token")
    elif row.signing == "empty":
        headers["X-Twilio-Signature"] = ""
    elif row.signing != "none":
        headers["X-Twilio-Signature"] = sign(url, form)
    return await client.post(WEBHOOK, content=urlencode(form), headers=headers)


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
async def test_inbound_webhook(services: Services, row: Row) -> None:
    async with client_for(services) as client:
        for n, text in enumerate(row.before):
            form = inbound_form(text, sid=_sid(row, n), sender=row.sender)
            r = await post_signed(client, WEBHOOK, form)
            assert r.status_code == 200, r.text
        before = await snapshot(services.redis)
        if row.sid_of_before is not None:
            sid = _sid(row, row.sid_of_before)
        else:
            sid = _sid(row, len(row.before) - 1 if row.same_sid_as_before else len(row.before))
        server = fake_server(services.redis)
        server.connected = not row.redis_down
        try:
            response = await _request(client, row, sid)
        finally:
            server.connected = True

    assert response.status_code == row.status, response.text
    if row.status == 503:
        assert response.headers["retry-after"]
    if row.status == 200:
        texts = twiml_messages(response)
        joined = "\n".join(texts)
        for part in row.says:
            assert part in joined
        for part in row.not_says:
            assert part not in joined
        if row.n_messages is not None:
            assert len(texts) == row.n_messages, texts
    if row.unchanged:
        assert await snapshot(services.redis) == before
    if row.counted:
        rate_key = services.store.keys.rate(services.store.respondent("sms", row.sender))
        after = await snapshot(services.redis)
        assert {k: v for k, v in after.items() if k != rate_key} == before
        assert after[rate_key] == ("string", b"1")

    rid = services.store.respondent("sms", row.sender)
    stored = await services.store.response(rid, row.flow)
    if row.stored_status is None:
        assert stored is None
        return
    assert stored is not None
    assert stored.status is row.stored_status
    assert stored.channel == "sms"
    if row.source is not None:
        assert stored.source == row.source
    for qid, value in row.answers:
        assert stored.answers[qid].value == value
    for qid in row.unanswered:
        assert qid not in stored.answers


async def test_redis_failing_at_the_commit_writes_nothing_and_the_retry_runs_once(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection drops on the commit itself (the load worked): 503, nothing written; Twilio
    retries the very same request and the step then happens exactly once."""
    async with client_for(services) as client:
        assert (
            await post_signed(client, WEBHOOK, inbound_form("TEST", sid="SMa", sender=CARER))
        ).status_code == 200
        before = await snapshot(services.redis)

        real = services.redis.execute_command
        failures: list[str] = []

        async def flaky(*args: Any, **kw: Any) -> Any:
            if args[0] in ("EVALSHA", "EVAL") and not failures:
                failures.append(args[0])
                raise RedisConnectionError("connection reset by peer")
            return await real(*args, **kw)

        monkeypatch.setattr(services.redis, "execute_command", flaky)
        retry = inbound_form("yes", sid="SMb", sender=CARER)
        first = await post_signed(client, WEBHOOK, retry)
        assert first.status_code == 503
        assert failures
        assert await snapshot(services.redis) == before

        second = await post_signed(client, WEBHOOK, retry)
        assert second.status_code == 200
        assert twiml_messages(second) == ["What should we call you?"]
        third = await post_signed(client, WEBHOOK, retry)  # again: no step, the question again
        assert twiml_messages(third) == ["What should we call you?"]

    stored = await services.store.response(services.store.respondent("sms", CARER), "every-type")
    assert stored is not None
    assert stored.answers["consent"].value is True
    assert "name" not in stored.answers


async def test_signature_covers_the_query_string(services: Services) -> None:
    """Twilio signs the URL as configured in its console, query string included."""
    form = inbound_form("TEST", sid="SMq", sender=CARER)
    async with client_for(services) as client:
        path = WEBHOOK + "?campaign=leics%20carers"
        good = await client.post(
            path,
            content=urlencode(form),
            headers={"Content-Type": FORM, "X-Twilio-Signature": sign(PUBLIC_URL + path, form)},
        )
        assert good.status_code == 200
        without_query = await client.post(
            path,
            content=urlencode(form),
            headers={"Content-Type": FORM, "X-Twilio-Signature": sign(PUBLIC_URL + WEBHOOK, form)},
        )
        assert without_query.status_code == 403


async def test_a_tampered_body_fails_the_signature(services: Services) -> None:
    form = inbound_form("TEST", sid="SMt", sender=CARER)
    signature = sign(PUBLIC_URL + WEBHOOK, form)
    tampered = {**form, "From": STRANGER}
    async with client_for(services) as client:
        r = await client.post(
            WEBHOOK,
            content=urlencode(tampered),
            headers={"Content-Type": FORM, "X-Twilio-Signature": signature},
        )
    assert r.status_code == 403
    assert await snapshot(services.redis) == {}


async def test_no_auth_token_refuses_everything(services: Services) -> None:
    services.settings.twilio_auth_token = None
    form = inbound_form("TEST", sid="SMn", sender=CARER)
    async with client_for(services) as client:
        r = await post_signed(client, WEBHOOK, form)
    assert r.status_code == 403
