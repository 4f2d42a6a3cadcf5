"""When to nudge a respondent who went quiet: the reminder policy, pure (the clock is an argument).

``plan(flow, session, ...)`` answers "what is the next unprompted message for this session, and
when?": a reminder (at most ``reminders.max``, the first ``after`` of silence, then ``every``),
or the optional ``final`` message just before the session expires or the survey closes. Times
that fall in quiet hours (in the flow's time zone, so daylight-saving changes are handled by
``zoneinfo``) move to the end of the quiet window, spread over ``SPREAD`` by a hash of the
respondent id so thousands of reminders do not leave in the same second.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from bot.models import Session, Status
from bot.schema import Flow

SPREAD = timedelta(minutes=45)
"""Reminders released at the end of quiet hours are spread over this long."""
FINAL_MARGIN = timedelta(minutes=10)
"""The final message goes this long before the session would expire (while we still may send)."""


@dataclass(frozen=True)
class Plan:
    kind: Literal["remind", "final"]
    at: datetime
    reason: Literal["", "expired", "closed"] = ""  # for "final": why the survey ends for them


def plan(flow: Flow, session: Session, *, can_send: bool = True) -> Plan | None:
    """The next unprompted message for ``session``, or None (finished, opted out, web chat...)."""
    if not can_send or session.status is not Status.ACTIVE or session.address is None:
        return None
    if not session.asked:
        return None  # never started: nothing to remind them of
    r = flow.reminders
    # Real elapsed time: do the arithmetic in UTC (aware local times would add wall-clock hours).
    last = session.last_at.astimezone(UTC)
    nudged = session.reminded_at.astimezone(UTC) if session.reminded_at else None
    quiet_since = max(last, nudged or last)
    expires = last + flow.expiry
    closes = flow.closes_at()
    candidates: list[Plan] = []
    if session.current is not None and session.reminders < r.max:
        due = last + r.after
        if nudged is not None and session.reminders:
            due = max(due, nudged + r.every)
        due = allowed_time(flow, max(due, quiet_since), session.respondent)
        if due < expires - FINAL_MARGIN and (closes is None or due < closes):
            candidates.append(Plan("remind", due))
    if r.final is not None:
        closing = closes is not None and closes <= expires
        end = closes if closes is not None and closing else expires
        # Quiet hours apply here too; if that pushes it past the end, send it earlier instead.
        at = allowed_time(flow, end - FINAL_MARGIN, session.respondent, spread=False)
        if at >= end:
            at = _previous_allowed(flow, end - FINAL_MARGIN)
        candidates.append(Plan("final", at, "closed" if closing else "expired"))
    return min(candidates, key=lambda p: p.at) if candidates else None


def in_quiet_hours(flow: Flow, at: datetime) -> bool:
    return flow.reminders.quiet_hours.contains(at.astimezone(flow.tz).time())


def allowed_time(
    flow: Flow, at: datetime, respondent: str = "", *, spread: bool = True
) -> datetime:
    """``at``, or if that is in quiet hours, the end of the quiet window (+ a stable spread)."""
    q = flow.reminders.quiet_hours
    tz = flow.tz
    local = at.astimezone(tz)
    if not q.contains(local.time()):
        return at
    # The quiet window ends at q.end on this local day, or the next one if it wraps midnight.
    day = local.date()
    if q.start > q.end and local.time() >= q.start:
        day += timedelta(days=1)
    release = _at_local(flow, day, q.end)
    if spread and respondent:
        release += _jitter(respondent)
        if q.contains(release.astimezone(tz).time()):  # a window too short to spread over
            release = _at_local(flow, day, q.end)
    return release


def _previous_allowed(flow: Flow, at: datetime) -> datetime:
    """The last allowed moment at or before ``at`` (the start of the quiet window, minus a minute)."""
    q = flow.reminders.quiet_hours
    local = at.astimezone(flow.tz)
    if not q.contains(local.time()):
        return at
    day = local.date()
    if q.start > q.end and local.time() < q.end:
        day -= timedelta(days=1)
    return _at_local(flow, day, q.start) - timedelta(minutes=1)


def _at_local(flow: Flow, day: date, t: time) -> datetime:
    # zoneinfo resolves the wall-clock time on that date, whatever the UTC offset is that day.
    return datetime.combine(day, t, tzinfo=flow.tz)


def _jitter(respondent: str) -> timedelta:
    h = int.from_bytes(hashlib.blake2b(respondent.encode(), digest_size=4).digest(), "big")
    return timedelta(seconds=h % int(SPREAD.total_seconds()))


def reminded(session: Session, now: datetime) -> Session:
    """The session after a reminder was sent (the silence clock is not reset by our own nudge)."""
    return session.model_copy(update={"reminders": session.reminders + 1, "reminded_at": now})


def finalised(session: Session, now: datetime, reason: str) -> Session:
    """The session after the final message: closed (survey over) or expired (silent too long)."""
    status = Status.CLOSED if reason == "closed" else Status.EXPIRED
    return session.model_copy(update={"status": status, "finished_at": now})
