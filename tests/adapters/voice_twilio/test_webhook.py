"""The voice webhooks against real Twilio voice forms: signatures, bad requests, Redis down,
every kind of Gather result, the status callback, and the TwiML as ``VoiceResponse`` builds it."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import fakeredis
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from twilio.twiml.voice_response import VoiceResponse

from adapters.app import create_app
from adapters.services import Services, build_services
from adapters.voice_twilio.call import Answer, sureness, withheld
from adapters.voice_twilio.speech import Expect, Said, Turn, is_answer_key, keyed
from adapters.voice_twilio.twiml import twiml
from bot.errors import StoreError
from tests.adapters.conftest import PUBLIC_URL, Clock, adapter_settings
from tests.adapters.sms_twilio.twilio_fakes import FORM, sign, snapshot
from tests.adapters.voice_twilio.voice_fakes import (
    CALL_PATH,
    CARER,
    STATUS_PATH,
    Caller,
    call_form,
    client_for,
    digits_form,
    empty_form,
    post_signed,
    read,
    speech_form,
    status_form,
)

URL = PUBLIC_URL + CALL_PATH + "?flow=carers-strategy"
SID = "CA" + "a" * 32

# One row per kind of request Twilio makes during a call: (name, form, action state, expected).
PAYLOADS: list[tuple[str, dict[str, str], dict[str, str], str]] = [
    ("call start", call_form(SID), {}, "For English, press 1."),
    (
        "digits",
        digits_form(SID, "1"),
        {"a": "lang", "f": "carers-strategy", "o": "en.gu", "n": "1", "k": "c2"},
        "Can we use your answers",
    ),
    (
        "speech",
        speech_form(SID, "yes please", "0.9190853"),
        {"n": "2", "k": "y"},
        "Which best describes you?",
    ),
    ("one key", digits_form(SID, "1"), {"n": "3", "k": "c5"}, "Who do you mainly care for?"),
    (
        "low-confidence speech",
        speech_form(SID, "a parent I think", "0.41"),
        {"n": "4", "k": "c7"},
        "Did you say A parent?",
    ),
    ("no input", empty_form(SID), {"n": "5", "k": "y"}, "Did you say A parent?"),
    (
        "digits then hash",
        digits_form(SID, "1", finished="#"),
        {"n": "6", "k": "y"},
        "About how many hours",
    ),
]


@pytest.mark.parametrize(
    ("name", "form", "state", "expected"), PAYLOADS, ids=[p[0] for p in PAYLOADS]
)
async def test_twilio_voice_forms(
    services: Services, name: str, form: dict[str, str], state: dict[str, str], expected: str
) -> None:
    async with client_for(services) as client:
        # The steps before this row, so the session is where the row's request expects it.
        call = Caller(client, SID, url=URL)
        await call.start()
        for row in PAYLOADS[1 : [p[0] for p in PAYLOADS].index(name)]:
            url = PUBLIC_URL + CALL_PATH + "?" + urlencode(row[2])
            read(await post_signed(client, url, row[1]))
        url = URL if not state else PUBLIC_URL + CALL_PATH + "?" + urlencode(state)
        said = read(await post_signed(client, url, form))
        assert expected in said.text


async def test_hang_up_status_callback(services: Services) -> None:
    async with client_for(services) as client:
        r = await post_signed(client, PUBLIC_URL + STATUS_PATH, status_form(SID))
        assert r.status_code == 204
        bad = status_form(SID)
        del bad["CallStatus"]
        r = await post_signed(client, PUBLIC_URL + STATUS_PATH, bad)
        assert r.status_code == 400


@pytest.mark.parametrize("path", [CALL_PATH, STATUS_PATH])
async def test_unsigned_or_forged_requests_are_refused_before_redis(
    services: Services, path: str
) -> None:
    before = await snapshot(services.redis)
    form = call_form(SID) if path == CALL_PATH else status_form(SID)
    async with client_for(services) as client:
        body = urlencode(form)
        none = await client.post(path, content=body, headers={"Content-Type": FORM})
        forged = await client.post(
            path,
            content=body,
            headers={
                "Content-Type": FORM,
                "X-Twilio-Signature": sign(PUBLIC_URL + path, form, "x"),
            },
        )
        other_url = await client.post(
            path,
            content=body,
            headers={
                "Content-Type": FORM,
                "X-Twilio-Signature": sign("https://evil.example" + path, form),
            },
        )
    assert [none.status_code, forged.status_code, other_url.status_code] == [403, 403, 403]
    assert await snapshot(services.redis) == before


async def test_malformed_requests_get_400(services: Services) -> None:
    async with client_for(services) as client:
        form = call_form(SID)
        del form["CallSid"]
        r = await post_signed(client, URL, form)
        assert r.status_code == 400
        body = b"CallSid=%ff"
        r = await client.post(
            CALL_PATH, content=body, headers={"Content-Type": FORM, "X-Twilio-Signature": "x"}
        )
        assert r.status_code in (400, 403)


@pytest.mark.parametrize(
    "caller", ["+44 7700 900123", "+447700900123FromCountryGB", "07700 900123", "client:alice"]
)
async def test_a_caller_that_is_no_number_is_refused(services: Services, caller: str) -> None:
    """From is checked as for a text (a number or a sender id): a signed form re-split so that
    From swallows the next field, or anything else Twilio never sends, stores nothing."""
    before = await snapshot(services.redis)
    async with client_for(services) as client:
        r = await post_signed(client, URL, call_form(SID, caller))
    assert r.status_code == 400
    assert "From" in r.text
    assert await snapshot(services.redis) == before


@pytest.mark.parametrize(
    "caller", ["anonymous", "Restricted", "UNAVAILABLE", "", "+266696687", "+7378742833", "+123"]
)
async def test_a_withheld_caller_is_still_answered(services: Services, caller: str) -> None:
    async with client_for(services) as client:
        said = await Caller(client, SID, caller=caller, url=URL).start()
    assert said.gather is not None
    assert "For English, press 1." in said.text


async def test_redis_down_answers_503_and_the_retry_runs_once(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with client_for(services) as client:
        call = Caller(client, SID, url=URL)
        await call.start()
        await call.press("1")
        state = call.last
        real = services.store.commit

        async def down(*args: Any, **kw: Any) -> Any:
            raise StoreError("redis went away")

        monkeypatch.setattr(services.store, "commit", down)
        assert state is not None
        r = await post_signed(client, state.action, digits_form(SID, "1"))
        assert r.status_code == 503
        assert r.headers["Retry-After"] == "5"
        monkeypatch.setattr(services.store, "commit", real)
        said = read(await post_signed(client, state.action, digits_form(SID, "1")))
        assert "Which best describes you?" in said.text
    rid = services.store.respondent("voice", CARER)
    session = (await services.store.load(rid)).session
    assert session is not None
    assert session.answers == {"consent": True}


async def test_the_per_number_limit_applies_to_calls(services: Services) -> None:
    services.store.rate_limit = type(services.store.rate_limit)(messages=3)  # type: ignore[misc]
    async with client_for(services) as client:
        call = Caller(client, SID, url=URL)
        await call.start()
        await call.press("1")
        await call.press("1")
        await call.press("1")
        said = await call.press("1")
        assert said.hangup
        assert "call again in a few minutes" in said.text


def test_twiml_is_what_voice_response_builds() -> None:
    """The document for a prompt, against one built by hand with the library's VoiceResponse."""
    expect = Expect(shape="c2", num_digits=1, hints=("I am a carer", "help"), lang="en")
    prompt = (Said("Which best describes you? Press 1 for I am a carer.", "en"),)
    answer = Answer(
        Turn((Said("Thank you.", "en"), *prompt), prompt, expect),
        {"t": "1", "n": "3", "k": "c2"},
        Said("Sorry, I did not hear anything.", "en"),
        Said("Goodbye.", "en"),
    )
    voice = {"voice": "Polly.Amy", "language": "en-GB"}
    gather = {
        "input": "dtmf speech",
        "action": f"{PUBLIC_URL}/voice/twilio?t=1&n=3&k=c2",
        "method": "POST",
        "timeout": 6,
        "finish_on_key": "#",
        "action_on_empty_result": False,
        "num_digits": 1,
        "language": "en-GB",
        "speech_timeout": "auto",
        "profanity_filter": False,
        "hints": "I am a carer, help",
    }
    want = VoiceResponse()
    first = want.gather(**gather)
    first.say("Thank you.", **voice)
    first.say("Which best describes you? Press 1 for I am a carer.", **voice)
    want.say("Sorry, I did not hear anything.", **voice)
    want.gather(**gather).say("Which best describes you? Press 1 for I am a carer.", **voice)
    want.say("Goodbye.", **voice)
    want.hangup()
    assert twiml(answer, PUBLIC_URL, "/voice/twilio") == str(want)

    end = Answer(Turn((Said("Thank you. Goodbye.", "gu"),)), None)
    bye = VoiceResponse()
    bye.say("Thank you. Goodbye.", voice="Google.gu-IN-Standard-A", language="gu-IN")
    bye.hangup()
    assert twiml(end, PUBLIC_URL, "/voice/twilio") == str(bye)


@pytest.mark.parametrize(
    ("shape", "keys", "words"),
    [
        ("c5", "2", "2"),
        ("c5a", "2", "B"),
        ("c5", "0", "repeat"),
        ("c5", "9", "help"),
        ("c9", "9", "9"),  # the ninth choice, not help
        ("c5", "*", "back"),
        ("y", "1", "yes"),
        ("y", "2", "no"),
        ("m7", "146", "1 4 6"),
        ("n0_168", "0", "0"),  # zero hours is an answer
        ("n1_168", "0", "repeat"),
        ("n_", "42", "42"),
        ("d8", "03041960", "03041960"),
        ("d6", "041960", "04 1960"),
        ("t", "9", "help"),
    ],
)
def test_key_presses_read_as_words(shape: str, keys: str, words: str) -> None:
    assert keyed(shape, keys) == words


@given(
    st.text(alphabet="0123456789*#", max_size=20),
    st.sampled_from(["c5", "c12a", "y", "m7a", "s0_10", "n_", "n-5_5", "d8", "d6", "t", "zz"]),
)
def test_any_keys_read_without_error(keys: str, shape: str) -> None:
    out = keyed(shape, keys)
    assert isinstance(out, str)
    assert is_answer_key(shape, keys) in (True, False)


def test_withheld_numbers() -> None:
    for caller in ("anonymous", "Anonymous", "+266696687", "Restricted", "", "+86282452253"):
        assert withheld(caller), caller
    assert not withheld(CARER)


@pytest.mark.parametrize(
    ("raw", "sure"),
    [
        ("0.93", 0.93),
        ("1", 1.0),
        ("1.7", 1.0),  # clamped
        ("-0.2", 0.0),
        ("nan", 0.0),  # unreadable: unsure, never sure
        ("high", 0.0),
        ("", None),
        (None, None),
        (0.5, 0.5),
    ],
)
def test_twilio_confidence_reads_as_how_sure(raw: str | float | None, sure: float | None) -> None:
    assert sureness(raw) == sure


@pytest.mark.parametrize(
    ("extra", "status", "reason"),
    [
        ({"twilio_voice_number": "+441164960123"}, "ok", None),
        ({}, "ok", "TWILIO_VOICE_NUMBER is not set"),
        ({"twilio_voice_number": "+441164960123", "twilio_from_number": None}, "ok", "text"),
        ({"twilio_auth_token": None}, "off", "every call webhook is refused"),
    ],
)
async def test_healthz_says_the_voice_channel_state(
    tmp_path: Path, clock: Clock, extra: dict[str, Any], status: str, reason: str | None
) -> None:
    """``/healthz`` names the voice channel beside SMS and WhatsApp: off without the auth token,
    else ok, noting what "text me" or the posters lack."""
    settings = adapter_settings(tmp_path / "flows", tmp_path / "data", **extra)
    (tmp_path / "flows").mkdir()
    redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    services = build_services(settings, redis=redis, clock=clock)
    app = create_app(settings, services=services, refresh_flows=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        body = (await client.get("/healthz")).json()
    await redis.aclose()
    voice = body["channels"]["voice"]
    assert voice["status"] == status
    assert {"sms", "whatsapp", "voice", "web"} <= set(body["channels"])
    if reason is None:
        assert "reason" not in voice
    else:
        assert reason in voice["reason"]
    assert "voice" not in body["degraded"]
