"""The condition language: parsing, canonical text, evaluation, static checks, hostile input."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from bot.errors import ExpressionError
from bot.expr import (
    COMPARE_OPS,
    KEYWORDS,
    MAX_DEPTH,
    MAX_LENGTH,
    And,
    Bool,
    Call,
    Compare,
    Expr,
    Issue,
    ListLit,
    Name,
    Not,
    Num,
    Or,
    Ref,
    Str,
    check,
    evaluate,
    parse,
    references,
    unparse,
)
from bot.models import AnswerValue
from bot.schema import Question

# --- parsing -----------------------------------------------------------------------------------

a, b, c = Name("a"), Name("b"), Name("c")


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ('role == "carer"', Compare("==", Name("role"), Str("carer"))),
        ("role == 'carer'", Compare("==", Name("role"), Str("carer"))),
        (
            'role == "carer" and age_band in ["65-74", "75+"]',
            And(
                (
                    Compare("==", Name("role"), Str("carer")),
                    Compare("in", Name("age_band"), ListLit((Str("65-74"), Str("75+")))),
                )
            ),
        ),
        ('selected(support, "respite")', Call("selected", (Name("support"), Str("respite")))),
        ("answered(postcode)", Call("answered", (Name("postcode"),))),
        ("not answered(postcode)", Not(Call("answered", (Name("postcode"),)))),
        ("hours >= 20", Compare(">=", Name("hours"), Num(20))),
        ("hours < -2.5", Compare("<", Name("hours"), Num(-2.5))),
        ("cares_for_child == true", Compare("==", Name("cares_for_child"), Bool(True))),
        ("cares_for_child == yes", Compare("==", Name("cares_for_child"), Bool(True))),
        ("cares_for_child != No", Compare("!=", Name("cares_for_child"), Bool(False))),
        ("count(support) > 2", Compare(">", Call("count", (Name("support"),)), Num(2))),
        ("COUNT(support) > 2", Compare(">", Call("count", (Name("support"),)), Num(2))),
        (
            "x not in [1, 2.5, false]",
            Compare("not in", Name("x"), ListLit((Num(1), Num(2.5), Bool(False)))),
        ),
        ("x NOT IN []", Compare("not in", Name("x"), ListLit(()))),
        ('x in ["a",]', Compare("in", Name("x"), ListLit((Str("a"),)))),
        # precedence: or < and < not < comparison
        ("a or b and c", Or((a, And((b, c))))),
        ("a and b or c", Or((And((a, b)), c))),
        ("a AND b Or c", Or((And((a, b)), c))),
        ("(a or b) and c", And((Or((a, b)), c))),
        ("not a and b", And((Not(a), b))),
        ("not (a and b)", Not(And((a, b)))),
        ("not a == 1", Not(Compare("==", a, Num(1)))),
        ("not not a", Not(Not(a))),
        ("a and b and c", And((a, b, c))),
        ("(a and b) and c", And((And((a, b)), c))),
        ("(a == 1) == true", Compare("==", Compare("==", a, Num(1)), Bool(True))),
        ("((a))", a),
        ('"carer" == role', Compare("==", Str("carer"), Name("role"))),
        # escapes: only quotes and backslash
        (r'a == "say \"hi\""', Compare("==", a, Str('say "hi"'))),
        (r"a == 'it\'s'", Compare("==", a, Str("it's"))),
        (r'a == "back\\slash"', Compare("==", a, Str("back\\slash"))),
        (r'a == "\d"', Compare("==", a, Str("\\d"))),
        ("a\u00a0==\t1\n", Compare("==", a, Num(1))),
        ("true", Bool(True)),
        ("007 == a", Compare("==", Num(7), a)),
    ],
)
def test_parse(text: str, tree: Expr) -> None:
    assert parse(text) == tree


def test_numbers_keep_int_or_float() -> None:
    node = parse("a == 2")
    assert isinstance(node, Compare)
    assert isinstance(node.right, Num)
    assert type(node.right.value) is int
    node = parse("a == 2.0")
    assert isinstance(node, Compare)
    assert isinstance(node.right, Num)
    assert type(node.right.value) is float


@pytest.mark.parametrize(
    ("text", "column", "message", "hint"),
    [
        ("role == ", 9, "expected a value after '=='", "question id"),
        ("role ==", 8, "expected a value after '=='", None),
        ("(a == 1", 8, "missing ')'", "'(' at column 1 is not closed"),
        ("((a == 1)", 10, "missing ')'", "'(' at column 1"),
        ("a == 1)", 7, "')' with no '('", None),
        ('role = "carer"', 6, "unknown operator '='", "=="),
        ("a => 1", 3, "'=>'", ">="),
        ("a =< 1", 3, "'=<'", "<="),
        ("a <> 1", 3, "'<>'", "!="),
        ("a && b", 3, "'&&'", "and"),
        ("a || b", 3, "'||'", "or"),
        ("! a", 1, "unknown operator '!'", None),
        ("a == - 1", 6, "unexpected '-'", "-5"),
        ("a == .5", 6, "unexpected '.'", "0.5"),
        ("a == 1.", 7, "decimal point", None),
        ("a == 12ab", 6, "'12ab' is not a number", None),
        ("a == 1.2.3", 6, "'1.2.3' is not a number", None),
        ("a == 10000000000000000", 6, "too large", None),
        ('a == "carer', 6, "no closing quote", None),
        ("a == 'x\\'", 6, "no closing quote", None),
        ("a == \u201ccarer\u201d", 6, "curly quote", "straight quotes"),
        ("a == {1}", 6, "unexpected '{'", "square brackets"),
        ("a == 1 @", 8, "unexpected character '@'", None),
        ("a < b < c", 7, "cannot be chained", "and"),
        ("a == 1 in [1]", 8, "cannot be chained", None),
        ('role "carer"', 6, "missing an operator", None),
        ("x not y", 3, "unexpected 'not'", "not in"),
        ("a == not b", 6, "expected a value, found 'not'", "not answered"),
        ("a and", 6, "expected a value after 'and'", None),
        ("or a", 1, "expected a value, found 'or'", None),
        ("", 1, "empty", None),
        ("   ", 1, "empty", None),
        ("()", 2, "expected a value, found ')'", None),
        ("[a]", 2, "not the question id 'a'", '"a"'),
        ("x in [[1]]", 7, "cannot be nested", None),
        ("x in [1 2]", 9, "expected ',' or ']'", "commas"),
        ("x in [1, 2", 11, "missing ']'", "'[' at column 6"),
        ("f(a", 4, "missing ')'", "'(' at column 2"),
        ("f(a b)", 5, "expected ',' or ')' in f(...)", "commas"),
        ("f(a,)", 5, "expected a value, found ')'", None),
        ("Role == 'x'", 1, "lower case", "did you mean 'role'?"),
        ("_x == 1", 1, "'_x' is not a question id", None),
        ("a == 1, b", 7, "unexpected ','", None),
        ("a ] b", 3, "']' with no '['", None),
    ],
)
def test_parse_errors(text: str, column: int, message: str, hint: str | None) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(text)
    err = info.value
    assert err.column == column, str(err)
    assert message in err.message
    if hint is not None:
        assert err.hint is not None
        assert hint in err.hint
    assert f"column {column}" in str(err)


def test_first_error_in_reading_order() -> None:
    # Tokens are read lazily, so a later bad character does not mask an earlier syntax error.
    with pytest.raises(ExpressionError) as info:
        parse(") == @")
    assert info.value.column == 1


def test_columns_recorded() -> None:
    expr = parse('x == 1 and selected(support, "respite") or not answered(pc)')
    assert references(expr) == [Ref("x", 1), Ref("support", 21), Ref("pc", 57)]
    assert isinstance(expr, Or)
    first = expr.items[0]
    assert isinstance(first, And)
    cmp = first.items[0]
    assert isinstance(cmp, Compare)
    assert cmp.column == 3


def test_references_in_order_with_repeats() -> None:
    expr = parse("a == b or (c in [1] and f(a, d))")
    assert [r.name for r in references(expr)] == ["a", "b", "c", "a", "d"]
    assert references(Bool(True)) == []


def test_ast_is_immutable_and_hashable() -> None:
    expr = parse('a in ["x"] and b')
    with pytest.raises(AttributeError):
        expr.items = ()  # type: ignore[misc,union-attr]
    assert hash(expr) == hash(parse('a  in  ["x"]  and  b'))
    assert parse("a == 1") == parse("a==1")  # columns do not take part in equality


@pytest.mark.parametrize(
    "build",
    [
        lambda: Name("A"),
        lambda: Name("and"),
        lambda: Name("yes"),
        lambda: Num(True),
        lambda: Num(float("nan")),
        lambda: Num(10**15),
        lambda: And((a,)),
        lambda: Or(()),
        lambda: Compare("=", a, b),  # type: ignore[arg-type]
        lambda: Call("Bad", ()),
        lambda: ListLit((a,)),  # type: ignore[arg-type]
    ],
)
def test_invalid_nodes_rejected(build: Any) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each node words its own message
        build()


# --- canonical text ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("a   AND  b", "a and b"),
        ("(a and b) and c", "(a and b) and c"),
        ("a and (b and c)", "a and (b and c)"),
        ("(a or b) and c", "(a or b) and c"),
        ("a or (b and c)", "a or b and c"),
        ("(not a) and b", "not a and b"),
        ("not (a or b)", "not (a or b)"),
        ("NOT NOT a", "not not a"),
        ("x Not In ['p', \"q\"]", 'x not in ["p", "q"]'),
        ("x == yes", "x == true"),
        ("x == No", "x == false"),
        ("(a == 1) != (b or c)", "(a == 1) != (b or c)"),
        ("(not a) == b", "(not a) == b"),
        ("Selected( s , 'x' )", 'selected(s, "x")'),
        ("f()", "f()"),
        ("f(a or b, c)", "f(a or b, c)"),
        ("x == 'say \"hi\"'", r'x == "say \"hi\""'),
        ("x == 00.50", "x == 0.5"),
        ("x == 0.00000001", "x == 0.00000001"),
        ("x == -0.0", "x == -0.0"),
    ],
)
def test_unparse(text: str, canonical: str) -> None:
    expr = parse(text)
    assert unparse(expr) == canonical
    assert parse(canonical) == expr


def test_unparse_floats_without_exponents() -> None:
    for value in (1e-7, -2.5e-10, 123456789012345.0, 5e-324):
        text = unparse(Num(value))
        assert "e" not in text
        assert parse(text) == Num(value)


# --- evaluation --------------------------------------------------------------------------------

ANSWERS: dict[str, AnswerValue | None] = {
    "role": "carer",
    "support": ["respite", "advice"],
    "nothing": [],
    "hours": 20,
    "weight": 62.5,
    "sat": 4,
    "child": True,
    "consent": False,
    "dob": "1960-04-03",
    "pc": "LE16",
    "comments": "Thanks",
    "empty_text": "",
    "zero": 0,
    "skipped": None,
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # choice
        ('role == "carer"', True),
        ('role == "staff"', False),
        ('role != "staff"', True),
        ('role != "carer"', False),
        ('role in ["carer", "staff"]', True),
        ('role in ["public"]', False),
        ('role not in ["public"]', True),
        ('role not in ["carer"]', False),
        ('"carer" == role', True),
        ('selected(role, "carer")', True),
        ('selected(role, "staff")', False),
        ('role < "d"', True),  # ordering text works at run time (check() forbids it on choices)
        # multi
        ('selected(support, "respite")', True),
        ('selected(support, "money")', False),
        ('support in ["money", "advice"]', True),
        ('support in ["money"]', False),
        ('support not in ["money"]', True),
        ('support not in ["advice"]', False),
        ('"advice" in support', True),
        ('"money" in support', False),
        ('support == "respite"', False),  # one value is not a set of picks
        ('support != "respite"', True),
        ('support == ["advice", "respite"]', True),  # order of picks does not matter
        ('support == ["advice"]', False),
        ("count(support) == 2", True),
        ("count(support) > 2", False),
        ("count(nothing) == 0", True),
        ('nothing in ["a"]', False),
        ("count(role) == 1", True),
        # numbers and scales
        ("hours >= 20", True),
        ("hours > 20", False),
        ("hours <= 20", True),
        ("hours < 20", False),
        ("hours == 20", True),
        ("hours == 20.0", True),
        ("hours != 20", False),
        ("weight > 62", True),
        ("weight < 62.6", True),
        ("hours in [10, 20]", True),
        ("hours in [10.5]", False),
        ("sat >= 4 and sat <= 5", True),
        ("-1 < zero", True),
        # yes/no and consent
        ("child == true", True),
        ("child == yes", True),
        ("child == false", False),
        ("child != true", False),
        ("consent == no", True),
        ("child", True),
        ("consent", False),
        ("not consent", True),
        ("child == 1", False),  # a boolean is not a number
        ("child > 0", False),
        ("zero == false", False),
        # dates and text compare as text
        ('dob < "1961"', True),
        ('dob >= "1960-04"', True),
        ('dob > "1960-05"', False),
        ('pc == "LE16"', True),
        ('pc in ["LE1", "LE16"]', True),
        ('comments == "Thanks"', True),
        # mismatched kinds
        ('hours == "20"', False),
        ('hours != "20"', True),
        ('hours < "30"', False),
        ("role > 1", False),
        ("role == true", False),
        ("support < 3", False),
        # unanswered (absent) and skipped (None)
        ('missing == "x"', False),
        ('missing != "x"', True),
        ("missing < 1", False),
        ("missing >= 1", False),
        ('missing in ["x"]', False),
        ('missing not in ["x"]', True),
        ('"x" in missing', False),
        ('"x" not in missing', True),
        ("missing", False),
        ("not missing", True),
        ("answered(missing)", False),
        ('selected(missing, "x")', False),
        ("count(missing) == 0", True),
        ('skipped == "x"', False),
        ('skipped != "x"', True),
        ("skipped", False),
        ("answered(skipped)", False),
        ("count(skipped) == 0", True),
        ("answered(hours)", True),
        ("answered(zero)", True),
        ("answered(nothing)", True),
        ("missing == missing", False),
        ("missing != skipped", True),
        # truthiness of bare ids
        ("zero", False),
        ("hours", True),
        ("empty_text", False),
        ("comments", True),
        ("nothing", False),
        ("support", True),
        # literals and combinations
        ("true", True),
        ("false", False),
        ('"x"', True),
        ("0", False),
        ("[]", False),
        ("[1]", True),
        ("(hours > 1) == true", True),
        ("(hours > 1) == 1", False),
        ("hours > 1 and missing == 1", False),
        ("hours > 1 or missing == 1", True),
        ("not (hours > 1 or missing == 1)", False),
        # unknown functions and wrong arity give no value: like an unanswered question
        ("nosuch(hours)", False),
        ("nosuch(hours) != 1", True),
        ("count(support, role) == 2", False),
        ("answered()", False),
        ("selected(support, 1)", False),
    ],
)
def test_evaluate(text: str, expected: bool) -> None:
    result = evaluate(parse(text), ANSWERS)
    assert result is expected


def test_evaluate_tolerates_odd_answer_values() -> None:
    odd: dict[str, Any] = {
        "n": float("nan"),
        "inf": float("inf"),
        "obj": object(),
        "nested": [["a"], {"b": 1}, None, 3],
        "d": {"k": "v"},
    }
    for text in [
        "n == n",
        "n != 1",
        "n < 1",
        "inf > 1",
        'obj == "x"',
        "obj != 1",
        "obj",
        "count(obj) == 1",
        '"a" in nested',
        "nested in [3]",
        "nested == nested",
        'selected(nested, "a")',
        "d",
        'd in ["k"]',
    ]:
        assert isinstance(evaluate(parse(text), odd), bool), text
    assert evaluate(parse("n != 1"), odd) is True
    assert evaluate(parse("nested in [3]"), odd) is True  # the numeric pick matches


# --- static checks -----------------------------------------------------------------------------

_Q: TypeAdapter[Question] = TypeAdapter(Question)

QUESTIONS: list[dict[str, Any]] = [
    {"id": "welcome", "type": "info", "text": "Hello"},
    {
        "id": "caring_role",
        "type": "choice",
        "text": "Which describes you?",
        "choices": [
            {"id": "carer", "label": "A carer"},
            {"id": "cared_for", "label": "Cared for"},
            {"id": "staff", "label": "Staff"},
        ],
        "other": {},
    },
    {
        "id": "support",
        "type": "multi",
        "text": "What support?",
        "choices": [{"id": "respite", "label": "Respite"}, {"id": "money", "label": "Money"}],
        "none_of_these": True,
    },
    {"id": "hours", "type": "number", "text": "Hours a week?"},
    {"id": "sat", "type": "scale", "text": "How satisfied?"},
    {
        "id": "agree",
        "type": "scale",
        "text": "Do you agree?",
        "choices": [{"id": "no", "label": "Disagree"}, {"id": "yes", "label": "Agree"}],
    },
    {"id": "child", "type": "yesno", "text": "Do you care for a child?"},
    {"id": "ok", "type": "consent", "text": "May we?"},
    {"id": "dob", "type": "date", "text": "Date of birth?"},
    {"id": "pc", "type": "postcode", "text": "Postcode?"},
    {"id": "comments", "type": "text", "text": "Anything else?"},
]
EARLIER: dict[str, Question] = {d["id"]: _Q.validate_python(d) for d in QUESTIONS}
ALL_IDS = [*EARLIER, "later_q"]


def issues(text: str) -> list[Issue]:
    return check(parse(text), EARLIER, ALL_IDS)


@pytest.mark.parametrize(
    "text",
    [
        'caring_role == "carer"',
        'caring_role in ["carer", "staff", "other"]',
        'caring_role not in ["cared_for"]',
        'selected(support, "respite") or selected(caring_role, "other")',
        'selected(support, "none")',
        'support in ["money"] and "respite" in support',
        'support == ["money", "respite"]',
        "count(support) > 1",
        "answered(comments) and not answered(pc)",
        "hours >= 20 and sat < 3 and agree == 2",
        "child == true or ok == no",
        "child and not ok",
        'dob < "1960" and dob >= "1950-01-01"',
        'pc in ["LE16", "LE1"]',
        'comments != ""',
        "(hours > 1) == true",
        '"carer" == caring_role',
    ],
)
def test_check_accepts_good_conditions(text: str) -> None:
    assert issues(text) == []


@pytest.mark.parametrize(
    ("text", "column", "message", "hint"),
    [
        # question ids
        ("caring_rol == 1", 1, "there is no question 'caring_rol'", "did you mean 'caring_role'?"),
        ("later_q == 1", 1, "'later_q', which comes later", None),
        ("answered(welcome)", 10, "'welcome' is an info message", None),
        ("caring_role == carer", 16, "no question 'carer'", 'quotes: "carer"'),
        # choice ids
        (
            'caring_role == "carers"',
            16,
            "'carers' is not a choice of 'caring_role'",
            'did you mean "carer"?',
        ),
        ('caring_role == "Carer"', 16, "not a choice", 'did you mean "carer"?'),
        ('caring_role in ["carer", "nurse"]', 26, "'nurse' is not a choice", '"other"'),
        ('selected(support, "respit")', 19, "'respit' is not a choice of 'support'", '"none"'),
        ('"advise" in support', 1, "'advise' is not a choice of 'support'", None),
        ("caring_role == 1", 16, "compare it with a choice id in quotes", '"cared_for"'),
        ('support == "money"', 9, "can have several answers", 'selected(support, "money")'),
        ('caring_role == ["carer"]', 13, "single answer", "in"),
        # numbers and scales
        (
            'hours == "20"',
            10,
            "number question, so its answer is a number",
            "remove the quotes: 20",
        ),
        ("hours > true", 7, "needs numbers", None),
        ('agree == "yes"', 10, "scale question", "numbers 1 to 2"),
        # yes/no
        ('child == "yes"', 10, "yes/no question", "remove the quotes: yes"),
        ("ok == 1", 7, "yes/no question", "true or false"),
        # text-like
        ("dob < 1960", 7, "date question, so its answer is text", '"1960"'),
        ('dob < "03/04/1960"', 7, "dates are compared as text", None),
        ('pc == "le16"', 7, "capitals", '"LE16"'),
        ("comments == 3", 13, "text question", None),
        # ordering
        ('caring_role < "d"', 13, "'<' cannot be used with 'caring_role'", None),
        ("child >= true", 7, "'>=' cannot be used with 'child'", None),
        ('comments > "a"', 10, "cannot be used", None),
        ("count(support) > [1]", 16, "needs numbers", None),
        # generic mismatches
        (
            "count(support) == true",
            16,
            "compares a number with true/false, so it is never true",
            None,
        ),
        ('answered(pc) != "x"', 14, "always true", None),
        ("hours == caring_role", 7, "compares a number with text", None),
        ("hours in [1, 'x']", 14, "number question", None),
        ("count(support) in ['x']", 16, "compares a number with text", None),
        # 'in' needs a list
        ('"x" in caring_role', 5, "needs a list or a multi question", None),
        ("hours in 3", 7, "needs a list after it", None),
        # functions
        ("selcted(support, 'x')", 1, "no function 'selcted()'", "did you mean selected()?"),
        ("frobnicate(x)", 1, "no function 'frobnicate()'", "answered(), count(), selected()"),
        ("answered(pc, hours)", 1, "answered() takes 1 argument, not 2", "answered(postcode)"),
        ("selected(support)", 1, "selected() takes 2 arguments, not 1", None),
        (
            'selected("respite", support)',
            10,
            "first argument of selected() must be a question id",
            None,
        ),
        ("selected(support, respite)", 19, "second argument of selected()", None),
        ('selected(hours, "x")', 10, "selected() works with choice and multi", None),
        ('selected(child, "yes")', 10, "'child' is a yesno question", "use child == true"),
        (
            "count(caring_role) > 1",
            7,
            "count() works with multi questions",
            "answered(caring_role)",
        ),
    ],
)
def test_check_issues(text: str, column: int, message: str, hint: str | None) -> None:
    found = issues(text)
    assert found, f"no issue for {text!r}"
    matching = [i for i in found if message in i.message]
    assert matching, found
    issue = matching[0]
    assert issue.column == column, issue
    if hint is not None:
        assert issue.hint is not None, issue
        assert hint in issue.hint, issue


def test_check_reports_every_problem_in_column_order() -> None:
    found = issues('nosuch == 1 and later_q == 2 and caring_role == "x"')
    assert [i.column for i in found] == sorted(i.column for i in found)
    assert len(found) == 3


def test_check_no_type_checks_for_unknown_ids() -> None:
    # One issue for the id itself, no cascade of type complaints.
    assert len(issues('later_q < "x" and selected(later_q, 1)')) == 3  # two refs + bad 2nd arg


def test_issue_is_frozen() -> None:
    issue = Issue("m", 1)
    assert issue.hint is None
    with pytest.raises(AttributeError):
        issue.message = "x"  # type: ignore[misc]


# --- hostile input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "(" * 10_000 + "a" + ")" * 10_000,
        "a" * (MAX_LENGTH + 1),
        "(" * 999 + "a" + ")" * 999,
        "not " * 499 + "a",
        "f(" * 600 + ")" * 600,
        "[" * 1999,
        "(" * 1999,
        'a == "' + "x" * 1990,
    ],
)
def test_hostile_input_fails_fast(text: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ExpressionError):
        parse(text)
    assert time.perf_counter() - start < 0.5


def test_limits_are_exact() -> None:
    nested = "(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH
    assert parse(nested) == a
    with pytest.raises(ExpressionError) as info:
        parse("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))
    assert info.value.column == MAX_DEPTH + 1
    assert "nested too deeply" in info.value.message
    long = "a == 1" + " " * (MAX_LENGTH - 6)
    assert len(long) == MAX_LENGTH
    assert parse(long) == Compare("==", a, Num(1))
    with pytest.raises(ExpressionError) as info:
        parse(long + " ")
    assert "too long" in info.value.message


def test_long_flat_chains_do_not_recurse() -> None:
    text = " and ".join(["a"] * 333)
    expr = parse(text)
    assert isinstance(expr, And)
    assert len(expr.items) == 333
    assert evaluate(expr, {"a": True}) is True
    assert parse(unparse(expr)) == expr


# --- properties --------------------------------------------------------------------------------

_TOKENS = [
    "a", "role", "support", "x1", "Role", "_q", "(", ")", "[", "]", ",", "==", "!=", "<", "<=",
    ">", ">=", "=", "!", "in", "not", "and", "or", "AND", "true", "false", "yes", "no", '"carer"',
    "'it\\'s'", '"', "'", "\\", "1", "-2", "2.5", "1.", ".5", "-", "selected", "answered",
    "count", "f(", "\u201c", "\u00e9", "\x00", "@", "&&", "||", "=>", "<>", "{", " ",
]  # fmt: skip


def _parse_or_error(text: str) -> Expr | ExpressionError:
    # Anything but ExpressionError escapes and fails the test.
    try:
        return parse(text)
    except ExpressionError as err:
        return err


@given(st.text(max_size=200))
def test_parse_arbitrary_text_raises_only_expression_error(text: str) -> None:
    result = _parse_or_error(text)
    if isinstance(result, ExpressionError):
        assert 1 <= result.column <= len(text) + 1


@given(st.lists(st.sampled_from(_TOKENS), max_size=40), st.sampled_from(["", " "]))
def test_parse_token_soup_raises_only_expression_error(tokens: list[str], sep: str) -> None:
    text = sep.join(tokens)
    result = _parse_or_error(text)
    if isinstance(result, ExpressionError):
        assert 1 <= result.column <= len(text) + 1
    else:
        assert parse(unparse(result)) == result
        assert isinstance(evaluate(result, {}), bool)


_NAMES = st.one_of(
    st.sampled_from(["a", "b", "role", "support", "hours", "count", "selected"]),
    st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(lambda s: s not in KEYWORDS),
)
_NUMBERS = st.one_of(
    st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1),
    st.floats(min_value=-1e15, max_value=1e15, allow_nan=False, exclude_min=True, exclude_max=True),
)
_SCALARS: st.SearchStrategy[Str | Num | Bool] = st.one_of(
    st.builds(Str, st.text(max_size=10)),
    st.builds(Num, _NUMBERS),
    st.builds(Bool, st.booleans()),
)
_FUNCS = st.one_of(st.sampled_from(["answered", "selected", "count"]), _NAMES)


def _extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    several = st.lists(children, min_size=2, max_size=3).map(tuple)
    return st.one_of(
        st.builds(Not, children),
        st.builds(And, several),
        st.builds(Or, several),
        st.builds(Compare, st.sampled_from(COMPARE_OPS), children, children),
        st.builds(Call, _FUNCS, st.lists(children, max_size=3).map(tuple)),
    )


_EXPRS: st.SearchStrategy[Expr] = st.recursive(
    st.one_of(
        st.builds(Name, _NAMES),
        _SCALARS,
        st.builds(ListLit, st.lists(_SCALARS, max_size=3).map(tuple)),
    ),
    _extend,
    max_leaves=12,
)


def _nesting(e: Expr) -> int:
    """Brackets, 'not's and calls around the deepest point of unparse(e), as parse counts them."""
    if isinstance(e, Not):
        return 1 + _nesting(e.operand) + isinstance(e.operand, And | Or)
    if isinstance(e, And):
        return max(_nesting(i) + isinstance(i, And | Or) for i in e.items)
    if isinstance(e, Or):
        return max(_nesting(i) + isinstance(i, Or) for i in e.items)
    if isinstance(e, Compare):
        return max(_nesting(s) + isinstance(s, And | Or | Not | Compare) for s in (e.left, e.right))
    if isinstance(e, Call):
        return 1 + max((_nesting(x) for x in e.args), default=0)
    return 0


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(_EXPRS)
def test_unparse_round_trips(expr: Expr) -> None:
    text = unparse(expr)
    assume(len(text) <= MAX_LENGTH and _nesting(expr) <= MAX_DEPTH)
    assert parse(text) == expr
    assert unparse(parse(text)) == text  # canonical text is a fixed point


_ANSWER_VALUES: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.text(max_size=5),
    st.sampled_from(["carer", "respite", "LE16", "1960-04-03", ""]),
    st.integers(),
    st.floats(),  # NaN and infinities included: evaluation must still not raise
    st.booleans(),
    st.lists(st.sampled_from(["carer", "respite", "advice", "a"]), max_size=3),
    st.lists(st.one_of(st.text(max_size=3), st.integers(), st.none()), max_size=3),
)
_ANSWERS = st.dictionaries(_NAMES, _ANSWER_VALUES, max_size=6)


@given(_EXPRS, _ANSWERS)
def test_evaluate_is_total(expr: Expr, answers: Mapping[str, AnswerValue | None]) -> None:
    assert type(evaluate(expr, answers)) is bool


@given(_EXPRS, _ANSWERS)
def test_not_negates(expr: Expr, answers: Mapping[str, AnswerValue | None]) -> None:
    assert evaluate(Not(expr), answers) is not evaluate(expr, answers)


@given(_EXPRS)
def test_check_never_raises(expr: Expr) -> None:
    found = check(expr, EARLIER, ALL_IDS)
    assert all(isinstance(i, Issue) for i in found)
