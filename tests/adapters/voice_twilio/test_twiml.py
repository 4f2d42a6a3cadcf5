"""A call's TwiML stays well-formed XML whatever text it says."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from adapters.voice_twilio.call import Answer
from adapters.voice_twilio.speech import Expect, Said, Turn
from adapters.voice_twilio.twiml import twiml


def test_text_xml_cannot_carry_is_left_out_of_what_is_said() -> None:
    # A read-back or a piped answer quoting a control character someone typed by text (the
    # same person calling later) or that speech recognition returned.
    heard = Said("Did you say short\x0b breaks\x01?\ud800", "en")
    for answer in (
        Answer(Turn((heard,), (heard,), Expect("yesno")), {"t": "1"}, silence=heard, bye=heard),
        Answer(Turn((heard,)), None),
    ):
        root = ET.fromstring(twiml(answer, "https://surveys.example.gov.uk", "/voice/twilio"))
        said = [e.text for e in root.iter("Say")]
        assert said
        assert all(text == "Did you say short breaks?" for text in said)
