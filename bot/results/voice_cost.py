"""What a survey costs by phone call: minutes per completed response, beside the SMS estimate.

**What is said.** Every step of a call exactly as the voice adapter says it: the step's replies
worded for a call by the engine (the spoken welcome, a question's ``voice:`` text, spoken
phrases, ``voice: thanks``), then turned into what is said and what is waited for by
:func:`adapters.voice_twilio.speech.turn`, the code the webhook itself runs ("Press 1 for ...",
"Key in the number, then press the hash key", ...), handed in as a :class:`CallSpeech` (results
never import adapters: ``adapters.renderers.CALL_SPEECH`` is the voice adapter's). A flow with
several spoken languages starts with the language menu, as calls do.

**How long.** Spoken length is the words said at :data:`WORDS_PER_MINUTE` (150, about the
default rate of Twilio's standard Polly and Google voices; ``--words-per-minute``) plus
:data:`SENTENCE_PAUSE` at each sentence end. Then the caller's part, per prompt, from what it
waits for (:data:`KEY_SECONDS` for one key, :data:`DIGIT_SECONDS` a digit for a number or a
date plus one for #, :data:`SEVERAL_SECONDS` for several choices), and :data:`TURN_SECONDS` for
each request (Twilio posting the result, our answer, the next ``<Say>`` starting). A spoken
answer (a postcode, a comment) takes the words of :data:`SPOKEN_ANSWERS` at
:data:`SPEAKING_WPM`, the pause that ends it (``CallSpeech.words_pause``: the adapter's
``WORDS_PAUSE``), and the read-back the engine always makes for it ("Did you say ...?", run
through the engine itself), said and confirmed with a key. Nobody is silent and nobody presses 0 to hear a question
again: a real call is longer, which is why the figures are an estimate.

**Routes.** The same route search as SMS (:func:`bot.results.cost.extreme_routes`), measured in
tenths of a second: the shortest and longest calls over every route, and the typical one (first
choice, yes, no skips) with the real ``when:`` conditions.

**Price.** Twilio bills a call by the minute, each call rounded up: one call per completed
response here (a carer who hangs up and calls again pays a second rounding and hears a short
welcome back). ``--price-per-minute`` is what a call to the council's number costs the council
(an inbound call to a UK local number); the caller pays their own call like any other.
``--speech-price`` is per 15 seconds of speech recognition: every prompt that listens for
speech counts at least one 15-second block (conservative: a prompt answered with a key may not
be billed), a spoken answer by its length. ``--tts-price`` is per 100 characters said (Twilio's
standard voices). Reminders are never calls: a voice session gets none.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from bot import engine
from bot.models import AnswerValue, Inbound, Reply, Session, Status
from bot.prompts import question_reply
from bot.results.cost import (
    INTRO,
    THANKS,
    CostError,
    Estimate,
    Item,
    RouteName,
    extreme_routes,
    group,
    sample_answer,
)
from bot.schema import Flow, PostcodeQuestion, Question, TextQuestion
from bot.text import LANGUAGE_NAMES
from bot.voice import can_speak, hearing, language


class SaidLike(Protocol):
    """One thing the call says (``adapters.voice_twilio.speech.Said``)."""

    @property
    def text(self) -> str: ...


class ExpectLike(Protocol):
    """What the call waits for after a prompt (``adapters.voice_twilio.speech.Expect``)."""

    @property
    def shape(self) -> str: ...

    @property
    def num_digits(self) -> int | None: ...

    @property
    def speech(self) -> bool: ...

    @property
    def words(self) -> bool: ...

    @property
    def lang(self) -> str: ...


class TurnLike(Protocol):
    """What the call says for one step and what it waits for (``...speech.Turn``)."""

    @property
    def said(self) -> Sequence[SaidLike]: ...

    @property
    def expect(self) -> ExpectLike | None: ...


@dataclass(frozen=True)
class CallSpeech:
    """How the voice adapter speaks a call: its own functions, handed in by the caller."""

    turn: Callable[[Flow, Session, Sequence[Reply]], TurnLike]
    """What the call says for one step's replies, and what it then waits for."""
    language_menu: Callable[[Flow, Sequence[str]], Sequence[SaidLike]]
    """The language menu a call with several spoken languages opens with."""
    spoken_languages: Callable[[Flow], Sequence[str]]
    """The flow's languages a call can speak."""
    words_pause: float
    """Seconds of silence that end a spoken answer."""


WORDS_PER_MINUTE = 150
"""Text-to-speech rate (words a minute) of Twilio's standard voices at their default speed."""
SENTENCE_PAUSE = 0.4
"""Seconds of silence the voice leaves at the end of each sentence."""
SPEAKING_WPM = 130
"""A caller speaking an answer (words a minute): a little slower than the voice."""
KEY_SECONDS = 2.0
"""Deciding and pressing one key (a choice, yes/no, a scale point)."""
DIGIT_SECONDS = 1.0
"""Each digit of a number or a date, and the # that ends a number."""
SEVERAL_SECONDS = 5.0
"""Several choices keyed, then #."""
TURN_SECONDS = 1.0
"""One request: Twilio posting the Gather's result, our TwiML, the next <Say> starting."""
SPEECH_BLOCK = 15
"""Twilio bills speech recognition in blocks of this many seconds."""
SPOKEN_ANSWERS = {
    "postcode": "L E 1 6 7 A B",
    "text": "More short breaks would help me most, and someone to talk to.",
}
"""What the typical caller says to a postcode and to a free-text question."""
CONFIDENCE = 0.9
"""Recognised with this confidence: text and postcodes are read back whatever it is."""
_SENTENCE_END = re.compile(r"[.?!\u0964\u06d4\u061f]+(?=\s|\Z)")  # . ? ! and Hindi/Urdu stops


def spoken_answer(q: Question) -> str:
    """What the typical caller says to a postcode or free-text question (None of the others):
    the sample words, cut at a word to fit the question's ``max_length``."""
    if isinstance(q, PostcodeQuestion):
        return SPOKEN_ANSWERS["postcode"]
    assert isinstance(q, TextQuestion)
    words = SPOKEN_ANSWERS["text"]
    while len(words) > q.max_length and " " in words:
        words = words.rsplit(" ", 1)[0]
    return words[: q.max_length]


def spoken_seconds(text: str, wpm: float = WORDS_PER_MINUTE) -> float:
    """How long a voice takes to say ``text``: its words at ``wpm``, a pause per sentence."""
    words = len(text.split())
    if not words:
        return 0.0
    sentences = max(1, len(_SENTENCE_END.findall(text)))
    return words * 60.0 / wpm + sentences * SENTENCE_PAUSE


@dataclass(frozen=True)
class CallStep:
    """One outbound step of a call: what is said, and the caller's answer to it."""

    what: str
    said: tuple[str, ...]
    speaking: float  # seconds the call speaks (the read-back included)
    listening: float  # seconds the caller takes to answer, and the requests
    speech_blocks: int  # 15-second blocks of speech recognition
    characters: int  # characters of text to speech

    @property
    def seconds(self) -> float:
        return self.speaking + self.listening


@dataclass(frozen=True)
class CallRoute:
    name: RouteName
    asked: tuple[str, ...]
    steps: tuple[CallStep, ...]
    answers: int

    @property
    def speaking(self) -> float:
        return sum(s.speaking for s in self.steps)

    @property
    def listening(self) -> float:
        return sum(s.listening for s in self.steps)

    @property
    def seconds(self) -> float:
        return self.speaking + self.listening

    @property
    def minutes(self) -> int:
        """Billed minutes: one call, rounded up to the whole minute."""
        return max(1, math.ceil(self.seconds / 60))

    @property
    def speech_blocks(self) -> int:
        return sum(s.speech_blocks for s in self.steps)

    @property
    def characters(self) -> int:
        return sum(s.characters for s in self.steps)


@dataclass(frozen=True)
class CallEstimate:
    flow: Flow
    lang: str
    respondents: int
    price_per_minute: float
    speech_price: float
    tts_price: float
    words_per_minute: float
    voice: str
    routes: dict[RouteName, CallRoute]
    notes: list[str] = field(default_factory=list)

    def each(self, route: CallRoute) -> float:
        """One completed response: the call's minutes, speech recognition and speech."""
        return (
            route.minutes * self.price_per_minute
            + route.speech_blocks * self.speech_price
            + route.characters / 100 * self.tts_price
        )

    def total(self, route: CallRoute) -> float:
        return self.each(route) * self.respondents


def clock(seconds: float) -> str:
    """``7:05`` for 425 seconds."""
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


# --- one step, as the call says it -------------------------------------------------------------


class _CallSteps:
    """Renders a step (a tuple of items) as the voice adapter says it, in one language."""

    def __init__(self, flow: Flow, lang: str, answers: dict[str, AnswerValue | None],
                 wpm: float, speech: CallSpeech) -> None:  # fmt: skip
        self.flow = flow
        self.speech = speech
        self.lang = lang
        self.answers = answers
        self.wpm = wpm
        # A moment the survey is open: the engine says nothing but "not open" otherwise.
        self.now = flow.opens_at() or datetime(2000, 1, 1, tzinfo=UTC)
        self._cache: dict[tuple[Item, ...], CallStep] = {}
        self._said_back: dict[str, list[SaidLike]] = {}
        for q in flow.questions:  # spoken answers are what the engine makes of the words
            if isinstance(q, TextQuestion | PostcodeQuestion):
                self._said_back[q.id] = self._hear(q)

    def reply(self, item: Item) -> Reply:
        flow, lang, voice = self.flow, self.lang, engine.SPOKEN
        if item == INTRO:
            return Reply(text=engine.intro_text(flow, lang, self.answers, channel=voice), lang=lang)
        if item == THANKS:
            text = engine.thanks_text(flow, lang, self.answers, channel=voice)
            return Reply(text=text, kind="end", lang=lang)
        assert isinstance(item, int)
        return question_reply(flow, flow.questions[item], lang, self.answers, voice=True)

    def session(self, current: str | None, asked: Sequence[str]) -> Session:
        return Session(
            flow=self.flow.id,
            version=self.flow.version,
            respondent="cost-estimate",
            channel=engine.SPOKEN,
            lang=self.lang,
            current=current,
            asked=list(asked),
            answers=dict(self.answers),
            status=Status.ACTIVE if current is not None else Status.COMPLETE,
            started_at=self.now,
            last_at=self.now,
        )

    def __call__(self, items: tuple[Item, ...]) -> CallStep:
        hit = self._cache.get(items)
        if hit is None:
            hit = self._step(items)
            self._cache[items] = hit
        return hit

    def measure(self, items: tuple[Item, ...]) -> int:
        """Tenths of a second, for the route search."""
        return round(self(items).seconds * 10)

    def _step(self, items: tuple[Item, ...]) -> CallStep:
        flow, speech = self.flow, self.speech
        names = [i if isinstance(i, str) else flow.questions[i].id for i in items]
        last = items[-1]
        q = flow.questions[last] if isinstance(last, int) else None
        asked = [n for n in names if n not in (INTRO, THANKS)]
        said_turn = speech.turn(
            flow, self.session(q.id if q else None, asked), [self.reply(i) for i in items]
        )
        said: list[SaidLike] = list(said_turn.said)
        listening = TURN_SECONDS
        blocks = 0
        if items[0] == INTRO:
            langs = speech.spoken_languages(flow)
            if len(langs) > 1:  # the call opens with the language menu, answered with a key
                said = [*speech.language_menu(flow, langs), *said]
                listening += KEY_SECONDS + TURN_SECONDS
        if q is not None and said_turn.expect is not None:
            answer, answer_blocks = self._answer(said_turn.expect, q.id)
            listening += answer
            blocks += answer_blocks
            back = self._said_back.get(q.id, [])
            if back:  # "Did you say ...?" and a key to confirm it
                said += back
                listening += KEY_SECONDS + TURN_SECONDS
                blocks += 1 if hearing(self.lang) else 0
        texts = tuple(s.text for s in said if s.text)
        return CallStep(
            what=" + ".join(names),
            said=texts,
            speaking=sum(spoken_seconds(t, self.wpm) for t in texts),
            listening=listening,
            speech_blocks=blocks,
            characters=sum(len(t) for t in texts),
        )

    def _answer(self, expect: ExpectLike, qid: str) -> tuple[float, int]:
        """Seconds the caller takes to answer a prompt, and speech-recognition blocks."""
        listens = expect.speech and hearing(expect.lang) is not None
        kind = expect.shape[:1]
        q = self.flow.question(qid)
        if expect.words and isinstance(q, TextQuestion | PostcodeQuestion):
            pause = self.speech.words_pause
            seconds = len(spoken_answer(q).split()) * 60.0 / SPEAKING_WPM + pause
            return seconds, math.ceil(seconds / SPEECH_BLOCK) if listens else 0
        if kind == "d":
            seconds = DIGIT_SECONDS * (expect.num_digits or 8)
        elif kind == "n":
            seconds = DIGIT_SECONDS * 3  # two digits and #
        elif kind == "m":
            seconds = SEVERAL_SECONDS
        elif expect.num_digits == 1 or kind == "y":
            seconds = KEY_SECONDS
        else:  # more choices than keys: two digits and #
            seconds = KEY_SECONDS + DIGIT_SECONDS * 2
        return seconds, 1 if listens else 0

    def _hear(self, q: TextQuestion | PostcodeQuestion) -> list[SaidLike]:
        """The engine's own step for the typical spoken answer to ``q``: the value it would
        record (kept as the typical answer, for piping) and the read-back it says, turned into
        speech by the adapter."""
        inbound = Inbound(
            channel=engine.SPOKEN,
            address="cost-estimate",
            text=spoken_answer(q),
            message_id="cost-estimate",
            confidence=CONFIDENCE,
        )
        step = engine.step(self.flow, self.session(q.id, [q.id]), inbound, self.now)
        pending = step.session.pending
        if pending is None or pending.kind != "confirm":
            return []  # not understood or not read back: counted as a plain answer
        self.answers[q.id] = pending.value
        return list(self.speech.turn(self.flow, step.session, step.replies).said)


# --- the estimate ------------------------------------------------------------------------------


def call_estimate(
    est: Estimate,
    *,
    speech: CallSpeech,
    price_per_minute: float,
    speech_price: float = 0.0,
    tts_price: float = 0.0,
    words_per_minute: float = WORDS_PER_MINUTE,
) -> CallEstimate:
    """The survey by phone, in the SMS estimate's language and for as many respondents."""
    if min(price_per_minute, speech_price, tts_price) < 0:
        raise CostError("prices cannot be negative")
    if not 60 <= words_per_minute <= 400:
        raise CostError("--words-per-minute must be between 60 and 400")
    flow, lang = est.flow, est.lang
    name = LANGUAGE_NAMES.get(lang, lang)
    if not can_speak(lang):
        raise CostError(
            f"calls cannot speak {name} (no voice for it: see surveybot validate), so there is "
            "no call estimate in it"
        )
    answers = {q.id: sample_answer(q) for q in flow.questions if q.answerable}
    steps = _CallSteps(flow, lang, answers, words_per_minute, speech)
    low, high, _ = extreme_routes(flow, steps.measure)
    chosen: dict[RouteName, list[str]] = {
        "shortest": [flow.questions[i].id for i in low.asked],
        "typical": list(est.routes["typical"].asked),
        "longest": [flow.questions[i].id for i in high.asked],
    }
    routes = {
        route: CallRoute(
            name=route,
            asked=tuple(asked),
            steps=tuple(steps(items) for items in group(flow, asked)),
            answers=sum(1 for qid in asked if (q := flow.question(qid)) and q.answerable),
        )
        for route, asked in chosen.items()
    }
    spoken = language(lang)
    notes = [
        f"spoken by {spoken.voice} ({spoken.say}) at {words_per_minute:g} words a minute and "
        f"{SENTENCE_PAUSE:g} s a sentence; a caller takes {KEY_SECONDS:g} s for a key, "
        f"{DIGIT_SECONDS:g} s a digit, {TURN_SECONDS:g} s a request; spoken answers (postcode, "
        "comments) are read back and confirmed, as calls do",
        "billed per call rounded up to the minute, one call a response; a caller who hangs up "
        "and calls again pays another rounding. Reminders are never calls",
        "speech recognition: each prompt that listens for speech counts one 15-second block "
        "(conservative), a spoken answer by its length",
    ]
    if hearing(lang) is None:
        notes.append(f"no speech recognition for {name}: callers answer with keys only")
    if len(speech.spoken_languages(flow)) > 1:
        notes.append("each call opens with the language menu, every option in its own voice")
    return CallEstimate(
        flow=flow,
        lang=lang,
        respondents=est.respondents,
        price_per_minute=price_per_minute,
        speech_price=speech_price,
        tts_price=tts_price,
        words_per_minute=words_per_minute,
        voice=spoken.voice or "",
        routes=routes,
        notes=notes,
    )
