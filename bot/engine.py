"""The conversation engine: one pure function from (flow, session, message, now) to a Step.

No I/O, no clock, no randomness: the store and the adapters call :func:`step` and act on what it
returns. Internal values are built with ``model_construct`` (no re-validation) because everything
here is already valid and this runs for every message.

Flow edits mid-survey (``session.version != flow.version``) follow one rule, applied in
:func:`migrate`: answers are kept by question id (an answer to a removed question stays in the
response); if the question the respondent was on was removed, they continue at the first question
in the new file, in order, that is not yet answered and whose ``when:`` holds; an answer that is no
longer valid for its edited question (e.g. its choice was removed) is set aside and that question
is asked again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, NamedTuple, TypeVar

from bot import answers as parsing
from bot import expr, words
from bot.models import (
    Answer,
    AnswerValue,
    Event,
    Inbound,
    Pending,
    Reply,
    ReplyChoice,
    ReplyKind,
    Session,
    Status,
    Step,
    adopt,
    trusted,
)
from bot.phrases import phrase
from bot.prompts import answer_label, pipe, question_choices, question_reply
from bot.schema import (
    END,
    ChoiceQuestion,
    ConsentQuestion,
    DateQuestion,
    Flow,
    InfoQuestion,
    MultiQuestion,
    NumberQuestion,
    PostcodeQuestion,
    Question,
    ScaleQuestion,
    TextQuestion,
    YesNoQuestion,
)
from bot.text import LANGUAGE_NAMES, LText, tr

COMMANDS = ("stop", "start", "help", "back", "skip", "restart", "language", "progress", "repeat")

SPOKEN = "voice"
"""The channel that speaks (a phone call): the engine words its sentences to be heard (phrases'
spoken forms, a question's ``voice:`` text), greets every new call of a session under way with
"welcome back" (nothing said before can be seen again), and reads back spoken answers."""
SURE = 0.75
"""Speech recognised with less confidence than this is read back before it is recorded; free
text and postcodes that were spoken are always read back."""

_K = TypeVar("_K", bound=tuple[str, ...])
_V = TypeVar("_V")


def _per_version(cache: dict[_K, _V], key: _K, build: Callable[[], _V]) -> _V:
    """What ``build`` makes for one flow version, made once (flows are immutable). The cache
    starts afresh past 256 versions, so edited flows cannot grow it without bound."""
    hit = cache.get(key)
    if hit is None:
        hit = build()
        if len(cache) > 256:
            cache.clear()
        cache[key] = hit
    return hit


_VOCAB: dict[tuple[str, str, str], dict[str, Any]] = {}


def _vocab(flow: Flow, lang: str) -> dict[str, Any]:
    """Command and yes/no words for one flow version and language."""

    def build() -> dict[str, Any]:
        extra = flow.commands.get(lang)
        extra_en = flow.commands.get("en")
        found: dict[str, Any] = {}
        for kind in (*COMMANDS, "yes", "no"):
            more: list[str] = []
            for cw in (extra, extra_en):
                if cw is not None:
                    more.extend(getattr(cw, kind))
            if kind in ("yes", "no"):
                # Yes and no in every language of the flow, typed in script or transliterated.
                table = words.YES if kind == "yes" else words.NO
                for other in flow.languages:
                    more.extend(table.get(other, ()))
                    cw_other = flow.commands.get(other)
                    if cw_other is not None:
                        more.extend(getattr(cw_other, kind))
            found[kind] = words.words_for(kind, lang, more)
        return found

    return _per_version(_VOCAB, (flow.id, flow.version, lang), build)


def new_session(
    flow: Flow,
    *,
    respondent: str,
    channel: str,
    address: str | None,
    now: datetime,
    source: str | None = None,
    lang: str | None = None,
) -> Session:
    """A session that has not started: the first :func:`step` sends the intro and question 1."""
    return Session(
        flow=flow.id,
        version=flow.version,
        respondent=respondent,
        channel=channel,
        address=address,
        lang=lang if lang in flow.languages else flow.languages[0],
        source=source if flow.source(source) else None,
        started_at=now,
        last_at=now,
    )


class _Turn:
    """Mutable working state for one step; turned into an immutable Step at the end."""

    def __init__(self, flow: Flow, session: Session, now: datetime, channel: str = "") -> None:
        self.flow = flow
        self.s = session
        self.now = now
        self.voice = channel == SPOKEN
        self.replies: list[Reply] = []
        self.answers: list[Answer] = []
        self.cleared: list[str] = []
        self.events: list[Event] = []

    # -- output helpers ---------------------------------------------------------------------
    def say(self, text: str, kind: ReplyKind = "notice") -> None:
        if text:
            self.replies.append(
                trusted(
                    Reply,
                    text=text,
                    choices=[],
                    multi=False,
                    question=None,
                    kind=kind,
                    lang=self.s.lang,
                )
            )

    def phrase(self, name: str, /, **values: Any) -> str:
        return phrase(
            self.flow, self.s.lang, name, channel=SPOKEN if self.voice else None, **values
        )

    def text(self, text: LText, spoken: LText | None = None) -> str:
        """A flow text with earlier answers piped in; ``spoken`` instead on a call, if given."""
        chosen = spoken if self.voice and spoken is not None else text
        return pipe(chosen, self.flow, self.s.answers, self.s.lang)

    def question(self, q: Question, *, prefix: str = "") -> Reply:
        return question_reply(self.flow, q, self.s.lang, self.s.answers, prefix=prefix,
                              voice=self.voice)  # fmt: skip

    def event(self, kind: str, question: str | None = None, **data: Any) -> None:
        self.events.append(trusted(Event, kind=kind, question=question, data=data))

    def record(
        self,
        q: Question,
        value: AnswerValue | None,
        other: str | None = None,
        confidence: float | None = None,
    ) -> None:
        self.s.answers[q.id] = value
        if other is not None:
            self.s.other[q.id] = other
        else:
            self.s.other.pop(q.id, None)
        answer = trusted(
            Answer, question=q.id, value=value, other=other, at=self.now, confidence=confidence
        )
        self.answers.append(answer)
        self.event("answered" if value is not None else "skipped", q.id)

    def build(self) -> Step:
        return trusted(
            Step,
            session=self.s,
            replies=self.replies,
            answers=self.answers,
            cleared=self.cleared,
            events=self.events,
        )


def step(flow: Flow, session: Session, inbound: Inbound, now: datetime) -> Step:
    """Apply one inbound message to a session. Never raises for any message text."""
    s = _fork(session)
    t = _Turn(flow, s, now, inbound.channel)
    moved = False
    if s.version != flow.version:
        moved = migrate(flow, s)
        t.event("migrated", data_version=flow.version)
    gap = now - max(s.last_at, s.reminded_at or s.last_at)
    # Hot fields written straight into the fork's __dict__ (pydantic's setattr costs more, and
    # these values are valid by construction; _fork gave the session its own __dict__).
    s.__dict__["messages"] = s.messages + 1
    try:
        if moved and s.status is Status.ACTIVE and s.current is not None:
            # The question they were answering was removed: this message was meant for it, so
            # do not take it as an answer to another question; put the next one to them.
            _resume(t)
        else:
            _dispatch(t, inbound, gap)
    finally:
        s.__dict__["last_at"] = now
    return t.build()


def _fork(session: Session) -> Session:
    """A copy to work on (the caller's session is never changed), without re-validation."""
    values = dict(session.__dict__)
    values["asked"] = list(session.asked)
    values["answers"] = dict(session.answers)
    values["other"] = dict(session.other)
    return adopt(Session, values, set(session.__pydantic_fields_set__))


def _dispatch(t: _Turn, inbound: Inbound, gap: Any) -> None:
    s, flow = t.s, t.flow
    if inbound.lang and inbound.lang in flow.languages and not s.asked:
        s.lang = inbound.lang
    text = inbound.text if inbound.kind != "button" else ""
    norm = parsing.normalise(text) if text else ""
    command = _command(flow, s.lang, norm) if norm and len(norm) <= 40 else None

    if s.status is Status.OPTED_OUT:
        # After STOP we stay silent to everything but START: they asked for no more messages.
        if command == "start" or inbound.kind == "start":
            s.status = Status.ACTIVE
            s.finished_at = None
            t.event("rejoined")
            t.say(t.phrase("rejoined"))
            _resume(t)
        return
    if command == "stop" and s.status.finished:
        # Already finished: nothing more will be sent, and the response keeps its status.
        t.event("stop_after_finish")
        t.say(t.phrase("stopped"), "end")
        return
    if command == "stop":
        s.status = Status.OPTED_OUT
        s.finished_at = t.now
        s.pending = None
        t.event("opted_out", s.current)
        t.say(t.phrase("stopped"), "end")
        return
    if not flow.is_open(t.now):
        opens = flow.opens_at()
        if opens is not None and t.now < opens:
            t.say(t.phrase("not_open"), "end")
            return
        if s.status is Status.ACTIVE:
            s.status = Status.CLOSED
            s.finished_at = t.now
            t.event("closed", s.current)
        t.say(t.text(flow.closed_text, flow.voice.closed_text), "end")
        return
    if s.status is Status.ACTIVE and s.asked and gap > flow.expiry:
        # Silent past the flow's expiry: that attempt is over; this message starts afresh.
        t.event("expired", s.current)
        _restart(t, intro=True)
        return
    if s.status.finished:
        starting = command == "start" or inbound.kind == "start"
        if command == "restart" or (starting and s.status is not Status.COMPLETE):
            _restart(t, intro=False)
        elif command == "help":
            t.say(_help_text(t))
        else:
            t.say(t.phrase("declined" if s.status is Status.DECLINED else "finished"), "end")
        return
    if inbound.kind == "unsupported":
        t.say(t.phrase("unsupported"))
        _repeat(t)
        return
    if not s.asked:
        # A brand-new session: whatever they sent (a keyword, "hi", a deep link) starts it.
        t.event("started", data_source=s.source)
        t.say(_intro(t))
        _advance(t, from_index=-1)
        return
    if inbound.kind == "start":
        # A deep link or the web page opened again (or a new call): pick up where they left off.
        if gap >= flow.welcome_back_after or t.voice:
            t.say(t.phrase("welcome_back", **_progress_kw(flow, s)))
        _resume(t)
        return
    if command is not None and command != "start":
        _run_command(t, command, norm)
        return
    if command == "start":
        _repeat(t)
        return
    welcome = gap >= flow.welcome_back_after
    _answer(t, inbound, text, welcome)


def _intro(t: _Turn) -> str:
    return intro_text(t.flow, t.s.lang, t.s.answers, channel=SPOKEN if t.voice else "")


def intro_text(
    flow: Flow, lang: str, answers: Mapping[str, AnswerValue | None], *, channel: str = ""
) -> str:
    """The first message. A call always opens with the standard spoken welcome (who asks, how
    to stop, how to get help) and then the flow's ``voice: intro`` if it has one: the written
    intro usually says "text STOP". (Public for the cost estimate, which words every step as
    the engine does.)"""
    if channel != SPOKEN:
        return pipe(flow.intro, flow, answers, lang)
    head = phrase(
        flow, lang, "voice_intro", channel=SPOKEN, title=tr(flow.title, lang), council=flow.council
    )
    more = pipe(flow.voice.intro, flow, answers, lang) if flow.voice.intro is not None else ""
    return f"{head} {more}".strip()


def thanks_text(
    flow: Flow, lang: str, answers: Mapping[str, AnswerValue | None], *, channel: str = ""
) -> str:
    """The closing message of a completed survey (its ``voice: thanks`` on a call)."""
    spoken = flow.voice.thanks if channel == SPOKEN else None
    return pipe(spoken if spoken is not None else flow.thanks, flow, answers, lang)


# -- commands -----------------------------------------------------------------------------------


def _command(flow: Flow, lang: str, norm: str) -> str | None:
    vocab = _vocab(flow, lang)
    for kind in COMMANDS:
        if norm in vocab[kind]:
            return kind
    if norm.split(" ", 1)[0] in vocab["language"] and " " in norm:
        return "language"
    return None


def _help_text(t: _Turn) -> str:
    c = t.flow.contact
    parts = [p for p in (c.phone, c.email, c.web) if p]
    contact = (f"{c.name}: " if c.name else "") + ", ".join(parts)
    return t.phrase(
        "help", title=tr(t.flow.title, t.s.lang), council=t.flow.council, contact=contact
    )


def _run_command(t: _Turn, command: str, norm: str) -> None:
    s, flow = t.s, t.flow
    t.event("command", s.current, command=command)
    if command == "help":
        t.say(_help_text(t))
        _repeat(t)
    elif command == "progress":
        n, total = _progress(flow, s)
        t.say(t.phrase("progress", n=n, total=total))
        _repeat(t)
    elif command == "restart":
        _restart(t, intro=False)
    elif command == "language":
        _language(t, norm)
    elif command == "repeat":
        _prompt_again(t)
    elif command == "back":
        _back(t)
    elif command == "skip":
        q = _current(t)
        if q is None:
            _repeat(t)
        elif q.optional:
            s.pending = None
            t.record(q, None)
            t.say(t.phrase("skipped"))
            _advance(t, from_index=flow.position(q.id))
        else:
            t.say(t.phrase("cannot_skip"))
            _repeat(t)


def _language(t: _Turn, norm: str) -> None:
    s, flow = t.s, t.flow
    if len(flow.languages) < 2:
        _repeat(t)
        return
    _, _, rest = norm.partition(" ")
    chosen = _pick_language(flow, rest) if rest else None
    if chosen:
        _set_language(t, chosen)
        return
    s.pending = trusted(Pending, kind="language", value=None, confidence=None)
    t.replies.append(_language_menu(t))


def _language_menu(t: _Turn) -> Reply:
    choices = [
        trusted(ReplyChoice, key=str(i + 1), value=lang, label=LANGUAGE_NAMES.get(lang, lang))
        for i, lang in enumerate(t.flow.languages)
    ]
    channel = SPOKEN if t.voice else None
    return trusted(
        Reply,
        lang=t.s.lang,
        # In every language of the flow: whoever asks may not read the current one.
        text="\n".join(
            dict.fromkeys(
                phrase(t.flow, lang, "language_menu", channel=channel)
                for lang in (t.s.lang, *t.flow.languages)
            )
        ),
        choices=choices,
        multi=False,
        question=None,
        kind="question",
    )


def _pick_language(flow: Flow, norm: str) -> str | None:
    norm = norm.strip()
    if norm.isdigit() and 1 <= int(norm) <= len(flow.languages):
        return flow.languages[int(norm) - 1]
    for lang in flow.languages:
        name = parsing.normalise(LANGUAGE_NAMES.get(lang, lang))
        if norm == lang or (norm and (norm in name.split() or norm == name)):
            return lang
    return None


def _set_language(t: _Turn, lang: str) -> None:
    t.s.lang = lang
    t.s.pending = None
    t.event("language", t.s.current, lang=lang)
    t.say(t.phrase("language_set"))
    _repeat(t)


def _back(t: _Turn) -> None:
    s, flow = t.s, t.flow
    s.pending = None
    # `asked` ends with the current question; go to the last answerable one before it.
    history = list(s.asked)
    if history and history[-1] == s.current:
        history.pop()
    while history:
        q = flow.question(history[-1])
        if q is not None and q.answerable:
            break
        history.pop()
    if not history:
        t.say(t.phrase("back_none"))
        _repeat(t)
        return
    s.asked = history
    s.current = history[-1]
    s.misses = 0
    t.event("back", s.current)
    _ask(t, _current_required(t), append=False)


def _restart(t: _Turn, *, intro: bool) -> None:
    s = t.s
    t.cleared.extend(q for q in s.answers)
    s.answers.clear()
    s.other.clear()
    s.asked.clear()
    s.current = None
    s.pending = None
    s.misses = 0
    s.status = Status.ACTIVE
    s.finished_at = None
    s.started_at = t.now
    s.reminders = 0
    t.event("restarted")
    if intro:
        t.say(_intro(t))
    else:
        t.say(t.phrase("restart"))
    _advance(t, from_index=-1)


# -- answers ------------------------------------------------------------------------------------


def _current(t: _Turn) -> Question | None:
    return t.flow.question(t.s.current) if t.s.current else None


def _current_required(t: _Turn) -> Question:
    q = _current(t)
    assert q is not None
    return q


def _answer(t: _Turn, inbound: Inbound, text: str, welcome: bool) -> None:
    s, flow = t.s, t.flow
    q = _current(t)
    if q is None:
        _resume(t)
        return
    pending = s.pending
    vocab = _vocab(flow, s.lang)
    if pending is not None and pending.kind == "language":
        chosen = _pick_language(flow, parsing.normalise(text))
        if chosen:
            _set_language(t, chosen)
            return
        s.pending = None
    if pending is not None and pending.kind == "other":
        _other_text(t, q, text, inbound.confidence)
        return
    if pending is not None and pending.kind == "confirm":
        yn = parsing.parse_yes_no(text, s.lang, vocab["yes"], vocab["no"])
        s.pending = None
        if yn is True:
            _accept(t, q, pending.value, pending.confidence)
            return
        if yn is False:
            _ask(t, q, append=False)
            return
        # Anything else is a fresh try at the answer.
    pressed: parsing.Outcome | None = None
    if inbound.kind == "button" and inbound.question == q.id:
        if isinstance(q, ChoiceQuestion) and (chosen := _pressed(q, inbound.text, s.lang)):
            # A pressed choice is that choice: never re-read its key as a number ("3" on a
            # banded question would also be "3 hours").
            pressed = parsing.Ok(chosen)
        text = _button_text(q, inbound.text)
    outcome = pressed or _parse(flow, q, text, s.lang, vocab, _today(t.now))
    heard = inbound.confidence
    if (
        pending is not None
        and pending.kind == "confirm"
        and isinstance(outcome, parsing.Confirm)
        and outcome.value == pending.value
    ):
        _accept(t, q, outcome.value, heard)  # "send your answer again": the same answer is a yes
        return
    if heard is not None and isinstance(outcome, parsing.Ok) and _read_back(q, heard):
        # Spoken: free text and postcodes are always read back, anything else when unsure.
        outcome = parsing.Confirm(outcome.value, _said(q, outcome.value, s.lang))
    if isinstance(outcome, parsing.Ok):
        if welcome:
            t.say(t.phrase("welcome_back", **_progress_kw(flow, s)))
        _accept(t, q, outcome.value, heard)
        return
    if welcome:
        # After a long gap an unclear message is a greeting, not a wrong answer.
        t.say(t.phrase("welcome_back", **_progress_kw(flow, s)))
        _ask(t, q, append=False)
        return
    if isinstance(outcome, parsing.Invalid) and outcome.reason == "query":
        # "who is this?": say who is asking and put the question again; not a miss.
        t.event("query", q.id)
        t.say(_help_text(t))
        _repeat(t)
        return
    if isinstance(outcome, parsing.Confirm):
        s.pending = trusted(Pending, kind="confirm", value=outcome.value, confidence=heard)
        t.event("confirm", q.id)
        t.replies.append(_confirm_reply(t, q, outcome.value, outcome.label))
        return
    _miss(t, q, outcome.reason)


def _confirm_reply(t: _Turn, q: Question, value: AnswerValue | None, label: str) -> Reply:
    key = _key_for(q, value, t.s.lang)
    # "Did you say ... talk to.?": a recogniser's (or a typist's) full stop ends the quote.
    label = label.rstrip().rstrip(".!?\u0964\u06d4")
    text = (
        t.phrase("confirm", key=key, label=label) if key else t.phrase("confirm_plain", label=label)
    )
    return trusted(
        Reply, text=text, choices=[], multi=False, question=q.id, kind="question", lang=t.s.lang
    )


def _read_back(q: Question, confidence: float) -> bool:
    return isinstance(q, TextQuestion | PostcodeQuestion) or confidence < SURE


def _said(q: Question, value: AnswerValue, lang: str) -> str:
    """A spoken answer in words, to read back: the words heard, the choice, the date..."""
    if isinstance(q, DateQuestion) and isinstance(value, str):
        parts = value.split("-")
        if len(parts) >= 2 and all(p.isdigit() for p in parts):
            month = words.MONTH_NAMES[int(parts[1]) - 1] if 1 <= int(parts[1]) <= 12 else ""
            if month:
                return " ".join([*(parts[2:3]), month, parts[0]])
    return answer_label(q, value, lang)


def _prompt_again(t: _Turn) -> None:
    """REPEAT: what they are being asked now, word for word (a confirmation, an "other" text,
    the language menu, or the question)."""
    s, pending = t.s, t.s.pending
    q = _current(t)
    if q is not None and pending is not None and pending.kind == "confirm":
        t.replies.append(_confirm_reply(t, q, pending.value, _said(q, pending.value, s.lang)
                                        if pending.value is not None else ""))  # fmt: skip
        return
    other = _other_of(q) if q is not None else None
    if q is not None and pending is not None and pending.kind == "other" and other is not None:
        t.replies.append(_other_prompt(t, q, other))
        return
    if pending is not None and pending.kind == "language":
        t.replies.append(_language_menu(t))
        return
    _repeat(t)


def understand(flow: Flow, q: Question, text: str, lang: str, now: datetime) -> parsing.Outcome:
    """How the engine reads ``text`` as an answer to ``q`` (for tools and the corpus benchmark)."""
    return _parse(flow, q, text, lang, _vocab(flow, lang), _today(now))


def _today(now: datetime) -> date:
    # The UTC date: a reply read an hour either side of midnight means the same.
    return now.date()


def _context(flow: Flow, today: date) -> parsing.Context:
    return _per_version(
        _CONTEXTS,
        (flow.id, flow.version, today.isoformat()),
        lambda: parsing.Context(tuple(flow.languages), flow.answer_words or None, today),
    )


_CONTEXTS: dict[tuple[str, str, str], parsing.Context] = {}


_PARSED: dict[tuple[str, str, str, str, str, int], tuple[Question, parsing.Outcome]] = {}
_MEMO_MAX_TEXT = 40


def _parse(
    flow: Flow, q: Question, text: str, lang: str, vocab: dict[str, Any], today: date
) -> parsing.Outcome:
    """``parse_answer``, memoised for short texts: it is pure, and thousands of respondents send
    the same "1", "yes" or "agree" to the same question."""
    if len(text) > _MEMO_MAX_TEXT:
        return parsing.parse_answer(q, text, lang, vocab["yes"], vocab["no"], _context(flow, today))
    key = (flow.id, flow.version, q.id, lang, text, today.toordinal())
    hit = _PARSED.get(key)
    if hit is not None and hit[0] is q:
        outcome = hit[1]
    else:
        outcome = parsing.parse_answer(
            q, text, lang, vocab["yes"], vocab["no"], _context(flow, today)
        )
        if len(_PARSED) > 65536:
            _PARSED.clear()
        _PARSED[key] = (q, outcome)
    if isinstance(outcome, parsing.Ok) and isinstance(outcome.value, list):
        return parsing.Ok(list(outcome.value), outcome.other_text)  # never share a mutable list
    return outcome


def _pressed(q: ChoiceQuestion, value: str, lang: str) -> str | None:
    """The choice a button names: by its id, or by its key (a phone keypad has only keys)."""
    if value in {c.id for c in q.all_choices()}:
        return value
    key = value.strip().upper()
    return next((c.value for c in question_choices(q, lang) if c.key.upper() == key), None)


def _button_text(q: Question, value: str) -> str:
    """A button press carries the choice id; turn it into what a person would type."""
    if isinstance(q, ChoiceQuestion | MultiQuestion):
        by_id = {c.value: c.key for c in question_choices(q, "en")}
        picks = [by_id.get(v, "") for v in value.split(",")]
        return " ".join(p for p in picks if p) or "\x00"
    return value


def _key_for(q: Question, value: AnswerValue | None, lang: str) -> str | None:
    if isinstance(value, str | int) and not isinstance(value, bool):
        for c in question_choices(q, lang):
            if c.value == str(value):
                return c.key
    return None


def _miss(t: _Turn, q: Question, reason: str) -> None:
    s, flow = t.s, t.flow
    s.misses += 1
    t.event("not_understood", q.id, reason=reason)
    parts = [_reason_text(t, q, reason)]
    if q.reprompt is not None:
        parts.append(pipe(q.reprompt, flow, s.answers, s.lang))
    elif q.hint is not None:
        parts.append(pipe(q.hint, flow, s.answers, s.lang))
    if s.misses >= flow.max_misses:
        parts.append(t.phrase("offer_skip" if q.optional else "offer_help"))
    reply = t.question(q)
    # Re-send the choices (not the whole question) so the respondent sees how to answer.
    t.replies.append(
        trusted(
            Reply,
            lang=t.s.lang,
            text=" ".join(p for p in parts if p),
            choices=reply.choices,
            multi=reply.multi,
            question=q.id,
            kind="error",
        )
    )


def _reason_text(t: _Turn, q: Question, reason: str) -> str:
    if reason == "out_of_range":
        if isinstance(q, NumberQuestion):
            lo = "" if q.min is None else _num(q.min)
            hi = "" if q.max is None else _num(q.max)
            if lo and hi:
                return t.phrase("out_of_range", min=lo, max=hi)
            return t.phrase("not_understood")  # (there is no list: not "a number from the list")
        if isinstance(q, DateQuestion):
            return t.phrase("not_a_date")
        if isinstance(q, ScaleQuestion):
            return t.phrase("out_of_range", min=q.low, max=q.high)
        return t.phrase("not_understood_choice")
    if reason == "too_long" and isinstance(q, TextQuestion):
        return t.phrase("too_long", max=q.max_length)
    if reason == "too_many" and isinstance(q, MultiQuestion):
        return t.phrase("too_many", max=q.max_picks)
    if reason == "too_few" and isinstance(q, MultiQuestion):
        return t.phrase("too_few", min=q.min_picks)
    if reason == "exclusive":
        return t.phrase("exclusive", label="None of these")
    if reason == "not_a_date" and isinstance(q, DateQuestion):
        return t.phrase(
            {"day": "not_a_date", "month": "not_a_date_month", "year": "not_a_date_year"}[
                q.precision
            ]
        )
    if reason in ("not_a_postcode", "too_short", "not_integer"):
        return t.phrase(reason)
    if isinstance(q, YesNoQuestion | ConsentQuestion):
        return t.phrase("yes_or_no")
    if isinstance(q, ChoiceQuestion | MultiQuestion | ScaleQuestion):
        return t.phrase("not_understood_choice")
    return t.phrase("not_understood")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _accept(
    t: _Turn, q: Question, value: AnswerValue | None, confidence: float | None = None
) -> None:
    s, flow = t.s, t.flow
    s.__dict__["pending"] = None  # (hot fields written directly, as in step())
    s.__dict__["misses"] = 0
    other = _other_of(q)
    picked_other = other is not None and (
        value == other.id or (isinstance(value, list) and other.id in value)
    )
    if picked_other and other is not None:
        s.pending = trusted(Pending, kind="other", value=value, confidence=None)
        t.replies.append(_other_prompt(t, q, other))
        return
    t.record(q, value, None, confidence)
    if isinstance(q, ConsentQuestion) and value is False:
        s.status = Status.DECLINED
        s.finished_at = t.now
        t.event("declined", q.id)
        t.say(t.text(q.declined), "end")
        return
    _advance(t, from_index=flow.position(q.id))


def _other_of(q: Question) -> Any:
    return q.other if isinstance(q, ChoiceQuestion | MultiQuestion) else None


def _other_prompt(t: _Turn, q: Question, other: Any) -> Reply:
    return trusted(
        Reply,
        lang=t.s.lang,
        text=t.text(other.prompt),
        choices=[],
        multi=False,
        question=q.id,
        kind="question",
    )


def _other_text(t: _Turn, q: Question, text: str, confidence: float | None = None) -> None:
    s = t.s
    other = _other_of(q)
    pending = s.pending
    cleaned = " ".join(text.split())
    if other is None or pending is None:
        s.pending = None
        _ask(t, q, append=False)
        return
    if not cleaned:
        t.replies.append(
            trusted(
                Reply,
                lang=t.s.lang,
                text=t.phrase("too_short"),
                choices=[],
                multi=False,
                question=q.id,
                kind="error",
            )
        )
        return
    if len(cleaned) > other.max_length:
        t.replies.append(
            trusted(
                Reply,
                lang=t.s.lang,
                text=t.phrase("too_long", max=other.max_length),
                choices=[],
                multi=False,
                question=q.id,
                kind="error",
            )
        )
        return
    s.pending = None
    s.misses = 0
    t.record(q, pending.value, cleaned, confidence)
    _advance(t, from_index=t.flow.position(q.id))


# -- moving through the flow ----------------------------------------------------------------------


_MISSING = object()


class _When(NamedTuple):
    """A question's parsed condition, the answers it reads, and its memo of results."""

    cond: expr.Expr
    names: tuple[str, ...]
    memo: dict[tuple[object, ...], bool]


_WHEN: dict[tuple[str, str], dict[str, _When]] = {}
_MEMO_MAX = 4096
"""Results kept per condition (distinct combinations of the answers it reads)."""


def _whens(flow: Flow) -> dict[str, _When]:
    """Each conditional question's parsed ``when:``, once per flow version."""

    def build() -> dict[str, _When]:
        found: dict[str, _When] = {}
        for q in flow.questions:
            if q.when:
                cond = expr.parse(q.when)
                names = tuple(dict.fromkeys(r.name for r in expr.references(cond)))
                found[q.id] = _When(cond, names, {})
        return found

    return _per_version(_WHEN, (flow.id, flow.version), build)


def _due(flow: Flow, q: Question, answers: dict[str, AnswerValue | None]) -> bool:
    """Whether ``q``'s condition holds. A condition reads only the answers it names, so its
    result is memoised on those values (respondents share them: it runs for every message)."""
    if not q.when:
        return True
    when = _whens(flow).get(q.id)
    if when is None:
        return True
    key = tuple([_hashable(answers.get(name, _MISSING)) for name in when.names])
    hit = when.memo.get(key)
    if hit is None:
        hit = expr.evaluate(when.cond, answers)
        if len(when.memo) >= _MEMO_MAX:
            when.memo.clear()
        when.memo[key] = hit
    return hit


def _hashable(value: object) -> object:
    # A multi answer is a list; keep the type apart so ["a"] and "a" never share an entry.
    return ("<list>", *value) if isinstance(value, list) else (type(value).__name__, value)


def _jump(flow: Flow, q: Question, answers: dict[str, AnswerValue | None]) -> int | None:
    """Index to continue from after ``q`` (before ``when:`` filtering); len(questions) = end."""
    here = flow.position(q.id)
    nxt = q.next
    if nxt is None:
        return here + 1
    if isinstance(nxt, dict):
        value = answers.get(q.id)
        key: str | None
        if isinstance(value, bool):
            key = "yes" if value else "no"
        elif isinstance(value, list):
            key = next((v for v in value if v in nxt), None)
        elif value is None:
            key = None
        else:
            key = str(value)
        target = nxt.get(key) if key is not None else None
        if target is None:
            target = nxt.get("default")
        if target is None:
            return here + 1
    else:
        target = nxt
    if target == END:
        return len(flow.questions)
    pos = flow.position(target)
    return pos if pos >= 0 else here + 1


def next_question(
    flow: Flow, answers: dict[str, AnswerValue | None], after: Question | None
) -> Question | None:
    """The next question to put, honouring ``next:`` and ``when:``; None when finished."""
    i = 0 if after is None else _jump(flow, after, answers)
    if i is None:
        return None
    qs = flow.questions
    while i < len(qs):
        q = qs[i]
        if _due(flow, q, answers):
            return q
        i += 1
    return None


def _advance(t: _Turn, *, from_index: int) -> None:
    s, flow = t.s, t.flow
    after = flow.questions[from_index] if from_index >= 0 else None
    guard = 0
    while True:
        q = next_question(flow, s.answers, after)
        guard += 1
        if q is None or guard > len(flow.questions) + 1:
            _complete(t)
            return
        if isinstance(q, InfoQuestion):
            t.replies.append(t.question(q))
            s.asked.append(q.id)
            after = q
            continue
        _ask(t, q, append=True)
        return


def _ask(t: _Turn, q: Question, *, append: bool) -> None:
    s = t.s
    s.__dict__["current"] = q.id
    if append:
        s.__dict__["misses"] = 0
    if append and (not s.asked or s.asked[-1] != q.id):
        s.asked.append(q.id)
    t.replies.append(t.question(q))


def _repeat(t: _Turn) -> None:
    q = _current(t)
    if q is not None:
        t.replies.append(t.question(q))


def _resume(t: _Turn) -> None:
    """Continue where the respondent is: their current question, or the next one due."""
    q = _current(t)
    if q is not None:
        _ask(t, q, append=False)
    elif not t.s.asked:
        _advance(t, from_index=-1)
    else:
        last = t.flow.question(t.s.asked[-1])
        _advance(t, from_index=t.flow.position(last.id) if last else -1)


def _complete(t: _Turn) -> None:
    s = t.s
    s.current = None
    s.pending = None
    s.status = Status.COMPLETE
    s.finished_at = t.now
    t.event("completed")
    t.say(thanks_text(t.flow, s.lang, s.answers, channel=SPOKEN if t.voice else ""), "end")


# -- progress -------------------------------------------------------------------------------------


def _progress(flow: Flow, s: Session) -> tuple[int, int]:
    """(position of the current question, estimated total) counting only answerable questions.

    The rest of the route is estimated: a question whose condition depends on answers not given
    yet counts as likely, so the total does not shrink as conditions become known."""
    answered = sum(1 for qid in s.asked if qid != s.current and _answerable(flow, qid))
    remaining = 0
    q = flow.question(s.current) if s.current else None
    seen = 0
    while q is not None and seen <= len(flow.questions):
        seen += 1
        if q.answerable:
            remaining += 1
        q = _likely_next(flow, s.answers, q)
    return answered + 1, max(answered + remaining, answered + 1)


def _likely_next(
    flow: Flow, answers: dict[str, AnswerValue | None], q: Question
) -> Question | None:
    i = _jump(flow, q, answers) if q.id in answers else flow.position(q.id) + 1
    qs = flow.questions
    while i is not None and i < len(qs):
        cand = qs[i]
        when = _whens(flow).get(cand.id) if cand.when else None
        if (
            when is None
            or expr.evaluate(when.cond, answers)
            or any(name not in answers for name in when.names)
        ):
            return cand
        i += 1
    return None


def _answerable(flow: Flow, qid: str) -> bool:
    q = flow.question(qid)
    return q is not None and q.answerable


def _progress_kw(flow: Flow, s: Session) -> dict[str, int]:
    n, total = _progress(flow, s)
    return {"answered": n - 1, "total": total, "n": n}


def progress(flow: Flow, session: Session) -> tuple[int, int]:
    """Public: (answered so far, estimated total) for reminders and reports."""
    n, total = _progress(flow, session)
    return n - 1, total


def reminder(flow: Flow, session: Session) -> list[Reply]:
    """The nudge for a respondent who went quiet: their progress, then the current question."""
    answered, total = progress(flow, session)
    lang = session.lang
    title = tr(flow.title, lang)
    if flow.reminders.text is not None:
        head = tr(flow.reminders.text, lang).format_map(
            _Safe(progress=f"{answered} of {total}", title=title, answered=answered, total=total)
        )
    else:
        head = phrase(flow, lang, "reminder", answered=answered, total=total, title=title)
    q = flow.question(session.current) if session.current else None
    if q is None:
        return [
            trusted(
                Reply, text=head, choices=[], multi=False, question=None, kind="notice", lang=lang
            )
        ]
    return [question_reply(flow, q, lang, session.answers, prefix=head)]


def prompt_again(flow: Flow, session: Session, channel: str = "") -> list[Reply]:
    """What to send when a provider delivers the respondent's last message again (its reply most
    likely never arrived): the question they are on now, so they never answer the next question
    blind. Nothing when they are not on a plain question (finished, stopped, or mid-way through a
    confirmation or an "other" text, which the step's own reply worded)."""
    if session.status is not Status.ACTIVE or session.pending is not None:
        return []
    if session.version != flow.version:
        return []  # the next message migrates the session first; do not guess ahead of it
    q = flow.question(session.current) if session.current else None
    if q is None:
        return []
    return [question_reply(flow, q, session.lang, session.answers, voice=channel == SPOKEN)]


class _Safe(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


# -- flow versions --------------------------------------------------------------------------------


def migrate(flow: Flow, s: Session) -> bool:
    """Move a session started on an older version of ``flow`` onto this one (rule: module doc).

    Returns True when the question the respondent was on no longer exists."""
    for qid, value in list(s.answers.items()):
        q = flow.question(qid)
        if q is not None and value is not None and not valid_value(q, value):
            del s.answers[qid]
            s.other.pop(qid, None)
    s.asked = [qid for qid in s.asked if flow.question(qid) is not None]
    cur = flow.question(s.current) if s.current else None
    if s.current and (cur is None or (s.pending is not None and s.pending.kind != "language")):
        s.pending = None
    moved = False
    if s.status is Status.ACTIVE and s.current and cur is None:
        moved = True
        s.current = None
        nxt = _first_unanswered(flow, s)
        s.current = nxt.id if nxt else None
        if nxt is not None and (not s.asked or s.asked[-1] != nxt.id):
            s.asked.append(nxt.id)
    s.version = flow.version
    return moved


def _first_unanswered(flow: Flow, s: Session) -> Question | None:
    for q in flow.questions:
        if q.answerable and q.id not in s.answers and _due(flow, q, s.answers):
            return q
    return None


def valid_value(q: Question, value: AnswerValue | None) -> bool:
    """Whether ``value`` is an acceptable stored answer for ``q`` (None = skipped, optional only)."""
    if value is None:
        return q.optional
    if isinstance(q, ChoiceQuestion):
        return isinstance(value, str) and value in {c.id for c in q.all_choices()}
    if isinstance(q, MultiQuestion):
        if not isinstance(value, list) or not value:
            return False
        ids = {c.id: c for c in q.all_choices()}
        if any(v not in ids for v in value) or len(set(value)) != len(value):
            return False
        if len(value) > 1 and any(ids[v].exclusive for v in value):
            return False
        exclusive_only = len(value) == 1 and ids[value[0]].exclusive
        if not exclusive_only and len(value) < q.min_picks:
            return False
        return q.max_picks is None or len(value) <= q.max_picks
    if isinstance(q, ScaleQuestion):
        return isinstance(value, int) and not isinstance(value, bool) and q.low <= value <= q.high
    if isinstance(q, YesNoQuestion | ConsentQuestion):
        return isinstance(value, bool)
    if isinstance(q, NumberQuestion):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if q.integer and not float(value).is_integer():
            return False
        return (q.min is None or value >= q.min) and (q.max is None or value <= q.max)
    if isinstance(q, TextQuestion):
        return isinstance(value, str) and q.min_length <= len(value) <= q.max_length
    if isinstance(q, DateQuestion):
        if not isinstance(value, str):
            return False
        parts = value.split("-")
        need = {"day": 3, "month": 2, "year": 1}[q.precision]
        return (
            len(parts) >= need and parts[0].isdigit() and q.min_year <= int(parts[0]) <= q.max_year
        )
    return isinstance(value, str)


__all__ = [
    "answer_label",
    "migrate",
    "new_session",
    "next_question",
    "progress",
    "reminder",
    "step",
    "valid_value",
]
