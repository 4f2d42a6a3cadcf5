"""Every webhook fuzzed with hypothesis through the whole ASGI app (body limit, routing, error
handlers, the real dispatcher and store on fakeredis): 10,000 cases in all.

Properties, for every case:

* the app answers, never with a 5xx, and no exception escapes it (the harness calls the ASGI app
  directly, so anything Starlette's error middleware would turn into a 500 fails the test);
* nothing is logged at ERROR (a swallowed exception is a bug too);
* a request that is not correctly signed (Twilio) or lacks the secret token (Telegram) is refused
  without a single Redis round trip and sends nothing to any provider, and every Redis key is
  exactly as it was after all of them (a full scan before and after);
* any refusal (4xx) of a correctly signed request or of a web chat request costs no Redis round
  trip either: nothing can have been stored;
* TwiML answers are well-formed XML made only of ``<Message>`` verbs (a call's: ``<Gather>``s of
  ``<Say>``, ``<Say>`` and a closing ``<Hangup>``); web chat answers are JSON.

The Twilio cases go to the SMS and the voice endpoints (a call's start and ``<Gather>`` results,
with the state their action URLs carry fuzzed too, and call status callbacks).

The state the cases meet is real: respondents part way through a survey on every channel, whose
sessions the signed cases keep moving (the clock moves a minute per case).

The number of cases is ``SURVEYBOT_FUZZ_CASES`` (default, and CI: 10,000), shared between the
tests by :data:`SHARES`. Set it lower for a quick local run: ``SURVEYBOT_FUZZ_CASES=1000``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import string
import xml.etree.ElementTree as ET
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from adapters import telegram as tg
from adapters.app import MAX_BODY_BYTES
from adapters.voice_twilio import STATUS_PATH as CALL_STATUS
from adapters.voice_twilio import WEBHOOK_PATH as CALL
from adapters.web import session_ids
from adapters.web.chat import COOKIE_NAME, SECURE_COOKIE_NAME
from adapters.web.chat import MAX_BODY as WEB_MAX_BODY
from adapters.web.session_ids import WebId
from tests.adapters.conftest import PUBLIC_URL, TELEGRAM_SECRET
from tests.adapters.sms_twilio.twilio_fakes import FORM, STATUS, WEBHOOK
from tests.adapters.telegram.conftest import DATE, blocked, callback, json_paths, message, user
from tests.security.harness import SECRET as WORLD_SECRET
from tests.security.harness import (
    Answer,
    Headers,
    Touches,
    World,
    call,
    make_world,
    sms_form,
    status_form,
    telegram_headers,
    twilio_headers,
    twilio_signature,
)

TOTAL = int(os.environ.get("SURVEYBOT_FUZZ_CASES", "10000"))
SHARES = {
    "twilio_unsigned": 0.30,
    "twilio_signed": 0.25,
    "telegram_unauthenticated": 0.10,
    "telegram_authenticated": 0.20,
    "web_chat": 0.15,
}


def cases(name: str) -> int:
    return max(1, round(TOTAL * SHARES[name]))


def fuzz_settings(name: str) -> settings:
    return settings(
        max_examples=cases(name),
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


SENDERS = [f"+4477009004{k:02d}" for k in range(11)]  # SENDERS[k] answered k questions
SECRET = TELEGRAM_SECRET.encode()
COOKIE = "c" * 16 + "Zz0_-" + "k" * 11  # the shape of secrets.token_urlsafe(24)
FORMULAS = ['=HYPERLINK("http://evil","x")', "+1", "-5", "@SUM(A1)", "\t=1", "\r=1"]
KEYWORDS = ["TEST", "CARERS", "STOP", "HELP", "START", "yes", "no", "1", "skip", "back"]
PREFIX = ["TEST", "yes", "Asha", "1", "sometimes", "1 and 3", "agree", "4", "no", "42"]


def test_the_shares_add_up_to_the_total() -> None:
    assert sum(SHARES.values()) == pytest.approx(1.0)


# -- running cases ----------------------------------------------------------------------------------


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


Request = TypeVar("Request")


class Fuzz:
    """One test's cases: one event loop, one app, a Redis round-trip counter, ERROR records."""

    def __init__(self, tmp_path: Path) -> None:
        self.runner = asyncio.Runner()
        # No per-client request limit: every case comes from one address, and the limit's 429
        # would stop the cases reaching the parsing and the store (tests/security/test_web_abuse).
        self.world: World = self.runner.run(
            make_world(tmp_path, SURVEYBOT_WEB_REQUESTS_PER_MINUTE=0)
        )
        assert isinstance(self.world.redis, Redis)  # fakeredis
        self.touches = Touches(self.world.redis)
        self.errors = _Errors()
        logging.getLogger().addHandler(self.errors)
        self.count = 0
        self.statuses: dict[int, int] = {}
        self._touched = self._sent = 0

    @property
    def round_trips(self) -> int:
        """Redis round trips in the current case so far."""
        return self.touches.count - self._touched

    @property
    def bot_api_calls(self) -> int:
        """Telegram Bot API calls in the current case so far."""
        return len(self.world.telegram.calls) - self._sent

    def each(
        self,
        name: str,
        requests: st.SearchStrategy[Request],
        case: Callable[[Request], Coroutine[Any, Any, Answer]],
        statuses: set[int],
    ) -> None:
        """Run ``case`` (which sends a request and asserts about it) on ``cases(name)`` requests,
        the clock a minute on each time, and check that nothing was logged at ERROR; then that
        every case ran and (given a few hundred) each of ``statuses`` came back: not a vacuous run."""

        @fuzz_settings(name)
        @given(request=requests)
        def check(request: Request) -> None:
            self.count += 1
            self.world.clock.advance(minutes=1)
            self._touched, self._sent = self.touches.count, len(self.world.telegram.calls)
            answer = self.runner.run(case(request))
            self.statuses[answer.status] = self.statuses.get(answer.status, 0) + 1
            assert not self.errors.records, [r.getMessage() for r in self.errors.records][:3]

        check()
        print(f"{name}: {self.count} cases, HTTP status counts {sorted(self.statuses.items())}")
        assert self.count >= cases(name)
        if cases(name) >= 200:
            assert statuses <= set(self.statuses), self.statuses

    def close(self) -> None:
        logging.getLogger().removeHandler(self.errors)
        self.runner.run(self.world.close())
        self.runner.close()


@pytest.fixture
def fuzz(tmp_path: Path) -> Iterator[Fuzz]:
    f = Fuzz(tmp_path)
    yield f
    f.close()


def well_formed_twiml(answer: Answer) -> None:
    assert (answer.header("content-type") or "").startswith("application/xml"), answer
    root = ET.fromstring(answer.body)
    assert root.tag == "Response"
    assert all(child.tag == "Message" and not list(child) for child in root)


def well_formed_call(answer: Answer) -> None:
    """A call's TwiML: prompts (``<Gather>`` holding ``<Say>``s) and ``<Say>``s, then hang up."""
    assert (answer.header("content-type") or "").startswith("application/xml"), answer
    root = ET.fromstring(answer.body)
    assert root.tag == "Response"
    assert [child.tag for child in root][-1:] == ["Hangup"], answer
    for child in root:
        assert child.tag in ("Gather", "Say", "Hangup"), child.tag
        assert all(said.tag == "Say" for said in child), child.tag


async def seed_sms(w: World) -> None:
    """SENDERS[k] has answered the first k messages of PREFIX (their sids: SMs<k>-<i>)."""
    for k, sender in enumerate(SENDERS):
        await w.say_sms(sender, PREFIX[:k], sid=f"SMs{k}-")


async def seed_telegram(w: World) -> None:
    for i, text in enumerate(["/start every-type", "yes"]):
        assert (await w.telegram_update(message(i + 1, text))).status == 200


async def seed_web(w: World) -> None:
    assert (await w.web("every-type", {"start": True}, cookie=COOKIE)).status == 200
    consent = {"button": {"question": "consent", "value": "yes"}, "id": "seed-web-1"}
    assert (await w.web("every-type", consent, cookie=COOKIE)).status == 200


def test_the_round_trip_counter_sees_what_the_app_does(fuzz: Fuzz) -> None:
    """The zero-round-trip property below is only as good as the counter: it must see a stored
    message (a script, pipelines) and a recorded delivery failure."""
    w = fuzz.world
    before = fuzz.touches.count
    fuzz.runner.run(seed_sms(w))
    assert fuzz.touches.count - before >= sum(range(len(SENDERS)))  # a commit per message at least
    before = fuzz.touches.count
    failed = status_form("failed", sid="SMx", to=SENDERS[3], code="30003")
    assert fuzz.runner.run(w.post_form(STATUS, failed)).status == 204
    assert fuzz.touches.count > before


# -- strategies shared by the channels -------------------------------------------------------------

TOKEN = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
header_names = st.text(alphabet=TOKEN, min_size=1, max_size=16).map(lambda s: s.lower().encode())
header_values = st.binary(max_size=40).map(lambda b: bytes(c for c in b if c >= 0x20 and c != 0x7F))
MEANINGFUL = [
    b"host",
    b"x-forwarded-host",
    b"x-forwarded-proto",
    b"x-forwarded-for",
    b"forwarded",
    b"x-original-url",
    b"content-encoding",
    b"transfer-encoding",
    b"cookie",
    b"user-agent",
    b"i-twilio-idempotency-token",
]
random_headers = st.lists(
    st.tuples(header_names | st.sampled_from(MEANINGFUL), header_values), max_size=3
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=16)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["update_id", "message", "text", "chat", "id", "from", "start", "button", "value"]
            )
            | st.text(max_size=8),
            inner,
            max_size=4,
        )
    ),
    max_leaves=8,
)
invalid_utf8 = st.sampled_from(
    [b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80", b"\xe2\x82"]
)
deeply_nested = st.builds(
    lambda n, kind: b"[" * n + b"]" * n if kind == "list" else b'{"a":' * n + b"1" + b"}" * n,
    st.integers(900, 30_000),
    st.sampled_from(["list", "map"]),
)
huge_sizes = st.integers(MAX_BODY_BYTES + 1, 4 * MAX_BODY_BYTES)
# How the body travels: an honest Content-Length, none (streamed, in chunks), a length that lies
# (smaller, or over the limit), a length that is not a number, or two lengths.
framings = st.sampled_from(["length", "none", "lie-small", "lie-big", "bogus", "two"])


def announced_too_big(headers: Headers) -> bool:
    """A Content-Length over the limit: the app's body limit answers 413 before anything else."""
    return any(
        k == b"content-length" and v.isdigit() and int(v) > MAX_BODY_BYTES for k, v in headers
    )


def framed(body: bytes, framing: str) -> Headers:
    n = len(body)
    return {
        "length": [(b"content-length", str(n).encode())],
        "none": [],
        "lie-small": [(b"content-length", str(n // 2).encode())],
        "lie-big": [(b"content-length", str(MAX_BODY_BYTES + 1 + n).encode())],
        "bogus": [(b"content-length", b"12abc")],
        "two": [(b"content-length", b"3"), (b"content-length", str(n).encode())],
    }[framing]


# -- Twilio -----------------------------------------------------------------------------------------

TWILIO_NAMES = [
    "From",
    "To",
    "Body",
    "MessageSid",
    "SmsSid",
    "AccountSid",
    "NumMedia",
    "MediaUrl0",
    "MessageStatus",
    "ErrorCode",
    "ApiVersion",
    "CallSid",
    "CallStatus",
    "Digits",
    "SpeechResult",
    "Confidence",
]
form_names = st.sampled_from(TWILIO_NAMES) | st.text(max_size=12)
form_values = st.text(max_size=40) | st.sampled_from(
    [*KEYWORDS, *FORMULAS, SENDERS[3], "", " ", "21610", "-1", "1e309", "9" * 50]
)
form_pairs = st.lists(st.tuples(form_names, form_values), max_size=12)
FORM_TOKENS = [b"&", b"=", b"%", b"%FF", b"%C3%28", b"%ED%A0%80", b"+", b"From", b"Body", b";"]
mangled_forms = st.lists(st.sampled_from(FORM_TOKENS) | st.binary(max_size=6), max_size=16).map(
    b"".join
)
too_many_fields = st.integers(201, 3000).map(lambda n: b"&".join([b"a=1"] * n))
content_types = st.sampled_from(
    [
        FORM,
        FORM + "; charset=utf-8",
        "APPLICATION/X-WWW-FORM-URLENCODED",
        "application/json",
        "multipart/form-data; boundary=xyz",
        "text/plain",
        "",
    ]
) | st.text(max_size=20)
paths = st.sampled_from(
    [WEBHOOK] * 5 + [STATUS] * 3 + [CALL] * 3 + [CALL_STATUS, WEBHOOK + "/", "/sms/Twilio"]
)
queries = st.sampled_from(["", "x=1", "campaign=leics%20carers", "a=%FF", "&&=="])
# The state a call's <Gather> action URL carries (adapters/voice_twilio/call.py), real or not.
STATE_VALUES = ["1", "0", "3", "c5", "c5a", "y", "t", "m7", "s1_5", "n0_168", "n_", "d8", "d4"]
STATE_VALUES += ["lang", "flow", "en", "every-type", "consent", "name", "9" * 20, ""]
call_states = st.dictionaries(
    st.sampled_from(["n", "k", "q", "t", "a", "o", "f", "flow"]),
    st.sampled_from(STATE_VALUES) | st.text(max_size=30),
    max_size=6,
).map(urlencode)
CALLERS = [*SENDERS[:4], "anonymous", "Restricted", "", "+266696687", "client:x", "+44 7700"]
OTHER_URLS = [
    PUBLIC_URL.replace("https://", "http://") + WEBHOOK,  # the scheme Twilio did not use
    "https://evil.example" + WEBHOOK,  # another host
    "http://10.0.0.5:8000" + WEBHOOK,  # what the app sees behind the proxy
    PUBLIC_URL + STATUS,  # the other endpoint
    PUBLIC_URL + WEBHOOK + "?x=1",  # another query string
    PUBLIC_URL + WEBHOOK,
]


@st.composite
def unsigned_twilio(draw: st.DrawFn) -> dict[str, Any]:
    """A Twilio-looking request that is not signed correctly."""
    path = draw(paths)
    query = draw(queries)
    kind = draw(
        st.sampled_from(["form", "form", "real", "mangled", "binary", "huge", "many", "utf8"])
    )
    pairs: list[tuple[str, str]] = []
    if kind == "form":
        pairs = draw(form_pairs)
        body = urlencode(pairs).encode()
    elif kind == "real":
        pairs = sms_form(draw(st.sampled_from(KEYWORDS)), sid="SMforged", sender=SENDERS[3])
        body = urlencode(pairs).encode()
    elif kind == "mangled":
        body = draw(mangled_forms)
    elif kind == "binary":
        body = draw(st.binary(max_size=300))
    elif kind == "huge":
        body = b"Body=" + b"x" * draw(huge_sizes)
    elif kind == "many":
        body = draw(too_many_fields)
    else:
        body = b"From=%2B447700900403&MessageSid=SM1&Body=" + draw(invalid_utf8)
    right_url = PUBLIC_URL + path + (f"?{query}" if query else "")
    how = draw(
        st.sampled_from(
            ["none", "empty", "random", "wrong-token", "other-url", "other-body", "two"]
        )
    )
    signature: str | None
    extra: Headers = []
    if how == "none":
        signature = None
    elif how == "empty":
        signature = ""
    elif how == "random":
        signature = draw(st.text(alphabet=string.printable.strip(), max_size=30))
    elif how == "wrong-token":
        signature = twilio_signature(right_url, pairs, token="not-the-auth-token")
    elif how == "other-url":
        url = draw(st.sampled_from([u for u in OTHER_URLS if u != right_url]))
        signature = twilio_signature(url, pairs)
    elif how == "other-body":
        signature = twilio_signature(right_url, [*pairs, ("Body", "what was really signed")])
    else:  # a forged signature header, then another forged one
        signature = twilio_signature(right_url, pairs, token="x")
        extra = [(b"x-twilio-signature", twilio_signature("https://evil.example/", pairs).encode())]
    headers = [
        *twilio_headers(signature, draw(content_types)),
        *extra,
        *framed(body, draw(framings)),
        *draw(random_headers),
    ]
    return {
        "path": path,
        "query": query.encode(),
        "headers": headers,
        "body": body,
        "chunks": draw(st.integers(1, 4)),
    }


def test_unsigned_twilio_requests_are_refused_and_touch_nothing(fuzz: Fuzz) -> None:
    w = fuzz.world
    fuzz.runner.run(seed_sms(w))
    before = fuzz.runner.run(w.snapshot())

    async def case(request: dict[str, Any]) -> Answer:
        answer = await call(w.app, "POST", **request)
        assert 400 <= answer.status < 500 or answer.status == 307, answer
        if announced_too_big(request["headers"]):
            assert answer.status == 413
        assert fuzz.round_trips == 0
        assert fuzz.bot_api_calls == 0
        return answer

    fuzz.each("twilio_unsigned", unsigned_twilio(), case, {400, 403, 413})
    assert fuzz.runner.run(w.snapshot()) == before


@st.composite
def signed_twilio(draw: st.DrawFn) -> dict[str, Any]:
    """A correctly signed request (the case signs it) whose fields are anything at all."""
    path = draw(st.sampled_from([WEBHOOK, WEBHOOK, WEBHOOK, STATUS, CALL, CALL, CALL_STATUS]))
    k = draw(st.integers(0, len(SENDERS) - 1))
    sender = draw(st.sampled_from([SENDERS[k]] * 4 + ["", " "]) | st.text(max_size=20))
    # a fresh sid, one this sender already used (a replay), or anything
    sid = draw(st.sampled_from(["fresh", f"SMs{k}-{max(0, k - 1)}"]) | st.text(max_size=30))
    if path == WEBHOOK:
        text = draw(
            st.sampled_from([*KEYWORDS, *PREFIX, *FORMULAS, ""])
            | st.text(max_size=60)
            | st.text(st.characters(codec="utf-8"), max_size=30)
            | st.builds(lambda t, n: t * n, st.text(min_size=1, max_size=8), st.integers(1, 700))
        )
        pairs = sms_form(text, sid=sid, sender=sender)
    elif path in (CALL, CALL_STATUS):
        caller = draw(st.sampled_from(CALLERS) | st.text(max_size=20))
        pairs = draw(call_form(sid, caller, status=path == CALL_STATUS))
    else:
        state = draw(
            st.sampled_from(["failed", "undelivered", "delivered", "sent"]) | st.text(max_size=10)
        )
        code = draw(st.sampled_from([None, "21610", "30003", "30006", ""]) | st.text(max_size=6))
        pairs = status_form(state, sid=sid, to=sender, code=code)
    dropped = draw(st.sets(st.sampled_from(sorted({n for n, _ in pairs})), max_size=2))
    pairs = [p for p in pairs if p[0] not in dropped]
    pairs += draw(st.lists(st.tuples(form_names, form_values), max_size=4))  # repeats, extras
    if draw(st.integers(0, 9)) == 0:
        pairs.append(("Padding", "x" * MAX_BODY_BYTES))  # signed, but over the limit: 413
    return {
        "path": path,
        "query": draw(call_states | queries) if path == CALL else draw(queries),
        "pairs": pairs,
        "content_type": draw(st.sampled_from([FORM, FORM + "; charset=UTF-8"])),
        "framing": draw(st.sampled_from(["length", "none"])),
        "extra": draw(random_headers),
        "chunks": draw(st.integers(1, 3)),
    }


@st.composite
def call_form(draw: st.DrawFn, sid: str, caller: str, *, status: bool) -> list[tuple[str, str]]:
    """What Twilio posts for a call: its start, a Gather result (keys, words, nothing), or a call
    status callback; values real or anything."""
    pairs = [
        ("AccountSid", "AC" + "0" * 32),
        ("CallSid", sid),
        ("From", caller),
        ("To", "+447700900000"),
        ("Direction", "inbound"),
        ("ApiVersion", "2010-04-01"),
    ]
    if status:
        state = draw(st.sampled_from(["completed", "busy", "no-answer", ""]) | st.text(max_size=8))
        return [*pairs, ("CallStatus", state), ("CallDuration", draw(st.text(max_size=6)))]
    pairs.append(("CallStatus", "in-progress"))
    kind = draw(st.sampled_from(["start", "keys", "keys", "words", "nothing"]))
    if kind == "keys":
        keys = st.text(alphabet="0123456789*#", max_size=12) | st.text(max_size=8)
        pairs += [("Digits", draw(keys)), ("FinishedOnKey", draw(st.sampled_from(["", "#"])))]
    elif kind == "words":
        words = st.sampled_from([*KEYWORDS, *PREFIX, "text me", "repeat", ""]) | st.text(
            max_size=60
        )
        sure = st.sampled_from(["0.93", "0.2", "", "nan", "-1", "1e309", "x"]) | st.floats().map(
            str
        )
        pairs += [("SpeechResult", draw(words)), ("Confidence", draw(sure))]
    return pairs


def test_signed_but_fuzzed_twilio_requests_never_fail(fuzz: Fuzz) -> None:
    w = fuzz.world
    fuzz.runner.run(seed_sms(w))

    async def case(request: dict[str, Any]) -> Answer:
        fresh = f"SMf{fuzz.count}"
        pairs = [(k, fresh if v == "fresh" else v) for k, v in request["pairs"]]
        query = request["query"]
        url = PUBLIC_URL + request["path"] + (f"?{query}" if query else "")
        body = urlencode(pairs).encode()
        headers = [
            *twilio_headers(twilio_signature(url, pairs), request["content_type"]),
            *framed(body, request["framing"]),
            *request["extra"],
        ]
        answer = await call(
            w.app,
            "POST",
            request["path"],
            headers=headers,
            body=body,
            chunks=request["chunks"],
            query=query.encode(),
        )
        assert answer.status in (200, 204, 400, 413), answer
        assert (answer.status == 413) == (len(body) > MAX_BODY_BYTES)
        assert fuzz.bot_api_calls == 0
        if answer.status == 200 and request["path"] == CALL:
            well_formed_call(answer)
        elif answer.status == 200:
            well_formed_twiml(answer)
        elif answer.status != 204:
            assert fuzz.round_trips == 0
        return answer

    fuzz.each("twilio_signed", signed_twilio(), case, {200, 204, 400, 413})


# -- Telegram ---------------------------------------------------------------------------------------

GROUP_CHAT = {"id": -1001234567890, "title": "Harborough carers", "type": "supergroup"}
SAMPLES: list[dict[str, Any]] = [
    message(500, "yes"),
    message(501, "/start every-type"),
    message(502, photo=[{"file_id": "A", "file_unique_id": "B", "width": 9, "height": 9}]),
    callback(503, "a:consent:yes"),
    callback(504, "m:support:0:1"),
    {"update_id": 505, "edited_message": message(505, "no")["message"] | {"edit_date": DATE + 9}},
    blocked(506),
    {
        "update_id": 507,
        "message": {
            "message_id": 7,
            "from": user(),
            "date": DATE,
            "chat": GROUP_CHAT,
            "text": "/start@LLRCarersBot",
        },
    },
]


@st.composite
def mutated_update(draw: st.DrawFn) -> dict[str, Any]:
    """A real update with one to three values dropped or replaced by any JSON value."""
    update: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 3))):
        paths = json_paths(update)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        node: Any = update
        for k in path[:-1]:
            node = node[k]
        if draw(st.booleans()):
            del node[path[-1]]
        else:
            node[path[-1]] = draw(json_values)
    return update


updates = (
    mutated_update()
    | st.builds(message, st.integers(1, 2**40), st.text(max_size=80))
    | st.builds(callback, st.integers(1, 2**40), st.text(max_size=70))
)
telegram_bodies = st.one_of(
    updates.map(lambda u: json.dumps(u).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    invalid_utf8.map(lambda b: b'{"update_id": 1, "message": {"text": "' + b + b'"}}'),
    deeply_nested,
    huge_sizes.map(lambda n: b'{"update_id": 1, "x": "' + b"x" * n + b'"}'),
    st.sampled_from(
        [
            b"NaN",
            b'{"update_id": NaN}',
            b'{"update_id": 1e999}',
            b'{"update_id": ' + b"9" * 5000 + b"}",
            b'{"update_id": 1, "update_id": "2"}',
            b"",
        ]
    ),
)
wrong_secrets = st.sampled_from(
    [
        b"",
        b"wrong",
        SECRET + b"x",
        SECRET[:-1],
        SECRET.upper(),
        b" " + SECRET,
        b"telegram-webhook-secr\xe9t",
    ]
) | st.binary(max_size=30).filter(lambda b: b != SECRET)


@st.composite
def unauthenticated_telegram(draw: st.DrawFn) -> dict[str, Any]:
    body = draw(telegram_bodies)
    secret = draw(st.none() | wrong_secrets)
    headers = telegram_headers(secret)
    if secret is not None and draw(st.booleans()):
        # Only the first secret header counts: a right one after a wrong one is still wrong.
        headers.append((b"x-telegram-bot-api-secret-token", SECRET))
    headers += framed(body, draw(framings)) + draw(random_headers)
    return {"headers": headers, "body": body, "chunks": draw(st.integers(1, 3))}


@st.composite
def authenticated_telegram(draw: st.DrawFn) -> dict[str, Any]:
    body = draw(telegram_bodies)
    framing = framed(body, draw(st.sampled_from(["length", "none"])))
    headers = [*telegram_headers(), *framing, *draw(random_headers)]
    return {"headers": headers, "body": body, "chunks": draw(st.integers(1, 3))}


def test_telegram_without_the_secret_token_is_refused_and_touches_nothing(fuzz: Fuzz) -> None:
    w = fuzz.world
    fuzz.runner.run(seed_telegram(w))
    before = fuzz.runner.run(w.snapshot())

    async def case(request: dict[str, Any]) -> Answer:
        answer = await call(w.app, "POST", tg.PATH, **request)
        assert answer.status in (403, 413), answer
        if announced_too_big(request["headers"]):
            assert answer.status == 413
        assert fuzz.round_trips == 0
        assert fuzz.bot_api_calls == 0
        return answer

    fuzz.each("telegram_unauthenticated", unauthenticated_telegram(), case, {403, 413})
    assert fuzz.runner.run(w.snapshot()) == before


def test_telegram_with_the_secret_but_bodies_that_are_not_updates(fuzz: Fuzz) -> None:
    w = fuzz.world
    fuzz.runner.run(seed_telegram(w))

    async def case(request: dict[str, Any]) -> Answer:
        answer = await call(w.app, "POST", tg.PATH, **request)
        assert answer.status in (200, 400, 413), answer
        assert (answer.status == 413) == (len(request["body"]) > MAX_BODY_BYTES)
        if answer.status != 200:
            assert fuzz.round_trips == 0
            assert fuzz.bot_api_calls == 0
        return answer

    fuzz.each("telegram_authenticated", authenticated_telegram(), case, {200, 400, 413})


# -- web chat ---------------------------------------------------------------------------------------

client_ids = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=8, max_size=64)
CHOICE_VALUES = ["yes", "no", "carer", "organisation", "never", "respite", "money", "a", "3"]
web_messages = st.one_of(
    # what the page sends, with anything typed and any button value
    st.fixed_dictionaries({"text": st.text(min_size=1, max_size=60), "id": client_ids}),
    st.fixed_dictionaries(
        {"text": st.sampled_from([*KEYWORDS, *PREFIX, *FORMULAS]), "id": client_ids}
    ),
    st.fixed_dictionaries(
        {
            "button": st.fixed_dictionaries(
                {
                    "question": st.sampled_from(["consent", "name", "role", "support", "rating"]),
                    "value": st.sampled_from(CHOICE_VALUES)
                    | st.lists(st.sampled_from(CHOICE_VALUES), max_size=4),
                }
            ),
            "id": client_ids,
        }
    ),
    st.fixed_dictionaries(
        {"start": st.just(True)},
        optional={
            "source": st.sampled_from(["harborough-carers", "x"]),
            "lang": st.sampled_from(["pl", "gu", "en"]),
        },
    ),
    # and what it never sends
    st.fixed_dictionaries({"text": st.text(max_size=40), "id": st.text(max_size=70)}),
    st.fixed_dictionaries(
        {
            "button": st.fixed_dictionaries(
                {"question": st.text(max_size=70) | json_values, "value": json_values}
            ),
            "id": client_ids | json_values,
        }
    ),
    st.fixed_dictionaries({"start": json_values, "source": json_values, "lang": json_values}),
    json_values,
)
web_bodies = st.one_of(
    web_messages.map(lambda v: json.dumps(v).encode()),
    web_messages.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    invalid_utf8.map(lambda b: b'{"text": "' + b + b'", "id": "abcdefgh-125"}'),
    deeply_nested,
    st.integers(32 * 1024, 3 * MAX_BODY_BYTES).map(
        lambda n: b'{"text": "' + b"x" * n + b'", "id": "abcdefgh-126"}'
    ),
)
GOOD_COOKIE = (
    f"{SECURE_COOKIE_NAME}={session_ids.encode(WORLD_SECRET.encode(), WebId(COOKIE, 's'))}"
)
cookies = st.one_of(
    st.just(GOOD_COOKIE),
    st.just(GOOD_COOKIE),
    st.sampled_from(
        [
            None,
            f"{SECURE_COOKIE_NAME}=forged",
            f"{GOOD_COOKIE}; {SECURE_COOKIE_NAME}=x",
            f"{COOKIE_NAME}={COOKIE}",  # an old, unsigned cookie
        ]
    ),
    st.text(max_size=40),
)
web_flows = st.one_of(
    st.just("every-type"),
    st.just("every-type"),
    st.just("carers-strategy"),
    st.text(alphabet=TOKEN, min_size=1, max_size=16),
)
content_types_web = st.one_of(
    st.just("application/json"),
    st.sampled_from(["application/json; charset=utf-8", "text/plain", None]),
    st.text(max_size=20),
)


@st.composite
def web_requests(draw: st.DrawFn) -> dict[str, Any]:
    flow = draw(web_flows)
    method = draw(st.sampled_from(["POST"] * 9 + ["GET"]))
    body = draw(web_bodies) if method == "POST" else b""
    headers: Headers = []
    ctype = draw(content_types_web)
    if ctype is not None:
        headers.append((b"content-type", ctype.encode()))
    cookie = draw(cookies)
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    headers += framed(body, draw(st.sampled_from(["length"] * 3 + ["none"] * 2 + ["lie-big"])))
    headers += draw(random_headers)
    query = draw(
        st.sampled_from([b"", b"lang=pl", b"source=harborough-carers", b"lang=%FF&source=<x>"])
    )
    path = f"/chat/{flow}" if method == "GET" else f"/chat/{flow}/messages"
    return {
        "method": method,
        "path": path,
        "headers": headers,
        "body": body,
        "query": query,
        "chunks": draw(st.integers(1, 3)),
    }


def test_web_chat_bad_input_never_fails_and_refusals_touch_nothing(fuzz: Fuzz) -> None:
    w = fuzz.world
    fuzz.runner.run(seed_web(w))

    async def case(request: dict[str, Any]) -> Answer:
        answer = await call(w.app, **request)
        assert answer.status in (200, 400, 404, 413), answer
        if announced_too_big(request["headers"]):
            assert answer.status == 413
        elif request["method"] == "POST" and answer.status != 404:
            assert (answer.status == 413) == (len(request["body"]) > WEB_MAX_BODY)
        if request["method"] == "POST" and answer.status in (200, 400):
            assert (answer.header("content-type") or "").startswith("application/json")
            parsed = json.loads(answer.body)
            assert isinstance(parsed, dict)
            assert ("replies" in parsed) == (answer.status == 200)
        if answer.status != 200 or request["method"] == "GET":
            assert fuzz.round_trips == 0
        return answer

    fuzz.each("web_chat", web_requests(), case, {200, 400, 404, 413})
