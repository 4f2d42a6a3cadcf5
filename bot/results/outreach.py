"""Outreach for one survey: the ways to take part, QR codes, and a printable A4 poster.

* **Telegram**: ``https://t.me/<bot>?start=<flow>-<source>``. Telegram allows at most 64
  characters of ``A-Z a-z 0-9 _ -`` in a start payload; when ``<flow>-<source>`` is longer the
  link uses ``<KEYWORD>-<SOURCEKEYWORD>`` instead (e.g. ``CARERS-HARBOROUGH``), which
  :meth:`bot.dispatch.Dispatcher.resolve_start` accepts too.
* **Web chat**: ``<public url>/chat/<flow>?source=<source>`` (``&lang=gu`` to open in a language).
* **SMS**: "Text CARERS HARBOROUGH to 07700 900123", the number in UK national format.
* **WhatsApp**: ``https://wa.me/447700900123?text=CARERS%20HARBOROUGH`` (the WhatsApp adapter's
  own link format): the chat opens with the keyword typed; the poster gives it its own QR code.
* **Phone**: "Call 0116 496 0123 and press 2": ``TWILIO_VOICE_NUMBER`` (E.164) in UK national
  format (``phonenumbers``), and the survey's ``voice: key`` when it has one, the key that picks
  it from the spoken menu of a number that serves several surveys.

The link formats are the adapters' own (Telegram's deep link, WhatsApp's ``wa.me`` link, the
call's menu of surveys), handed in as :class:`LinkFormats` (``adapters.renderers.LINKS``):
results never import adapters.

QR codes are made with ``segno`` (pure Python; PNG and SVG without Pillow) and point at the web
chat link: it works from any phone camera, with no app. The poster is one HTML file with
``@page { size: A4 }`` and the QR code inline, to print from a browser (or save as PDF there).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import urlencode

import segno

from bot.errors import SurveybotError
from bot.schema import Flow, Source
from bot.text import tr

PAYLOAD_MAX = 64
_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "0.0.0.0", "[::1]")


class OutreachError(SurveybotError):
    """A link or poster cannot be made; the message says what to change."""


@dataclass(frozen=True)
class LinkFormats:
    """The channels' own link formats and the call's menu, as the adapters define them."""

    telegram: Callable[[str, str, str | None], str]
    """``(bot username, first, second)`` to ``https://t.me/<bot>?start=<first>-<second>``;
    ValueError for a bad username."""
    whatsapp: Callable[[str, str], str]
    """``(number, text)`` to ``https://wa.me/<number>?text=<text>``; ValueError for a bad
    number."""
    survey_keys: Callable[[Sequence[Flow]], Mapping[int, Flow]]
    """The key each survey has on a number that serves several (the call's spoken menu)."""


@dataclass(frozen=True)
class Links:
    """Every way to take part in one survey, for one source group (or none)."""

    flow: Flow
    source: Source | None
    lang: str
    telegram: str | None
    telegram_payload: str | None
    web: str
    sms_words: str | None  # "CARERS HARBOROUGH"
    sms_number: str | None  # "07700 900123"
    whatsapp: str | None = None  # "https://wa.me/447700900123?text=CARERS%20HARBOROUGH"
    voice_number: str | None = None  # "0116 496 0123"
    voice_key: int | None = None  # the key that picks this survey on a shared number
    voice_free: bool = False  # a freephone number (0800, 0808)
    notes: list[str] = field(default_factory=list)
    """Things the officer should know: fallbacks used, settings missing."""

    @property
    def sms_text(self) -> str | None:
        """``Text CARERS HARBOROUGH to 07700 900123`` (None without a keyword or a number)."""
        if not self.sms_words or not self.sms_number:
            return None
        return f"Text {self.sms_words} to {self.sms_number}"

    @property
    def voice_text(self) -> str | None:
        """``Call 0116 496 0123 and press 2`` (None without a number)."""
        if not self.voice_number:
            return None
        press = f" and press {self.voice_key}" if self.voice_key is not None else ""
        return f"Call {self.voice_number}{press}"

    @property
    def stem(self) -> str:
        """File name stem for QR codes and posters: ``carers-strategy-harborough-carers``."""
        return f"{self.flow.id}-{self.source.id}" if self.source else self.flow.id


def _is_local(url: str) -> bool:
    host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    return host in LOCAL_HOSTS


def find_source(flow: Flow, source_id: str | None) -> Source | None:
    """The source group ``source_id`` of ``flow``; an unknown id is an error listing the known."""
    if source_id is None:
        return None
    src = flow.source(source_id)
    if src is not None:
        return src
    if flow.sources:
        known = ", ".join(s.id for s in flow.sources)
        raise OutreachError(
            f"flow {flow.id!r} has no source {source_id!r}; its sources are: {known}"
        )
    raise OutreachError(
        f"flow {flow.id!r} has no sources; add a 'sources:' list to the flow file "
        f"(id, name, keyword) or leave out --source"
    )


def valid_payload(payload: str) -> bool:
    """Telegram's rule for a start payload: 1-64 characters of ``A-Z a-z 0-9 _ -``."""
    return bool(_PAYLOAD.match(payload))


def start_parts(flow: Flow, source: Source | None) -> tuple[str, str | None, str | None]:
    """The two halves of the deep-link payload (``flow``, ``source``) and, when the keyword
    fallback was needed, a note saying so."""
    payload = f"{flow.id}-{source.id}" if source else flow.id
    if valid_payload(payload):
        return flow.id, source.id if source else None, None
    why = (
        f"{len(payload)} characters (Telegram allows {PAYLOAD_MAX})"
        if len(payload) > PAYLOAD_MAX
        else "characters Telegram does not allow"
    )
    if not flow.keywords:
        raise OutreachError(
            f"the Telegram start code {payload!r} has {why}, and the flow has no SMS keyword to "
            "use instead; shorten the source id or add 'keywords: [WORD]' to the flow"
        )
    first, second = flow.keywords[0], None
    if source is not None:
        if not source.keyword:
            raise OutreachError(
                f"the Telegram start code {payload!r} has {why}, and source {source.id!r} has no "
                f"keyword to use instead; shorten its id or give it 'keyword: WORD'"
            )
        second = source.keyword.upper()
    short = f"{first}-{second}" if second else first
    return (
        first,
        second,
        (
            f"Telegram start code {payload!r} has {why}; the link uses the SMS keywords "
            f"{short!r} instead, which the bot also accepts"
        ),
    )


def start_payload(flow: Flow, source: Source | None) -> str:
    """``<flow>-<source>``, or ``<KEYWORD>-<SOURCEKEYWORD>`` when that would break Telegram's rule."""
    first, second, _ = start_parts(flow, source)
    return f"{first}-{second}" if second else first


def telegram_link(
    bot_username: str, flow: Flow, source: Source | None, formats: LinkFormats
) -> str:
    """``https://t.me/<bot>?start=<payload>``, made by the Telegram adapter's own helper."""
    first, second, _ = start_parts(flow, source)
    try:
        return formats.telegram(bot_username, first, second)
    except ValueError as exc:
        raise OutreachError(f"TELEGRAM_BOT_USERNAME: {exc}") from None


def web_link(public_url: str, flow: Flow, source: Source | None, lang: str | None = None) -> str:
    query: dict[str, str] = {}
    if source is not None:
        query["source"] = source.id
    if lang and lang != flow.languages[0]:
        query["lang"] = lang
    base = public_url.rstrip("/")
    return f"{base}/chat/{flow.id}" + (f"?{urlencode(query)}" if query else "")


def national_number(
    raw: str, setting: str = "TWILIO_FROM_NUMBER", use: str = "texting"
) -> tuple[str, str | None]:
    """A phone number as people in the UK dial it (``07700 900123``), and a note if it looks wrong
    (naming ``setting``, and what ``use`` of a foreign number costs more).

    UK numbers come out in national format; others in the form dialled from the UK (``00 1 ...``).
    A short code (for texting) or anything ``phonenumbers`` cannot read is shown as given.
    """
    import phonenumbers

    text = raw.strip()
    digits = re.sub(r"\D", "", text)
    if use == "texting" and 3 <= len(digits) <= 6 and not text.startswith("+"):
        return text, None  # a short code: people text it as it is
    try:
        number = phonenumbers.parse(text, "GB")
    except phonenumbers.NumberParseException:
        return text, (
            f"{setting} {raw!r} is not a phone number; set it to the number in E.164 "
            "form, e.g. +447700900123"
        )
    shown: str = phonenumbers.format_out_of_country_calling_number(number, "GB")
    note = None
    if not phonenumbers.is_valid_number(number):
        note = f"{setting} {raw!r} does not look like a valid number: check it"
    elif number.country_code != 44:
        note = f"{setting} {raw!r} is not a UK number: {use} it from the UK costs more"
    return shown, note


def freephone(raw: str) -> bool:
    """Whether a number is free to call (UK 0800/0808: ``phonenumbers``' TOLL_FREE)."""
    import phonenumbers

    try:
        number = phonenumbers.parse(raw.strip(), "GB")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.TOLL_FREE


def phone_way(
    flow: Flow,
    source: Source | None,
    voice_number: str | None,
    others: Sequence[Flow],
    formats: LinkFormats,
) -> tuple[str | None, int | None, list[str]]:
    """The number to call (UK national format), the key to press, and notes: what is missing,
    and what callers will hear first when the number serves several surveys."""
    notes: list[str] = []
    if not voice_number:
        notes.append(
            "no phone number to call: set TWILIO_VOICE_NUMBER to the Twilio number that answers "
            "calls, in E.164 form (often the SMS number, e.g. TWILIO_VOICE_NUMBER=+441164960123)"
        )
        return None, None, notes
    shown, note = national_number(voice_number, "TWILIO_VOICE_NUMBER", "calling")
    if note:
        notes.append(note)
    together = [f for f in others if f.id != flow.id and flow.overlaps(f)]
    key = flow.voice.key
    if key is not None:
        if formats.survey_keys([flow, *together]).get(key) is not flow:  # the call's own menu
            taken = next(f.id for f in together if f.voice.key == key)
            notes.append(
                f"key {key} is also {taken!r}'s ('voice: key:' in both files), and that survey "
                f"keeps it: give this one another key before printing 'and press {key}'"
            )
            key = None
    elif together:
        names = ", ".join(sorted(f.id for f in together))
        notes.append(
            f"callers to this number may hear a menu of surveys first ({names} can be open at "
            "the same time), whose keys change as surveys open and close: give this survey a "
            "fixed key ('voice: {key: 2}' in its file) to print 'and press 2', or give it a number "
            "of its own (webhook ?flow=" + flow.id + ")"
        )
    if source is not None:
        notes.append(
            f"calls do not record which group shared the survey ({source.id!r}): only texts "
            "with the keyword and links do"
        )
    return shown, key, notes


def make_links(
    flow: Flow,
    source_id: str | None = None,
    *,
    formats: LinkFormats,
    public_url: str,
    bot_username: str | None,
    from_number: str | None,
    whatsapp_number: str | None = None,
    lang: str | None = None,
    now: datetime | None = None,
    voice_number: str | None = None,
    others: Sequence[Flow] = (),
) -> Links:
    """Every way to take part in ``flow`` for one source group, with notes on what is missing
    (``others``: the surveys that share the phone number, to name the key to press;
    ``formats``: the adapters' link formats)."""
    if lang is not None and lang not in flow.languages:
        raise OutreachError(
            f"flow {flow.id!r} is not in language {lang!r}; it is in: {', '.join(flow.languages)}"
        )
    source = find_source(flow, source_id)
    notes: list[str] = []
    closes = flow.closes_at()
    if closes is not None and (now or datetime.now(UTC)) >= closes:
        notes.append(f"this survey closed on {_date(closes)}: change 'closes:' in the flow file")

    payload: str | None = None
    try:
        first, second, fallback = start_parts(flow, source)
        payload = f"{first}-{second}" if second else first
        if fallback:
            notes.append(fallback)
    except OutreachError as exc:  # the web and SMS ways still work: say why, carry on
        notes.append(f"no Telegram link: {exc}")
    telegram = None
    if bot_username and payload:
        telegram = telegram_link(bot_username, flow, source, formats)
    elif not bot_username:
        notes.append(
            "no Telegram link: set TELEGRAM_BOT_USERNAME to the bot's username from @BotFather "
            "(e.g. TELEGRAM_BOT_USERNAME=LLRCarersBot in .env)"
        )

    web = web_link(public_url, flow, source, lang)
    if _is_local(web):
        notes.append(
            f"the web link points at this computer ({public_url}): set SURVEYBOT_PUBLIC_URL to "
            "the server's public address (e.g. https://survey.example.gov.uk) before printing"
        )

    words: str | None = None
    if flow.keywords:
        words = flow.keywords[0]
        if source is not None:
            if source.keyword:
                words += f" {source.keyword.upper()}"
            else:
                notes.append(
                    f"source {source.id!r} has no SMS keyword: texts will not record it (add "
                    "'keyword: WORD' to the source in the flow file)"
                )
    else:
        notes.append("no SMS keyword: add 'keywords: [WORD]' to the flow file")

    number: str | None = None
    if from_number:
        number, note = national_number(from_number)
        if note:
            notes.append(note)
    else:
        notes.append(
            "no SMS number: set TWILIO_FROM_NUMBER to the Twilio number in E.164 form "
            "(e.g. TWILIO_FROM_NUMBER=+447700900123 in .env)"
        )
    call, key, call_notes = phone_way(flow, source, voice_number, others, formats)
    notes += call_notes
    whatsapp: str | None = None
    if whatsapp_number and words:
        try:
            whatsapp = formats.whatsapp(whatsapp_number, words)
        except ValueError as exc:
            notes.append(f"no WhatsApp link: TWILIO_WHATSAPP_FROM: {exc}")
    elif whatsapp_number:
        notes.append("no WhatsApp link: the flow has no keyword to type (add 'keywords: [WORD]')")
    return Links(
        flow=flow,
        source=source,
        lang=lang or flow.languages[0],
        telegram=telegram,
        telegram_payload=payload,
        web=web,
        sms_words=words,
        sms_number=number,
        voice_number=call,
        voice_key=key,
        voice_free=bool(voice_number) and freephone(voice_number or ""),
        whatsapp=whatsapp,
        notes=notes,
    )


# --- QR codes ----------------------------------------------------------------------------------


def qr(data: str) -> segno.QRCode:
    """A QR code for ``data``: error correction M (survives a crease or a smudge on a poster)."""
    return segno.make(data, error="m", micro=False, boost_error=True)


def write_qr(data: str, folder: Path, stem: str) -> tuple[Path, Path]:
    """Write ``<stem>-qr.png`` (about 8 cm wide at 300 dpi) and ``<stem>-qr.svg``."""
    folder.mkdir(parents=True, exist_ok=True)
    code = qr(data)
    png = folder / f"{stem}-qr.png"
    svg = folder / f"{stem}-qr.svg"
    modules = code.symbol_size(scale=1, border=4)[0]
    code.save(str(png), kind="png", scale=max(4, 950 // modules), border=4)
    code.save(str(svg), kind="svg", scale=10, border=4, title=data)
    return png, svg


# --- poster ------------------------------------------------------------------------------------


def _date(value: date | datetime) -> str:
    """``31 December 2026``; an end-of-day ``closes_at`` (midnight after) counts as the day before."""
    if isinstance(value, datetime):
        d = (value - timedelta(microseconds=1)).date() if value.time() == time(0) else value.date()
    else:
        d = value
    return f"{d.day} {d:%B %Y}"


def _pretty_url(url: str) -> str:
    return url.split("://", 1)[-1]


_WAYS = {1: "One way", 2: "Two ways", 3: "Three ways", 4: "Four ways", 5: "Five ways"}


def _wa_shown(link: str) -> str:
    """The number of a wa.me link, as people in the UK would dial it."""
    digits = link.split("wa.me/", 1)[-1].split("?", 1)[0]
    return national_number("+" + digits)[0]


POSTER_CSS = """
@page { size: A4; margin: 12mm; }
* { box-sizing: border-box; }
html, body { margin: 0; padding: 0; }
body { font-family: Arial, Helvetica, sans-serif; color: #000; background: #fff;
       font-size: 18pt; line-height: 1.25; }
p { margin: 0 0 2mm; }
.page { width: 186mm; min-height: 272mm; margin: 0 auto; display: flex; flex-direction: column; }
.council { font-size: 15pt; margin-bottom: 3mm; }
h1 { font-size: 34pt; line-height: 1.1; margin: 0 0 2mm; }
.also { font-size: 18pt; }
.lead { font-size: 22pt; margin: 3mm 0 2mm; }
.closes { font-size: 20pt; font-weight: bold; margin-bottom: 5mm; }
.ways { list-style: none; padding: 0; margin: 0; }
.way { border: 0.8mm solid #000; border-radius: 4mm; padding: 4mm 6mm; margin: 0 0 5mm; }
.way h2 { font-size: 15pt; margin: 0 0 2mm; text-transform: uppercase; letter-spacing: 0.05em; }
.big { font-size: 28pt; font-weight: bold; line-height: 1.2; }
.url { font-size: 17pt; font-weight: bold; overflow-wrap: anywhere; }
.scan { display: flex; gap: 6mm; align-items: center; }
.qr { width: 58mm; height: 58mm; flex: none; }
.qr svg { display: block; width: 100%; height: 100%; }
.small { font-size: 13pt; margin-top: auto; }
/* Three ways or more (SMS, phone, web, WhatsApp, Telegram) on one A4 page: tighter boxes and
   smaller codes (still well over the 2 cm a phone camera needs at arm's length). */
.many h1 { font-size: 28pt; }
.many .lead { margin-top: 2mm; }
.many .closes { margin-bottom: 3mm; }
.many .way { padding: 2.5mm 5mm; margin-bottom: 3mm; }
.many .way h2 { font-size: 13pt; margin-bottom: 1mm; }
.many .big { font-size: 24pt; }
.many .way p { margin-bottom: 1mm; }
.many .qr { width: 40mm; height: 40mm; }
.most h1 { font-size: 26pt; }
.most .way { font-size: 15pt; padding: 2mm 5mm; margin-bottom: 2.5mm; }
.most .big { font-size: 22pt; }
.most .url { font-size: 15pt; }
.most .qr { width: 32mm; height: 32mm; }
.most .small { font-size: 12pt; }
@media screen { body { background: #eee; }
                .page { background: #fff; padding: 12mm; width: 210mm; height: 297mm;
                        margin: 5mm auto; } }
"""


def _density(ways: int) -> str:
    """The poster's classes for how many ways it shows, so that all fit on one A4 page."""
    return " many most" if ways >= 4 else " many" if ways >= 3 else ""


def poster_html(links: Links) -> str:
    """A printable A4 page: title, council, closing date, and the ways to take part."""
    flow = links.flow
    lang = links.lang
    e = html.escape
    title = tr(flow.title, lang)
    svg = qr(links.web).svg_inline(scale=1, border=2, omitsize=True, title=links.web)
    ways: list[str] = []
    if links.sms_text:
        ways.append(
            '<li class="way sms"><h2>By text message</h2>'
            f'<p class="big">Text <span class="kw">{e(links.sms_words or "")}</span>'
            f' to <span class="num">{e(links.sms_number or "")}</span></p>'
            "<p>Standard text rates apply.</p></li>"
        )
    if links.voice_text:
        press = (
            f' and press <span class="kw">{links.voice_key}</span>'
            if links.voice_key is not None
            else ""
        )
        charge = "Free to call." if links.voice_free else "Normal call charges apply."
        ways.append(
            '<li class="way phone"><h2>By phone</h2>'
            f'<p class="big">Call <span class="num">{e(links.voice_number or "")}</span>{press}</p>'
            f"<p>Answer with your keypad or by speaking. {charge}</p></li>"
        )
    ways.append(
        '<li class="way web"><h2>On your phone or computer</h2><div class="scan">'
        f'<div class="qr">{svg}</div><div><p>Scan the code with your phone camera, or go to</p>'
        f'<p class="url">{e(_pretty_url(links.web))}</p></div></div></li>'
    )
    if links.whatsapp:
        wa_svg = qr(links.whatsapp).svg_inline(
            scale=1, border=2, omitsize=True, title=links.whatsapp
        )
        ways.append(
            '<li class="way whatsapp"><h2>On WhatsApp</h2><div class="scan">'
            f'<div class="qr">{wa_svg}</div><div><p>Scan the code, or send '
            f'<span class="kw">{e(links.sms_words or "")}</span> on WhatsApp to</p>'
            f'<p class="big num">{e(_wa_shown(links.whatsapp))}</p>'
            "</div></div></li>"
        )
    if links.telegram:
        ways.append(
            '<li class="way telegram"><h2>On Telegram</h2>'
            f'<p class="url">{e(_pretty_url(links.telegram))}</p></li>'
        )
    closing = flow.closes_at()
    closes = f'<p class="closes">Closes {e(_date(closing))}</p>' if closing is not None else ""
    contact = flow.contact
    reach = ", ".join(
        e(x) for x in (contact.phone, contact.email, _pretty_url(contact.web or "")) if x
    )
    also = [tr(flow.title, other) for other in flow.languages if other != lang]
    also_html = (
        f'<p class="also">{" / ".join(e(t) for t in also if t != title)}</p>'
        if any(t != title for t in also)
        else ""
    )
    source_line = f'<p class="source">Shared by {e(links.source.name)}</p>' if links.source else ""
    call_stop = " (on a call, say stop or hang up)" if links.voice_text else ""
    return f"""<!doctype html>
<html lang="{e(lang)}">
<head>
<meta charset="utf-8">
<title>{e(title)} - how to take part</title>
<style>{POSTER_CSS}</style>
</head>
<body>
<main class="page{_density(len(ways))}">
<p class="council">{e(flow.council)}</p>
<h1>{e(title)}</h1>
{also_html}
<p class="lead">Have your say. {_WAYS.get(len(ways), str(len(ways)))} to take part:</p>
{closes}
<ul class="ways">
{chr(10).join(ways)}
</ul>
<div class="small">
{source_line}
<p>Text STOP at any time to stop{call_stop}. Questions? {reach}</p>
</div>
</main>
</body>
</html>
"""


def write_poster(links: Links, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{links.stem}-poster.html"
    path.write_text(poster_html(links), encoding="utf-8")
    return path
