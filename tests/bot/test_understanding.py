"""Properties of the readers added for real replies (bands, packs, phrases), and a terse carer
completing the carers flow by SMS."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import engine
from bot.answers import Confirm, Context, Invalid, Ok, parse_answer
from bot.bands import band_of_label
from bot.loader import require_flow
from bot.models import Inbound, Status
from bot.schema import ChoiceQuestion, MultiQuestion, Question, ScaleQuestion
from bot.text import tr

ROOT = Path(__file__).resolve().parents[2]
FLOWS = {p.stem: require_flow(p) for p in sorted((ROOT / "flows").glob("*.yaml"))}
CTX = Context(("en", "gu"), None, datetime(2026, 12, 4, tzinfo=UTC).date())
CHOICE_QUESTIONS = [
    (f, q)
    for f in FLOWS.values()
    for q in f.questions
    if isinstance(q, ChoiceQuestion | MultiQuestion | ScaleQuestion) and q.choices
]
BANDED = [
    q
    for _, q in CHOICE_QUESTIONS
    if isinstance(q, ChoiceQuestion)
    and sum(
        band_of_label(c.label if isinstance(c.label, str) else c.label["en"]) is not None
        for c in q.choices
    )
    >= 3
]


@pytest.mark.parametrize(("flow", "q"), CHOICE_QUESTIONS, ids=lambda x: getattr(x, "id", ""))
def test_a_labels_own_text_maps_to_its_choice(flow: object, q: object) -> None:
    assert isinstance(q, ChoiceQuestion | MultiQuestion | ScaleQuestion)
    assert q.choices is not None
    for i, c in enumerate(q.choices):
        labels = [c.label] if isinstance(c.label, str) else list(c.label.values())
        for label in labels:
            lang = (
                "en"
                if isinstance(c.label, str)
                else next(k for k, v in c.label.items() if v == label)
            )
            out = parse_answer(q, label, lang, ctx=CTX)
            want = (
                i + 1
                if isinstance(q, ScaleQuestion)
                else ([c.id] if isinstance(q, MultiQuestion) else c.id)
            )
            assert out == Ok(want), (q.id, label, out)


@settings(max_examples=400, deadline=None)
@given(
    q=st.sampled_from(BANDED),
    n=st.integers(0, 200),
    form=st.sampled_from(["{n}", "{n} hours", "about {n}", "{n} yrs", "im {n}", "abt {n} hrs"]),
)
def test_no_number_maps_into_a_band_that_does_not_contain_it(
    q: ChoiceQuestion, n: int, form: str
) -> None:
    out = parse_answer(q, form.format(n=n), "en", ctx=CTX)
    if not isinstance(out, Ok):
        return
    picked = next(c for c in q.choices if c.id == out.value)
    label = picked.label if isinstance(picked.label, str) else picked.label["en"]
    band = band_of_label(label)
    keyish = form == "{n}" and 1 <= n <= len(q.all_choices())
    if band is not None and not keyish:
        assert band.low <= n < band.high or (band.high == math.inf and n >= band.low), (
            q.id,
            form.format(n=n),
            label,
        )


@settings(max_examples=300, deadline=None)
@given(q=st.sampled_from(BANDED), n=st.integers(1, 9))
def test_a_bare_key_is_its_choice_or_a_check_naming_it(q: ChoiceQuestion, n: int) -> None:
    cs = q.all_choices()
    if n > len(cs):
        return
    out = parse_answer(q, str(n), "en", ctx=CTX)
    choice = cs[n - 1]
    assert out in (Ok(choice.id), Confirm(choice.id, tr(choice.label, "en")))


def _q(flow: str, qid: str) -> Question:
    q = FLOWS[flow].question(qid)
    assert q is not None
    return q


def test_word_order_tells_carer_from_cared_for() -> None:
    role = _q("carers-strategy", "role")
    assert parse_answer(role, "I care for my husband", ctx=CTX) == Ok("carer")
    assert parse_answer(role, "my wife cares for me", ctx=CTX) == Ok("cared_for")
    assert parse_answer(role, "I look after my mum", ctx=CTX) == Ok("carer")
    assert parse_answer(role, "my mum looks after me", ctx=CTX) == Ok("cared_for")


def test_prefer_not_to_say_is_never_no() -> None:
    q = _q("carers-strategy", "disability")
    for text in ("rather not say", "rather not", "pass", "private", "id rather not"):
        assert parse_answer(q, text, ctx=CTX) == Ok("prefer_not"), text


def test_queries_are_never_answers_even_to_free_text() -> None:
    flow = FLOWS["carers-strategy"]
    for qid in ("anything_else", "role", "postcode", "consent"):
        q = flow.question(qid)
        assert q is not None
        assert parse_answer(q, "who is this?", ctx=CTX) == Invalid("query")


# A carer in her 70s answering tersely, as in the issue: her own short words, a number or two.
TERSE = [
    "CARERS",
    "yes",
    "carer",
    "husband",
    "24/7",
    "since 2009",
    "agree",
    "agree",
    "strongly agree",
    "respite and someone to listen",
    "no",
    "more help at night",
    "76",
    "woman",
    "yes",
    "white",
    "english",
    "rather not",
    "le16 7",
]


def test_terse_carer_completes_the_carers_flow() -> None:
    flow = FLOWS["carers-strategy"]
    now = datetime(2026, 11, 23, 10, tzinfo=UTC)
    s = engine.new_session(flow, respondent="r", channel="sms", address="a", now=now)
    replies = 0
    for text in TERSE:
        now += timedelta(minutes=1)
        step = engine.step(flow, s, Inbound(channel="sms", address="a", text=text), now)
        s = step.session
        replies += 1
        assert not any(r.kind == "error" for r in step.replies), (text, step.replies)
    assert s.status is Status.COMPLETE
    assert replies == 19  # messages she sent, the keyword included (the issue measured 33)
    assert s.answers["hours"] == "50+"
    assert s.answers["years_caring"] == "10+"
    assert s.answers["age"] == "75+"
    assert s.answers["disability"] == "prefer_not"
    assert s.answers["postcode"] == "LE16"
    assert s.answers["support_most"] == ["breaks", "listened_to"]
