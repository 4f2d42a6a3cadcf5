"""Shared by the fault tests (tests/reliability) and the soak benchmark (benchmarks/bench_soak.py):
a private ``redis-server`` and ``surveybot serve`` processes, signed Twilio webhooks walking the
carers flow, and the check that what Redis holds is exactly what was acknowledged
(:func:`stored_differences`). No pytest here: the benchmark imports it too.

The oracle for "what was acknowledged" is a clean run of the same script through the real
dispatcher on fakeredis (:func:`reference`): after ``k`` messages acknowledged with 200, a
respondent's stored session is at rev ``k`` with ``messages == k``, and the stored answers equal
the clean run's answers after ``k`` messages. A lost step shows as a smaller count, a doubled one
as a larger count (every message bumps both, whatever the answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import fakeredis
import httpx
import redis
from pydantic import SecretStr
from redis.asyncio import Redis
from twilio.request_validator import RequestValidator

from adapters.services import build_services
from bot.config import Settings
from bot.models import Inbound, Status
from store import KeyBuilder, RedisStore
from tests.support.cluster import free_port

ROOT = Path(__file__).resolve().parents[2]
FLOW_ID = "carers-strategy"
FLOW_FILE = f"{FLOW_ID}.yaml"
TOKEN = "reliability-auth-token"
ACCOUNT_SID = "AC" + "7" * 32
BOT_NUMBER = "+447700900000"
SECRET = "reliability-secret"
PUBLIC_URL = "https://surveys.example.gov.uk"
"""Every app process is told this public URL (as behind a load balancer), so one signed request
is valid on any of them, as a Twilio retry landing on another process is."""
WEBHOOK = "/sms/twilio"
SCRIPT = [
    "CARERS", "yes", "1", "1", "over 50 hours", "2 years", "agree", "strongly agree", "2", "1 and 2", "no",
    "More short breaks would help me most.", "skip", "1", "1", "1", "1", "2", "2", "le16 7aa",
]  # fmt: skip
"""A carer's whole route through flows/carers-strategy.yaml, one SMS per item."""
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
"""What the webhook answers to a duplicate MessageSid (and nothing else in this script)."""


def copy_flows(dest: Path) -> Path:
    """A flows folder with the carers flow only, its closing date moved far ahead (the servers
    run on the real clock, and this must not start failing the day the sample survey closes)."""
    dest.mkdir(parents=True, exist_ok=True)
    raw = (ROOT / "flows" / FLOW_FILE).read_text(encoding="utf-8")
    lines = [
        "closes: 2099-12-31\n" if line.startswith("closes:") else line
        for line in raw.splitlines(keepends=True)
    ]
    (dest / FLOW_FILE).write_text("".join(lines), encoding="utf-8")
    return dest


def phone(run: str, i: int) -> str:
    """A distinct UK mobile number per (run tag, index): Ofcom's drama range is +447700900xxx,
    too small here, so the numbers are fictional +4477 numbers keyed by the run."""
    return f"+4477{int(run, 16) % 1000:03d}{i:05d}"


def message_sid(number: str, m: int, run: str) -> str:
    """The MessageSid Twilio would give message ``m`` of ``number`` (stable across retries)."""
    return "SM" + uuid.uuid5(uuid.NAMESPACE_URL, f"{run}/{number}/{m}").hex


class Signer:
    """Form bodies and ``X-Twilio-Signature`` headers exactly as Twilio sends them."""

    def __init__(self, public_url: str = PUBLIC_URL, token: str = TOKEN) -> None:
        self.url = public_url.rstrip("/") + WEBHOOK
        self.validator = RequestValidator(token)

    def sign(self, number: str, text: str, sid: str) -> tuple[bytes, dict[str, str]]:
        params = {
            "MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "AccountSid": ACCOUNT_SID,
            "From": number, "To": BOT_NUMBER, "Body": text, "NumMedia": "0",
            "NumSegments": "1", "SmsStatus": "received", "ApiVersion": "2010-04-01",
        }  # fmt: skip
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": self.validator.compute_signature(self.url, params),
        }
        return urlencode(params).encode(), headers


# -- processes ----------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGKILL it when the thread that started it ends, so a
    test run that is itself killed (a CI timeout) leaves no server behind. Start processes from
    the main thread only."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


_PREEXEC = _die_with_parent if sys.platform == "linux" else None


def _tail(path: Path, n: int = 40) -> str:
    try:
        return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-n:])
    except OSError:
        return ""


class RedisServer:
    """A private ``redis-server`` on a loopback port, data (AOF) in ``folder``; restartable on the
    same port and folder after a SIGKILL."""

    def __init__(self, folder: Path, *, appendfsync: str = "always", port: int | None = None):
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.appendfsync = appendfsync
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = folder / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server")
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
                "--save", "", "--daemonize", "no", "--logfile", str(self.log),
                "--protected-mode", "no"]  # fmt: skip
        if self.appendfsync == "off":
            args += ["--appendonly", "no"]
        else:
            args += ["--appendonly", "yes", "--appendfsync", self.appendfsync]
        with (self.folder / "redis.out").open("ab") as out:
            self.proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=out, stderr=out, preexec_fn=_PREEXEC
            )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=2)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server exited: {_tail(self.log)}")
                try:
                    if client.ping():  # LOADING (AOF replay) raises BusyLoadingError: wait on
                        return
                except (redis.RedisError, OSError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server not ready in {timeout} s: {_tail(self.log)}")
                time.sleep(0.02)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final fsync; what is in the AOF is what survives."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None


def app_env(redis_url: str, prefix: str, flows: Path, data: Path) -> dict[str, str]:
    """The process environment of a ``surveybot serve`` process for these tests: ours only, none
    of the caller's surveybot, Twilio, Telegram or Redis settings."""
    mine = ("SURVEYBOT_", "TWILIO_", "TELEGRAM_", "REDIS_URL")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(mine)}
    pythonpath = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update({
        "REDIS_URL": redis_url, "SURVEYBOT_REDIS_URL": redis_url,
        "SURVEYBOT_REDIS_PREFIX": prefix, "SURVEYBOT_SECRET": SECRET,
        "SURVEYBOT_PUBLIC_URL": PUBLIC_URL, "SURVEYBOT_FLOWS": str(flows),
        "SURVEYBOT_DATA": str(data), "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_FROM_NUMBER": BOT_NUMBER,
        "PYTHONPATH": pythonpath, "PYTHONUNBUFFERED": "1",
    })  # fmt: skip
    return env


CRASH_MARKS = ("Traceback", "Exception in ASGI")
"""In an app's output: an exception nothing handled."""


class AppServer:
    """``adapters.app:create_app`` (or another factory) under uvicorn, in its own process."""

    def __init__(self, env: Mapping[str, str], folder: Path, *, name: str = "app",
                 factory: str = "adapters.app:create_app", port: int | None = None,
                 serve: bool = False) -> None:  # fmt: skip
        """``serve``: run ``surveybot serve`` itself, the command users run (its own logging and
        defaults), instead of ``factory`` under uvicorn."""
        self.env = dict(env)
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.factory = factory
        self.serve = serve
        self.log = folder / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        cmd = [sys.executable, "-m", "uvicorn", self.factory, "--factory", "--host", "127.0.0.1",
               "--port", str(self.port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
        if self.serve:
            script = str(Path(sys.executable).with_name("surveybot"))
            cmd = [script, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(cmd, env=self.env, cwd=self.folder, preexec_fn=_PREEXEC,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)  # fmt: skip

    def wait_ready(self, timeout: float = 30) -> None:
        """Until ``/healthz`` answers 200 (Redis reachable, flows loaded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"server exited during start-up:\n{self.output()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1) as s,
            ):
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"server on port {self.port} not ready in {timeout} s:\n{self.output()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return _tail(self.log, 60)

    def crash_log(self) -> str | None:
        """The app's output from its first unhandled exception on (a ``Traceback``, or uvicorn's
        ``Exception in ASGI application``), or None if there was none."""
        try:
            lines = self.log.read_text(errors="replace").splitlines(keepends=True)
        except OSError:
            return None
        for at, line in enumerate(lines):
            if any(mark in line for mark in CRASH_MARKS):
                return "".join(lines[at : at + 60])
        return None


@contextlib.contextmanager
def workspace(prefix: str = "surveybot-reliability-") -> Iterator[Path]:
    """A temporary folder removed afterwards, also when the body fails."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- the oracle and the check -------------------------------------------------------------------

Answers = dict[str, Any]


async def reference(flows: Path, script: Sequence[str] = SCRIPT) -> list[Answers]:
    """The stored answers (question id -> value) after each prefix of ``script``: element ``k``
    is the state after ``k`` messages, from a clean run through the real dispatcher and store on
    fakeredis. Checked against the flow's meaning too, so a changed flow cannot silently make
    the oracle agree with anything."""
    settings = Settings(SURVEYBOT_FLOWS=flows, SURVEYBOT_SECRET=SecretStr(SECRET), _env_file=None)
    client = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    svc = build_services(settings, redis=client)
    number = "+447700900999"
    rid = svc.store.respondent("sms", number)
    states: list[Answers] = [{}]
    try:
        for m, text in enumerate(script):
            inbound = Inbound(channel="sms", address=number, text=text, message_id=f"ref-{m}")
            await svc.dispatcher.handle(inbound)
            response = await svc.store.response(rid, FLOW_ID)
            loaded = await svc.store.load(rid)
            if response is None or loaded.session is None or loaded.rev != m + 1:
                raise AssertionError(f"reference run: message {m} ({text!r}) was not stored")
            states.append({q: a.value for q, a in response.answers.items()})
        if list(script) == SCRIPT:
            final = states[-1]
            assert response is not None
            assert response.status is Status.COMPLETE
            assert final["role"] == "carer", final
            assert final["postcode"] == "LE16", final
            assert final["anything_else"] == SCRIPT[11], final
    finally:
        await client.aclose()
    return states


def store_for(client: Redis, prefix: str) -> RedisStore:
    return RedisStore(client, secret=SECRET.encode(), keys=KeyBuilder(prefix=prefix))


async def mismatch(
    store: RedisStore, number: str, acked: int, ref: Sequence[Answers]
) -> str | None:
    """Why ``number``'s stored state is not exactly its first ``acked`` messages, or None."""
    rid = store.respondent("sms", number)
    loaded = await store.load(rid)
    response = await store.response(rid, FLOW_ID)
    if acked == 0:
        if loaded.session is not None or response is not None:
            return f"{number}: nothing acknowledged, but a session or response is stored"
        return None
    if loaded.session is None or response is None:
        return f"{number}: {acked} messages acknowledged, nothing stored (answers lost)"
    got = {q: a.value for q, a in response.answers.items()}
    problems: list[str] = []
    rev, messages = loaded.rev, loaded.session.messages
    if rev != acked or messages != acked:
        what = "lost" if min(rev, messages) < acked else "doubled"
        problems.append(
            f"{acked} messages acknowledged, session at rev {rev} with {messages} ({what})"
        )
    if got != ref[acked]:
        problems.append(f"answers {got} != expected {ref[acked]}")
    done = acked == len(ref) - 1
    if (response.status is Status.COMPLETE) != done:
        problems.append(f"status {response.status.value} after {acked} of {len(ref) - 1}")
    return f"{number}: " + "; ".join(problems) if problems else None


async def stored_differences(
    client: Redis, prefix: str, acked: Mapping[str, int], ref: Sequence[Answers]
) -> list[str]:
    """The check after a run: for every number whose stored state (under ``prefix``) is not
    exactly its first ``acked[number]`` messages, the ones acknowledged with 200, why not
    (:func:`mismatch`). A hundred numbers at a time."""
    store = store_for(client, prefix)
    items = list(acked.items())
    problems: list[str] = []
    for i in range(0, len(items), 100):
        found = await asyncio.gather(*(mismatch(store, n, a, ref) for n, a in items[i : i + 100]))
        problems += [p for p in found if p]
    return problems


class Lanes:
    """``n`` keep-alive connections to one server, each its own ``httpx.AsyncClient`` used by one
    request at a time. (One client with a pool of ``n`` costs O(n) per request in httpx's pool
    bookkeeping, the most expensive thing in these tests on a small machine.) A respondent
    always uses the same lane (``key``), which keeps its messages in order on the wire too."""

    def __init__(self, base_url: str, n: int, *, timeout: float = 20) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self.clients = [
            httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout) for _ in range(n)
        ]
        self.locks = [asyncio.Lock() for _ in range(n)]

    async def post(self, key: int, body: bytes, headers: Mapping[str, str]) -> httpx.Response:
        lane = key % len(self.clients)
        async with self.locks[lane]:
            return await self.clients[lane].post(WEBHOOK, content=body, headers=dict(headers))

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self.clients), return_exceptions=True)
