"""A carer answers the carers flow by phone: over two calls, and switching to text halfway.

Through the real ASGI routes, signed Twilio voice forms, the real dispatcher and store
(fakeredis), Twilio's REST API faked at its HTTP boundary for the "text me" SMS; the export at the
end is read as an officer would.
"""

from __future__ import annotations

import io
import json

from adapters.services import Services
from adapters.sms_twilio import build_sender
from bot.models import Status
from bot.results.export import export_flow
from tests.adapters.conftest import PUBLIC_URL, Clock
from tests.adapters.sms_twilio.twilio_fakes import FakeHttpClient, inbound_form
from tests.adapters.sms_twilio.twilio_fakes import post_signed as post_sms
from tests.adapters.voice_twilio.voice_fakes import (
    CALL_PATH,
    CARER,
    STATUS_PATH,
    Caller,
    client_for,
    digits_form,
    post_signed,
    read,
    status_form,
)

NUMBER_URL = PUBLIC_URL + CALL_PATH + "?flow=carers-strategy"
FLOW = "carers-strategy"


async def _export(svc: Services) -> list[dict[str, object]]:
    out = io.StringIO()
    await export_flow(svc.store, svc.registry.flows[FLOW], out, "jsonl", partial=True)
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


async def test_two_calls_make_one_complete_response(services: Services, clock: Clock) -> None:
    async with client_for(services) as client:
        call = Caller(client, "CA" + "1" * 32, url=NUMBER_URL)
        menu = await call.start()
        assert "For English, press 1." in menu.text
        assert ("Google.gu-IN-Standard-A", "gu-IN") in menu.voices  # Gujarati said in Gujarati
        said = await call.press("1")  # English
        assert "Leicestershire County Council" in said.text  # the welcome names the council
        assert "say stop" in said.text
        assert "Press 9" in said.text
        assert "Can we use your answers" in said.text
        assert "Press 1 for yes, or 2 for no." in said.text
        assert said.gather is not None
        assert said.gather["language"] == "en-GB"
        said = await call.speak("yes", "0.95")  # consent, by saying yes
        assert "Which best describes you?" in said.text
        assert "Press 1 for I am a carer" in said.text
        assert "I am a carer" in said.gather["hints"]  # type: ignore[index]
        said = await call.press("1")  # carer
        said = await call.press("1")  # cares for a parent
        said = await call.press("2")  # 10-19 hours
        assert "How long have you been a carer?" in said.text
        # The carer hangs up halfway; Twilio reports the call completed.
        status = await post_signed(client, PUBLIC_URL + STATUS_PATH, status_form(call.sid))
        assert status.status_code == 204

        clock.advance(hours=3)
        again = Caller(client, "CA" + "2" * 32, url=NUMBER_URL)
        said = await again.start()
        # No language menu and no intro: a short welcome back and the question they were on.
        assert said.text.startswith("Welcome back. You have answered 4 of about")
        assert "How long have you been a carer?" in said.text
        for keys in ("3", "4", "4", "5"):  # years, priorities 1-3
            said = await again.press(keys)
        assert "Choose up to 3" in said.text
        assert "then the hash key" in said.text
        said = await again.press("14")  # breaks + emotional support, then #
        assert "Do you know where to get support" in said.text
        said = await again.press("1")  # yes: jumps to anything_else
        assert "Please say your answer in a few words." in said.text
        said = await again.speak("More respite in the evenings", "0.88")
        assert said.text.startswith("Did you say More respite in the evenings?")  # read back
        said = await again.press("1")  # yes, that is right
        assert "How old are you?" in said.text
        for keys in ("6", "1", "1", "1", "1", "2"):  # age, sex, gender same, Asian, Indian, no
            said = await again.press(keys)
        assert "What is your postcode?" in said.text
        said = await again.speak("L E 16 7 A B", "0.6")
        assert "Did you say LE16?" in said.text
        said = await again.speak("yes", "0.9")
        assert said.hangup
        assert said.gather is None
        assert "Thank you" in said.text

    rows = await _export(services)
    assert len(rows) == 1
    row = rows[0]
    assert row["status"] == "complete"
    assert row["channel"] == "voice"
    answers = row["answers"]
    assert isinstance(answers, dict)
    assert answers["hours"]["value"] == "10-19"
    assert answers["support_most"]["value"] == ["breaks", "emotional"]
    assert answers["anything_else"] == answers["anything_else"] | {
        "value": "More respite in the evenings",
        "confidence": 0.88,  # Twilio's transcription and its confidence, kept
    }
    assert answers["postcode"]["value"] == "LE16"
    assert CARER not in json.dumps(rows)


async def test_text_me_carries_the_session_on_by_sms(services: Services, clock: Clock) -> None:
    http = FakeHttpClient()
    services.extras["sms_sender"] = build_sender(services.settings, http, services=services)
    async with client_for(services) as client:
        call = Caller(client, "CA" + "3" * 32, url=NUMBER_URL)
        await call.start()
        await call.press("1")  # English
        await call.press("1")  # consent
        await call.press("1")  # carer
        said = await call.speak("text me", "0.9")
        assert said.hangup
        assert "We have sent you a text message" in said.text
        assert len(http.sent) == 1
        text = str(http.sent[0].data["Body"])
        assert http.sent[0].data["To"] == CARER
        assert text.startswith("Carrying on from your phone call.")
        assert "Who do you mainly care for?" in text
        assert "1 A parent" in text

        rid = services.store.respondent("sms", CARER)
        assert rid == services.store.respondent("voice", CARER)  # one person, one id
        session = (await services.store.load(rid)).session
        assert session is not None
        assert session.channel == "sms"

        # By text the banded questions are answered by label (a bare 2 or 3 there is checked).
        replies = ["1", "10 to 19 hours", "5 to 9 years", "4", "4", "5", "1 4", "YES", "SKIP"]
        replies += ["SKIP", "SKIP", "SKIP", "SKIP", "SKIP", "SKIP"]
        for n, body in enumerate(replies):
            clock.advance(minutes=1)
            form = inbound_form(body, sid=f"SM{n:032d}", sender=CARER)
            r = await post_sms(client, "/sms/twilio", form)
            assert r.status_code == 200, r.text
        assert "Thank you" in r.text

    session = (await services.store.load(rid)).session
    assert session is not None
    assert session.status is Status.COMPLETE
    rows = await _export(services)
    assert len(rows) == 1
    assert rows[0]["status"] == "complete"
    assert rows[0]["channel"] == "sms"
    answers = rows[0]["answers"]
    assert isinstance(answers, dict)
    assert answers["consent"]["value"] is True
    assert answers["role"]["value"] == "carer"
    assert answers["cared_for"]["value"] == "parent"  # by text
    assert answers["hours"]["value"] == "10-19"
    assert answers["years_caring"]["value"] == "5-9"


async def test_a_landline_cannot_switch_and_carries_on(services: Services) -> None:
    http = FakeHttpClient()
    services.extras["sms_sender"] = build_sender(services.settings, http, services=services)
    landline = "+441163050004"
    async with client_for(services) as client:
        call = Caller(client, "CA" + "4" * 32, caller=landline, url=NUMBER_URL)
        await call.start()
        await call.press("1")
        said = await call.press("1")
        assert "Which best describes you?" in said.text
        said = await call.speak("text me")
        assert "we cannot send text messages to this phone" in said.text
        assert "Which best describes you?" in said.text
        assert not said.hangup
    assert http.sent == []


async def test_a_withheld_number_gets_this_call_only(services: Services) -> None:
    async with client_for(services) as client:
        call = Caller(client, "CA" + "5" * 32, caller="anonymous", url=NUMBER_URL)
        said = await call.start()
        assert said.texts[0].startswith("Your number is hidden")  # before anything is asked
        await call.press("1")
        await call.press("1")
        said = await call.press("2")  # someone cares for me
        other = Caller(client, "CA" + "6" * 32, caller="anonymous", url=NUMBER_URL)
        said = await other.start()
        assert "Your number is hidden" in said.text
        assert "Welcome back" not in said.text
    one = services.store.respondent("voice", "call:" + "CA" + "5" * 32)
    two = services.store.respondent("voice", "call:" + "CA" + "6" * 32)
    assert one != two
    loaded = (await services.store.load(one)).session
    assert loaded is not None
    assert loaded.answers["role"] == "cared_for"
    assert loaded.address == "call:" + "CA" + "5" * 32  # never a number


async def test_a_retried_request_never_records_twice(services: Services) -> None:
    async with client_for(services) as client:
        call = Caller(client, "CA" + "7" * 32, url=NUMBER_URL)
        await call.start()
        await call.press("1")
        consent = call.last
        said = await call.press("1")  # consent: yes
        assert "Which best describes you?" in said.text
        # Twilio did not get that answer and posts the same Gather result again.
        call.last = consent
        again = await call.press("1")
        assert "Which best describes you?" in again.text  # the question they are on, again
        assert again.state["n"] == said.state["n"]
    rid = services.store.respondent("voice", CARER)
    session = (await services.store.load(rid)).session
    assert session is not None
    assert session.messages == 2


async def test_calls_are_bounded(services: Services, clock: Clock) -> None:
    services.settings = services.settings.model_copy(update={"voice_max_turns": 5})
    async with client_for(services) as client:
        call = Caller(client, "CA" + "8" * 32, url=NUMBER_URL)
        await call.start()
        for keys in ("1", "1", "1", "1"):  # English, consent, carer, a parent
            said = await call.press(keys)
            assert not said.hangup
        said = await call.press("2")  # the 5th answer of the call: kept, then the call ends
        assert said.hangup
        assert "gone on for a long time" in said.text
        assert "call again any time" in said.text
        assert "hours" not in said.state if said.gather else True
    rid = services.store.respondent("voice", CARER)
    session = (await services.store.load(rid)).session
    assert session is not None
    assert session.answers["hours"] == "10-19"


async def test_a_key_at_a_banded_question_is_that_choice(services: Services) -> None:
    """A key pressed at a list of bands picks the band it is said with, never the quantity the
    digit would be if typed: 1 at "How long have you been a carer?" is "Less than 1 year" (as a
    quantity, 1 year would be "1 to 4 years"). A spoken number there is still checked."""
    async with client_for(services) as client:
        call = Caller(client, "CA" + "7" * 32, url=NUMBER_URL)
        await call.start()
        for keys in ("1", "1", "1", "1"):  # English, consent, carer, a parent
            said = await call.press(keys)
        assert "how many hours a week" in said.text
        assert said.state["q"] == "hours"  # the action URL names the question the keys answer
        said = await call.speak("five", "0.95")  # spoken: 5 hours, or option 5?
        assert said.text.startswith("Did you say 50 hours or more?")
        assert "q" not in said.state  # a yes/no now, not the list
        said = await call.press("2")  # no: the question again
        assert "how many hours a week" in said.text
        said = await call.press("5")
        assert "How long have you been a carer?" in said.text
        said = await call.press("1")
        assert "Our strategy has 3 priorities" in said.text

    rows = await _export(services)
    answers = rows[0]["answers"]
    assert isinstance(answers, dict)
    assert answers["hours"]["value"] == "50+"
    assert answers["years_caring"]["value"] == "under_1"


async def test_a_key_for_another_question_is_not_taken_as_its_choice(services: Services) -> None:
    """A Gather result whose action names a question the caller is no longer on (a stale or
    altered URL) is never recorded as a choice of the current question."""
    async with client_for(services) as client:
        call = Caller(client, "CA" + "8" * 32, url=NUMBER_URL)
        await call.start()
        for keys in ("1", "1", "1"):  # English, consent, carer
            said = await call.press(keys)
        assert said.state["q"] == "cared_for"
        stale = said.action.replace("q=cared_for", "q=role")
        form = digits_form(call.sid, "2", CARER)
        again = read(await post_signed(client, stale, form))
        assert again.text.startswith("Sorry, I did not catch that.")  # nothing recorded
        assert "Press 2 for Husband" in again.text  # the choices again

    rows = await _export(services)
    answers = rows[0]["answers"]
    assert isinstance(answers, dict)
    assert "cared_for" not in answers or answers["cared_for"]["value"] is None
