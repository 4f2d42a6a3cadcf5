"""bot.voice: the language table (what a call can say and hear) and texts that read badly aloud."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from twilio.twiml.voice_response import VoiceResponse

from bot import voice
from bot.loader import load_flow_text, load_paths

# Polly voices by the language Twilio's text-to-speech list gives them (the [tts] source).
POLLY_LANGUAGE = {"Amy": "en-GB", "Ewa": "pl-PL", "Carmen": "ro-RO", "Gwyneth": "cy-GB"}
BCP47 = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?-[A-Z]{2}$")


@pytest.mark.parametrize("lang", sorted(voice.LANGUAGES))
def test_every_voice_matches_its_language(lang: str) -> None:
    entry = voice.LANGUAGES[lang]
    if entry.voice is None:
        assert entry.say is None
        assert entry.unverified, f"{lang}: say why there is no voice"
        return
    assert entry.say is not None
    provider, _, name = entry.voice.partition(".")
    if provider == "Google":
        # Google voices carry their locale: Google.gu-IN-Standard-A speaks gu-IN only.
        assert name.startswith(entry.say + "-"), (entry.voice, entry.say)
        assert re.fullmatch(r"[a-z]{2,3}-[A-Z]{2}-Standard-[A-Z]", name)  # standard voices only
    else:
        assert provider == "Polly"
        assert POLLY_LANGUAGE[name] == entry.say


@pytest.mark.parametrize("lang", sorted(voice.LANGUAGES))
def test_recognition_tags_are_bcp47_or_absent_with_a_reason(lang: str) -> None:
    entry = voice.LANGUAGES[lang]
    if entry.hear is None:
        assert entry.unverified, f"{lang}: say why there is no speech recognition"
    else:
        assert BCP47.match(entry.hear), entry.hear
        assert entry.hear.split("-")[0] == entry.hear.split("-")[0].lower()
    assert voice.hearing(lang) == entry.hear
    assert voice.can_hear(lang) is (entry.hear is not None)


def test_leicester_languages_are_all_in_the_table() -> None:
    for lang in ("en", "gu", "pa", "ur", "pl", "so", "bn"):
        assert lang in voice.LANGUAGES
    assert voice.can_speak("gu")
    assert voice.can_hear("gu")
    assert not voice.can_speak("ur")
    assert voice.can_hear("ur")
    assert voice.can_speak("cy")
    assert not voice.can_hear("cy")
    assert not voice.can_speak("so")
    assert not voice.can_hear("so")
    assert not voice.can_speak("xx")
    assert voice.hearing("xx") is None


def test_a_language_without_a_voice_is_said_in_english() -> None:
    assert voice.language("ur") is voice.FALLBACK
    assert voice.language("zz") is voice.FALLBACK
    assert voice.language("gu").voice == "Google.gu-IN-Standard-A"
    # And the pair is one Twilio accepts as TwiML attributes.
    r = VoiceResponse()
    r.say("Hello", voice=voice.FALLBACK.voice, language=voice.FALLBACK.say)
    assert 'voice="Polly.Amy"' in str(r)
    assert 'language="en-GB"' in str(r)


FLOW = """\
id: t
title: T
council: Some Council
contact: {phone: "0116 000 0000"}
intro: "Hello."
thanks: "Thanks."
languages: [en, ur, cy, fr]
questions:
  - id: q
    type: yesno
    text: {en: "Yes?", ur: "ہاں؟", cy: "Ie?", fr: "Oui?"}
"""


def test_validate_says_why_a_language_cannot_be_spoken_or_heard() -> None:
    result = load_flow_text(FLOW, "t.yaml")
    assert result.ok
    said = {
        p.message.split("]")[0].strip("["): p.message
        for p in result.problems
        if p.code == "voice_language"
    }
    assert set(said) == {"ur", "cy", "fr"}
    assert "cannot speak" in said["ur"]
    assert "no Urdu voice" in said["ur"]
    assert "no speech recognition" in said["cy"]
    assert "could not be verified" in said["cy"]
    assert "cannot speak" in said["fr"]
    assert "not among the languages checked" in said["fr"]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("See www.example.gov.uk for more", "a web address"),
        ("Email carers@leics.gov.uk", "an email address"),
        ("Great 👍", "emoji or symbols"),
        ("Or text SKIP to move on", "an instruction to text a word"),
    ],
)
def test_unspoken_names_what_reads_badly(text: str, found: str) -> None:
    problems = voice.unspoken(text)
    assert [p.message.startswith(found) for p in problems] == [True]
    assert text[problems[0].offset - 1 :].split()[0] in problems[0].message or found.startswith(
        "emoji"
    )


def test_plain_words_are_spoken_as_they_are() -> None:
    assert voice.unspoken("How many hours a week do you care?") == []
    assert voice.speakable("Thank you  👍 so much") == "Thank you so much"


def _survey(fid: str, key: int, opens: str, closes: str) -> str:
    return (
        f"id: {fid}\ntitle: {fid}\ncouncil: C\ncontact: {{phone: '0116 000 0000'}}\n"
        f"intro: Hello.\nthanks: Thanks.\nopens: {opens}\ncloses: {closes}\n"
        f"voice: {{key: {key}}}\nquestions:\n  - {{id: q, type: yesno, text: 'Yes?'}}\n"
    )


def test_validate_warns_of_two_surveys_with_one_phone_key(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(_survey("a-survey", 2, "2026-01-01", "2026-06-30"))
    (tmp_path / "b.yaml").write_text(_survey("b-survey", 2, "2026-06-01", "2026-12-31"))
    (tmp_path / "c.yaml").write_text(_survey("c-survey", 2, "2027-01-01", "2027-03-31"))
    results = {r.flow.id: r for r in load_paths([tmp_path]) if r.flow is not None}
    assert set(results) == {"a-survey", "b-survey", "c-survey"}  # a warning: all still load
    clash = [p for p in results["b-survey"].problems if p.code == "voice_key_clash"]
    assert len(clash) == 1
    assert "'a-survey' keeps it" in clash[0].message
    assert clash[0].severity == "warning"
    # a-survey keeps the key; c-survey opens after both have closed: no clash.
    assert not [p for p in results["a-survey"].problems if p.code == "voice_key_clash"]
    assert not [p for p in results["c-survey"].problems if p.code == "voice_key_clash"]
