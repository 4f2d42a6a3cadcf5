"""The reminder policy (pure): when, how many, never in quiet hours, DST, closing and expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import engine
from bot.loader import load_flow_text
from bot.models import Inbound, Session, Status
from bot.reminders import SPREAD, allowed_time, finalised, in_quiet_hours, plan, reminded
from bot.schema import Flow

LONDON = ZoneInfo("Europe/London")
FLOW_YAML = """
id: remind-test
title: Test survey
council: Test Council
contact: {phone: "0116 000 0000"}
intro: Hello. Text STOP to stop.
thanks: Thanks.
closes: 2027-06-30
expiry: 21d
reminders:
  after: 24h
  every: 48h
  max: 2
  quiet_hours: "20:00-09:00"
  final: The survey has now closed. Thank you.
questions:
  - {id: q1, type: yesno, text: First?}
  - {id: q2, type: yesno, text: Second?}
  - {id: q3, type: yesno, text: Third?}
"""


def make_flow(yaml_text: str = FLOW_YAML, **replace: str) -> Flow:
    for old, new in replace.items():
        yaml_text = yaml_text.replace(old, new)
    result = load_flow_text(yaml_text, "remind-test.yaml")
    assert result.flow is not None, result.problems
    return result.flow


FLOW = make_flow()
NO_FINAL = make_flow(**{"  final: The survey has now closed. Thank you.\n": ""})


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def started(flow: Flow, at: datetime, answers: int = 1, rid: str = "rid-1") -> Session:
    s = engine.new_session(flow, respondent=rid, channel="sms", address="+447700900123", now=at)
    for text in ["hi", *["yes"] * answers]:
        s = engine.step(flow, s, Inbound(channel="sms", address="x", text=text), at).session
    return s


def test_first_reminder_after_a_day_of_silence() -> None:
    s = started(NO_FINAL, local(2026, 11, 23, 14, 0))
    p = plan(NO_FINAL, s)
    assert p is not None
    assert p.kind == "remind"
    assert p.at == local(2026, 11, 24, 14, 0)


def test_an_answer_moves_the_reminder_later() -> None:
    t0 = local(2026, 11, 23, 14, 0)
    s = started(NO_FINAL, t0)
    later = t0 + timedelta(hours=20)
    s = engine.step(NO_FINAL, s, Inbound(channel="sms", address="x", text="yes"), later).session
    p = plan(NO_FINAL, s)
    assert p is not None
    assert p.at == later + timedelta(hours=24)


def test_reminders_are_spaced_and_capped() -> None:
    t0 = local(2026, 11, 23, 14, 0)
    s = started(NO_FINAL, t0)
    first = plan(NO_FINAL, s)
    assert first is not None
    s = reminded(s, first.at)
    second = plan(NO_FINAL, s)
    assert second is not None
    assert second.at == first.at + timedelta(hours=48)
    s = reminded(s, second.at)
    assert plan(NO_FINAL, s) is None  # max 2


def test_no_reminder_when_finished_opted_out_or_web_or_not_started() -> None:
    s = started(NO_FINAL, local(2026, 11, 23, 14, 0))
    for status in (Status.COMPLETE, Status.OPTED_OUT, Status.DECLINED, Status.EXPIRED):
        assert plan(NO_FINAL, s.model_copy(update={"status": status})) is None
    assert plan(NO_FINAL, s, can_send=False) is None
    assert plan(NO_FINAL, s.model_copy(update={"address": None})) is None
    fresh = engine.new_session(
        NO_FINAL, respondent="r", channel="sms", address="a", now=local(2026, 11, 23, 14)
    )
    assert plan(NO_FINAL, fresh) is None


def test_due_at_night_goes_out_next_morning_spread() -> None:
    s = started(NO_FINAL, local(2026, 11, 23, 22, 30))  # silent from 22:30
    p = plan(NO_FINAL, s)
    assert p is not None
    morning = local(2026, 11, 25, 9, 0)  # due 24 Nov 22:30 -> quiet -> 25 Nov 09:00 + spread
    assert morning <= p.at < morning + SPREAD
    assert not in_quiet_hours(NO_FINAL, p.at)


def test_many_night_reminders_do_not_leave_in_the_same_second() -> None:
    times = set()
    for n in range(500):
        s = started(NO_FINAL, local(2026, 11, 23, 23, 0), rid=f"rid-{n}")
        p = plan(NO_FINAL, s)
        assert p is not None
        times.add(p.at)
    assert len(times) > 400


@pytest.mark.parametrize(
    ("silent_from", "expected_local_release"),
    [
        # Clocks go forward on Sunday 29 March 2026 (01:00 GMT -> 02:00 BST).
        (datetime(2026, 3, 28, 21, 0, tzinfo=UTC), datetime(2026, 3, 30, 9, 0)),
        (datetime(2026, 3, 27, 23, 30, tzinfo=UTC), datetime(2026, 3, 29, 9, 0)),
        # Clocks go back on Sunday 25 October 2026 (02:00 BST -> 01:00 GMT).
        (datetime(2026, 10, 23, 19, 30, tzinfo=UTC), datetime(2026, 10, 25, 9, 0)),
        (datetime(2026, 10, 24, 20, 30, tzinfo=UTC), datetime(2026, 10, 26, 9, 0)),
    ],
)
def test_quiet_hours_are_local_time_across_clock_changes(
    silent_from: datetime, expected_local_release: datetime
) -> None:
    s = started(NO_FINAL, silent_from)
    p = plan(NO_FINAL, s)
    assert p is not None
    release = expected_local_release.replace(tzinfo=LONDON)
    assert release <= p.at < release + SPREAD
    # 09:00 local is 08:00 UTC in summer and 09:00 UTC in winter
    assert p.at.astimezone(LONDON).hour == 9


def test_a_daytime_due_time_is_unchanged_on_clock_change_days() -> None:
    # Silent from 12:00 BST on 24 Oct; due 12:00 on Sunday 25 Oct (now GMT): still allowed.
    s = started(NO_FINAL, local(2026, 10, 24, 12, 0))
    p = plan(NO_FINAL, s)
    assert p is not None
    assert p.at == local(2026, 10, 24, 12, 0).astimezone(UTC) + timedelta(hours=24)
    assert p.at.astimezone(LONDON).hour == 11  # 24 real hours later, the clocks went back


def test_no_reminder_after_the_closing_date_but_a_final_message_before_it() -> None:
    s = started(FLOW, local(2027, 6, 30, 10, 0))  # closes at midnight ending 30 June
    p = plan(FLOW, s)
    assert p is not None
    assert p.kind == "final"
    assert p.reason == "closed"
    assert p.at < local(2027, 7, 1, 0, 0)
    assert not in_quiet_hours(FLOW, p.at)  # 23:50 would be quiet: sent before 20:00 instead
    assert finalised(s, p.at, p.reason).status is Status.CLOSED
    assert plan(NO_FINAL, started(NO_FINAL, local(2027, 6, 30, 10, 0))) is None


def test_final_message_before_expiry() -> None:
    s = started(FLOW, local(2026, 11, 23, 14, 0))
    s = reminded(reminded(s, local(2026, 11, 24, 14)), local(2026, 11, 26, 14))
    p = plan(FLOW, s)
    assert p is not None
    assert p.kind == "final"
    assert p.reason == "expired"
    assert p.at < local(2026, 11, 23, 14, 0) + timedelta(days=21)
    assert finalised(s, p.at, p.reason).status is Status.EXPIRED


@settings(max_examples=300, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 5, 1), timezones=st.just(UTC)
    ),
    rid=st.text(min_size=1, max_size=20),
)
def test_a_plan_is_never_in_quiet_hours_and_never_before_the_silence(
    start: datetime, rid: str
) -> None:
    s = started(FLOW, start, rid=rid)
    p = plan(FLOW, s)
    assert p is not None
    assert not in_quiet_hours(FLOW, p.at)
    if p.kind == "remind":
        assert p.at >= s.last_at + FLOW.reminders.after


def test_allowed_time_leaves_daytime_alone() -> None:
    t = local(2026, 11, 23, 15, 0)
    assert allowed_time(FLOW, t, "r") == t


def test_sample_flow_has_sensible_reminders() -> None:
    root = Path(__file__).resolve().parents[2]
    from bot.loader import require_flow

    flow = require_flow(root / "flows" / "carers-strategy.yaml")
    s = started(flow, datetime(2026, 11, 23, 10, tzinfo=UTC))
    p = plan(flow, s)
    assert p is not None
    assert p.kind == "remind"
    text = engine.reminder(flow, s)[0].text
    assert "You are 1 of 2" in text  # 1 answered of about 20 for a carer
    assert "Which best describes you?" in text
