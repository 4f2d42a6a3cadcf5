"""The terminal chat: the real dispatcher and store (fakeredis), a scripted officer, a recorded
console."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fakeredis
import pytest
from rich.console import Console
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from adapters import console as console_module
from adapters.console import (
    CHANNEL,
    chat_main,
    draw_keyboard,
    nudges,
    pick_buttons,
    run_chat,
    sms_footer,
)
from adapters.services import Services, build_services
from adapters.sms_twilio.render import messages as sms_messages
from bot import engine, sms
from bot.config import Settings
from bot.dispatch import Dispatcher, Outcome
from bot.models import Inbound, Reply, ReplyChoice, Session, Status
from bot.prompts import question_choices, question_reply
from bot.schema import Flow
from bot.text import tr
from tests.adapters.conftest import ROOT, Clock

# Hours and years by amount: a bare "5" or "2" there is also "5 hours" or "2 years", so checked.
CARERS_COMPLETE = [
    "CARERS", "yes", "1", "1", "over 50 hours", "2 years", "agree", "strongly agree", "2", "1 and 2", "no",
    "More short breaks would help me most.", "skip", "1", "1", "1", "1", "1", "2", "2", "le16 7aa",
]  # fmt: skip


def script(lines: Iterable[str | Callable[[], object]]) -> Callable[[str], str]:
    """A ``read`` that returns the lines in turn (calling any callables in between for their
    side effect) and raises EOFError at the end, as ``input`` does on Ctrl-D."""
    it = iter(lines)

    def read(prompt: str) -> str:
        for item in it:
            if callable(item):
                item()
                continue
            return item
        raise EOFError

    return read


def recorder() -> Console:
    return Console(record=True, width=100, color_system=None)


async def chat(
    services: Services, lines: Iterable[str | Callable[[], object]], **kw: object
) -> str:
    console = recorder()
    await run_chat(services, "carers-strategy", read=script(lines), console=console, **kw)  # type: ignore[arg-type]
    return console.export_text()


def head(text: str, n: int = 40) -> str:
    """The start of a message: short enough to sit on the first line of its panel."""
    return text[:n]


def carers(services: Services) -> Flow:
    flow = services.registry.get("carers-strategy")
    assert flow is not None
    return flow


def carers_choice(services: Services, qid: str, n: int) -> str:
    q = carers(services).question(qid)
    assert q is not None
    return question_choices(q, "en")[n - 1].value


async def session_of(services: Services, address: str = "officer-console") -> Session:
    loaded = await services.store.load(services.store.respondent(CHANNEL, address))
    assert loaded.session is not None
    return loaded.session


# --- the chat on the real path ---------------------------------------------------------------


async def test_the_carers_flow_completes_by_sms(services: Services) -> None:
    out = await chat(services, CARERS_COMPLETE)
    assert head(tr(carers(services).intro, "en")) in out
    assert head(tr(carers(services).thanks, "en")) in out
    assert "Traceback" not in out
    rid = services.store.respondent(CHANNEL, "officer-console")
    resp = await services.store.response(rid, "carers-strategy")
    assert resp is not None
    assert resp.status is Status.COMPLETE
    assert resp.answers["role"].value == "carer"
    assert resp.answers["postcode"].value == "LE16"


async def test_top_line_says_what_to_type(services: Services) -> None:
    out = await chat(services, [])
    assert "Type CARERS to start" in out
    assert "/help for console commands" in out


async def test_sms_footer_shows_segments_and_encoding_per_message_and_per_turn(
    services: Services,
) -> None:
    out = await chat(services, ["CARERS", "yes", "1", "1"])
    # the intro and the consent question go as one 3-part message, as the SMS channel sends them
    first = sms_messages(
        [Reply(text=tr(carers(services).intro, "en")), *await replies_for(services, "consent")]
    )
    assert len(first) == 1
    assert sms_footer(first[0]) in out
    assert re.search(r"\d SMS · GSM-7 · \d{3} chars", out)  # several parts
    assert re.search(r"1 SMS · GSM-7 · \d+/160", out)  # one part: the hours question
    assert "Reply YES or NO" in out  # the exact SMS text, choice line included
    assert re.search(r"This turn: 1 message · \d SMS · \d+ SMS in this chat", out)
    turns = [int(n) for n in re.findall(r"This turn: 1 message · (\d) SMS", out)]
    totals = [int(n) for n in re.findall(r" · (\d+) SMS in this chat", out)]
    assert totals == [sum(turns[: i + 1]) for i in range(len(turns))]


async def test_gujarati_is_counted_as_ucs2(services: Services) -> None:
    out = await chat(services, ["CARERS"], lang="gu")
    assert re.search(r"\d SMS · UCS-2 · \d+ units", out)
    assert "GSM-7" not in out


async def replies_for(services: Services, qid: str) -> list[Reply]:
    q = carers(services).question(qid)
    assert q is not None
    return [question_reply(carers(services), q, "en", {})]


def test_footer_formats() -> None:
    assert sms_footer("a" * 118) == "1 SMS · GSM-7 · 118/160"
    assert sms_footer("a" * 161) == "2 SMS · GSM-7 · 161 chars"
    assert sms_footer("ન" * 150) == "3 SMS · UCS-2 · 150 units"
    # one stray character that makes a Latin text UCS-2 is named
    assert sms_footer("Hi 🙂") == "1 SMS · UCS-2 · 5/70 · because of 🙂"


async def test_as_telegram_shows_buttons_and_takes_keys_labels_and_presses(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Inbound] = []

    class Recording(Dispatcher):
        async def handle(self, inbound: Inbound, **kw: Any) -> Outcome:
            seen.append(inbound)
            return await super().handle(inbound, **kw)

    monkeypatch.setattr(console_module, "Dispatcher", Recording)
    out = await chat(
        services, ["CARERS", "/b yes", "/b 1", "A parent", "/b 9", "/stop"], channel="telegram"
    )
    assert "[ Yes ] [ No ]" in out
    assert "[ I am a carer ]" in out  # as adapters.telegram.render draws it
    assert "SMS ·" not in out  # no SMS costing on Telegram
    assert "No button '9'" in out
    assert "You will get no more messages" in out  # /stop reaches the bot, as on Telegram
    s = await session_of(services)
    assert s.answers["consent"] is True
    assert s.answers["role"] == "carer"  # pressed with /b 1
    assert s.answers["cared_for"] == "parent"  # typed label, as in the real channel
    assert s.status is Status.OPTED_OUT
    # a press reaches the bot as the Telegram channel makes it: a button for that question
    assert [(i.kind, i.question, i.text) for i in seen[1:3]] == [
        ("button", "consent", "yes"),
        ("button", "role", "carer"),
    ]
    assert (seen[-1].kind, seen[-1].text) == ("text", "stop")


async def test_telegram_multi_choice_and_menu_presses(services: Services) -> None:
    lines = [
        *("CARERS", "yes", "1", "1", "over 50 hours", "2 years"),
        *("agree", "strongly agree", "2", "/b 1 2"),
    ]
    out = await chat(services, lines, channel="telegram")
    assert "✅ Done" in out
    s = await session_of(services)
    support = carers(services).question("support_most")
    assert support is not None
    picked = s.answers["support_most"]
    assert isinstance(picked, list)
    assert len(picked) == 2
    out = await chat(services, ["LANGUAGE", "/b 2"], channel="telegram")
    assert (await session_of(services)).lang == "gu"  # a menu button stands for typing its key


def test_draw_keyboard() -> None:
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Yes", callback_data="a"), InlineKeyboardButton("No", callback_data="b")],
         [InlineKeyboardButton("✅ Done", callback_data="d")]]
    )  # fmt: skip
    assert draw_keyboard(markup) == "[ Yes ] [ No ]\n[ ✅ Done ]"
    assert draw_keyboard(None) == ""


async def test_b_is_refused_on_sms(services: Services) -> None:
    out = await chat(services, ["CARERS", "/b yes"])
    assert "SMS has no buttons" in out
    assert (await session_of(services)).current == "consent"


async def test_wait_then_a_message_gets_the_engines_welcome_back(services: Services) -> None:
    out = await chat(services, ["CARERS", "yes", "/wait 2d", "1"])
    assert "Clock moved on 2d" in out
    assert "Welcome back. You have answered 1 of about" in out
    s = await session_of(services)
    assert s.answers["role"] == "carer"
    assert s.last_at == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


async def test_reminder_preview_after_wait(services: Services) -> None:
    out = await chat(services, ["CARERS", "yes", "/wait 2d"])
    assert "REMINDER PREVIEW 1 of up to 2" in out
    assert "would be sent Tue 24 Nov 2026, 10:00 (Europe/London)" in out
    assert "nothing was sent or recorded" in out
    assert "REMINDER PREVIEW 2" not in out  # the second is due 48h after the first
    s = await session_of(services)
    # what the engine words as the nudge, as the SMS would read
    nudge = engine.reminder(carers(services), s)
    assert head(sms.render(nudge[0])) in out
    assert s.reminders == 0  # a preview: the session is untouched
    assert s.reminded_at is None
    # a later wait shows only what falls in it: the second reminder, not the first again
    out = await chat(services, ["CARERS", "yes", "/wait 2d", "/wait 1d"], address="again")
    assert out.count("REMINDER PREVIEW 1 of up to 2:") == 1
    assert out.count("REMINDER PREVIEW 2 of up to 2:") == 1


async def test_wait_past_expiry_previews_the_final_message_and_starts_afresh(
    services: Services,
) -> None:
    out = await chat(services, ["CARERS", "yes", "/wait 22d", "hi"])
    assert "REMINDER PREVIEW 2 of up to 2" in out
    assert "FINAL MESSAGE PREVIEW (the session ends: it expires)" in out
    assert head(tr(carers(services).reminders.final, "en")) in out
    assert "The session expired" in out
    assert out.count(head(tr(carers(services).intro, "en"))) == 2
    assert (await session_of(services)).current == "consent"


async def test_wait_rejects_nonsense(services: Services) -> None:
    out = await chat(services, ["/wait soon", "/wait"])
    assert out.count("Usage: /wait 3d") == 2


async def test_status_shows_progress_and_answers(services: Services) -> None:
    out = await chat(services, ["CARERS", "yes", "1", "/status"])
    assert re.search(r"Progress\s+2 of about \d+ questions answered", out)
    assert re.search(r"Question\s+cared_for: Who do you mainly care for\?", out)
    assert re.search(r"role\s+│ I am a carer", out)
    assert re.search(r"Next reminder\s+Tue 24 Nov 2026, 10:00", out)


async def test_status_without_a_session(services: Services) -> None:
    out = await chat(services, ["/status"])
    assert "No session yet for this respondent" in out


@pytest.mark.parametrize("end", ["eof", "quit", "ctrl-c"])
async def test_the_chat_ends_cleanly(services: Services, end: str) -> None:
    def interrupt() -> None:
        raise KeyboardInterrupt

    lines: list[str | Callable[[], object]] = ["CARERS"]
    if end == "quit":
        lines += ["/quit", "yes"]  # nothing after /quit is read
    elif end == "ctrl-c":
        lines += [interrupt, "yes"]
    out = await chat(services, lines)
    assert "Bye." in out
    assert (await session_of(services)).current == "consent"


async def test_respondent_words_go_to_the_bot_and_slash_words_do_not(services: Services) -> None:
    out = await chat(services, ["CARERS", "yes", "HELP", "/nonsense", "STOP", "hello"])
    assert "0116 305 0004" in out  # the flow's HELP contact, from the engine
    assert "Unknown console command /nonsense" in out
    assert "You will get no more messages" in out
    assert "no reply: they said STOP" in out
    assert (await session_of(services)).status is Status.OPTED_OUT


async def test_restart_is_a_new_respondent(services: Services) -> None:
    out = await chat(services, ["CARERS", "yes", "/restart", "anything"])
    assert "New respondent (console address officer-console-2)" in out
    assert "opening the survey as a link would" in out
    assert (await session_of(services)).current == "role"
    fresh = await session_of(services, "officer-console-2")
    assert fresh.current == "consent"
    assert fresh.answers == {}


async def test_source_and_start_payload(services: Services) -> None:
    await chat(services, ["hello"], source="rutland-carers")
    assert (await session_of(services)).source == "rutland-carers"
    await chat(services, ["/start CARERS-HARBOROUGH"], address="other")
    assert (await session_of(services, "other")).source == "harborough-carers"


async def test_answers_persist_across_two_runs(services: Services, clock: Clock) -> None:
    await chat(services, ["CARERS", "yes", "1", "/wait 2d", "1"])
    first = await session_of(services)
    out = await chat(services, ["over 50 hours", "/status"])
    assert "This respondent already started carers-strategy" in out
    # the clock the first run reached (after /wait) is restored, not rewound
    assert "Clock restored" in out
    assert (await session_of(services)).last_at > first.last_at
    assert head(tr(carers(services).intro, "en")) not in out  # no fresh start
    rid = services.store.respondent(CHANNEL, "officer-console")
    resp = await services.store.response(rid, "carers-strategy")
    assert resp is not None
    assert {"consent", "role", "cared_for", "hours"} <= set(resp.answers)
    assert resp.answers["hours"].value == carers_choice(services, "hours", 5)


async def test_a_store_error_prints_a_clear_message_and_the_chat_goes_on(
    settings: Settings, clock: Clock
) -> None:
    server = fakeredis.FakeServer()
    services = build_services(settings, redis=fakeredis.FakeAsyncRedis(server=server), clock=clock)

    def down() -> None:
        server.connected = False

    def up() -> None:
        server.connected = True

    out = await chat(services, ["CARERS", down, "yes", up, "yes"])
    assert "Cannot reach Redis at" in out
    assert "nothing was saved" in out
    assert "Traceback" not in out
    assert (await session_of(services)).current == "role"  # the retry went through


async def test_redis_down_from_the_start(settings: Settings, clock: Clock) -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    services = build_services(settings, redis=fakeredis.FakeAsyncRedis(server=server), clock=clock)
    out = await chat(services, ["CARERS"])
    assert "Cannot reach Redis at" in out


# --- pure helpers ----------------------------------------------------------------------------


def _multi() -> Reply:
    return Reply(
        text="What would help?",
        choices=[
            ReplyChoice(key="1", value="breaks", label="Short breaks"),
            ReplyChoice(key="2", value="money", label="Money"),
            ReplyChoice(key="3", value="advice", label="Advice"),
        ],
        multi=True,
        question="help_most",
        kind="question",
    )


def test_pick_buttons() -> None:
    r = _multi()

    def values(arg: str) -> list[str] | None:
        picks = pick_buttons(r, arg)
        return None if picks is None else [c.value for c in picks]

    assert values("2") == ["money"]
    assert values("short breaks") == ["breaks"]
    assert values("advice") == ["advice"]
    assert values("1 3") == ["breaks", "advice"]
    assert values("1,3,1") == ["breaks", "advice"]
    assert values("1 9") is None
    assert pick_buttons(r.model_copy(update={"multi": False}), "1 3") is None


def test_nudges_follow_the_reminder_policy(services: Services) -> None:
    flow = carers(services)  # after 24h, every 48h, max 2, quiet 20:00-09:00 Europe/London
    late = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)  # London is on GMT in November
    s = Session(
        flow=flow.id, version=flow.version, respondent="r", channel=CHANNEL, address="x",
        current="role", asked=["consent", "role"], started_at=late, last_at=late,
    )  # fmt: skip
    got = nudges(flow, s, late + timedelta(days=30))
    assert [n.number for n in got] == [1, 2, 0]  # two reminders, then the final message
    first = got[0].plan.at.astimezone(flow.tz)
    assert first.date() == datetime(2026, 11, 25).date()  # 24 Nov 21:30 is quiet: next morning
    assert 9 <= first.hour < 10
    assert got[1].plan.at - got[0].plan.at >= timedelta(hours=48)
    assert got[2].plan.at < late + flow.expiry
    assert nudges(flow, s, late + timedelta(hours=23)) == []
    done = s.model_copy(update={"status": Status.COMPLETE})
    assert nudges(flow, done, late + timedelta(days=30)) == []


# --- chat_main (the `surveybot chat` entry), on fakeredis --------------------------------------


def test_chat_main_stops_on_errors(tmp_path: Path, settings: Settings) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: Bad Id\ntitle: x\nquestions: []\n")
    console = recorder()
    code = chat_main(bad, "sms", None, None, settings, read=script(["hi"]), console=console)
    out = console.export_text()
    assert code == 1
    assert "bad.yaml" in out
    assert "error" in out
    assert "fix them and try again" in out


def test_chat_main_shows_warnings_chats_and_keeps_answers_across_a_restart(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    server = fakeredis.FakeServer()  # one "Redis" for both runs: a restart of the chat
    flow_file = tmp_path / "mine" / "every-type.yaml"
    flow_file.parent.mkdir()
    shutil.copy(ROOT / "tests" / "bot" / "flows" / "every-type.yaml", flow_file)
    # a file elsewhere in the same folder with the same id must not shadow the one tried
    shutil.copy(flow_file, flow_file.parent / "aaa-old-copy.yaml")

    def run(lines: list[str | Callable[[], object]]) -> tuple[int, str]:
        console = recorder()
        code = chat_main(
            flow_file, "sms", None, None, settings, read=script(lines), console=console,
            redis=fakeredis.FakeAsyncRedis(server=server), clock=clock,
        )  # fmt: skip
        return code, console.export_text()

    def edit() -> None:
        text = flow_file.read_text().replace("What should we call you?", "Your first name?")
        flow_file.write_text(text)

    code, out = run(["TEST", "yes", edit, "Asha"])
    assert code == 0
    assert "warning" in out  # every-type has untranslated texts: shown, and the chat goes on
    assert "Hello from Test Borough Council" in out
    assert "What should we call you?" in out
    assert "Flow file reloaded" in out  # the edit was picked up between two messages

    code, out = run(["1", "/status"])
    assert code == 0
    assert "already started every-type" in out
    assert "Hi Asha. Who are you?" not in out  # that question was answered in the first run
    assert re.search(r"name\s+│ Asha", out)
    assert re.search(r"role\s+│ I am a carer", out)


def test_chat_main_unreachable_redis_url_is_a_clear_error(
    tmp_path: Path, settings: Settings
) -> None:
    unreachable = settings.model_copy(update={"redis_url": "redis://:hunter2@127.0.0.1:1/0"})
    console = recorder()
    code = chat_main(
        ROOT / "flows" / "carers-strategy.yaml", "sms", None, None, unreachable,
        read=script(["CARERS"]), console=console,
    )  # fmt: skip
    out = console.export_text()
    assert code == 1
    assert "Cannot reach Redis at redis://:***@127.0.0.1:1/0" in out
    assert "hunter2" not in out


def test_chat_main_rejects_an_unknown_source_or_language(settings: Settings) -> None:
    path = ROOT / "flows" / "carers-strategy.yaml"
    console = recorder()
    assert chat_main(path, "sms", "nobody", None, settings, console=console) == 1
    assert chat_main(path, "sms", None, "fr", settings, console=console) == 1
    out = console.export_text()
    assert "Unknown source 'nobody'" in out
    assert "harborough-carers" in out
    assert "not written in 'fr'" in out


def test_chat_as_voice_plays_the_call(settings: Settings, clock: Clock) -> None:
    console = recorder()
    code = chat_main(
        ROOT / "flows" / "carers-strategy.yaml", "voice", None, None, settings,
        read=script(["1", "1", "", "1", "~a parent", "1", "/hangup", "*", "/quit"]),
        console=console, redis=fakeredis.FakeAsyncRedis(), clock=clock,
    )  # fmt: skip
    out = " ".join(console.export_text().split())  # as one line: the console wraps
    assert code == 0
    assert "For English, press 1." in out
    assert "Google.gu-IN-Standard-A" in out
    assert "Leicestershire County Council" in out
    assert "Press 1 for yes, or 2 for no." in out
    assert "Sorry, I did not hear anything." in out  # the empty line: silence, asked again
    assert "Did you say A parent?" in out  # unsure speech is read back
    assert "About how many hours" in out
    assert "Welcome back" in out  # called again after /hangup
