"""The terminal chat (``surveybot chat FLOW``): an officer tries a flow as a respondent would.

Each bot message is drawn in a panel exactly as the chosen channel sends it, using that channel's
own rendering: for SMS the texts :func:`adapters.sms_twilio.render.messages` produces (one step's
replies, each from :func:`bot.sms.render`, joined into one message) with their cost
(``1 SMS · GSM-7 · 118/160``, ``3 SMS · UCS-2 · 150 units``); for Telegram the messages of
:func:`adapters.telegram.render.render` with their inline keyboards (``[ Yes ] [ No ]``). Words
the respondent would type, including STOP, HELP, BACK, SKIP and RESTART, go to the bot as typed.
Console commands start with a slash:

``/wait 3d``     move the clock on (also ``2h``, ``30m``) to try reminders, welcome back, expiry
``/status``      where the respondent is: question, answers, progress, next reminder
``/b 2``         press a Telegram button (by key, label or value)
``/start [p]``   open the survey as a deep link would (optionally with a payload)
``/restart``     become a new respondent (a fresh address)
``/help``        the list; ``/quit`` (or Ctrl-D, Ctrl-C) ends the chat

The chat is the real path: the dispatcher, the engine and the store (the embedded local Redis
when ``REDIS_URL`` is unset, so answers survive a restart). Messages come in on the ``console``
channel, so a trial never mixes with real SMS or Telegram respondents. The clock is the services'
clock plus an offset that ``/wait`` moves; when a later run finds the respondent's last message
"in the future" (an earlier ``/wait``), the offset is restored so time keeps going forward.
After a wait, the reminders the worker would have sent meanwhile (policy :func:`bot.reminders.plan`,
wording :func:`bot.engine.reminder`) are shown as a labelled preview: nothing is sent or recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.exceptions import RedisError
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from telegram import InlineKeyboardMarkup

from adapters.services import Services, build_services
from adapters.sms_twilio.render import messages as sms_messages
from adapters.telegram.render import render as telegram_render
from bot import engine, sms
from bot.config import Settings
from bot.dispatch import Dispatcher, utcnow
from bot.errors import ConflictError, Problem, StoreError
from bot.loader import load_flow
from bot.models import Inbound, Reply, ReplyChoice, Session, Status
from bot.prompts import answer_label
from bot.reminders import Plan, plan, reminded
from bot.schema import Flow, format_duration, parse_duration
from bot.text import LANGUAGE_NAMES, tr

CHANNEL = "console"
"""The channel console messages come in on (respondent ids differ from SMS and Telegram ones)."""
CHANNELS = ("sms", "telegram")
PROMPT = "you> "
PANEL_WIDTH = 72
MAX_WAIT = timedelta(days=400)
MAX_PROBLEMS_SHOWN = 12
MAX_WARNINGS_SHOWN = 5

HELP = """\
[bold]Console commands[/] (everything else is sent to the bot as the respondent's reply):
  [bold]/wait 3d[/]       move the clock on (also 2h, 30m) to try reminders, welcome back, expiry
  [bold]/status[/]        where this respondent is: question, answers, progress, next reminder
  [bold]/b 2[/]           press a Telegram button (its key, label or value)
  [bold]/start[/] [dim]\\[payload][/]  open the survey as a link would (e.g. /start CARERS-HARBOROUGH)
  [bold]/restart[/]       become a new respondent
  [bold]/help[/]          this list
  [bold]/quit[/]          end the chat (also Ctrl-D or Ctrl-C)
Respondent words such as STOP, HELP, BACK, SKIP and RESTART go to the bot as typed.
With --as telegram, any other /command (e.g. /stop) goes to the bot as Telegram sends it."""


# --- rendering (pure) --------------------------------------------------------------------------


def sms_footer(text: str) -> str:
    """``1 SMS · GSM-7 · 118/160``, ``3 SMS · UCS-2 · 150 units``: what one SMS text costs.

    A text that is UCS-2 because of at most three stray characters (a curly quote the look-alike
    table did not cover, an emoji) names them, since removing them saves money.
    """
    i = sms.info(text)
    gsm = i.encoding == "GSM-7"
    if i.segments <= 1:
        size = f"{i.length}/{sms.GSM_SINGLE if gsm else sms.UCS2_SINGLE}"
    else:
        size = f"{i.length} {'chars' if gsm else 'units'}"
    parts = [f"{i.segments} SMS", i.encoding, size]
    if not gsm and sum(ch in i.culprits for ch in text) <= 3:
        shown = [
            c if c.isprintable() and not c.isspace() else f"U+{ord(c):04X}" for c in i.culprits
        ]
        parts.append("because of " + " ".join(shown))
    return " · ".join(parts)


def draw_keyboard(markup: InlineKeyboardMarkup | None) -> str:
    """An inline keyboard as text, one line per row: ``[ Yes ] [ No ]``."""
    if markup is None:
        return ""
    return "\n".join(" ".join(f"[ {b.text} ]" for b in row) for row in markup.inline_keyboard)


def keyed_reply(replies: Sequence[Reply]) -> Reply | None:
    """The reply whose buttons Telegram shows (the last with choices, unless a closing message
    follows it), as :func:`adapters.telegram.render.render` decides."""
    for reply in reversed(replies):
        if reply.choices:
            return reply
        if reply.kind == "end":
            return None
    return None


def pick_buttons(reply: Reply, arg: str) -> list[ReplyChoice] | None:
    """The choices a ``/b`` press picks: one by key, label or value; for a multiple choice
    several keys (``/b 1 3`` or ``/b 1,3``). None when nothing matches."""

    def one(token: str) -> ReplyChoice | None:
        t = token.strip().casefold()
        for c in reply.choices:
            if t in (c.key.casefold(), c.value.casefold(), c.label.strip().casefold()):
                return c
        return None

    whole = one(arg)
    if whole is not None:
        return [whole]
    if reply.multi:
        picks = [one(tok) for tok in arg.replace(",", " ").split()]
        if picks and all(c is not None for c in picks):
            return list({c.value: c for c in picks if c is not None}.values())
    return None


def _local(dt: datetime, flow: Flow) -> str:
    return f"{dt.astimezone(flow.tz):%a %d %b %Y, %H:%M} ({flow.timezone})"


@dataclass(frozen=True)
class Nudge:
    """One unprompted message the reminder worker would send: a reminder or the final note."""

    plan: Plan
    number: int  # 1, 2... for reminders; 0 for the final message
    replies: list[Reply]


def nudges(flow: Flow, session: Session, until: datetime) -> list[Nudge]:
    """What the reminder worker would send ``session`` up to ``until`` if it stays silent, by the
    real policy (:func:`bot.reminders.plan`), applied in memory: nothing is stored."""
    out: list[Nudge] = []
    s = session
    for _ in range(flow.reminders.max + 2):
        p = plan(flow, s)
        if p is None or p.at > until:
            break
        if p.kind == "final":
            final = [Reply(text=tr(flow.reminders.final, s.lang), kind="end")]
            out.append(Nudge(p, 0, final))
            break
        out.append(Nudge(p, s.reminders + 1, engine.reminder(flow, s)))
        s = reminded(s, p.at)
    return out


def _mask_url(url: str) -> str:
    """A Redis URL without its password."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "the configured REDIS_URL"
    if parts.password is None:
        return url
    user = parts.username or ""
    netloc = f"{user}:***@{parts.netloc.rpartition('@')[2]}"  # also host1:7000,host2:7001
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def redis_location(services: Services) -> str:
    """Where the store's Redis is, for an error message (never with its password)."""
    if services.settings.redis_url:
        return _mask_url(services.settings.redis_url)
    kw = getattr(getattr(services.redis, "connection_pool", None), "connection_kwargs", {}) or {}
    if kw.get("path"):
        where = f"unix://{kw['path']}"
    elif kw.get("host"):
        where = f"{kw['host']}:{kw.get('port', 6379)}"
    else:
        where = str(services.settings.data_dir / "redis")
    return f"{where} (the embedded local Redis)"


def store_error_text(services: Services, exc: StoreError) -> str:
    if isinstance(exc, ConflictError):
        return "Too many messages at once for this respondent; nothing was saved. Try again."
    return (
        f"Cannot reach Redis at {redis_location(services)}: nothing was saved.\n"
        f"Is it running? Check REDIS_URL (unset it to use the embedded local Redis). ({exc})"
    )


# --- the chat ----------------------------------------------------------------------------------


@dataclass
class _Options:
    channel: str
    address: str
    source: str | None
    lang: str | None


class ConsoleChat:
    """One officer's chat with one flow. ``run`` reads lines until /quit or end of input."""

    def __init__(
        self,
        services: Services,
        flow_id: str,
        options: _Options,
        read: Callable[[str], str],
        console: Console,
    ) -> None:
        self.services = services
        self.flow_id = flow_id
        self.opt = options
        self.read = read
        self.out = console
        self.base_address = options.address
        self.address = options.address
        self.respondents = 1
        self.offset = timedelta(0)
        self.dispatcher = Dispatcher(services.registry, services.store, clock=self.now)
        self.session: Session | None = None
        self.keyboard: Reply | None = None  # the reply whose buttons are on screen
        self.sms_total = 0

    def say(self, *objects: object) -> None:
        """A line of text (no wrapping by rich: the terminal wraps it, logs stay one line)."""
        _say(self.out, *objects)

    # -- time and state -------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.services.clock() + self.offset

    @property
    def flow(self) -> Flow | None:
        return self.services.registry.get(self.flow_id)

    async def load_session(self) -> Session | None:
        store = self.services.store
        loaded = await store.load(store.respondent(CHANNEL, self.address))
        self.session = loaded.session
        return loaded.session

    def _flow_of(self, session: Session | None) -> Flow | None:
        if session is None:
            return self.flow
        return self.services.registry.get(session.flow) or self.flow

    # -- main loop ------------------------------------------------------------------------------
    async def run(self) -> None:
        flow = self.flow
        if flow is None:
            have = ", ".join(sorted(self.services.registry.flows)) or "none"
            self.say(f"[red]No flow {escape(self.flow_id)!r} is loaded[/] (loaded: {have}).")
            return
        self.banner(flow)
        try:
            await self.resume()
        except StoreError as exc:
            self.store_error(exc)
            return
        while True:
            try:
                line = self.read(PROMPT)
            except (EOFError, KeyboardInterrupt):
                self.bye()
                return
            line = line.strip()
            if not line:
                continue
            try:
                if line.startswith("/"):
                    if not await self.command(line):
                        self.bye()
                        return
                else:
                    await self.send_text(line)
            except StoreError as exc:
                self.store_error(exc)
            except KeyboardInterrupt:
                self.bye()
                return

    def banner(self, flow: Flow) -> None:
        lang = self.opt.lang or flow.languages[0]
        what = "SMS" if self.opt.channel == "sms" else "Telegram"
        self.out.print(
            Panel(
                Text.assemble(
                    (tr(flow.title, lang), "bold"),
                    f"  ({flow.id}, version {flow.version}, {len(flow.questions)} questions)\n",
                    f"Shown as {what}. Language: {LANGUAGE_NAMES.get(lang, lang)}."
                    + (f" Source: {self.opt.source}." if self.opt.source else ""),
                ),
                title="surveybot chat",
                width=min(self.out.width, PANEL_WIDTH + 8),
            )
        )
        self.say(self.start_hint(flow))
        if not flow.is_open(self.now()):
            closes = flow.closes_at()
            self.say(
                "[yellow]This survey is not open now[/]"
                + (f" (it closes {escape(_local(closes, flow))})" if closes else "")
                + ": the bot will answer with its closed message."
            )

    def start_hint(self, flow: Flow) -> str:
        src = flow.source(self.opt.source)
        if flow.keywords:
            word = flow.keywords[0]
            if src is not None and src.keyword:
                word = f"{word} {src.keyword}"
            extra = ""
            if src is None and flow.sources and flow.sources[0].keyword:
                s0 = flow.sources[0]
                extra = (
                    f"\n[dim]{word} {s0.keyword} would also record the group that shared it "
                    f"({escape(s0.name)}).[/]"
                )
            return f"Type [bold]{word}[/] to start, [bold]/help[/] for console commands.{extra}"
        return "Type anything to start, [bold]/help[/] for console commands."

    async def resume(self) -> None:
        """Pick up a respondent from an earlier run: its session, and the clock it had reached."""
        session = await self.load_session()
        if session is None:
            return
        ahead = session.last_at - self.now()
        if ahead > timedelta(0):
            self.offset += ahead + timedelta(seconds=1)
            flow = self._flow_of(session)
            when = _local(self.now(), flow) if flow else self.now().isoformat()
            self.say(
                f"[dim]Clock restored to {escape(when)} (moved on with /wait in an earlier run).[/]"
            )
        flow = self._flow_of(session)
        if flow is None:
            return
        if session.status is Status.ACTIVE and session.asked:
            answered, total = engine.progress(flow, session)
            self.say(
                f"This respondent already started [bold]{escape(flow.id)}[/] "
                f"({answered} of about {total} answered, now on "
                f"[bold]{escape(session.current or '-')}[/]). Type a reply to carry on, "
                "or /restart to be a new respondent.",
            )
        elif session.status.finished:
            self.say(
                f"This respondent's {escape(flow.id)} session is [bold]{session.status.value}[/]. "
                "/restart to try again as a new respondent.",
            )

    def bye(self) -> None:
        self.say("[dim]Bye. Answers are kept in the store; run the chat again to carry on.[/]")

    def store_error(self, exc: StoreError) -> None:
        self.say(f"[red]{escape(store_error_text(self.services, exc))}[/]")

    # -- sending --------------------------------------------------------------------------------
    def _start_payload(self) -> str:
        return f"{self.flow_id}-{self.opt.source}" if self.opt.source else self.flow_id

    def _inbound(
        self,
        text: str,
        kind: Literal["text", "start", "button"] = "text",
        question: str | None = None,
    ) -> Inbound:
        return Inbound(
            channel=CHANNEL,
            address=self.address,
            text=text,
            message_id=f"console-{uuid.uuid4().hex}",
            kind=kind,
            question=question,
            source=self.opt.source,
            lang=self.opt.lang,
        )

    async def send_text(self, line: str) -> None:
        registry = self.services.registry
        if self.session is None and registry.by_keyword(line) is None:
            # A new respondent whose first words are not a keyword: open this flow as a link
            # would, so the officer need not know the keyword.
            self.say(
                "[dim](opening the survey as a link would; on SMS a new number sending no "
                "keyword gets the list of surveys)[/]"
            )
            await self.turn(self._inbound(self._start_payload(), kind="start"))
            return
        await self.turn(self._inbound(line))

    async def turn(self, inbound: Inbound) -> None:
        self.refresh_flows()
        outcome = await self.dispatcher.handle(inbound)
        if outcome.session is not None:
            self.session = outcome.session
        if not outcome.replies:
            quiet = self.session is not None and self.session.status is Status.OPTED_OUT
            self.say(
                "[dim](no reply"
                + (
                    ": they said STOP, so the bot stays silent until START or the keyword"
                    if quiet
                    else ""
                )
                + ")[/]"
            )
            return
        self.show(outcome.replies)

    def refresh_flows(self) -> None:
        """Pick up edits to the flow file between messages, as the server does."""
        registry = self.services.registry
        if not registry.refresh():
            return
        errors = registry.errors
        if not errors:
            flow = self.flow
            version = f" (now version {flow.version})" if flow else ""
            self.say(f"[green]Flow file reloaded{version}.[/]")
            return
        for file, problems in errors.items():
            self.say(f"[red]{escape(file)} has errors: still using the last good version.[/]")
            _print_problems(self.out, problems)

    # -- showing replies ------------------------------------------------------------------------
    def show(self, replies: list[Reply], *, preview: str | None = None) -> None:
        """Draw one step's replies as the channel sends them (a preview: a reminder)."""
        title = Text(preview or "bot", style="bold magenta" if preview else "bold")
        qids = [r.question for r in replies if r.question]
        if qids:
            title.append(" · " + ", ".join(dict.fromkeys(qids)), style="dim")
        kinds = {r.kind for r in replies}
        border = "magenta" if preview else ("yellow" if "error" in kinds else "cyan")
        width = min(self.out.width, PANEL_WIDTH)
        if self.opt.channel == "sms":
            texts = sms_messages(replies)
            total = 0
            for text in texts:
                total += sms.segments(text)
                self.out.print(
                    Panel(
                        Text(text),
                        title=title,
                        title_align="left",
                        subtitle=Text(sms_footer(text)),
                        subtitle_align="right",
                        border_style=border,
                        width=width,
                    )
                )
            if preview is None:
                self.sms_total += total
            n = len(texts)
            self.say(
                f"[dim]{'Preview' if preview else 'This turn'}: {n} message{'s' if n != 1 else ''}"
                f" · {total} SMS"
                + ("" if preview else f" · {self.sms_total} SMS in this chat")
                + "[/]"
            )
            return
        lang = self.session.lang if self.session is not None else self.opt.lang
        sent = telegram_render(replies, lang)
        plain = Text(preview or "bot", style=title.style)
        for n, msg in enumerate(sent, 1):
            body = Text(msg.text)
            if msg.markup is not None:
                body.append("\n\n")
                body.append(draw_keyboard(msg.markup), style="bold")
            self.out.print(
                Panel(
                    body,
                    title=title if n == len(sent) else plain,
                    title_align="left",
                    border_style=border,
                    width=width,
                )
            )
        if preview is None:
            keyed = keyed_reply(replies)
            if keyed is not None:
                self.keyboard = keyed

    # -- console commands -----------------------------------------------------------------------
    async def command(self, line: str) -> bool:
        """Run a console command; False means end the chat."""
        name, _, arg = line.partition(" ")
        name, arg = name.lower(), arg.strip()
        if name in ("/quit", "/exit", "/q"):
            return False
        if name in ("/help", "/h", "/?"):
            self.say(HELP)
        elif name == "/wait":
            await self.wait(arg)
        elif name == "/status":
            await self.status()
        elif name == "/restart":
            self.respondents += 1
            self.address = f"{self.base_address}-{self.respondents}"
            self.session = None
            self.keyboard = None
            self.say(
                f"New respondent (console address {escape(self.address)}). "
                f"{self.start_hint(self.flow) if self.flow else ''}",
            )
        elif name == "/start":
            await self.turn(self._inbound(arg or self._start_payload(), kind="start"))
        elif name in ("/b", "/button"):
            await self.button(arg)
        elif self.opt.channel == "telegram":
            # As the Telegram channel does: /stop, /help@Bot... reach the bot as the words.
            await self.turn(self._inbound(f"{name[1:].split('@')[0]} {arg}".strip()))
        else:
            self.say(
                f"Unknown console command {escape(name)}; /help lists them. "
                "(To send it to the bot, leave out the slash.)"
            )
        return True

    async def button(self, arg: str) -> None:
        """A Telegram button press, turned into what the Telegram channel makes of it."""
        if self.opt.channel != "telegram":
            self.say("SMS has no buttons: type the number or word. (/b is for --as telegram.)")
            return
        reply = self.keyboard
        if reply is None or not arg:
            self.say("No buttons to press yet." if reply is None else "Usage: /b 2")
            return
        picks = pick_buttons(reply, arg)
        if picks is None:
            keys = ", ".join(c.key for c in reply.choices)
            self.say(f"No button {escape(arg)!r} (keys: {escape(keys)}).")
            return
        if reply.question is None:  # e.g. the language menu: the press stands for typing the key
            await self.turn(self._inbound(picks[0].key))
            return
        values = ",".join(c.value for c in picks)
        await self.turn(self._inbound(values, kind="button", question=reply.question))

    async def wait(self, arg: str) -> None:
        try:
            delta = parse_duration(arg)
        except ValueError:
            self.say("Usage: /wait 3d (or 2h, 30m, 1w)")
            return
        if delta <= timedelta(0) or delta > MAX_WAIT:
            self.say(f"Wait between 1 minute and {format_duration(MAX_WAIT)}.")
            return
        before = self.now()
        self.offset += delta
        after = self.now()
        session = await self.load_session()
        flow = self._flow_of(session)
        if flow is None:
            return
        self.say(
            f"[bold]Clock moved on {format_duration(delta)}[/]: now {escape(_local(after, flow))}.",
        )
        if session is None:
            return
        for nudge in nudges(flow, session, after):
            if nudge.plan.at <= before:
                continue  # shown after an earlier /wait
            if nudge.number:
                label = f"REMINDER PREVIEW {nudge.number} of up to {flow.reminders.max}"
            else:
                why = "the survey closes" if nudge.plan.reason == "closed" else "it expires"
                label = f"FINAL MESSAGE PREVIEW (the session ends: {why})"
            self.say(
                f"[magenta]{label}: would be sent {escape(_local(nudge.plan.at, flow))}. "
                "A preview: the reminder worker sends these; nothing was sent or recorded.[/]"
            )
            self.show(nudge.replies, preview=label)
        closes = flow.closes_at()
        if session.status is Status.ACTIVE and session.asked:
            expires = session.last_at + flow.expiry
            if before < expires <= after and (closes is None or expires < closes):
                self.say(
                    f"[yellow]The session expired {escape(_local(expires, flow))} "
                    f"({format_duration(flow.expiry)} of silence): the next message starts "
                    "the survey afresh.[/]"
                )
        if closes is not None and before < closes <= after:
            self.say(
                f"[yellow]The survey closed {escape(_local(closes, flow))}: the bot now answers "
                "with its closed message.[/]"
            )

    async def status(self) -> None:
        session = await self.load_session()
        if session is None:
            self.say(
                f"No session yet for this respondent ({escape(self.address)}). "
                f"{self.start_hint(self.flow) if self.flow else ''}",
            )
            return
        flow = self._flow_of(session)
        if flow is None:
            self.say(f"Session in flow {escape(session.flow)!r}, which is not loaded.")
            return
        now = self.now()
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        grid.add_row("Flow", f"{flow.id} (session version {session.version}, file {flow.version})")
        grid.add_row("Status", session.status.value)
        if session.current:
            q = flow.question(session.current)
            text = tr(q.text, session.lang) if q is not None else ""
            grid.add_row("Question", Text(f"{session.current}: {_short(text)}"))
        if session.status is Status.ACTIVE and session.asked:
            answered, total = engine.progress(flow, session)
            grid.add_row("Progress", f"{answered} of about {total} questions answered")
        grid.add_row("Language", LANGUAGE_NAMES.get(session.lang, session.lang))
        if session.source:
            grid.add_row("Source", session.source)
        grid.add_row("Started", _local(session.started_at, flow))
        grid.add_row("Last message", _local(session.last_at, flow))
        grid.add_row(
            "Clock",
            _local(now, flow)
            + (f" (moved on {format_duration(self.offset)})" if self.offset else ""),
        )
        coming = plan(flow, session)
        if coming is not None:
            what = "Next reminder" if coming.kind == "remind" else "Final message"
            grid.add_row(what, _local(max(coming.at, now), flow))
        if session.status is Status.ACTIVE and session.asked:
            grid.add_row("Expires", _local(session.last_at + flow.expiry, flow) + " if silent")
        if self.opt.channel == "sms":
            grid.add_row("SMS in this chat", str(self.sms_total))
        self.out.print(
            Panel(grid, title="status", title_align="left", width=min(self.out.width, 96))
        )
        if session.answers:
            table = Table("question", "answer", title="Answers so far", title_justify="left")
            for qid, value in session.answers.items():
                q = flow.question(qid)
                shown = (
                    "(skipped)"
                    if value is None
                    else (answer_label(q, value, session.lang) if q is not None else str(value))
                )
                other = session.other.get(qid)
                table.add_row(qid, Text(shown + (f": {other}" if other else "")))
            self.out.print(table)


def _say(out: Console, *objects: object) -> None:
    out.print(*objects, highlight=False, soft_wrap=True)


def _short(text: str, n: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _print_problems(out: Console, problems: list[Problem], limit: int = MAX_PROBLEMS_SHOWN) -> None:
    for p in problems[:limit]:
        colour = "red" if p.severity == "error" else "yellow"
        _say(out, f"  [{colour}]{escape(p.format())}[/]")
    if len(problems) > limit:
        where = f" {problems[0].file}" if problems else ""
        _say(out, f"  ... and {len(problems) - limit} more: surveybot validate{escape(where)}")


async def run_chat(
    services: Services,
    flow_id: str,
    *,
    channel: str = "sms",
    read: Callable[[str], str] = input,
    console: Console | None = None,
    address: str = "officer-console",
    source: str | None = None,
    lang: str | None = None,
) -> None:
    """Chat with ``flow_id`` in the terminal until /quit, Ctrl-D or Ctrl-C.

    ``read`` is called with the prompt and returns one line (``input`` by default; it raises
    EOFError at the end). ``channel`` is how replies are drawn: ``sms`` or ``telegram``.
    A store failure prints a clear message and the chat goes on (nothing was saved).
    """
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}")
    chat = ConsoleChat(
        services,
        flow_id,
        _Options(channel=channel, address=address, source=source, lang=lang),
        read,
        console or Console(),
    )
    await chat.run()


# --- the `surveybot chat` entry ------------------------------------------------------------------


def chat_main(
    flow_path: Path,
    as_channel: str,
    source: str | None,
    lang: str | None,
    settings: Settings,
    *,
    read: Callable[[str], str] = input,
    console: Console | None = None,
    redis: Redis | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> int:
    """``surveybot chat FLOW``: validate the file, then chat with it. Returns the exit code.

    Errors in the file stop here (exit 1); warnings are shown and the chat goes on. Only this file
    is served (through a link in a private folder, so edits made while chatting are picked up and
    a copy of the flow elsewhere cannot shadow it). The store is ``REDIS_URL``, else the embedded
    local Redis in the data folder, so answers survive a restart. ``redis`` and ``clock`` are for
    tests.
    """
    out = console or Console()
    flow_path = Path(flow_path)
    result = load_flow(flow_path)
    if result.problems:
        # Every error matters; warnings are for `surveybot validate`, a few are enough here.
        limit = MAX_PROBLEMS_SHOWN if result.errors else MAX_WARNINGS_SHOWN
        _print_problems(out, result.problems, limit)
    flow = result.flow
    if flow is None or result.errors:
        n = len(result.errors)
        _say(
            out,
            f"[red]{escape(str(flow_path))} has {n} error{'s' if n != 1 else ''}: "
            "fix them and try again.[/]",
        )
        return 1
    if as_channel not in (*CHANNELS, "voice"):
        _say(out, f"[red]--as must be one of {', '.join(CHANNELS)} or voice[/]")
        return 1
    if source is not None and flow.source(source) is None:
        ids = ", ".join(s.id for s in flow.sources) or "none in this file"
        _say(out, f"[red]Unknown source {escape(source)!r}[/] (sources: {escape(ids)}).")
        return 1
    if lang is not None and lang not in flow.languages:
        _say(
            out,
            f"[red]{escape(flow.id)} is not written in {escape(lang)!r}[/] "
            f"(languages: {', '.join(flow.languages)}).",
        )
        return 1

    with tempfile.TemporaryDirectory(prefix="surveybot-chat-") as tmp:
        link = Path(tmp) / f"{flow.id}.yaml"
        try:
            link.symlink_to(flow_path.resolve())
        except OSError:  # no symlinks (some Windows setups): a copy, without live edits
            shutil.copyfile(flow_path, link)
        # An officer trying a flow types (or pastes) fast: no per-sender rate limit here.
        local = settings.model_copy(update={"flows_dir": Path(tmp), "rate_limit": 0})
        if redis is None and settings.redis_url is None:
            _say(
                out,
                f"[dim]No REDIS_URL: using the embedded local Redis in "
                f"{escape(str(settings.data_dir / 'redis'))} (answers are kept there).[/]",
            )
        try:
            services = build_services(local, redis=redis, clock=clock)
        except StoreError as exc:
            _say(out, f"[red]Cannot start the embedded local Redis: {escape(str(exc))}[/]")
            return 1
        loop = asyncio.new_event_loop()  # not asyncio.run: Ctrl-C must reach input() at once
        try:
            return loop.run_until_complete(
                _chat(services, flow.id, as_channel, read, out, source, lang)
            )
        except KeyboardInterrupt:
            _say(out, "[dim]Bye.[/]")
            return 0
        finally:
            with contextlib.suppress(RedisError, OSError, RuntimeError):
                loop.run_until_complete(services.store.close())
            loop.close()


async def _chat(
    services: Services,
    flow_id: str,
    channel: str,
    read: Callable[[str], str],
    out: Console,
    source: str | None,
    lang: str | None,
) -> int:
    if not await services.store.ping():
        _say(
            out,
            f"[red]Cannot reach Redis at {escape(redis_location(services))}.[/] Is it running? "
            "Check REDIS_URL (unset it to use the embedded local Redis).",
        )
        return 1
    if channel == "voice":
        from adapters.voice_twilio.console import run_voice_chat

        await run_voice_chat(services, flow_id, read, out)
        return 0
    await run_chat(
        services, flow_id, channel=channel, read=read, console=out, source=source, lang=lang
    )
    return 0


__all__ = [
    "CHANNEL",
    "ConsoleChat",
    "Nudge",
    "chat_main",
    "draw_keyboard",
    "keyed_reply",
    "nudges",
    "pick_buttons",
    "redis_location",
    "run_chat",
    "sms_footer",
]
