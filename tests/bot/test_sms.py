"""SMS encoding, segment counts, reply rendering and splitting (bot/sms.py)."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import Reply, ReplyChoice
from bot.sms import (
    GSM_BASIC,
    GSM_EXTENSION,
    ChoiceWords,
    SmsInfo,
    encoding,
    gsm_safe,
    info,
    render,
    segments,
    segments_of_reply,
    septets,
    split,
)

EMOJI = "\U0001f600"  # 😀, outside the BMP: 2 UTF-16 units
GUJARATI = "તમને કેટલી વાર આરામ મળે છે?"  # "How often do you get a break?"
LOOKALIKES = (
    "‘’‚‛′“”„‟″«»‹›–—‐‑‒―−…•·\u00a0\u2009\u202f\u2007\t\u200b\u200c\u200d\u2060\ufeff\u00ad"
)


# --- alphabet and counts -------------------------------------------------------------------------


def test_alphabet_is_the_3gpp_default_table() -> None:
    assert len(GSM_BASIC) == 127 == len(set(GSM_BASIC))  # 128 codes minus ESC
    assert "\x1b" not in GSM_BASIC
    assert set(GSM_EXTENSION) == set("\f^{}\\[~]|€")
    assert "$" in GSM_BASIC
    assert "¤" in GSM_BASIC
    assert "`" not in GSM_BASIC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("a", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("ы" * 70, 1),
        ("ы" * 71, 2),
        ("ы" * 134, 2),
        ("ы" * 135, 3),
        ("€" * 80, 1),  # 160 septets
        ("€" * 81, 2),
        ("a" * 159 + "^", 2),  # 161 septets
        (EMOJI * 35, 1),  # 70 units
        (EMOJI * 36, 2),
    ],
)
def test_known_segment_counts(text: str, expected: int) -> None:
    assert segments(text) == expected


def test_extension_characters_cost_two_septets() -> None:
    for ch in "^{}\\[~]|€\f":
        assert septets(ch) == 2, ch
        assert encoding(ch) == "GSM-7"
    assert septets("Cost: €5 [approx]") == 20


def test_septets_refuses_text_gsm_cannot_encode() -> None:
    with pytest.raises(ValueError, match="GSM-7"):
        septets("it’s")


def test_one_emoji_or_curly_quote_makes_the_whole_message_ucs2() -> None:
    assert info("a" * 100) == SmsInfo("GSM-7", 100, 1, ())
    assert info("a" * 100 + EMOJI) == SmsInfo("UCS-2", 102, 2, (EMOJI,))
    assert info("It’s fine, it’s ok") == SmsInfo("UCS-2", 18, 1, ("’",))


def test_culprits_are_unique_and_in_order() -> None:
    assert info("a’b“c’d“ł").culprits == ("’", "“", "ł")


def test_gujarati_is_ucs2() -> None:
    i = info(GUJARATI)
    assert i.encoding == "UCS-2"
    assert i.length == len(GUJARATI)
    assert i.segments == 1
    assert segments(GUJARATI * 3) == math.ceil(3 * len(GUJARATI) / 67)


def test_empty_text() -> None:
    assert info("") == SmsInfo("GSM-7", 0, 0, ())


def test_surrogate_pair_is_not_split_across_parts() -> None:
    # 134 units would fit two parts of 67, but the emoji cannot straddle the boundary.
    assert segments("ы" * 134) == 2
    assert segments("ы" * 66 + EMOJI + "ы" * 66) == 3
    assert segments("ы" * 65 + EMOJI + "ы" * 67) == 2
    assert segments("a" * 66 + EMOJI + "a" * 66) == 3  # the emoji alone makes it UCS-2


def test_gsm_escape_is_not_split_across_parts() -> None:
    assert segments("a" * 152 + "€" + "a" * 152) == 3  # 306 septets, yet 3 parts
    assert segments("a" * 151 + "€" + "a" * 153) == 2
    assert segments("€" * 153) == 3  # 76 per part


# --- gsm_safe ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("‘Hi’ – “there”…", "'Hi' - \"there\"..."),
        ("Carers’ week — 10–14 June", "Carers' week - 10-14 June"),
        ("£5\u00a0a\u202fweek\u2009now", "£5 a week now"),
        ("zero\u200bwidth\ufeff\u2060 gone\u00ad", "zerowidth gone"),
        ("• Respite\n• Money", "- Respite\n- Money"),
        ("Cafe\u0301", "Café"),  # decomposed é composes to the GSM-7 one
        ("plain GSM text, £ € @", "plain GSM text, £ € @"),
        ("", ""),
    ],
)
def test_gsm_safe_replaces_lookalikes(text: str, expected: str) -> None:
    assert gsm_safe(text) == expected
    assert encoding(gsm_safe(text)) == "GSM-7"


@pytest.mark.parametrize(
    "text",
    [
        GUJARATI + " “quoted” …",
        "It’s great " + EMOJI,
        "Dziękuję – ‘bardzo’",  # Polish ę is not GSM-7
        "👩\u200d👧 family",  # the ZWJ must survive
        "ક્\u200dષ",  # Gujarati with ZWJ
    ],
)
def test_gsm_safe_leaves_text_that_stays_ucs2_alone(text: str) -> None:
    assert gsm_safe(text) == text


# --- render --------------------------------------------------------------------------------------


def _reply(text: str, labels: list[str], multi: bool = False) -> Reply:
    choices = [ReplyChoice(key=str(i), value=f"v{i}", label=lab) for i, lab in enumerate(labels, 1)]
    return Reply(text=text, choices=choices, multi=multi, kind="question")


def test_render_without_choices_is_the_text() -> None:
    assert render(Reply(text="Thank you.\n")) == "Thank you.\n"


def test_render_single_choice_inline() -> None:
    r = _reply("How often do you get a break?", ["Never", "Sometimes", "Often"])
    assert render(r) == "How often do you get a break?\nReply 1 Never, 2 Sometimes, 3 Often"


def test_render_single_choice_long_labels_one_per_line() -> None:
    r = _reply(
        "Who are you?",
        ["An unpaid carer", "Someone who is cared for", "A voluntary organisation", "Staff"],
    )
    assert render(r) == (
        "Who are you?\nReply:\n1 An unpaid carer\n2 Someone who is cared for\n"
        "3 A voluntary organisation\n4 Staff"
    )


def test_render_labels_with_numbers_go_one_per_line() -> None:
    r = _reply("Hours of care a week?", ["None", "9 or fewer", "10-19"])
    assert render(r) == "Hours of care a week?\nReply:\n1 None\n2 9 or fewer\n3 10-19"


def test_render_multi_inline_and_one_per_line() -> None:
    r = _reply("What would help?", ["Respite", "Money", "Advice"], multi=True)
    assert render(r) == (
        "What would help?\nReply with one or more numbers, e.g. 1 3: 1 Respite, 2 Money, 3 Advice"
    )
    labels = ["A break from caring", "Money or benefits advice", "Someone to talk to"]
    long = _reply("What would help?", labels, multi=True)
    assert render(long) == (
        "What would help?\nReply with one or more numbers, e.g. 1 3:\n"
        "1 A break from caring\n2 Money or benefits advice\n3 Someone to talk to"
    )
    two = _reply("Which?", ["Money or benefits advice", "Someone to talk to, face to face"], True)
    assert render(two) == (
        "Which?\nReply with one or more numbers, e.g. 1 2:\n"
        "1 Money or benefits advice\n2 Someone to talk to, face to face"
    )


def test_render_yes_no() -> None:
    r = Reply(
        text="Do you look after someone?",
        choices=[
            ReplyChoice(key="YES", value="yes", label="Yes, I do"),
            ReplyChoice(key="NO", value="no", label="No"),
        ],
    )
    assert render(r) == "Do you look after someone?\nReply YES or NO"


def test_render_keys_that_say_it_all() -> None:
    r = Reply(
        text="Rate it from 1 (poor) to 5 (good).",
        choices=[ReplyChoice(key=str(i), value=str(i), label=str(i)) for i in range(1, 6)],
    )
    assert render(r) == "Rate it from 1 (poor) to 5 (good).\nReply 1, 2, 3, 4 or 5"


def test_render_applies_gsm_safe_unless_told_not_to() -> None:
    r = _reply("What’s hardest — money?  ", ["Yes", "No"])
    assert render(r) == "What's hardest - money?\nReply 1 Yes, 2 No"
    assert info(render(r)).encoding == "GSM-7"
    assert render(r, gsm=False) == "What’s hardest — money?\nReply 1 Yes, 2 No"


def test_render_community_language_stays_as_written() -> None:
    r = _reply(GUJARATI, ["ક્યારેય નહીં", "ક્યારેક"])
    out = render(r)
    assert out == GUJARATI + "\nReply 1 ક્યારેય નહીં, 2 ક્યારેક"
    assert info(out).encoding == "UCS-2"


def test_render_translated_words_and_empty_text() -> None:
    words = ChoiceWords(reply="Odpowiedz", or_="lub", multi="Wybierz, np. {example}:")
    yn = Reply(
        text="",
        choices=[
            ReplyChoice(key="YES", value="y", label="Tak"),
            ReplyChoice(key="NO", value="n", label="Nie"),
        ],
    )
    assert render(yn, words=words) == "Odpowiedz YES lub NO"
    multi = _reply("Co?", ["A", "B", "C", "D"], multi=True)
    assert render(multi, words=words) == "Co?\nWybierz, np. 1 3: 1 A, 2 B, 3 C, 4 D"


def test_segments_of_reply_counts_the_rendered_text() -> None:
    r = _reply("x" * 130, ["Never", "Sometimes", "Often"])
    assert segments_of_reply(r) == 2  # the text alone fits in one; the choice line tips it
    assert segments_of_reply(Reply(text="")) == 0


# --- split ---------------------------------------------------------------------------------------

# Whitespace split() may drop: str.isspace() minus the no-break spaces.
_DROPPABLE = r"[^\S\u00a0\u2007\u202f\u2060]*"


def _rejoins(parts: list[str], text: str) -> bool:
    """text == p1 + w1 + p2 + ... + pn + wn, every w droppable whitespace (maybe empty)."""
    pattern = _DROPPABLE.join(map(re.escape, parts)) + _DROPPABLE
    return re.fullmatch(pattern, text) is not None


def test_split_empty_and_fitting_text() -> None:
    assert split("") == []
    assert split("  Hello  ") == ["  Hello  "]
    assert split("a" * 160) == ["a" * 160]


def test_split_at_sentences() -> None:
    s1 = "Thank you for taking part in the carers survey. " * 2  # 96 chars
    s2 = "Your answers help the council plan better support for carers and those they care for!"
    parts = split(s1 + s2)
    assert parts == [s1.rstrip(), s2]


def test_split_prefers_line_breaks_and_closing_quotes() -> None:
    a = "x " * 50 + 'He said "stop."'
    b = "y " * 60
    assert split(a + "\n\n" + b) == [a, b.rstrip()]
    assert split(a + " " + b)[0] == a


def test_split_skips_a_sentence_end_that_would_waste_a_message() -> None:
    text = "Hi. " + "word " * 60
    parts = split(text)
    assert len(parts[0]) > 100  # not "Hi." alone
    assert _rejoins(parts, text)


def test_split_at_words_then_hard() -> None:
    text = "word " * 40
    parts = split(text)
    assert all(p.startswith("word") and p.endswith("word") for p in parts)
    long_token = "x" * 400
    assert split(long_token) == ["x" * 160, "x" * 160, "x" * 80]


def test_split_does_not_break_an_emoji_or_escape_at_the_edge() -> None:
    text = "a" * 69 + EMOJI + "b" * 10  # UCS-2; the emoji would straddle 70
    parts = split(text)
    assert parts == ["a" * 69, EMOJI + "b" * 10]
    euro = "a" * 159 + "€" + "b"
    assert split(euro) == ["a" * 159, "€b"]


def test_split_keeps_gujarati_clusters_together() -> None:
    text = "ક્ષિ" * 100  # consonant, virama, consonant, vowel sign: no spaces anywhere
    parts = split(text)
    assert "".join(parts) == text
    assert all(segments(p) == 1 for p in parts)
    for p in parts[1:]:
        assert p.startswith("ક્ષિ")


def test_split_measures_each_part_in_its_own_encoding() -> None:
    text = "a " * 100 + GUJARATI * 3
    parts = split(text)
    assert info(parts[0]).encoding == "GSM-7"  # 200 GSM chars no longer pay the UCS-2 rate
    assert all(segments(p) == 1 for p in parts)


def test_split_long_texts_with_more_segments_per_message() -> None:
    text = ("Caring can be hard. " * 250)[:5000]
    parts = split(text, max_segments_per_message=3)
    assert all(segments(p) <= 3 for p in parts)
    assert all(p.endswith(".") for p in parts[:-1])
    assert _rejoins(parts, text)
    guj = (GUJARATI + " ") * 180
    parts = split(guj)
    assert all(segments(p) == 1 and p for p in parts)
    assert _rejoins(parts, guj)


def test_split_never_cuts_at_or_drops_a_no_break_space() -> None:
    assert split("a" * 150 + " \u00a0" + "b" * 20) == ["a" * 150, "\u00a0" + "b" * 20]
    assert split("ы" * 40 + "\u00a0" + "ы" * 40) == ["ы" * 40 + "\u00a0" + "ы" * 29, "ы" * 11]


def test_split_rejects_a_zero_limit() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        split("hello", 0)


# --- properties ----------------------------------------------------------------------------------

_PIECES = st.sampled_from(
    [
        "a", "Z", "7", " ", " ", "\n", ".", "!", "?", ",", "'", "€", "^", "{", "é",
        "Δ", "\u00a0", "\t", EMOJI, "👩\u200d👧", "ક્ષિ", "ગ", "ł", "’", "…", "ы", ". ", "\r\n",
    ]
)  # fmt: skip
texts = st.one_of(
    st.lists(_PIECES, max_size=700).map("".join),
    st.text(max_size=400),
)


@settings(max_examples=300, deadline=None)
@given(texts, st.integers(min_value=1, max_value=3))
def test_split_properties(text: str, limit: int) -> None:
    parts = split(text, limit)
    assert _rejoins(parts, text)
    assert all(parts)
    assert all(segments(p) <= limit for p in parts)
    assert (parts == [text]) == (text != "" and segments(text) <= limit)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_segment_count_properties(text: str) -> None:
    i = info(text)
    assert i.segments == segments(text)
    assert i.encoding == encoding(text)
    assert (i.segments >= 1) == (text != "")
    assert (i.culprits == ()) == (i.encoding == "GSM-7")
    if i.segments > 1:
        single, part = (160, 153) if i.encoding == "GSM-7" else (70, 67)
        assert i.length > single
        # Greedy packing wastes at most one unit per part (an escape or surrogate pair).
        assert math.ceil(i.length / part) <= i.segments <= math.ceil(i.length / (part - 1))
    for k in (len(text) // 3, len(text) // 2):
        assert segments(text[:k]) <= i.segments


@given(st.text(alphabet=st.sampled_from(GSM_BASIC + GSM_EXTENSION + LOOKALIKES)))
def test_gsm_safe_makes_gsm_and_lookalike_text_gsm7(text: str) -> None:
    assert encoding(gsm_safe(text)) == "GSM-7"


@given(texts)
def test_gsm_safe_is_idempotent_and_never_costs_ucs2_text_anything(text: str) -> None:
    once = gsm_safe(text)
    assert gsm_safe(once) == once
    if encoding(once) == "UCS-2":
        assert once == text
