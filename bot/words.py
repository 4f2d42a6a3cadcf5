"""Built-in words people text: yes/no, commands, "all"/"none", English numbers.

Data, plus :func:`normalise` and :func:`words_for`, which live here so that the lists and the
respondent's text are always folded the same way (``bot.answers`` re-exports ``normalise``).

Languages: ``en`` and best effort for Leicester's community languages (``gu`` Gujarati, ``pa``
Punjabi, ``pl`` Polish, ``ur`` Urdu, ``so`` Somali, ``bn`` Bengali), in native script and the
romanisations people type on phones without a native keyboard. Every language also gets the
English words (many carers mix both). Commands stay mostly English: only native words we are sure
of are listed, and officers add more per flow (``commands:`` in the flow file).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import lru_cache

_APOSTROPHES = frozenset("'’‘`´ʹ")
# Most SMS are plain ASCII: fold those with one table lookup instead of a per-character walk.
_ASCII_FOLD: dict[int, str | None] = {c: " " for c in range(128) if not chr(c).isalnum()}
_ASCII_FOLD.update({ord("'"): None, ord("`"): None})


def normalise(text: str) -> str:
    """Fold text for matching: NFKC, casefold, accents off Latin letters (``pomiń`` -> ``pomin``,
    as typed on an English keyboard), any script's digits as ASCII, apostrophes dropped
    (``don't`` -> ``dont``), every other non-letter/digit/mark (punctuation, emoji, symbols,
    control characters) a space, spaces collapsed.

    Other scripts keep their combining marks: Gujarati, Bengali and Gurmukhi vowel signs are
    marks, and dropping them would change the word.
    """
    if text.isascii():
        return " ".join(text.lower().translate(_ASCII_FOLD).split())
    folded = unicodedata.normalize("NFKC", text).casefold()
    out: list[str] = []
    latin = False  # whether the last letter was Latin, so a following accent can go
    for ch in unicodedata.normalize("NFD", folded):
        cat = unicodedata.category(ch)
        if cat == "Nd":
            out.append(str(unicodedata.decimal(ch, 0)))
            latin = False
        elif cat[0] == "M":
            if not latin:
                out.append(ch)
        elif cat[0] in "LN":
            out.append(ch)
            latin = ch < "\u0250" or "\u1e00" <= ch <= "\u1eff"
        elif ch in _APOSTROPHES or cat == "Cf":
            # Zero-width joiners shape Indic and Arabic script but carry no meaning for matching.
            continue
        else:
            out.append(" ")
            latin = False
    return " ".join(unicodedata.normalize("NFKC", "".join(out)).split())


def _fs(*words: str) -> frozenset[str]:
    return frozenset(words)


# --- yes and no --------------------------------------------------------------------------------

YES: dict[str, frozenset[str]] = {
    "en": _fs(
        "y",
        "yes",
        "yeah",
        "yea",
        "yeh",
        "ye",
        "ya",
        "yah",
        "yep",
        "yup",
        "yeap",
        "yas",
        "yh",
        "ok",
        "okay",
        "okey",
        "oki",
        "k",
        "kk",
        "sure",
        "sure thing",
        "aye",
        "correct",
        "agree",
        "agreed",
        "i agree",
        "i do",
        "i am",
        "i will",
        "i consent",
        "consent",
        "i accept",
        "accept",
        "yes please",
        "yes thanks",
        "yes thank you",
        "yes i do",
        "yes i am",
        "yes i agree",
        "yeah sure",
        "ok then",
        "okay then",
        "of course",
        "ofc",
        "course",
        "definitely",
        "defo",
        "deffo",
        "absolutely",
        "certainly",
        "alright",
        "all right",
        "fine",
        "right",
        "thats right",
        "that is right",
        "thats correct",
        "that is correct",
        "true",
        "affirmative",
        "indeed",
        "go ahead",
        "go on",
        "please do",
        "happy to",
        "no problem",
        "no worries",
        "why not",
        "sounds good",
        "confirm",
        "confirmed",
    ),
    "gu": _fs(
        "હા",
        "હાં",
        "હા જી",
        "જી",
        "જી હા",
        "બરાબર",
        "ha",
        "haa",
        "haan",
        "han",
        "hanji",
        "haji",
        "ji",
        "ji ha",
        "barabar",
    ),
    "pa": _fs(
        "ਹਾਂ",
        "ਹਾਂ ਜੀ",
        "ਜੀ",
        "ਜੀ ਹਾਂ",
        "ਠੀਕ ਹੈ",
        "ہاں",
        "جی",
        "جی ہاں",
        "haan",
        "han",
        "haa",
        "ha",
        "ji",
        "haanji",
        "hanji",
        "ji haan",
        "theek hai",
        "thik hai",
    ),
    "pl": _fs(
        "tak",
        "tak jest",
        "tak tak",
        "no tak",
        "jasne",
        "pewnie",
        "oczywiście",
        "oczywiscie",
        "zgadzam się",
        "zgadzam sie",
        "zgoda",
        "dobrze",
        "okej",
    ),
    "ur": _fs(
        "ہاں",
        "جی",
        "جی ہاں",
        "ہاں جی",
        "ٹھیک ہے",
        "haan",
        "han",
        "haa",
        "ha",
        "ji",
        "jee",
        "ji haan",
        "haan ji",
        "theek hai",
        "thik hai",
    ),
    "so": _fs("haa", "haye", "waan ogolahay"),
    "bn": _fs(
        "হ্যাঁ",
        "হাঁ",
        "হ্যা",
        "জি",
        "জি হ্যাঁ",
        "ঠিক আছে",
        "ha",
        "haa",
        "hya",
        "hyan",
        "ji",
        "thik ache",
        "thik ase",
    ),
}

NO: dict[str, frozenset[str]] = {
    "en": _fs(
        "n",
        "no",
        "nope",
        "nah",
        "naw",
        "nay",
        "not really",
        "no thanks",
        "no thank you",
        "no thx",
        "no ta",
        "nah thanks",
        "never",
        "negative",
        "no way",
        "not at all",
        "certainly not",
        "definitely not",
        "absolutely not",
        "not now",
        "i dont",
        "i do not",
        "dont",
        "do not",
        "no i dont",
        "no i do not",
        "i disagree",
        "disagree",
        "i dont agree",
        "i do not agree",
        "i dont consent",
        "i do not consent",
        "wrong",
        "incorrect",
        "false",
        "decline",
        "i decline",
        "rather not",
        "id rather not",
        "not me",
    ),
    "gu": _fs("ના", "નહીં", "નહિ", "ના જી", "નથી", "na", "naa", "nahi", "nai", "nathi"),
    "pa": _fs(
        "ਨਹੀਂ",
        "ਨਾ",
        "ਜੀ ਨਹੀਂ",
        "نہیں",
        "نا",
        "nahi",
        "nahin",
        "nai",
        "na",
        "naa",
        "ji nahi",
        "ji nahin",
    ),
    "pl": _fs(
        "nie",
        "nie dziękuję",
        "nie dziekuje",
        "nie zgadzam się",
        "nie zgadzam sie",
        "raczej nie",
        "absolutnie nie",
        "wcale nie",
        "nigdy",
        "nie teraz",
    ),
    "ur": _fs(
        "نہیں",
        "نا",
        "جی نہیں",
        "نہیں جی",
        "nahi",
        "nahin",
        "nai",
        "na",
        "naa",
        "ji nahi",
        "ji nahin",
        "nahi ji",
    ),
    "so": _fs("maya", "mayo"),
    "bn": _fs("না", "নাহ", "জি না", "na", "naa"),
}

UNSURE: dict[str, frozenset[str]] = {
    # Neither yes nor no. Listed so that "dont know" is not read as "dont" (no), nor "no idea"
    # as "no", nor "not sure" as "sure".
    "en": _fs(
        "dont know",
        "i dont know",
        "do not know",
        "i do not know",
        "not sure",
        "im not sure",
        "unsure",
        "maybe",
        "perhaps",
        "possibly",
        "dunno",
        "idk",
        "no idea",
        "not certain",
        "depends",
        "it depends",
    ),
}

# Emoji answers, matched on the raw text (normalise drops symbols); variation selectors and
# skin tones are ignored.
YES_EMOJI = frozenset({"👍", "✅", "✔", "☑", "👌", "🆗"})
NO_EMOJI = frozenset({"👎", "❌", "✖", "🚫", "⛔", "🙅"})

# --- commands ----------------------------------------------------------------------------------

COMMANDS: dict[str, dict[str, frozenset[str]]] = {
    # Twilio's own opt-out words, so our state agrees with the carrier's block list.
    "stop": {
        "en": _fs(
            "stop",
            "stopall",
            "stop all",
            "unsubscribe",
            "cancel",
            "end",
            "quit",
            "opt out",
            "optout",
            "revoke",
            "stop please",
            "please stop",
        ),
        "pl": _fs("stop", "koniec"),
    },
    "start": {"en": _fs("start", "unstop", "join", "resume")},
    "help": {
        "en": _fs("help", "info", "?", "help me", "help please"),
        "gu": _fs("મદદ", "madad"),
        "pa": _fs("ਮਦਦ", "madad"),
        "pl": _fs("pomoc", "pomocy"),
        "ur": _fs("مدد", "madad"),
        "bn": _fs("সাহায্য"),
    },
    "back": {
        "en": _fs(
            "back",
            "previous",
            "prev",
            "go back",
            "back please",
            "undo",
            "previous question",
            "last question",
        ),
        "pl": _fs("wstecz", "cofnij"),
    },
    # Only words that cannot be a real answer: not "next", "don't know" or "prefer not to say"
    # (an equality question's own choice).
    "skip": {
        "en": _fs("skip", "pass", "skip it", "skip this", "skip question", "skip this question"),
        "pl": _fs("pomiń", "pomin"),
    },
    "restart": {
        "en": _fs("restart", "start again", "start over", "begin again", "from the start", "reset"),
        "pl": _fs("od nowa", "zacznij od nowa"),
    },
    "language": {
        "en": _fs("language", "lang", "languages", "langauge", "change language"),
        "gu": _fs("ભાષા", "bhasha"),
        "pa": _fs("ਭਾਸ਼ਾ", "bhasha", "boli"),
        "pl": _fs("język", "jezyk"),
        "ur": _fs("زبان", "zaban", "zuban", "zubaan"),
        "so": _fs("luuqad", "luqad"),
        "bn": _fs("ভাষা", "bhasha"),
    },
    # Mostly for phone calls (key 0 says it too); a whole message only, so no real answer.
    "repeat": {
        "en": _fs(
            "repeat",
            "repeat that",
            "repeat please",
            "please repeat",
            "repeat the question",
            "say again",
            "say that again",
            "pardon",
        ),
        "pl": _fs("powtórz", "powtorz"),
    },
    "progress": {
        "en": _fs(
            "progress",
            "where am i",
            "how many left",
            "how many more",
            "how much left",
            "how long left",
            "how far",
            "status",
        ),
    },
}

# --- multi-choice shortcuts --------------------------------------------------------------------

ALL: dict[str, frozenset[str]] = {
    "en": _fs(
        "all",
        "all of them",
        "all of these",
        "all of the above",
        "all the above",
        "everything",
        "the lot",
        "all options",
        "all of it",
    ),
    "pl": _fs("wszystko", "wszystkie"),
}

NONE: dict[str, frozenset[str]] = {
    "en": _fs(
        "none",
        "nothing",
        "none of these",
        "none of them",
        "none of the above",
        "neither",
        "nil",
        "nowt",
        "not any",
    ),
    "pl": _fs("nic", "żadne", "zadne", "żaden", "zaden"),
}

KINDS: dict[str, dict[str, frozenset[str]]] = {
    "yes": YES,
    "no": NO,
    "unsure": UNSURE,
    "all": ALL,
    "none": NONE,
    **COMMANDS,
}

# --- English numbers ---------------------------------------------------------------------------

UNITS: dict[str, int] = {
    "zero": 0,
    "nought": 0,
    "nil": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
TEENS: dict[str, int] = {
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
TENS: dict[str, int] = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
SCALES: dict[str, int] = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
ORDINALS: dict[str, int] = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
    "sixth": 6,
    "6th": 6,
    "seventh": 7,
    "7th": 7,
    "eighth": 8,
    "8th": 8,
    "ninth": 9,
    "9th": 9,
    "tenth": 10,
    "10th": 10,
    "last": -1,
}
MONTHS: dict[str, int] = {
    "january": 1,
    "jan": 1,
    "february": 2,
    "feb": 2,
    "march": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "may": 5,
    "june": 6,
    "jun": 6,
    "july": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sept": 9,
    "sep": 9,
    "october": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
}
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def words_for(kind: str, lang: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The ``kind`` words (``"yes"``, ``"no"``, ``"all"``, ``"none"``, ``"unsure"`` or a command
    name) for ``lang``, plus English, plus ``extra`` (e.g. a flow's own words), all normalised.

    A word that is only symbols (``"?"``) would normalise to nothing; it is kept as written, so
    compare the stripped raw text as well (``bot.answers.is_one_of`` does both).
    """
    return _words_for(kind, lang, tuple(extra))


@lru_cache(maxsize=256)  # asked for on every message; the lists never change
def _words_for(kind: str, lang: str, extra: tuple[str, ...]) -> frozenset[str]:
    table = KINDS.get(kind, {})
    out: set[str] = set()
    for word in (*table.get(lang, ()), *table.get("en", ()), *extra):
        folded = normalise(word)
        if folded:
            out.add(folded)
        elif word.strip():
            out.add(word.strip())
    return frozenset(out)
