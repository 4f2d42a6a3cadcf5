"""The call estimate counts the words a real call says: a call through the voice webhook on the
typical route (first choice, yes, the sample answers) says exactly the estimate's texts, request
for request."""

from __future__ import annotations

import pytest

from adapters.renderers import CALL_SPEECH, sms_messages
from adapters.services import Services
from adapters.voice_twilio.speech import spoken_languages
from bot.results import cost, voice_cost
from bot.schema import DateQuestion, NumberQuestion, PostcodeQuestion, TextQuestion
from tests.adapters.conftest import PUBLIC_URL, Clock
from tests.adapters.voice_twilio.voice_fakes import CALL_PATH, CARER, Caller, client_for


def _keys(value: object, q: object) -> str:
    """What the typical caller keys for the sample answer to ``q``."""
    if isinstance(q, DateQuestion):
        year, month, day = ([*str(value).split("-"), "01", "01"])[:3]
        return {"day": day + month + year, "month": month + year, "year": year}[q.precision]
    if isinstance(q, NumberQuestion):
        return f"{value}#"
    return "1"  # the first choice, yes, the lowest point of a scale from 1


@pytest.mark.parametrize(
    ("flow_id", "lang"),
    [
        ("carers-strategy", "en"),
        ("carers-strategy", "gu"),
        ("communities-approach", "en"),
        ("every-type", "en"),
    ],
)
async def test_a_real_call_says_what_the_estimate_counts(
    services: Services, clock: Clock, flow_id: str, lang: str
) -> None:
    flow = services.registry.flows[flow_id]
    opens = flow.opens_at()
    if opens is not None:  # a moment the survey is open (as the estimate takes)
        clock.now = max(clock.now, opens) if flow.is_open(clock.now) else opens
    est = cost.estimate(flow, render=sms_messages, respondents=1, price=0.04, lang=lang)
    calls = voice_cost.call_estimate(est, speech=CALL_SPEECH, price_per_minute=0.01)
    route = calls.routes["typical"]
    expected = [text for step in route.steps for text in step.said]

    heard: list[str] = []
    requests = 0
    async with client_for(services) as client:
        call = Caller(client, "CA" + "7" * 32, url=f"{PUBLIC_URL}{CALL_PATH}?flow={flow_id}")
        said = await call.start()
        heard += said.texts
        requests += 1
        menu = spoken_languages(flow)
        if len(menu) > 1:
            said = await call.press(str(menu.index(lang) + 1))  # the language menu
            heard += said.texts
            requests += 1
        while said.gather is not None:
            rid = services.store.respondent("voice", CARER)
            session = (await services.store.load(rid)).session
            assert session is not None
            assert session.current is not None
            q = flow.question(session.current)
            assert q is not None
            if session.pending is not None and session.pending.kind == "confirm":
                said = await call.press("1")  # the read-back: yes, that is right
            elif isinstance(q, TextQuestion | PostcodeQuestion):
                said = await call.speak(voice_cost.spoken_answer(q), "0.9")
            else:
                said = await call.press(_keys(cost.sample_answer(q), q))
            heard += said.texts
            requests += 1
    assert said.hangup
    assert heard == expected
    # One request a step, plus the language menu and each read-back.
    readbacks = sum(
        1 for q in route.asked if isinstance(flow.question(q), TextQuestion | PostcodeQuestion)
    )
    assert requests == len(route.steps) + (len(menu) > 1) + readbacks
