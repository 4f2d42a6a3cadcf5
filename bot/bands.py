"""Banded choices read from numbers: "abt 40 hrs" is "35 to 49 hours", "I'm 72" is "65 to 74".

Each choice's range comes from its label ("10 to 19 hours", "75 or over", "9 hours or fewer",
"Less than 1 year", "A child under 18") or from ``range: [10, 19]`` in the flow file. A reply's
number is read with its units and qualifiers ("2 hrs a day" is 14 a week, "6 months" is half a
year, "since 2010" counts from today, "born 1960" is an age, "more than 50", "5-9") into the
interval of values it can mean; a choice is picked only when that whole interval lies in one
band. Pure: ``today`` is an argument.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from itertools import pairwise
from typing import Literal

from bot import words as W
from bot.words import normalise

__all__ = [
    "Band",
    "Reading",
    "band_of_label",
    "band_of_range",
    "read_quantity",
    "unit_of",
    "unit_words_of_labels",
]

Unit = Literal["hours", "years", "months"] | None


@dataclass(frozen=True)
class Band:
    """Values ``low <= v < high``."""

    low: float
    high: float

    def contains(self, lo: float, hi: float) -> bool:
        """Whether every value from ``lo`` to ``hi`` (inclusive) is in the band."""
        return self.low <= lo and (hi < self.high or hi == self.high == math.inf)


@dataclass(frozen=True)
class Reading:
    """What a reply's number can mean: every value from ``lo`` to ``hi``, and whether the reply
    said what it counts (a unit, "I'm", "since", "about"...) rather than being a bare number."""

    lo: float
    hi: float
    explicit: bool
    bare: int | None = None  # the number itself, when the reply is just a whole number
    # A word we do not know right after the number ("6 munths", "8 ghanta"): it may be a unit
    # that changes the quantity, so the reading must not be stored.
    unknown_unit: bool = False


_NUM = r"(\d+(?:\.\d+)?)"
_UNIT_WORDS: dict[str, Unit] = {
    **dict.fromkeys(("hour", "hours", "hrs", "hr", "h", "hourz", "hous", "hrz"), "hours"),
    **dict.fromkeys(
        ("year", "years", "yrs", "yr", "y", "yo", "yeats", "yesrs", "years old"), "years"
    ),
    **dict.fromkeys(("month", "months", "mths", "mnths", "mos", "mo", "mnth", "mth"), "months"),
    **dict.fromkeys(("decade", "decades"), "years"),
}

# Units and rates in Leicester's community languages, in their script and as typed in Latin
# letters, read as the English words before the number is read: "6 મહિના" is half a year, not
# six years; "રોજ 8 કલાક" (8 hours every day) is 56 hours a week. Gujarati joins some case
# endings to the word ("વર્ષથી", for/since years), so those forms are listed too.
_FOREIGN_UNITS: dict[str, tuple[str, ...]] = {
    "hours": (
        "કલાક",
        "કલાકો",
        "કલાકે",
        "kalak",
        "kalaak",
        "kalako",
        "klak",
        "ਘੰਟੇ",
        "ਘੰਟਾ",
        "گھنٹے",
        "گھنٹہ",
        "ghante",
        "ghanta",
        "ghantay",
        "ghantey",
        "godzin",
        "godziny",
        "godzina",
        "godz",
        "saacadood",
        "saac",
        "ঘণ্টা",
        "ghonta",
    ),
    "years": (
        "વર્ષ",
        "વરસ",
        "વર્ષો",
        "વર્ષથી",
        "વર્ષનો",
        "વર્ષની",
        "વર્ષનું",
        "વર્ષના",
        "varsh",
        "varas",
        "varsa",
        "varash",
        "varsho",
        "varasthi",
        "varshthi",
        "ਸਾਲ",
        "ਸਾਲਾਂ",
        "سال",
        "saal",
        "sal",
        "saalon",
        "lat",
        "lata",
        "rok",
        "roku",
        "sano",
        "sanno",
        "বছর",
        "bochor",
        "bochhor",
    ),
    "months": (
        "મહિના",
        "મહિનો",
        "મહિનાથી",
        "મહિને",
        "mahina",
        "mahino",
        "mahine",
        "mahinathi",
        "ਮਹੀਨੇ",
        "ਮਹੀਨਾ",
        "مہینے",
        "مہینہ",
        "maheene",
        "mahiney",
        "miesiecy",
        "miesiace",
        "miesiac",
        "bilood",
        "মাস",
        "mash",
    ),
    "weeks": (
        "અઠવાડિયા",
        "અઠવાડિયું",
        "athvadiya",
        "athvadiyu",
        "ਹਫ਼ਤੇ",
        "ہفتے",
        "hafte",
        "tygodni",
        "tydzien",
        "toddobaad",
        "সপ্তাহ",
    ),
    "days": ("દિવસ", "દિવસો", "divas", "ਦਿਨ", "دن", "dni", "dzien", "maalmood", "দিন"),
    "a day": (
        "રોજ",
        "દરરોજ",
        "રોજના",
        "રોજનું",
        "દિવસે",
        "દિવસમાં",
        "roj",
        "rojna",
        "darroj",
        "divase",
        "ਰੋਜ਼",
        "ਰੋਜ਼ਾਨਾ",
        "روز",
        "روزانہ",
        "roz",
        "rozana",
        "roza",
        "dziennie",
        "codziennie",
        "maalin",
        "প্রতিদিন",
    ),
    "a week": ("અઠવાડિયે", "અઠવાડિયામાં", "athvadiye", "ہفتہ وار", "tygodniowo", "toddobaadkii"),
}
_WORDS_OF: dict[str, tuple[str, ...]] = {
    u: tuple(w for w, wu in _UNIT_WORDS.items() if wu == u and len(w) > 1)
    for u in ("hours", "years", "months")
}
_FOREIGN: dict[str, str] = {
    normalise(w): english for english, ws in _FOREIGN_UNITS.items() for w in ws if " " not in w
}


# Words that may follow a number without changing what it counts ("40 or so", "58 next month",
# "30 odd hours"). Any other word there may be a unit we do not know: see Reading.unknown_unit.
def _words(text: str) -> list[str]:
    return text.split()


_AFTER_OK = frozenset(
    [
        *_UNIT_WORDS,
        *_words("and or to a an of the per each every at least most max min mins minutes minute"),
        *_words("week weeks wk wks day days daily weekly monthly night nights nite pw pd p w old"),
        *_words("ish so plus now next this last in on ago already since by about roughly"),
        *_words("approx maybe probably i im am is are its it thanks thank you please pls x xx"),
        *_words("ok but sometimes more less fewer over under above below nearly almost half"),
        *_words("or so give take yes yeah y o yo yrs hrs hr h soon nearly on off until till when"),
        *_words("my me he she they we hes shes theyre his her their with"),
        # "is"/"am" in Gujarati, Hindi/Urdu and Punjabi follow the number: "મારી ઉંમર 45 છે".
        *_words("છે છું છીએ che chhe chu chhu hai hain hoon hun ہے ہوں ਹੈ ਹਾਂ jest mam"),
    ]
)


def unit_of(text: str) -> Unit:
    """The unit a label or question speaks of, if any."""
    toks = normalise(text).split()
    for t in toks:
        u = _UNIT_WORDS.get(t)
        if u is not None:
            return u
    if any(t in ("old", "age", "aged") for t in toks):
        return "years"
    return None


_LABEL_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"\b(?:less than|under|fewer than|below|up to|younger than) {_NUM}\b"), "below"),
    (re.compile(rf"\b{_NUM} (?:\w+ )?(?:or fewer|or less|or under|and under|or below)\b"), "upto"),
    (
        re.compile(rf"\b{_NUM} ?(?:\w+ )?(?:or more|or over|and over|or above|plus|or older)\b"),
        "from",
    ),
    (re.compile(rf"\b{_NUM} ?\+"), "from"),
    (re.compile(rf"\b(?:more than|over|above|older than) {_NUM}\b"), "above"),
    (re.compile(rf"\b{_NUM} ?(?:\w+ )?(?:-|–|to|થી) ?{_NUM}\b"), "between"),
    # Gujarati: "9 કલાક કે ઓછા" (or fewer), "50 કલાક કે વધુ" (or more), "1 વર્ષથી ઓછું".
    (re.compile(rf"\b{_NUM} ?\S* ?કે ઓછા"), "upto"),
    (re.compile(rf"\b{_NUM} ?\S* ?કે વધુ"), "from"),
    (re.compile(rf"\b{_NUM} ?\S*થી ઓછું"), "below"),
]


def band_of_label(label: str) -> Band | None:
    """The range a label states, or None ("Prefer not to say")."""
    text = " ".join(label.casefold().replace(",", "").split())
    for pattern, kind in _LABEL_PATTERNS:
        m = pattern.search(text)
        if m is None:
            continue
        a = float(m.group(1))
        if kind == "below":
            return Band(-math.inf, a)
        if kind == "upto":
            return Band(-math.inf, a + 1)
        if kind == "from":
            return Band(a, math.inf)
        if kind == "above":
            return Band(math.nextafter(a + 1, -math.inf) if a.is_integer() else a, math.inf)
        b = float(m.group(2))
        if b < a:
            return None
        return Band(a, b + 1)  # whole-number bands: "10 to 19" covers 19.5 too
    return None


def band_of_range(low: float | None, high: float | None) -> Band:
    """An officer's ``range: [low, high]`` (whole numbers, both included; null for open)."""
    return Band(-math.inf if low is None else low, math.inf if high is None else high + 1)


# --- reading a reply ---------------------------------------------------------------------------

_ALL_THE_TIME = (
    "24 7",
    "24 hours a day",
    "24hrs a day",
    "all day every day",
    "all day and night",
    "day and night",
    "night and day",
    "round the clock",
    "around the clock",
    "all the time",
    "constantly",
    "every hour",
    "every waking hour",
    "all day all night",
    "24 hours",
)
_JUST_STARTED = (
    "just started",
    "only just started",
    "just begun",
    "only just",
    "recently started",
    "a few weeks",
    "few weeks",
    "a couple of weeks",
    "a few months",
    "few months",
    "a couple of months",
    "couple of months",
    "not long",
    "not very long",
    "weeks",
)
_ABOUT = frozenset(
    [
        "about",
        "abt",
        "around",
        "approx",
        "approximately",
        "roughly",
        "circa",
        "maybe",
        "probably",
        "say",
        "like",
        "prob",
        "guess",
        "estimate",
        "est",
    ]
)
_OVER = ("more than", "over", "above", "at least", "upwards of", "in excess of", "plus", "over a")
_UNDER = ("less than", "under", "below", "fewer than", "not even", "not quite")
_UPTO = ("up to", "upto", "no more than", "not more than", "max", "maximum", "at most")
_NEARLY = ("nearly", "almost", "just under", "close to", "nearly on", "getting on for")
_PER_DAY = ("a day", "per day", "daily", "every day", "each day", "a night", "a nite", "pd")
_PER_WEEK = ("a week", "per week", "pw", "p w", "weekly", "a wk", "per wk", "each week", "wk")
_PER_MONTH = ("a month", "per month", "monthly", "each month")
_DAYS_A_WEEK = re.compile(r"(\d+) days? (?:a|per|each) (?:week|wk)")
_CONTEXT = frozenset(
    [
        "im",
        "i",
        "am",
        "aged",
        "age",
        "old",
        "since",
        "born",
        "dob",
        "been",
        "for",
        "years",
        "year",
        "yrs",
        "hours",
        "hrs",
        "hr",
        "months",
        "weeks",
    ]
)
_WORD_NUMBERS: dict[str, float] = {
    **{k: float(v) for k, v in W.UNITS.items() if k not in ("nil",)},
    **{k: float(v) for k, v in W.TEENS.items()},
}


def _numbers_in(text: str) -> str:
    """Number words to digits ("forty two" -> "42", "a year and a half" -> "1.5 year")."""
    toks = text.split()
    out: list[str] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if t in W.TENS:
            value = W.TENS[t]
            if i + 1 < len(toks) and toks[i + 1] in W.UNITS and W.UNITS[toks[i + 1]] > 0:
                value += W.UNITS[toks[i + 1]]
                i += 1
            out.append(str(value))
        elif t in _WORD_NUMBERS:
            out.append(str(int(_WORD_NUMBERS[t])))
        elif t in ("a", "an", "one") and i + 1 < len(toks) and toks[i + 1] in _UNIT_WORDS:
            out.append("1")
        elif t == "couple" or (t == "a" and toks[i + 1 : i + 2] == ["couple"]):
            out.append("2")
            i += 1 if t == "a" else 0
            if i + 1 < len(toks) and toks[i + 1] == "of":
                i += 1
        elif t == "half" and i + 1 < len(toks) and toks[i + 1] in ("a", "an"):
            out.append("0.5")
            i += 1
        else:
            out.append(t)
        i += 1
    joined = " ".join(out)
    # "1 year and a half", "1 and a half years" -> 1.5
    joined = re.sub(
        r"\b(\d+) (\w+ )?and a half\b", lambda m: f"{int(m.group(1))}.5 {m.group(2) or ''}", joined
    )
    return " ".join(joined.split())


def _has(text: str, phrases: Sequence[str]) -> bool:
    return _any_of(tuple(phrases)).search(text) is not None


@lru_cache(maxsize=256)
def _any_of(phrases: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for any of ``phrases`` as whole words (built once per list)."""
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, phrases)) + r")(?!\w)")


def _english_units(text: str) -> str:
    """Units and rates of other languages as their English words ("6 મહિના" -> "6 months")."""
    if text.isascii() and not any(w in _FOREIGN for w in text.casefold().split()):
        return text
    out = []
    for word in unicodedata.normalize("NFKC", text).split():
        digits = "".join(
            str(unicodedata.decimal(c, 0)) if unicodedata.category(c) == "Nd" else c for c in word
        )
        m = re.fullmatch(r"(\d*)(.*?)([.,!?]*)", digits)
        lead, body, tail = (m.group(1), m.group(2), m.group(3)) if m else ("", digits, "")
        english = _FOREIGN.get(normalise(body))
        out.append(f"{lead} {english}{tail}" if english else digits)
    return " ".join(out)


def read_quantity(
    text: str, unit: Unit, today: date | None, known: frozenset[str] = frozenset()
) -> Reading | None:
    """The values a reply's number can mean, in ``unit`` (hours a week for hours; years for
    years and ages), or None when it gives no single quantity. ``known`` are more words that
    may follow a number (the units a question's own labels use, in any of its languages)."""
    if len(text) > 300:
        return None
    text = _english_units(text)
    unknown_unit = _unknown_after_number(text, known)
    raw = text.casefold().replace("½", " and a half")
    raw = re.sub(r"(\d),(\d{3})\b", r"\1\2", raw)
    raw = re.sub(r"(\d)\s*(?:-|–|—|/)\s*(\d)", r"\1 - \2", raw)  # "5-9", "24/7"
    raw = re.sub(r"(\d)([a-z])", r"\1 \2", raw)  # "40hrs"
    raw = re.sub(r"([<>~+])", r" \1 ", raw)
    norm = " ".join(re.sub(r"[^\w.+<>~\- ]", " ", raw).replace("'", "").split())
    norm = norm.replace(" - ", " to ").replace("24 to 7", "24 7")
    text_n = _numbers_in(norm)
    if unit == "hours" and _has(text_n, _ALL_THE_TIME):
        return Reading(168, 168, True)
    if unit == "years" and _has(text_n, _JUST_STARTED) and not re.search(r"\d", text_n):
        return Reading(0, 0.5, True)

    nums = [(m.start(), m.end(), float(m.group(0))) for m in re.finditer(r"\d+(?:\.\d+)?", text_n)]
    if not nums:
        return None
    tokens = set(text_n.split())
    explicit = bool(tokens & (_CONTEXT | _ABOUT)) or any(
        _has(text_n, p) for p in (_OVER, _UNDER, _UPTO, _NEARLY)
    )

    # Years given as a calendar year: "since 2010", "born in 1960".
    if today is not None and unit == "years":
        years = [v for _, _, v in nums if v.is_integer() and 1900 <= v <= today.year]
        if len(years) == 1 and len(nums) == 1:
            y = int(years[0])
            span = today.year - y
            return Reading(max(span - 1, 0), span, True)

    # Days a week times hours a day: "2 hrs a day 5 days a week".
    days = _DAYS_A_WEEK.search(text_n)
    per_week = 1.0
    if days is not None and unit == "hours":
        per_week = min(float(days.group(1)), 7.0)
        text_n = (text_n[: days.start()] + text_n[days.end() :]).strip()
        nums = [
            (m.start(), m.end(), float(m.group(0))) for m in re.finditer(r"\d+(?:\.\d+)?", text_n)
        ]
    elif unit == "hours" and _has(text_n, _PER_DAY):
        per_week = 7.0
    elif unit == "hours" and _has(text_n, _PER_MONTH):
        per_week = 1 / 4.345
    if not nums:
        return None

    scale = 1.0
    if unit == "years":
        if _has(text_n, ("months", "month", "mths", "mnths", "mos", "mth", "mnth")):
            scale = 1 / 12
        elif _has(text_n, ("weeks", "week", "wks", "wk")):
            scale = 1 / 52
        elif _has(text_n, ("days", "day")):
            scale = 1 / 365
        elif _has(text_n, ("decade", "decades")):
            scale = 10.0
        if _has(text_n, _WORDS_OF["hours"]):
            return None  # hours at a question about years: not a length of time we can use
    elif unit == "hours":
        if _has(text_n, (*_WORDS_OF["years"], *_WORDS_OF["months"])):
            return None
        if _has(text_n, ("mins", "minutes", "min")) and not _has(text_n, ("hours", "hrs", "hr")):
            scale = 1 / 60

    values = [v for _, _, v in nums]
    if len(values) == 2 and re.search(r"\d(?:\.\d+)? (?:to|or|and) \d", text_n):
        lo, hi = sorted(values)  # "5 to 9", "between 20 and 30", "3 or 4"
    elif len(values) == 1:
        lo = hi = values[0]
    else:
        return None
    decade = re.search(r"(\d+) (?:odd|something|somethin|summat)\b", text_n)
    if decade is not None and len(values) == 1 and values[0] % 10 == 0 and values[0] > 0:
        # "40 something", "30 odd hours": any value of that ten, not the round number
        lo, hi, unknown_unit = values[0], values[0] + 9.99, False
    k = scale * per_week
    lo, hi = lo * k, hi * k
    bare: int | None = None
    if (
        not explicit
        and len(values) == 1
        and values[0].is_integer()
        and k == 1
        and re.fullmatch(r"\D*\d+\D*", text_n)
        and len(text_n.split()) <= 3
    ):
        bare = int(values[0])
    if _has(text_n, _OVER) or re.search(r"\d \+|\+ ?\d|> ?\d|\d plus", text_n):
        return Reading(math.nextafter(hi, math.inf), math.inf, True)
    if _has(text_n, _UPTO):
        return Reading(0, hi, True)
    if _has(text_n, _UNDER) or re.search(r"< ?\d", text_n):
        return Reading(0, math.nextafter(lo, -math.inf), True)
    if _has(text_n, _NEARLY):
        return Reading(
            max(lo - max(1.0, 0.15 * lo), 0),
            math.nextafter(lo, -math.inf),
            True,
            unknown_unit=unknown_unit,
        )
    if unknown_unit:
        return Reading(lo, hi, True, None, True)
    return Reading(lo, hi, explicit or k != 1, bare)


def _unknown_after_number(text: str, known: frozenset[str]) -> bool:
    """Whether a word we do not know follows a number directly ("6 munths", "5 blah")."""
    toks = normalise(re.sub(r"(\d)(?=[^\W\d_])", r"\1 ", text)).split()
    for i, tok in enumerate(toks[:-1]):
        if tok[0].isdigit() and tok.isalnum():
            nxt = toks[i + 1]
            if nxt[0].isdigit() or nxt in _AFTER_OK or nxt in known:
                continue
            if _FOREIGN.get(nxt) is not None:
                continue
            return True
    return False


@lru_cache(maxsize=1024)  # asked per message; a question's labels never change
def unit_words_of_labels(labels: tuple[str, ...]) -> frozenset[str]:
    """The words that follow a number in a question's labels, in every language ("કલાક" in
    "9 કલાક કે ઓછા"): the question's own unit, so never an unknown one."""
    out: set[str] = set()
    for label in labels:
        toks = normalise(re.sub(r"(\d)(?=[^\W\d_])", r"\1 ", label)).split()
        out.update(b for a, b in pairwise(toks) if a.isdigit())
    return frozenset(out)
