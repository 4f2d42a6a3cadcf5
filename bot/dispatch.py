"""One inbound message, end to end: pick the flow, load the session, step, commit, retry on a race.

This is the only place that joins the pure engine to the store, through the small protocol in
:mod:`bot.ports`; adapters call :meth:`Dispatcher.handle` and render what it returns.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast

from bot import engine
from bot.audit import step_entries
from bot.errors import (
    ConflictError,
    DuplicateMessage,
    RateLimited,
    StoreError,
    SurveybotError,
    UnstorableValue,
)
from bot.loader import FlowRegistry
from bot.misses import misses_of
from bot.models import Inbound, Reply, Session, Status, Step
from bot.phrases import phrase
from bot.ports import AuditTrail, LoadedLike, MissRecorder, SessionStore
from bot.schema import Flow, Source
from bot.text import tr

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 60
"""Optimistic retries before giving up with ConflictError (then the webhook answers 503)."""

RESEND_WINDOW = timedelta(minutes=10)
"""A duplicate of the respondent's last message within this long of its commit gets the current
question again (Twilio retries within 15 s; Telegram re-delivers within minutes)."""

_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
_RESUMABLE = (Status.ACTIVE, Status.OPTED_OUT, Status.COMPLETE, Status.DECLINED)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Outcome:
    """What the adapter must send back, and what happened (for logs and tests).

    ``preview``: the step that would begin a session, computed but not stored (``create=False``:
    a web page opened; its first answer stores it). ``refused``: a new session was not begun
    because ``admit`` said no (a budget spent); nothing was stored."""

    replies: list[Reply] = field(default_factory=list)
    duplicate: bool = False
    flow: Flow | None = None
    session: Session | None = None
    step: Step | None = None
    attempts: int = 0
    preview: bool = False
    refused: bool = False


Admit = Callable[[], Awaitable[bool]]
"""Asked once before a message begins a new stored session: whether it may (a budget)."""


class Dispatcher:
    def __init__(
        self,
        registry: FlowRegistry,
        store: SessionStore,
        *,
        clock: Callable[[], datetime] = utcnow,
        misses: MissRecorder | None = None,
        audit: AuditTrail | None = None,
    ) -> None:
        self.registry = registry
        self.store = store
        self.clock = clock
        self.misses = misses
        self.audit = audit

    def resolve_start(self, payload: str) -> tuple[Flow, Source | None] | None:
        """A deep-link payload or keyword: ``carers-strategy``, ``carers-strategy-harborough-carers``,
        ``CARERS``, ``CARERS-HARBOROUGH`` or ``CARERS HARBOROUGH``."""
        payload = payload.strip()
        if not payload or len(payload) > 64:
            return None
        by_word = self.registry.by_keyword(payload.replace("-", " ").replace("_", " "))
        if by_word:
            return by_word
        if not _PAYLOAD.match(payload):
            return None
        for flow in sorted(self.registry.flows.values(), key=lambda f: -len(f.id)):
            if payload == flow.id:
                return flow, None
            if payload.startswith(flow.id + "-"):
                src = flow.source(payload[len(flow.id) + 1 :])
                return (flow, src) if src else (flow, None)
        return None

    def preview(self, start: Inbound) -> Outcome:
        """What a start would answer for someone with nothing stored, computed and not stored
        (a web page opened without a session: no Redis at all). Replies only."""
        found = self.resolve_start(start.text) if start.kind == "start" else None
        now = self.clock()
        if found is None:
            return Outcome(replies=self.menu(now), preview=True)
        flow, source = found
        fresh = self._fresh(flow, source, start, "", now)
        result = engine.step(flow, fresh, start, now)
        return Outcome(replies=result.replies, flow=flow, step=result, preview=True)

    async def handle(
        self,
        inbound: Inbound,
        *,
        limited: bool = True,
        create: bool = True,
        opening: Inbound | None = None,
        admit: Admit | None = None,
    ) -> Outcome:
        """Step ``inbound`` and commit it. ``limited=False`` for messages that are not the
        sender's own (a Twilio opt-out report): they do not count against the rate limit.

        For a channel whose page begins the survey (the web chat): ``create=False`` computes a
        step that would begin a new session without storing it (:attr:`Outcome.preview`);
        ``opening`` is that start, replayed before ``inbound`` when the person has no session
        in its flow yet, so their first answer is stored with the start in one commit (the
        answer only if it names the question the start asks; otherwise the start alone, and
        its replies). ``admit`` is asked once before any new session is stored."""
        respondent = self.store.respondent(inbound.channel, inbound.address)
        cached = True  # the first attempt may step on this process's copy; retries read Redis
        sent_back: LoadedLike | None = None  # the stored session a refused commit sent back
        admitted = admit is None
        for attempt in range(1, MAX_ATTEMPTS + 1):
            now = self.clock()
            if sent_back is not None:
                loaded, sent_back = sent_back, None
            else:
                loaded = await self.store.load(respondent, inbound.message_id, cached=cached)
            cached = False
            if loaded.duplicate:
                recent = _recent(loaded.latest_at, now)
                return self._duplicate(inbound, loaded.session, recent, attempt)
            began = self._opening(opening, loaded.session, respondent, now)
            before: Session | None = None
            if began is not None:
                flow, result = began
                session, fresh = result.session, True
                if _answers(inbound, result.session):
                    second = engine.step(flow, result.session, inbound, now)
                    result = _joined(result, second)
                session = session.model_copy(update={"rev": loaded.rev})
            else:
                chosen = self._choose(inbound, loaded.session, loaded.opted_out, respondent, now)
                if isinstance(chosen, list):
                    over = await self.store.throttle(respondent) if chosen and limited else 0
                    if over:  # a stranger sending and sending
                        chosen = self._slow_down(over, None, "en", respondent, inbound.channel)
                    return Outcome(replies=chosen, attempts=attempt)
                flow, session, resumed, fresh = chosen
                before = session
                # Their keyword again mid-survey is a start for the engine, not an answer.
                step_in = inbound.model_copy(update={"kind": "start"}) if resumed else inbound
                result = engine.step(flow, session, step_in, now)
            if fresh and not create:
                return Outcome(replies=result.replies, flow=flow, step=result, preview=True)
            if fresh and not admitted:
                assert admit is not None
                if not await admit():
                    return Outcome(flow=flow, refused=True, attempts=attempt)
                admitted = True
            try:
                stored = await self.store.commit(
                    result,
                    expected_rev=session.rev,
                    message_id=inbound.message_id,
                    flow=flow,
                    now=now,
                    limited=limited,
                )
            except DuplicateMessage as dup:
                # Stepped on a cached copy: the commit saw the id. The stored session is the
                # one this message produced, which the cached copy is not: read it if needed.
                recent = _recent(dup.latest_at, now)
                current = (await self.store.load(respondent, None)).session if recent else None
                return self._duplicate(inbound, current, recent, attempt)
            except RateLimited as exc:
                replies = self._slow_down(exc.over, flow, session.lang, respondent, inbound.channel)
                return Outcome(replies=replies, attempts=attempt)
            except UnstorableValue as exc:
                # A value no parser should have let through: store nothing and ask again,
                # rather than answer with an error the person never sees a reply to.
                log.error("respondent %s: step not stored (%s)", respondent, exc)
                lang, channel = session.lang, inbound.channel
                sorry = Reply(text=phrase(flow, lang, "not_understood", channel=channel), lang=lang)
                return Outcome(replies=[sorry, *engine.prompt_again(flow, session, channel)])
            except ConflictError as exc:
                # Another message from the same person committed first (or this very message,
                # delivered twice at once): step again on the stored session. When all that
                # went stale was this process's cached copy (their last message went to another
                # process), the refusal brought the stored session along: step on it at once,
                # no second round trip. A live race backs off and re-reads.
                if exc.immediate and exc.current is not None:
                    sent_back = cast(LoadedLike, exc.current)
                else:
                    await asyncio.sleep(random.uniform(0, 0.002 * min(attempt, 10)))
                continue
            if self.misses is not None and result.events:
                await self._log_misses(result, inbound.text, now)
            await self._audit(before, result, "respondent" if limited else "provider")
            return Outcome(
                replies=result.replies, flow=flow, session=stored, step=result, attempts=attempt
            )
        raise ConflictError(f"gave up after {MAX_ATTEMPTS} attempts for one respondent")

    async def _log_misses(self, step: Step, text: str, now: datetime) -> None:
        """Beside the commit, not in it: a reply not understood or checked, for the officer's
        ``surveybot misses``. A failure here never fails the respondent's message."""
        found = misses_of(step, text, now)
        if not found or self.misses is None:
            return
        try:
            await self.misses.record(step, found, now)
        except SurveybotError as exc:
            log.warning("misses of %s not logged: %s", step.session.respondent, exc)

    async def _audit(self, before: Session | None, result: Step, via: str) -> None:
        """The audit entries of a committed step (most steps have none). After the commit: an
        audit write failing must not turn a stored answer into an error for the person."""
        if self.audit is None:
            return
        entries = step_entries(before, result, via=via)
        if not entries:
            return
        try:
            await self.audit.record_respondent(result.session.respondent, entries)
        except StoreError as exc:
            log.warning("audit entries of %s not written: %s", result.session.respondent, exc)

    def _duplicate(
        self,
        inbound: Inbound,
        session: Session | None,
        recent: bool,
        attempt: int,
    ) -> Outcome:
        """A message already committed: no second step. If it was their last one, committed a
        moment ago, the provider is most likely retrying because our reply never arrived: put
        the current question again (a respondent who got no reply tends to send the answer
        again, which would be taken for the next question). An old replay gets nothing."""
        replies: list[Reply] = []
        if recent and session is not None:
            flow = self.registry.get(session.flow)
            if flow is not None:
                replies = engine.prompt_again(flow, session, inbound.channel)
        log.info("duplicate message %s: no second step%s", inbound.message_id,
                 ", current question sent again" if replies else "")  # fmt: skip
        return Outcome(replies=replies, duplicate=True, session=session, attempts=attempt)

    @staticmethod
    def _slow_down(
        over: int, flow: Flow | None, lang: str, respondent: str, channel: str = ""
    ) -> list[Reply]:
        """One polite reply for the first message over the limit, then silence (each reply to
        a flood would cost an SMS, and would feed a loop with another bot)."""
        log.warning("respondent %s over the message limit (%d over)", respondent, over)
        if over > 1:
            return []
        text = phrase(flow, lang, "slow_down", channel=channel)
        return [Reply(text=text, kind="notice", lang=lang)]

    def _opening(
        self, opening: Inbound | None, session: Session | None, respondent: str, now: datetime
    ) -> tuple[Flow, Step] | None:
        """``opening`` stepped on a new session, when the person has no session in its flow."""
        if opening is None:
            return None
        found = self.resolve_start(opening.text)
        if found is None:
            return None
        flow, source = found
        if session is not None and session.flow == flow.id and session.status is not Status.EXPIRED:
            return None
        fresh = self._fresh(flow, source, opening, respondent, now)
        return flow, engine.step(flow, fresh, opening, now)

    def _fresh(
        self, flow: Flow, source: Source | None, inbound: Inbound, respondent: str, now: datetime
    ) -> Session:
        return engine.new_session(
            flow,
            respondent=respondent,
            channel=inbound.channel,
            address=inbound.address,
            now=now,
            source=source.id if source else inbound.source,
            lang=inbound.lang,
        )

    def _choose(
        self,
        inbound: Inbound,
        session: Session | None,
        opted_out: bool,
        respondent: str,
        now: datetime,
    ) -> tuple[Flow, Session, bool, bool] | list[Reply]:
        """Which flow this message belongs to, the session to step (new if needed), whether
        a keyword or link resumed an existing session, and whether the session is new."""
        started = None
        if inbound.kind == "start":
            started = self.resolve_start(inbound.text)
        elif inbound.text and len(inbound.text) <= 40:
            started = self.registry.by_keyword(inbound.text)
        if started is not None:
            flow, source = started
            if session is not None and session.flow == flow.id and session.status in _RESUMABLE:
                # Their keyword or link again: carry on (the engine says "finished", re-joins
                # after STOP, or repeats the current question), never silently start over.
                return flow, _with_address(session, inbound), bool(session.asked), False
            fresh = self._fresh(flow, source, inbound, respondent, now)
            # Keep the stored rev so the commit replaces the old session atomically.
            fresh.rev = session.rev if session is not None else 0
            return flow, fresh, False, True
        if session is not None:
            current = self.registry.get(session.flow)
            if current is not None:
                return current, _with_address(session, inbound), False, False
        if opted_out:
            return []  # they said STOP: say nothing unless they start a survey again
        return self.menu(now)

    def menu(self, now: datetime) -> list[Reply]:
        flows = [f for f in self.registry.open_flows(now) if f.keywords]
        if not flows:
            return [Reply(text=phrase(None, "en", "menu_none"), kind="end")]
        lines = [phrase(None, "en", "menu")]
        lines += [f"{f.keywords[0]} - {tr(f.title, 'en')}" for f in flows]
        return [Reply(text="\n".join(lines), kind="notice")]


def _answers(inbound: Inbound, session: Session) -> bool:
    """Whether ``inbound`` says it answers the question ``session`` is on (a web page sends
    the question its answer is for; an answer without one is not guessed at)."""
    if inbound.kind not in ("text", "button") or session.current is None:
        return False
    return inbound.question == session.current


def _joined(first: Step, second: Step) -> Step:
    """Two steps on one session stored as one commit (a start and the first answer)."""
    return second.model_copy(
        update={
            "answers": [*first.answers, *second.answers],
            "cleared": [*first.cleared, *second.cleared],
            "events": [*first.events, *second.events],
        }
    )


def _recent(latest_at: int | None, now: datetime) -> bool:
    """Whether a duplicate's original was committed within RESEND_WINDOW of ``now``."""
    if latest_at is None:
        return False
    # abs(): commit scores are nudged a millisecond or two forward to stay in order.
    return abs(now.timestamp() * 1000 - latest_at) <= RESEND_WINDOW.total_seconds() * 1000


def _with_address(session: Session, inbound: Inbound) -> Session:
    """Give a live session back its raw address if the store had dropped it (needed to send),
    and note the channel of this message: a phone number calls and texts as one respondent
    (``store.identity.SHARED_IDS``), and the session follows the channel they use."""
    update: dict[str, str] = {}
    if session.address is None and not session.status.finished:
        update["address"] = inbound.address
    if session.channel != inbound.channel:
        update["channel"] = inbound.channel
    return session.model_copy(update=update) if update else session
