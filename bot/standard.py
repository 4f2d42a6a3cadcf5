"""Standard answer words: what people text for the answers every survey offers.

A choice *means* one of these concepts when its label says so in any of the flow's languages
("Prefer not to say", "Don't know", "Maybe", "Strongly agree" ... or their Gujarati), or when
the officer writes ``means: prefer_not`` on it. It then also answers to the concept's words
below, in the respondent's language and English, plus any the flow adds under
``answer_words:`` (per language and concept). Data only; ``bot.answers`` does the matching.

Why these and not more: each word here must mean the concept wherever it is the whole reply
or most of it. "no" is not "prefer not to say"; "pass" is (it is also the SKIP command when
sent alone on an optional question, which means the same thing: no answer given).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, Literal, get_args

from bot.words import normalise

Concept = Literal[
    "prefer_not",
    "dont_know",
    "maybe",
    "strongly_agree",
    "agree",
    "neither",
    "disagree",
    "strongly_disagree",
]
CONCEPTS: tuple[str, ...] = get_args(Concept)

AGREE_SCALE = ("strongly_disagree", "disagree", "neither", "agree", "strongly_agree")

# How a choice's label names a concept (normalised; any translation counts).
LABELS: dict[str, dict[str, tuple[str, ...]]] = {
    "prefer_not": {
        "en": (
            "prefer not to say",
            "prefer not to answer",
            "prefer not to disclose",
            "rather not say",
            "i would rather not say",
            "i prefer not to say",
            "not stated",
        ),
        "gu": ("કહેવું નથી", "કહેવા માંગતા નથી", "જણાવવા માંગતા નથી"),
    },
    "dont_know": {
        "en": ("dont know", "do not know", "i dont know", "not known", "unsure", "not sure"),
        "gu": ("ખબર નથી", "ખ્યાલ નથી"),
    },
    "maybe": {"en": ("maybe", "possibly", "perhaps"), "gu": ("કદાચ",)},
    "strongly_agree": {"en": ("strongly agree", "agree strongly"), "gu": ("ખૂબ સંમત",)},
    "agree": {"en": ("agree", "tend to agree", "somewhat agree"), "gu": ("સંમત",)},
    "neither": {
        "en": ("neither agree nor disagree", "neither agree or disagree", "neutral", "neither"),
        "gu": ("ન સંમત ન અસંમત", "તટસ્થ"),
    },
    "disagree": {"en": ("disagree", "tend to disagree", "somewhat disagree"), "gu": ("અસંમત",)},
    "strongly_disagree": {
        "en": ("strongly disagree", "disagree strongly"),
        "gu": ("ખૂબ અસંમત",),
    },
}

# What people send for each concept, per language (English applies in every language).
WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "prefer_not": {
        "en": (
            "prefer not to say",
            "prefer not",
            "prefer not say",
            "id prefer not to",
            "rather not",
            "rather not say",
            "id rather not",
            "id rather not say",
            "would rather not say",
            "pass",
            "private",
            "thats private",
            "its private",
            "personal",
            "thats personal",
            "confidential",
            "not telling",
            "im not telling",
            "not saying",
            "im not saying",
            "dont want to say",
            "dont wish to say",
            "do not wish to say",
            "i dont want to say",
            "i dont wish to say",
            "no comment",
            "decline to say",
            "decline to answer",
            "none of your business",
            "mind your own business",
            "not your business",
            "withheld",
            "not disclosed",
            "wont say",
            "i wont say",
            "dont want to answer",
            "prefer not to answer",
            "rather not answer",
        ),
        "gu": ("કહેવું નથી", "નથી કહેવું", "kahevu nathi", "nathi kahevu", "કહેવા નથી માંગતા"),
    },
    "dont_know": {
        "en": (
            "dont know",
            "do not know",
            "i dont know",
            "i do not know",
            "dunno",
            "dno",
            "idk",
            "no idea",
            "not sure",
            "im not sure",
            "unsure",
            "cant say",
            "couldnt say",
            "no clue",
            "havent a clue",
            "not a clue",
        ),
        "gu": ("ખબર નથી", "મને ખબર નથી", "khabar nathi", "khbr nathi", "khabar nai"),
    },
    "maybe": {
        "en": (
            "maybe",
            "mayb",
            "maybes",
            "possibly",
            "perhaps",
            "might",
            "might do",
            "i might",
            "i might do",
            "might be",
            "could do",
            "i could",
            "potentially",
            "not sure",
            "im not sure",
            "unsure",
            "depends",
            "it depends",
            "depending",
            "we will see",
            "well see",
            "possibly yes",
            "sometimes",
            "if i have time",
            "if i had time",
            "time permitting",
            "in the future",
            "one day",
        ),
        "gu": ("કદાચ", "kadach", "kadaach"),
    },
    "strongly_agree": {
        "en": (
            "strongly agree",
            "agree strongly",
            "definitely",
            "definitely agree",
            "defo",
            "deffo",
            "def",
            "absolutely",
            "absolutely agree",
            "totally",
            "totally agree",
            "completely",
            "completely agree",
            "fully agree",
            "entirely agree",
            "wholeheartedly",
            "agree completely",
            "agree totally",
            "agree 100",
            "100",
            "100 percent",
            "very much",
            "very much so",
            "very much agree",
            "couldnt agree more",
            "could not agree more",
            "yes definitely",
            "yes absolutely",
            "yes totally",
            "yes 100",
            "so true",
            "hell yes",
            "of course",
            "certainly",
            "yes yes",
        ),
        "gu": ("ખૂબ સંમત", "પૂરેપૂરા સંમત", "ચોક્કસ", "chokkas", "khub sahmat", "khub sammat"),
    },
    "agree": {
        "en": (
            "agree",
            "i agree",
            "agreed",
            "i do",
            "yes",
            "yeah",
            "yep",
            "yup",
            "yh",
            "ye",
            "ya",
            "y",
            "aye",
            "ok",
            "okay",
            "sure",
            "true",
            "right",
            "correct",
            "i think so",
            "mostly",
            "mostly agree",
            "generally agree",
            "tend to agree",
            "sort of agree",
            "kind of agree",
            "somewhat agree",
            "on the whole",
            "yes i agree",
            "yes agree",
            "good idea",
            "sounds good",
            "fair enough",
        ),
        "gu": ("સંમત", "હા", "sahmat", "sammat", "ha", "haa", "haan"),
    },
    "neither": {
        "en": (
            "neither",
            "neither agree nor disagree",
            "neutral",
            "not sure",
            "im not sure",
            "unsure",
            "no opinion",
            "no view",
            "no views",
            "no strong feelings",
            "no strong view",
            "no strong opinion",
            "dont mind",
            "dont care",
            "indifferent",
            "undecided",
            "on the fence",
            "in the middle",
            "middle",
            "somewhere in between",
            "in between",
            "50 50",
            "half and half",
            "meh",
            "either way",
            "not bothered",
            "its ok",
            "so so",
            "mixed feelings",
            "neither really",
            "hard to say",
            "cant decide",
            "cant say",
        ),
        "gu": ("ન સંમત ન અસંમત", "તટસ્થ", "ખબર નથી", "khabar nathi"),
    },
    "disagree": {
        "en": (
            "disagree",
            "i disagree",
            "dont agree",
            "do not agree",
            "i dont agree",
            "i do not agree",
            "not agree",
            "no",
            "nope",
            "nah",
            "no i dont",
            "not really",
            "dont think so",
            "i dont think so",
            "mostly disagree",
            "tend to disagree",
            "somewhat disagree",
            "sort of disagree",
        ),
        "gu": ("અસંમત", "ના", "asahmat", "asammat", "na", "naa"),
    },
    "strongly_disagree": {
        "en": (
            "strongly disagree",
            "disagree strongly",
            "totally disagree",
            "completely disagree",
            "absolutely not",
            "definitely not",
            "certainly not",
            "not at all",
            "no way",
            "dont agree at all",
            "do not agree at all",
            "i dont agree at all",
            "i do not agree at all",
            "not agree at all",
            "strongly dont agree",
            "very much disagree",
            "hell no",
            "never",
            "rubbish",
            "no no",
        ),
        "gu": ("ખૂબ અસંમત", "બિલકુલ નહીં", "bilkul nahi", "khub asahmat"),
    },
}


def concept_of_label(labels: Iterable[str]) -> str | None:
    """The concept a choice's label (any of its translations) names, or None."""
    folded = {normalise(t) for t in labels}
    for concept, per_lang in LABELS.items():
        for words in per_lang.values():
            if any(normalise(w) in folded for w in words):
                return concept
    return None


@lru_cache(maxsize=512)
def _words(concept: str, langs: tuple[str, ...], extra: tuple[str, ...]) -> tuple[str, ...]:
    out: dict[str, None] = {}
    table = WORDS.get(concept, {})
    for lang in (*langs, "en"):
        for w in table.get(lang, ()):
            out[normalise(w)] = None
    for w in extra:
        if normalise(w):
            out[normalise(w)] = None
    return tuple(out)


def words_for(
    concept: str, langs: Iterable[str], extra: Mapping[str, Mapping[Any, Iterable[str]]] | None
) -> tuple[str, ...]:
    """The words for ``concept`` in ``langs`` (and English), plus a flow's own (``extra``:
    language -> concept -> words), normalised."""
    langs = tuple(langs)
    more: list[str] = []
    if extra:
        for lang in (*langs, "en"):
            more.extend(extra.get(lang, {}).get(concept, ()))
    return _words(concept, langs, tuple(more))
