"""Privacy, end to end: after a run of several respondents on every channel (a completed survey, a
STOP, a declined consent, a delivery failure, an opt-out reported by Twilio, a user who blocked
the Telegram bot, reminders sent by SMS and Telegram), no phone number, Telegram chat id, web
cookie or Telegram name is anywhere it should not be:

* in Redis (every key name and every value, on fakeredis and on the real server), the raw
  address is allowed in exactly one place, the store's documented rule (store/keys.py): the
  ``data`` of a live session keeps ``address`` while the survey is ``active`` (messages must
  still be sent), and a finished session (complete, opted out, declined) has none;
* in the log output, every logger at DEBUG, our own and the libraries' (python-telegram-bot,
  twilio, httpx...);
* in the exports (CSV, JSONL, and every file inside the XLSX).

Then erasure, through ``surveybot erase`` itself on the real server (the store's erase on
fakeredis), removes every key and every trace of each person, until only data about no one is
left.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests
from redis.asyncio import Redis
from requests.adapters import BaseAdapter
from twilio.http.http_client import TwilioHttpClient
from typer.testing import CliRunner

from adapters.sms_twilio import build_sender
from adapters.telegram import TelegramSender
from adapters.twilio_common.rest import TokenBucket
from adapters.worker import ReminderWorker
from bot.cli import app as cli
from bot.cli import ops as cli_ops
from bot.results.export import export_flow
from tests.adapters.sms_twilio.twilio_fakes import STATUS
from tests.adapters.telegram.conftest import blocked, message
from tests.conftest import REAL_REDIS_URL
from tests.security.harness import World, make_world, snapshot, status_form
from tests.store.conftest import split_session

FLOW = "every-type"
ORGANISATION = ["yes", "Asha", "3", "We run a carers cafe."]  # a short, complete route


@dataclass(frozen=True)
class Person:
    channel: str
    address: str
    says: tuple[str, ...]
    ends: str  # the session status at the end of the run

    def variants(self) -> list[str]:
        """Every way the address could be written down."""
        if self.channel != "sms":
            return [self.address]
        national = self.address.removeprefix("+44")
        return [
            self.address,
            self.address.removeprefix("+"),
            "0" + national,
            national,
            "0" + national[:4] + " " + national[4:],
            "+44 " + national[:4] + " " + national[4:],
        ]


PEOPLE = [
    Person("sms", "+447700900511", ("TEST", *ORGANISATION), "complete"),
    Person("sms", "+447700900512", ("TEST", "yes", "STOP"), "opted_out"),
    # Delivery failure, reminder; and a reply not understood that holds their own number (the
    # misses log keeps it masked, and erasure removes it).
    Person("sms", "+447700900513", ("TEST", "yes", "Dev", "ring me 07700 900513 x"), "active"),
    Person("sms", "+447700900514", ("TEST",), "opted_out"),  # then Twilio reports 21610
    Person("sms", "+447700900515", ("TEST", "no"), "declined"),
    Person("telegram", "6183920457", ("/start every-type", *ORGANISATION), "complete"),
    Person("telegram", "7294031568", ("/start every-type", "yes"), "active"),  # reminder
    Person("telegram", "8305142679", ("/start every-type",), "opted_out"),  # blocks the bot
    Person("web", "Wc1Ny4Lf0_pKq2ZtRm8xVb3Hs7Jd9GeA", ("start", *ORGANISATION), "complete"),
    Person("web", "Xa9Kd2Qm7_rTn4YwPz1cUe6Fg8Lh3BsV", ("start", "yes"), "active"),
]
FAILED = PEOPLE[2]
TWILIO_OPT_OUT = PEOPLE[3]
BLOCKS_BOT = PEOPLE[7]
# What Telegram tells us about a user; none of it is needed, so none of it may be kept.
FIRST, LAST, USERNAME = "Zebedee", "Quartermaine", "zq_carer_1957"


# -- the run -------------------------------------------------------------------------------------


class FakeTwilioApi(BaseAdapter):
    """Twilio's REST API at the requests layer: the real TwilioHttpClient (and its logging) runs."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        self.sent.append(request)
        response = requests.Response()
        response.status_code = 201
        response.headers["Content-Type"] = "application/json"
        response.raw = io.BytesIO(  # what requests reads the body from
            json.dumps(
                {"sid": f"SM{len(self.sent):032d}", "status": "queued", "body": "(text)"}
            ).encode()
        )
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


def named(update: dict[str, Any]) -> dict[str, Any]:
    """``update`` (a message or a chat member change) with the person's names from Telegram."""
    body = update.get("message") or update["my_chat_member"]
    for who in (body["from"], body["chat"]):
        who.update(first_name=FIRST, last_name=LAST, username=USERNAME)
    return update


async def run_everyone(w: World) -> FakeTwilioApi:
    update = 100
    for p in PEOPLE:
        if p.channel == "sms":
            await w.say_sms(p.address, p.says, sid=f"SM{p.address[-3:]}-", minutes=2)
            continue
        asked: str | None = None  # the question the page shows (sent with a typed answer)
        for n, text in enumerate(p.says):
            w.clock.advance(minutes=2)
            if p.channel == "telegram":
                update += 1
                answer = await w.telegram_update(
                    named(message(update, text, chat_id=int(p.address)))
                )
            else:
                body: dict[str, Any] = (
                    {"start": True}
                    if text == "start"
                    else {"text": text, "id": f"m-{n:06d}", "question": asked}
                )
                answer = await w.web(FLOW, body, cookie=p.address)
                replies = json.loads(answer.body)["replies"] if answer.status == 200 else []
                asked = replies[-1]["question"] if replies else asked
            assert answer.status == 200, answer
    # A reply to one number could not be delivered; Twilio says another number opted out.
    failed = status_form("undelivered", sid="SM" + "5" * 32, to=FAILED.address, code="30003")
    assert (await w.post_form(STATUS, failed)).status == 204
    stop = status_form("failed", sid="SM" + "6" * 32, to=TWILIO_OPT_OUT.address, code="21610")
    assert (await w.post_form(STATUS, stop)).status == 204
    # A Telegram user blocks the bot.
    update += 1
    assert (await w.telegram_update(named(blocked(update, int(BLOCKS_BOT.address))))).status == 200
    # A day later the worker sends the reminders (SMS and Telegram; a web page cannot be sent to).
    w.clock.advance(hours=25)
    api = FakeTwilioApi()
    http = TwilioHttpClient(timeout=5)
    assert http.session is not None
    http.session.mount("https://", api)
    sms = build_sender(
        w.settings, http_client=http, services=w.services, limiter=TokenBucket(1000, 1000)
    )
    worker = ReminderWorker(w.services, {"sms": sms, "telegram": TelegramSender(w.services)})
    stats = await worker.run_once()
    assert stats.sent == 2, stats
    return api


# -- scanning -------------------------------------------------------------------------------------


def every_trace() -> list[tuple[str, str]]:
    """(what, text) for every raw address and Telegram name of the run."""
    out = [(f"{p.channel} {p.address}", v) for p in PEOPLE for v in p.variants()]
    return out + [("telegram name", n) for n in (FIRST, LAST, USERNAME)]


def traces_in(text: str, traces: list[tuple[str, str]] | None = None) -> list[str]:
    return [f"{what} as {v!r}" for what, v in (traces or every_trace()) if v in text]


def _text(v: Any) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, dict):
        return " ".join(f"{_text(k)}={_text(x)}" for k, x in v.items())
    if isinstance(v, list | set | tuple):
        return " ".join(_text(x) for x in v)
    return str(v)


SESSION = re.compile(r"^.+:\{(?P<rid>[^}]+)\}:s$")


async def check_redis(w: World, people: list[Person]) -> dict[str, tuple[str, Any]]:
    """Apply the rule to every key; returns the snapshot."""
    keys = await snapshot(w.redis, w.prefix)
    store = w.services.store
    by_rid = {store.respondent(p.channel, p.address): p for p in people}
    sessions = 0
    for key, (kind, value) in keys.items():
        assert not traces_in(key), key
        m = SESSION.match(key)
        if m is not None and kind == "string":  # the compact layout (store.encode)
            header, raw = split_session(value)
            data = json.loads(raw)
            person = by_rid[m["rid"]]
            status = data.get("s", "active")  # stored without its defaults
            assert status == person.ends, (person, status)
            if person.ends == "active":
                assert data.pop("ad") == person.address
            else:
                assert "ad" not in data, (person, data)
            value = header + json.dumps(data).encode()
            sessions += 1
        elif m is not None and kind == "hash":
            value = {_text(k): v for k, v in value.items()}
            data = json.loads(value["data"])
            person = by_rid[m["rid"]]
            status = data.get("status", "active")  # stored without its defaults
            assert status == person.ends, (person, status)
            if person.ends == "active":
                # The one allowed place: a survey under way keeps the address to send to.
                assert data.pop("address") == person.address
            else:
                assert "address" not in data, (person, data)
            value["data"] = json.dumps(data)
            sessions += 1
        found = traces_in(_text(value))
        assert not found, (key, found)
    assert sessions == len(people)
    return keys


def _raise_every_logger_to_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            caplog.set_level(logging.DEBUG, logger=name)


def check_logs(caplog: pytest.LogCaptureFixture) -> None:
    assert caplog.records  # the run did log (at DEBUG, a lot)
    for record in caplog.records:
        line = record.getMessage() + (record.exc_text or "")
        found = traces_in(line)
        assert not found, (record.name, record.levelname, line[:300], found)
    assert not traces_in(caplog.text)


async def check_exports(w: World) -> None:
    flow = w.services.registry.get(FLOW)
    assert flow is not None
    texts: list[str] = []
    for fmt in ("csv", "jsonl"):
        out = io.StringIO(newline="")
        counts = await export_flow(w.services.store, flow, out, fmt, partial=True, now=w.clock())
        assert counts.written == len(PEOPLE)
        texts.append(out.getvalue())
    data = io.BytesIO()
    await export_flow(w.services.store, flow, data, "xlsx", partial=True, now=w.clock())
    with zipfile.ZipFile(io.BytesIO(data.getvalue())) as z:
        texts += [z.read(n).decode("utf-8") for n in z.namelist()]
    for text in texts:
        assert not traces_in(text), traces_in(text)


# -- the tests ------------------------------------------------------------------------------------


@pytest.fixture
async def world(redis_client: Redis, key_prefix: str, tmp_path: Path) -> AsyncIterator[World]:
    w = await make_world(tmp_path, redis=redis_client, prefix=key_prefix)
    yield w
    await w.close()


async def test_no_raw_address_anywhere_but_a_live_session(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    _raise_every_logger_to_debug(caplog)
    api = await run_everyone(world)
    # The raw addresses were really used, where they must be: to send the reminders, and only
    # to the two people still under way who can be sent to (not the opted out, not the web).
    bodies = [r.body.decode() if isinstance(r.body, bytes) else str(r.body) for r in api.sent]
    sms_to = [dict(parse_qsl(b))["To"] for b in bodies]
    assert sms_to == [FAILED.address]
    reminder_calls = world.telegram.of("sendMessage")[-1:]
    assert [c.params["chat_id"] for c in reminder_calls] == [7294031568]
    assert "questions through" in reminder_calls[0].params["text"]
    await check_redis(world, PEOPLE)
    check_logs(caplog)
    await check_exports(world)


async def erase(w: World, person: Person, url: str | None, tmp_path: Path) -> int:
    """``surveybot erase`` on a real server or cluster at ``url`` (the command's own settings,
    from the environment); the store's erase (what the command calls) on fakeredis."""
    if url is None:
        return await w.services.store.erase(person.channel, person.address)
    env = {
        "REDIS_URL": url,
        "SURVEYBOT_REDIS_PREFIX": w.prefix,
        "SURVEYBOT_SECRET": w.settings.secret.get_secret_value(),
        "SURVEYBOT_FLOWS": str(w.settings.flows_dir),
        "SURVEYBOT_DATA": str(tmp_path / "cli-data"),
    }
    assert cli_ops.erase is not None
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["erase", f"--{person.channel}", person.address], env=env
    )
    assert result.exit_code == 0, result.output
    m = re.search(r"Erased (\d+) stored item", result.output)
    assert m, result.output
    assert not traces_in(result.output)
    return int(m.group(1))


ABOUT_NO_ONE = re.compile(
    r"(qids:[^:]+|flowids|\{dlv\}:n:\d{4}-\d\d-\d\d|\{dlv\}:seen|budget:web-new:\d+"
    r"|\{audit:[^}]+\}:(log|versions)|misses:[^:]+)\Z"
)
AUDIT_LOG = re.compile(r":\{audit:[^}]+\}:log\Z")
"""Keys left when everyone is erased: a flow's question ids, the flows with responses, failure
counts per day and code, the provider message ids already counted, this minute's count of new
web sessions, each flow's audit log of officers' actions, and each flow's count of people
whose misses were logged (none names or points to a person)."""


async def test_erasure_removes_every_trace_of_each_person(
    world: World,
    backend: str,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    url = {
        "fake": None,
        "real": REAL_REDIS_URL,
        "cluster": request.getfixturevalue("redis_cluster").url if backend == "cluster" else "",
    }[backend]
    await run_everyone(world)
    store = world.services.store
    left = list(PEOPLE)
    for person in PEOPLE:
        rid = store.respondent(person.channel, person.address)
        before = await snapshot(world.redis, world.prefix)
        assert any(rid in key for key in before)
        if person is FAILED:  # their reply not understood is in the misses log, masked
            _, response = before[store.keys.response(rid, FLOW)]
            assert b"m" in response  # (the log keeps a person's misses in their response)
            assert any(b"[phone]" in v for k, v in response.items() if k[:1] == b"m")
        removed = await erase(world, person, url, tmp_path)
        assert removed >= 3  # at least the session, the response and the index entry
        left.remove(person)
        after = await check_redis(world, left)
        mine = [person.channel + " " + person.address, *(v for v in person.variants())]
        for key, (_, value) in after.items():
            assert rid not in key
            assert rid not in _text(value), key  # index, reminder queue, delivery failures
            assert not traces_in(_text(value), [(mine[0], v) for v in mine[1:]])
        assert await store.response(rid, FLOW) is None
        assert not await store.is_opted_out(rid)
        # Everyone else is untouched: a key went or changed only if it was about this person
        # (or it is a flow's audit log, which says an erasure happened, never whose).
        for key, (kind, value) in before.items():
            if after.get(key) != (kind, value) and not AUDIT_LOG.search(key):
                assert rid in key or rid in _text(value), key
    remaining = await snapshot(world.redis, world.prefix)
    assert remaining  # counts of failures per day etc. stay
    for key in remaining:
        assert ABOUT_NO_ONE.match(key.removeprefix(world.prefix + ":")), key
    assert not traces_in(caplog.text)
