"""Messages that are not answers at all: "who is this?", "how did you get my number", "wrong
number", "hello?". Never stored, whatever the question (a free-text question included): the
engine says who is asking and puts the question again.

A closed question also treats a short message that starts like one of these as a query ("who is
this please"). A free-text question takes only the whole message: "can you call me about
respite" is a fair answer to "what else should we do?".
"""

from __future__ import annotations

from bot.words import normalise

__all__ = ["is_query"]

_WHOLE = frozenset(
    normalise(w)
    for w in (
        "who is this",
        "whos this",
        "who's this",
        "who is it",
        "who are you",
        "who r u",
        "who dis",
        "who",
        "what is this",
        "whats this",
        "what is this about",
        "whats this about",
        "what is this for",
        "whats this for",
        "what is it",
        "what",
        "wot",
        "wat",
        "huh",
        "eh",
        "pardon",
        "sorry",
        "what do you mean",
        "what does that mean",
        "i dont understand",
        "dont understand",
        "i don't get it",
        "confused",
        "im confused",
        "hello",
        "helo",
        "hi",
        "hiya",
        "hey",
        "hi there",
        "hello there",
        "test",
        "testing",
        "is this a scam",
        "scam",
        "spam",
        "is this real",
        "is this genuine",
        "is this legit",
        "wrong number",
        "sorry wrong number",
        "you have the wrong number",
        "call me",
        "ring me",
        "phone me",
        "please call me",
        "can you call me",
        "can u call me",
        "can you ring me",
        "how did you get my number",
        "how did u get my number",
        "where did you get my number",
        "why are you texting me",
        "why",
        # Gujarati
        "કોણ",
        "કોણ છો",
        "તમે કોણ છો",
        "આ શું છે",
        "શું",
        "kon",
        "kon cho",
        "kaun",
    )
)
_OPENERS = tuple(
    normalise(w) + " "
    for w in (
        "who is this",
        "whos this",
        "who are you",
        "who r u",
        "what is this",
        "whats this",
        "how did you get",
        "how did u get",
        "how have you got",
        "where did you get",
        "is this a scam",
        "is this real",
        "wrong number",
        "sorry wrong number",
        "can you call",
        "can u call",
        "could you call",
        "please call",
        "call me",
        "can you ring",
        "why are you texting",
        "what do you mean",
        "i dont understand",
        "તમે કોણ",
    )
)
_OPENER_MAX_WORDS = 8


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# A question back to us: an interrogative word, then a verb or "?" ("what's a carer?", "why do
# you need to know", "who's asking?"). Closed questions only, except "who ...?", which asks who
# is texting, whatever the question.
_WH = _words(
    "what whats wat wats wot wots who whos whose why how hows where wheres when whens which"
)
_AUX = _words(
    """is are was were do does did dont doesnt can cant could would should will wont shall
    s r u you ya this that it these those a an the does have has"""
)
_WHO = frozenset(("who", "whos", "whose"))
_CONTACT = _words("ring call phone speak talk email text contact")


def is_query(text: str, *, free_text: bool = False) -> bool:
    """Whether the message is a question to us or a greeting, not an answer."""
    if len(text) > 200:
        return False
    norm = normalise(text)
    if not norm:
        stripped = text.strip()
        return "?" in stripped and set(stripped) <= {"?", "!"}
    if norm in _WHOLE:
        return True
    toks = norm.split()
    asked = text.rstrip().endswith("?")
    if free_text:
        return asked and len(toks) <= 6 and toks[0] in _WHO
    if len(toks) > _OPENER_MAX_WORDS:
        return False
    if toks[0] in _WH and (asked or (len(toks) > 1 and toks[1] in _AUX)):
        return True
    if toks[:2] in (["can", "i"], ["could", "i"], ["may", "i"]) and set(toks[2:4]) & _CONTACT:
        return True  # "can I ring someone", "could I speak to a person": HELP gives the contact
    return (norm + " ").startswith(_OPENERS)
