"""Store fixtures: a RedisStore on each backend, a small flow, and session/step builders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.models import Answer, AnswerValue, Session, Status, Step
from bot.schema import Flow
from store import KeyBuilder, RedisStore

SECRET = b"test-secret"
NOW = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
PHONE = "+447700900123"


def make_flow(flow_id: str = "carers", **extra: Any) -> Flow:
    flow = Flow.model_validate(
        {
            "id": flow_id,
            "title": "Carers strategy",
            "council": "Test County Council",
            "contact": {"phone": "0116 000 0000"},
            "intro": "Hello from Test County Council. Text STOP to stop.",
            "thanks": "Thank you.",
            "questions": [
                {"id": "role", "type": "choice", "text": "Are you a carer?",
                 "choices": [{"id": "carer", "label": "Carer"}, {"id": "other", "label": "Other"}]},
                {"id": "hours", "type": "number", "text": "Hours a week?"},
                {"id": "say", "type": "text", "text": "Anything else?"},
            ],
            **extra,
        }
    )  # fmt: skip
    return flow.model_copy(update={"version": "v1"})


def new_session(
    rid: str, flow: Flow, now: datetime = NOW, *, address: str | None = PHONE, channel: str = "sms"
) -> Session:
    return Session(
        flow=flow.id,
        version=flow.version,
        respondent=rid,
        channel=channel,
        address=address,
        current=flow.questions[0].id,
        asked=[flow.questions[0].id],
        started_at=now,
        last_at=now,
    )


def answer(
    session: Session,
    qid: str,
    value: AnswerValue | None,
    now: datetime = NOW,
    *,
    status: Status | None = None,
    other: str | None = None,
) -> Step:
    """The step a pure engine would produce for one answer (enough for the store's purposes)."""
    update: dict[str, Any] = {
        "answers": {**session.answers, qid: value},
        "asked": [*session.asked, qid] if qid not in session.asked else session.asked,
        "messages": session.messages + 1,
        "last_at": now,
    }
    if other is not None:
        update["other"] = {**session.other, qid: other}
    if status is not None:
        update["status"] = status
        if status.finished:
            update["finished_at"] = now
            update["current"] = None
    return Step(
        session=session.model_copy(update=update),
        answers=[Answer(question=qid, value=value, other=other, at=now)],
    )


def split_session(raw: bytes) -> tuple[bytes, bytes]:
    """A stored session string as its header (rev, dedupe record, rate counter: see
    store.scripts) and its JSON (store.encode)."""
    head = raw.partition(b":")[0]
    count = int(head.rsplit(b";", 1)[1], 36)
    cut = len(head) + 1 + 6 * count
    return raw[:cut], raw[cut:]


async def stored_session(client: Redis, store: RedisStore, rid: str) -> tuple[bytes, bytes]:
    """The raw session as stored: :func:`split_session`."""
    raw = await client.get(store.keys.session(rid))
    assert isinstance(raw, bytes), "no session stored"
    return split_session(raw)


async def set_session_data(client: Redis, store: RedisStore, rid: str, data: bytes) -> None:
    """Overwrite the stored session's JSON, keeping its header and TTL (a damaged session)."""
    header, _ = await stored_session(client, store, rid)
    await client.set(store.keys.session(rid), header + data, keepttl=True)


async def seen_fingerprints(client: Redis, store: RedisStore, rid: str) -> list[bytes]:
    """The message-id fingerprints in the session's dedupe record, oldest first."""
    header, _ = await stored_session(client, store, rid)
    fps = header[header.index(b":") + 1 :]
    return [fps[i : i + 6] for i in range(0, len(fps), 6)]


@pytest.fixture
def flow() -> Flow:
    return make_flow()


@pytest.fixture
async def store(redis_client: Redis, key_prefix: str) -> RedisStore:
    s = RedisStore(redis_client, secret=SECRET, keys=KeyBuilder(prefix=key_prefix))
    return s
