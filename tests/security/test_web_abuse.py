"""Holes 1 and 5 of issue 17: the web chat could be flooded, and adopted session ids it never
issued.

Flooding: a ``{"start": true}`` without a cookie created a stored session every time (about
2,000-3,000 a second from one client, 1.8 KB each for 21 days), and 200 starts with one cookie
made 200 commits. Now opening the page stores nothing (the first step is computed, and stored
with the visitor's first answer), every request counts against a per-client limit, starts with
a session count against the per-sender limit, and new sessions are bounded per client and in
all. The report counts only people who answered.

Fixation: any well-formed cookie value was adopted as a session id. Now ids are issued and
signed by the server; an unknown value gets a fresh id, and an id issued to a page that has not
answered yet is never the one a session is stored under (it is bound to the first answer).

Through the whole app (``create_app``) on fakeredis, by raw ASGI calls from chosen client
addresses.
"""

from __future__ import annotations

import json
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest

from adapters.web import limits, session_ids
from adapters.web.chat import SECURE_COOKIE_NAME
from store.stored import StoredResponse
from tests.security.harness import Answer, World, call, make_world

FLOW = "every-type"


class WebVisitor:
    """A browser: one client address, its cookie jar (one cookie), and the page's memory of the
    question last asked (sent with a typed answer, as chat.js does)."""

    def __init__(self, world: World, flow: str = FLOW, *, ip: str = "203.0.113.7") -> None:
        self.world = world
        self.flow = flow
        self.ip = ip
        self.cookie: str | None = None
        self.asked: str | None = None
        self.n = 0

    async def post(self, body: dict[str, Any]) -> Answer:
        headers = [(b"content-type", b"application/json")]
        if self.cookie is not None:
            headers.append((b"cookie", f"{SECURE_COOKIE_NAME}={self.cookie}".encode()))
        answer = await call(
            self.world.app,
            "POST",
            f"/chat/{self.flow}/messages",
            headers=headers,
            body=json.dumps(body).encode(),
            client=(self.ip, 40000),
        )
        for name, value in answer.headers:
            if name == b"set-cookie":
                jar: SimpleCookie = SimpleCookie()
                jar.load(value.decode("latin-1"))
                self.cookie = jar[SECURE_COOKIE_NAME].value
        if answer.status == 200:
            replies = json.loads(answer.body)["replies"]
            if replies and replies[-1]["question"]:
                self.asked = replies[-1]["question"]
        return answer

    def next_id(self) -> str:
        self.n += 1
        return f"{self.ip.replace('.', '-')}-msg-{self.n:06d}"

    async def start(self) -> Any:
        answer = await self.post({"start": True, "id": self.next_id()})
        assert answer.status == 200, answer
        return json.loads(answer.body)

    async def say(self, text: str, *, question: str | None = None) -> Any:
        body = {"text": text, "id": self.next_id(), "question": question or self.asked}
        answer = await self.post(body)
        assert answer.status == 200, answer
        return json.loads(answer.body)

    def id(self) -> str | None:
        found = session_ids.read(self.world.settings.secret_bytes, self.cookie)
        return found.id if found is not None else None


async def responses(world: World, flow: str = FLOW) -> list[StoredResponse]:
    return [r async for r in world.services.store.iter_responses(flow)]


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests over the per-client limit are held a second before their 429 (tested once
    below with a shorter hold): the other tests need not wait."""
    monkeypatch.setattr(limits, "TARPIT_SECONDS", 0.0)


@pytest.fixture
async def open_world(tmp_path: Path) -> Any:
    """No per-client request limit, so what is left to bound is what a request stores."""
    w = await make_world(tmp_path, SURVEYBOT_WEB_REQUESTS_PER_MINUTE=0)
    yield w
    await w.close()


# -- hole 1: flooding ---------------------------------------------------------------------------------


async def test_opening_the_page_stores_nothing(open_world: World) -> None:
    w = open_world
    for _ in range(500):
        visitor = WebVisitor(w)
        body = await visitor.start()
        assert body["replies"][-1]["question"] == "consent"
    assert await w.snapshot() == {}  # not one key: no session, no index entry, no counter


async def test_a_start_flood_from_one_client_is_refused_cheaply(world: World) -> None:
    """With the default per-client limit (120 a minute): after the burst, 429 before any work."""
    statuses = []
    for _ in range(300):
        statuses.append((await WebVisitor(world).post({"start": True})).status)
    assert statuses[:60] == [200] * 60
    assert statuses.count(429) >= 230
    assert await world.snapshot() == {}


async def test_a_client_over_its_limit_is_held_before_its_429(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A script looping as fast as it can is slowed to a trickle per connection: each request
    over the limit waits (a second in production) before its answer."""
    import time

    monkeypatch.setattr(limits, "TARPIT_SECONDS", 0.3)
    flooder = WebVisitor(world)
    for _ in range(60):
        assert (await flooder.post({"start": True})).status == 200
    began = time.monotonic()
    refused = await flooder.post({"start": True})
    assert refused.status == 429
    assert time.monotonic() - began >= limits.TARPIT_SECONDS * 0.9
    assert refused.header("retry-after") == "10"
    assert json.loads(refused.body)["error"] == "slow_down"
    # Someone else, from another address, is served meanwhile.
    other = WebVisitor(world, ip="198.51.100.20")
    assert (await other.start())["replies"]


async def test_sessions_begin_at_the_first_answer_and_the_report_counts_only_them(
    open_world: World,
) -> None:
    w = open_world
    answered = WebVisitor(w, ip="198.51.100.1")
    await answered.start()
    assert await w.snapshot() == {}
    body = await answered.say("yes")
    assert body["replies"][-1]["question"] == "name"  # the answer went to the first question
    for i in range(40):  # opened the page and went away
        await WebVisitor(w, ip=f"198.51.100.{100 + i}").start()
    stored = await responses(w)
    assert len(stored) == 1
    assert stored[0].answers["consent"].value is True
    assert stored[0].channel == "web"


async def test_new_sessions_are_bounded_per_client(tmp_path: Path) -> None:
    w = await make_world(
        tmp_path, SURVEYBOT_WEB_REQUESTS_PER_MINUTE=0, SURVEYBOT_WEB_NEW_PER_CLIENT=5
    )
    outcomes = []
    for _ in range(30):
        visitor = WebVisitor(w)
        await visitor.start()
        answer = await visitor.post({"text": "yes", "id": visitor.next_id(), "question": "consent"})
        outcomes.append(answer.status)
        if answer.status == 429:
            assert json.loads(answer.body)["error"] == "busy"
            assert answer.header("retry-after")
    assert outcomes.count(200) == 5
    assert len(await responses(w)) == 5
    # Another address still begins its session.
    other = WebVisitor(w, ip="198.51.100.9")
    await other.start()
    await other.say("yes")
    assert len(await responses(w)) == 6
    await w.close()


async def test_new_sessions_are_bounded_in_all_across_addresses(tmp_path: Path) -> None:
    w = await make_world(
        tmp_path,
        SURVEYBOT_WEB_REQUESTS_PER_MINUTE=0,
        SURVEYBOT_WEB_NEW_PER_CLIENT=0,
        SURVEYBOT_WEB_NEW_PER_MINUTE=10,
    )
    ok = 0
    for i in range(50):  # a flood from 50 addresses
        visitor = WebVisitor(w, ip=f"192.0.2.{i}")
        await visitor.start()
        answer = await visitor.post({"text": "yes", "id": visitor.next_id(), "question": "consent"})
        ok += answer.status == 200
    assert ok == 10
    assert len(await responses(w)) == 10
    # Respondents who already have a session carry on whatever the budget says.
    w.clock.advance(seconds=1)
    # A minute later the budget is back.
    w.clock.advance(minutes=1)
    late = WebVisitor(w, ip="192.0.2.200")
    await late.start()
    await late.say("yes")
    assert len(await responses(w)) == 11
    await w.close()


async def test_starts_with_one_cookie_count_against_the_per_sender_limit(
    open_world: World,
) -> None:
    w = open_world
    visitor = WebVisitor(w)
    await visitor.start()
    await visitor.say("yes")
    rid = w.services.store.respondent("web", visitor.id() or "")
    for _ in range(200):
        await visitor.post({"start": True, "id": visitor.next_id()})
    loaded = await w.services.store.load(rid)
    assert loaded.session is not None
    # 30 messages a minute: the answer and at most 29 starts were stored, not 200.
    assert loaded.session.messages <= 31
    assert loaded.rev <= 31


async def test_a_flood_does_not_stop_another_respondent(world: World) -> None:
    carer = WebVisitor(world, ip="198.51.100.50")
    await carer.start()
    flooder = WebVisitor(world)
    for round_ in range(5):
        for _ in range(100):
            await flooder.post({"start": True})
        body = await carer.say(["yes", "Ann", "1", "1", "yes"][round_])
        assert body["replies"], body
    stored = await responses(world)
    assert len(stored) == 1
    assert stored[0].answers["name"].value == "Ann"


# -- hole 5: session fixation -------------------------------------------------------------------------


async def test_a_cookie_the_server_did_not_issue_gets_a_fresh_session(world: World) -> None:
    victim = await _answered_visitor(world, "198.51.100.60")
    made_up = "A" * 32  # well-formed, as the old cookies were
    forged_state = victim.cookie[:33] + "n" + victim.cookie[34:] if victim.cookie else ""
    flipped = (victim.cookie or "")[:-1] + ("A" if (victim.cookie or "")[-1] != "A" else "B")
    for value in (made_up, f"{made_up}.s.{'A' * 22}", forged_state, flipped):
        attacker = WebVisitor(world, ip="198.51.100.61")
        attacker.cookie = value
        body = await attacker.start()
        assert attacker.cookie != value  # replaced by one the server issued
        assert "Ann" not in json.dumps(body)
        assert body["replies"][-1]["question"] == "consent"  # a fresh start, not anyone's
    # An answer with an unknown cookie is a fresh start too, never stored under that value.
    attacker = WebVisitor(world, ip="198.51.100.62")
    attacker.cookie = made_up
    answer = await attacker.post({"text": "yes", "id": "attacker-0001", "question": "consent"})
    assert answer.status == 200
    assert json.loads(answer.body)["replies"][-1]["question"] == "consent"
    rid = world.services.store.respondent("web", made_up)
    assert (await world.services.store.load(rid)).session is None


async def test_a_planted_cookie_does_not_let_the_planter_read_the_answers(world: World) -> None:
    """The attacker opens the page, takes the cookie the server issued, plants it in the
    victim's browser; the victim answers; the attacker opens the chat with that cookie."""
    attacker = WebVisitor(world, ip="198.51.100.70")
    await attacker.start()
    planted = attacker.cookie
    victim = WebVisitor(world, ip="198.51.100.71")
    victim.cookie = planted
    await victim.start()
    await victim.say("yes")
    body = await victim.say("Ann, my secret name")
    assert "Ann, my secret name" in json.dumps(body)  # piped back to the victim
    assert victim.cookie != planted  # bound to the victim's first answer
    later = WebVisitor(world, ip="198.51.100.70")
    later.cookie = planted
    seen = await later.start()
    assert "secret" not in json.dumps(seen)
    assert seen["replies"][-1]["question"] == "consent"
    stored = await responses(world)
    assert [r.answers["name"].value for r in stored] == ["Ann, my secret name"]


async def test_a_retried_first_answer_lands_on_one_session(world: World) -> None:
    visitor = WebVisitor(world)
    await visitor.start()
    unbound = visitor.cookie
    message = {"text": "yes", "id": "first-answer-1", "question": "consent"}
    first = await visitor.post(message)
    visitor.cookie = unbound  # the response (and its cookie) was lost: the page retries
    second = await visitor.post(message)
    assert first.status == second.status == 200
    assert json.loads(second.body).get("duplicate") is True
    assert len(await responses(world)) == 1


async def _answered_visitor(world: World, ip: str) -> WebVisitor:
    visitor = WebVisitor(world, ip=ip)
    await visitor.start()
    await visitor.say("yes")
    await visitor.say("Ann")
    return visitor
