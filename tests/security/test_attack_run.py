"""The holes the outside attack run of 2026-12-04 found (issue 17), each through the real app,
and the class each belongs to. Hole 1 (web chat flooding), 5 (session fixation) and 8 (``$``)
have their own files: ``test_web_abuse.py`` and ``test_anchors.py``; hole 2 is in
``tests/reliability/test_channel_isolation.py``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import engine
from bot.errors import UnstorableValue
from bot.loader import load_flow_text
from bot.models import Inbound
from bot.schema import MAX_NUMBER
from store.encode import answer_parts, meta_fields, session_data
from store.identity import normalise_address, respondent_id
from tests.adapters.conftest import START, copy_flows_dir
from tests.security.harness import World, make_world

ROOT = Path(__file__).resolve().parents[2]
NUMBERS_FLOW = """\
id: numbers
title: Numbers
council: Test Council
contact: {phone: 0116 000 0000}
intro: "Hello from Test Council. Text STOP to stop."
thanks: Thank you.
keywords: [NUMBERS]
questions:
  - {id: count, type: number, text: "How many?"}
  - {id: amount, type: number, integer: false, text: "How much?"}
  - {id: done, type: yesno, text: "Finished?"}
"""
HUGE = [
    "99999999999999999999999",
    "99,999,999,999,999,999,999,999",
    "-99999999999999999999999",
    "9" * 400,
    "1" + "0" * 4000,
    "£1,000,000,000,000,000,000",
    "12345678901234567890.5",
]


@pytest.fixture
async def numbers_world(tmp_path: Path) -> Any:
    (copy_flows_dir(tmp_path) / "numbers.yaml").write_text(NUMBERS_FLOW)
    w = await make_world(tmp_path)
    yield w
    await w.close()


# -- hole 3: a huge number never crashes a step -----------------------------------------------------


@pytest.mark.parametrize("text", HUGE)
async def test_a_huge_number_by_sms_is_out_of_range_not_a_crash(
    numbers_world: World, text: str
) -> None:
    w = numbers_world
    sender = "+447700900111"
    await w.say_sms(sender, ["NUMBERS"], sid="SMstart")
    answer = await w.sms(text, sid="SMhuge", sender=sender)
    assert answer.status == 200, answer
    replies = " ".join(answer.twiml())
    assert replies.startswith("Sorry")
    assert "list" not in replies
    # Nothing out of range was stored, and the survey carries on.
    ok = await w.sms("12", sid="SMok", sender=sender)
    assert "How much?" in " ".join(ok.twiml())
    amount = await w.sms(text, sid="SMhuge2", sender=sender)
    assert amount.status == 200
    assert " ".join(amount.twiml()).startswith("Sorry")
    rid = w.services.store.respondent("sms", sender)
    stored = await w.services.store.response(rid, "numbers")
    assert stored is not None
    assert {k: a.value for k, a in stored.answers.items()} == {"count": 12}


async def test_a_huge_number_by_web_chat_is_answered(numbers_world: World) -> None:
    from tests.security.test_web_abuse import WebVisitor

    visitor = WebVisitor(numbers_world, "numbers")
    first = await visitor.start()
    assert first["replies"][-1]["question"] == "count"
    for text in HUGE:
        body = await visitor.say(text, question="count")
        assert body["replies"][-1]["question"] == "count", body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.integers(min_value=10**15, max_value=10**400).map(str),
        st.integers(min_value=10**15, max_value=10**60).map(lambda n: f"{n:,}"),
        st.integers(min_value=10**15, max_value=10**60).map(lambda n: f"-{n}"),
        st.floats(allow_nan=False).map(repr),
        st.text(alphabet="0123456789,.-£ ", min_size=1, max_size=60),
    )
)
def test_every_question_type_stores_what_it_accepts(text: str) -> None:
    """Whatever digits are sent to any question, the step's session and answers encode (no
    integer past 64 bits, no infinity) and numbers stay within :data:`MAX_NUMBER`."""
    flow = _every_type()
    for q in flow.questions:
        if not q.answerable:
            continue
        s = engine.new_session(flow, respondent="r", channel="sms", address="a", now=START)
        s = engine.step(flow, s, Inbound(channel="sms", address="a", kind="start"), START).session
        s = s.model_copy(update={"current": q.id, "asked": [*s.asked, q.id]})
        result = engine.step(flow, s, Inbound(channel="sms", address="a", text=text), START)
        session_data(result.session)  # what a commit writes: the session, meta, each answer
        meta_fields(result.session)
        for a in result.answers:
            answer_parts(a)
            if isinstance(a.value, int | float) and not isinstance(a.value, bool):
                assert math.isfinite(a.value)
                assert abs(a.value) <= MAX_NUMBER


_FLOW_CACHE: list[Any] = []


def _every_type() -> Any:
    if not _FLOW_CACHE:
        result = load_flow_text((ROOT / "tests/bot/flows/every-type.yaml").read_bytes(), "e.yaml")
        assert result.flow is not None
        _FLOW_CACHE.append(result.flow)
    return _FLOW_CACHE[0]


def test_an_unstorable_value_is_a_typed_error_not_a_crash() -> None:
    flow = _every_type()
    s = engine.new_session(flow, respondent="r", channel="sms", address="a", now=START)
    s = s.model_copy(update={"answers": {"hours": 10**30}})
    with pytest.raises(UnstorableValue):
        session_data(s)


async def test_an_unstorable_step_gets_a_reply_and_stores_nothing(numbers_world: World) -> None:
    """The backstop behind the parsers: a step whose session cannot be encoded is not stored,
    and the person is asked again (a 500 would leave them with no reply at all)."""
    from unittest import mock

    w = numbers_world
    sender = "+447700900112"
    await w.say_sms(sender, ["NUMBERS"], sid="SMs")
    rid = w.services.store.respondent("sms", sender)
    before = await w.snapshot()
    real = engine.step

    def poisoned(*args: Any, **kw: Any) -> Any:
        out = real(*args, **kw)
        out.session.answers["count"] = 10**30
        return out

    with mock.patch.object(engine, "step", poisoned):
        answer = await w.sms("5", sid="SMp", sender=sender)
    assert answer.status == 200
    assert "How many?" in " ".join(answer.twiml())
    assert await w.snapshot() == before
    assert await w.services.store.response(rid, "numbers") is not None


# -- hole 7 and its class: every number and date a flow sets is bounded, with a located error ------

HOSTILE_VALUES: list[Any] = [
    10**30,
    -(10**30),
    99999999999,
    1e308,
    float("inf"),
    float("-inf"),
    float("nan"),
    "99999999999 days",
    "1e32 days",
    "100000000000000000000000 weeks",
    "-5 days",
    "9999-12-31",
    "0001-01-01",
]


def _settings_of(data: dict[str, Any]) -> list[tuple[list[Any], Any]]:
    """(path, value) of every number, duration and date setting of a flow, question fields
    included."""
    paths: list[list[Any]] = [
        ["expiry"],
        ["welcome_back_after"],
        ["max_misses"],
        ["opens"],
        ["closes"],
        ["reminders", "after"],
        ["reminders", "every"],
        ["reminders", "max"],
    ]
    for i, q in enumerate(data["questions"]):
        for key in (
            "min",
            "max",
            "min_length",
            "max_length",
            "min_picks",
            "max_picks",
            "min_year",
            "max_year",
        ):
            paths.append(["questions", i, key])
        if "other" in q:
            paths.append(["questions", i, "other", "max_length"])
    return [(p, None) for p in paths]


def _set(data: Any, path: list[Any], value: Any) -> None:
    for key in path[:-1]:
        data = data.setdefault(key, {}) if isinstance(key, str) else data[key]
    data[path[-1]] = value


SMALL_FLOW = (
    NUMBERS_FLOW
    + """\
  - {id: how, type: scale, text: "How good?"}
  - {id: words, type: text, text: "Why?"}
  - id: picks
    type: multi
    text: "Which?"
    choices: [{id: a, label: A}, {id: b, label: B}]
    other: {label: Other}
  - {id: born, type: date, text: "When?"}
"""
)
"""One question of each type that has number settings (a small file: each case loads fast)."""


def test_hostile_numbers_in_any_flow_setting_are_located_errors() -> None:
    base = yaml.safe_load(SMALL_FLOW)
    tried = 0
    for path, _ in _settings_of(base):
        for value in HOSTILE_VALUES:
            data = yaml.safe_load(SMALL_FLOW)
            data["reminders"] = {"after": "24h"}
            _set(data, path, value)
            text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
            result = load_flow_text(text, "hostile.yaml")
            internal = [p for p in result.problems if p.code == "internal"]
            assert not internal, (path, value, internal[0].format())
            tried += 1
            if result.flow is None:
                errors = [p for p in result.problems if p.severity == "error"]
                assert errors, (path, value)
                assert all(p.line is not None for p in errors), (path, value)
    assert tried > 250


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("reminders: {after: 99999999999 days}", "at most 10 years"),
        ("expiry: 1e32 days", "not a duration"),
        ("expiry: 99999999999 days", "at most 10 years"),
        ("expiry: 100000000000000000000000000000", "at most 10 years"),
        ("welcome_back_after: .inf", "not a duration"),
        ("closes: 9999-12-31", "year from 2000"),
    ],
)
def test_the_reported_flow_lines_give_a_located_error(line: str, expected: str) -> None:
    text = NUMBERS_FLOW.replace("keywords:", line + "\nkeywords:")
    result = load_flow_text(text, "numbers.yaml")
    assert result.flow is None
    errors = [p for p in result.problems if p.severity == "error"]
    assert errors[0].line == 7, errors[0].format()
    assert expected in errors[0].format(), errors[0].format()
    assert all(p.code != "internal" for p in result.problems)


# -- hole 6: senders with no digits never share a respondent ----------------------------------------


def test_alphanumeric_senders_have_their_own_ids() -> None:
    secret = b"s"
    senders = ["COUNCIL", "Tesco", "NHSAPP", "Tesco2", "Boots2", "+", "---", "VERIFY"]
    ids = {respondent_id(secret, "sms", s) for s in senders}
    assert len(ids) == len(senders)
    # The same sender is one person however it is spaced or cased; numbers are unchanged.
    assert respondent_id(secret, "sms", "NHS App") == respondent_id(secret, "sms", "nhsapp")
    assert normalise_address("sms", "07700 900123") == "+447700900123"
    assert normalise_address("sms", "+1 (555)") == "+1555"
    assert normalise_address("whatsapp", "whatsapp:+447700900123") == "+447700900123"
    with pytest.raises(ValueError, match="empty"):
        respondent_id(secret, "sms", "   ")


async def test_two_alphanumeric_senders_keep_separate_responses(world: World) -> None:
    await world.say_sms("COUNCIL", ["TEST", "YES", "Ann"], sid="SMa")
    await world.say_sms("NHSAPP", ["TEST", "YES", "Bob"], sid="SMb")
    store = world.services.store
    a = await store.response(store.respondent("sms", "COUNCIL"), "every-type")
    b = await store.response(store.respondent("sms", "NHSAPP"), "every-type")
    assert a is not None
    assert b is not None
    assert a.respondent != b.respondent
    assert a.answers["name"].value == "Ann"
    assert b.answers["name"].value == "Bob"


# -- hole 4: erasure finds entries of a first message the rate limit refused -------------------------


@pytest.fixture
async def limited_world(tmp_path: Path) -> Any:
    w = await make_world(tmp_path, SURVEYBOT_RATE_LIMIT=1)
    yield w
    await w.close()


async def test_erasure_removes_index_and_reminder_entries_of_a_refused_first_message(
    limited_world: World,
) -> None:
    w = limited_world
    sender = "+447700900222"
    store = w.services.store
    rid = store.respondent("sms", sender)
    # Over the limit before their first keyword: the keyword's commit is refused, after its
    # index and reminder entries were written.
    await w.sms("hello", sid="SMx0", sender=sender)
    refused = await w.sms("TEST", sid="SMx1", sender=sender)
    assert refused.status == 200
    assert await store.response(rid, "every-type") is None
    keys = store.keys
    assert await w.redis.zscore(keys.index_for("every-type", rid), rid) is not None
    await store.erase("sms", sender)
    for key, (_, value) in (await w.snapshot()).items():
        assert rid not in key
        assert rid not in str(value), key


async def test_erasure_looks_in_every_served_flow(world: World) -> None:
    """Data written before the flows set recorded an index entry (an older version): the
    ``erase`` command also looks in every flow being served."""
    store = world.services.store
    rid = store.respondent("sms", "+447700900333")
    await world.redis.zadd(store.keys.index_for("every-type", rid), {rid: 1})
    await world.redis.zadd(store.keys.due_for("carers-strategy", rid), {rid: 1})
    await store.erase("sms", "+447700900333", flows=world.services.registry.flows)
    for key, (_, value) in (await world.snapshot()).items():
        assert rid not in key
        assert rid not in str(value), key


# -- the class of hole 3: numbers in settings and command options are bounded ------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SURVEYBOT_RETENTION_DAYS", "99999999999999999999999"),
        ("SURVEYBOT_DEDUPE_HOURS", "1,000"),
        ("SURVEYBOT_PORT", "99999999999999999999999"),
        ("SURVEYBOT_RATE_LIMIT", "-1"),
        ("SURVEYBOT_SMS_PER_SECOND", "1e400"),
        ("SURVEYBOT_SESSION_CACHE", "99999999999999999999999"),
        ("SURVEYBOT_WEB_NEW_PER_MINUTE", "99999999999999999999999"),
    ],
)
def test_a_setting_out_of_bounds_is_one_plain_line(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from bot import cli

    monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["surveybot", "reminders", "--flow", "x"])
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"Error: {name}:")
    assert "Traceback" not in err


def test_command_options_are_bounded() -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    flow = str(ROOT / "flows" / "carers-strategy.yaml")
    for args in (["-n", "99999999999999999999999"], ["--price-per-segment", "1e308"]):
        result = CliRunner().invoke(app, ["cost", flow, *args])
        assert result.exit_code == 2, result.output
