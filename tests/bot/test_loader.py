"""Loading flow files: every question type, YAML and shape errors with exact positions and
helpful hints, every problem of a file at once, and hostile files rejected without running code.

The flows are inline YAML. ``HEAD`` is lines 1-7, so the first question's ``- id:`` is always
line 8 and line numbers in the assertions can be read straight off the text.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import FlowError, Problem
from bot.loader import LoadResult, load_flow, load_flow_text, load_paths, require_flow
from bot.schema import (
    QUESTION_TYPES,
    ChoiceQuestion,
    ConsentQuestion,
    DateQuestion,
    InfoQuestion,
    MultiQuestion,
    NumberQuestion,
    PostcodeQuestion,
    ScaleQuestion,
    TextQuestion,
    YesNoQuestion,
)
from bot.yamlsafe import MAX_BYTES, load_yaml

ROOT = Path(__file__).resolve().parents[2]

HEAD = """\
id: test-flow
title: Test survey
council: Test Borough Council
contact: {phone: "0116 000 0000"}
intro: Hello from Test Borough Council. Text STOP to stop.
thanks: Thank you.
questions:
"""


def load(body: str, head: str = HEAD) -> LoadResult:
    """Load HEAD + the dedented body (questions start on line 8)."""
    return load_flow_text(head + textwrap.dedent(body), "test.yaml")


def errors(result: LoadResult) -> list[Problem]:
    return result.errors


def one(result: LoadResult, code: str) -> Problem:
    """The single problem with ``code`` (and fail, showing all, if there is not exactly one)."""
    found = [p for p in result.problems if p.code == code]
    assert len(found) == 1, "\n".join(p.format() for p in result.problems)
    return found[0]


# --- every question type loads -------------------------------------------------------------------


TYPES = {
    "text": """\
        - id: name
          type: text
          text: What should we call you?
          max_length: 40
        """,
    "choice": """\
        - id: role
          type: choice
          text: Who are you?
          choices:
            - {id: carer, label: I am a carer, synonyms: [caring]}
            - {id: staff, label: I work for the council}
          other: {label: Something else, prompt: Who are you?}
          letters: true
        """,
    "multi": """\
        - id: support
          type: multi
          text: What helps? Pick up to 2.
          max_picks: 2
          none_of_these: true
          other: {id: elsewhere, prompt: What else helps?}
          choices:
            - {id: respite, label: Short breaks}
            - {id: money, label: Money advice}
        """,
    "scale-numeric": """\
        - id: rating
          type: scale
          text: Rate us from 0 to 10.
          min: 0
          max: 10
          labels: {0: Poor, 10: Excellent}
        """,
    "scale-labelled": """\
        - id: agree
          type: scale
          text: Carers are valued. Do you agree?
          choices:
            - {id: disagree, label: Disagree}
            - {id: neither, label: Neither}
            - {id: agree, label: Agree}
        """,
    "yesno": """\
        - id: know
          type: yesno
          text: Do you know where to get help?
          next: {"yes": end, "no": where}
        - id: where
          type: info
          text: Call 0116 000 0000.
        """,
    "number": """\
        - id: hours
          type: number
          text: How many hours a week?
          min: 0
          max: 168
          integer: false
        """,
    "postcode": """\
        - id: postcode
          type: postcode
          optional: true
          text: What is your postcode?
        """,
    "info": """\
        - id: hello
          type: info
          text: Thanks for helping.
        """,
    "consent": """\
        - id: consent
          type: consent
          text: Can we use your answers?
          declined: OK, we will not ask anything else.
        """,
}


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_every_question_type_loads(kind: str) -> None:
    result = load(TYPES[kind])
    assert result.ok, [p.format() for p in result.problems]
    assert result.flow is not None
    assert result.flow.version  # the content hash is set
    q = result.flow.questions[0]
    expected = {
        "text": TextQuestion,
        "choice": ChoiceQuestion,
        "multi": MultiQuestion,
        "scale-numeric": ScaleQuestion,
        "scale-labelled": ScaleQuestion,
        "yesno": YesNoQuestion,
        "number": NumberQuestion,
        "postcode": PostcodeQuestion,
        "info": InfoQuestion,
        "consent": ConsentQuestion,
    }[kind]
    assert isinstance(q, expected)


def test_question_details_survive_loading() -> None:
    flow = load(TYPES["multi"]).flow
    assert flow is not None
    q = flow.questions[0]
    assert isinstance(q, MultiQuestion)
    assert [c.id for c in q.all_choices()] == ["respite", "money", "elsewhere", "none"]
    assert q.all_choices()[-1].exclusive

    flow = load(TYPES["scale-numeric"]).flow
    assert flow is not None
    scale = flow.questions[0]
    assert isinstance(scale, ScaleQuestion)
    assert (scale.low, scale.high) == (0, 10)
    assert scale.point_label(10, "en") == "Excellent"

    flow = load(TYPES["scale-labelled"]).flow
    assert flow is not None
    labelled = flow.questions[0]
    assert isinstance(labelled, ScaleQuestion)
    assert (labelled.low, labelled.high) == (1, 3)

    flow = load(TYPES["consent"]).flow
    assert flow is not None
    consent = flow.questions[0]
    assert isinstance(consent, ConsentQuestion)
    assert consent.declined == "OK, we will not ask anything else."

    flow = load(TYPES["yesno"]).flow
    assert flow is not None
    assert flow.questions[0].next == {"yes": "end", "no": "where"}


def test_unquoted_yes_and_no_keys_mean_the_words() -> None:
    # YAML 1.1 reads a bare yes/no as true/false; as a next: key it must stay the word.
    result = load(TYPES["yesno"].replace('"yes"', "yes").replace('"no"', "no"))
    assert result.ok, [p.format() for p in result.problems]
    assert result.flow is not None
    assert result.flow.questions[0].next == {"yes": "end", "no": "where"}


@pytest.mark.parametrize("precision", ["day", "month", "year"])
def test_date_precisions(precision: str) -> None:
    result = load(
        f"""\
        - id: born
          type: date
          precision: {precision}
          text: When were you born?
        """
    )
    assert result.ok
    assert result.flow is not None
    q = result.flow.questions[0]
    assert isinstance(q, DateQuestion)
    assert q.precision == precision


def test_bom_and_windows_line_endings_load_with_right_lines() -> None:
    text = HEAD + "- id: a\n  type: text\n  text: Hi\n  colour: red\n"
    raw = b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()
    result = load_flow_text(raw, "test.yaml")
    p = one(result, "extra_forbidden")
    assert (p.line, p.column) == (11, 3)


def test_the_bundled_every_type_flow_loads() -> None:
    result = load_flow(ROOT / "tests/bot/flows/every-type.yaml")
    assert result.ok, [p.format() for p in result.errors]
    assert result.flow is not None
    assert {q.type for q in result.flow.questions} == set(QUESTION_TYPES)


# --- YAML syntax --------------------------------------------------------------------------------


def test_bad_indentation() -> None:
    result = load(
        """\
        - id: a
          type: text
         text: Hi
        """
    )
    p = one(result, "yaml_syntax")
    assert (p.line, p.column) == (10, 2)
    assert result.flow is None
    assert p.hint is not None
    assert "same column" in p.hint


def test_unclosed_quote_points_at_the_opening_quote() -> None:
    result = load(
        """\
        - id: a
          type: text
          text: "Hello there
        - id: b
          type: text
          text: Bye
        """
    )
    p = one(result, "yaml_syntax")
    # Not the end of the file (where YAML notices) but where the quote opens.
    assert (p.line, p.column) == (10, 9)
    assert "no closing" in p.message
    assert p.hint is not None
    assert 'closing "' in p.hint


def test_tab_indentation() -> None:
    result = load("- id: a\n  type: text\n\ttext: Hi\n")
    p = one(result, "yaml_syntax")
    assert p.line == 10
    assert "tab" in p.message
    assert p.hint is not None
    assert "spaces, not tabs" in p.hint


def test_colon_in_unquoted_text() -> None:
    result = load(
        """\
        - id: a
          type: text
          text: Note: this is important
        """
    )
    p = one(result, "yaml_syntax")
    assert (p.line, p.column) == (10, 13)
    assert p.hint is not None
    assert "quotes" in p.hint


def test_unclosed_list_names_the_line_it_opens_on() -> None:
    result = load(
        """\
        - id: a
          type: choice
          text: Hi
          choices: [{id: x, label: X}, {id: y, label: Y}
        - id: b
          type: text
          text: Bye
        """
    )
    p = one(result, "yaml_syntax")
    assert "opened on line 11" in p.message
    assert p.hint is not None
    assert "]" in p.hint


def test_more_than_one_document() -> None:
    result = load_flow_text(HEAD + "- {id: a, type: text, text: Hi}\n---\nid: other\n", "t.yaml")
    p = one(result, "yaml_documents")
    assert p.line == 9


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "~\n"])
def test_empty_file(text: str) -> None:
    p = one(load_flow_text(text, "t.yaml"), "empty")
    assert p.line == 1


def test_file_that_is_not_a_map() -> None:
    p = one(load_flow_text("- one\n- two\n", "t.yaml"), "not_a_map")
    assert p.line == 1
    assert p.hint is not None
    assert "example" in p.hint


# --- structure: keys, fields, types -------------------------------------------------------------


def test_duplicate_key() -> None:
    result = load(
        """\
        - id: a
          type: text
          text: Hi
          text: Hello
        """
    )
    p = one(result, "duplicate_key")
    assert (p.line, p.column) == (11, 3)
    assert p.severity == "error"
    assert p.hint is not None
    assert "line 10" in p.hint
    assert result.flow is None


def test_duplicate_question_id() -> None:
    result = load(
        """\
        - id: caring_role
          type: text
          text: Hi
        - id: caring_role
          type: text
          text: Hello
        """
    )
    p = one(result, "duplicate_id")
    assert (p.line, p.column) == (11, 3)
    assert p.question == "caring_role"
    assert p.hint is not None
    assert "line 8" in p.hint


def test_unknown_field_is_one_problem_with_did_you_mean() -> None:
    result = load(
        """\
        - id: role
          type: choice
          text: Who are you?
          chioces:
            - {id: carer, label: A carer}
            - {id: staff, label: Staff}
        """
    )
    # The typo is the only problem: "choices is missing" would be the same mistake twice.
    [p] = result.problems
    assert p.code == "extra_forbidden"
    assert (p.line, p.column) == (11, 3)
    assert p.question == "role"
    assert p.message == "unknown field 'chioces'"
    assert p.hint == "did you mean 'choices'?"


def test_unknown_field_suggests_only_fields_of_that_place() -> None:
    # 'lable' inside a choice: 'label'; on the flow: a setting of the flow.
    result = load(
        """\
        - id: role
          type: choice
          text: Who are you?
          choices:
            - {id: carer, lable: A carer}
            - {id: staff, label: Staff}
        """,
        head=HEAD.replace("council:", "councl:"),
    )
    by_code = {(p.code, p.line): p for p in result.problems}
    assert by_code[("extra_forbidden", 3)].hint == "did you mean 'council'?"
    assert by_code[("extra_forbidden", 12)].hint == "did you mean 'label'?"
    assert by_code[("extra_forbidden", 12)].column == 19


def test_field_of_another_question_type() -> None:
    result = load(
        """\
        - id: name
          type: text
          text: Your name?
          choices: [{id: a, label: A}, {id: b, label: B}]
        """
    )
    p = one(result, "extra_forbidden")
    assert p.line == 11
    assert p.hint is not None
    assert "choice" in p.hint
    assert "check the type" in p.hint


def test_unknown_question_type() -> None:
    result = load(
        """\
        - id: role
          type: chioce
          text: Who are you?
        """
    )
    p = one(result, "union_tag_invalid")
    assert (p.line, p.column) == (9, 3)
    assert p.question == "role"
    assert "'chioce'" in p.message
    assert p.hint is not None
    assert p.hint.startswith("did you mean 'choice'?")
    assert "multi" in p.hint  # lists the types


def test_question_without_type() -> None:
    p = one(load("- {id: a, text: Hi}\n"), "union_tag_not_found")
    assert p.line == 8
    assert p.hint is not None
    assert "type: choice" in p.hint


def test_missing_required_field() -> None:
    result = load(
        """\
        - id: a
          type: text
          optional: true
        """
    )
    p = one(result, "missing")
    assert (p.line, p.column) == (8, 3)  # the question it belongs to
    assert p.question == "a"
    assert p.message == "missing required field 'text'"
    assert p.hint == "add 'text:'"


def test_missing_flow_setting() -> None:
    p = one(
        load("- {id: a, type: text, text: Hi}\n", head=HEAD.replace("council:", "#")), "missing"
    )
    assert p.line == 1
    assert "'council'" in p.message


@pytest.mark.parametrize(
    ("written", "suggested"),
    [("Carer Role", "carer_role"), ("1st_visit", "q_1st_visit"), ("caring-role", "caring_role")],
)
def test_invalid_question_id(written: str, suggested: str) -> None:
    result = load(
        f"""\
        - id: {written}
          type: text
          text: Hi
        """
    )
    p = one(result, "string_pattern_mismatch")
    assert (p.line, p.column) == (8, 3)
    assert p.message == f"question id {written!r} is not allowed"
    assert p.hint is not None
    assert "lower-case" in p.hint
    assert f"e.g. {suggested!r}" in p.hint


def test_invalid_choice_id_and_keyword_have_their_own_rules() -> None:
    result = load(
        """\
        - id: role
          type: choice
          text: Who?
          choices: [{id: a carer, label: A}, {id: b, label: B}]
        """,
        head=HEAD.replace("council:", "keywords: [CARERS STRATEGY]\ncouncil:"),
    )
    kw = next(p for p in result.problems if p.line == 3)
    assert kw.message == "SMS keyword 'CARERS STRATEGY' is not allowed"
    assert kw.hint is not None
    assert "'CARERS'" in kw.hint
    choice = next(p for p in result.problems if p.line == 12)
    assert choice.message == "choice id 'a carer' is not allowed"
    assert choice.hint is not None
    assert "'a_carer'" in choice.hint
    assert choice.column == 14


def test_empty_choice_list() -> None:
    for kind in ("choice", "multi", "scale"):
        result = load(
            f"""\
            - id: role
              type: {kind}
              text: Who are you?
              choices: []
            """
        )
        [p] = result.problems
        assert p.code == "empty_choices"
        assert (p.line, p.column) == (11, 3)
        assert p.question == "role"
        assert p.hint is not None
        assert "at least two" in p.hint


def test_yes_as_a_condition_is_a_clear_type_error() -> None:
    result = load(
        """\
        - id: know
          type: yesno
          text: Do you know?
        - id: more
          type: text
          text: Tell us more.
          when: yes
        """
    )
    p = one(result, "string_type")
    assert (p.line, p.question) == (14, "more")
    assert p.message == "'when' should be text, not a yes/no value"
    assert p.hint is not None
    assert "quotes" in p.hint


def test_wrong_value_types() -> None:
    result = load(
        """\
        - id: a
          type: text
          text: 5
          max_length: lots
        - id: b
          type: date
          precision: week
          text: When?
        """,
        head=HEAD.replace("thanks: Thank you.", "thanks: Thank you.\nopens: 2022-13-45"),
    )
    # A date that does not exist is caught while reading the YAML, before anything else.
    p = one(result, "yaml_value")
    assert (p.line, p.column) == (7, 8)
    assert "not a real date" in p.message
    assert p.hint is not None
    assert "2022-10-01" in p.hint

    result = load(
        """\
        - id: a
          type: text
          text: 5
          max_length: lots
        - id: b
          type: date
          precision: week
          text: When?
        """
    )
    got = {p.line: p for p in result.problems}
    assert got[10].message == "'text' should be text, not a number"
    assert got[10].hint is not None
    assert "quotes" in got[10].hint
    assert got[11].message == "'max_length' should be a whole number"
    assert got[14].message == "'precision' should be 'day', 'month' or 'year'"
    assert len(result.problems) == 3


def test_check_of_several_fields_points_at_the_field_it_names() -> None:
    result = load(
        """\
        - id: rating
          type: scale
          text: Rate us.
          min: 5
          max: 1
        """
    )
    p = one(result, "value_error")
    assert (p.line, p.question) == (12, "rating")
    assert p.message == "scale 'max' must be greater than 'min'"


def test_flow_setting_errors_are_plain_english() -> None:
    head = HEAD.replace("council:", "timezone: Europe/Londn\nexpiry: soon\ncouncil:")
    result = load("- {id: a, type: text, text: Hi}\n", head=head)
    msgs = {p.line: p.message for p in result.problems}
    assert msgs[3] == "'timezone': unknown time zone 'Europe/Londn'; e.g. 'Europe/London'"
    assert msgs[4].startswith("'expiry': 'soon' is not a duration")
    assert all(p.question is None for p in result.problems)


def test_time_zone_that_is_not_a_name() -> None:
    # Found by the fuzz test below: a missing 'intro:' line folds the intro into the time zone,
    # and ZoneInfo then raised OSError (file name too long) instead of "unknown time zone".
    head = HEAD.replace(
        "council:", "timezone: Europe/London\n\n  " + "Hello there. " * 30 + "\ncouncil:"
    )
    p = one(load("- {id: a, type: text, text: Hi}\n", head=head), "value_error")
    assert p.line == 3
    assert "unknown time zone" in p.message
    assert len(p.message) < 240


def test_a_fault_in_the_checks_is_reported_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.loader

    def broken_check(*args: object) -> list[Problem]:
        raise RuntimeError("boom")

    (tmp_path / "a.yaml").write_text(HEAD + "- {id: a, type: text, text: Hi}\n")
    monkeypatch.setattr(bot.loader, "check_flow", broken_check)
    [result] = load_paths([tmp_path])
    p = one(result, "internal")
    assert "RuntimeError: boom" in p.message
    assert p.hint is not None
    assert "fault in surveybot" in p.hint


def test_questions_not_a_list_or_empty() -> None:
    p = one(load("", head=HEAD), "list_type")
    assert p.line == 7
    assert p.hint is not None
    assert "- id:" in p.hint
    p = one(load("", head=HEAD.replace("questions:", "questions: []")), "too_short")
    assert p.message == "'questions' must not be empty"


def test_a_question_that_is_not_a_map() -> None:
    result = load("- hello\n- {id: a, type: text, text: Hi}\n")
    p = one(result, "model_attributes_type")
    assert p.line == 8
    assert p.question == "question 1"


# --- every problem at once ----------------------------------------------------------------------


def test_five_mistakes_give_five_problems() -> None:
    result = load(
        """\
        - id: role
          type: choice
          text: Who are you?
          chioces: [{id: carer, label: A carer}, {id: staff, label: Staff}]
        - id: hours
          type: nmber
          text: How many hours?
        - id: cared_for
          type: text
          text: Who do you care for?
          when: rolle == "carer"
        - id: role
          type: text
          text: Anything else?
          next: comments
        - id: comments
          type: text
          text: Thanks, {nmae}.
        """
    )
    got = [(p.line, p.code, p.question) for p in result.problems]
    assert got == [
        (11, "extra_forbidden", "role"),
        (13, "union_tag_invalid", "hours"),
        (18, "condition", "cared_for"),
        (19, "duplicate_id", "role"),
        (25, "pipe_unknown", "comments"),
    ]
    assert result.flow is None
    hints = [p.hint or "" for p in result.problems]
    assert "did you mean 'choices'?" in hints
    assert any("did you mean 'number'?" in h for h in hints)
    assert "did you mean 'role'?" in hints


def test_broken_questions_do_not_hide_problems_in_the_rest() -> None:
    # 'role' has a bad field, but later conditions on it are still checked, with no false alarm
    # about 'role' itself (its answers are unknown, so any comparison is allowed).
    result = load(
        """\
        - id: role
          type: choice
          text: Who are you?
          colour: blue
          choices: [{id: carer, label: A carer}, {id: staff, label: Staff}]
        - id: hours
          type: number
          text: How many hours?
          when: role == "nobody"
        - id: more
          type: text
          text: More?
          when: hours == "many"
          next: nowhere
        """
    )
    got = [(p.line, p.code) for p in result.problems]
    assert got == [(11, "extra_forbidden"), (20, "condition"), (21, "next_unknown")]


def test_flow_setting_errors_do_not_hide_question_problems() -> None:
    result = load(
        "- {id: a, type: text, text: Hi, next: b}\n",
        head=HEAD.replace("title: Test survey", "title: [Test]").replace(
            "council:", "timezone: Mars\ncouncil:"
        ),
    )
    codes = sorted(p.code for p in result.problems)
    assert codes == ["next_unknown", "string_type", "value_error"]


def test_require_flow_raises_flow_error_with_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(HEAD + "- {id: a, type: txt, text: Hi}\n- {id: a, type: text, text: Hi}\n")
    with pytest.raises(FlowError) as info:
        require_flow(path)
    assert len(info.value.problems) == 2
    assert info.value.file == str(path)
    assert info.value.line == 8
    assert str(path) in str(info.value)


def test_load_flow_on_a_missing_file(tmp_path: Path) -> None:
    result = load_flow(tmp_path / "nope.yaml")
    p = one(result, "io")
    assert "cannot read" in p.message


def test_load_paths_reports_duplicate_flow_ids(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(HEAD + "- {id: a, type: text, text: Hi}\n")
    (tmp_path / "b.yaml").write_text(HEAD + "- {id: a, type: text, text: Hi}\n")
    (tmp_path / "notes.txt").write_text("not a flow")
    a, b = load_paths([tmp_path])
    assert a.ok
    assert not b.ok
    p = one(b, "duplicate_flow")
    assert "a.yaml" in p.message


# --- hostile files ------------------------------------------------------------------------------


def test_billion_laughs_is_rejected() -> None:
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        bomb += f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]\n"
    p = one(load_flow_text(bomb, "bomb.yaml"), "yaml_too_big")
    assert p.line is not None
    assert p.line <= 9
    assert "too many values" in p.message
    assert p.hint is not None
    assert "aliases" in p.hint


def test_many_aliases_to_a_big_value_are_rejected() -> None:
    text = "a: &a [" + ", ".join(["x"] * 1000) + "]\nb: [" + ", ".join(["*a"] * 200) + "]\n"
    one(load_flow_text(text, "t.yaml"), "yaml_too_big")


def test_recursive_alias_is_rejected() -> None:
    p = one(load_flow_text("a: &a [1, *a]\n", "t.yaml"), "yaml_alias")
    assert "contains it" in p.message


def test_an_alias_used_once_is_fine() -> None:
    head = HEAD.replace('contact: {phone: "0116 000 0000"}', 'contact: &c {phone: "0116"}')
    result = load("- {id: a, type: text, text: Hi}\n", head=head)
    assert result.ok


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 5000 + "]" * 5000 + "\n",
        "a: " + "{b: " * 5000 + "1" + "}" * 5000 + "\n",
        "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v\n",
        "- " * 3000 + "x\n",
    ],
    ids=["lists", "maps", "block", "dashes"],
)
def test_deep_nesting_is_rejected(text: str) -> None:
    p = one(load_flow_text(text, "deep.yaml"), "yaml_too_deep")
    assert p.line is not None
    assert "nested too deeply" in p.message


def test_ten_megabyte_file_is_rejected_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"id: x\n" + b"# " + b"x" * 10_000_000 + b"\n")
    p = one(load_flow(path), "file_too_large")
    assert f"{MAX_BYTES:,}" in p.message


def test_long_value_and_huge_number() -> None:
    p = one(load_flow_text("id: " + "x" * 100_000 + "\n", "t.yaml"), "yaml_too_big")
    assert "too long" in p.message
    p = one(load_flow_text("max_misses: " + "9" * 5000 + "\n", "t.yaml"), "yaml_value")
    assert p.hint is not None
    assert "quotes" in p.hint


def test_too_many_questions() -> None:
    body = "".join(f"- {{id: q{i}, type: text, text: Hi}}\n" for i in range(400))
    p = one(load(body), "too_many")
    assert "400" in p.message


@pytest.mark.parametrize(
    "tagged",
    [
        "id: !!python/object/apply:os.system ['touch {canary}']\n",
        "!!python/object/apply:os.system\nargs: ['touch {canary}']\n",
        "id: !!python/object/new:subprocess.Popen [['touch', '{canary}']]\n",
        "? !!python/name:os.system\n: x\n",
        "id: !!python/module:os\n",
        "id: !custom hello\n",
        "a: !!binary aGVsbG8=\n",
        "a: !!set {x, y}\n",
        "a: &a {x: 1}\nb:\n  <<: *a\n",
    ],
)
def test_tags_are_rejected_and_never_run(tmp_path: Path, tagged: str) -> None:
    canary = tmp_path / "pwned"
    result = load_flow_text(tagged.replace("{canary}", str(canary)), "evil.yaml")
    p = one(result, "yaml_tag")
    assert p.line is not None
    assert "not allowed" in p.message or "not supported" in p.message
    assert not canary.exists()


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b"id: caf\xe9\n", "not UTF-8"),
        ("id: x\n".encode("utf-16"), "not UTF-8"),
        (b"id: x\x00\n", "not a text file"),
    ],
)
def test_files_that_are_not_utf8_text(raw: bytes, needle: str) -> None:
    p = one(load_flow_text(raw, "t.yaml"), "encoding")
    assert needle in p.message


# --- never crash ---------------------------------------------------------------------------------

SAMPLE = (ROOT / "flows/communities-approach.yaml").read_text(encoding="utf-8")
SAMPLE_LINES = SAMPLE.splitlines(keepends=True)


def _check_result(result: LoadResult, text: str) -> None:
    assert isinstance(result, LoadResult)
    n_lines = text.count("\n") + 1
    for p in result.problems:
        assert p.code != "internal", p.format()
        assert p.severity in ("error", "warning")
        assert p.message
        assert p.line is None or 1 <= p.line <= n_lines + 1, p.format()
    if result.flow is None:
        assert result.errors


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list("ab: -[]{}\"'\n\t&*!#|>?,%@`~1yn")), max_size=200))
def test_any_text_gives_a_result_never_an_exception(text: str) -> None:
    _check_result(load_flow_text(text, "fuzz.yaml"), text)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_edited_sample_gives_a_result_never_an_exception(data: st.DataObject) -> None:
    # An officer's slip: a line deleted, duplicated or cut short, somewhere in a real flow.
    lines = list(SAMPLE_LINES)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(lines) - 1))
        edit = data.draw(st.sampled_from(["delete", "duplicate", "truncate", "indent"]))
        if edit == "delete":
            del lines[i]
        elif edit == "duplicate":
            lines.insert(i, lines[i])
        elif edit == "truncate":
            cut = data.draw(st.integers(0, max(len(lines[i]) - 1, 0)))
            lines[i] = lines[i][:cut] + "\n"
        else:
            lines[i] = " " + lines[i]
    text = "".join(lines)
    _check_result(load_flow_text(text, "sample.yaml"), text)


def test_positions_of_keys_and_values() -> None:
    located, problems = load_yaml('a:\n  b: "x y"\n  c: [1, 2]\n', "t.yaml")
    assert located is not None
    assert not problems
    assert located.where(("a", "b")) == (2, 3)
    assert located.where(("a", "c", 1)) == (3, 10)
    assert located.where(("a", "zzz")) == (1, 1)  # nearest ancestor
    assert located.inside(("a", "b"), 3) == (2, 9)  # inside the quotes
