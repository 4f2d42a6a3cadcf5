"""The terminal chat (``surveybot chat FLOW``): an officer tries a flow as a respondent would.

Each bot message is drawn in a panel the way the chosen channel shows it: for SMS the exact text
:func:`bot.sms.render` produces, with its cost (``1 SMS · GSM-7 · 118/160``); for Telegram the
text and its inline buttons (``[ 1 Never ] [ 2 Sometimes ]``). Words the respondent would type,
including STOP, HELP, BACK, SKIP and RESTART, go to the bot as typed. Console commands start with
a slash:

``/wait 3d``     move the clock on (also ``2h``, ``30m``) to try reminders, welcome back, expiry
``/status``      where the respondent is: question, answers, progress, next reminder
``/b 2``         press a Telegram button (by key, label or value)
``/start [p]``   open the survey as a deep link would (optionally with a payload)
``/restart``     become a new respondent (a fresh address)
``/help``        the list; ``/quit`` (or Ctrl-D, Ctrl-C) ends the chat

The chat is the real path: the dispatcher, the engine and the store (the embedded local Redis
when ``REDIS_URL`` is unset, so answers survive a restart). Messages go in on the ``console``
channel, so a trial never mixes with real SMS or Telegram respondents. The clock is the services'
clock plus an offset that ``/wait`` moves; when a later run finds the respondent's last message
"in the future" (a previous ``/wait``), the offset is restored so time keeps going forward.
Reminders are only previewed here (the scheduler sends them); the preview follows the flow's
``reminders:`` (after, every, max, quiet hours) and is not recorded in the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Callable
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

from adapters.services import Services, build_services
from bot import engine, sms
from bot.config import Settings
from bot.dispatch import Dispatcher, utcnow
from bot.errors import ConflictError, Problem, StoreError
from bot.loader import load_flow
from bot.models import Inbound, Reply, ReplyChoice, Session, Status
from bot.prompts import answer_label
from bot.schema import Flow, QuietHours, format_duration, parse_duration
from bot.text import LANGUAGE_NAMES, tr

CHANNEL = "console"
"""The channel console messages come in on (respondent ids differ from SMS and Telegram ones)."""
CHANNELS = ("sms", "telegram")
PROMPT = "you> "
PANEL_WIDTH = 72
MAX_WAIT = timedelta(days=400)
MAX_PROBLEMS_SHOWN = 12

HELP = """\
[bold]Console commands[/] (everything else is sent to the bot as the respondent's reply):
  [bold]/wait 3d[/]       move the clock on (also 2h, 30m) to try reminders, welcome back, expiry
  [bold]/status[/]        where this respondent is: question, answers, progress, next reminder
  [bold]/b 2[/]           press a Telegram button (its key, label or value)
  [bold]/start[/] [dim]\\[payload][/]  open the survey as a link would (e.g. /start CARERS-HARBOROUGH)
  [bold]/restart[/]       become a new respondent
  [bold]/help[/]          this list
  [bold]/quit[/]          end the chat (also Ctrl-D or Ctrl-C)
Respondent words such as STOP, HELP, BACK, SKIP and RESTART go to the bot as typed."""


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


def button_label(choice: ReplyChoice) -> str:
    """What a Telegram button says: ``1 Never`` for numbered or lettered choices, ``Yes`` for
    word keys (YES/NO), the key alone when there is no label (an unlabelled scale point)."""
    if not choice.label or choice.label.strip().casefold() == choice.key.casefold():
        return choice.label or choice.key
    if choice.key.isdigit() or len(choice.key) == 1:
        return f"{choice.key} {choice.label}"
    return choice.label


def telegram_buttons(reply: Reply, width: int | None = None) -> str:
    """The inline keyboard as text: ``[ 1 Never ] [ 2 Sometimes ]``, in rows of at most
    ``width`` characters when given (a button is never split across lines)."""
    buttons = [f"[ {button_label(c)} ]" for c in reply.choices]
    if width is None:
        return " ".join(buttons)
    rows: list[str] = []
    for b in buttons:
        if rows and len(rows[-1]) + 1 + len(b) <= width:
            rows[-1] += " " + b
        else:
            rows.append(b)
    return "\n".join(rows)


def pick_buttons(reply: Reply, arg: str) -> str | None:
    """The value a ``/b`` press sends: a choice's key, label or value; for a multiple choice
    several keys (``/b 1 3`` or ``/b 1,3``) give ``value1,value3``. None when nothing matches."""

    def one(token: str) -> str | None:
        t = token.strip().casefold()
        for c in reply.choices:
            if t in (c.key.casefold(), c.value.casefold(), c.label.strip().casefold()):
                return c.value
        return None

    whole = one(arg)
    if whole is not None:
        return whole
    if reply.multi:
        values = [one(tok) for tok in arg.replace(",", " ").split()]
        if values and all(v is not None for v in values):
            return ",".join(dict.fromkeys(v for v in values if v is not None))
    return None


def _local(dt: datetime, flow: Flow) -> str:
    return f"{dt.astimezone(flow.tz):%a %d %b %Y, %H:%M} ({flow.timezone})"


def _out_of_quiet_hours(t: datetime, quiet: QuietHours, flow: Flow) -> datetime:
    """``t``, or the end of the quiet window it falls in (flow time zone)."""
    local = t.astimezone(flow.tz)
    if not quiet.contains(local.time().replace(tzinfo=None)):
        return t
    end = local.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(t.tzinfo)


def reminder_times(flow: Flow, session: Session, until: datetime) -> list[tuple[int, datetime]]:
    """When the flow's reminders would go to ``session`` if it stays silent, up to ``until``:
    ``(number, time)`` pairs. The first comes ``after`` the last message, the next ``every``
    later, at most ``max`` in all, none in quiet hours (moved to their end), none once the
    session would have expired or the survey closed. A preview of the scheduler's policy.
    """
    if session.status is not Status.ACTIVE or not session.asked or session.current is None:
        return []
    policy = flow.reminders
    expires = _last(session) + flow.expiry
    closes = flow.closes_at()
    out: list[tuple[int, datetime]] = []
    n = session.reminders
    t = session.reminded_at or session.last_at
    while n < policy.max:
        t = _out_of_quiet_hours(
            t + (policy.after if n == 0 else policy.every), policy.quiet_hours, flow
        )
        if t > until or t >= expires or (closes is not None and t >= closes):
            break
        n += 1
        out.append((n, t))
    return out


def _last(session: Session) -> datetime:
    """The engine measures silence from the last message or reminder, whichever is later."""
    return max(session.last_at, session.reminded_at or session.last_at)


def _mask_url(url: str) -> str:
    """A Redis URL without its password."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "the configured REDIS_URL"
    if parts.password is None:
        return url
    user = parts.username or ""
    netloc = f"{user}:***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
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
        self.last_question: Reply | None = None
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
        total = 0
        for reply in replies:
            total += self.panel(reply, preview=preview)
            if reply.choices and reply.question:
                self.last_question = reply
        if self.opt.channel == "sms":
            if preview is None:
                self.sms_total += total
            n = len(replies)
            self.say(
                f"[dim]{'Reminder' if preview else 'This turn'}: {n} message{'s' if n != 1 else ''}"
                f" · {total} SMS"
                + ("" if preview else f" · {self.sms_total} SMS in this chat")
                + "[/]",
            )

    def panel(self, reply: Reply, *, preview: str | None = None) -> int:
        """Draw one reply; return the SMS it costs (0 on Telegram)."""
        style = {"error": "yellow", "end": "green", "info": "blue"}.get(reply.kind, "cyan")
        title = Text(preview or "bot", style="bold magenta" if preview else "bold")
        if reply.question:
            title.append(f" · {reply.question}", style="dim")
        width = min(self.out.width, PANEL_WIDTH)
        if self.opt.channel == "sms":
            text = sms.render(reply)
            segments = sms.segments(text)
            self.out.print(
                Panel(
                    Text(text),
                    title=title,
                    title_align="left",
                    subtitle=Text(sms_footer(text)),
                    subtitle_align="right",
                    border_style="magenta" if preview else style,
                    width=width,
                )
            )
            return segments
        body = Text(reply.text)
        if reply.choices:
            body.append("\n\n")
            body.append(telegram_buttons(reply, width - 4), style="bold")
            if reply.multi:
                body.append("\n(one or more)", style="dim")
        self.out.print(
            Panel(
                body,
                title=title,
                title_align="left",
                border_style="magenta" if preview else style,
                width=width,
            )
        )
        return 0

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
            self.last_question = None
            self.say(
                f"New respondent (console address {escape(self.address)}). "
                f"{self.start_hint(self.flow) if self.flow else ''}",
            )
        elif name == "/start":
            await self.turn(self._inbound(arg or self._start_payload(), kind="start"))
        elif name in ("/b", "/button"):
            await self.button(arg)
        else:
            self.say(
                f"Unknown console command {escape(name)}; /help lists them. "
                "(To send it to the bot, leave out the slash.)"
            )
        return True

    async def button(self, arg: str) -> None:
        if self.opt.channel != "telegram":
            self.say("SMS has no buttons: type the number or word. (/b is for --as telegram.)")
            return
        reply = self.last_question
        if reply is None or not arg:
            self.say("No buttons to press yet." if reply is None else "Usage: /b 2")
            return
        value = pick_buttons(reply, arg)
        if value is None:
            self.say(f"No button {escape(arg)!r}: {escape(telegram_buttons(reply))}")
            return
        await self.turn(self._inbound(value, kind="button", question=reply.question))

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
        for n, at in reminder_times(flow, session, after):
            if at <= before:
                continue
            label = f"REMINDER PREVIEW {n} of up to {flow.reminders.max}"
            self.say(
                f"[magenta]{label}: would be sent {escape(_local(at, flow))}. A preview only: "
                "the reminder scheduler sends these, nothing was sent or recorded.[/]",
            )
            self.show(engine.reminder(flow, session), preview=label)
        closes = flow.closes_at()
        closed_now = closes is not None and before < closes <= after
        if session.status is Status.ACTIVE and session.asked:
            expires = _last(session) + flow.expiry
            if before < expires <= after and (closes is None or expires < closes):
                self.say(
                    f"[yellow]The session expired {escape(_local(expires, flow))} "
                    f"({format_duration(flow.expiry)} of silence): the next message starts "
                    "the survey afresh.[/]",
                )
        if closed_now and closes is not None:
            self.say(
                f"[yellow]The survey closed {escape(_local(closes, flow))}: the bot now answers "
                "with its closed message.[/]",
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
        upcoming = [t for _, t in reminder_times(flow, session, now + MAX_WAIT) if t > now]
        if upcoming:
            grid.add_row("Next reminder", _local(upcoming[0], flow))
        if session.status is Status.ACTIVE and session.asked:
            grid.add_row("Expires", _local(_last(session) + flow.expiry, flow) + " if silent")
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


def _print_problems(out: Console, problems: list[Problem]) -> None:
    for p in problems[:MAX_PROBLEMS_SHOWN]:
        colour = "red" if p.severity == "error" else "yellow"
        _say(out, f"  [{colour}]{escape(p.format())}[/]")
    if len(problems) > MAX_PROBLEMS_SHOWN:
        _say(out, f"  ... and {len(problems) - MAX_PROBLEMS_SHOWN} more (surveybot validate)")


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
        _print_problems(out, result.problems)
    flow = result.flow
    if flow is None or result.errors:
        n = len(result.errors)
        _say(
            out,
            f"[red]{escape(str(flow_path))} has {n} error{'s' if n != 1 else ''}: "
            "fix them and try again.[/]",
        )
        return 1
    if as_channel not in CHANNELS:
        _say(out, f"[red]--as must be one of {', '.join(CHANNELS)}[/]")
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
        local = settings.model_copy(update={"flows_dir": Path(tmp)})
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
    await run_chat(
        services, flow_id, channel=channel, read=read, console=out, source=source, lang=lang
    )
    return 0


__all__ = [
    "CHANNEL",
    "ConsoleChat",
    "button_label",
    "chat_main",
    "pick_buttons",
    "redis_location",
    "reminder_times",
    "run_chat",
    "sms_footer",
    "telegram_buttons",
]
