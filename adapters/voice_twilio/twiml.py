"""A call's :class:`.call.Answer` as TwiML, built with the twilio library's ``VoiceResponse``.

A prompt is a ``<Gather input="dtmf speech">`` around its ``<Say>`` verbs, so a caller can press
a key or speak while it is still being said. If nothing comes (Twilio waits ``timeout`` seconds,
then falls through to the next verb) the call says so and asks once more, then says goodbye and
hangs up: the re-ask on silence costs no request. Every ``<Say>`` names its voice and language
(:mod:`bot.voice`); the ``<Gather>`` listens in the session's language, and only for keys where
that language has no speech recognition.
"""

from __future__ import annotations

from urllib.parse import urlencode

from twilio.twiml.voice_response import Gather, VoiceResponse

from adapters.sms_twilio.render import clean
from adapters.voice_twilio.call import Answer
from adapters.voice_twilio.speech import Expect, Said
from bot.voice import hearing, language

KEY_TIMEOUT = 6
"""Seconds of silence before a prompt that takes keys or a word counts as unanswered."""
WORDS_TIMEOUT = 8
WORDS_PAUSE = 3
"""Free words: a pause this long (seconds) ends the answer ("auto" cuts people off mid-thought)."""


def say(parent: VoiceResponse | Gather, said: Said) -> None:
    """One ``<Say>``; its text without what XML cannot carry (a read-back or a piped answer may
    quote a control character someone typed or Twilio heard: the whole call would fail)."""
    spoken = language(said.lang)
    parent.say(clean(said.text), voice=spoken.voice, language=spoken.say)


def gather_attributes(expect: Expect, action: str) -> dict[str, object]:
    heard = hearing(expect.lang) if expect.speech else None
    attrs: dict[str, object] = {
        "input": "dtmf speech" if heard else "dtmf",
        "action": action,
        "method": "POST",
        "timeout": WORDS_TIMEOUT if expect.words else KEY_TIMEOUT,
        "finish_on_key": "#",
        "action_on_empty_result": False,
    }
    if expect.num_digits is not None:
        attrs["num_digits"] = expect.num_digits
    if heard:
        attrs["language"] = heard
        attrs["speech_timeout"] = WORDS_PAUSE if expect.words else "auto"
        attrs["profanity_filter"] = False  # keep the carer's own words
        if expect.hints:
            attrs["hints"] = ", ".join(expect.hints)
    return attrs


def action_url(public_url: str, path: str, state: dict[str, str]) -> str:
    return f"{public_url.rstrip('/')}{path}?{urlencode(state)}"


def twiml(answer: Answer, public_url: str, path: str) -> str:
    """The TwiML document for ``answer``; the next request goes to ``public_url + path``."""
    response = VoiceResponse()
    turn = answer.turn
    if turn.expect is None or answer.state is None:
        for said in turn.said:
            say(response, said)
        response.hangup()
        return str(response)
    attrs = gather_attributes(turn.expect, action_url(public_url, path, answer.state))
    first = response.gather(**attrs)
    for said in turn.said:
        say(first, said)
    if answer.silence is not None:
        say(response, answer.silence)
    again = response.gather(**attrs)
    for said in turn.prompt or turn.said:
        say(again, said)
    if answer.bye is not None:
        say(response, answer.bye)
    response.hangup()
    return str(response)
