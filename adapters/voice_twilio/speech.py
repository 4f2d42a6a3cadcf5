"""Engine replies as a phone call says them, and key presses as the words the engine reads.

Pure (no I/O): the webhook (:mod:`.call`, :mod:`.twiml`) and ``surveybot chat --as voice`` use
it alike. Driven by the reply's choices and the question's type only, so a new question type
needs one more case here:

* choices (choice, labelled scale, language menu): "Press 1 for ..., Press 2 for ..."; one key
  answers (``numDigits=1``), so nobody waits for a timeout or presses #;
* yes/no, consent and every "Did you mean ...?": 1 is yes, 2 is no;
* several choices: their keys then # (``1 4 6`` is keyed ``146#``);
* a number: the digits then #; a date: 8 digits (day, month, year), 6 for a month, 4 for a
  year, sent as soon as they are all in;
* a postcode, free text, an "other" text: spoken (read back by the engine before it records).

Whatever the question, ``*`` is BACK; ``0`` is REPEAT and ``9`` is HELP unless that key is an
answer to the question (a 9th choice, a number question that takes 0). Speech goes to the engine
as spoken, with the speech recogniser's hints taken from the choices.

How key presses read is carried from the prompt to the next request in the Gather's action URL
(``k=``, a :func:`shape`): the request needs no read of the session to make sense of "2".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.models import Reply, ReplyChoice, Session
from bot.phrases import phrase
from bot.prompts import LETTERS, question_choices
from bot.schema import (
    ChoiceQuestion,
    ConsentQuestion,
    DateQuestion,
    Flow,
    MultiQuestion,
    NumberQuestion,
    PostcodeQuestion,
    Question,
    ScaleQuestion,
    TextQuestion,
    YesNoQuestion,
)
from bot.text import tr
from bot.voice import MAX_KEYS, can_hear, can_speak, speakable

VOICE = "voice"
COMMAND_HINTS = ("help", "repeat", "go back", "skip", "stop", "text me")
MAX_HINTS = 60
MAX_HINT_CHARS = 100


@dataclass(frozen=True)
class Said:
    """One thing the call says, in one language."""

    text: str
    lang: str


@dataclass(frozen=True)
class Expect:
    """What the call waits for after a prompt (one ``<Gather>``)."""

    shape: str  # how key presses read: see keyed()
    num_digits: int | None = None  # answer sent after this many keys (else on # or a pause)
    hints: tuple[str, ...] = ()
    speech: bool = True  # speech recognition for the language (else keys only)
    words: bool = False  # free words expected: allow pauses while speaking
    lang: str = "en"
    question: str | None = None  # a question whose choices the keys pick (a key is that choice)


@dataclass(frozen=True)
class Turn:
    """What to say for one step: everything (``said``), the part to say again after silence
    (``prompt``), and what to wait for (None: the call ends after saying it)."""

    said: tuple[Said, ...]
    prompt: tuple[Said, ...] = ()
    expect: Expect | None = None
    extra: dict[str, str] = field(default_factory=dict)


def say(flow: Flow | None, lang: str, name: str, /, **values: object) -> str:
    return phrase(flow, lang, name, channel=VOICE, **values)


# --- key presses -------------------------------------------------------------------------------


def shape(q: Question | None, choices: Sequence[ReplyChoice], *, confirm: bool = False) -> str:
    """How key presses read for a prompt: ``y`` (1 yes, 2 no), ``c5``/``c5a`` (one of 5 choices
    keyed 1-5, shown as numbers or letters), ``m7``/``m7a`` (several), ``s1_5`` (a scale),
    ``n0_168``/``n_`` (a number and its bounds), ``d8``/``d6``/``d4`` (a date), ``t`` (words)."""
    if confirm:
        return "y"
    if isinstance(q, YesNoQuestion | ConsentQuestion):
        return "y"
    letters = "a" if choices and choices[0].key in LETTERS[:1] else ""
    if isinstance(q, MultiQuestion):
        return f"m{len(choices)}{letters}"
    if isinstance(q, ScaleQuestion) and q.choices is None:
        return f"s{q.low}_{q.high}"
    if isinstance(q, NumberQuestion):
        lo = "" if q.min is None else _int(q.min)
        hi = "" if q.max is None else _int(q.max)
        return f"n{lo}_{hi}"
    if isinstance(q, DateQuestion):
        return {"day": "d8", "month": "d6", "year": "d4"}[q.precision]
    if choices:
        return f"c{len(choices)}{letters}"
    return "t"


def _int(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _bounds(shape_: str) -> tuple[float | None, float | None]:
    lo, _, hi = shape_[1:].partition("_")
    try:
        return (float(lo) if lo else None, float(hi) if hi else None)
    except ValueError:
        return None, None


def is_answer_key(shape_: str, key: str) -> bool:
    """Whether a single key is an answer to the prompt (else 0 and 9 are REPEAT and HELP)."""
    if not key.isdigit():
        return False
    n = int(key)
    kind = shape_[:1]
    if kind in ("c", "m"):
        count = int("".join(ch for ch in shape_[1:] if ch.isdigit()) or 0)
        return 1 <= n <= count
    if kind == "y":
        return n in (1, 2)
    if kind in ("s", "n"):
        lo, hi = _bounds(shape_)
        return (lo is None or n >= lo) and (hi is None or n <= hi)
    return False


KEY_COMMANDS = frozenset({"back", "repeat", "help"})
"""What :func:`keyed` gives for the control keys (``*``, ``0``, ``9``): commands, not answers."""


def keyed(shape_: str, digits: str) -> str:
    """What key presses mean, as the words the engine reads ("2" on a lettered list is "B",
    1 on a yes/no is "yes", ``03041960`` a date, ``146`` three choices)."""
    keys = digits.replace("#", "").strip()
    if keys.startswith("*"):
        return "back"
    keys = keys.replace("*", "")
    if keys in ("0", "9") and not is_answer_key(shape_, keys):
        return "repeat" if keys == "0" else "help"
    if not keys:
        return ""
    kind, letters = shape_[:1], shape_.endswith("a")
    if kind == "y":
        return {"1": "yes", "2": "no"}.get(keys, keys)
    if kind == "c" and letters and keys.isdigit() and 1 <= int(keys) <= len(LETTERS):
        return LETTERS[int(keys) - 1]
    if kind == "m":
        count = int("".join(ch for ch in shape_[1:] if ch.isdigit()) or 0)
        if count <= MAX_KEYS:
            picks = [LETTERS[int(k) - 1] if letters and k != "0" else k for k in keys]
            return " ".join(picks)
    if shape_ == "d6" and len(keys) == 6:
        return f"{keys[:2]} {keys[2:]}"
    return keys


# --- what is said ------------------------------------------------------------------------------


def _language_menu(flow: Flow, reply: Reply) -> bool:
    return (
        reply.question is None
        and bool(reply.choices)
        and all(c.value in flow.languages for c in reply.choices)
    )


def options(flow: Flow, reply: Reply, q: Question | None, lang: str) -> list[Said]:
    """The keys to press for a reply's choices, in the call's words."""
    choices = reply.choices
    if not choices:
        return []
    if _language_menu(flow, reply):
        return list(language_menu(flow, [c.value for c in choices]))
    if isinstance(q, YesNoQuestion | ConsentQuestion):
        return [Said(say(flow, lang, "voice_press_yes_no"), lang)]
    lines: list[str] = []
    if isinstance(q, ScaleQuestion) and q.choices is None:
        lines.append(say(flow, lang, "voice_press_scale", low=q.low, high=q.high))
        low, high = q.point_label(q.low, lang), q.point_label(q.high, lang)
        if low and high:
            lines.append(say(flow, lang, "voice_scale_ends", low=q.low, high=q.high,
                             low_label=low, high_label=high))  # fmt: skip
        return [Said(" ".join(lines), lang)]
    if isinstance(q, MultiQuestion):
        lines.append(say(flow, lang, "voice_press_several"))
    for i, c in enumerate(choices, 1):
        lines.append(say(flow, lang, "voice_press_one", key=i, label=speakable(c.label)))
    return [Said(" ".join(lines), lang)]


def spoken_languages(flow: Flow) -> list[str]:
    """The flow's languages a call can speak: the ones a caller may choose."""
    return [lg for lg in flow.languages if can_speak(lg)]


def language_menu(flow: Flow, langs: Sequence[str]) -> tuple[Said, ...]:
    """ "For English, press 1. ..." with each option in its own language and voice: whoever
    chooses may not follow the others."""
    return tuple(Said(say(flow, lg, "language_option", key=i), lg) for i, lg in enumerate(langs, 1))


def _instruction(flow: Flow, q: Question, lang: str) -> str:
    if isinstance(q, NumberQuestion):
        return say(flow, lang, "voice_key_number")
    if isinstance(q, DateQuestion):
        key = {"day": "voice_key_date", "month": "voice_key_month", "year": "voice_key_year"}
        return say(flow, lang, key[q.precision])
    if isinstance(q, PostcodeQuestion):
        return say(flow, lang, "voice_say_postcode")
    if isinstance(q, TextQuestion):
        return say(flow, lang, "voice_say_words")
    return ""


def hints(flow: Flow, q: Question | None, choices: Sequence[ReplyChoice], lang: str) -> list[str]:
    """Words the speech recogniser should expect: the choices (labels and synonyms), yes and
    no, and the commands."""
    found: list[str] = []
    if isinstance(q, YesNoQuestion | ConsentQuestion) or not choices:
        found += ["yes", "no"]
    if isinstance(q, ChoiceQuestion | MultiQuestion):
        for c in q.all_choices():
            found.append(tr(c.label, lang))
            found += c.synonyms_for(lang)
    else:
        found += [c.label for c in choices]
    found += COMMAND_HINTS
    clean = [" ".join(h.replace(",", " ").split())[:MAX_HINT_CHARS] for h in found]
    return list(dict.fromkeys(h for h in clean if h))[:MAX_HINTS]


def turn(flow: Flow, session: Session, replies: Sequence[Reply]) -> Turn:
    """What the call says for one step's replies and what it then waits for; the call ends
    (``expect`` None) once the session is no longer under way."""
    lang = session.lang
    said: list[Said] = []
    for r in replies[:-1]:
        text = speakable(r.text)
        if text:
            said.append(Said(text, r.lang))
    if not replies:
        return Turn(tuple(said))
    last = replies[-1]
    if session.status.finished or session.current is None:
        said.append(Said(speakable(last.text), last.lang))
        return Turn(tuple(s for s in said if s.text))
    q = flow.question(session.current)
    pending = session.pending
    confirm = pending is not None and pending.kind == "confirm"
    words = pending is not None and pending.kind == "other"
    menu = _language_menu(flow, last)
    choices: Sequence[ReplyChoice] = last.choices
    if not choices and q is not None and not confirm and not words and last.kind == "error":
        choices = question_choices(q, lang)
    prompt: list[Said] = []
    text = speakable(last.text)
    if menu:
        kind = f"c{len(choices)}"
        prompt = [Said(text, last.lang), *options(flow, last, None, lang)]
    elif confirm:
        kind = "y"
        prompt = [Said(text, last.lang)]
    elif words:
        kind = "t"
        prompt = [Said(" ".join([text, say(flow, lang, "voice_say_words")]), last.lang)]
    else:
        kind = shape(q, choices)
        extra = [o.text for o in options(flow, last.model_copy(update={"choices": list(choices)}),
                                         q, lang)]  # fmt: skip
        if q is not None and not choices:
            extra.append(_instruction(flow, q, lang))
        if q is not None and q.optional:
            extra.append(say(flow, lang, "voice_or_skip"))
        prompt = [Said(" ".join(p for p in [text, *extra] if p), last.lang)]
    prompt = [p for p in prompt if p.text]
    one_key = kind[:1] in ("c", "y") and (kind == "y" or _count(kind) <= MAX_KEYS)
    if kind[:1] == "s":
        lo, hi = _bounds(kind)
        one_key = lo is not None and hi is not None and lo >= 0 and hi <= MAX_KEYS
    digits = {"d8": 8, "d6": 6, "d4": 4}.get(kind, 1 if one_key else None)
    expect = Expect(
        shape=kind,
        num_digits=digits,
        hints=tuple(hints(flow, q if not (confirm or menu) else None, choices, lang)),
        speech=can_hear(lang),
        words=kind == "t",
        lang=lang,
        question=q.id if kind[:1] == "c" and isinstance(q, ChoiceQuestion) and not menu else None,
    )
    return Turn(tuple([*said, *prompt]), tuple(prompt), expect)


def _count(kind: str) -> int:
    return int("".join(ch for ch in kind[1:] if ch.isdigit()) or 0)
