"""Checks on pack, phrases, range, means and answer_words (bot/validate_words.py): each names the
file, line and a fix. ``HEAD`` is lines 1-7, so the first question's ``- id:`` is line 8."""

from __future__ import annotations

import textwrap

import pytest

from bot.errors import Problem
from bot.loader import LoadResult, load_flow_text

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
    return load_flow_text(head + textwrap.dedent(body), "test.yaml")


def found(result: LoadResult, code: str) -> list[Problem]:
    return [p for p in result.problems if p.code == code]


def one(result: LoadResult, code: str) -> Problem:
    hits = found(result, code)
    assert len(hits) == 1, "\n".join(p.format() for p in result.problems)
    return hits[0]


def test_a_pack_sharing_no_choice_id_is_an_error_with_the_ids_to_use() -> None:
    r = load("""\
        - id: sex
          type: choice
          text: Your sex?
          pack: sex
          choices:
            - {id: f, label: Female}
            - {id: m, label: Male}
        """)
    p = one(r, "pack_ids")
    assert p.severity == "error"
    assert not r.ok
    assert (p.file, p.line, p.question) == ("test.yaml", 11, "sex")
    assert "shares no choice id" in p.message
    assert "female, male" in (p.hint or "")


def test_a_choice_the_pack_does_not_know_is_a_warning_naming_the_near_id() -> None:
    r = load("""\
        - id: who
          type: choice
          text: Who do you care for?
          pack: relationship
          choices:
            - {id: parents, label: A parent}
            - {id: partner, label: Partner}
            - {id: prefer_not, label: Prefer not to say}
        """)
    p = one(r, "pack_ids")
    assert r.ok
    assert (p.severity, p.line) == ("warning", 13)
    assert "'parents'" in p.message
    assert p.hint == "did you mean id: parent?"


def test_a_phrase_that_only_starts_another_choices_phrase_is_warned_about() -> None:
    r = load("""\
        - id: role
          type: choice
          text: Which?
          choices:
            - id: group
              label: A group
              phrases: ["I run a", "our group"]
            - id: business
              label: A business
              phrases: ["I run a business"]
            - id: carer
              label: A carer
              phrases: ["care for"]
            - id: cared
              label: Cared for
              phrases: ["care for me"]
        """)
    p = one(r, "phrase_contested")
    assert (p.severity, p.line) == ("warning", 14)
    assert "'I run a'" in p.message
    assert "I run a business" in p.message


def test_phrase_shape_shared_words_and_languages() -> None:
    r = load("""\
        - id: role
          type: choice
          text: Which?
          choices:
            - id: a
              label: A
              phrases: ["... care for"]
              synonyms: ["helper"]
            - id: b
              label: B
              synonyms: {en: ["helper"], pl: ["pomocnik"]}
        """)
    shape = one(r, "phrase")
    assert (shape.severity, shape.line) == ("error", 14)
    shared = one(r, "phrase_shared")
    assert (shared.severity, shared.line) == ("warning", 18)
    assert "choice 'a'" in shared.message
    lang = one(r, "phrase_language")
    assert lang.line == 18
    assert "'pl'" in lang.message


BANDS = """\
- id: hours
  type: choice
  text: Hours a week?
  choices:
    - {{id: low, label: "9 hours or fewer"{low}}}
    - {{id: mid, label: "10 to 19 hours"{mid}}}
    - {{id: high, label: "20 hours or more"}}
    - {{id: {last_id}, label: "{last}"}}
"""


@pytest.mark.parametrize(
    ("low", "mid", "last_id", "last", "code", "severity", "line"),
    [
        (", range: [0, 12]", "", "prefer_not", "Prefer not to say", "range", "warning", 12),
        (", range: [0, 12]", ", range: [10, 19]", "prefer_not", "Prefer not to say",
         "range_overlap", "error", 13),
        (", range: [0, 8]", ", range: [10, 19]", "prefer_not", "Prefer not to say",
         "range_gap", "warning", 13),
        ("", ", range: [10, 19]", "varies", "It varies", "range", "warning", 11),
    ],
)  # fmt: skip
def test_ranges(
    low: str, mid: str, last_id: str, last: str, code: str, severity: str, line: int
) -> None:
    r = load(textwrap.indent(BANDS.format(low=low, mid=mid, last_id=last_id, last=last), ""))
    hits = [p for p in found(r, code) if p.line == line]
    assert hits, "\n".join(p.format() for p in r.problems)
    assert hits[0].severity == severity


def test_range_agreeing_with_the_label_is_quiet() -> None:
    r = load(BANDS.format(low=", range: [0, 9]", mid=", range: [10, 19]", last_id="prefer_not",
                          last="Prefer not to say"))  # fmt: skip
    assert not [p for p in r.problems if p.code.startswith("range")]


def test_range_on_a_multi_question_is_never_read() -> None:
    r = load("""\
        - id: m
          type: multi
          text: Which?
          choices:
            - {id: a, label: A, range: [1, 2]}
            - {id: b, label: B}
        """)
    assert one(r, "range").line == 12


def test_means_disagreeing_with_the_label_or_twice() -> None:
    r = load("""\
        - id: q
          type: choice
          text: Which?
          choices:
            - {id: a, label: "Yes"}
            - {id: b, label: Prefer not to say, means: dont_know}
            - {id: c, label: Rather not tell, means: prefer_not}
        """)
    problems = found(r, "means")
    assert [p.line for p in problems] == [13]
    assert "the label says prefer_not" in problems[0].message
    twice = load("""\
        - id: q
          type: choice
          text: Which?
          choices:
            - {id: a, label: Prefer not to say}
            - {id: b, label: Rather not tell, means: prefer_not}
        """)
    [p] = found(twice, "means")
    assert (p.line, p.severity) == (13, "warning")
    assert "both mean prefer_not" in p.message


def test_answer_words() -> None:
    r = load(
        """\
        - id: q
          type: choice
          text: Which?
          choices:
            - {id: a, label: "Yes"}
            - {id: b, label: Prefer not to say}
        """,
        head=HEAD.replace(
            "questions:\n",
            "answer_words:\n"
            "  en: {prefer_not: [skip, 'not for you'], maybe: [perhaps so]}\n"
            "  pl: {prefer_not: [wole nie mowic]}\n"
            "questions:\n",
        ),
    )
    problems = found(r, "answer_words")
    text = "\n".join(p.format() for p in problems)
    assert "SKIP command" in text
    assert "no choice in this flow means maybe" in text
    assert "language 'pl'" in text
    assert all(p.severity == "warning" for p in problems)
    assert {p.line for p in problems} == {8, 9}
    assert r.ok
