"""``surveybot cost``, phone calls: minutes per response from the words a call says.

A tiny flow is timed by hand from the sentences a call says (that the estimate uses the call's
own words for every step of the sample flows is checked against real calls in
tests/adapters/voice_twilio/test_call_cost.py); the sample flows for order and billing.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.renderers import CALL_SPEECH, sms_messages
from bot.cli import app
from bot.errors import SurveybotError
from bot.loader import load_flow_text, require_flow
from bot.results import cost
from bot.results import voice_cost as vc
from bot.schema import Flow

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "flows"
runner = CliRunner()

TINY = """
id: tiny
title: Tiny survey
council: Test Borough Council
contact: {phone: "0116 000 0000"}
intro: Hello. Text STOP to stop.
thanks: Thank you.
questions:
  - {id: happy, type: yesno, text: "Are you happy?"}
  - {id: why, type: text, when: "happy == no", text: "Why not?"}
"""
WELCOME = (
    "Hello. This is the Tiny survey from Test Borough Council. Answer each question with your "
    "keypad, or by speaking. Press 9 at any time for help. To stop, say stop, or just hang up: "
    "your answers so far are kept, and you can call again to carry on."
)


def load(text: str) -> Flow:
    result = load_flow_text(text, "tiny.yaml")
    assert result.flow is not None, result.problems
    return result.flow


def test_spoken_seconds_counts_words_and_sentences() -> None:
    assert vc.spoken_seconds("") == 0.0
    assert vc.spoken_seconds("one two three", wpm=60) == pytest.approx(3 + vc.SENTENCE_PAUSE)
    two = "Press 1 for yes. Press 2 for no."
    assert vc.spoken_seconds(two, wpm=80) == pytest.approx(8 * 60 / 80 + 2 * vc.SENTENCE_PAUSE)
    # Hindi and Urdu full stops end sentences too.
    assert vc.spoken_seconds("एक। दो।", wpm=60) == pytest.approx(2 + 2 * vc.SENTENCE_PAUSE)


def test_tiny_flow_hand_timed() -> None:
    flow = load(TINY)
    est = cost.estimate(flow, render=sms_messages, respondents=100, price=0.04)
    calls = vc.call_estimate(
        est, speech=CALL_SPEECH, price_per_minute=0.01, speech_price=0.02, tts_price=0.0008
    )
    short = calls.routes["shortest"]
    assert short.asked == ("happy",)
    question = "Are you happy? Press 1 for yes, or 2 for no."
    assert [s.said for s in short.steps] == [(WELCOME, question), ("Thank you.",)]
    first, last = short.steps
    assert first.speaking == pytest.approx(vc.spoken_seconds(WELCOME) + vc.spoken_seconds(question))
    assert first.listening == vc.TURN_SECONDS + vc.KEY_SECONDS  # the call start, then a key
    assert first.speech_blocks == 1  # the prompt listens for "yes"
    assert last.listening == vc.TURN_SECONDS
    assert last.speech_blocks == 0
    assert short.characters == len(WELCOME) + len(question) + len("Thank you.")

    long = calls.routes["longest"]  # "no", then why: spoken, read back and confirmed
    assert long.asked == ("happy", "why")
    why = long.steps[1]
    assert why.said[0] == "Why not? Please say your answer in a few words."
    assert why.said[1].startswith("Did you say More short breaks would help me most")
    spoken = vc.spoken_answer(flow.questions[1])
    assert why.listening == pytest.approx(
        vc.TURN_SECONDS
        + len(spoken.split()) * 60 / vc.SPEAKING_WPM
        + 3  # the pause that ends free words (twiml.WORDS_PAUSE)
        + vc.KEY_SECONDS  # confirming the read-back
        + vc.TURN_SECONDS
    )
    assert short.seconds < long.seconds


def test_billing_rounds_each_call_up_to_the_minute() -> None:
    flow = load(TINY)
    est = cost.estimate(flow, render=sms_messages, respondents=250, price=0.04)
    calls = vc.call_estimate(
        est, speech=CALL_SPEECH, price_per_minute=0.05, speech_price=0.02, tts_price=0.001
    )
    for route in calls.routes.values():
        assert route.minutes == max(1, math.ceil(route.seconds / 60))
        each = route.minutes * 0.05 + route.speech_blocks * 0.02 + route.characters / 100 * 0.001
        assert calls.each(route) == pytest.approx(each)
        assert calls.total(route) == pytest.approx(each * 250)
    free = vc.call_estimate(est, speech=CALL_SPEECH, price_per_minute=0.0)
    assert all(free.each(r) == 0 for r in free.routes.values())


@pytest.mark.parametrize(("name", "lang"), [("carers-strategy", "en"), ("carers-strategy", "gu"),
                                            ("communities-approach", "en")])  # fmt: skip
def test_sample_calls_are_ordered_and_plausible(name: str, lang: str) -> None:
    flow = require_flow(FLOWS / f"{name}.yaml")
    est = cost.estimate(flow, render=sms_messages, respondents=1000, price=0.04, lang=lang)
    calls = vc.call_estimate(est, speech=CALL_SPEECH, price_per_minute=0.01)
    r = calls.routes
    assert r["shortest"].seconds <= r["typical"].seconds <= r["longest"].seconds
    assert r["typical"].asked == est.routes["typical"].asked  # the same respondent as for SMS
    # The carers survey says "about 20 questions, 10 minutes": a call takes minutes, not hours.
    assert 60 < r["typical"].seconds < 20 * 60
    assert all(step.speaking > 0 for step in r["typical"].steps)


def test_a_slower_voice_makes_longer_calls() -> None:
    flow = require_flow(FLOWS / "carers-strategy.yaml")
    est = cost.estimate(flow, render=sms_messages, respondents=1, price=0.04)
    fast = vc.call_estimate(est, speech=CALL_SPEECH, price_per_minute=0.01, words_per_minute=180)
    slow = vc.call_estimate(est, speech=CALL_SPEECH, price_per_minute=0.01, words_per_minute=120)
    assert slow.routes["typical"].speaking > fast.routes["typical"].speaking
    assert slow.routes["typical"].listening == fast.routes["typical"].listening
    with pytest.raises(SurveybotError):
        vc.call_estimate(est, speech=CALL_SPEECH, price_per_minute=0.01, words_per_minute=10)
    with pytest.raises(SurveybotError):
        vc.call_estimate(est, speech=CALL_SPEECH, price_per_minute=-1)


def test_a_language_calls_cannot_speak_has_no_call_estimate() -> None:
    flow = load(TINY.replace("id: tiny", "id: tiny\nlanguages: [en, so]"))
    est = cost.estimate(flow, render=sms_messages, respondents=1, price=0.04, lang="so")
    with pytest.raises(SurveybotError, match=r"cannot speak Soomaali \(Somali\)"):
        vc.call_estimate(est, speech=CALL_SPEECH, price_per_minute=0.01)


def test_cost_command_shows_calls_beside_sms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SURVEYBOT_FLOWS", str(FLOWS))
    monkeypatch.setenv("COLUMNS", "160")
    args = ["cost", "carers-strategy", "--respondents", "20000", "--price-per-minute", "0.02"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "SMS cost estimate" in result.output
    assert "Phone calls" in result.output
    assert "£0.02 a minute" in result.output
    flow = require_flow(FLOWS / "carers-strategy.yaml")
    est = cost.estimate(flow, render=sms_messages, respondents=20000, price=0.04)
    calls = vc.call_estimate(
        est, speech=CALL_SPEECH, price_per_minute=0.02, speech_price=0.02, tts_price=0.0008
    )
    for route in calls.routes.values():
        assert vc.clock(route.seconds) in result.output
        assert f"£{calls.total(route):,.2f}" in result.output
    result = runner.invoke(app, [*args, "--detail", "--lang", "gu", "--words-per-minute", "120"])
    assert result.exit_code == 0, result.output
    assert "typical call" in result.output
    assert "Google.gu-IN-Standard-A" in result.output
