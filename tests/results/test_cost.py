"""``surveybot cost``: segments per response on the shortest, typical and longest routes.

The tiny flow below is costed by hand (character counts in the comments); the sample flows are
checked for order (longest >= typical >= shortest), Gujarati costing more than English, the flags,
and that the messages counted are exactly what the engine sends through the SMS adapter.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.renderers import sms_messages
from adapters.sms_twilio.render import messages
from bot import engine
from bot.cli import app
from bot.loader import require_flow
from bot.models import Inbound
from bot.results import cost
from bot.schema import (
    ChoiceQuestion,
    ConsentQuestion,
    Flow,
    MultiQuestion,
    PostcodeQuestion,
    ScaleQuestion,
    YesNoQuestion,
)
from bot.text import tr

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "flows"
CARERS = require_flow(FLOWS / "carers-strategy.yaml")
COMMUNITIES = require_flow(FLOWS / "communities-approach.yaml")

runner = CliRunner()

WHY = "Please tell us why. " * 9  # 180 characters; the trailing space is stripped: 179 -> 2 parts

TINY = f"""
id: tiny
title: Tiny survey
council: Test Borough Council
contact: {{phone: "0116 000 0000"}}
# 51 characters
intro: Hello from Test Borough Council. Text STOP to stop.
# 10 characters
thanks: Thank you.
reminders: {{max: 1, text: "Reminder."}}
questions:
  # "Are you happy?" + newline + "Reply YES or NO" = 30; with the intro: 51 + 2 + 30 = 83 -> 1 part
  - {{id: happy, type: yesno, text: "Are you happy?"}}
  # 179 characters -> 2 parts (more than 160)
  - {{id: why, type: text, when: "happy == no", text: "{WHY}"}}
  # "Nearly done." (12) + 2 + "Anything else to add?" + newline + "Reply YES or NO" (37) = 51 -> 1 part
  - {{id: note, type: info, text: "Nearly done."}}
  - {{id: last, type: yesno, text: "Anything else to add?"}}
"""


def load(tmp_path: Path, text: str, name: str = "flow.yaml") -> Flow:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return require_flow(path)


@pytest.fixture
def tiny(tmp_path: Path) -> Flow:
    return load(tmp_path, TINY)


def test_tiny_flow_hand_computed(tiny: Flow) -> None:
    est = cost.estimate(tiny, render=sms_messages, respondents=100, price=0.04, reminders=0)
    short, typical, long = (est.routes[n] for n in ("shortest", "typical", "longest"))
    assert est.route_count == 2  # "why" asked or not
    # shortest: intro+happy (1), note+last (1), thanks (1)
    assert short.asked == ("happy", "note", "last")
    assert [p.segments for p in short.steps] == [1, 1, 1]
    assert [p.what for p in short.steps] == ["intro + happy", "note + last", "thanks"]
    assert (short.outbound, short.answers, short.inbound) == (3, 2, 3)
    # longest: + why (2)
    assert long.asked == ("happy", "why", "note", "last")
    assert [p.segments for p in long.steps] == [1, 2, 1, 1]
    assert (long.outbound, long.answers, long.inbound) == (5, 3, 4)
    # typical: YES to "Are you happy?", so "why" is not asked
    assert typical.asked == short.asked
    assert typical.outbound == 3
    assert short.steps[0].messages == (
        "Hello from Test Borough Council. Text STOP to stop.\n\nAre you happy?\nReply YES or NO",
    )
    assert short.steps[0].length == 83
    assert est.cost(typical) == pytest.approx(3 * 0.04)
    assert est.total(typical) == pytest.approx(3 * 0.04 * 100)


def test_tiny_flow_reminders_hand_computed(tiny: Flow) -> None:
    # "Reminder." + newline + the question: happy 40 (1 part), why 189 (2), last 47 (1)
    est = cost.estimate(tiny, render=sms_messages, respondents=100, price=0.04, inbound_price=0.01)
    assert est.reminders == 1  # the flow's reminders.max
    short, typical, long = (est.routes[n] for n in ("shortest", "typical", "longest"))
    assert [p.segments for p in long.reminders] == [2]  # the costliest on the route: at "why"
    assert long.reminders[0].what == "reminder at why"
    assert [p.segments for p in short.reminders] == [1]
    assert (short.outbound, typical.outbound, long.outbound) == (4, 4, 7)
    assert est.total(typical) == pytest.approx((4 * 0.04 + 3 * 0.01) * 100)
    three = cost.estimate(tiny, render=sms_messages, respondents=100, price=0.04, reminders=3)
    assert (three.routes["shortest"].outbound, three.routes["longest"].outbound) == (6, 11)


def test_reminders_add_segments_on_sample_flows() -> None:
    for flow in (CARERS, COMMUNITIES):
        none = cost.estimate(flow, render=sms_messages, respondents=1, price=0.04, reminders=0)
        some = cost.estimate(flow, render=sms_messages, respondents=1, price=0.04)
        for name in ("shortest", "typical", "longest"):
            assert some.routes[name].reminder_segments >= flow.reminders.max
            assert (
                some.routes[name].outbound
                == none.routes[name].outbound + some.routes[name].reminder_segments
            )


@pytest.mark.parametrize(
    ("flow", "lang"),
    [(CARERS, "en"), (CARERS, "gu"), (COMMUNITIES, "en")],
    ids=["carers-en", "carers-gu", "communities-en"],
)
def test_sample_routes_are_ordered(flow: Flow, lang: str) -> None:
    est = cost.estimate(flow, render=sms_messages, respondents=20000, price=0.04, lang=lang)
    short, typical, long = (est.routes[n] for n in ("shortest", "typical", "longest"))
    assert (
        long.conversation_segments >= typical.conversation_segments >= short.conversation_segments
    )
    assert long.outbound >= typical.outbound >= short.outbound
    assert est.total(long) >= est.total(typical) >= est.total(short) > 0
    assert est.route_count >= 2


def test_gujarati_costs_more_and_says_why() -> None:
    en = cost.estimate(CARERS, render=sms_messages, respondents=20000, price=0.04, lang="en")
    gu = cost.estimate(CARERS, render=sms_messages, respondents=20000, price=0.04, lang="gu")
    for name in ("shortest", "typical", "longest"):
        assert gu.total(gu.routes[name]) > en.total(en.routes[name])
    assert all(p.encoding == "UCS-2" for p in gu.routes["typical"].steps)
    assert any("inherent" in n and "70" in n for n in gu.notes)
    assert not any(f.kind == "ucs2" for f in gu.flags)  # the script, not a stray character
    assert not any("inherent" in n for n in en.notes)
    assert all(p.encoding == "GSM-7" for p in en.routes["typical"].steps)


def test_ucs2_flag_names_the_culprit(tmp_path: Path) -> None:
    text = TINY.replace("Are you happy?", "Are you happy? 😀 It’s fine")
    est = cost.estimate(load(tmp_path, text), render=sms_messages, respondents=1, price=0.04)
    ucs2 = [f for f in est.flags if f.kind == "ucs2"]
    assert ucs2
    assert ucs2[0].what == "intro + happy"
    assert "😀" in ucs2[0].message
    assert "grinning face" in ucs2[0].message
    assert "’" in ucs2[0].message  # kept as is once the message is UCS-2 anyway
    assert "without them 1" in ucs2[0].message
    assert est.routes["typical"].steps[0].encoding == "UCS-2"


def test_a_curly_quote_alone_is_replaced_not_flagged(tmp_path: Path) -> None:
    text = TINY.replace("Are you happy?", "Are you “happy”?")
    est = cost.estimate(load(tmp_path, text), render=sms_messages, respondents=1, price=0.04)
    assert not [f for f in est.flags if f.kind == "ucs2"]
    assert est.routes["typical"].steps[0].encoding == "GSM-7"


def test_extra_segment_flag_shows_the_overflow(tmp_path: Path) -> None:
    # intro (51) + 2 + question: make the first message 163 characters: 3 over one part
    question = "Q" * (163 - 51 - 2 - 16)  # + newline + "Reply YES or NO"
    text = TINY.replace("Are you happy?", question)
    est = cost.estimate(
        load(tmp_path, text), render=sms_messages, respondents=1, price=0.04, reminders=0
    )
    first = est.routes["typical"].steps[0]
    assert (first.length, first.segments) == (163, 2)
    flag = next(f for f in est.flags if f.what == "intro + happy" and f.kind == "extra_segment")
    assert "3 more than fit in 1 (160)" in flag.message
    assert "the overflow is ' NO'" in flag.message  # the 3 characters over
    assert "trim it" in flag.message
    assert cost.overflow("x" * 160) == ""
    assert cost.overflow("x" * 161) == "x"


def test_many_conditional_questions_are_solved_without_enumerating(tmp_path: Path) -> None:
    qs = "\n".join(
        f'  - {{id: q{i}, type: yesno, text: "Question {i}?", when: "first == yes"}}'
        for i in range(250)
    )
    text = TINY.split("questions:")[0] + (
        'questions:\n  - {id: first, type: yesno, text: "Start?"}\n' + qs + "\n"
    )
    flow = load(tmp_path, text)
    est = cost.estimate(flow, render=sms_messages, respondents=1, price=0.04, reminders=0)
    assert est.route_count == 2**250
    assert est.routes["longest"].answers == 251
    assert est.routes["shortest"].answers == 1
    assert est.routes["typical"].answers == 251  # YES to "Start?" asks them all


def test_unknown_language_is_an_error() -> None:
    with pytest.raises(cost.CostError, match="is in: en, gu"):
        cost.estimate(CARERS, render=sms_messages, respondents=1, price=0.04, lang="fr")


# --- the estimate counts what the engine really sends --------------------------------------------


def _typical_text(q: object, lang: str) -> str:
    if isinstance(q, YesNoQuestion | ConsentQuestion):
        return "YES"
    if isinstance(q, ChoiceQuestion):
        # The first choice by its label: a bare "1" to a banded question ("Less than 1 year")
        # is also "1 year", so the engine rightly checks it.
        return tr(q.all_choices()[0].label, lang)
    if isinstance(q, MultiQuestion | ScaleQuestion):
        return "1"
    if isinstance(q, PostcodeQuestion):
        return "LE1 1AA"
    return "Yes"


@pytest.mark.parametrize(
    ("flow", "lang", "now"),
    [
        (CARERS, "en", datetime(2025, 6, 2, 10, tzinfo=UTC)),
        (CARERS, "gu", datetime(2025, 6, 2, 10, tzinfo=UTC)),
        (COMMUNITIES, "en", datetime(2021, 12, 1, 10, tzinfo=UTC)),
    ],
    ids=["carers-en", "carers-gu", "communities-en"],
)
def test_typical_route_matches_an_engine_transcript(flow: Flow, lang: str, now: datetime) -> None:
    session = engine.new_session(
        flow, respondent="r1", channel="sms", address="+447911123456", now=now, lang=lang
    )
    sent: list[list[str]] = []
    text = flow.keywords[0]
    for k in range(len(flow.questions) + 2):
        inbound = Inbound(channel="sms", address="+447911123456", text=text, message_id=f"m{k}")
        step = engine.step(flow, session, inbound, now + timedelta(minutes=k))
        sent.append(messages(step.replies))
        session = step.session
        if session.status.finished:
            break
        q = flow.question(session.current or "")
        assert q is not None
        text = _typical_text(q, lang)
    assert session.status.value == "complete"
    est = cost.estimate(flow, render=sms_messages, respondents=1, price=0.04, lang=lang)
    typical = est.routes["typical"]
    assert tuple(session.asked) == typical.asked
    assert [list(p.messages) for p in typical.steps] == sent
    assert len(sent) == typical.inbound  # keyword + one message per answer


def test_reminder_is_what_the_engine_words(tiny: Flow) -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    s = engine.new_session(tiny, respondent="r", channel="sms", address="+447911123456", now=now)
    step = engine.step(tiny, s, Inbound(channel="sms", address="x", text="hi"), now)
    assert step.session.current == "happy"
    expected = messages(engine.reminder(tiny, step.session))
    parts = cost.reminder_parts(tiny, "en", ["happy"], {}, sms_messages)
    assert list(parts[0].messages) == expected == ["Reminder.\nAre you happy?\nReply YES or NO"]


# --- the command ------------------------------------------------------------------------------------


def test_cost_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SURVEYBOT_FLOWS", str(FLOWS))
    monkeypatch.setenv("COLUMNS", "120")
    args = ["cost", "carers-strategy", "--respondents", "20000", "--price-per-segment", "0.04"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    est = cost.estimate(CARERS, render=sms_messages, respondents=20000, price=0.04)
    for name in ("shortest", "typical", "longest"):
        assert name in result.output
        assert f"£{est.total(est.routes[name]):,.2f}" in result.output
    assert "first choice" in result.output
    assert "[intro + consent]" in result.output
    result = runner.invoke(app, [*args, "--lang", "gu", "--inbound-price", "0.0075", "--detail"])
    assert result.exit_code == 0, result.output
    assert "£0.0075 per inbound segment" in result.output
    assert "inherent" in result.output
    result = runner.invoke(app, [*args, "--lang", "fr"])
    assert result.exit_code == 1
    assert "is in: en, gu" in result.output
    assert "Traceback" not in result.output
