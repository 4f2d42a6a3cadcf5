"""SMS text: which encoding a message needs, how many parts it costs, how a reply reads by text.

Counting follows 3GPP TS 23.038 and what Twilio bills:

* **GSM-7** when every character is in the default alphabet or its basic extension table. One
  message holds 160 septets; a concatenated message 153 per part. ``^ { } \\ [ ~ ] | €`` and form
  feed are escape sequences costing 2 septets, and an escape is never split across parts.
* **UCS-2** as soon as one character is outside GSM-7 (an emoji, a curly quote, any Gujarati,
  Punjabi, Urdu, Bengali text...). One message holds 70 UTF-16 code units, a concatenated one 67 per
  part; characters beyond the BMP (most emoji) take 2 units and a pair is never split.

Rendered reply formats (what officers see in cost estimates). ``text`` is the reply text with
trailing whitespace removed; the choice line follows it on a new line:

* no choices: ``text`` unchanged.
* single choice, every label equal to its key (ignoring case) or the keys are YES and NO:
  ``Reply YES or NO`` / ``Reply 1, 2, 3, 4 or 5``.
* single choice, short labels (see below): ``Reply 1 Never, 2 Sometimes, 3 Often``.
* single choice, otherwise: ``Reply:`` then one ``1 Never`` per line.
* multiple choice, short labels: ``Reply with one or more numbers, e.g. 1 3: 1 Respite, 2 Money``.
* multiple choice, otherwise: ``Reply with one or more numbers, e.g. 1 3:`` then one
  ``1 Respite`` per line.

The example picks the first and third keys (the first two when there are two, the only one when
there is one). Labels are "short" when the inline list ``1 Never, 2 Sometimes, 3 Often`` is at
most :data:`INLINE_MAX` characters and no label holds a digit, a comma or a line break: those make
an inline list ambiguous ("2 9 or fewer, 3 10-19"). Both forms cost about the same, so the choice
is about reading on a small screen. The English words come from :class:`ChoiceWords`, which a
caller may pass translated.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

from bot.models import Reply

Encoding = Literal["GSM-7", "UCS-2"]

GSM_SINGLE = 160
GSM_PART = 153
UCS2_SINGLE = 70
UCS2_PART = 67

INLINE_MAX = 60
"""Longest inline choice list (``1 Never, 2 Sometimes``) before one choice per line is used."""

# The default alphabet in code order, without 0x1B (ESC), which is not a character of its own.
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"  # 0x1B, between Ξ and Æ, is ESC
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = "\f^{}\\[~]|€"
"""Reached through ESC, so each costs 2 septets."""

_GSM_COST: dict[str, int] = {**dict.fromkeys(GSM_BASIC, 1), **dict.fromkeys(GSM_EXTENSION, 2)}
_NON_GSM = re.compile("[^" + re.escape(GSM_BASIC + GSM_EXTENSION) + "]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")

# Look-alikes that word processors and phones slip in and that would turn a whole message into
# UCS-2 (less than half the room per part). Each has a GSM-7 twin that reads the same.
_LOOKALIKES: dict[int, str | None] = {
    # Curly and low single quotes, primes, acute accent, backtick, single guillemets; then doubles.
    **dict.fromkeys(map(ord, "\u2018\u2019\u201a\u201b\u2032\u2035\u00b4\u0060\u2039\u203a"), "'"),
    **dict.fromkeys(map(ord, "\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb"), '"'),
    # Hyphen, non-breaking hyphen, figure dash, en dash, em dash, horizontal bar, minus sign.
    **dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-"),
    ord("\u2026"): "...",
    # Bullets read as a list dash in plain text ("*" is markup on some phones' chat apps).
    **dict.fromkeys(map(ord, "\u2022\u2023\u2043\u25e6\u25aa\u25cf\u00b7"), "-"),
    # Tab, no-break, en/em/thin/hair/figure/narrow spaces: a phone shows them all as a space.
    **dict.fromkeys(map(ord, "\t\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006"), " "),
    **dict.fromkeys(map(ord, "\u2007\u2008\u2009\u200a\u202f\u205f"), " "),
    # Invisible: zero-width space/non-joiner/joiner, word joiner, BOM, soft hyphen.
    **dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None),
}


def encoding(text: str) -> Encoding:
    """GSM-7 when every character has a GSM-7 code, else UCS-2 (``""`` is GSM-7)."""
    return "UCS-2" if _NON_GSM.search(text) else "GSM-7"


def septets(text: str) -> int:
    """Septets ``text`` takes in GSM-7 (extension characters count 2).

    Raises ValueError when a character has no GSM-7 code: use :func:`info` for any text.
    """
    try:
        return sum(_GSM_COST[ch] for ch in text)
    except KeyError as exc:
        raise ValueError(f"{exc.args[0]!r} has no GSM-7 code") from None


@dataclass
class _Packing:
    """Parts needed when characters of cost 1 or 2 are packed in order, none straddling a part."""

    capacity: int
    parts: int = 0
    fill: int = 0

    def add(self, cost: int) -> None:
        if self.parts == 0 or self.fill + cost > self.capacity:
            self.parts += 1
            self.fill = cost
        else:
            self.fill += cost


@dataclass
class _Tally:
    """Running count of a growing text in both encodings, so a prefix is measured in O(1)."""

    gsm: bool = True
    septets: int = 0
    units: int = 0
    culprits: dict[str, None] = field(default_factory=dict)
    _gsm_parts: _Packing = field(default_factory=lambda: _Packing(GSM_PART))
    _ucs_parts: _Packing = field(default_factory=lambda: _Packing(UCS2_PART))

    def add(self, ch: str) -> None:
        units = 2 if ord(ch) > 0xFFFF else 1
        self.units += units
        self._ucs_parts.add(units)
        cost = _GSM_COST.get(ch)
        if cost is None:
            self.gsm = False
            self.culprits[ch] = None
        elif self.gsm:
            self.septets += cost
            self._gsm_parts.add(cost)

    @property
    def segments(self) -> int:
        if self.units == 0:
            return 0
        if self.gsm:
            return 1 if self.septets <= GSM_SINGLE else self._gsm_parts.parts
        return 1 if self.units <= UCS2_SINGLE else self._ucs_parts.parts


def _tally(text: str) -> _Tally:
    t = _Tally()
    for ch in text:
        t.add(ch)
    return t


def _measure(text: str) -> SmsInfo:
    """``info`` without a per-character loop in the common cases (it runs for every reply)."""
    bad = _NON_GSM.findall(text)
    if not bad:
        ext = sum(text.count(c) for c in GSM_EXTENSION)
        n = len(text) + ext
        if n <= GSM_SINGLE:
            return SmsInfo("GSM-7", n, 1 if n else 0, ())
        if not ext:  # no 2-septet characters: nothing can straddle a part boundary
            return SmsInfo("GSM-7", n, -(-n // GSM_PART), ())
    else:
        astral = len(_ASTRAL.findall(text))
        units = len(text) + astral
        culprits = tuple(dict.fromkeys(bad))
        if units <= UCS2_SINGLE:
            return SmsInfo("UCS-2", units, 1, culprits)
        if not astral:
            return SmsInfo("UCS-2", units, -(-units // UCS2_PART), culprits)
    t = _tally(text)
    return SmsInfo(
        encoding="GSM-7" if t.gsm else "UCS-2",
        length=t.septets if t.gsm else t.units,
        segments=t.segments,
        culprits=tuple(t.culprits),
    )


@dataclass(frozen=True)
class SmsInfo:
    """What one SMS text costs. ``length`` is septets (GSM-7) or UTF-16 code units (UCS-2);
    ``culprits`` are the characters that forced UCS-2, each once, in order of appearance."""

    encoding: Encoding
    length: int
    segments: int
    culprits: tuple[str, ...]


def info(text: str) -> SmsInfo:
    return _measure(text)


def segments(text: str) -> int:
    """Parts (billed messages) needed to send ``text``; 0 for ``""``."""
    return _measure(text).segments


def gsm_safe(text: str) -> str:
    """``text`` with GSM-7 look-alikes replaced, when that makes the whole text GSM-7.

    Curly quotes and primes become ``'`` or ``"``, dashes and the minus sign ``-``, an ellipsis
    ``...``, bullets ``-``, tabs and special spaces (no-break, narrow, thin, ...) a space, and
    zero-width characters and soft hyphens are removed; NFC composes a decomposed ``é`` into the
    GSM-7 one. When characters outside GSM-7 remain (Gujarati, emoji, Polish ``ł``) the message is
    UCS-2 anyway, so the text is returned unchanged: there the look-alikes cost nothing, and
    zero-width joiners shape Indic scripts and emoji.
    """
    candidate = unicodedata.normalize("NFC", text).translate(_LOOKALIKES)
    return candidate if encoding(candidate) == "GSM-7" else text


# --- rendering ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChoiceWords:
    """The words :func:`render` adds around choices; pass translations for other languages."""

    reply: str = "Reply"
    or_: str = "or"
    multi: str = "Reply with one or more numbers, e.g. {example}:"


ENGLISH = ChoiceWords()

# The words around choices in each community language (the keys stay digits and YES/NO, which
# the answer parser accepts in every language alongside the native yes/no words).
CHOICE_WORDS: dict[str, ChoiceWords] = {
    "en": ENGLISH,
    "gu": ChoiceWords("જવાબ આપો", "અથવા", "એક અથવા વધુ નંબર મોકલો, દા.ત. {example}:"),
    "pa": ChoiceWords("ਜਵਾਬ ਦਿਓ", "ਜਾਂ", "ਇੱਕ ਜਾਂ ਵੱਧ ਨੰਬਰ ਭੇਜੋ, ਜਿਵੇਂ {example}:"),
    "pl": ChoiceWords("Odpowiedz", "lub", "Wyslij jeden lub wiecej numerow, np. {example}:"),
    "ur": ChoiceWords("جواب دیں", "یا", "ایک یا زیادہ نمبر بھیجیں، مثلاً {example}:"),
    "so": ChoiceWords("Ku jawaab", "ama", "Soo dir hal lambar ama ka badan, tusaale {example}:"),
    "bn": ChoiceWords("উত্তর দিন", "অথবা", "এক বা একাধিক নম্বর পাঠান, যেমন {example}:"),
}


def _or_list(keys: list[str], or_: str) -> str:
    if len(keys) == 1:
        return keys[0]
    return f"{', '.join(keys[:-1])} {or_} {keys[-1]}"


def _inline_label(label: str) -> bool:
    return not any(ch.isdigit() or ch in ",\n\r" for ch in label)


def _choice_line(reply: Reply, words: ChoiceWords) -> str:
    choices = reply.choices
    keys = [c.key for c in choices]
    keys_say_it = all(c.label.strip().casefold() == c.key.casefold() for c in choices)
    yes_no = len(keys) == 2 and {k.upper() for k in keys} == {"YES", "NO"}
    if not reply.multi and (keys_say_it or yes_no):
        return f"{words.reply} {_or_list(keys, words.or_)}"

    items = [f"{c.key} {c.label}" if c.label else c.key for c in choices]
    inline = ", ".join(items)
    one_line = len(inline) <= INLINE_MAX and all(_inline_label(c.label) for c in choices)
    if reply.multi:
        example = " ".join(keys[::2][:2]) if len(keys) >= 3 else " ".join(keys)
        head = words.multi.replace("{example}", example)
        return f"{head} {inline}" if one_line else "\n".join([head, *items])
    return f"{words.reply} {inline}" if one_line else "\n".join([f"{words.reply}:", *items])


def choice_line(reply: Reply, words: ChoiceWords | None = None) -> str:
    """The line saying how to answer (``Reply 1 Never, 2 Sometimes``), in the reply's language;
    ``""`` for a reply without choices. For channels that word the question their own way."""
    if not reply.choices:
        return ""
    return _choice_line(reply, words or CHOICE_WORDS.get(reply.lang, ENGLISH))


def render(reply: Reply, *, gsm: bool = True, words: ChoiceWords | None = None) -> str:
    """The SMS text for one engine reply (formats in the module docstring).

    With ``gsm`` the text goes through :func:`gsm_safe`, so it stays GSM-7 whenever its content
    allows. The words around the choices follow the reply's language unless ``words`` is given.
    """
    key = (id(reply), gsm, id(words))
    hit = _RENDERED.get(key)
    if hit is not None and hit[0] is reply:
        return hit[1]
    out = _render(reply, gsm, words)
    if reply.choices:  # question replies are shared objects (bot.prompts caches them)
        if len(_RENDERED) > 4096:
            _RENDERED.clear()
        _RENDERED[key] = (reply, out)
    return out


_RENDERED: dict[tuple[int, bool, int], tuple[Reply, str]] = {}


def _render(reply: Reply, gsm: bool, words: ChoiceWords | None) -> str:
    if reply.choices:
        text = reply.text.rstrip()
        line = _choice_line(reply, words or CHOICE_WORDS.get(reply.lang, ENGLISH))
        out = f"{text}\n{line}" if text else line
    else:
        out = reply.text
    return gsm_safe(out) if gsm else out


def segments_of_reply(reply: Reply, *, gsm: bool = True, words: ChoiceWords | None = None) -> int:
    return segments(render(reply, gsm=gsm, words=words))


# --- splitting ---------------------------------------------------------------------------------

_SENTENCE_END = ".!?…।॥۔؟"  # Latin, Devanagari/Bengali/Gurmukhi danda, Urdu full stop, Arabic ?
_CLOSERS = "\"')]’”»"
_NO_BREAK = "\u00a0\u2007\u202f\u2060"
_ZWJ = "\u200d"


def _space(ch: str) -> bool:
    """Whitespace a message may be split at (and that is dropped there)."""
    return ch.isspace() and ch not in _NO_BREAK


def _glued(text: str, i: int) -> bool:
    """Would cutting between text[i-1] and text[i] break what a reader sees as one character?"""
    ch, prev = text[i], text[i - 1]
    o = ord(ch)
    return (
        unicodedata.category(ch).startswith("M")  # combining mark, Indic vowel sign
        or unicodedata.combining(prev) == 9  # virama: the next consonant forms a conjunct
        or ch == _ZWJ
        or prev == _ZWJ
        or 0xFE00 <= o <= 0xFE0F  # variation selectors (emoji presentation)
        or 0x1F3FB <= o <= 0x1F3FF  # skin tones
        or 0xE0020 <= o <= 0xE007F  # tag sequences (flags of England, Scotland, Wales)
        or (prev == "\r" and ch == "\n")
    )


def _fit(text: str, start: int, limit: int) -> int:
    """End of the longest ``text[start:end]`` that fits in ``limit`` segments of its own
    encoding. Segments only grow as characters are added (UCS-2 never costs fewer parts than
    GSM-7 for the same characters), so the first character that overflows marks it."""
    t = _Tally()
    for i in range(start, len(text)):
        t.add(text[i])
        if t.segments > limit:
            return i
    return len(text)


def _ends_sentence(text: str, start: int, b: int) -> bool:
    """Is ``b`` (a space) just after a sentence end such as ``.``, ``?"`` or ``!)``?"""
    i = b - 1
    while i > start and text[i] in _CLOSERS:
        i -= 1
    return text[i] in _SENTENCE_END


def _cut(text: str, start: int, end: int) -> tuple[int, bool]:
    """Where to cut given that ``text[start:end]`` is the longest piece that fits, and whether
    the cut is at whitespace (which is then dropped).

    The latest sentence end or line break wins if it leaves the part at least half full (each
    part is a message paid for); else the latest word boundary; else a hard cut, moved back so it
    splits no accent, conjunct or emoji sequence when that is possible.
    """
    sentence = word = 0
    blank = True  # text[start:b] is all whitespace so far (scanning forwards)
    for b in range(start, end + 1):
        if b > start and _space(text[b]) and not blank:
            word = b
            if text[b] in "\n\r" or _ends_sentence(text, start, b):
                sentence = b
        if b < end and not _space(text[b]):
            blank = False
    if sentence and 2 * (sentence - start) >= end - start:
        return sentence, True
    if word:
        return word, True
    b = end
    while b > start + 1 and _glued(text, b):
        b -= 1
    return (b if b > start + 1 or not _glued(text, b) else end), False


def split(text: str, max_segments_per_message: int = 1) -> list[str]:
    """Split ``text`` into messages of at most ``max_segments_per_message`` segments each.

    Each part is measured in its own encoding (a GSM-7-only part of a UCS-2 text gets GSM-7
    room). A text that fits is returned whole. Otherwise, with ``w`` the breakable whitespace
    (``str.isspace`` minus no-break spaces) dropped at each split point and at the very end:
    ``text == p1 + w1 + p2 + w2 + ... + pn + wn``, every ``p`` non-empty, order kept. Cuts fall at
    sentence ends (``. ! ?`` and other scripts' full stops, then a space) or line breaks, else
    between words, else anywhere (see :func:`_cut`).
    """
    if max_segments_per_message < 1:
        raise ValueError("max_segments_per_message must be at least 1")
    parts: list[str] = []
    start, n = 0, len(text)
    while start < n:
        end = _fit(text, start, max_segments_per_message)
        if end == n:
            last = text[start:]
            parts.append(last if not parts else _rstrip(last) or last)
            break
        b, at_space = _cut(text, start, end)
        part = text[start:b]
        if at_space:
            part = _rstrip(part)
            while b < n and _space(text[b]):
                b += 1
        parts.append(part)
        start = b
    return parts


def _rstrip(s: str) -> str:
    i = len(s)
    while i and _space(s[i - 1]):
        i -= 1
    return s[:i]
