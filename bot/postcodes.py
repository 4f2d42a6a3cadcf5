"""Postcode answers: only the district (outward code, ``LE16``) is kept, and only a real one.

A message is read as a postcode in any case or spacing, alone or inside other words. The
district must be in the list of UK postcode districts in use (``bot/data/postcode_districts.txt``,
with its source and date), so a typo or a half-typed code is asked again, never stored as a
different district: ``LE3 5`` is ``LE3`` (the space ends the outward code), ``LE35`` is not a
district and ``LE35 5AB`` is not a postcode. The full postcode is never returned.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from importlib import resources
from itertools import pairwise

__all__ = ["districts", "parse_postcode", "postcode_district", "postcode_misread"]

# Royal Mail outward formats A9, A99, A9A, AA9, AA99, AA9A, with the letters each position allows.
_OUTWARD = (
    r"(?:[A-PR-UWYZ][0-9]{1,2}|[A-PR-UWYZ][A-HK-Y][0-9]{1,2}|[A-PR-UWYZ][0-9][A-HJKPSTUW]"
    r"|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRV-Y])"
)
_POSTCODE = re.compile(rf"(?P<out>{_OUTWARD})(?P<in>[0-9][A-Z]{{2}})?")
_INWARD = re.compile(r"[0-9][A-Z]{2}")


@cache
def districts() -> frozenset[str]:
    """Every UK postcode district in use, from the shipped list."""
    text = resources.files("bot").joinpath("data/postcode_districts.txt").read_text("utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def _upper(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).upper()
    return "".join(
        str(unicodedata.decimal(c, 0)) if unicodedata.category(c) == "Nd" else c for c in folded
    )


def _district(compact: str, *, full_only: bool = False) -> str | None:
    """The district of a compact postcode (``LE167AA``) or outward code (``LE16``), if real."""
    m = _POSTCODE.fullmatch(compact)
    if m is None or (full_only and m.group("in") is None):
        return None
    out = m.group("out")
    return out if out in districts() else None


def postcode_district(text: str) -> str | None:
    """The district of a message that is a UK postcode or an outward code alone, or None."""
    if len(text) > 40:
        return None
    s = _upper(text).strip().strip(".,;:!?()[]\"'")
    parts = s.split()
    if len(parts) == 2 and _POSTCODE.fullmatch(parts[0]) and not _INWARD.fullmatch(parts[1]):
        return None  # "LE1 6": the space ends the outward code, so never "LE16"
    compact = re.sub(r"[\s-]+", "", s)
    if not compact or len(compact) > 7 or not compact.isalnum():
        return None
    if compact in ("GIR0AA", "GIR"):
        return "GIR"  # Girobank's non-geographic postcode, still in use
    return _district(compact)


def parse_postcode(text: str) -> str | None:
    """The one district a message names, or None (none, two different ones, or not real).

    Looked for in order: the whole message; a full postcode inside it (``my postcode is le16
    7aa``, ``LE167AA``); an outward code followed by the start of an inward code (``LE3 5``);
    an outward code alone among other words (``I live in LE16``).
    """
    whole = postcode_district(text)
    if whole is not None:
        return whole
    if len(text) > 500:
        return None
    toks = re.findall(r"[A-Z0-9]+", _upper(text))
    full = {d for a, b in pairwise(toks) if (d := _district(a + b, full_only=True)) is not None}
    full |= {d for t in toks if (d := _district(t, full_only=True)) is not None}
    if full:
        return full.pop() if len(full) == 1 else None
    found: set[str] = set()
    for i, t in enumerate(toks):
        if not any(c.isdigit() for c in t) or not any(c.isalpha() for c in t):
            continue
        d = _district(t)
        if d is None:
            continue
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        if nxt and nxt.isdigit() and len(nxt) > 1:
            continue  # "LE3 55": not the start of a postcode; ask again
        found.add(d)
    return found.pop() if len(found) == 1 else None


# Only letters typed for digits: the reverse ("B51" for BS1) is too far a guess to offer.
_LOOKALIKE = {"O": "0", "I": "1"}


def postcode_misread(text: str) -> str | None:
    """The one district a message names if a letter typed for a look-alike digit (or the
    reverse) is put right in a word that mixes letters and digits (``LE1O 1AB`` is LE10), or
    None. A likely answer to check with the person, never one to store unasked."""
    if len(text) > 100:
        return None
    words = _upper(text).split()
    slots = [
        (w, j)
        for w, word in enumerate(words)
        if any(c.isdigit() for c in word) and any(c.isalpha() for c in word)
        for j, ch in enumerate(word)
        if ch in _LOOKALIKE and j > 0
    ]
    if not slots or len(slots) > 6:
        return None
    found: set[str] = set()
    for w, j in slots:
        fixed = list(words)
        word = fixed[w]
        fixed[w] = word[:j] + _LOOKALIKE[word[j]] + word[j + 1 :]
        district = parse_postcode(" ".join(fixed))
        if district is not None:
            found.add(district)
    return found.pop() if len(found) == 1 else None
