from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from adapters.sms_twilio import MAX_SEGMENTS, mask, messages, sms_text
from bot.models import Reply, ReplyChoice
from bot.sms import info

QUESTION = Reply(
    text="How often do you get a break?",
    choices=[
        ReplyChoice(key="1", value="never", label="Never"),
        ReplyChoice(key="2", value="sometimes", label="Sometimes"),
    ],
    kind="question",
)


def test_a_step_is_one_message_with_the_replies_in_order() -> None:
    out = messages([Reply(text="Thank you."), QUESTION])
    assert out == ["Thank you.\n\nHow often do you get a break?\nReply 1 Never, 2 Sometimes"]


def test_nothing_to_say_is_no_message() -> None:
    assert messages([]) == []
    assert messages([Reply(text="  ")]) == []


def test_gsm7_is_kept_when_the_content_allows() -> None:
    (text,) = messages([Reply(text="We\u2019re listening \u2014 thank you\u2026")])
    assert text == "We're listening - thank you..."
    assert info(text).encoding == "GSM-7"


def test_characters_xml_cannot_carry_are_dropped() -> None:
    assert sms_text([Reply(text="You said: a\x00b\x1bc\ufffe")]) == "You said: abc"


def test_long_text_is_split_at_sentences_into_labelled_parts() -> None:
    sentences = [f"Sentence number {n} is about carers and breaks." for n in range(60)]
    text = " ".join(sentences)
    assert info(text).segments > MAX_SEGMENTS
    out = messages([Reply(text=text)])
    assert len(out) > 1
    n = len(out)
    for i, part in enumerate(out, 1):
        assert part.startswith(f"({i}/{n}) ")
        assert part.endswith(".")  # cut at a sentence end
        assert info(part).segments <= MAX_SEGMENTS + 1
    body = " ".join(re.sub(r"^\(\d+/\d+\) ", "", p) for p in out)
    assert body == text


def test_long_gujarati_is_split_by_ucs2_room() -> None:
    sentence = "તમારા જવાબો સુરક્ષિત રહેશે. "
    out = messages([Reply(text=sentence * 40)])
    assert len(out) > 1
    assert all(info(p).encoding == "UCS-2" for p in out)
    assert all(info(p).segments <= MAX_SEGMENTS + 1 for p in out)


def test_mask_keeps_a_phone_number_out_of_logs() -> None:
    assert mask("+447700900123") == "+4477******23"
    assert mask("12345") == "*****"


@given(
    st.lists(
        st.text(
            alphabet=st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\t\n\r"),
            max_size=200,
        ),
        max_size=3,
    )
)
def test_twiml_text_is_what_messaging_response_writes(texts: list[str]) -> None:
    from twilio.twiml.messaging_response import MessagingResponse

    from adapters.twilio_common.webhook import twiml_text

    reference = MessagingResponse()
    for t in texts:
        reference.message(t)
    assert twiml_text(texts) == str(reference)
