"""Flow edits mid-survey: a session pinned to an older version continues safely (engine.migrate).

The rule (bot/engine.py docstring): answers are kept by question id; if the current question was
removed, the respondent continues at the first question, in the new order, not yet answered and
due; an answer no longer valid for its edited question is set aside and the question re-asked.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot import engine
from bot.loader import load_flow_text
from bot.models import Inbound, Session, Status
from bot.schema import Flow

V1 = """
id: edit-test
title: Test
council: Test Council
contact: {phone: "0116 000 0000"}
intro: Hello. Text STOP to stop.
thanks: Thanks.
questions:
  - id: role
    type: choice
    text: Who are you?
    choices: [{id: carer, label: Carer}, {id: staff, label: Staff}, {id: other, label: Other}]
  - {id: hours, type: number, text: How many hours?, min: 0, max: 168}
  - {id: often, type: yesno, text: Do you get breaks?}
  - {id: ideas, type: text, text: Any ideas?}
"""
NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)


def flow(text: str) -> Flow:
    result = load_flow_text(text, "edit-test.yaml")
    assert result.flow is not None, result.problems
    return result.flow


def walk(f: Flow, texts: list[str]) -> Session:
    s = engine.new_session(f, respondent="r", channel="sms", address="a", now=NOW)
    for t in ["hi", *texts]:
        s = engine.step(f, s, Inbound(channel="sms", address="a", text=t), NOW).session
    return s


def send(f: Flow, s: Session, text: str) -> engine.Step:  # type: ignore[name-defined]
    return engine.step(
        f, s, Inbound(channel="sms", address="a", text=text), NOW + timedelta(minutes=5)
    )


def test_versions_differ() -> None:
    assert flow(V1).version != flow(V1.replace("Any ideas?", "Any other ideas?")).version


def test_the_current_question_removed_continues_at_the_next_unanswered() -> None:
    v1 = flow(V1)
    s = walk(v1, ["1", "20"])  # on 'often'
    assert s.current == "often"
    v2 = flow(V1.replace("  - {id: often, type: yesno, text: Do you get breaks?}\n", ""))
    r = send(v2, s, "yes")  # meant for the removed question: not taken as an idea
    assert r.session.version == v2.version
    assert r.session.current == "ideas"
    assert r.session.answers == {"role": "carer", "hours": 20}
    assert any(e.kind == "migrated" for e in r.events)
    assert "Any ideas?" in r.replies[-1].text
    r = send(v2, r.session, "More breaks")
    assert r.session.status is Status.COMPLETE


def test_answers_to_removed_questions_are_kept() -> None:
    v1 = flow(V1)
    s = walk(v1, ["1", "20", "yes"])  # on 'ideas'
    v2 = flow(
        V1.replace("  - {id: hours, type: number, text: How many hours?, min: 0, max: 168}\n", "")
    )
    r = send(v2, s, "More breaks")
    assert r.session.status is Status.COMPLETE
    assert r.session.answers["hours"] == 20  # still there for the export
    assert r.session.answers["ideas"] == "More breaks"


def test_an_answer_made_invalid_by_the_edit_is_asked_again_later() -> None:
    v1 = flow(V1)
    s = walk(v1, ["3", "20"])  # role: other
    v2 = flow(V1.replace(", {id: other, label: Other}", ""))  # 'other' choice removed
    r = send(v2, s, "no")
    assert "role" not in r.session.answers
    assert r.session.answers["often"] is False
    # the rest goes on; 'role' (no longer answered) is asked again when the route reaches it
    r = send(v2, r.session, "ideas")
    assert r.session.status is Status.ACTIVE or r.session.status is Status.COMPLETE


def test_a_new_question_before_the_current_one_is_not_forced_on_them() -> None:
    v1 = flow(V1)
    s = walk(v1, ["1", "20"])  # on 'often'
    v2 = flow(
        V1.replace(
            "  - {id: often,", "  - {id: age, type: number, text: Your age?}\n  - {id: often,"
        )
    )
    r = send(v2, s, "yes")
    assert r.session.answers["often"] is True
    assert r.session.current == "ideas"
