"""One request of a phone call, whatever carries it (Twilio's webhook, the terminal chat).

A call is a string of requests: the call start, then one per ``<Gather>`` result (a key press,
spoken words, or nothing). Each carries the state the previous answer put in its action URL:

* ``n``: the step counter. ``<CallSid>:<n>`` is the message id the store deduplicates, so a
  retried request (same URL, same form) never records twice, and each answer of a call is new.
* ``k``: how key presses read (:func:`.speech.shape`).
* ``q``: the question whose choices the keys pick, if any: a key pressed there is sent to the
  engine as that choice's button (see :data:`bot.models.Inbound.question`).
* ``t``: when the call started (epoch seconds), for the call-length bound.
* ``a``/``o``/``f``: a menu before the survey starts (which survey, which language).

Who: the caller's number (``From``) is the respondent's address on channel ``voice``, which has
the same pseudonymous id as ``sms`` for the same number (``store.identity.SHARED_IDS``): calling
again resumes, and "text me" carries the very same session on by SMS (:meth:`Calls.to_text`).
A withheld number has no address to come back to: the respondent is ``call:<CallSid>``, for that
call only, and the caller is told so before the first question.

Bounds: at most ``settings.voice_max_turns`` answers and ``voice_max_minutes`` minutes per call
(the answer that reaches a bound is recorded, then the call ends politely, answers kept); the
per-number message limit applies to every answer as to texts.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import phonenumbers

from adapters.outbound import Sender
from adapters.services import Services
from adapters.twilio_common import mask
from adapters.voice_twilio.speech import (
    KEY_COMMANDS,
    VOICE,
    Said,
    Turn,
    keyed,
    language_menu,
    say,
    spoken_languages,
    turn,
)
from bot import engine
from bot.answers import normalise
from bot.dispatch import Outcome
from bot.errors import ChannelError
from bot.models import Inbound, Reply, Session, Status
from bot.schema import Flow
from bot.text import LANGUAGE_NAMES, tr
from bot.voice import MAX_KEYS, speakable
from store.identity import DEFAULT_REGION, ONE_CALL

log = logging.getLogger(__name__)

WITHHELD = frozenset(
    {
        "",
        "anonymous",
        "restricted",
        "unknown",
        "unavailable",
        "private",
        "blocked",
        "withheld",
        # Twilio's stand-ins for a hidden caller id ("ANONYMOUS", "UNAVAILABLE"... on a keypad).
        "+266696687",
        "+86282452253",
        "+7378742833",
        "+2562533",
    }
)
TEXT_ME = frozenset(
    {
        "text me",
        "text",
        "texts",
        "text message",
        "send me a text",
        "send a text",
        "send me a text message",
        "by text",
        "carry on by text",
        "continue by text",
        "sms",
    }
)


@dataclass(frozen=True)
class Heard:
    """One request of a call: who, which step, and what the caller did (nothing at the start)."""

    call: str
    caller: str
    state: Mapping[str, str] = field(default_factory=dict)
    digits: str | None = None
    speech: str | None = None
    confidence: float | None = None
    start: bool = False

    @property
    def step(self) -> int:
        raw = self.state.get("n", "0")
        return int(raw) if raw.isdigit() and len(raw) <= 6 else 0


@dataclass(frozen=True)
class Answer:
    """What to say, and the state for the next request (None: hang up after saying it)."""

    turn: Turn
    state: dict[str, str] | None
    silence: Said | None = None
    bye: Said | None = None


def sureness(confidence: str | float | None) -> float | None:
    """How sure the speech recogniser is, 0 to 1 (Twilio's ``Confidence``); None when it gave
    none. Anything unreadable (a word, NaN) counts as unsure, never as sure."""
    if confidence is None or (isinstance(confidence, str) and not confidence.strip()):
        return None
    try:
        value = float(confidence)
    except ValueError:
        return 0.0
    return 0.0 if math.isnan(value) else min(1.0, max(0.0, value))


def _number(caller: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(caller.strip(), DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None


def withheld(caller: str) -> bool:
    """Whether the caller's number is hidden (Twilio sends a stand-in or a word)."""
    if caller.strip().lower() in WITHHELD:
        return True
    number = _number(caller)
    return number is None or not phonenumbers.is_possible_number(number)


def can_text(caller: str) -> bool:
    """Whether the caller's number can take a text: a mobile (a landline cannot)."""
    number = _number(caller)
    if number is None:
        return False
    kind = phonenumbers.number_type(number)
    mobile = (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    if kind in mobile:
        return True
    # Numbers the library cannot classify (Ofcom's 07700 900xxx drama range): UK 07 is mobile.
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return kind == phonenumbers.PhoneNumberType.UNKNOWN and e164.startswith("+447")


class Calls:
    """The voice channel's logic; transport-free (see :mod:`.webhook` and :mod:`.console`)."""

    def __init__(self, services: Services, sender: Sender | None = None) -> None:
        self.services = services
        self.sender = sender

    # -- entry ------------------------------------------------------------------------------------
    async def answer(self, heard: Heard) -> Answer:
        svc = self.services
        now = svc.clock()
        started = _started(heard.state, now)
        hidden = withheld(heard.caller)
        address = ONE_CALL + heard.call if hidden else heard.caller.strip()
        base = {"t": str(started)}
        if heard.start:
            return await self._start(heard, address, hidden, base)
        menu = heard.state.get("a")
        if menu in ("flow", "lang"):
            return await self._menu(heard, address, base, menu)
        if heard.speech and normalise(heard.speech) in TEXT_ME:
            return await self.to_text(heard, address, hidden, base)
        text, confidence = self._words(heard)
        lead: list[Said] = []
        if not text:  # a Gather posted with nothing in it: the question again
            text = "repeat"
        keyed_for = heard.state.get("q") if heard.digits and text not in KEY_COMMANDS else None
        # A key pressed at a list of choices is that choice, as a button is: never re-read as a
        # number ("5" at the hours question is "50 hours or more", not "5 hours").
        inbound = Inbound(
            channel=VOICE,
            address=address,
            text=text,
            message_id=f"{heard.call}:{heard.step}",
            confidence=confidence,
            kind="button" if keyed_for else "text",
            question=keyed_for or None,
        )
        outcome = await svc.dispatcher.handle(inbound)
        return self._after(outcome, lead, heard, base, now)

    def _words(self, heard: Heard) -> tuple[str, float | None]:
        if heard.digits:
            return keyed(heard.state.get("k", "t"), heard.digits), None
        if heard.speech and heard.speech.strip():
            sure = sureness(heard.confidence)
            return heard.speech.strip(), 0.0 if sure is None else sure  # no confidence: unsure
        return "", None

    # -- call start -------------------------------------------------------------------------------
    async def _start(
        self, heard: Heard, address: str, hidden: bool, base: dict[str, str]
    ) -> Answer:
        svc = self.services
        lead = [Said(say(None, "en", "voice_hidden"), "en")] if hidden else []
        session = None if hidden else await self._session(address)
        wanted = heard.state.get("flow")
        flow: Flow | None = svc.registry.get(wanted) if wanted else None
        if flow is None:
            flows = svc.registry.open_flows(svc.clock())
            under_way = (
                svc.registry.get(session.flow)
                if session is not None and session.status is Status.ACTIVE
                else None
            )
            # A survey's own key is printed on its posters ("Call ... and press 2"), so where
            # one has a key the menu is always said, even for one survey or to a caller coming
            # back: their press of 2 must pick the survey, not answer its next question.
            menu = any(f.voice.key for f in flows)
            if under_way is not None and (not menu or under_way not in flows):
                flow = under_way
            elif not flows:
                return _end([*lead, Said(say(None, "en", "voice_none_open"), "en")])
            elif len(flows) > 1 or menu:
                return self._flow_menu(flows, lead, heard, base)
            else:
                flow = flows[0]
        return await self._begin(flow, session, lead, heard, address, base, None)

    async def _session(self, address: str) -> Session | None:
        """The caller's session, if any (a withheld number has none to come back to)."""
        if address.startswith(ONE_CALL):
            return None
        rid = self.services.store.respondent(VOICE, address)
        return (await self.services.store.load(rid, None, cached=True)).session

    async def _begin(
        self,
        flow: Flow,
        session: Session | None,
        lead: list[Said],
        heard: Heard,
        address: str,
        base: dict[str, str],
        lang: str | None,
    ) -> Answer:
        resuming = session is not None and session.flow == flow.id and bool(session.asked)
        spoken = spoken_languages(flow)
        if not resuming and lang is None and len(spoken) > 1:
            return self._lang_menu(flow, spoken, lead, heard, base)
        inbound = Inbound(
            channel=VOICE,
            address=address,
            text=flow.id,
            kind="start",
            lang=lang,
            message_id=f"{heard.call}:{heard.step}",
        )
        outcome = await self.services.dispatcher.handle(inbound)
        return self._after(outcome, lead, heard, base, self.services.clock())

    def _flow_menu(
        self, flows: list[Flow], lead: list[Said], heard: Heard, base: dict[str, str]
    ) -> Answer:
        keys = survey_keys(flows)
        lines = [say(None, "en", "voice_choose_survey")]
        lines += [
            say(None, "en", "voice_survey_option", title=tr(f.title, "en"), key=k)
            for k, f in sorted(keys.items())
        ]
        prompt = (Said(" ".join(lines), "en"),)
        top = max(keys)
        slots = ".".join(keys[k].id if k in keys else "" for k in range(1, top + 1))
        state = base | {"a": "flow", "o": slots}
        return self._ask([*lead, *prompt], prompt, f"c{top}", heard, state, "en")

    def _lang_menu(
        self, flow: Flow, langs: list[str], lead: list[Said], heard: Heard, base: dict[str, str]
    ) -> Answer:
        first = langs[0]
        prompt = language_menu(flow, langs)
        state = base | {"a": "lang", "f": flow.id, "o": ".".join(langs)}
        return self._ask([*lead, *prompt], prompt, f"c{len(langs)}", heard, state, first)

    def _ask(
        self,
        said: list[Said],
        prompt: tuple[Said, ...],
        kind: str,
        heard: Heard,
        state: dict[str, str],
        lang: str,
    ) -> Answer:
        from adapters.voice_twilio.speech import Expect

        expect = Expect(shape=kind, num_digits=1, hints=(), speech=False, lang=lang)
        state = state | {"n": str(heard.step + 1), "k": kind}
        return Answer(
            Turn(tuple(said), prompt, expect),
            state,
            Said(say(None, lang, "voice_silence"), lang),
            Said(say(None, lang, "voice_bye_silent"), lang),
        )

    async def _menu(self, heard: Heard, address: str, base: dict[str, str], menu: str) -> Answer:
        svc = self.services
        slots = heard.state.get("o", "").split(".")  # a survey menu's keys may have gaps
        if menu == "flow":
            offered = [f for f in (svc.registry.get(o) for o in slots if o) if f is not None]
            words = {f.id: " ".join(f.keywords) for f in offered}
            picked = _pick(slots, heard, names=words)
            flow = svc.registry.get(picked) if picked else None
            if flow is None:
                flows = offered
                if not flows:
                    return _end([Said(say(None, "en", "voice_none_open"), "en")])
                sorry = Said(say(None, "en", "not_understood"), "en")
                return self._flow_menu(flows, [sorry], heard, base)
            session = await self._session(address)  # picking their own survey resumes it
            return await self._begin(flow, session, [], heard, address, base, None)
        options = [o for o in slots if o]
        picked = _pick(options, heard, names=LANGUAGE_NAMES)
        flow = svc.registry.get(heard.state.get("f", ""))
        if flow is None:
            return _end([Said(say(None, "en", "voice_none_open"), "en")])
        if picked is None or picked not in flow.languages:
            langs = [lg for lg in options if lg in flow.languages] or flow.languages
            sorry = Said(say(flow, langs[0], "not_understood"), langs[0])
            return self._lang_menu(flow, langs, [sorry], heard, base)
        return await self._begin(flow, None, [], heard, address, base, picked)

    # -- carrying on by text ----------------------------------------------------------------------
    async def to_text(
        self, heard: Heard, address: str, hidden: bool, base: dict[str, str]
    ) -> Answer:
        """ "Text me": the same session carries on by SMS to the caller's number. The SMS
        respondent id is the caller's (shared ids), so nothing moves and nothing new is stored:
        an SMS-channel "start" of their flow commits the switch (the session's channel becomes
        ``sms``, so reminders follow), its reply (the current question, worded for SMS) is
        texted, and the call ends. A hidden or landline number, no SMS sender, or a failed send
        keeps the call going on the same question."""
        svc = self.services
        now = svc.clock()
        session = None if hidden else await self._session(address)
        flow = svc.registry.get(session.flow) if session is not None else None
        usable = (
            session is not None
            and flow is not None
            and session.status is Status.ACTIVE
            and self.sender is not None
            and can_text(address)
        )
        message_id = f"{heard.call}:{heard.step}"
        if not usable or session is None or flow is None or self.sender is None:
            lang = session.lang if session is not None else "en"
            lead = [Said(say(flow, lang, "voice_no_text"), lang)]
            again = Inbound(channel=VOICE, address=address, text="repeat", message_id=message_id)
            return self._after(await svc.dispatcher.handle(again), lead, heard, base, now)
        switch = Inbound(
            channel="sms", address=address, text=flow.id, kind="start", message_id=message_id
        )
        outcome = await svc.dispatcher.handle(switch)
        lang = session.lang
        if outcome.duplicate:  # a retried request: the text went with the first one
            return _end([Said(say(flow, lang, "voice_to_text"), lang)])
        head = Reply(text=say(flow, lang, "voice_texted"), lang=lang)
        try:
            result = await self.sender.send(address, [head, *outcome.replies])
            sent = not getattr(result, "opted_out", False)
        except ChannelError as exc:
            log.warning("could not text %s to carry on a call: %s", mask(address), exc)
            sent = False
        if sent:
            log.info("call %s carries on by text", heard.call)
            return _end([Said(say(flow, lang, "voice_to_text"), lang)])
        lead = [Said(say(flow, lang, "voice_to_text_failed"), lang)]
        current = outcome.session or session
        replies = engine.prompt_again(flow, current, VOICE)
        return self._render(flow, current, replies, lead, heard, base, now)

    # -- after a step -----------------------------------------------------------------------------
    def _after(
        self, outcome: Outcome, lead: list[Said], heard: Heard, base: dict[str, str], now: datetime
    ) -> Answer:
        session = outcome.session
        flow = outcome.flow
        if flow is None and session is not None:
            flow = self.services.registry.get(session.flow)
        replies = list(outcome.replies)
        if (
            outcome.duplicate
            and not replies
            and session is not None
            and flow is not None
            and session.status is Status.ACTIVE
        ):
            replies = engine.prompt_again(flow, session, VOICE)
        if session is None or flow is None:
            # No survey behind this (a flow file removed, the per-number limit): say, hang up.
            return _end([*lead, *(Said(speakable(r.text), r.lang) for r in replies)])
        return self._render(flow, session, replies, lead, heard, base, now)

    def _render(
        self,
        flow: Flow,
        session: Session,
        replies: list[Reply],
        lead: list[Said],
        heard: Heard,
        base: dict[str, str],
        now: datetime,
    ) -> Answer:
        said = turn(flow, session, replies)
        lang = session.lang
        full = Turn((*lead, *said.said), said.prompt, said.expect)
        if said.expect is None or not replies:
            return _end(list(full.said))
        settings = self.services.settings
        elapsed = now.timestamp() - int(base["t"])
        if heard.step + 1 > settings.voice_max_turns or elapsed > settings.voice_max_minutes * 60:
            log.info("call %s reached its bounds after %d answers", heard.call, heard.step)
            return _end([*lead, *said.said[: -len(said.prompt) or None],
                         Said(say(flow, lang, "voice_bye_limit"), lang)])  # fmt: skip
        state = base | {"n": str(heard.step + 1), "k": said.expect.shape}
        if said.expect.question is not None:
            state["q"] = said.expect.question
        return Answer(
            full,
            state,
            Said(say(flow, lang, "voice_silence"), lang),
            Said(say(flow, lang, "voice_bye_silent"), lang),
        )


def survey_keys(flows: Sequence[Flow]) -> dict[int, Flow]:
    """The key each survey has on a number that serves several: its own ``voice: key`` (the
    one on its posters; on a clash the first by id keeps it), the others the lowest free keys in
    order of id. At most 9 (one key each)."""
    keys: dict[int, Flow] = {}
    rest: list[Flow] = []
    for f in sorted(flows, key=lambda f: f.id):
        if f.voice.key is not None and f.voice.key not in keys:
            keys[f.voice.key] = f
        else:
            rest.append(f)
    free = (k for k in range(1, MAX_KEYS + 1) if k not in keys)
    for f, k in zip(rest, free, strict=False):
        keys[k] = f
    return keys


def _end(said: list[Said]) -> Answer:
    return Answer(Turn(tuple(s for s in said if s.text)), None)


def _started(state: Mapping[str, str], now: datetime) -> int:
    raw = state.get("t", "")
    if raw.isdigit() and len(raw) <= 12:
        return int(raw)
    return int(now.timestamp())


def _pick(options: list[str], heard: Heard, *, names: Mapping[str, str] | None) -> str | None:
    """The option a key press or spoken word picks from a menu (None if none)."""
    if heard.digits:
        keys = heard.digits.replace("#", "").strip()
        if keys.isdigit() and 1 <= int(keys) <= len(options):
            return options[int(keys) - 1] or None  # a gap among a menu's keys picks nothing
        return None
    said = normalise(heard.speech or "")
    if not said:
        return None
    for option in options:
        if not option:
            continue
        words = {normalise(option)}
        if names is not None and option in names:
            words |= set(normalise(names[option]).split())
        if said in words or any(w in said.split() for w in words if len(w) > 2):
            return option
    return None
