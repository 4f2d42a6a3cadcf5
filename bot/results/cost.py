"""What a survey costs by SMS: segments per completed response, and the total for N respondents.

**What is counted.** Outbound, every message the bot sends one respondent who completes the
survey, exactly as the SMS adapter sends it (its own rendering, handed in as ``render``:
``adapters.sms_twilio.render.messages``; results never import adapters): the replies of one
step (intro, info messages, the next question; or the thanks at the end) are rendered with
:func:`bot.sms.render` and joined into one text. Plus the reminders: ``N`` per
respondent (the flow's ``reminders.max`` unless told otherwise), each the reminder text and the
current question as :func:`bot.engine.reminder` words it. Outbound segments are what a council
pays for on Twilio UK. Inbound: one segment for the keyword that starts the survey and one per
answer (short replies such as ``2`` or ``YES``); Twilio prices those separately.

**Routes.** A question with ``when:`` may be asked or passed over ("maybe"), and ``next:`` jumps
follow :func:`bot.validate.successors`. Over every route of that graph the shortest and the
longest (by outbound segments, then by answers) are found exactly, by dynamic programming over
(question, info messages waiting to go out with the next question): no enumeration, so no cap is
needed however many routes a flow has (they are counted, too). Treating conditions as "maybe"
makes the longest route an upper bound (it may ask every ethnic-group follow-up at once).

**Typical.** The route of a respondent who answers the **first choice** of every choice or scale
question, YES to yes/no and consent, and does not skip, with the real ``when:`` conditions
(:func:`bot.engine.next_question`). Every such route is one of the "maybe" routes, so
shortest <= typical <= longest (reminders aside, see below).

**Reminders on a route.** Each reminder repeats the question the respondent stopped at, so its
cost depends on where: the longest route counts the costliest reminder on it, the shortest the
cheapest, the typical one the median. A piped answer (``{role}``) is filled with the typical
answer on every route.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from bot import engine, sms
from bot.errors import SurveybotError
from bot.models import AnswerValue, Reply, Session
from bot.prompts import pipe, question_reply
from bot.schema import (
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
    YesNoQuestion,
)
from bot.text import LANGUAGE_NAMES
from bot.validate import successors

INTRO = "intro"
THANKS = "thanks"
Item = str | int
"""One piece of an outbound step: ``"intro"``, ``"thanks"`` or a question index."""

RouteName = Literal["shortest", "typical", "longest"]
NEAR = 20
"""A multi-part message this many characters (or fewer) over a boundary is "nearly" one part less."""


class CostError(SurveybotError):
    """The estimate cannot be made (e.g. a language the flow is not written in)."""


@dataclass(frozen=True)
class Part:
    """One outbound step: what it is made of and what it costs."""

    what: str  # "intro + consent", "p3_support", "thanks", "reminder at age"
    messages: tuple[str, ...]  # the SMS texts as sent (one, unless over the adapter's limit)
    segments: int
    encoding: sms.Encoding
    length: int  # septets (GSM-7) or UTF-16 units (UCS-2), over all messages
    culprits: tuple[str, ...]  # characters that forced UCS-2

    @property
    def text(self) -> str:
        return "\n".join(self.messages)


@dataclass(frozen=True)
class Route:
    name: RouteName
    asked: tuple[str, ...]  # question ids in the order asked (info messages included)
    steps: tuple[Part, ...]  # the conversation, intro to thanks
    reminders: tuple[Part, ...]  # the reminders counted (N copies of one)
    answers: int  # questions answered

    @property
    def conversation_segments(self) -> int:
        return sum(p.segments for p in self.steps)

    @property
    def reminder_segments(self) -> int:
        return sum(p.segments for p in self.reminders)

    @property
    def outbound(self) -> int:
        return self.conversation_segments + self.reminder_segments

    @property
    def inbound(self) -> int:
        """The keyword that starts the survey, then one short reply per answer."""
        return 1 + self.answers


@dataclass(frozen=True)
class Flag:
    """A message that costs more than it needs to (or a note that it cannot be helped)."""

    what: str
    kind: Literal["ucs2", "extra_segment"]
    message: str


@dataclass(frozen=True)
class Estimate:
    flow: Flow
    lang: str
    respondents: int
    price: float
    inbound_price: float | None
    reminders: int
    routes: dict[RouteName, Route]
    route_count: int
    flags: list[Flag] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def cost(self, route: Route) -> float:
        """Outbound cost of one completed response on ``route`` (inbound: :meth:`inbound_cost`)."""
        return route.outbound * self.price

    def inbound_cost(self, route: Route) -> float | None:
        return None if self.inbound_price is None else route.inbound * self.inbound_price

    def total(self, route: Route) -> float:
        """Outbound plus (when priced) inbound, for every respondent."""
        inbound = self.inbound_cost(route) or 0.0
        return (self.cost(route) + inbound) * self.respondents


# --- rendering one step ------------------------------------------------------------------------

SmsRender = Callable[[Sequence[Reply]], list[str]]
"""The SMS texts the Twilio adapter sends for one step's replies: the adapter owns how replies
are joined (``adapters.sms_twilio.render.messages``), and the caller hands it in."""

WhatsAppCount = Callable[[Sequence[Reply]], int]
"""How many WhatsApp messages the adapter sends for one step's replies (the caller hands in
the adapter's own count: ``adapters.renderers.whatsapp_messages``)."""


def part(what: str, replies: Sequence[Reply], render: SmsRender) -> Part:
    msgs = tuple(render(replies))
    infos = [sms.info(m) for m in msgs]
    ucs2 = any(i.encoding == "UCS-2" for i in infos)
    culprits = tuple(dict.fromkeys(c for i in infos for c in i.culprits))
    return Part(
        what=what,
        messages=msgs,
        segments=sum(i.segments for i in infos),
        encoding="UCS-2" if ucs2 else "GSM-7",
        length=sum(i.length for i in infos),
        culprits=culprits,
    )


def sample_answer(q: Question) -> AnswerValue | None:
    """What the typical respondent answers: the first choice, YES, the lowest point, ..."""
    if isinstance(q, ChoiceQuestion):
        return q.all_choices()[0].id
    if isinstance(q, MultiQuestion):
        return [q.all_choices()[0].id]
    if isinstance(q, ScaleQuestion):
        return q.low
    if isinstance(q, YesNoQuestion | ConsentQuestion):
        return True
    if isinstance(q, NumberQuestion):
        low = q.min if q.min is not None else 1
        high = q.max if q.max is not None else low
        value = min(max(1, low), high)
        return int(value) if q.integer else value
    if isinstance(q, DateQuestion):
        year = min(max(1960, q.min_year), q.max_year)
        return {"year": f"{year}", "month": f"{year}-04", "day": f"{year}-04-03"}[q.precision]
    if isinstance(q, PostcodeQuestion):
        return "LE1"
    if isinstance(q, InfoQuestion):
        return None
    return "Yes"  # text: a short reply; only seen where it is piped into a later question


class _Replies:
    """The replies of a step's items, in one language, with the typical answers."""

    def __init__(self, flow: Flow, lang: str) -> None:
        self.flow = flow
        self.lang = lang
        self.answers: dict[str, AnswerValue | None] = {
            q.id: sample_answer(q) for q in flow.questions if q.answerable
        }

    def reply(self, item: Item) -> Reply:
        flow, lang = self.flow, self.lang
        if item == INTRO:
            return Reply(text=pipe(flow.intro, flow, self.answers, lang), lang=lang)
        if item == THANKS:
            return Reply(text=pipe(flow.thanks, flow, self.answers, lang), kind="end", lang=lang)
        assert isinstance(item, int)
        return question_reply(flow, flow.questions[item], lang, self.answers)

    def name(self, item: Item) -> str:
        return item if isinstance(item, str) else self.flow.questions[item].id


class _Steps(_Replies):
    """Renders a step (a tuple of items) once, as SMS (``render``)."""

    def __init__(self, flow: Flow, lang: str, render: SmsRender) -> None:
        super().__init__(flow, lang)
        self.render = render
        self._cache: dict[tuple[Item, ...], Part] = {}

    def __call__(self, items: tuple[Item, ...]) -> Part:
        hit = self._cache.get(items)
        if hit is None:
            what = " + ".join(self.name(i) for i in items)
            hit = part(what, [self.reply(i) for i in items], self.render)
            self._cache[items] = hit
        return hit


def group(flow: Flow, asked: Sequence[str]) -> list[tuple[Item, ...]]:
    """The outbound steps of a route: info messages go out with the next question (or thanks)."""
    steps: list[tuple[Item, ...]] = []
    buf: tuple[Item, ...] = (INTRO,)
    for qid in asked:
        i = flow.position(qid)
        buf = (*buf, i)
        if flow.questions[i].answerable:
            steps.append(buf)
            buf = ()
    steps.append((*buf, THANKS))
    return steps


# --- routes --------------------------------------------------------------------------------------

Score = tuple[int, int]  # (measure of the outbound steps, answers)


@dataclass
class _Best:
    score: Score
    asked: tuple[int, ...]


def extreme_routes(
    flow: Flow, measure: Callable[[tuple[Item, ...]], int]
) -> tuple[_Best, _Best, int]:
    """Shortest and longest routes (by ``measure`` of each outbound step: SMS segments, or a
    call's tenths of a second; then answers) and the route count.

    A state is (question index, items waiting to go out with the next question); its best
    remainder does not depend on how it was reached, so each state is solved once.
    """
    n = len(flow.questions)
    memo: dict[tuple[int, tuple[Item, ...]], tuple[_Best, _Best, int]] = {}
    on_path: set[int] = set()

    def solve(i: int, buf: tuple[Item, ...]) -> tuple[_Best, _Best, int]:
        key = (i, buf)
        hit = memo.get(key)
        if hit is not None:
            return hit
        if i >= n:
            s = (measure((*buf, THANKS)), 0)
            result = (_Best(s, ()), _Best(s, ()), 1)
            memo[key] = result
            return result
        if i in on_path:
            chain = (
                " -> ".join(flow.questions[j].id for j in sorted(on_path)) or flow.questions[i].id
            )
            raise CostError(f"the route can loop back to {flow.questions[i].id!r} ({chain})")
        on_path.add(i)
        q = flow.questions[i]
        options: list[tuple[Score, Score, int, _Best, _Best, tuple[int, ...]]] = []
        if q.when:  # passed over: on to the question below
            lo, hi, count = solve(i + 1, buf)
            options.append(((0, 0), (0, 0), count, lo, hi, ()))
        targets = list(dict.fromkeys(n if j is None else j for j in successors(flow, i)))
        if isinstance(q, InfoQuestion):
            for j in targets:
                lo, hi, count = solve(j, (*buf, i))
                options.append(((0, 0), (0, 0), count, lo, hi, (i,)))
        else:
            here = (measure((*buf, i)), 1)
            for j in targets:
                lo, hi, count = solve(j, ())
                options.append((here, here, count, lo, hi, (i,)))
        on_path.discard(i)

        def total(add: Score, best: _Best) -> Score:
            return (add[0] + best.score[0], add[1] + best.score[1])

        low = min(options, key=lambda o: total(o[0], o[3]))
        high = max(options, key=lambda o: total(o[1], o[4]))
        result = (
            _Best(total(low[0], low[3]), low[5] + low[3].asked),
            _Best(total(high[1], high[4]), high[5] + high[4].asked),
            sum(o[2] for o in options),
        )
        memo[key] = result
        return result

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * n + 200))
    try:
        return solve(0, (INTRO,))
    finally:
        sys.setrecursionlimit(limit)


def typical_route(flow: Flow, answers: dict[str, AnswerValue | None]) -> list[str]:
    """The questions put to a respondent giving ``answers``, honouring ``when:`` and ``next:``."""
    given: dict[str, AnswerValue | None] = {}
    asked: list[str] = []
    q = engine.next_question(flow, given, None)
    while q is not None and len(asked) <= len(flow.questions):
        asked.append(q.id)
        if q.answerable:
            given[q.id] = answers.get(q.id)
        q = engine.next_question(flow, given, q)
    return asked


def reminder_parts(
    flow: Flow,
    lang: str,
    asked: Sequence[str],
    answers: dict[str, AnswerValue | None],
    render: SmsRender,
) -> list[Part]:
    """The reminder a respondent would get while waiting at each question of a route."""
    now = datetime(2000, 1, 1, tzinfo=UTC)
    out: list[Part] = []
    given: dict[str, AnswerValue | None] = {}
    for k, qid in enumerate(asked):
        q = flow.question(qid)
        if q is None or not q.answerable:
            continue
        session = Session(
            flow=flow.id,
            version=flow.version,
            respondent="cost-estimate",
            channel="sms",
            lang=lang,
            current=qid,
            asked=list(asked[: k + 1]),
            answers=dict(given),
            started_at=now,
            last_at=now,
        )
        out.append(part(f"reminder at {qid}", engine.reminder(flow, session), render))
        given[qid] = answers.get(qid)
    return out


def _pick_reminder(parts: list[Part], how: RouteName) -> Part | None:
    if not parts:
        return None
    ranked = sorted(parts, key=lambda p: p.segments)
    if how == "shortest":
        return ranked[0]
    if how == "longest":
        return ranked[-1]
    return ranked[(len(ranked) - 1) // 2]


# --- flags -------------------------------------------------------------------------------------

GSM_CAPACITY = (sms.GSM_SINGLE, sms.GSM_PART)
UCS2_CAPACITY = (sms.UCS2_SINGLE, sms.UCS2_PART)


def latin(text: str) -> bool:
    """Mostly Latin letters (English, Polish, Somali...), as opposed to Gujarati, Urdu..."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return True
    n = sum(1 for ch in letters if "LATIN" in unicodedata.name(ch, ""))
    return n / len(letters) > 0.9


def overflow(text: str) -> str:
    """The end of ``text`` that does not fit in one part fewer than it takes ("" if one part)."""
    need = sms.segments(text)
    if need <= 1:
        return ""
    lo, hi = 0, len(text)  # longest prefix that fits in need-1 parts: segments grow with length
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sms.segments(text[:mid]) <= need - 1:
            lo = mid
        else:
            hi = mid - 1
    return text[lo:]


def char_names(chars: Sequence[str]) -> str:
    return ", ".join(f"{ch} ({unicodedata.name(ch, hex(ord(ch))).lower()})" for ch in chars)


def flags_for(p: Part) -> list[Flag]:
    out: list[Flag] = []
    for text in p.messages:
        info = sms.info(text)
        if info.encoding == "UCS-2" and latin(text):
            plain = sms.gsm_safe("".join(ch for ch in text if ch not in info.culprits))
            out.append(
                Flag(
                    p.what,
                    "ucs2",
                    f"sent as UCS-2 (Unicode, 70 characters a part) because of "
                    f"{char_names(info.culprits)}: {info.segments} part(s); without them "
                    f"{sms.segments(plain)}",
                )
            )
        if info.segments > 1:
            tail = overflow(text)
            caps = GSM_CAPACITY if info.encoding == "GSM-7" else UCS2_CAPACITY
            fewer = info.segments - 1
            cap = caps[0] if fewer == 1 else caps[1] * fewer
            near = " - trim it to save a part" if len(tail) <= NEAR else ""
            shown = re.sub(r"\s+", " ", tail)
            if len(shown) > 40:
                shown = "..." + shown[-37:]
            unit = "characters" if info.encoding == "GSM-7" else "UCS-2 characters"
            out.append(
                Flag(
                    p.what,
                    "extra_segment",
                    f"{info.segments} parts: {info.length} {unit}, {len(tail)} more than fit in "
                    f"{fewer} ({cap}); the overflow is {shown!r}{near}",
                )
            )
    return out


# --- the estimate ------------------------------------------------------------------------------


def estimate(
    flow: Flow,
    *,
    render: SmsRender,
    respondents: int,
    price: float,
    lang: str | None = None,
    reminders: int | None = None,
    inbound_price: float | None = None,
) -> Estimate:
    lang = lang or flow.languages[0]
    if lang not in flow.languages:
        raise CostError(
            f"flow {flow.id!r} is not in language {lang!r}; it is in: {', '.join(flow.languages)}"
        )
    if respondents < 0 or price < 0 or (inbound_price is not None and inbound_price < 0):
        raise CostError("respondents and prices cannot be negative")
    n_reminders = flow.reminders.max if reminders is None else reminders
    if n_reminders < 0:
        raise CostError("--reminders cannot be negative")

    steps = _Steps(flow, lang, render)
    low, high, count = extreme_routes(flow, lambda items: steps(items).segments)
    typical = typical_route(flow, steps.answers)
    chosen: dict[RouteName, list[str]] = {
        "shortest": [flow.questions[i].id for i in low.asked],
        "typical": typical,
        "longest": [flow.questions[i].id for i in high.asked],
    }
    routes: dict[RouteName, Route] = {}
    for name, asked in chosen.items():
        reminder = _pick_reminder(reminder_parts(flow, lang, asked, steps.answers, render), name)
        routes[name] = Route(
            name=name,
            asked=tuple(asked),
            steps=tuple(steps(items) for items in group(flow, asked)),
            reminders=(reminder,) * n_reminders if reminder else (),
            answers=sum(1 for qid in asked if (q := flow.question(qid)) and q.answerable),
        )

    flags: list[Flag] = []
    seen: set[str] = set()
    for route in routes.values():
        for p in (*route.steps, *route.reminders[:1]):
            if p.text in seen:
                continue
            seen.add(p.text)
            flags.extend(flags_for(p))

    notes = [
        "typical route: a respondent who answers the first choice of every choice or scale "
        "question, YES to every yes/no, and skips nothing",
        f"routes: {count:,} through the flow (a question with when: may be asked or not); "
        "shortest and longest are exact over all of them, and the longest may combine "
        "questions no one person is asked together",
        "inbound: 1 segment for the keyword that starts the survey + 1 per answer (short replies)",
    ]
    if n_reminders:
        source = "the flow's reminders.max" if reminders is None else "--reminders"
        notes.append(
            f"reminders: {n_reminders} per respondent ({source}), each the reminder text and the "
            "question they stopped at; an upper bound, as only those who pause get them"
        )
    all_text = "".join(p.text for r in routes.values() for p in r.steps)
    if not latin(all_text):
        language = LANGUAGE_NAMES.get(lang, lang)
        notes.append(
            f"{language}: every message goes as UCS-2 (Unicode), 70 characters in one part and 67 a "
            "part when longer; that is inherent to the script, not a fault in the text: keep "
            "messages short"
        )
    return Estimate(
        flow=flow,
        lang=lang,
        respondents=respondents,
        price=price,
        inbound_price=inbound_price,
        reminders=n_reminders,
        routes=routes,
        route_count=count,
        flags=flags,
        notes=notes,
    )


# --- WhatsApp: priced per message, not per part -----------------------------------------------

WHATSAPP_WINDOW_HOURS = 24


@dataclass(frozen=True)
class WhatsAppRoute:
    """One completed response on WhatsApp: messages, not parts (any length is one message)."""

    name: RouteName
    service: int  # free-form messages out, within the 24-hour window (replies, early reminders)
    templates: int  # approved template messages out (reminders after the window)
    inbound: int
    windows: int  # 24-hour customer service windows the person opens


@dataclass(frozen=True)
class WhatsAppEstimate:
    routes: dict[RouteName, WhatsAppRoute]
    respondents: int
    template_price: float
    service_price: float
    message_fee: float
    notes: list[str]

    def each(self, r: WhatsAppRoute) -> float:
        """One completed response: Meta's template (and service) charges + Twilio's fee on
        every message in and out."""
        out = r.service + r.templates
        return (
            r.templates * self.template_price
            + r.service * self.service_price
            + (out + r.inbound) * self.message_fee
        )

    def total(self, r: WhatsAppRoute) -> float:
        return self.each(r) * self.respondents


def whatsapp_estimate(
    est: Estimate,
    *,
    messages: WhatsAppCount,
    template_price: float,
    service_price: float = 0.0,
    message_fee: float = 0.0,
) -> WhatsAppEstimate:
    """The same routes as :func:`estimate`, as WhatsApp bills them: per message (not per part);
    replies within 24 hours of the person's last message are service messages; a reminder
    after that must be an approved template, charged per delivered template."""
    if min(template_price, service_price, message_fee) < 0:
        raise CostError("prices cannot be negative")
    flow, lang = est.flow, est.lang
    steps = _Replies(flow, lang)
    r = flow.reminders
    # The n-th reminder goes after + (n-1) * every of silence: a template once that is a day.
    gaps = [r.after + k * r.every for k in range(est.reminders)]
    templated = sum(1 for g in gaps if g.total_seconds() >= WHATSAPP_WINDOW_HOURS * 3600 - 900)
    routes: dict[RouteName, WhatsAppRoute] = {}
    for name, route in est.routes.items():
        out = sum(
            messages([steps.reply(i) for i in items]) for items in group(flow, list(route.asked))
        )
        free_reminders = est.reminders - templated
        routes[name] = WhatsAppRoute(
            name=name,
            service=out + free_reminders,
            templates=templated,
            inbound=route.inbound,
            windows=1 + templated,
        )
    notes = [
        "WhatsApp is priced per message, not per part: a long question or Gujarati text costs "
        "the same as a short English one",
        "replies within 24 hours of the person's last message are service messages; reminders "
        f"after that must be approved templates ({templated} of {est.reminders} here), charged "
        "per delivered template by Meta; each template the person answers opens a new 24-hour "
        "window",
        "Twilio adds its own fee on every WhatsApp message, in and out (--wa-message-fee); Meta's "
        "rates change: check Twilio's WhatsApp pricing page for the UK before quoting",
    ]
    return WhatsAppEstimate(
        routes=routes,
        respondents=est.respondents,
        template_price=template_price,
        service_price=service_price,
        message_fee=message_fee,
        notes=notes,
    )
