"""The results report: one self-contained HTML file (inline CSS, hand-written inline SVG, no JS).

Pure: a flow and responses in, one HTML string out. Responses are tallied as they come
(:class:`Tally`), so a big consultation is read once and only counts (plus free-text answers,
which the report lists) are kept.

What it shows:

* Responses: by status, channel, source group and day (week when the survey ran over two
  months), and the median time to complete. These count every response, whatever its status.
* Drop-off funnel: for each question, how many reached it (it was asked: an answer or a SKIP
  was recorded, or it is where an unfinished respondent stopped, i.e. the question their last
  answer leads to), answered it, skipped it, and stopped there.
* Each question (complete responses, or all with ``partial``): counts and percentages with a
  horizontal bar chart; free-text answers listed; numbers summarised (count, median, min, max
  and a histogram); dates by year; other-text answers listed. With ``by`` (a choice question,
  e.g. respondent type) every table and chart is split by that question's answer.

Made for printing and screen readers: black text, dark or patterned bars with the numbers
written beside them (nothing relies on colour), ``@media print`` rules with a page break before
each question, headings, table captions and ``role="img"`` with a ``<title>`` on every chart.
"""

from __future__ import annotations

import html
import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from bot.engine import next_question
from bot.models import AnswerValue, Status
from bot.prompts import YES_NO_LABELS
from bot.results.export import STATUS_WORDS, ResponseLike, ResponseSource, included, utc_text
from bot.schema import (
    ChoiceQuestion,
    ConsentQuestion,
    DateQuestion,
    Flow,
    InfoQuestion,
    MultiQuestion,
    NumberQuestion,
    PostcodeQuestion,
    Question,
    ScaleQuestion,
    TextQuestion,
    YesNoQuestion,
)
from bot.text import tr

ALL = "\x00all"
NO_ANSWER = "\x00none"
UNFINISHED = (Status.ACTIVE, Status.EXPIRED, Status.CLOSED, Status.OPTED_OUT)
BY_TYPES = (ChoiceQuestion, ScaleQuestion, YesNoQuestion, ConsentQuestion)


class ReportError(ValueError):
    """The report cannot be made as asked (e.g. ``by`` names no suitable question)."""


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def pct(n: int, base: int) -> str:
    if not base:
        return "-"
    p = 100 * n / base
    if 0 < p < 1:
        return "<1%"
    return f"{p:.0f}%"


def fmt_num(x: float) -> str:
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.2f}".rstrip("0").rstrip(".")


# -- tallying -------------------------------------------------------------------------------------


@dataclass
class _Stats:
    """One question's answers within one group of respondents."""

    answered: int = 0
    skipped: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    numbers: list[float] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)


@dataclass
class _Funnel:
    reached: int = 0
    answered: int = 0
    skipped: int = 0
    stopped: int = 0


class Tally:
    """Counts for a report, fed one response at a time with :meth:`add`."""

    def __init__(self, flow: Flow, *, by: str | None = None, partial: bool = False) -> None:
        self.flow = flow
        self.lang = flow.languages[0]
        self.partial = partial
        self.questions = [q for q in flow.questions if not isinstance(q, InfoQuestion)]
        self.by: Question | None = None
        if by is not None:
            q = flow.question(by)
            if q is None:
                ids = ", ".join(x.id for x in self.questions if isinstance(x, BY_TYPES))
                raise ReportError(f"--by {by!r}: the flow has no question {by!r} (try: {ids})")
            if not isinstance(q, BY_TYPES):
                raise ReportError(
                    f"--by {by!r}: a breakdown needs a question with one answer from a list "
                    f"(choice, scale, yesno or consent), not a {q.type} question"
                )
            self.by = q
        self.started = 0
        self.status: Counter[str] = Counter()
        self.channel: dict[str, Counter[bool]] = {}
        self.source: dict[str, Counter[bool]] = {}
        self.day: dict[date, Counter[bool]] = {}
        self.durations: list[float] = []
        self.funnel = {q.id: _Funnel() for q in self.questions}
        self.included = 0
        self.groups: Counter[str] = Counter()
        self.stats: dict[str, dict[str, _Stats]] = {q.id: {} for q in self.questions}
        self.removed: dict[str, dict[str, _Stats]] = {}
        self.first: datetime | None = None
        self.last: datetime | None = None

    def add(self, r: ResponseLike) -> None:
        complete = r.status is Status.COMPLETE
        self.started += 1
        self.status[STATUS_WORDS.get(r.status, str(r.status))] += 1
        self.channel.setdefault(r.channel, Counter())[complete] += 1
        self.source.setdefault(r.source or "", Counter())[complete] += 1
        local = r.started_at.astimezone(self.flow.tz).date()
        self.day.setdefault(local, Counter())[complete] += 1
        if self.first is None or r.started_at < self.first:
            self.first = r.started_at
        if self.last is None or r.started_at > self.last:
            self.last = r.started_at
        if complete and r.finished_at is not None:
            self.durations.append((r.finished_at - r.started_at).total_seconds())
        self._funnel(r)
        if included(r, self.partial):
            self._questions(r)

    def _funnel(self, r: ResponseLike) -> None:
        answers = r.answers
        for qid, a in answers.items():
            f = self.funnel.get(qid)
            if f is None:
                continue
            f.reached += 1
            if a.value is None:
                f.skipped += 1
            else:
                f.answered += 1
        if r.status not in UNFINISHED:
            return
        values: dict[str, AnswerValue | None] = {q: a.value for q, a in answers.items()}
        last: Question | None = None
        for qid in reversed(list(answers)):  # answers are in the order they were given
            last = self.flow.question(qid)
            if last is not None:
                break
        q = next_question(self.flow, values, last)
        guard = 0
        # Skip info messages, and questions answered before (after a BACK).
        while q is not None and (isinstance(q, InfoQuestion) or q.id in answers):
            guard += 1
            if guard > len(self.flow.questions):
                return
            q = next_question(self.flow, values, q)
        if q is not None:
            f = self.funnel[q.id]
            f.reached += 1
            f.stopped += 1

    def _group(self, r: ResponseLike) -> str:
        if self.by is None:
            return ALL
        a = r.answers.get(self.by.id)
        if a is None or a.value is None:
            return NO_ANSWER
        return _key(a.value)

    def _questions(self, r: ResponseLike) -> None:
        self.included += 1
        group = self._group(r)
        self.groups[group] += 1
        keys = (ALL,) if group == ALL else (ALL, group)
        for qid, a in r.answers.items():
            per = self.stats.get(qid)
            q: Question | None = None
            if per is None:  # a question since removed from the flow: count stored values
                per = self.removed.setdefault(qid, {})
            else:
                q = self.flow.question(qid)
            for k in keys:
                s = per.get(k)
                if s is None:
                    s = per[k] = _Stats()
                if a.value is None:
                    s.skipped += 1
                    continue
                s.answered += 1
                _count(q, a.value, s)
                if a.other:
                    s.others.append(a.other)


def _key(value: AnswerValue) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(value)
    return str(value)


def _count(q: Question | None, v: AnswerValue, s: _Stats) -> None:
    if q is None:
        s.counts[_key(v)] += 1
    elif isinstance(q, MultiQuestion):
        for c in v if isinstance(v, list) else [str(v)]:
            s.counts[c] += 1
    elif isinstance(q, NumberQuestion):
        if isinstance(v, int | float) and not isinstance(v, bool):
            s.numbers.append(float(v))
    elif isinstance(q, TextQuestion):
        s.texts.append(str(v))
    elif isinstance(q, DateQuestion):
        s.counts[str(v)[:4]] += 1
    else:
        s.counts[_key(v)] += 1


# -- SVG charts -----------------------------------------------------------------------------------

CHART_W = 680
LABEL_W = 250
BAR_X = LABEL_W + 10
BAR_W = 300
ROW_H = 22
FONT = 'font-family="Arial, Helvetica, sans-serif" font-size="12"'

# Black-and-white fills: a breakdown's groups differ by pattern *and* are named in words.
_PATTERNS = [
    ("solid", '<rect width="6" height="6" fill="#222"/>'),
    (
        "hatch",
        '<rect width="6" height="6" fill="#fff"/><path d="M0,6 L6,0" stroke="#000" stroke-width="1.5"/>',
    ),
    ("dots", '<rect width="6" height="6" fill="#fff"/><circle cx="3" cy="3" r="1.5" fill="#000"/>'),
    (
        "cross",
        '<rect width="6" height="6" fill="#fff"/><path d="M0,0 L6,6 M6,0 L0,6" stroke="#000"/>',
    ),
    ("grey", '<rect width="6" height="6" fill="#999"/>'),
    (
        "lines",
        '<rect width="6" height="6" fill="#fff"/><path d="M0,3 L6,3" stroke="#000" stroke-width="1.5"/>',
    ),
    (
        "vlines",
        '<rect width="6" height="6" fill="#fff"/><path d="M3,0 L3,6" stroke="#000" stroke-width="1.5"/>',
    ),
    (
        "back",
        '<rect width="6" height="6" fill="#fff"/><path d="M0,0 L6,6" stroke="#000" stroke-width="1.5"/>',
    ),
]


class _Ids:
    def __init__(self) -> None:
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return f"c{self.n}"


def _clip(text: str, n: int = 38) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


@dataclass(frozen=True)
class Bar:
    label: str
    value: int | float
    note: str = ""  # written after the bar, e.g. "12 (40%)"
    group: int | None = None  # pattern index, for breakdown charts
    heading: bool = False  # a label line without a bar (breakdown: the answer's name)


def bar_chart(ids: _Ids, title: str, bars: Sequence[Bar], *, legend: Sequence[str] = ()) -> str:
    """A horizontal bar chart as inline SVG, with the numbers written beside the bars."""
    cid = ids.next()
    top = 8 + (ROW_H * ((len(legend) + 2) // 3) + 6 if legend else 0)
    height = top + ROW_H * len(bars) + 8
    peak = max((b.value for b in bars if not b.heading), default=0) or 1
    desc = "; ".join(f"{b.label}: {b.note or fmt_num(b.value)}" for b in bars if not b.heading)
    out = [
        f'<svg class="chart" role="img" aria-labelledby="{cid}-t {cid}-d" width="{CHART_W}" '
        f'height="{height}" viewBox="0 0 {CHART_W} {height}">',
        f'<title id="{cid}-t">{esc(title)}</title><desc id="{cid}-d">{esc(_clip(desc, 2000))}</desc>',
    ]
    if legend:
        out.append("<defs>")
        out += [
            f'<pattern id="{cid}-p{i}" width="6" height="6" patternUnits="userSpaceOnUse">{body}</pattern>'
            for i, (_, body) in enumerate(_PATTERNS)
        ]
        out.append("</defs>")
        for i, name in enumerate(legend):
            x = 10 + (i % 3) * 220
            y = 8 + (i // 3) * ROW_H
            out.append(
                f'<rect x="{x}" y="{y}" width="16" height="14" fill="url(#{cid}-p{i % len(_PATTERNS)})" '
                f'stroke="#000"/><text x="{x + 22}" y="{y + 11}" {FONT} fill="#000">{esc(_clip(name, 30))}</text>'
            )
    y = top
    for b in bars:
        if b.heading:
            out.append(
                f'<text x="4" y="{y + 15}" {FONT} font-weight="bold" fill="#000">{esc(_clip(b.label, 80))}</text>'
            )
            y += ROW_H
            continue
        w = 0.0 if not b.value else max(1.0, BAR_W * b.value / peak)
        fill = "#333" if b.group is None else f"url(#{cid}-p{b.group % len(_PATTERNS)})"
        indent = 20 if b.group is not None else 0
        out.append(
            f'<text x="{LABEL_W}" y="{y + 15}" {FONT} text-anchor="end" fill="#000">'
            f"{esc(_clip(b.label, 38 - indent // 6))}</text>"
        )
        if w:
            out.append(
                f'<rect x="{BAR_X}" y="{y + 3}" width="{w:.1f}" height="{ROW_H - 6}" '
                f'fill="{fill}" stroke="#000" stroke-width="0.8"/>'
            )
        out.append(
            f'<text x="{BAR_X + w + 6:.1f}" y="{y + 15}" {FONT} fill="#000">'
            f"{esc(b.note or fmt_num(b.value))}</text>"
        )
        y += ROW_H
    out.append("</svg>")
    return "".join(out)


# -- HTML -----------------------------------------------------------------------------------------

CSS = """
body { font-family: Arial, Helvetica, sans-serif; color: #111; background: #fff; margin: 2rem auto;
  max-width: 60rem; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.8rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.4rem; border-bottom: 2px solid #000; padding-bottom: 0.2rem; margin-top: 2.5rem; }
h3 { font-size: 1.2rem; margin-bottom: 0.2rem; }
.meta, .qtext, .note { color: #333; }
.qtext { font-style: italic; }
table { border-collapse: collapse; margin: 0.8rem 0 1rem; font-size: 0.95rem; }
caption { text-align: left; font-weight: bold; padding: 0.3rem 0; caption-side: top; }
th, td { border: 1px solid #666; padding: 0.25rem 0.6rem; vertical-align: top; }
th { background: #eee; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
svg.chart { display: block; max-width: 100%; height: auto; margin: 0.5rem 0 1rem; }
ol.texts li, ul.texts li { margin-bottom: 0.3rem; white-space: pre-wrap; }
nav ol { columns: 2; }
.question { border-top: 1px solid #999; margin-top: 2rem; }
@media print {
  body { color: #000; margin: 0; max-width: none; font-size: 10.5pt; }
  .meta, .qtext, .note { color: #000; }
  nav { display: none; }
  h2 { break-before: page; page-break-before: always; }
  h2.first { break-before: auto; page-break-before: auto; }
  .question { break-before: page; page-break-before: always; border: 0; margin: 0; }
  table, svg.chart { break-inside: avoid; page-break-inside: avoid; }
  th { background: #fff; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def _table(
    caption: str, head: Sequence[str], rows: Iterable[Sequence[object]], numeric_from: int = 1
) -> str:
    out = [f"<table><caption>{esc(caption)}</caption><thead><tr>"]
    out += [f'<th scope="col">{esc(h)}</th>' for h in head]
    out.append("</tr></thead><tbody>")
    for row in rows:
        cells = [f'<th scope="row">{esc(row[0])}</th>']
        cells += [
            f'<td class="n">{esc(_cell(c))}</td>' if i >= numeric_from else f"<td>{esc(c)}</td>"
            for i, c in enumerate(row[1:], 1)
        ]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _cell(value: object) -> object:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else value


def _duration_words(seconds: float) -> str:
    days = seconds / 86400
    if seconds < 3600:
        extra = f"about {max(1, round(seconds / 60))} minutes"
    elif days < 2:
        extra = f"about {round(seconds / 3600)} hours"
    else:
        extra = f"about {round(days)} days"
    return f"{days:.1f} days ({extra})"


duration_words = _duration_words  # (the officers' console says it too)


class _Renderer:
    def __init__(self, t: Tally, generated_at: datetime | None) -> None:
        self.t = t
        self.flow = t.flow
        self.lang = t.lang
        self.ids = _Ids()
        self.generated_at = generated_at
        by = t.by
        self.group_keys: list[str] = []
        self.group_names: dict[str, str] = {}
        self.empty_groups: list[str] = []
        if by is not None:
            for key, name in _options(by, self.lang):
                if t.groups.get(key):
                    self.group_keys.append(key)
                    self.group_names[key] = name
                else:
                    self.empty_groups.append(name)
            for key in sorted(k for k in t.groups if k not in self.group_names and k != NO_ANSWER):
                self.group_keys.append(key)
                self.group_names[key] = key
            if t.groups.get(NO_ANSWER):
                self.group_keys.append(NO_ANSWER)
                self.group_names[NO_ANSWER] = "No answer"

    # -- whole page -------------------------------------------------------------------------------

    def page(self) -> str:
        t, flow = self.t, self.flow
        title = tr(flow.title, self.lang)
        scope = (
            "every response, complete or not"
            if t.partial
            else "complete responses only (use --partial to include the rest)"
        )
        parts = [
            "<!DOCTYPE html>",
            f'<html lang="{esc(self.lang)}"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{esc(title)}: results</title><style>{CSS}</style></head><body>",
            f"<header><h1>{esc(title)}: results</h1>",
            f'<p class="meta">{esc(flow.council)}. Flow <code>{esc(flow.id)}</code>'
            + (f", version {esc(flow.version)}" if flow.version else "")
            + (
                f". Report made {esc(utc_text(self.generated_at))} (UTC)"
                if self.generated_at
                else ""
            )
            + ".</p>",
            f'<p class="meta">{t.started:,} responses started; {t.status.get("complete", 0):,} '
            f"complete. Question results count {esc(scope)}: {t.included:,} responses."
            + (
                f" Each is split by the answer to “{esc(self._qname(t.by))}”"
                + (
                    f" (no responses from: {esc(', '.join(self.empty_groups))})."
                    if self.empty_groups
                    else "."
                )
                if t.by is not None
                else ""
            )
            + " Days are in the survey's time zone "
            + f"({esc(flow.timezone)}).</p></header>",
            self._nav(),
            "<main>",
            self._overview(),
            self._funnel(),
            '<section aria-labelledby="questions"><h2 id="questions">Questions</h2>',
        ]
        for q in t.questions:
            parts.append(self._question(q))
        parts.append("</section>")
        if t.removed:
            parts.append(self._removed())
        parts.append("</main></body></html>")
        return "\n".join(parts)

    def _qname(self, q: Question) -> str:
        return q.label or q.id

    def _nav(self) -> str:
        items = [
            '<li><a href="#responses">Responses</a></li>',
            '<li><a href="#funnel">Drop-off funnel</a></li>',
        ]
        items += [
            f'<li><a href="#q-{q.id}">{esc(self._qname(q))}</a></li>' for q in self.t.questions
        ]
        if self.t.removed:
            items.append('<li><a href="#removed">Questions no longer asked</a></li>')
        return (
            '<nav aria-label="Contents"><h2 class="first">Contents</h2><ol>'
            + "".join(items)
            + "</ol></nav>"
        )

    # -- overview ---------------------------------------------------------------------------------

    def _overview(self) -> str:
        t = self.t
        out = ['<section aria-labelledby="responses"><h2 id="responses">Responses</h2>']
        order = list(dict.fromkeys([*STATUS_WORDS.values()]))
        rows = [
            (s, t.status.get(s, 0), pct(t.status.get(s, 0), t.started))
            for s in order
            if t.status.get(s)
        ]
        out.append(
            "<h3>By status</h3>"
            + _table("Responses by status", ["Status", "Responses", "Share"], rows)
            + bar_chart(
                self.ids,
                "Responses by status",
                [Bar(s, n, f"{n:,} ({p})") for s, n, p in rows],
            )
            + '<p class="note">Partial: still answering. Opted out: texted STOP. Expired: silent '
            "too long. Declined: said no to taking part. Closed: the survey closed first.</p>"
        )
        if t.durations:
            med = statistics.median(t.durations)
            out.append(
                f"<p><strong>Median time to complete:</strong> {esc(_duration_words(med))}, "
                f"from {len(t.durations):,} complete responses.</p>"
            )
        out.append(self._split("By channel", "Channel", t.channel, lambda k: k))
        names = {s.id: s.name for s in self.flow.sources}
        out.append(
            self._split(
                "By source group",
                "Source group",
                t.source,
                lambda k: names.get(k, k) if k else "None (no group keyword or link)",
            )
        )
        out.append(self._days())
        out.append("</section>")
        return "".join(out)

    def _split(
        self, heading: str, what: str, data: dict[str, Counter[bool]], namer: Callable[[str], str]
    ) -> str:
        keys = sorted(data, key=lambda k: (-sum(data[k].values()), k))
        rows = []
        bars = []
        for k in keys:
            started = sum(data[k].values())
            done = data[k].get(True, 0)
            rows.append((namer(k), started, done, pct(done, started)))
            bars.append(Bar(namer(k), started, f"{started:,} ({pct(started, self.t.started)})"))
        caption = f"Responses {heading.lower()}: started and complete"
        return (
            f"<h3>{esc(heading)}</h3>"
            + _table(caption, [what, "Started", "Complete", "Completion"], rows)
            + bar_chart(self.ids, f"Responses started, {heading.lower()}", bars)
        )

    def _days(self) -> str:
        days = self.t.day
        if not days:
            return "<h3>By day</h3><p>No responses yet.</p>"
        first, last = min(days), max(days)
        weekly = (last - first).days > 62
        buckets: dict[date, Counter[bool]] = {}
        d = first - timedelta(days=first.weekday()) if weekly else first
        step = timedelta(days=7 if weekly else 1)
        while d <= last:
            buckets[d] = Counter()
            d += step
        for day, c in days.items():
            key = day - timedelta(days=day.weekday()) if weekly else day
            buckets[key].update(c)
        fmt = "Week of %a %d %b %Y" if weekly else "%a %d %b %Y"
        rows = [(k.strftime(fmt), sum(c.values()), c.get(True, 0)) for k, c in buckets.items()]
        heading = "By week (weeks start on Monday)" if weekly else "By day"
        return (
            f"<h3>{esc(heading)}</h3>"
            + bar_chart(
                self.ids,
                "Responses started " + ("per week" if weekly else "per day"),
                [Bar(r[0], r[1], f"{r[1]:,}") for r in rows],
            )
            + _table(
                "Responses started "
                + ("per week" if weekly else "per day")
                + ", and how many of them are complete",
                ["Week" if weekly else "Day", "Started", "Complete"],
                rows,
            )
        )

    # -- funnel -----------------------------------------------------------------------------------

    def _funnel(self) -> str:
        t = self.t
        rows = []
        bars = []
        for q in t.questions:
            f = t.funnel[q.id]
            rows.append(
                (
                    self._qname(q),
                    f.reached,
                    pct(f.reached, t.started),
                    f.answered,
                    f.skipped,
                    f.stopped,
                )
            )
            bars.append(
                Bar(self._qname(q), f.reached, f"{f.reached:,} ({pct(f.reached, t.started)})")
            )
        return (
            '<section aria-labelledby="funnel"><h2 id="funnel">Drop-off funnel</h2>'
            f"<p>Of {t.started:,} responses started (any status): how many reached each question "
            "(it was asked), answered it, skipped it, or stopped there without answering "
            "(still answering, silent until expiry, opted out or survey closed). Questions asked "
            "only of some people (a <code>when:</code> condition) are reached by fewer.</p>"
            + bar_chart(self.ids, "Drop-off funnel: respondents reaching each question", bars)
            + _table(
                "Drop-off funnel",
                ["Question", "Reached", "Of all started", "Answered", "Skipped", "Stopped here"],
                rows,
            )
            + "</section>"
        )

    # -- one question -----------------------------------------------------------------------------

    def _question(self, q: Question) -> str:
        per = self.t.stats[q.id]
        name = self._qname(q)
        out = [
            f'<section class="question" aria-labelledby="q-{q.id}">',
            f'<h3 id="q-{q.id}">{esc(name)}</h3>',
            f'<p class="qtext">“{esc(tr(q.text, self.lang))}” <span class="note">'
            f"({esc(q.type)}, id <code>{esc(q.id)}</code>)</span></p>",
        ]
        everyone = per.get(ALL, _Stats())
        out.append(
            f"<p>Answered by {everyone.answered:,}"
            + (f"; skipped by {everyone.skipped:,}" if everyone.skipped else "")
            + f" (of {self.t.included:,} responses counted).</p>"
        )
        if isinstance(q, NumberQuestion):
            out.append(self._numbers(q, per))
        elif isinstance(q, TextQuestion):
            out.append(self._texts(per, lambda s: s.texts, None))
        else:
            out.append(self._counts(q, per))
        if isinstance(q, ChoiceQuestion | MultiQuestion) and q.other is not None:
            label = tr(q.other.label, self.lang)
            out.append(self._texts(per, lambda s: s.others, f"“{label}”: what people wrote"))
        out.append("</section>")
        return "".join(out)

    def _options(self, q: Question, per: dict[str, _Stats]) -> list[tuple[str, str]]:
        """(key, label) of each row of a counts table, in a sensible order."""
        if isinstance(q, DateQuestion | PostcodeQuestion):
            seen: Counter[str] = Counter()
            for s in per.values():
                seen.update(s.counts)
            keys = (
                sorted(seen)
                if isinstance(q, DateQuestion)
                else sorted(seen, key=lambda k: (-per.get(ALL, _Stats()).counts.get(k, 0), k))
            )
            return [(k, k) for k in keys]
        opts = _options(q, self.lang)
        known = {k for k, _ in opts}
        extra = sorted({k for s in per.values() for k in s.counts if k not in known})
        return opts + [(k, f"{k} (no longer a choice)") for k in extra]

    def _date_buckets(self, q: Question, per: dict[str, _Stats]) -> tuple[dict[str, _Stats], str]:
        """Years, or decades when the answers span more than 25 years."""
        if not isinstance(q, DateQuestion):
            return per, ""
        years = {k for s in per.values() for k in s.counts if k.isdigit()}
        if len(years) <= 25:
            return per, "year"
        grouped: dict[str, _Stats] = {}
        for g, s in per.items():
            ns = _Stats(answered=s.answered, skipped=s.skipped)
            for k, n in s.counts.items():
                ns.counts[f"{k[:3]}0s" if k.isdigit() else k] += n
            grouped[g] = ns
        return grouped, "decade"

    def _counts(self, q: Question, per: dict[str, _Stats]) -> str:
        per, unit = self._date_buckets(q, per)
        options = self._options(q, per)
        name = self._qname(q)
        multi = isinstance(q, MultiQuestion)
        base_note = (
            " (people could pick more than one, so shares add up to more than 100%)"
            if multi
            else ""
        )
        everyone = per.get(ALL, _Stats())
        first_col = {"year": "Year", "decade": "Decade"}.get(unit, "Answer")
        if not options:
            return "<p>No answers yet.</p>"
        if self.t.by is None:
            rows = [
                (
                    label,
                    everyone.counts.get(k, 0),
                    pct(everyone.counts.get(k, 0), everyone.answered),
                )
                for k, label in options
            ]
            return _table(
                f"{name}: answers{base_note}",
                [first_col, "Responses", "Share of those answering"],
                rows,
            ) + bar_chart(
                self.ids,
                f"{name}: answers",
                [Bar(lab, n, f"{n:,} ({p})") for lab, n, p in rows],
            )
        groups = [ALL, *self.group_keys]
        head = [first_col, *(self._group_head(g, per) for g in groups)]
        rows2: list[list[object]] = []
        for k, label in options:
            row: list[object] = [label]
            for g in groups:
                s = per.get(g, _Stats())
                n = s.counts.get(k, 0)
                row.append(f"{n:,} ({pct(n, s.answered)})")
            rows2.append(row)
        bars: list[Bar] = []
        for k, label in options:
            bars.append(Bar(label, 0, heading=True))
            for i, g in enumerate(self.group_keys):
                s = per.get(g, _Stats())
                n = s.counts.get(k, 0)
                share = (n / s.answered) if s.answered else 0
                bars.append(
                    Bar(
                        self.group_names[g],
                        round(100 * share, 1),
                        f"{n:,} ({pct(n, s.answered)})",
                        group=i,
                    )
                )
        return _table(
            f"{name}: answers by {self._qname(self.t.by)}. Each cell: responses (share of that group answering){base_note}",
            head,
            rows2,
        ) + bar_chart(
            self.ids,
            f"{name}: share of each group, by {self._qname(self.t.by)}",
            bars,
            legend=[self.group_names[g] for g in self.group_keys],
        )

    def _group_head(self, g: str, per: dict[str, _Stats]) -> str:
        s = per.get(g, _Stats())
        name = "All" if g == ALL else self.group_names[g]
        return f"{name} (n={s.answered:,})"

    def _numbers(self, q: NumberQuestion, per: dict[str, _Stats]) -> str:
        name = self._qname(q)
        groups = [ALL, *self.group_keys]
        rows = []
        for g in groups:
            nums = per.get(g, _Stats()).numbers
            gname = "All" if g == ALL else self.group_names[g]
            if nums:
                rows.append(
                    (
                        gname,
                        f"{len(nums):,}",
                        fmt_num(statistics.median(nums)),
                        fmt_num(min(nums)),
                        fmt_num(max(nums)),
                    )
                )
            else:
                rows.append((gname, "0", "-", "-", "-"))
        out = _table(f"{name}: summary", ["Group", "Count", "Median", "Min", "Max"], rows)
        everyone = per.get(ALL, _Stats()).numbers
        if everyone:
            bins = histogram(everyone, integer=q.integer)
            out += bar_chart(
                self.ids,
                f"{name}: how the answers spread (histogram)",
                [Bar(label, n, f"{n:,} ({pct(n, len(everyone))})") for label, n in bins],
            )
            out += _table(f"{name}: histogram", ["Range", "Responses"], bins)
        return out

    def _texts(
        self, per: dict[str, _Stats], getter: Callable[[_Stats], list[str]], heading: str | None
    ) -> str:
        groups = [ALL] if self.t.by is None else self.group_keys
        out = []
        total = 0
        for g in groups:
            texts = getter(per.get(g, _Stats()))
            if not texts:
                continue
            total += len(texts)
            if g != ALL:
                out.append(f"<h4>{esc(self.group_names[g])} ({len(texts):,})</h4>")
            out.append(
                '<ol class="texts">' + "".join(f"<li>{esc(x)}</li>" for x in texts) + "</ol>"
            )
        title = f"<h4>{esc(heading)}</h4>" if heading else ""
        if not total:
            return title + "<p>None yet.</p>"
        return title + "".join(out)

    # -- removed questions ------------------------------------------------------------------------

    def _removed(self) -> str:
        out = [
            '<section aria-labelledby="removed"><h2 id="removed">Questions no longer asked</h2>',
            "<p>These were answered on an earlier version of the flow. Values are shown as stored.</p>",
        ]
        for qid in sorted(self.t.removed):
            s = self.t.removed[qid].get(ALL, _Stats())
            rows = [(k, n, pct(n, s.answered)) for k, n in s.counts.most_common()]
            out.append(f'<section class="question"><h3>{esc(qid)} (removed)</h3>')
            out.append(
                f"<p>Answered by {s.answered:,}; skipped by {s.skipped:,}.</p>"
                + _table(f"{qid}: stored values", ["Value", "Responses", "Share"], rows[:200])
            )
            if s.others:
                out.append(
                    '<h4>Other text</h4><ol class="texts">'
                    + "".join(f"<li>{esc(x)}</li>" for x in s.others)
                    + "</ol>"
                )
            out.append("</section>")
        out.append("</section>")
        return "".join(out)


def _options(q: Question, lang: str) -> list[tuple[str, str]]:
    """(stored key, label) of a question's answers, in the flow's order."""
    if isinstance(q, ChoiceQuestion | MultiQuestion):
        return [(c.id, tr(c.label, lang)) for c in q.all_choices()]
    if isinstance(q, ScaleQuestion):
        out = []
        for n in range(q.low, q.high + 1):
            label = q.point_label(n, lang)
            out.append((str(n), f"{n} {label}" if label and q.choices is None else label or str(n)))
        return out
    if isinstance(q, YesNoQuestion | ConsentQuestion):
        yes, no = YES_NO_LABELS.get(lang, YES_NO_LABELS["en"])
        return [("yes", yes), ("no", no)]
    return []


def histogram(values: Sequence[float], *, integer: bool, bins: int = 10) -> list[tuple[str, int]]:
    """Counts in about ``bins`` equal ranges (one per value for a few whole numbers)."""
    lo, hi = min(values), max(values)
    if integer and all(float(v).is_integer() for v in values):
        ilo, ihi = math.floor(lo), math.ceil(hi)
        width = max(1, math.ceil((ihi - ilo + 1) / bins))
        counts: Counter[int] = Counter(int((v - ilo) // width) for v in values)
        out = []
        for i in range((ihi - ilo) // width + 1):
            a = ilo + i * width
            b = a + width - 1
            out.append((f"{a:,}" if a == b else f"{a:,} to {b:,}", counts.get(i, 0)))
        return out
    if hi == lo:
        return [(fmt_num(lo), len(values))]
    step = (hi - lo) / bins
    fcounts: Counter[int] = Counter(min(bins - 1, int((v - lo) / step)) for v in values)
    edges = [lo + i * step for i in range(bins)] + [hi]
    return [
        (f"{fmt_num(round(edges[i], 2))} to {fmt_num(round(edges[i + 1], 2))}", fcounts.get(i, 0))
        for i in range(bins)
    ]


def sections(tally: Tally) -> tuple[str, str]:
    """The report's "Responses" (by status, channel, source group and day, with the median time
    to complete) and "Drop-off funnel" sections, each charts and tables: the officers' console
    shows them live."""
    r = _Renderer(tally, None)
    return r._overview(), r._funnel()


def render(tally: Tally, *, generated_at: datetime | None = None) -> str:
    """The report page for what ``tally`` has counted."""
    return _Renderer(tally, generated_at).page()


def report_html(
    flow: Flow,
    responses: Iterable[ResponseLike],
    *,
    by: str | None = None,
    partial: bool = False,
    generated_at: datetime | None = None,
) -> str:
    """The whole report for ``responses`` (read once, in any order)."""
    tally = Tally(flow, by=by, partial=partial)
    for r in responses:
        tally.add(r)
    return render(tally, generated_at=generated_at)


async def report_flow(
    store: ResponseSource,
    flow: Flow,
    *,
    by: str | None = None,
    partial: bool = False,
    now: datetime | None = None,
) -> str:
    """The HTML report of ``flow``'s responses in ``store``, read once as a stream."""
    tally = Tally(flow, by=by, partial=partial)
    async for r in store.iter_responses(flow.id):
        tally.add(r)
    return render(tally, generated_at=now or datetime.now(UTC))
