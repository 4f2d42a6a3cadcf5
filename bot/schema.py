"""The flow format: what a council officer writes in a YAML file, as pydantic models.

The JSON Schema that editors use (``surveybot schema``) is generated from these models, so the
field descriptions below are what an officer sees when hovering in VS Code: keep them plain.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Annotated, Any, Literal, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from bot.packs import PACKS
from bot.standard import Concept
from bot.text import LText, tr

# --- small value types -------------------------------------------------------------------------

_DURATION = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?|"
    r"d|days?|w|wk|wks|weeks?)\s*$",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_DURATION = timedelta(days=3653)
"""Longest duration a flow may set (10 years): past it a duration is a typo, and a huge one
would overflow the date arithmetic that every step does with it."""
MAX_NUMBER = 10**15
"""Largest magnitude of a number a flow sets or an answer gives. Beyond it a number loses
precision as a float and no longer fits the 64-bit integers JSON encoders write."""
FIRST_YEAR, LAST_YEAR = 2000, 2999
"""Opening and closing dates must fall in these years (a year 9999 overflows date arithmetic)."""


def parse_duration(value: Any) -> timedelta:
    """``"21d"``, ``"24 hours"``, ``"90m"``, ``"2 weeks"`` or a number of seconds; at most
    :data:`MAX_DURATION`, never negative (ValueError, which the loader reports with the line)."""
    if isinstance(value, timedelta):
        return _bounded(value.total_seconds(), value)
    if isinstance(value, bool):
        raise ValueError("a duration such as '24h' or '21 days'")
    if isinstance(value, int | float):
        return _bounded(value, value)
    if isinstance(value, str):
        m = _DURATION.fullmatch(value)
        if m:
            unit = m.group(2).lower()
            key = "m" if unit.startswith("min") or unit == "m" else unit[0]
            return _bounded(float(m.group(1)) * _UNIT_SECONDS[key], value)
    raise ValueError(f"{value!r} is not a duration; write e.g. '24h', '21 days' or '90m'")


def _bounded(seconds: float, given: Any) -> timedelta:
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{given!r} is not a duration; write e.g. '24h', '21 days' or '90m'")
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"{given!r} is too long: a duration may be at most 10 years (3653 days)")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": _DURATION.pattern},
                {"type": "number", "minimum": 0, "maximum": MAX_DURATION.total_seconds()},
            ],
            "description": "A duration such as '24h', '21 days', '90m' or '2 weeks' (at most "
            "10 years).",
        }
    ),
]

_HHMM = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)\s*$")


class QuietHours(BaseModel):
    """A daily window, in the flow's time zone, when no unprompted message is sent."""

    model_config = ConfigDict(frozen=True)

    start: time
    end: time

    def contains(self, t: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


def _parse_quiet_hours(value: Any) -> Any:
    if isinstance(value, str):
        m = _HHMM.fullmatch(value)
        if not m:
            raise ValueError(f"{value!r} is not a time window; write it like '20:00-09:00'")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        return {"start": time(h1, m1), "end": time(h2, m2)}
    return value


QuietWindow = Annotated[
    QuietHours,
    BeforeValidator(_parse_quiet_hours),
    PlainSerializer(lambda q: f"{q.start:%H:%M}-{q.end:%H:%M}", return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _HHMM.pattern,
            "description": "Hours with no reminders, e.g. '20:00-09:00'.",
        }
    ),
]

QUESTION_ID = r"^[a-z][a-z0-9_]{0,29}$"
CHOICE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,29}$"
FLOW_ID = r"^[a-z0-9][a-z0-9-]{0,39}$"
SOURCE_ID = r"^[a-z0-9][a-z0-9-]{0,29}$"
KEYWORD = r"^[A-Za-z0-9]{2,20}$"
END = "end"
"""The ``next:`` target that finishes the survey."""


class _Model(BaseModel):
    # extra="forbid" turns an officer's typo ("chioces") into an error instead of silence.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --- choices -----------------------------------------------------------------------------------


class Choice(_Model):
    """One answer a respondent can pick."""

    id: str = Field(pattern=CHOICE_ID, description="Short code stored as the answer, e.g. 'carer'.")
    label: LText = Field(description="What the respondent sees.")
    synonyms: list[str] | dict[str, list[str]] = Field(
        default_factory=list,
        description="Other words people may type for this choice (optionally per language).",
    )
    exclusive: bool = Field(
        default=False, description="In a multi question, cannot be picked with other choices."
    )
    phrases: list[str] | dict[str, list[str]] = Field(
        default_factory=list,
        description="Phrases that may appear inside a longer reply, in this word order, e.g. "
        "'I care for' or 'cares for me' ('...' allows a few words between). Optionally per "
        "language.",
    )
    range: tuple[float | None, float | None] | None = Field(
        default=None,
        description="For a band, the numbers it covers, both included: [10, 19], or [75, null] "
        "for 75 and over. Without it the range is read from the label ('10 to 19 hours').",
    )
    means: Concept | None = Field(
        default=None,
        description="The standard answer this choice is, when its label does not say so: "
        "prefer_not, dont_know, maybe, or a point of the agree scale.",
    )

    def synonyms_for(self, lang: str) -> list[str]:
        if isinstance(self.synonyms, list):
            return self.synonyms
        return [*self.synonyms.get(lang, []), *self.synonyms.get("en", [])]

    def phrases_for(self, lang: str) -> list[str]:
        if isinstance(self.phrases, list):
            return self.phrases
        return [*self.phrases.get(lang, []), *self.phrases.get("en", [])]

    @field_validator("range")
    @classmethod
    def _range_order(
        cls, value: tuple[float | None, float | None] | None
    ) -> tuple[float | None, float | None] | None:
        if value is not None and None not in value and value[1] < value[0]:  # type: ignore[operator]
            raise ValueError("range: the first number must not be above the second")
        if value is not None and value == (None, None):
            raise ValueError("range: give at least one end, e.g. [75, null]")
        return value


class Other(_Model):
    """An 'Other' choice with a free-text follow-up."""

    id: str = Field(default="other", pattern=CHOICE_ID)
    label: LText = "Something else"
    prompt: LText = Field(
        default="Please tell us in a few words.", description="The follow-up question."
    )
    max_length: int = Field(default=500, ge=1, le=5000)


# --- questions ---------------------------------------------------------------------------------

NextSpec: TypeAlias = str | dict[str, str]


class _Question(_Model):
    id: str = Field(pattern=QUESTION_ID, description="Unique within the flow; used in conditions.")
    text: LText = Field(description="The question as sent. {other_id} pipes in an earlier answer.")
    voice: LText | None = Field(
        default=None,
        description="Said instead of 'text' on a phone call, where the text does not suit being "
        "spoken (a web address, a long list, emoji, 'text SKIP'). The keys to press are added.",
    )
    hint: LText | None = Field(default=None, description="How to answer; sent on a re-prompt.")
    label: str | None = Field(default=None, description="Short name for exports and reports.")
    optional: bool = Field(default=False, description="The respondent may reply SKIP.")
    reprompt: LText | None = Field(
        default=None,
        description="Sent instead of the standard text when an answer is not understood.",
    )
    when: str | None = Field(
        default=None,
        description="Ask only if this condition holds, e.g. 'role == \"carer\"'.",
    )
    next: NextSpec | None = Field(
        default=None,
        description="Where to go next: a question id, 'end', or a map of answer to question id "
        "(with 'default').",
    )
    equality: bool = Field(
        default=False,
        description="An equality-monitoring question (special-category data such as religion, "
        "health or sexual orientation). A flow that asks one must give 'privacy'. Questions "
        "with an equality 'pack' count as one without saying so.",
    )

    @property
    def answerable(self) -> bool:
        return True

    def short(self) -> str:
        return self.label or self.id


class _DontKnow(_Model):
    """A question that may carry a "Don't know" answer in one line."""

    dont_know: LText | bool = Field(
        default=False,
        description='true adds a "Don\'t know" answer (stored as dont_know) in every language; '
        "or give its label, e.g. {en: Not sure, gu: ...}.",
    )

    def dont_know_label(self) -> LText | None:
        """The label of the added answer, or None when the question has none."""
        if self.dont_know is False:
            return None
        return "Don't know" if self.dont_know is True else self.dont_know


class TextQuestion(_Question):
    type: Literal["text"]
    min_length: int = Field(default=1, ge=0, le=10000)
    max_length: int = Field(default=1000, ge=1, le=10000)


class ChoiceQuestion(_DontKnow, _Question):
    type: Literal["choice"]
    choices: list[Choice]
    other: Other | None = None
    letters: bool = Field(default=False, description="Show A, B, C instead of 1, 2, 3.")
    pack: str | list[str] | None = Field(
        default=None,
        description="Standard answer packs whose words this question understands: "
        + ", ".join(sorted(PACKS))
        + ". Write one name or a list.",
    )

    @field_validator("pack")
    @classmethod
    def _known_packs(cls, value: str | list[str] | None) -> str | list[str] | None:
        for name in [value] if isinstance(value, str) else value or ():
            if name not in PACKS:
                raise ValueError(
                    f"unknown answer pack {name!r}; the packs are: {', '.join(sorted(PACKS))}"
                )
        return value

    def packs(self) -> tuple[str, ...]:
        return (self.pack,) if isinstance(self.pack, str) else tuple(self.pack or ())

    def all_choices(self) -> list[Choice]:
        if self.other is None:
            return list(self.choices)
        return [*self.choices, Choice(id=self.other.id, label=self.other.label)]


class MultiQuestion(_DontKnow, _Question):
    type: Literal["multi"]
    choices: list[Choice]
    other: Other | None = None
    min_picks: int = Field(default=1, ge=0, le=1000)
    max_picks: int | None = Field(default=None, ge=1, le=1000)
    none_of_these: LText | bool | None = Field(
        default=None,
        description="Add a 'None of these' choice (id 'none') that cannot be picked with others.",
    )
    letters: bool = False
    pack: str | list[str] | None = Field(
        default=None,
        description="Standard answer packs whose words this question understands: "
        + ", ".join(sorted(PACKS))
        + ". Write one name or a list.",
    )

    @field_validator("pack")
    @classmethod
    def _known_packs(cls, value: str | list[str] | None) -> str | list[str] | None:
        for name in [value] if isinstance(value, str) else value or ():
            if name not in PACKS:
                raise ValueError(
                    f"unknown answer pack {name!r}; the packs are: {', '.join(sorted(PACKS))}"
                )
        return value

    def packs(self) -> tuple[str, ...]:
        return (self.pack,) if isinstance(self.pack, str) else tuple(self.pack or ())

    def all_choices(self) -> list[Choice]:
        out = list(self.choices)
        if self.other is not None:
            out.append(Choice(id=self.other.id, label=self.other.label))
        if self.none_of_these:
            label: LText = "None of these" if self.none_of_these is True else self.none_of_these
            out.append(Choice(id="none", label=label, exclusive=True, synonyms=["nothing"]))
        return out


class ScaleQuestion(_DontKnow, _Question):
    """Either a numeric scale (``min``/``max`` with end ``labels``) or labelled points (``choices``).

    The stored answer is always the point's number, 1..n for labelled points.
    """

    type: Literal["scale"]
    min: int = Field(default=1, ge=-1000, le=1000)
    max: int = Field(default=5, ge=-1000, le=1000)
    labels: dict[int, LText] = Field(
        default_factory=dict,
        description="Labels for some points, e.g. {1: 'Poor', 5: 'Excellent'}.",
    )
    choices: list[Choice] | None = Field(
        default=None,
        description="Labelled points in order, e.g. strongly disagree .. strongly agree.",
    )

    @model_validator(mode="after")
    def _range(self) -> ScaleQuestion:
        if self.choices is not None:
            if len(self.choices) < 2:
                raise ValueError("a labelled scale needs at least 2 points")
        elif self.max <= self.min:
            raise ValueError("scale 'max' must be greater than 'min'")
        elif self.max - self.min > 10:
            raise ValueError("a scale may have at most 11 points")
        return self

    @property
    def low(self) -> int:
        return 1 if self.choices is not None else self.min

    @property
    def high(self) -> int:
        return len(self.choices) if self.choices is not None else self.max

    def point_label(self, n: int, lang: str) -> str | None:
        if self.choices is not None:
            if 1 <= n <= len(self.choices):
                return tr(self.choices[n - 1].label, lang)
            return None
        text = self.labels.get(n)
        return tr(text, lang) if text is not None else None


class YesNoQuestion(_DontKnow, _Question):
    type: Literal["yesno"]


class NumberQuestion(_Question):
    type: Literal["number"]
    integer: bool = Field(default=True, description="Whole numbers only.")
    min: float | None = Field(default=None, ge=-MAX_NUMBER, le=MAX_NUMBER)
    max: float | None = Field(default=None, ge=-MAX_NUMBER, le=MAX_NUMBER)

    @model_validator(mode="after")
    def _range(self) -> NumberQuestion:
        if self.min is not None and self.max is not None and self.max < self.min:
            raise ValueError("number 'max' must not be below 'min'")
        return self


class DateQuestion(_Question):
    type: Literal["date"]
    precision: Literal["day", "month", "year"] = Field(
        default="day",
        description="The least detail accepted: 'year' accepts '1960', 'April 1960' or '3/4/1960'.",
    )
    min_year: int = Field(default=1900, ge=1000, le=9999)
    max_year: int = Field(default=2100, ge=1000, le=9999)


class PostcodeQuestion(_Question):
    """A UK postcode; only the district (e.g. LE16) is stored."""

    type: Literal["postcode"]


class InfoQuestion(_Question):
    """A message that needs no answer; the next question follows at once."""

    type: Literal["info"]

    @property
    def answerable(self) -> bool:
        return False


class ConsentQuestion(_Question):
    """A yes/no; a 'no' ends the survey politely with ``declined``."""

    type: Literal["consent"]
    declined: LText = Field(
        default="Thank you. We will not ask you anything else. You can text START to begin again.",
        description="Sent when the respondent does not consent.",
    )


Question = Annotated[
    TextQuestion
    | ChoiceQuestion
    | MultiQuestion
    | ScaleQuestion
    | YesNoQuestion
    | NumberQuestion
    | DateQuestion
    | PostcodeQuestion
    | InfoQuestion
    | ConsentQuestion,
    Field(discriminator="type"),
]

QUESTION_TYPES = (
    "text",
    "choice",
    "multi",
    "scale",
    "yesno",
    "number",
    "date",
    "postcode",
    "info",
    "consent",
)


# --- flow settings -----------------------------------------------------------------------------


class Contact(_Model):
    """Who runs the consultation; HELP always gives at least one of these."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    web: str | None = None

    @model_validator(mode="after")
    def _some(self) -> Contact:
        if not (self.phone or self.email or self.web):
            raise ValueError("give at least a phone, an email or a web address")
        return self


class Reminders(_Model):
    """Gentle nudges to respondents who went quiet part way through."""

    after: Duration = Field(default=timedelta(hours=24), description="Silence before the first.")
    every: Duration = Field(default=timedelta(hours=48), description="Gap between reminders.")
    max: int = Field(default=2, ge=0, le=5, description="At most this many per respondent.")
    quiet_hours: QuietWindow = Field(
        default=QuietHours(start=time(20, 0), end=time(9, 0)),
        description="Never send in this window (flow time zone).",
    )
    text: LText | None = Field(
        default=None, description="Reminder text; {progress} and {title} are filled in."
    )
    final: LText | None = Field(
        default=None, description="Optional last message when the survey closes or expires."
    )


CONTENT_SID = r"^HX[0-9a-fA-F]{32}$"
TEMPLATE_FIELDS = ("title", "progress", "answered", "total", "council")
"""What a WhatsApp template's variables may hold: ``{title}``, ``{progress}`` ("3 of 20")..."""
ContentSid = Annotated[str, Field(pattern=CONTENT_SID)]


class WhatsAppTemplate(_Model):
    """A WhatsApp template approved by Meta (a Twilio Content Template, ``HX...``), used when
    the person's last message is more than 24 hours old: WhatsApp allows nothing else then."""

    content: ContentSid | dict[str, ContentSid] = Field(
        description="The template's Content SID (HX followed by 32 hex digits), or one per "
        "language, e.g. {en: HX..., gu: HX...}."
    )
    variables: dict[str, LText] = Field(
        default_factory=dict,
        description="What to fill in the template's {{1}}, {{2}}...: e.g. {'1': '{title}', "
        "'2': '{progress}'}; {title}, {progress}, {answered}, {total} and {council} are filled in.",
    )

    def content_for(self, lang: str, fallback: str) -> str | None:
        """The Content SID for ``lang`` (else the ``fallback`` language's, else None)."""
        if isinstance(self.content, str):
            return self.content
        return self.content.get(lang) or self.content.get(fallback)


class WhatsApp(_Model):
    """WhatsApp templates for the messages a survey sends unprompted (reminders, closing)."""

    reminder: WhatsAppTemplate | None = Field(
        default=None, description="Template for reminders sent after the 24-hour window."
    )
    final: WhatsAppTemplate | None = Field(
        default=None, description="Template for the closing message sent after the window."
    )


def whatsapp_template(
    flow: Flow, defaults: WhatsApp | None, kind: Literal["remind", "final"]
) -> WhatsAppTemplate | None:
    """The flow's WhatsApp template for reminders (``remind``) or the closing message
    (``final``), else the one from the settings (``defaults``)."""
    for source in (flow.whatsapp, defaults):
        if source is not None:
            found = source.reminder if kind == "remind" else source.final
            if found is not None:
                return found
    return None


class Source(_Model):
    """A community group that shares the survey; responses record which group brought them."""

    id: str = Field(pattern=SOURCE_ID)
    name: str
    keyword: str | None = Field(
        default=None, pattern=KEYWORD, description="Second SMS word, e.g. HARBOROUGH."
    )
    language: str | None = Field(
        default=None,
        description="Start people who come through this group in this language (one of the "
        "flow's languages), e.g. gu for a Gujarati carers group. They can still switch.",
    )
    area: str | None = Field(
        default=None,
        description="The id of the area (under 'areas') this group serves: its contact is the "
        "one offered to people it brings.",
    )


class Area(_Model):
    """A part of the consultation's patch with its own contact (a joint consultation by several
    councils). People are matched to an area by the group that brought them or by the district
    of a postcode they give; otherwise the flow's 'contact' is offered."""

    id: str = Field(pattern=SOURCE_ID)
    name: str
    contact: Contact
    postcodes: list[str] = Field(
        default_factory=list,
        description="Postcode districts (e.g. LE1, LE15) or areas (e.g. LE) in this area.",
    )


class Privacy(_Model):
    """The privacy notice (UK GDPR articles 13 and 14) in short. Required when a flow asks an
    equality question; PRIVACY sends it."""

    controller: str = Field(description="Who decides how the answers are used, e.g. the council.")
    purpose: LText = Field(description="Why the answers are collected.")
    lawful_basis: LText = Field(
        description="The lawful basis, and for equality data the Article 9 condition, in plain "
        "words."
    )
    retention: LText = Field(description="How long answers are kept, e.g. 'until March 2024'.")
    link: str = Field(description="Where the full notice is, e.g. https://.../privacy.")
    notice: LText | None = Field(
        default=None,
        description="The short notice PRIVACY sends (at most 2 SMS parts per language); built "
        "from the fields above when left out.",
    )


class CommandWords(_Model):
    """Extra words for the commands in one language (added to the built-in ones)."""

    stop: list[str] = Field(default_factory=list)
    start: list[str] = Field(default_factory=list)
    help: list[str] = Field(default_factory=list)
    back: list[str] = Field(default_factory=list)
    skip: list[str] = Field(default_factory=list)
    restart: list[str] = Field(default_factory=list)
    language: list[str] = Field(default_factory=list)
    progress: list[str] = Field(default_factory=list)
    repeat: list[str] = Field(default_factory=list)
    privacy: list[str] = Field(default_factory=list)
    delete: list[str] = Field(default_factory=list)
    yes: list[str] = Field(default_factory=list)
    no: list[str] = Field(default_factory=list)


class VoiceTexts(_Model):
    """What a phone call says instead of the flow's texts. The call always starts by naming the
    survey and the council and saying how to stop and get help; 'intro' follows that."""

    key: int | None = Field(
        default=None,
        ge=1,
        le=9,
        description="The key callers press for this survey when the phone number serves several "
        "(printed by surveybot link: 'Call 0116 ... and press 2'). Leave it out on a number "
        "tied to this survey alone.",
    )

    intro: LText | None = Field(
        default=None,
        description="Said after the standard phone welcome (the text intro is not said: it "
        "usually tells people to text STOP).",
    )
    thanks: LText | None = Field(default=None, description="Said instead of 'thanks'.")
    closed_text: LText | None = Field(default=None, description="Said instead of 'closed_text'.")


class Flow(_Model):
    """One consultation survey."""

    id: str = Field(pattern=FLOW_ID, description="Short name, e.g. 'carers-strategy'.")
    title: LText
    council: str = Field(description="Who runs it; named in the first message.")
    contact: Contact
    areas: list[Area] = Field(
        default_factory=list,
        description="Parts of the patch with their own contact (joint consultations).",
    )
    privacy: Privacy | None = Field(
        default=None,
        description="The short privacy notice; required when any question is an equality one.",
    )
    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1)
    timezone: str = "Europe/London"
    intro: LText = Field(description="First message: who is asking, why, and how to stop.")
    thanks: LText = Field(description="Sent when the survey is complete.")
    opens: date | datetime | None = None
    closes: date | datetime | None = Field(
        default=None, description="Last day answers are taken (end of that day, flow time zone)."
    )
    closed_text: LText = "This survey has now closed. Thank you for your interest."
    expiry: Duration = Field(
        default=timedelta(days=21),
        description="An unfinished session ends after this much silence.",
    )
    welcome_back_after: Duration = Field(
        default=timedelta(hours=12), description="After this long a gap, say 'welcome back'."
    )
    max_misses: int = Field(
        default=2, ge=1, le=10, description="Answers not understood before offering SKIP or HELP."
    )
    reminders: Reminders = Field(default_factory=Reminders)
    keywords: list[Annotated[str, Field(pattern=KEYWORD)]] = Field(
        default_factory=list, description="SMS words that start this survey, e.g. CARERS."
    )
    sources: list[Source] = Field(default_factory=list)
    commands: dict[str, CommandWords] = Field(
        default_factory=dict, description="Extra command words per language code."
    )
    whatsapp: WhatsApp | None = Field(
        default=None,
        description="WhatsApp templates for reminders and the closing message, per language.",
    )
    messages: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Override the bot's standard sentences per language, e.g. {gu: {not_understood: ...}}.",
    )
    answer_words: dict[str, dict[Concept, list[str]]] = Field(
        default_factory=dict,
        description="Extra words for the standard answers, per language, e.g. "
        "{en: {prefer_not: ['not for you to know']}, gu: {maybe: [...]}}.",
    )
    voice: VoiceTexts = Field(
        default_factory=VoiceTexts,
        description="Phone calls (all optional): texts said instead, and the survey's key.",
    )
    questions: list[Question] = Field(min_length=1)

    # Set by the loader (content hash of the file), never written by officers.
    version: str = Field(default="", exclude=True, json_schema_extra={"readOnly": True})

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a name too long
            raise ValueError(f"unknown time zone {value!r}; e.g. 'Europe/London'") from exc
        return value

    @field_validator("opens", "closes")
    @classmethod
    def _year(cls, value: date | datetime | None) -> date | datetime | None:
        if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise ValueError(
                f"{value.isoformat()} is not a likely date: use a year from {FIRST_YEAR} to "
                f"{LAST_YEAR}, e.g. 2026-12-31"
            )
        return value

    @field_validator("keywords")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        return [k.upper() for k in value]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def question(self, qid: str) -> Question | None:
        return self._index.get(qid)

    def position(self, qid: str) -> int:
        """0-based position of a question in file order (-1 if absent)."""
        return self._positions.get(qid, -1)

    # Derived lookups, computed once (a flow never changes after loading; these run per message).
    @cached_property
    def _positions(self) -> dict[str, int]:
        return {q.id: i for i, q in enumerate(self.questions)}

    @cached_property
    def _window(self) -> tuple[datetime | None, datetime | None]:
        # In UTC: comparing with a ZoneInfo datetime costs a zone lookup on every message.
        o, c = self.opens_at(), self.closes_at()
        return (o.astimezone(UTC) if o else None, c.astimezone(UTC) if c else None)

    @cached_property
    def _index(self) -> dict[str, Question]:
        return {q.id: q for q in self.questions}

    def source(self, sid: str | None) -> Source | None:
        for s in self.sources:
            if s.id == sid:
                return s
        return None

    def opens_at(self) -> datetime | None:
        return _as_local(self.opens, self.tz, end_of_day=False)

    def closes_at(self) -> datetime | None:
        return _as_local(self.closes, self.tz, end_of_day=True)

    def is_open(self, now: datetime) -> bool:
        o, c = self._window
        return (o is None or now >= o) and (c is None or now < c)

    def overlaps(self, other: Flow) -> bool:
        """Whether this survey and ``other`` can be open at the same time."""
        (a_open, a_close), (b_open, b_close) = self._window, other._window
        return (a_open is None or b_close is None or a_open < b_close) and (
            b_open is None or a_close is None or b_open < a_close
        )


def _as_local(value: date | datetime | None, tz: ZoneInfo, *, end_of_day: bool) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if end_of_day:
        return datetime.combine(value + timedelta(days=1), time(0), tzinfo=tz)
    return datetime.combine(value, time(0), tzinfo=tz)
