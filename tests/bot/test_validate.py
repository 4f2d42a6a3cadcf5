"""Checks beyond a flow's shape (bot.validate): conditions, jumps, reachability, piping,
translations and SMS cost, each with the exact line and column, the question and a useful hint.

``HEAD`` is lines 1-7, so the first question's ``- id:`` is always line 8.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.errors import Problem
from bot.loader import LoadResult, load_flow, load_flow_text
from bot.schema import Flow
from bot.validate import _find_cycle, check_flow
from bot.yamlsafe import Located

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

ROLE = """\
- id: caring_role
  type: choice
  text: Who are you?
  choices:
    - {id: carer, label: A carer}
    - {id: staff, label: Council staff}
- id: hours
  type: number
  text: How many hours a week?
"""
"""Lines 8-16; questions added after it start on line 17."""


def load(body: str, head: str = HEAD) -> LoadResult:
    return load_flow_text(head + textwrap.dedent(body), "test.yaml")


def one(result: LoadResult, code: str) -> Problem:
    found = [p for p in result.problems if p.code == code]
    assert len(found) == 1, "\n".join(p.format() for p in result.problems)
    return found[0]


def when(condition: str) -> LoadResult:
    """ROLE, then a question on line 17 whose ``when:`` (line 20, value from column 9) is given."""
    return load(ROLE + f"- id: more\n  type: text\n  text: Tell us more.\n  when: {condition}\n")


# --- the samples ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "flows/carers-strategy.yaml",
        "flows/communities-approach.yaml",
        "tests/bot/flows/every-type.yaml",
    ],
)
def test_samples_have_no_errors(path: str) -> None:
    result = load_flow(ROOT / path)
    assert result.errors == [], "\n".join(p.format() for p in result.errors)
    assert result.ok
    for p in result.warnings:  # warnings are fine, but each must point somewhere
        assert p.line is not None


def test_communities_sample_has_no_warnings_either() -> None:
    result = load_flow(ROOT / "flows/communities-approach.yaml")
    assert result.problems == [], "\n".join(p.format() for p in result.problems)


# --- conditions ----------------------------------------------------------------------------------


def test_condition_with_unknown_question_id() -> None:
    p = one(when('carer_role == "carer"'), "condition")
    assert (p.line, p.column) == (20, 9)
    assert p.question == "more"
    assert p.severity == "error"
    assert "there is no question 'carer_role'" in p.message
    assert p.hint == "did you mean 'caring_role'?"


def test_condition_column_points_inside_the_condition() -> None:
    # Quoted: the column skips the quote; the problem is the second name.
    p = one(when("'hours > 3 and carer_rol == \"carer\"'"), "condition")
    assert (p.line, p.column) == (20, 9 + 1 + len("hours > 3 and "))


def test_condition_over_several_lines() -> None:
    result = load(
        ROLE
        + textwrap.dedent(
            """\
            - id: more
              type: text
              text: Tell us more.
              when: >-
                caring_role == "carer"
                and hours > 3
                and hourz < 100
            """
        )
    )
    p = one(result, "condition")
    assert (p.line, p.column) == (23, 9)
    assert "'hourz'" in p.message


def test_condition_referring_to_a_later_question() -> None:
    result = load(
        """\
        - id: first
          type: text
          text: Hello
          when: later == "x"
        - id: later
          type: text
          text: Bye
        """
    )
    p = one(result, "condition")
    assert (p.line, p.column, p.question) == (11, 9, "first")
    assert "comes later" in p.message
    assert p.hint is not None
    assert "move" in p.hint


def test_choice_compared_with_a_value_it_cannot_have() -> None:
    p = one(when('caring_role == "carrer"'), "condition")
    assert (p.line, p.column) == (20, 24)  # at the value
    assert "'carrer' is not a choice of 'caring_role'" in p.message
    assert p.hint is not None
    assert p.hint.startswith('did you mean "carer"?')
    assert '"staff"' in p.hint  # lists the valid choices


def test_type_mismatch() -> None:
    p = one(when('hours == "many"'), "condition")
    assert (p.line, p.column) == (20, 18)
    assert "'hours' is a number question" in p.message
    assert p.hint is not None
    assert "numbers without quotes" in p.hint


def test_ordering_a_choice() -> None:
    p = one(when('caring_role > "carer"'), "condition")
    assert p.line == 20
    assert "'>' cannot be used" in p.message


@pytest.mark.parametrize(
    ("condition", "column"),
    [
        ("hours >> 3", 9 + 7),
        ("'hours >= 3 and'", 9 + 1 + 14),
        ("hours = 3", 9 + 6),
        ('caring_role == "carer', 9 + 15),
    ],
)
def test_condition_syntax_error_has_a_column(condition: str, column: int) -> None:
    p = one(when(condition), "condition_syntax")
    assert (p.line, p.column) == (20, column)
    assert p.question == "more"
    assert "mistake at character" in p.message
    assert p.hint


def test_condition_using_info_question() -> None:
    result = load(
        """\
        - id: note
          type: info
          text: Hello
        - id: q
          type: text
          text: Bye
          when: note == "x"
        """
    )
    p = one(result, "condition")
    assert "info message" in p.message


# --- next: jumps -------------------------------------------------------------------------------


def test_next_to_an_unknown_question() -> None:
    result = load(
        """\
        - id: first
          type: text
          text: Hello
          next: coments
        - id: comments
          type: text
          text: Anything else?
        """
    )
    p = one(result, "next_unknown")
    assert (p.line, p.column, p.question) == (11, 3, "first")
    assert "'coments'" in p.message
    assert p.hint == "did you mean 'comments'?"


def test_next_map_key_that_is_not_an_answer() -> None:
    result = load(
        """\
        - id: know
          type: yesno
          text: Do you know?
          next: {"yes": end, "nope": where, default: where}
        - id: where
          type: info
          text: Here.
        """
    )
    p = one(result, "next_key")
    assert (p.line, p.column) == (11, 22)
    assert "'nope' is not an answer" in p.message
    assert p.hint == "did you mean 'no'?"


def test_next_map_key_of_a_choice() -> None:
    result = load(
        ROLE.replace("  text: Who are you?\n", "  text: Who are you?\n  next: {carers: end}\n")
    )
    p = one(result, "next_key")
    assert (p.line, p.question) == (11, "caring_role")
    assert p.hint == "did you mean 'carer'?"


def test_next_map_on_a_question_without_fixed_answers() -> None:
    result = load(
        """\
        - id: name
          type: text
          text: Name?
          next: {bob: end}
        - id: b
          type: text
          text: Hi
        """
    )
    p = one(result, "next_map")
    assert p.line == 11
    assert p.hint is not None
    assert "when:" in p.hint


def test_circular_next() -> None:
    result = load(
        """\
        - id: q1
          type: text
          text: One
        - id: q2
          type: text
          text: Two
        - id: q3
          type: text
          text: Three
          next: q1
        """
    )
    p = one(result, "next_cycle")
    assert (p.line, p.column, p.question) == (17, 3, "q3")
    assert "q1 -> q2 -> q3 -> q1" in p.message
    assert p.hint is not None
    assert "forwards" in p.hint


def test_next_to_itself() -> None:
    p = one(load("- {id: q1, type: text, text: One, next: q1}\n"), "next_cycle")
    assert p.line == 8
    assert "itself" in p.message


def test_unreachable_question() -> None:
    result = load(
        """\
        - id: q1
          type: text
          text: One
          next: q3
        - id: q2
          type: text
          text: Two
        - id: q3
          type: text
          text: Three
        """
    )
    p = one(result, "unreachable")
    assert (p.line, p.column, p.question) == (12, 3, "q2")
    assert p.hint is not None
    assert "next:" in p.hint


def test_branches_that_rejoin_are_reachable() -> None:
    result = load(
        """\
        - id: know
          type: yesno
          text: Do you know where to get help?
          next: {"no": where, default: done}
        - id: where
          type: info
          text: Call us.
        - id: done
          type: text
          text: Anything else?
        """
    )
    assert result.ok, [p.format() for p in result.problems]


def test_cycle_search_handles_a_long_flow_without_recursion() -> None:
    # More questions than Python's recursion limit (the loader stops at 300, but check_flow
    # may be called on any Flow).
    n = 1500
    flow = Flow.model_validate(
        {
            "id": "long",
            "title": "T",
            "council": "C",
            "contact": {"phone": "1"},
            "intro": "Hi STOP",
            "thanks": "Bye",
            "questions": [
                {
                    "id": f"q{i}",
                    "type": "text",
                    "text": "Hi",
                    **({"next": "q0"} if i == n - 1 else {}),
                }
                for i in range(n)
            ],
        }
    )
    cycle = _find_cycle(flow)
    assert cycle is not None
    assert cycle[0] == cycle[-1] == 0
    problems = check_flow(flow, Located(flow.model_dump()), "long.yaml")
    assert [p.code for p in problems if p.severity == "error"] == ["next_cycle"]


# --- piping --------------------------------------------------------------------------------------


def test_piping_an_unknown_question() -> None:
    result = load(
        """\
        - id: name
          type: text
          text: Your name?
        - id: hello
          type: text
          text: Hello {nmae}, how are you?
        """
    )
    p = one(result, "pipe_unknown")
    assert (p.line, p.column, p.question) == (13, 15, "hello")
    assert p.message == "{nmae} is not a question id"
    assert p.hint == "did you mean {name}?"


def test_piping_a_later_answer() -> None:
    result = load(
        """\
        - id: hello
          type: text
          text: {en: "Hello {name}"}
        - id: name
          type: text
          text: Your name?
        """
    )
    p = one(result, "pipe_later")
    assert (p.line, p.column, p.question) == (10, 21, "hello")
    assert "not answered yet" in p.message


def test_piping_in_intro_thanks_and_reminders() -> None:
    head = HEAD.replace("Text STOP to stop.", "Hi {name}. Text STOP to stop.").replace(
        "thanks: Thank you.", "thanks: Thank you {nam}.\nreminders: {text: 'Hi {name}'}"
    )
    result = load("- {id: name, type: text, text: Name?}\n", head=head)
    got = sorted((p.line, p.code) for p in result.problems)
    assert got == [(5, "pipe_later"), (6, "pipe_unknown"), (7, "pipe_unknown")]


# --- warnings: the flow still loads ---------------------------------------------------------------


def test_prompt_longer_than_two_sms() -> None:
    long_text = " ".join(["Please tell us what you think about this."] * 9)
    result = load(f"- id: long\n  type: text\n  text: {long_text}\n")
    p = one(result, "sms_long")
    assert result.ok  # a warning only
    assert (p.line, p.severity, p.question) == (10, "warning", "long")
    assert "3 SMS messages" in p.message
    assert p.hint is not None
    assert "shorten" in p.hint


def test_emoji_makes_sms_unicode() -> None:
    result = load("- id: q\n  type: text\n  text: Thanks for helping 😀\n")
    p = one(result, "sms_ucs2")
    assert result.ok
    assert (p.line, p.column, p.severity) == (10, 28, "warning")
    assert "Unicode" in p.message
    assert "70" in p.message
    assert p.hint is not None
    assert "not replaced automatically" in p.hint


def test_non_gsm_symbol_in_a_choice_label() -> None:
    result = load(
        """\
        - id: q
          type: choice
          text: How much?
          choices: [{id: half, label: ½ of it}, {id: all, label: All}]
        """
    )
    p = one(result, "sms_ucs2")
    assert (p.line, p.column) == (11, 31)
    assert "vulgar fraction one half" in p.message


def test_curly_quotes_and_dashes_warn_and_say_they_are_replaced() -> None:
    result = load("- id: q\n  type: text\n  text: It’s fine — really\n")
    p = one(result, "sms_lookalike")
    assert result.ok
    assert (p.line, p.column, p.severity) == (10, 11, "warning")
    assert "right single quotation mark" in p.message
    assert "em dash" in p.message
    assert p.hint is not None
    assert "replaced automatically" in p.hint
    assert "'-'" in p.hint


def test_lookalikes_next_to_an_emoji_are_not_replaced() -> None:
    p = one(load("- id: q\n  type: text\n  text: It’s fine 😀\n"), "sms_ucs2")
    assert "😀" in p.message
    assert p.hint is not None
    assert "not replaced automatically" in p.hint
    assert "’" in p.hint


def test_accents_of_another_language_and_other_scripts_are_fine() -> None:
    head = HEAD.replace("questions:", "languages: [en, pl, gu]\nquestions:")
    result = load(
        """\
        - id: q
          type: text
          text: {en: Thanks, pl: Dziękujemy bardzo, gu: આભાર}
        """,
        head=head,
    )
    assert not [p for p in result.problems if p.code.startswith("sms")]


def test_more_than_nine_choices() -> None:
    choices = ", ".join(f"{{id: c{i}, label: Choice {chr(65 + i)}}}" for i in range(10))
    result = load(f"- id: many\n  type: choice\n  text: Pick one.\n  choices: [{choices}]\n")
    p = one(result, "sms_many_choices")
    assert result.ok
    assert (p.line, p.question, p.severity) == (11, "many", "warning")
    assert "10 choices" in p.message
    assert p.hint is not None
    assert "9 or fewer" in p.hint


def test_missing_translation() -> None:
    head = HEAD.replace("questions:", "languages: [en, pl]\nquestions:")
    head = head.replace(
        "intro: Hello from Test Borough Council. Text STOP to stop.",
        "intro: {en: Hello. Text STOP to stop., pl: Dzien dobry. STOP}",
    ).replace("thanks: Thank you.", "thanks: {en: Thank you., pl: Dziekujemy.}")
    head += "- {id: q0, type: text, text: {en: Hello, pl: Czesc}}\n"  # line 9
    result = load(
        """\
        - id: q
          type: text
          text: {en: What do you think?}
        """,
        head=head.replace(
            "title: Test survey", "title: Test survey\nclosed_text: {en: Closed, pl: Zamkniete}"
        ),
    )
    p = one(result, "translation")
    assert result.ok
    assert (p.line, p.question, p.severity) == (13, "q", "warning")
    assert p.message == "missing translation: pl"
    assert p.hint == "add 'pl:'"


def test_untranslated_text_and_unset_defaults() -> None:
    head = HEAD.replace("questions:", "languages: [en, pl]\nquestions:")
    result = load("- {id: q, type: consent, text: {en: OK?, pl: Dobrze?}}\n", head=head)
    got = {(p.line, p.message.split(" ")[0]) for p in result.problems if p.code == "translation"}
    # intro and thanks (lines 5, 6) have no Polish; closed_text and declined are not written,
    # so the built-in English goes to everyone: said at 'languages' (7) and at the question (9).
    assert got == {(5, "this"), (6, "this"), (7, "'closed_text'"), (9, "'declined'")}
    assert result.ok


def test_warnings_do_not_stop_a_flow_loading() -> None:
    result = load("- id: q\n  type: text\n  text: Hello 😀 — ½\n")
    assert result.ok
    assert result.flow is not None
    assert result.warnings
    assert not result.errors


def test_voice_warnings_name_what_does_not_suit_a_call() -> None:
    from bot.loader import load_flow_text

    text = """\
id: t
title: T
council: Some Council
contact: {phone: "0116 000 0000"}
intro: "Hello. Text STOP to stop."
thanks: "Thanks. See www.example.gov.uk"
languages: [en, so]
questions:
  - id: q
    type: choice
    text: {en: "Pick one 👍", so: "Dooro"}
    choices: [{id: a, label: A}, {id: b, label: B}, {id: c, label: C}, {id: d, label: D},
              {id: e, label: E}, {id: f, label: F}, {id: g, label: G}, {id: h, label: H},
              {id: i, label: I}, {id: j, label: J}]
  - id: w
    type: text
    text: "Tell us, or text SKIP."
    voice: "Tell us in a few words."
"""
    result = load_flow_text(text, "t.yaml")
    codes = [(p.code, p.question) for p in result.problems if p.code.startswith("voice")]
    assert ("voice_language", None) in codes  # Somali: no voice
    assert ("voice_keys", "q") in codes  # 10 choices
    assert ("voice_text", "q") in codes  # the emoji
    assert ("voice_text", None) in codes  # the web address in thanks
    assert ("voice_text", "w") not in codes  # its voice: text is said instead


def test_phone_call_texts_are_checked_for_translations_not_for_sms() -> None:
    """A flow's and a question's ``voice:`` texts are said to callers in their language, so a
    missing translation is warned of like any text; they are never texted, so no SMS warning."""
    text = """\
id: t
title: {en: T, gu: ટી}
council: Some Council
contact: {phone: "0116 000 0000"}
intro: {en: "Hello. Text STOP to stop.", gu: "નમસ્તે"}
thanks: {en: "Thanks.", gu: "આભાર"}
closed_text: {en: "Closed.", gu: "બંધ"}
languages: [en, gu]
voice:
  thanks: "Thank you for calling us today."
questions:
  - id: w
    type: text
    text: {en: "Tell us.", gu: "અમને કહો."}
    voice: {en: "Tell us in a few words \u2014 say it 👍"}
"""
    result = load_flow_text(text, "t.yaml")
    found = [(p.code, p.question, p.line) for p in result.problems]
    assert ("translation", None, 10) in found  # voice: thanks has no Gujarati
    assert ("translation", "w", 15) in found  # missing translation: gu
    sms = [p for p in result.problems if p.code.startswith("sms") or "SMS" in p.message]
    assert sms == [], [p.format() for p in sms]
