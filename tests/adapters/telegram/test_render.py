"""Keyboards, callback data and deep links: pure functions, checked against the sample flows."""

from __future__ import annotations

from pathlib import Path

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from adapters.telegram import deep_link, render, start_payload
from adapters.telegram.links import chat_link, mask_id
from adapters.telegram.render import (
    AnswerPress,
    DonePress,
    KeyPress,
    TogglePress,
    keyboard,
    parse_press,
    picked_labels,
    retoggle,
)
from bot.loader import require_flow
from bot.models import Reply, ReplyChoice
from bot.prompts import question_reply
from bot.schema import Flow

ROOT = Path(__file__).resolve().parents[3]
FLOWS = [*sorted((ROOT / "flows").glob("*.yaml")), ROOT / "tests/bot/flows/every-type.yaml"]


def datas(markup: InlineKeyboardMarkup | None) -> list[str]:
    assert markup is not None
    return [str(b.callback_data) for row in markup.inline_keyboard for b in row]


def texts(markup: InlineKeyboardMarkup | None) -> list[list[str]]:
    assert markup is not None
    return [[b.text for b in row] for row in markup.inline_keyboard]


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.stem)
def test_every_question_of_the_sample_flows_gets_callback_data_within_64_bytes(path: Path) -> None:
    flow: Flow = require_flow(path)
    longest = 0
    for q in flow.questions:
        for lang in flow.languages:
            reply = question_reply(flow, q, lang, {})
            if not reply.choices:
                continue
            full = (1 << len(reply.choices)) - 1  # every pick ticked: the longest mask
            for mask in (0, full):
                markup = keyboard(reply, lang, mask)
                assert markup is not None, q.id
                for d in datas(markup):
                    assert len(d.encode()) <= 64, (q.id, d)
                    longest = max(longest, len(d.encode()))
                    # what we send, we can read back, to the same question
                    press = parse_press(d)
                    assert press is not None
                    assert not isinstance(press, KeyPress)
                    assert press.question == q.id
            for c, d in zip(reply.choices, datas(keyboard(reply, lang)), strict=False):
                press = parse_press(d)
                if not reply.multi:
                    assert press == AnswerPress(q.id, c.value)
    assert longest > 10


def test_the_longest_ids_the_schema_allows_still_fit() -> None:
    qid = "q" * 30  # QUESTION_ID: 30 characters at most
    value = "C" * 30  # CHOICE_ID: 30 characters at most
    single = Reply(
        text="?",
        question=qid,
        kind="question",
        choices=[ReplyChoice(key="1", value=value, label="x")],
    )
    assert datas(keyboard(single)) == [f"a:{qid}:{value}"]
    assert len(datas(keyboard(single))[0]) == 63
    multi = Reply(
        text="?",
        question=qid,
        kind="question",
        multi=True,
        choices=[ReplyChoice(key=str(i + 1), value=f"c{i}", label=f"L{i}") for i in range(40)],
    )
    ds = datas(keyboard(multi, "en", (1 << 40) - 1))
    assert max(len(d.encode()) for d in ds) <= 64
    assert ds[-1] == f"d:{qid}:{(1 << 40) - 1:x}"


def test_yes_no_is_two_buttons_on_one_row() -> None:
    reply = Reply(
        text="Do you agree?",
        question="consent",
        kind="question",
        choices=[
            ReplyChoice(key="YES", value="yes", label="Yes"),
            ReplyChoice(key="NO", value="no", label="No"),
        ],
    )
    [out] = render([reply])
    assert out.text == "Do you agree?"
    assert texts(out.markup) == [["Yes", "No"]]
    assert datas(out.markup) == ["a:consent:yes", "a:consent:no"]


def test_a_scale_with_unlabelled_points_shows_keys_and_lists_them() -> None:
    reply = Reply(
        text="Rate us.",
        question="rating",
        kind="question",
        choices=[
            ReplyChoice(key=str(n), value=str(n), label={1: "Poor", 5: "Excellent"}.get(n, ""))
            for n in range(1, 6)
        ],
    )
    [out] = render([reply])
    assert texts(out.markup) == [["1 Poor"], ["2"], ["3"], ["4"], ["5 Excellent"]]
    assert out.text == "Rate us.\n\n1 Poor\n2\n3\n4\n5 Excellent"
    bare = Reply(
        text="Rate us.",
        question="rating",
        kind="question",
        choices=[ReplyChoice(key=str(n), value=str(n), label="") for n in range(0, 11)],
    )
    [out] = render([bare])
    assert texts(out.markup) == [["0", "1", "2", "3", "4"], ["5", "6", "7", "8", "9"], ["10"]]


def test_long_labels_are_listed_in_the_text_so_nothing_is_cut_off() -> None:
    flow = require_flow(ROOT / "flows/carers-strategy.yaml")
    q = flow.question("ethnic_white")
    assert q is not None
    [out] = render([question_reply(flow, q, "en", {})])
    assert "1 English, Welsh, Scottish, Northern Irish or British" in out.text
    assert texts(out.markup)[0] == ["1 English, Welsh, Scottish, Northern Irish or British"]


def test_only_the_last_message_of_a_step_carries_the_keyboard() -> None:
    intro = Reply(text="Hello from the council.")
    question = Reply(
        text="Agree?",
        question="consent",
        kind="question",
        choices=[
            ReplyChoice(key="YES", value="yes", label="Yes"),
            ReplyChoice(key="NO", value="no", label="No"),
        ],
    )
    out = render([intro, question])
    assert [o.markup is None for o in out] == [True, False]
    # an error followed by the question again: still one keyboard, on the last message
    out = render([Reply(text="Sorry?", kind="error"), question])
    assert out[0].markup is None
    assert out[1].markup is not None
    # a closing message after choices: no keyboard, the choices are listed for typing
    out = render([question, Reply(text="Bye.", kind="end")])
    assert all(o.markup is None for o in out)
    assert out[0].text.endswith("YES Yes\nNO No")


def test_a_reply_without_a_question_gets_buttons_that_type_the_key() -> None:
    menu = Reply(
        text="Which language?",
        kind="question",
        choices=[
            ReplyChoice(key="1", value="en", label="English"),
            ReplyChoice(key="2", value="gu", label="ગુજરાતી"),
        ],
    )
    [out] = render([menu])
    assert datas(out.markup) == ["k:1", "k:2"]
    assert parse_press("k:2") == KeyPress("2")


def test_a_very_long_text_is_split_below_telegrams_limit() -> None:
    out = render([Reply(text=("word " * 1000 + "\n") * 3)])
    assert len(out) >= 4
    assert all(0 < len(o.text) <= 4096 for o in out)


def test_multi_toggle_is_stateless_and_done_carries_the_picks() -> None:
    reply = Reply(
        text="What helps?",
        question="support",
        kind="question",
        multi=True,
        choices=[
            ReplyChoice(key="1", value="respite", label="Short breaks"),
            ReplyChoice(key="2", value="money", label="Money advice"),
            ReplyChoice(key="3", value="info", label="Information"),
        ],
    )
    markup = keyboard(reply, "gu")
    assert markup is not None
    assert texts(markup) == [["Short breaks"], ["Money advice"], ["Information"], ["✅ થઈ ગયું"]]
    assert datas(markup) == ["m:support:0:0", "m:support:1:0", "m:support:2:0", "d:support:0"]
    press = parse_press("m:support:2:0")
    assert press == TogglePress("support", 2, 0)
    assert isinstance(press, TogglePress)
    after = retoggle(markup, "support", press.new_mask)
    assert texts(after) == [["Short breaks"], ["Money advice"], ["✓ Information"], ["✅ થઈ ગયું"]]
    assert datas(after) == ["m:support:0:4", "m:support:1:4", "m:support:2:4", "d:support:4"]
    second = parse_press(datas(after)[0])
    assert isinstance(second, TogglePress)
    after = retoggle(after, "support", second.new_mask)
    assert datas(after)[-1] == "d:support:5"
    # pressing a ticked choice again unticks it
    untick = parse_press(datas(after)[2])
    assert isinstance(untick, TogglePress)
    assert untick.new_mask == 1
    done = parse_press("d:support:5")
    assert done == DonePress("support", 5)
    assert picked_labels(after, done, "d:support:5") == ["Short breaks", "Information"]


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "x",
        "a:",
        "a:q",
        "a::v",
        "m:q:1",
        "m:q:x:1",
        "m:q:1:zz",
        "d:q",
        "d:q:",
        "d:q:zz",
        "k:",
        "z:q:1",
        "a:" + "q" * 70,
        "m:q:999:1",
    ],
)
def test_data_we_never_sent_is_ignored(data: str | None) -> None:
    assert parse_press(data) is None


def test_picked_labels_of_a_single_press_come_from_the_pressed_button() -> None:
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Yes", callback_data="a:c:yes"),
                InlineKeyboardButton("No", callback_data="a:c:no"),
            ]
        ]
    )
    assert picked_labels(markup, AnswerPress("c", "no"), "a:c:no") == ["No"]
    assert picked_labels(None, AnswerPress("c", "no"), "a:c:no") == []


def test_deep_link() -> None:
    assert (
        deep_link("LLRCarersBot", "carers-strategy", "harborough-carers")
        == "https://t.me/LLRCarersBot?start=carers-strategy-harborough-carers"
    )
    assert (
        deep_link("@LLRCarersBot", "carers-strategy")
        == "https://t.me/LLRCarersBot?start=carers-strategy"
    )
    assert start_payload("CARERS", "HARBOROUGH") == "CARERS-HARBOROUGH"
    assert start_payload("f" * 33, "s" * 30) == "f" * 33 + "-" + "s" * 30  # exactly 64


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("LLRCarersBot", "f" * 40, "s" * 30), "71 characters; at most 64"),
        (("LLRCarersBot", "carers strategy"), "contains ' '"),
        (("LLRCarersBot", "carers", "bélgrave"), "contains 'é'"),
        (("LLRCarersBot", ""), "needs a flow id"),
        (("t.me/x", "carers"), "not a Telegram bot username"),
        (("ab", "carers"), "not a Telegram bot username"),
    ],
)
def test_deep_link_refuses_what_telegram_would_refuse(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        deep_link(*args)


def test_chat_link_and_mask() -> None:
    assert (
        chat_link("LLRCarersBot", "carers-strategy")
        == "https://t.me/LLRCarersBot?start=carers-strategy"
    )
    assert chat_link("LLRCarersBot", "not valid!") == "https://t.me/LLRCarersBot"
    assert chat_link("LLRCarersBot") == "https://t.me/LLRCarersBot"
    assert mask_id(5550001234) == "55******34"
    assert mask_id("-1001234567890") == "-1**********90"
    assert mask_id(123) == "***"
