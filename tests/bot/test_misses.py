"""bot/misses.py: masking before anything is stored, the entries a step adds, and the summary's
grouping and synonym suggestions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.loader import require_flow
from bot.misses import MAX_TEXT, Miss, mask, misses_of, summarise
from bot.models import Event, Pending, Session, Step

ROOT = Path(__file__).resolve().parents[2]
CARERS = require_flow(ROOT / "flows" / "carers-strategy.yaml")
NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("call me on 07700 900123 pls", "call me on [phone] pls"),
        ("ring +44 (0)116 305 0004", "ring [phone]"),
        ("07700-900-123", "[phone]"),
        ("email jo.bloggs+x@example.co.uk thanks", "email [email] thanks"),
        ("LE4 7XY", "LE4 ***"),
        ("i live at le167aa", "i live at LE16 ***"),
        ("LE16", "LE16"),  # a district alone is what the survey keeps anyway
        ("about 40 hrs", "about 40 hrs"),
        ("5-9", "5-9"),
        ("since 2019", "since 2019"),
    ],
)
def test_mask(text: str, want: str) -> None:
    assert mask(text) == want


@settings(max_examples=200, deadline=None)
@given(
    before=st.text(max_size=40),
    number=st.from_regex(r"07[0-9]{3} ?[0-9]{6}", fullmatch=True),
    after=st.text(max_size=40),
)
def test_a_mobile_number_never_survives_masking(before: str, number: str, after: str) -> None:
    out = mask(f"{before} {number} {after}")
    assert number not in out
    assert number.replace(" ", "") not in out.replace(" ", "")


@given(st.text(max_size=2000))
def test_masked_text_is_bounded(text: str) -> None:
    assert len(mask(text)) <= MAX_TEXT


def _session(**update: object) -> Session:
    s = Session(
        flow=CARERS.id,
        version=CARERS.version,
        respondent="r1",
        channel="sms",
        started_at=NOW,
        last_at=NOW,
    )
    return s.model_copy(update=update)


def test_misses_of_a_step() -> None:
    step = Step(
        session=_session(pending=Pending(kind="confirm", value="35-49")),
        events=[
            Event(kind="confirm", question="hours"),
            Event(kind="query", question="hours"),
            Event(kind="answered", question="hours"),
        ],
    )
    [m] = misses_of(step, "abt 40ish, ring 07700900123", NOW)
    assert (m.question, m.kind, m.offered, m.text) == (
        "hours",
        "c",
        "35-49",
        "abt 40ish, ring [phone]",
    )
    plain = Step(
        session=_session(),
        events=[Event(kind="not_understood", question="role", data={"reason": "too_many"})],
    )
    [n] = misses_of(plain, "both", NOW)
    assert (n.kind, n.reason) == ("n", "too_many")
    assert misses_of(Step(session=_session()), "yes", NOW) == []


def _miss(q: str, text: str, kind: str = "n") -> Miss:
    return Miss(q, text, kind, NOW)


def test_summary_groups_by_question_and_reply_and_suggests_synonyms() -> None:
    records = []
    for n in range(5):  # five people wrote "my fella", four then chose partner
        final = "partner" if n < 4 else "friend"
        records.append((f"p{n}", [_miss("cared_for", "My fella!")], {"cared_for": final}))
    records.append(("q1", [_miss("cared_for", "my fella"), _miss("cared_for", "my fella")], {}))
    records.append(("q2", [_miss("hours", "loads", "n")], {"hours": "50+"}))
    records.append(("q3", [_miss("role", "3", "c")], {"role": "organisation"}))
    s = summarise(CARERS, records, min_people=3)
    assert [q.question for q in s.questions] == ["role", "cared_for", "hours"]  # flow order
    cared = next(q for q in s.questions if q.question == "cared_for")
    assert cared.replies == 7
    assert len(cared.people) == 6
    [fella] = cared.top(5)
    assert fella.text in ("My fella!", "my fella")
    assert len(fella.people) == 6
    assert fella.finally_gave["Husband, wife or partner"] == 4
    assert fella.finally_gave["A friend or neighbour"] == 1
    assert fella.finally_gave["(no answer yet)"] == 1
    [g] = s.suggestions
    assert (g.question, g.text, g.choice, g.people) == ("cared_for", "my fella", "partner", 4)
    assert g.sentence() == (
        "'my fella' was followed by choice 'partner' (Husband, wife or partner) 4 times at "
        "cared_for: add it to its synonyms?"
    )
    assert s.people == 8


def test_no_suggestion_for_numbers_masked_text_long_replies_or_a_split_vote() -> None:
    records = [
        (f"p{n}", [_miss("role", t)], {"role": "carer"})
        for n in range(4)
        for t in ("3", "call [phone]", "i really do not know what you are asking me")
    ]
    records += [(f"s{n}", [_miss("cared_for", "them")], {"cared_for": f}) for n, f in
                enumerate(["parent", "parent", "parent", "child", "child"])]  # fmt: skip
    assert summarise(CARERS, records, min_people=3).suggestions == []


def test_already_a_synonym_is_not_suggested() -> None:
    records = [(f"p{n}", [_miss("role", "Carer")], {"role": "carer"}) for n in range(5)]
    assert summarise(CARERS, records).suggestions == []
