"""Understanding answers the way people type them by text.

Pure functions: no I/O, no clock, no randomness. :func:`parse_answer` turns one message into
``Ok`` (an answer to store), ``Confirm`` (a likely answer to check with the respondent before
storing) or ``Invalid`` (a short reason code the engine words as a re-prompt). It never raises.

The rules, in brief:

* Case, punctuation, emoji, extra words ("its 2 thanks", "option 2") and small typos are
  forgiven. A typo-level or otherwise shaky match is a ``Confirm``, never a silent guess.
* Choices match by key (``2``, or ``b`` where letters are shown), by label or synonym in any of
  the flow's translations, then fuzzily (rapidfuzz). Where one label sits inside another
  ("agree" in "strongly agree"), the longest match wins; a label after "not"/"don't" is not
  taken as picked.
* Dates are read in UK order (day/month/year). Two-digit years go to the century that fits the
  question's ``min_year``..``max_year``; if both fit, ``00``-``29`` are 2000-2029 and ``30``-``99``
  are 1930-1999 (carers' birth years, not the POSIX 1969 pivot). ``12/25/1960`` cannot be UK
  order, so it is offered as a ``Confirm`` of 25 December 1960.
* Postcodes are accepted in any case or spacing but only the district (``LE16``) is returned:
  the full postcode is never kept. The outward code is checked against the 124 UK postcode
  areas and the Royal Mail format; the inward letters are not, since a typo there changes
  nothing we store.
"""

from __future__ import annotations

import dataclasses
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, Literal, TypeAlias

from rapidfuzz import fuzz

from bot import words as W
from bot.bands import (
    Band,
    band_of_label,
    band_of_range,
    read_quantity,
    unit_of,
    unit_words_of_labels,
)
from bot.models import AnswerValue
from bot.nonanswers import is_query
from bot.packs import pack_phrases
from bot.postcodes import parse_postcode, postcode_district, postcode_misread
from bot.schema import (
    MAX_NUMBER,
    Choice,
    ChoiceQuestion,
    ConsentQuestion,
    DateQuestion,
    MultiQuestion,
    NumberQuestion,
    PostcodeQuestion,
    Question,
    ScaleQuestion,
    TextQuestion,
    YesNoQuestion,
)
from bot.standard import AGREE_SCALE, concept_of_label
from bot.standard import words_for as standard_words
from bot.text import LText, tr
from bot.words import normalise

__all__ = [
    "REASONS",
    "Confirm",
    "Context",
    "Invalid",
    "Ok",
    "Outcome",
    "choice_keys",
    "command_of",
    "contested",
    "is_one_of",
    "normalise",
    "parse_answer",
    "parse_number_words",
    "parse_yes_no",
    "phrase_words",
    "postcode_district",
]


@dataclass(frozen=True)
class Ok:
    value: AnswerValue
    other_text: str | None = None


@dataclass(frozen=True)
class Confirm:
    """A likely answer to check first ("Did you mean ...?"). ``label`` is the answer in words,
    without the key: the engine adds the key where there is one (see :func:`choice_keys`)."""

    value: AnswerValue
    label: str


@dataclass(frozen=True)
class Invalid:
    reason: str


Outcome: TypeAlias = Ok | Confirm | Invalid

REASONS = (
    "not_understood",
    "too_short",
    "too_long",
    "out_of_range",
    "not_integer",  # a decimal for a whole-number question (or a scale)
    "too_many",  # more picks than max_picks, or two different answers to a single choice
    "too_few",
    "not_a_date",  # also: less detail than the question's precision (e.g. "1960" for a day)
    "not_a_postcode",
    "exclusive",
    "query",  # not an answer: a question to us or a greeting ("who is this?")
)
"""Every ``Invalid.reason`` this module returns."""


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Thresholds for rapidfuzz ratios (0-100). 90 forgives one slip in a word of about ten letters
# ("sometims"); a slip in a short word ("nevr", 89) is worth checking, so it is a Confirm.
_STRONG = 90.0
_WEAK = 75.0
_MARGIN = 10.0  # a best match must beat the runner-up by this much to be taken without asking
_FUZZY_MAX_CHARS = 200  # a long message is not a typo of a label: don't fuzz it
_EXTRA_WORDS_OK = 2  # "sometimes, most weeks" is still "sometimes"; more words may change it

# Words around an answer that carry no meaning for it ("its 2 thanks", "option b please").
_FILLER = _set("""
    a an please pls plz thanks thank thankyou you thx ta cheers its it is i im id think guess say
    would the option options number numbers num no nr choice answer answers pick picked choose
    chose go with for me my mine reply x xx xxx ok okay hi hello hiya hey um umm erm er uh well
    just so oh that thats one probably be will like
    """)
# Before a label, these mean the respondent is *not* picking it ("not often", "don't agree").
# "no" and "never" are left out: "no, never" means never.
_NEGATORS = _set("""
    not dont didnt doesnt isnt arent wasnt werent cant cannot wont nor without except excluding
    apart hardly barely
    """)
_SEPARATORS = _set("and or plus also n as well both")
_SEP = "\x00"  # marks a comma (or similar) between tokens; normalise() never produces it
_LEAD = _set("um umm erm er uh well oh hi hello hey hiya so and its it is thats that s i think say")
# Yes/no words too mild to contradict a clear answer ("no, I'm ok" is still no).
_WEAK_YES_NO = frozenset(
    {
        *[
            "ok",
            "okay",
            "k",
            "kk",
            "fine",
            "right",
            "sure",
            "alright",
            "correct",
            "true",
            "never",
            "wrong",
            "false",
            "dont",
        ],
        "all right",
    }
)
_SCALE_WORDS = _set("star stars point points out of outta mark marks score rating")
_DATE_FILLER = _set("""
    on in the of born birth date dob d o b my is was i it its s around about approx roughly circa
    c year month day st nd rd th please thanks thank you ta x
    """)
_STRIP_CHARS = "\ufe0f\ufe0e\u200d" + "".join(chr(c) for c in range(0x1F3FB, 0x1F400))


# --- small helpers -----------------------------------------------------------------------------


def _prep(text: str) -> str:
    """NFKC, casefold and ASCII digits, but punctuation kept (for numbers, dates, ranges)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    out = []
    for ch in folded:
        if unicodedata.category(ch) == "Nd":
            out.append(str(unicodedata.decimal(ch, 0)))
        elif ch == "\u2212":  # the minus sign
            out.append("-")
        else:
            out.append(ch)
    return "".join(out)


def _is_num(tok: str) -> bool:
    # ASCII only: some scripts have digit-like characters that int() refuses.
    return tok.isascii() and tok.isdigit()


def _squeeze(word: str) -> str:
    """``yesss`` -> ``yes``, ``nooo`` -> ``no``: people stretch short words."""
    return re.sub(r"(.)\1+", r"\1", word)


def _translations(text: LText) -> list[str]:
    return [text] if isinstance(text, str) else list(text.values())


def is_one_of(text: str, words: Iterable[str]) -> bool:
    """Whether the whole message is one of ``words`` (as returned by ``words.words_for``).

    Symbol-only words (``?``) are compared with the stripped raw text, repeats allowed (``??``).
    """
    ws = words if isinstance(words, frozenset | set) else frozenset(words)
    norm = normalise(text)
    if norm:
        return norm in ws
    raw = text.strip()
    return bool(raw) and (raw in ws or (raw[0] in ws and raw == raw[0] * len(raw)))


def command_of(
    text: str, lang: str = "en", extra: Mapping[str, Iterable[str]] | None = None
) -> str | None:
    """The command (``stop``, ``help``, ``back``, ...) the whole message is, or None.

    ``extra`` maps a command name to a flow's own words for it in ``lang``.
    """
    if len(text) > 100:
        return None
    for name in W.COMMANDS:
        if is_one_of(text, W.words_for(name, lang, tuple((extra or {}).get(name, ())))):
            return name
    return None


# --- yes / no ----------------------------------------------------------------------------------

_Polarity = Literal["yes", "no", "unsure"]


@dataclass(frozen=True)
class _YesNoTable:
    exact: dict[tuple[str, ...], _Polarity]
    squeezed: dict[tuple[str, ...], _Polarity]
    longest: int


@lru_cache(maxsize=64)
def _yes_no_table(lang: str, yes: tuple[str, ...], no: tuple[str, ...]) -> _YesNoTable:
    exact: dict[tuple[str, ...], _Polarity] = {}
    # Unsure first so that a flow's own yes/no words can override it; yes and no both claiming
    # a word (an officer's slip) leaves it meaning neither.
    groups: list[tuple[_Polarity, frozenset[str]]] = [
        ("unsure", W.words_for("unsure", lang)),
        ("yes", W.words_for("yes", lang, yes)),
        ("no", W.words_for("no", lang, no)),
    ]
    for pol, ws in groups:
        for w in ws:
            key = tuple(w.split())
            exact[key] = "unsure" if pol == "no" and exact.get(key) == "yes" else pol
    squeezed: dict[tuple[str, ...], _Polarity] = {}
    clash: set[tuple[str, ...]] = set()
    for key, pol in exact.items():
        sq = tuple(_squeeze(t) for t in key)
        if sq in squeezed and squeezed[sq] != pol:
            clash.add(sq)
        squeezed[sq] = pol
    for sq in clash:
        del squeezed[sq]
    return _YesNoTable(exact, squeezed, max((len(k) for k in exact), default=1))


def _longest_yes_no(
    table: _YesNoTable, tokens: Sequence[str], start: int
) -> tuple[int, _Polarity] | None:
    """The longest yes/no/unsure phrase starting at ``start``: (its length, its meaning)."""
    top = min(table.longest, len(tokens) - start)
    for size in range(top, 0, -1):
        key = tuple(tokens[start : start + size])
        pol = table.exact.get(key) or table.squeezed.get(tuple(_squeeze(t) for t in key))
        if pol is not None:
            return size, pol
    return None


def _emoji_answer(text: str) -> bool | None:
    chars = [c for c in text if not c.isspace() and c not in _STRIP_CHARS]
    if not chars:
        return None
    yes = {c for e in W.YES_EMOJI for c in e if c not in _STRIP_CHARS}
    no = {c for e in W.NO_EMOJI for c in e if c not in _STRIP_CHARS}
    if all(c in yes for c in chars):
        return True
    if all(c in no for c in chars):
        return False
    return None


def parse_yes_no(
    text: str, lang: str = "en", yes: Iterable[str] = (), no: Iterable[str] = ()
) -> bool | None:
    """True for yes, False for no, None when unclear ("not sure", "yes and no", "maybe").

    The message must start with a yes/no phrase (after "um", "well", "I think"...), take the
    longest such phrase ("no problem" is yes), and not go on to say the opposite.
    One-letter words (``y``, ``n``, ``k``) count only on their own.
    """
    if len(text) > 1000:
        return None
    tokens = normalise(text).split()
    if not tokens:
        return _emoji_answer(text)
    table = _yes_no_table(lang, tuple(yes), tuple(no))
    start = 0
    found = _longest_yes_no(table, tokens, 0)
    while found is None and start + 1 < len(tokens) and tokens[start] in _LEAD:
        start += 1
        found = _longest_yes_no(table, tokens, start)
    if found is None:
        return None
    size, pol = found
    if pol == "unsure":
        return None
    whole = start + size == len(tokens)
    if not whole and len(" ".join(tokens[start : start + size])) < 2:
        return None  # "n a" (n/a), "y tho": a lone letter is only an answer on its own
    i = start + size
    while i < len(tokens):
        later = _longest_yes_no(table, tokens, i)
        if later is None:
            i += 1
            continue
        lsize, lpol = later
        phrase = " ".join(tokens[i : i + lsize])
        if lpol == "unsure" or (lpol != pol and phrase not in _WEAK_YES_NO and len(phrase) > 1):
            return None
        i += lsize
    return pol == "yes"


_YES_NO_LABEL = {"en": {True: "Yes", False: "No"}, "gu": {True: "હા", False: "ના"}}
# How a yes/no question asks whether the person knows something, per language: to it, "no idea"
# or "ખબર નથી" (don't know) is an answer, no.
_KNOW_QUESTION = {
    "en": ("do you know", "did you know", "are you aware", "were you aware"),
    "gu": ("જાણો છો", "ખબર છે"),
}


def _asks_if_known(q: YesNoQuestion) -> bool:
    texts = [normalise(t) for t in _translations(q.text)]
    return any(normalise(k) in t for ks in _KNOW_QUESTION.values() for k in ks for t in texts)


def _says_dont_know(text: str, lang: str, ctx: Context) -> bool:
    norm = normalise(text)
    langs = tuple(dict.fromkeys((lang, *ctx.langs)))
    said = set(standard_words("dont_know", langs, ctx.words))
    said |= W.words_for("unsure", lang) - W.words_for("maybe", lang)
    return norm in said and norm not in {"maybe", "perhaps", "possibly", "depends", "it depends"}


def _yes_no_at_end(
    text: str, lang: str, yes: Iterable[str] = (), no: Iterable[str] = ()
) -> bool | None:
    """Yes or no said last, after words that echo the question ("heard of it yes"): a likely
    answer to check, never one to store. None if anything else says yes, no or not."""
    if len(text) > 200:
        return None
    tokens = normalise(text).split()
    if len(tokens) < 2 or len(tokens) > 8:
        return None
    table = _yes_no_table(lang, tuple(yes), tuple(no))
    for size in range(min(table.longest, len(tokens) - 1), 0, -1):
        found = _longest_yes_no(table, tokens, len(tokens) - size)
        if found is None or found[0] != size:
            continue
        pol = found[1]
        head = tokens[: len(tokens) - size]
        if pol == "unsure" or len(" ".join(tokens[-size:])) < 2:
            return None
        if any(t in _NEGATORS or t in _POST_NEGATORS for t in head):
            return None
        if any(_longest_yes_no(table, head, i) is not None for i in range(len(head))):
            return None
        return pol == "yes"
    return None


# --- numbers -----------------------------------------------------------------------------------

# Thousands with commas ("1,200"), else digits with an optional decimal point or comma ("2.5",
# Polish "2,5"). Not inside a word or after a decimal point, nor a decade ("in my 40s").
_NUM = re.compile(r"(?<![\w.,])(-)?(\d{1,3}(?:,\d{3})+|\d+)(?:[.,](\d+))?(?!\d|s\b)")
_NUM_ALONE = re.compile(r"\s*[£$€]?\s*(-)?(\d{1,3}(?:,\d{3})+|\d+)(?:[.,](\d+))?\s*[.!%]*\s*")
_NUMBER_WORDS = frozenset({*W.UNITS, *W.TEENS, *W.TENS, *W.SCALES, "half", "dozen"})


def _num_value(m: re.Match[str]) -> float:
    whole = m.group(2).replace(",", "")
    value = float(f"{whole}.{m.group(3)}" if m.group(3) else whole)
    return -value if m.group(1) else value


def _parse_words(tokens: Sequence[str]) -> float | None:
    """English number words, strictly: "forty two", "a hundred and five", "two and a half".

    Out-of-order words ("twenty twenty", "nineteen sixty") are not a number: None.
    """
    toks = list(tokens)
    frac = 0.0
    if toks[-2:] == ["a", "half"] or toks[-1:] == ["half"]:
        frac = 0.5
        toks = toks[:-2] if toks[-2:] == ["a", "half"] else toks[:-1]
        if toks and toks[-1] == "and":
            toks = toks[:-1]
        if not toks:
            return frac
    if not toks:
        return None
    if toks == ["a", "dozen"] or toks == ["dozen"]:
        return 12 + frac
    total = current = 0
    last: str | None = None  # kind of the previous word
    top_scale = math.inf
    for i, tok in enumerate(toks):
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if tok == "and":
            if last not in ("hundred", "scale") or nxt is None:
                return None
            last = "and"
        elif tok == "a":
            if nxt not in W.SCALES or last not in (None, "and", "scale"):
                return None
            current += 1
            last = "unit"
        elif tok in W.UNITS:
            value = W.UNITS[tok]
            if value == 0:
                if len(toks) != 1:
                    return None
            elif last not in (None, "tens", "hundred", "scale", "and"):
                return None
            current += value
            last = "unit"
        elif tok in W.TEENS:
            if last not in (None, "hundred", "scale", "and"):
                return None
            current += W.TEENS[tok]
            last = "teen"
        elif tok in W.TENS:
            if last not in (None, "hundred", "scale", "and"):
                return None
            current += W.TENS[tok]
            last = "tens"
        elif tok == "hundred":
            if last not in (None, "unit", "teen"):
                return None
            current = (current or 1) * 100
            last = "hundred"
        elif tok in W.SCALES:
            scale = W.SCALES[tok]
            if scale >= top_scale or last in ("and",):
                return None
            total += (current or 1) * scale
            current = 0
            top_scale = scale
            last = "scale"
        else:
            return None
    return total + current + frac


def parse_number_words(text: str) -> float | None:
    """A message that is just a number: digits (``2.5``, ``1,200``, ``£35``) or English words
    (``forty two``, ``a hundred and five``, ``twenty-one``, ``two and a half``). Else None."""
    if len(text) > 200:
        return None
    raw = _prep(text)
    m = _NUM_ALONE.fullmatch(raw)
    if m:
        value = _num_value(m)
        return value if math.isfinite(value) else None
    tokens = normalise(text).split()
    if not tokens or len(tokens) > 12:
        return None
    return _parse_words(tokens)


def _find_numbers(text: str) -> tuple[list[float], list[str]]:
    """Every number in a message (digits or word runs) and the words left over."""
    raw = _prep(text)
    values: list[float] = []
    pieces: list[str] = []
    pos = 0
    for m in _NUM.finditer(raw):
        values.append(_num_value(m))
        pieces.append(raw[pos : m.start()])
        pos = m.end()
    pieces.append(raw[pos:])
    tokens = normalise(" ".join(pieces)).split()
    left: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        starts = tok in _NUMBER_WORDS or (
            tok == "a" and i + 1 < len(tokens) and tokens[i + 1] in (*W.SCALES, "half", "dozen")
        )
        if not starts:
            left.append(tok)
            i += 1
            continue
        j = i
        while j < len(tokens) and (
            tokens[j] in _NUMBER_WORDS
            or (
                tokens[j] in ("a", "and")
                and j + 1 < len(tokens)
                and tokens[j + 1] in (*_NUMBER_WORDS, "a")
            )
        ):
            j += 1
        value = _parse_words(tokens[i:j])
        if value is None:
            left.extend(tokens[i:j])
        else:
            values.append(value)
        i = j
    return values, left


# --- choices -----------------------------------------------------------------------------------


def _uses_letters(q: ChoiceQuestion | MultiQuestion, n: int) -> bool:
    return q.letters and n <= 26


def choice_keys(q: ChoiceQuestion | MultiQuestion) -> list[str]:
    """What to type for each of ``q.all_choices()``: ``1``, ``2``... or ``A``, ``B``... when the
    question shows letters (numbers again past 26 choices, as the prompts do)."""
    n = len(q.all_choices())
    if _uses_letters(q, n):
        return [chr(ord("A") + i) for i in range(n)]
    return [str(i + 1) for i in range(n)]


@dataclass(frozen=True)
class Context:
    """What a flow adds to reading answers: its languages (whose yes/no, standard words and
    digits are understood whatever language the respondent chose), its own standard answer
    words (``answer_words``), and today's date (for "since 2010" or "born 1960")."""

    langs: tuple[str, ...] = ()
    words: Mapping[str, Mapping[Any, Sequence[str]]] | None = None
    today: date | None = None


_NO_CONTEXT = Context()


@dataclass(frozen=True)
class _Cand:
    value: str | int
    order: int
    label: str
    phrases: tuple[tuple[str, ...], ...]
    # Labels and synonyms only: what a typo may be forgiven against (packs and standard words
    # are many short words, too easily "near" anything).
    loose: tuple[tuple[str, ...], ...] = ()
    ordered: tuple[tuple[str, ...], ...] = ()  # officer's phrases, stemmed; "..." = a gap
    together: tuple[frozenset[str], ...] = ()  # "white + caribbean": all these words anywhere
    band: Band | None = None
    concept: str | None = None


def _phrases(texts: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    out: list[tuple[str, ...]] = []
    for t in texts:
        toks = tuple(normalise(t).split())
        variants = [toks]
        if any(_is_num(x) for x in toks) and "to" in toks:
            variants.append(tuple(x for x in toks if x != "to"))  # "10 to 19" typed "10-19"
        for v in variants:
            if v and v not in out:
                out.append(v)
    return tuple(out)


_CANDS: dict[tuple[int, str], tuple[object, list[_Cand]]] = {}


def _cached(q: Question, lang: str, build: Callable[[], list[_Cand]]) -> list[_Cand]:
    """Candidates per (question, language), built once: flows are immutable once loaded."""
    key = (id(q), lang)
    hit = _CANDS.get(key)
    if hit is not None and hit[0] is q:
        return hit[1]
    if len(_CANDS) > 4096:
        _CANDS.clear()
    cands = build()
    _CANDS[key] = (q, cands)
    return cands


def _choice_cands(q: ChoiceQuestion | MultiQuestion, lang: str, ctx: Context) -> list[_Cand]:
    return _cached(q, lang, lambda: _build_choice_cands(q, lang, ctx))


def _scale_cands(q: ScaleQuestion, lang: str, ctx: Context) -> list[_Cand]:
    return _cached(q, lang, lambda: _build_scale_cands(q, lang, ctx))


def _cand(
    c: Choice,
    value: str | int,
    order: int,
    lang: str,
    ctx: Context,
    packs: tuple[str, ...] = (),
    extra: Sequence[str] = (),
    band: Band | None = None,
) -> _Cand:
    langs = tuple(dict.fromkeys((lang, *ctx.langs)))
    loose_texts = [*_translations(c.label), *c.synonyms_for(lang), *extra]
    concept = c.means or concept_of_label(_translations(c.label))
    more: list[str] = []
    together: list[frozenset[str]] = []
    for phrase in pack_phrases(packs, c.id, langs):
        if "+" in phrase:
            together.append(frozenset(normalise(w) for w in phrase.split("+") if normalise(w)))
        else:
            more.append(phrase)
            more.extend(_plurals(phrase))
    if concept is not None:
        std = standard_words(concept, langs, ctx.words)
        more.extend(std)
        # A long single word is worth forgiving a slip in ("definately"); short ones and
        # phrases are not (their words are too easily "near" another answer's).
        loose_texts.extend(w for w in std if " " not in w and len(w) >= 8)
    ordered = tuple(
        phrase_words(p)
        for lg in langs
        for p in (c.phrases_for(lg) if isinstance(c.phrases, dict) else c.phrases)
    )
    return _Cand(
        value,
        order,
        tr(c.label, lang),
        _phrases([*loose_texts, *more]),
        _phrases(loose_texts),
        tuple(dict.fromkeys(o for o in ordered if o)),
        tuple(together),
        band,
        concept,
    )


def _plurals(phrase: str) -> list[str]:
    """The plural of a pack phrase's last word ("ladies", "neighbours", "my parents"): people
    answer for themselves in either. Words of three letters or fewer are left alone ("ms")."""
    words = normalise(phrase).split()
    if not words or not words[-1].isascii():
        return []
    last = words[-1]
    if len(last) < 4 or not last.isalpha() or last.endswith("s"):
        return []
    if last.endswith("y") and last[-2] not in "aeiou":
        plural = last[:-1] + "ies"
    elif last.endswith(("ch", "sh", "x")):
        plural = last + "es"
    else:
        plural = last + "s"
    return [" ".join([*words[:-1], plural])]


def _choice_band(c: Choice) -> Band | None:
    if c.range is not None:
        return band_of_range(*c.range)
    labels = _translations(c.label)
    for text in [c.label["en"]] if isinstance(c.label, dict) and "en" in c.label else labels:
        band = band_of_label(text)
        if band is not None:
            return band
    return None


def _build_choice_cands(q: ChoiceQuestion | MultiQuestion, lang: str, ctx: Context) -> list[_Cand]:
    none_words = W.words_for("none", lang)
    other_id = q.other.id if q.other is not None else None
    packs = q.packs()
    cands = []
    for i, c in enumerate(q.all_choices()):
        extra: list[str] = []
        if c.id == other_id:
            extra += ["other", "something else"]
        if (
            isinstance(q, MultiQuestion)
            and c.exclusive
            and (c.id == "none" or normalise(tr(c.label, lang)) in none_words)
        ):
            extra += sorted(none_words)
        cands.append(_cand(c, c.id, i, lang, ctx, packs, extra, _choice_band(c)))
    cands = _uncontested(cands)
    if isinstance(q, MultiQuestion):
        cands = _with_label_parts(cands)
    return cands


# Words that end a phrase by grammar, not by naming a kind of thing: "care for me" differs
# from "care for my mum" in whom, so "care for" beside it still names a choice on its own.
_CLOSED_CLASS = _set("me us him her them it my our his their your you myself ourselves")


def contested(phrase: Sequence[str], others: Iterable[Sequence[str]]) -> bool:
    """Whether ``phrase`` is the start of another choice's phrase that goes on to name a kind of
    thing ("I run a" beside "I run a business"): found alone, it may be the start of either
    ("I run a salon"). Not when the longer one goes on with "me", "my"... ("care for me")."""
    n = len(phrase)
    return any(
        len(q) > n and tuple(q[:n]) == tuple(phrase) and q[n] not in _CLOSED_CLASS and q[n] != "..."
        for q in others
    )


def _uncontested(cands: list[_Cand]) -> list[_Cand]:
    """Drops an officer's phrase that is :func:`contested` by another choice's: it names neither.
    ``surveybot validate`` warns about such phrases."""
    out = []
    for c in cands:
        longer = [q for o in cands if o.value != c.value for q in o.ordered]
        keep = tuple(p for p in c.ordered if not contested(p, longer))
        out.append(c if keep == c.ordered else dataclasses.replace(c, ordered=keep))
    return out


def _with_label_parts(cands: list[_Cand]) -> list[_Cand]:
    """Two or more words in a row from one label name that label in a list of picks, so that
    "benefits advice" stays with "Money and benefits advice" rather than giving "advice" (a
    synonym of another choice) a pick of its own. Parts two labels share name neither."""
    owners: dict[tuple[str, ...], set[str | int]] = {}
    for c in cands:
        for p in c.loose:
            for size in range(2, len(p)):
                for i in range(len(p) - size + 1):
                    part = p[i : i + size]
                    edge = (part[0], part[-1])
                    if any(t in _FILLER or t in _SEPARATORS for t in edge):
                        continue
                    owners.setdefault(part, set()).add(c.value)
    out = []
    for c in cands:
        parts = tuple(
            part for part, who in owners.items() if who == {c.value} and part not in c.phrases
        )
        out.append(dataclasses.replace(c, phrases=c.phrases + parts) if parts else c)
    return out


def _build_scale_cands(q: ScaleQuestion, lang: str, ctx: Context) -> list[_Cand]:
    if q.choices is not None:
        return [_cand(c, i + 1, i, lang, ctx) for i, c in enumerate(q.choices)]
    return [
        _Cand(n, n, tr(label, lang), _phrases(_translations(label)), _phrases(_translations(label)))
        for n, label in sorted(q.labels.items())
        if q.low <= n <= q.high
    ]


def phrase_words(phrase: str) -> tuple[str, ...]:
    """An officer's phrase as the reader matches it: folded, stemmed, "..." a gap."""
    return tuple(
        _stem(t) for t in normalise(phrase.replace("...", " ... ").replace("…", " ... ")).split()
    )


def _stem(tok: str) -> str:
    """A light stem so that "cares", "caring" and "care" match, but "cared" does not (the
    passive "I am cared for" is the opposite of "I care for")."""
    if len(tok) > 3 and tok.endswith("s") and not tok.endswith("ss"):
        tok = tok[:-1]
    if len(tok) > 5 and tok.endswith("ing"):
        tok = tok[:-3]
    if len(tok) > 3 and tok.endswith("e"):
        tok = tok[:-1]
    return tok


# Words that may stand between the words of an officer's phrase ("I also care for", "I have
# to look after", "I'm the main carer for").
_GAP = frozenset(
    [
        "also",
        "do",
        "mainly",
        "main",
        "have",
        "to",
        "am",
        "m",
        "currently",
        "still",
        "now",
        "the",
        "a",
        "an",
        "full",
        "time",
        "fulltime",
        "usually",
        "really",
        "basically",
        "just",
        "and",
        "of",
        "my",
        "our",
        "primary",
        "sole",
        "only",
    ]
)
_GAP_MAX = 2
_DOTS_MAX = 4


def _ordered_spans(cands: Sequence[_Cand], tokens: Sequence[str]) -> list[tuple[int, int, _Cand]]:
    """Where the officers' phrases occur, their words in order (stemmed), with at most a couple
    of light words between them or a few words where the phrase has "..."."""
    if not any(c.ordered for c in cands):
        return []
    stems = [_stem(t) for t in tokens]
    found: list[tuple[int, int, _Cand]] = []
    for cand in cands:
        for p in cand.ordered:
            words = [w for w in p if w != "..."]
            if not words:
                continue
            # Texts drop the "I" ("look after my mum", "live in Hinckley"): a phrase of the
            # officer's that starts with it also matches without it, at the start.
            if p[0] == "i" and len(words) >= 3 and p[1] != "..." and stems and stems[0] == p[1]:
                end = _match_from(stems, 1, p[2:])
                if end is not None:
                    found.append((0, end, cand))
                    continue
            for i, st in enumerate(stems):
                if st != words[0]:
                    continue
                end = _match_from(stems, i + 1, p[1:])
                if end is not None:
                    found.append((i, end, cand))
                    break
    return found


def _match_from(stems: Sequence[str], pos: int, rest: Sequence[str]) -> int | None:
    if not rest:
        return pos
    allow = _DOTS_MAX if rest[0] == "..." else _GAP_MAX
    want = rest[1:] if rest[0] == "..." else rest
    if not want:
        return pos
    for skip in range(allow + 1):
        j = pos + skip
        if j >= len(stems):
            return None
        if stems[j] == want[0]:
            end = _match_from(stems, j + 1, want[1:])
            if end is not None:
                return end
        if rest[0] != "..." and stems[j] not in _GAP:
            return None
    return None


def _together(cands: Sequence[_Cand], tokens: Sequence[str]) -> list[str | int]:
    present = set(tokens)
    if present & (_NEGATORS | _POST_NEGATORS):
        return []  # "not white, black african": words anywhere cannot tell what "not" denies
    return list(dict.fromkeys(c.value for c in cands for need in c.together if need <= present))


_HitKind = Literal["exact", "contained", "strong", "weak", "many", "negated", "none"]


@dataclass(frozen=True)
class _Hit:
    kind: _HitKind
    values: tuple[str | int, ...] = ()
    spans: tuple[tuple[int, int], ...] = ()


def _find_spans(cands: Sequence[_Cand], tokens: Sequence[str]) -> list[tuple[int, int, _Cand]]:
    """Where labels and phrases occur in the tokens; a span inside a longer one is dropped, so
    "strongly agree" beats the "agree" inside it. Overlaps left are resolved longest first; the
    same words claimed by two choices ("my son": a child or an adult son) are kept for both."""
    found: list[tuple[int, int, _Cand]] = []
    n = len(tokens)
    for cand in cands:
        for p in cand.phrases:
            size = len(p)
            for i in range(n - size + 1):
                if tokens[i] == p[0] and tuple(tokens[i : i + size]) == p:
                    found.append((i, i + size, cand))
    found.extend(_ordered_spans(cands, tokens))
    found.sort(key=lambda s: (-(s[1] - s[0]), s[0], s[2].order))
    chosen: list[tuple[int, int, _Cand]] = []
    for s in found:
        if all(s[1] <= c[0] or s[0] >= c[1] for c in chosen):
            chosen.append(s)
        elif any(
            s[0] == c[0] and s[1] == c[1] and s[2].value != c[2].value for c in chosen
        ) and not any(s[0] == c[0] and s[1] == c[1] and s[2].value == c[2].value for c in chosen):
            chosen.append(s)  # a tie: both choices are named
    return sorted(chosen, key=lambda s: (s[0], s[2].order))


_LOOK_THROUGH = _set("really actually totally entirely quite fully so much that necessarily")


# Gujarati, Hindi, Urdu and Punjabi put "not" after the word it denies ("સંમત નથી", agree
# not): a label followed by one of these is negated, as "not" before it is in English.
_POST_NEGATORS = frozenset(
    normalise(w)
    for w in (
        "નથી", "નહીં", "નહિ", "nathi", "nathee", "nahi", "nahin", "nai", "nahī",
        "नहीं", "ਨਹੀਂ", "نہیں", "না", "nie",
    )
)  # fmt: skip


def _negated(tokens: Sequence[str], start: int, end: int | None = None) -> bool:
    """Whether a negation stands just before ``start`` ("don't agree", "don't really agree"),
    or, with ``end``, just after the words (Gujarati "સંમત નથી")."""
    if end is not None and end < len(tokens) and tokens[end] in _POST_NEGATORS:
        return True
    i = start - 1
    while i >= 0 and start - i <= 3:
        tok = tokens[i]
        if tok in _NEGATORS:
            return True
        if tok not in _LOOK_THROUGH:
            return False
        i -= 1
    return False


# Endings that make another word of the same stem, by the kind of word they make. Two words
# that differ only by endings of different kinds ("cared"/"carer", "care"/"carers") are two
# words, not a typo of one: "cared for" must never be offered as "I am a carer".
_ENDING_KIND = {
    "": "base",
    "s": "base",
    "d": "past",
    "ed": "past",
    "r": "agent",
    "er": "agent",
    "rs": "agent",
    "ers": "agent",
    "ing": "ing",
    "ings": "ing",
}


def _other_form(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are different forms of one stem rather than a slip of one word."""
    if a == b or not (a.isalpha() and b.isalpha()):
        return False
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    if n < 3:
        return False
    ka, kb = _ENDING_KIND.get(a[n:]), _ENDING_KIND.get(b[n:])
    return ka is not None and kb is not None and ka != kb


def _forms_differ(core: Sequence[str], phrase: Sequence[str]) -> bool:
    return any(t not in phrase and any(_other_form(t, w) for w in phrase) for t in core)


def _fuzzy(cands: Sequence[_Cand], tokens: Sequence[str]) -> _Hit:
    core = [t for t in tokens if t not in _FILLER] or list(tokens)
    text, core_text = " ".join(tokens), " ".join(core)
    if len(core_text) < 3 or len(text) > _FUZZY_MAX_CHARS:
        return _Hit("none")
    best: dict[str | int, float] = {}
    for cand in cands:
        for p in cand.loose or cand.phrases:
            if _forms_differ(core, p):
                continue
            pt = " ".join(p)
            score = max(
                fuzz.ratio(text, pt),
                fuzz.ratio(core_text, pt),
                fuzz.token_sort_ratio(core_text, pt),
            )
            if score > best.get(cand.value, -1.0):
                best[cand.value] = score
    ranked = sorted(best.items(), key=lambda kv: -kv[1])
    if ranked:
        top_value, top = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        if top >= _STRONG and top - second >= _MARGIN:
            return _Hit("strong", (top_value,))
        if top >= _WEAK:
            return _Hit("weak", (top_value,))
    return _partial(cands, core)


def _partial(cands: Sequence[_Cand], core: Sequence[str]) -> _Hit:
    """Distinctive words of one label: "respite" for "Respite care" (half its words or more:
    taken), "neither" for "Neither agree nor disagree" (fewer: asked), "respit" (a typo: asked)."""
    if not core or len(core) > 4 or any(len(t) < 3 for t in core):
        return _Hit("none")
    exact_owner: list[tuple[str | int, float]] = []
    fuzzy_owner: list[str | int] = []
    for c in cands:
        cover = 0.0
        near = False
        for p in c.loose or c.phrases:
            words = [t for t in p if t not in _FILLER and t not in _SEPARATORS]
            if set(core) <= set(words):
                cover = max(cover, len(set(core)) / len(set(words)))
            elif not _forms_differ(core, words) and all(
                any(len(w) >= 4 and fuzz.ratio(t, w) >= 85 for w in words) for t in core
            ):
                near = True
        if cover:
            exact_owner.append((c.value, cover))
        elif near:
            fuzzy_owner.append(c.value)
    if len(exact_owner) == 1:
        value, cover = exact_owner[0]
        return _Hit("strong" if cover >= 0.5 else "weak", (value,))
    if not exact_owner and len(fuzzy_owner) == 1:
        return _Hit("weak", (fuzzy_owner[0],))
    return _Hit("none")


@lru_cache(maxsize=8192)
def _forms(p: tuple[str, ...]) -> tuple[tuple[str, ...], list[str] | None]:
    """A label phrase without filler words ("carer" for "A carer"), and sorted (word order free)."""
    return tuple(t for t in p if t not in _FILLER), (sorted(p) if len(p) > 1 else None)


def _exact(
    cands: Sequence[_Cand], tokens: Sequence[str], filler: frozenset[str] = _FILLER
) -> list[str | int]:
    core = tuple(t for t in tokens if t not in filler)
    whole = tuple(tokens)
    sorted_forms = (sorted(whole), sorted(core))
    values: list[str | int] = []
    for cand in cands:
        for p in cand.phrases:
            p_core, p_sorted = (
                _forms(p)
                if filler is _FILLER
                else (tuple(t for t in p if t not in filler), sorted(p) if len(p) > 1 else None)
            )
            same = (
                p in (whole, core)
                or (bool(p_core) and p_core == core)
                or (p_sorted is not None and p_sorted in sorted_forms)
            )
            if same and cand.value not in values:
                values.append(cand.value)
    return values


def _match_label(cands: Sequence[_Cand], tokens: Sequence[str]) -> _Hit:
    """How the message names one of the labels: exactly, inside more words, or fuzzily.

    Words after "but" are a comment on an answer already given ("yes but it never happens")."""
    if not tokens or not cands:
        return _Hit("none")
    if "but" in tokens[1:]:
        cut = tokens.index("but", 1)
        first = _match_label(cands, tokens[:cut])
        if first.kind in ("exact", "contained") and not _names_more(cands, tokens[cut + 1 :]):
            return _Hit("contained", first.values, first.spans)
    exact = _exact(cands, tokens)
    if len(exact) == 1:
        return _Hit("exact", (exact[0],))
    if exact:  # two choices share a label or synonym: never pick one
        return _Hit("many", tuple(exact))
    spans = _find_spans(cands, tokens)
    if spans:
        values = tuple(dict.fromkeys(s[2].value for s in spans))
        if any(_negated(tokens, s[0], s[1]) for s in spans):
            return _Hit("negated", values, tuple((s[0], s[1]) for s in spans))
        covered = {i for s in spans for i in range(s[0], s[1])}
        extra = [t for i, t in enumerate(tokens) if i not in covered and t not in _FILLER]
        if len(values) > 1:
            return _Hit("many", values)
        if extra:
            # "stongly agree": the typo hides the longer label that contains "agree".
            fuzzy = _fuzzy(cands, tokens)
            if fuzzy.kind in ("strong", "weak") and fuzzy.values != values:
                longer = any(
                    len(p) > s[1] - s[0]
                    for c in cands
                    if c.value == fuzzy.values[0]
                    for p in c.loose
                    for s in spans
                )
                if longer:
                    return fuzzy
        phrased = bool(
            _ordered_spans(cands, tokens)
        )  # an officer's phrase: meant to sit in a sentence
        kind: _HitKind = "contained" if phrased or len(extra) <= _EXTRA_WORDS_OK else "weak"
        return _Hit(kind, values, tuple((s[0], s[1]) for s in spans))
    together = _together(cands, tokens)
    if len(together) == 1:
        return _Hit("contained", (together[0],))
    return _fuzzy(cands, tokens)


def _names_more(cands: Sequence[_Cand], tokens: Sequence[str]) -> bool:
    """Whether words after "but" name a choice themselves ("not 2 but 3")."""
    return any(_classify(t, len(cands), False, True)[0] == "key" for t in tokens if _is_num(t))


_TokKind = Literal["key", "bad_key", "filler", "word", "article"]


def _classify(tok: str, n: int, letters: bool, one_is_key: bool) -> tuple[_TokKind, int]:
    """One token of a choice answer: a key (0-based index), filler, or a word."""
    if _is_num(tok):
        idx = int(tok) - 1 if len(tok) <= 3 else -1
        return ("key", idx) if 0 <= idx < n else ("bad_key", -1)
    if letters and len(tok) == 1 and "a" <= tok <= "z":
        idx = ord(tok) - ord("a")
        if tok in ("a", "i"):  # also an English word: decided by the caller
            return ("article", idx) if idx < n else ("filler", -1)
        return ("key", idx) if idx < n else ("bad_key", -1)
    if tok in W.ORDINALS:
        idx = W.ORDINALS[tok]
        idx = n - 1 if idx == -1 else idx - 1
        return ("key", idx) if 0 <= idx < n else ("bad_key", -1)
    for table in (W.UNITS, W.TEENS):
        if tok in table and tok not in ("nil", "nought", "zero"):
            idx = table[tok] - 1
            if tok == "one" and not one_is_key:
                return ("article", 0)  # "the second one": decided by the caller
            return ("key", idx) if idx < n else ("bad_key", -1)
    if tok in _FILLER or tok in _SEPARATORS:
        return ("filler", -1)
    return ("word", -1)


def _other_text(raw: str, lead: Iterable[str], *, anywhere: bool = False) -> str | None:
    """The free text after a leading key or label: "4 - my neighbour" -> "my neighbour"; with
    ``anywhere``, after the label wherever it is ("1, 3 and other: my neighbour")."""
    prepped = _prep(raw)
    for word in sorted(lead, key=len, reverse=True):
        pattern = (r"(?<!\w)" if anywhere else r"\s*(?:option|number|choice|no\.?|#)?\s*") + (
            r"\s+".join(re.escape(w) for w in word.split()) + r"(?!\w)[\s).:;,\]\-–]*"
        )
        m = (re.search if anywhere else re.match)(pattern, prepped)
        if m:
            rest = (
                raw[m.end() :].strip() if len(prepped) == len(raw) else prepped[m.end() :].strip()
            )
            meaningful = [t for t in normalise(rest).split() if t not in _FILLER]
            return rest if meaningful else None
    return None


def _parse_choice(q: ChoiceQuestion, text: str, lang: str, ctx: Context = _NO_CONTEXT) -> Outcome:
    cs = q.all_choices()
    n = len(cs)
    letters = _uses_letters(q, n)
    tokens = normalise(text).split()
    if not tokens:
        return Invalid("not_understood")
    cands = _choice_cands(q, lang, ctx)
    other_id = q.other.id if q.other is not None else None

    def ok(idx: int) -> Outcome:
        cid = cs[idx].id
        if cid == other_id:
            lead = [choice_keys(q)[idx].casefold(), *(" ".join(p) for p in cands[idx].phrases)]
            return Ok(cid, _other_text(text, lead))
        return Ok(cid)

    # A label's own words first ("1 વર્ષથી ઓછું" is "Less than 1 year", not 1 year).
    if len(tokens) > 1:
        exact = _exact(cands, tokens)
        if len(exact) == 1:
            return ok(_index_of(cs, exact[0]))
    banded = _banded(q, cands, text, tokens, lang, ctx)
    if banded is not None:
        return banded if not isinstance(banded, int) else ok(banded)

    # A whole message that is a key ("2", "b", "a" where letters are shown).
    if len(tokens) == 1:
        kind, idx = _classify(tokens[0], n, letters, one_is_key=True)
        if kind in ("key", "article") and idx >= 0:
            return ok(idx)
        if kind == "bad_key":
            return Invalid("out_of_range")

    hit = _match_label(cands, tokens)
    if hit.kind == "exact":
        return ok(_index_of(cs, hit.values[0]))
    if hit.kind == "many":
        told = _told_apart_by_number(cands, hit.values, text)
        if told is not None:
            return ok(_index_of(cs, told))  # "my son, he's 24": the adult son
    if hit.kind == "negated":
        return Invalid("not_understood")
    if (
        other_id is not None
        and hit.values == (other_id,)
        and hit.spans
        and hit.spans[0][0] == next((i for i, t in enumerate(tokens) if t not in _FILLER), 0)
    ):
        return ok(_index_of(cs, other_id))  # "Something else: I look after my neighbour"

    keys: list[tuple[int, int]] = []  # (token position, choice index)
    words: list[int] = []
    bad = False
    for pos, tok in enumerate(tokens):
        kind, idx = _classify(tok, n, letters, one_is_key=False)
        if kind == "key":
            keys.append((pos, idx))
        elif kind == "article" and tok == "one":
            # "one": a key only if no other key is given, and not a pronoun ("the one being
            # cared for", "one who helps"): it ends the message or filler follows it.
            if pos + 1 == len(tokens) or tokens[pos + 1] in _FILLER:
                keys.append((pos, -1))
            else:
                words.append(pos)
        elif kind == "bad_key":
            bad = True
        elif kind == "word":
            words.append(pos)
    picked = list(dict.fromkeys(i for _, i in keys if i >= 0)) or (
        [0] if any(i == -1 for _, i in keys) else []
    )
    if picked and not words:
        if len(picked) == 1:
            return ok(picked[0])
        return Invalid("too_many")
    if bad and not picked and not words:
        return Invalid("out_of_range")
    if len(picked) == 1 and words:
        first_key = min(p for p, _ in keys)
        idx = picked[0]
        if first_key < min(words):
            if cs[idx].id == other_id:
                return ok(idx)
            rest = _match_label(cands, [tokens[p] for p in words])
            if rest.kind in ("exact", "contained", "strong"):
                return ok(idx) if rest.values == (cs[idx].id,) else Invalid("not_understood")
        if hit.kind in ("none", "weak"):
            return Confirm(cs[idx].id, tr(cs[idx].label, lang))

    if hit.kind in ("contained", "strong"):
        return ok(_index_of(cs, hit.values[0]))
    if hit.kind in ("none", "weak") and not picked and not bad:
        clause = _one_clause_names(cands, text)
        if clause is not None:
            return ok(_index_of(cs, clause))  # "retired, live in Hinckley"
    if hit.kind in ("none", "weak") and not picked:
        # "yep" to choices Yes / No / Don't know.
        yes_no = parse_yes_no(text, lang)
        if yes_no is not None:
            ws = W.words_for("yes" if yes_no else "no", lang)
            named = [
                i
                for i, c in enumerate(cs)
                if any(normalise(t) in ws for t in _translations(c.label))
            ]
            if len(named) == 1:
                return ok(named[0])
    if hit.kind == "weak":
        idx = _index_of(cs, hit.values[0])
        return Confirm(cs[idx].id, tr(cs[idx].label, lang))
    if hit.kind == "many":
        return Invalid("too_many")
    if bad:
        return Invalid("out_of_range")
    return Invalid("not_understood")


_KEY_WORDS = _set("option options number num nr no choice answer")


def _one_clause_names(cands: Sequence[_Cand], text: str) -> str | int | None:
    """Where a message has clauses ("retired, live in Hinckley") and the whole names nothing
    for sure: the one choice a single clause names plainly, if no other clause names or
    denies anything."""
    clauses = [normalise(c).split() for c in re.split(r"[,;.!?\n]+", text)]
    clauses = [c for c in clauses if c]
    if len(clauses) < 2 or len(clauses) > 4:
        return None
    named: list[str | int] = []
    for toks in clauses:
        hit = _match_label(cands, toks)
        if hit.kind in ("exact", "contained"):
            named.extend(hit.values)
        elif hit.kind in ("many", "negated", "weak", "strong"):
            return None
    values = list(dict.fromkeys(named))
    return values[0] if len(values) == 1 else None


def _banded(
    q: ChoiceQuestion,
    cands: Sequence[_Cand],
    text: str,
    tokens: Sequence[str],
    lang: str,
    ctx: Context,
) -> Outcome | int | None:
    """A number read into its band, where every choice but the standard ones ("Prefer not to
    say") is a band: the index to pick, a check, a miss, or None when this is not a number.

    A bare whole number that is also a key ("3") and means a different band as a quantity
    ("3 years") is asked about, showing the key's real label; with units or words ("3 years",
    "I'm 72", "about 40") it is a quantity; with "option" it is a key."""
    bands = [c for c in cands if c.band is not None]
    if len(bands) < 2 or any(c.band is None and c.concept is None for c in cands):
        return None
    if any(t in _KEY_WORDS for t in tokens):
        return None
    unit = next((u for c in bands if (u := unit_of(_en(q.all_choices()[c.order].label)))), None)
    unit = unit or unit_of(_en(q.text))
    known = unit_words_of_labels(
        tuple(t for c in bands for t in _translations(q.all_choices()[c.order].label))
    )
    reading = read_quantity(text, unit, ctx.today, known)
    if reading is None:
        if unit is not None and any(unit_of(t) not in (None, unit) for t in tokens):
            return Invalid("not_understood")  # "4 hrs" to a question in years
        return None
    if reading.unknown_unit:
        return Invalid("not_understood")  # "6 munths": a unit we cannot read; never guess it
    hits = [c for c in bands if c.band is not None and c.band.contains(reading.lo, reading.hi)]
    n = len(cands)
    if reading.bare is not None and 1 <= reading.bare <= n and not _uses_letters(q, n):
        key = reading.bare - 1
        if not hits or (len(hits) == 1 and hits[0].order == key):
            return key
        return Confirm(cands[key].value, cands[key].label)  # "3": option 3, or 3 years?
    if len(hits) == 1:
        return hits[0].order
    touched = [
        c
        for c in bands
        if c.band is not None and c.band.low <= reading.hi and reading.lo < c.band.high
    ]
    if not touched:
        return Invalid("out_of_range")
    return Invalid("not_understood")  # "30 to 40": two bands; ask again rather than pick


def _told_apart_by_number(
    cands: Sequence[_Cand], values: Sequence[str | int], text: str
) -> str | int | None:
    """Among choices the words name alike ("my son": under 18, or 18 and over), the one whose
    band holds the age the message gives ("my son, he's 24")."""
    named = [c for c in cands if c.value in values]
    if not named or any(c.band is None for c in named):
        return None
    reading = read_quantity(text, "years", None)
    if reading is None:
        return None
    fits = [c for c in named if c.band is not None and c.band.contains(reading.lo, reading.hi)]
    return fits[0].value if len(fits) == 1 else None


def _en(text: LText) -> str:
    return tr(text, "en")


def _index_of(cs: Sequence[Choice], value: str | int) -> int:
    for i, c in enumerate(cs):
        if c.id == value:
            return i
    raise AssertionError(f"no choice {value!r}")  # candidates are built from these choices


_RANGE = re.compile(r"(?<![\d.,])(\d{1,2})\s*(?:-|–|to)\s*(\d{1,2})(?![\d.,])")


def _parse_multi(q: MultiQuestion, text: str, lang: str, ctx: Context = _NO_CONTEXT) -> Outcome:
    cs = q.all_choices()
    n = len(cs)
    letters = _uses_letters(q, n)
    norm = normalise(text)
    if not norm:
        return Invalid("not_understood")
    cands = _choice_cands(q, lang, ctx)
    other_id = q.other.id if q.other is not None else None
    eligible = [i for i, c in enumerate(cs) if not c.exclusive and c.id != other_id]
    tokens = norm.split()

    # Where letters are shown, "a" may be a key ("a, other"), so it is not filler here.
    exact = _exact(cands, tokens, _FILLER - {"a", "i"} if letters else _FILLER)
    if len(exact) == 1:
        return _check_multi(q, cs, [_index_of(cs, exact[0])], False, lang)
    if norm in W.words_for("all", lang) or (norm == "both" and len(eligible) == 2):
        return _check_multi(q, cs, eligible, False, lang)
    if norm in W.words_for("none", lang):
        # Reached only without a 'none' choice (it would have matched exactly above).
        return Ok([]) if q.min_picks == 0 else Invalid("too_few")

    # Ranges ("1-3", "2 to 4") become their numbers; commas and the like become separators.
    def expand(m: re.Match[str]) -> str:
        a, b = int(m.group(1)), int(m.group(2))
        return " ".join(str(k) for k in range(a, b + 1)) if 1 <= a < b <= n else m.group(0)

    prepped = _RANGE.sub(expand, _prep(text))
    stream: list[str] = []
    for piece in re.split(r"[,;&+/\n|]+", prepped):
        toks = normalise(piece).split()
        if toks:
            if stream:
                stream.append(_SEP)
            stream.extend(toks)

    spans = _find_spans(cands, stream)
    if any(_negated(stream, s[0], s[1]) for s in spans):
        return Invalid("not_understood")
    if len({(s[0], s[1]) for s in spans}) < len(spans):
        return Invalid("not_understood")  # the same words name two choices: ask again
    covered = {i for s in spans for i in range(s[0], s[1])}
    picks = [_index_of(cs, s[2].value) for s in spans]
    # Words after the 'other' label are its text ("1, 3 and other: my neighbour helps").
    other_end = next((s[1] for s in spans if s[2].value == other_id), None)
    other_text = None
    if other_end is not None and other_end < len(stream):
        phrases = [" ".join(p) for c in cands if c.value == other_id for p in c.phrases]
        other_text = _other_text(text, phrases, anywhere=True)
        if other_text is not None:
            stream = stream[:other_end]
    confirm = False
    bad = False
    runs: list[list[str]] = [[]]
    for pos, tok in enumerate(stream):
        if pos in covered or tok == _SEP:
            runs.append([])
            continue
        if tok in _NEGATORS:
            return Invalid("not_understood")  # "all except 2", "not 3": too risky to guess
        kind, idx = _classify(tok, n, letters, one_is_key=True)
        if kind == "bad_key" and _is_num(tok) and n < 10 and _compact_digits(tok, n):
            picks.extend(int(d) - 1 for d in tok)  # "13" for 1 and 3
            confirm = True
            runs.append([])
        elif kind == "key":
            picks.append(idx)
            runs.append([])
        elif kind == "article":
            if _alone(stream, pos, n, letters):
                picks.append(idx)  # "a, c" where letters are shown
                runs.append([])
            else:
                runs[-1].append(tok)  # "a lot of respite"
        elif kind == "bad_key":
            bad = True
            runs.append([])
        elif kind == "filler":
            runs.append([])
        else:
            runs[-1].append(tok)
    unresolved = False
    guesses: list[int] = []
    for run in (r for r in runs if r):
        hit = _fuzzy(cands, run)
        if hit.kind in ("strong", "weak"):
            guesses.append(_index_of(cs, hit.values[0]))
            confirm = confirm or hit.kind == "weak"
        else:
            unresolved = True
    for idx in guesses:
        if cs[idx].exclusive and (picks or len(set(guesses)) > 1):
            unresolved = True  # "1, 2 and something": not "nothing", whatever it is
        else:
            picks.append(idx)
    if bad:
        return Invalid("out_of_range")
    if not picks:
        return Invalid("not_understood")
    return _check_multi(q, cs, picks, confirm or unresolved, lang, other_text)


def _alone(stream: Sequence[str], pos: int, n: int, letters: bool) -> bool:
    def boundary(i: int) -> bool:
        if i < 0 or i >= len(stream) or stream[i] == _SEP or stream[i] in _SEPARATORS:
            return True
        return _classify(stream[i], n, letters, one_is_key=True)[0] in ("key", "article")

    return boundary(pos - 1) and boundary(pos + 1)


def _compact_digits(tok: str, n: int) -> bool:
    return len(set(tok)) == len(tok) and all(1 <= int(d) <= n for d in tok)


def _check_multi(
    q: MultiQuestion,
    cs: Sequence[Choice],
    picks: Iterable[int],
    confirm: bool,
    lang: str,
    other_text: str | None = None,
) -> Outcome:
    chosen = sorted(set(picks))
    if len(chosen) > 1 and any(cs[i].exclusive for i in chosen):
        return Invalid("exclusive")
    if len(chosen) < q.min_picks:
        return Invalid("too_few")
    if q.max_picks is not None and len(chosen) > q.max_picks:
        return Invalid("too_many")
    ids = [cs[i].id for i in chosen]
    if confirm:
        return Confirm(ids, ", ".join(tr(cs[i].label, lang) for i in chosen))
    return Ok(ids, other_text)


# --- scales ------------------------------------------------------------------------------------

_OUT_OF = re.compile(r"(?<![\d.,])(\d{1,3})\s*(?:/|out of|outta|of)\s*(\d{1,3})(?![\d.,])")


def _parse_scale(q: ScaleQuestion, text: str, lang: str, ctx: Context = _NO_CONTEXT) -> Outcome:
    tokens = normalise(text).split()
    if not tokens:
        return Invalid("not_understood")
    cands = _scale_cands(q, lang, ctx)

    def point(n: int, confirm: bool = False) -> Outcome:
        if not q.low <= n <= q.high:
            return Invalid("out_of_range")
        if confirm:
            return Confirm(n, q.point_label(n, lang) or str(n))
        return Ok(n)

    hit = _agree_scale(cands, _match_label(cands, tokens))
    if hit.kind == "exact":
        return point(int(hit.values[0]))
    m = _OUT_OF.search(_prep(text))
    if m:
        if int(m.group(2)) != q.high:
            return Invalid("out_of_range")  # "4 out of 10" on a 1-5 scale: can't know
        return point(int(m.group(1)))
    values, left = _find_numbers(text)
    words = [t for t in left if t not in _FILLER and t not in _SCALE_WORDS]
    if len(values) == 2 and "of" in left:  # "three out of five"
        if values[1] != q.high:
            return Invalid("out_of_range")
        values = values[:1]
    distinct = list(dict.fromkeys(values))
    if len(distinct) == 1:
        v = distinct[0]
        if not math.isfinite(v):
            return Invalid("out_of_range")
        if not v.is_integer():
            return Invalid("not_integer")
        if not words:
            return point(int(v))
        rest = _match_label(cands, words)
        if rest.kind in ("exact", "contained", "strong"):
            return point(int(v)) if rest.values == (int(v),) else Invalid("not_understood")
        if hit.kind in ("none", "weak"):
            return point(int(v), confirm=True)
    elif len(distinct) > 1 and hit.kind in ("none", "weak"):
        return Invalid("not_understood")
    if hit.kind in ("contained", "strong"):
        return point(int(hit.values[0]))
    if hit.kind == "weak":
        return point(int(hit.values[0]), confirm=True)
    return Invalid("not_understood")


# Negated, a point of the agree scale means its opposite side: "don't agree" is disagree.
_OPPOSITE = {"agree": "disagree", "strongly_agree": None, "disagree": "agree", "neither": None}
_STRONGER = {"agree": "strongly_agree", "disagree": "strongly_disagree"}


def _agree_scale(cands: Sequence[_Cand], hit: _Hit) -> _Hit:
    """Reads a negation or an intensifier on the agree scale ("dont really agree" is disagree,
    "yes def" is strongly agree); any other scale's hit is returned as it is."""
    by_value = {c.value: c for c in cands}
    by_concept = {c.concept: c.value for c in cands if c.concept in AGREE_SCALE}
    if len(by_concept) < 3 or hit.kind not in ("negated", "many"):
        return hit
    concepts = {by_value[v].concept for v in hit.values if v in by_value}
    if hit.kind == "negated":
        if len(concepts) != 1:
            return _Hit("none")
        opposite = _OPPOSITE.get(next(iter(concepts)) or "")
        if opposite is None or opposite not in by_concept:
            return _Hit("none")
        return _Hit("contained", (by_concept[opposite],))
    for base, strong in _STRONGER.items():
        if concepts == {base, strong} and strong in by_concept:
            return _Hit("contained", (by_concept[strong],))
    return hit


# --- numbers -----------------------------------------------------------------------------------


def _parse_number(q: NumberQuestion, text: str) -> Outcome:
    values, _ = _find_numbers(text)
    distinct = list(dict.fromkeys(values))
    if len(distinct) != 1:
        return Invalid("not_understood")  # none, or "20 to 30": ask again rather than pick
    v = distinct[0]
    if not math.isfinite(v) or abs(v) > MAX_NUMBER:
        # More digits than a float holds, or than a stored integer may have (JSON writes
        # 64-bit integers): out of range whatever the question's own bounds.
        return Invalid("out_of_range")
    integral = v.is_integer()
    if q.integer and not integral:
        return Invalid("not_integer")
    if (q.min is not None and v < q.min) or (q.max is not None and v > q.max):
        return Invalid("out_of_range")
    return Ok(int(v) if integral else v)


# --- dates -------------------------------------------------------------------------------------

_PIVOT = 29  # two-digit years 00-29 are 2000s, 30-99 are 1900s (when both centuries fit)
_PRECISION = {"year": 1, "month": 2, "day": 3}


def _year(tok: str, q: DateQuestion) -> int | None:
    if len(tok) == 4:
        return int(tok)
    if len(tok) != 2:
        return None
    yy = int(tok)
    fits = [c + yy for c in (1900, 2000) if q.min_year <= c + yy <= q.max_year]
    if len(fits) == 1:
        return fits[0]
    return 2000 + yy if yy <= _PIVOT else 1900 + yy


def _date_parts(q: DateQuestion, text: str) -> tuple[int, int | None, int | None, bool] | None:
    """(year, month, day, read month-first) from the message, or None if it is not a date."""
    items: list[tuple[str, str]] = []
    for tok in re.findall(r"\d+|[^\W\d_]+", _prep(text)):
        if tok.isdigit():
            items.append(("n", tok))
        elif tok in W.MONTHS:
            items.append(("m", str(W.MONTHS[tok])))
        elif tok not in _DATE_FILLER and tok not in _FILLER:
            return None
    shape = "".join(k for k, _ in items)
    vals = [v for _, v in items]

    def small(v: str) -> bool:
        return len(v) <= 2

    if shape == "n" and len(vals[0]) == 8:  # 03041960, else 19600403
        v = vals[0]
        dmy = (int(v[4:]), int(v[2:4]), int(v[:2]), False)
        return dmy if _valid(*dmy[:3]) else (int(v[:4]), int(v[4:6]), int(v[6:]), False)
    if shape == "n" and len(vals[0]) == 6:  # 030460
        y = _year(vals[0][4:], q)
        return None if y is None else (y, int(vals[0][2:4]), int(vals[0][:2]), False)
    if shape == "n" and len(vals[0]) == 4:
        return int(vals[0]), None, None, False
    if shape == "nnn":
        a, b, c = vals
        if len(a) == 4 and small(b) and small(c):
            return int(a), int(b), int(c), False
        y = _year(c, q)
        if y is None or not (small(a) and small(b)):
            return None
        d, m = int(a), int(b)
        if m > 12 and d <= 12:
            return y, d, m, True
        return y, m, d, False
    if shape == "nmn" and small(vals[0]):
        y = _year(vals[2], q)
        return None if y is None else (y, int(vals[1]), int(vals[0]), False)
    if shape == "mnn" and small(vals[1]) and len(vals[2]) == 4:  # April 3 1960
        return int(vals[2]), int(vals[0]), int(vals[1]), False
    if shape == "mn" and (len(vals[1]) == 4 or (len(vals[1]) == 2 and int(vals[1]) > 31)):
        y = _year(vals[1], q)
        return None if y is None else (y, int(vals[0]), None, False)
    if shape == "nm" and len(vals[0]) == 4:
        return int(vals[0]), int(vals[1]), None, False
    if shape == "nn":
        a, b = vals
        if small(a) and len(b) == 4:
            return int(b), int(a), None, False
        if len(a) == 4 and small(b):
            return int(a), int(b), None, False
    return None


def _valid(y: int, m: int | None, d: int | None) -> bool:
    if not 1 <= y <= 9999:
        return False
    if m is None:
        return d is None
    if not 1 <= m <= 12:
        return False
    if d is None:
        return True
    try:
        date(y, m, d)
    except ValueError:
        return False
    return True


def _parse_date(q: DateQuestion, text: str) -> Outcome:
    parts = _date_parts(q, text) if len(text) <= 200 else None
    if parts is None:
        return Invalid("not_a_date")
    y, m, d, month_first = parts
    if not _valid(y, m, d):
        return Invalid("not_a_date")
    given = 3 if d is not None else 2 if m is not None else 1
    if given < _PRECISION[q.precision]:
        return Invalid("not_a_date")
    if not q.min_year <= y <= q.max_year:
        return Invalid("out_of_range")
    if d is not None and m is not None:
        iso, label = f"{y:04d}-{m:02d}-{d:02d}", f"{d} {W.MONTH_NAMES[m - 1]} {y}"
    elif m is not None:
        iso, label = f"{y:04d}-{m:02d}", f"{W.MONTH_NAMES[m - 1]} {y}"
    else:
        iso, label = f"{y:04d}", str(y)
    return Confirm(iso, label) if month_first else Ok(iso)


# --- postcodes ---------------------------------------------------------------------------------


def _parse_postcode(text: str) -> Outcome:
    district = parse_postcode(text)
    if district is not None:
        return Ok(district)
    misread = postcode_misread(text)
    return Invalid("not_a_postcode") if misread is None else Confirm(misread, misread)


# --- text --------------------------------------------------------------------------------------


def _parse_text(q: TextQuestion, text: str) -> Outcome:
    kept = text.strip()  # the respondent's words as written: not normalised
    if len(kept) < q.min_length:
        return Invalid("too_short")
    if len(kept) > q.max_length:
        return Invalid("too_long")
    return Ok(kept)


# --- entry point -------------------------------------------------------------------------------

_CLOSED_MAX = 10_000  # longer than any SMS thread: don't spend time matching it


def parse_answer(
    q: Question,
    text: str,
    lang: str = "en",
    yes: Iterable[str] = (),
    no: Iterable[str] = (),
    ctx: Context = _NO_CONTEXT,
) -> Outcome:
    """Read one message as an answer to ``q``. ``yes``/``no`` are a flow's extra words for
    ``lang``; ``ctx`` what else the flow adds (its languages, standard words, today). Values:
    choice id (str), ids in choice order (list), scale point (int), number (int when whole,
    else float), bool for yes/no and consent, ISO date ``YYYY[-MM[-DD]]``, postcode district,
    or the stripped text as written. A question to us ("who is this?") is ``Invalid("query")``
    whatever the question."""
    if isinstance(q, TextQuestion):
        return Invalid("query") if is_query(text, free_text=True) else _parse_text(q, text)
    if len(text) > _CLOSED_MAX:
        return Invalid("not_understood")
    if is_query(text):
        return Invalid("query")
    if isinstance(q, YesNoQuestion | ConsentQuestion):
        answer = parse_yes_no(text, lang, yes, no)
        if answer is not None:
            return Ok(answer)
        if isinstance(q, YesNoQuestion) and _asks_if_known(q) and _says_dont_know(text, lang, ctx):
            return Ok(False)  # "no idea" to "Do you know where to get support?" is no
        late = _yes_no_at_end(text, lang, yes, no)
        if late is not None:
            return Confirm(late, _YES_NO_LABEL.get(lang, _YES_NO_LABEL["en"])[late])
        return Invalid("not_understood")
    if isinstance(q, ChoiceQuestion):
        return _parse_choice(q, text, lang, ctx)
    if isinstance(q, MultiQuestion):
        return _parse_multi(q, text, lang, ctx)
    if isinstance(q, ScaleQuestion):
        return _parse_scale(q, text, lang, ctx)
    if isinstance(q, NumberQuestion):
        return _parse_number(q, text)
    if isinstance(q, DateQuestion):
        return _parse_date(q, text)
    if isinstance(q, PostcodeQuestion):
        return _parse_postcode(text)
    return Invalid("not_understood")  # an info message takes no answer
