"""XLSForm relevant/constraint XPath -> flow conditions and limits, and back."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import expr as E
from bot.forms import xpath
from bot.forms.xpath import Target

TARGETS = {
    "role": Target("role", "choice", choices={"carer": "carer", "public": "public", "x y": "x_y"}),
    "support": Target("support", "multi", choices={"breaks": "breaks", "money": "money"}),
    "age": Target("age", "number"),
    "ok": Target("ok", "yesno"),
    "p1": Target("p1", "scale", points={"disagree": 1, "agree": 2}),
    "dob": Target("dob", "date"),
    "name": Target("name", "text"),
    "Home-Town": Target("home_town", "text"),
    "calc": Target("calc", "dropped", why="calculate, row 9"),
}


@pytest.mark.parametrize(
    ("relevant", "condition"),
    [
        ("${role} = 'carer'", 'role == "carer"'),
        ("'carer' = ${role}", 'role == "carer"'),
        ("${role} != 'carer'", 'role != "carer"'),
        ('${role} = "carer"', 'role == "carer"'),
        ("${role}='carer' or ${role}='public'", 'role in ["carer", "public"]'),
        ("${role} != 'carer' and ${role} != 'public'", 'role not in ["carer", "public"]'),
        ("selected(${support}, 'breaks')", 'selected(support, "breaks")'),
        ("not(selected(${support}, 'breaks'))", 'not selected(support, "breaks")'),
        ("${support} = 'breaks money'", 'support == ["breaks", "money"]'),
        ("count-selected(${support}) >= 2", "count(support) >= 2"),
        ("${age} >= 18 and ${age} < 65", "age >= 18 and age < 65"),
        ("18 <= ${age}", "age >= 18"),
        ("${age} > '17'", "age > 17"),
        ("${ok} = 'yes'", "ok == true"),
        ("selected(${ok}, 'no')", "ok == false"),
        ("${p1} = 'agree'", "p1 == 2"),
        ("${p1} >= 'agree'", "p1 >= 2"),
        ("${dob} < date('2000-01-01')", 'dob < "2000-01-01"'),
        ("${name} != ''", "answered(name)"),
        ("${name} = ''", "not answered(name)"),
        ("string-length(${name}) > 0", "answered(name)"),
        ("string-length(${name}) = 0", "not answered(name)"),
        ("${Home-Town} = 'Leicester'", 'home_town == "Leicester"'),
        (
            "(${age} > 1 or ${ok} = 'yes') and not(${role} = 'carer')",
            'age > 1 or ok == true and not role == "carer"'.replace(
                "age > 1 or ok == true", "(age > 1 or ok == true)"
            ),
        ),
        ("${role} = 'x y'", 'role == "x_y"'),
        ("true()", "true"),
        ("${name}", "answered(name)"),
    ],
)
def test_relevant(relevant: str, condition: str) -> None:
    got = xpath.to_condition(xpath.parse(relevant), TARGETS)
    assert E.unparse(got) == condition
    E.parse(E.unparse(got))


@pytest.mark.parametrize(
    ("relevant", "column", "words"),
    [
        ("${calc} > 1", 1, "left out of the chat (calculate, row 9)"),
        ("${age} + 1 > 3", 8, "arithmetic"),
        ("${age} > today()", 10, "today() cannot be used"),
        ("pulldata('a', 'b', 'c', ${name}) = 'x'", 1, "pulldata() cannot be used"),
        ("${role} = 'nurse'", 11, "'nurse' is not a choice of role"),
        ("${rol} = 'carer'", 1, "did you mean"),
        ("${ok} = 'maybe'", 9, "yes/no question"),
        ("${age} = 'old'", 10, "is a number"),
        ("(${age} = 1", 1, "bracket is not closed"),
        ("${age} = 1 )", 12, "unexpected ')'"),
        ("../age = 1", 1, "is a path"),
        ("${role} = ‘carer’", 11, "curly quote"),
        ("string-length(${name}) > 3", 1, "cannot compare the length"),
        ("${age", 1, "'${' without"),
    ],
)
def test_relevant_errors(relevant: str, column: int, words: str) -> None:
    with pytest.raises(xpath.XPathError) as info:
        xpath.to_condition(xpath.parse(relevant), TARGETS)
    assert words in info.value.message + (info.value.hint or "")
    assert info.value.column == column


@pytest.mark.parametrize(
    ("constraint", "kind", "integer", "fields", "unused"),
    [
        (". >= 0 and . <= 168", "number", True, {"min": 0, "max": 168}, 0),
        ("0 <= . and . <= 31", "number", True, {"min": 0, "max": 31}, 0),
        (". > 0 and . < 10", "number", True, {"min": 1, "max": 9}, 0),
        (". > 0", "number", False, {}, 1),
        (". >= 0.5", "number", False, {"min": 0.5}, 0),
        ("string-length(.) <= 200", "text", True, {"max_length": 200}, 0),
        ("string-length(.) >= 3 and regex(., '[a-z]')", "text", True, {"min_length": 3}, 1),
        ("count-selected(.) <= 3", "multi", True, {"max_picks": 3}, 0),
        ("count-selected(.) = 2", "multi", True, {"min_picks": 2, "max_picks": 2}, 0),
        (
            ". >= date('1920-01-01') and . <= date('2010-12-31')",
            "date",
            True,
            {"min_year": 1920, "max_year": 2010},
            0,
        ),
        (". <= today()", "date", True, {}, 1),
        (". >= 0 or . = 99", "number", True, {}, 1),
    ],
)
def test_constraint_limits(
    constraint: str, kind: str, integer: bool, fields: dict[str, float], unused: int
) -> None:
    limits = xpath.constraint_limits(constraint, kind, integer=integer)
    assert limits.fields == fields
    assert len(limits.unused) == unused


def test_exclusive_idiom() -> None:
    limits = xpath.constraint_limits("not(selected(., 'none') and count-selected(.) > 1)", "multi")
    assert limits.exclusive == ["none"]
    assert not limits.unused


SOURCES = {
    "role": xpath.Source("role", "choice"),
    "support": xpath.Source("support", "multi"),
    "age": xpath.Source("age", "number"),
    "ok": xpath.Source("ok", "yesno"),
    "p1": xpath.Source("p1", "scale", {1: "disagree", 2: "agree"}),
    "dob": xpath.Source("dob", "date"),
    "name": xpath.Source("name", "text"),
}
BACK = {k: t for k, t in TARGETS.items() if k in SOURCES}

atoms = st.sampled_from(
    [
        'role == "carer"',
        'role != "public"',
        'role in ["carer", "public"]',
        'role not in ["carer", "public"]',
        'selected(support, "breaks")',
        "count(support) >= 2",
        "age >= 18",
        "age < 65",
        "ok == true",
        "ok == false",
        "p1 == 2",
        "p1 >= 1",
        'dob < "2000-01-01"',
        "answered(name)",
        'name == "Ann"',
    ]
)


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, children).map(lambda ab: f"({ab[0]}) and ({ab[1]})"),
        st.tuples(children, children).map(lambda ab: f"({ab[0]}) or ({ab[1]})"),
        children.map(lambda a: f"not ({a})"),
    )


@given(st.recursive(atoms, _combine, max_leaves=6))
def test_flow_conditions_survive_xpath(text: str) -> None:
    """Any condition the export writes reads back as the same condition (canonical form)."""
    condition = E.parse(text)
    relevant = xpath.from_condition(condition, SOURCES)
    back = xpath.to_condition(xpath.parse(relevant), BACK)
    answers_sets: list[dict[str, Any]] = [
        {
            "role": "carer",
            "support": ["breaks", "money"],
            "age": 20,
            "ok": True,
            "p1": 2,
            "dob": "1990-01-01",
            "name": "Ann",
        },
        {
            "role": "public",
            "support": [],
            "age": 70,
            "ok": False,
            "p1": 1,
            "dob": "2001-05-01",
            "name": None,
        },
        {},
    ]
    for answers in answers_sets:
        assert E.evaluate(back, answers) == E.evaluate(condition, answers)
