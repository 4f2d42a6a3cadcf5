"""Properties of the engine over arbitrary conversations (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import engine
from bot.loader import require_flow
from bot.models import Inbound, Session, Status
from bot.schema import Flow

ROOT = Path(__file__).resolve().parents[2]
FLOWS = {
    "carers": require_flow(ROOT / "flows" / "carers-strategy.yaml"),
    "every": require_flow(Path(__file__).parent / "flows" / "every-type.yaml"),
}
START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

# Texts people might plausibly send, plus anything at all.
plausible = st.sampled_from(
    [
        "yes",
        "no",
        "1",
        "2",
        "3",
        "4",
        "5",
        "7",
        "1 and 3",
        "1,2,3",
        "all",
        "none",
        "skip",
        "back",
        "help",
        "stop",
        "start",
        "restart",
        "language",
        "2",
        "progress",
        "strongly agree",
        "LE16 7AA",
        "1960",
        "3/4/1960",
        "forty two",
        "",
        " ",
        "👍",
        "ok",
        "nope",
        "Sometims",
        "option 2",
    ]
)
anything = st.text(max_size=300) | st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
huge = st.just("x" * 5000) | st.just("😀" * 2500) | st.just("\x00\x01\x1b[31m")
texts = st.one_of(plausible, plausible, anything, huge)
messages = st.lists(
    st.tuples(texts, st.integers(min_value=0, max_value=60 * 60 * 30)), min_size=1, max_size=40
)


def _check_session(flow: Flow, s: Session) -> None:
    Session.model_validate(s.model_dump())  # still a valid session
    for qid, value in s.answers.items():
        q = flow.question(qid)
        assert q is not None
        assert engine.valid_value(q, value), (qid, value)
    if s.status is Status.ACTIVE and s.current is not None:
        assert flow.question(s.current) is not None
    if s.status is Status.COMPLETE:
        # Never skips a required question: every due, required question on the path is answered.
        for qid in s.asked:
            q = flow.question(qid)
            assert q is not None
            if q.answerable and not q.optional:
                assert s.answers.get(qid) is not None, qid


@pytest.mark.parametrize("name", sorted(FLOWS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conversation=messages)
def test_step_never_raises_and_keeps_the_session_valid(
    name: str, conversation: list[tuple[str, int]]
) -> None:
    flow = FLOWS[name]
    now = START
    s = engine.new_session(flow, respondent="r", channel="sms", address="+447700900123", now=now)
    for text, wait in conversation:
        now += timedelta(seconds=wait)
        result = engine.step(flow, s, Inbound(channel="sms", address="x", text=text), now)
        for a in result.answers:
            q = flow.question(a.question)
            assert q is not None
            assert engine.valid_value(q, a.value), a
        _check_session(flow, result.session)
        assert result.session.messages == s.messages + 1
        s = result.session


@settings(max_examples=60, deadline=None)
@given(conversation=messages)
def test_step_is_deterministic(conversation: list[tuple[str, int]]) -> None:
    flow = FLOWS["every"]

    def run() -> list[object]:
        now = START
        s = engine.new_session(flow, respondent="r", channel="sms", address="a", now=now)
        out: list[object] = []
        for text, wait in conversation:
            now += timedelta(seconds=wait)
            r = engine.step(flow, s, Inbound(channel="sms", address="x", text=text), now)
            out.append(([x.text for x in r.replies], r.session.model_dump()))
            s = r.session
        return out

    assert run() == run()


def test_completing_with_required_answers_only_via_valid_path() -> None:
    """A direct walk: answering '1' (or yes) to everything completes the carers flow."""
    flow = FLOWS["carers"]
    now = START
    s = engine.new_session(flow, respondent="r", channel="sms", address="a", now=now)
    for _ in range(80):
        q = flow.question(s.current) if s.current else None
        text = "yes" if q is not None and q.type in ("yesno", "consent") else "1"
        if q is not None and q.type == "text":
            text = "More short breaks please"
        if q is not None and q.type == "postcode":
            text = "LE16 7AA"
        r = engine.step(flow, s, Inbound(channel="sms", address="x", text=text), now)
        s = r.session
        if s.status is not Status.ACTIVE:
            break
    assert s.status is Status.COMPLETE
    _check_session(flow, s)
