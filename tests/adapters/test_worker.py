"""The reminder worker end to end: dispatcher -> store -> queue -> worker -> fake sender.

Runs on fakeredis and on the real Redis (``redis_client`` fixture), with a clock we move.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from adapters.services import Services, build_services
from adapters.worker import ReminderWorker
from bot.config import Settings
from bot.errors import ChannelError
from bot.models import Inbound, Reply, Status
from tests.adapters.conftest import Clock

FLOW = """
id: nudge
title: Nudge survey
council: Test Council
contact: {phone: "0116 000 0000"}
intro: Hello from Test Council. Text STOP to stop.
thanks: Thanks.
keywords: [NUDGE]
closes: 2026-12-31
expiry: 21d
reminders:
  after: 24h
  every: 48h
  max: 2
  quiet_hours: "20:00-09:00"
  final: The survey has now closed. Thank you.
questions:
  - {id: q1, type: yesno, text: First question?}
  - {id: q2, type: yesno, text: Second question?}
  - {id: q3, type: yesno, text: Third question?}
"""


class FakeSender:
    """Records what would be sent; can be told to fail for some addresses."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.fail: set[str] = set()

    async def send(self, address: str, replies: list[Reply]) -> None:
        if address in self.fail:
            raise ChannelError("provider unavailable")
        self.sent.append((address, "\n".join(r.text for r in replies)))


@pytest.fixture
async def svc(tmp_path: Path, redis_client: Redis, key_prefix: str) -> Services:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "nudge.yaml").write_text(FLOW, encoding="utf-8")
    settings = Settings(
        SURVEYBOT_FLOWS=flows,
        SURVEYBOT_SECRET=SecretStr("s"),
        SURVEYBOT_REDIS_PREFIX=key_prefix,
        _env_file=None,
    )
    clock = Clock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    return build_services(settings, redis=redis_client, clock=clock)


def clock_of(svc: Services) -> Clock:
    assert isinstance(svc.clock, Clock)
    return svc.clock


_ids = iter(range(10**9))


async def say(svc: Services, number: str, text: str, channel: str = "sms") -> None:
    await svc.dispatcher.handle(
        Inbound(channel=channel, address=number, text=text, message_id=f"m{next(_ids)}")
    )


async def start(svc: Services, number: str, channel: str = "sms") -> None:
    await say(svc, number, "NUDGE", channel)
    await say(svc, number, "yes", channel)  # answered q1, now on q2


async def test_silence_gets_a_reminder_at_the_right_time(svc: Services) -> None:
    sender = FakeSender()
    worker = ReminderWorker(svc, {"sms": sender})
    await start(svc, "+447700900001")
    clock = clock_of(svc)
    clock.advance(hours=23, minutes=59)
    await worker.run_once()
    assert sender.sent == []
    clock.advance(minutes=2)
    stats = await worker.run_once()
    assert stats.sent == 1
    assert len(sender.sent) == 1
    number, text = sender.sent[0]
    assert number == "+447700900001"
    assert "You are 1 of about 3 questions through the Nudge survey" in text
    assert "Second question?" in text
    loaded = await svc.store.load(svc.store.respondent("sms", number))
    assert loaded.session is not None
    assert loaded.session.reminders == 1


async def test_an_answer_cancels_the_pending_reminder(svc: Services) -> None:
    sender = FakeSender()
    worker = ReminderWorker(svc, {"sms": sender})
    await start(svc, "+447700900002")
    clock = clock_of(svc)
    clock.advance(hours=3)
    await say(svc, "+447700900002", "no")  # answers q2 at 13:00 -> now on q3
    clock.advance(hours=22)  # 25 h after the start: the old nudge would have been due
    await worker.run_once()
    assert sender.sent == []
    clock.advance(hours=3)  # 25 h after the answer
    await worker.run_once()
    assert len(sender.sent) == 1
    assert "Third question?" in sender.sent[0][1]


async def test_at_most_max_reminders_then_a_final_message(svc: Services) -> None:
    sender = FakeSender()
    worker = ReminderWorker(svc, {"sms": sender})
    await start(svc, "+447700900003")
    clock = clock_of(svc)
    for _ in range(25 * 4):  # 25 days in 6-hour steps
        clock.advance(hours=6)
        await worker.run_once()
    texts = [t for _, t in sender.sent]
    assert sum("Second question?" in t for t in texts) == 2
    assert texts[-1] == "The survey has now closed. Thank you."
    assert len(texts) == 3
    rid = svc.store.respondent("sms", "+447700900003")
    response = await svc.store.response(rid, "nudge")
    assert response is not None
    assert response.status is Status.EXPIRED


async def test_never_in_quiet_hours(svc: Services) -> None:
    sender = FakeSender()
    worker = ReminderWorker(svc, {"sms": sender})
    clock = clock_of(svc)
    clock.now = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)  # 21:30 in London (GMT)
    await start(svc, "+447700900004")
    clock.advance(hours=24, minutes=30)  # due 21:30 next day: quiet until 09:00
    await worker.run_once()
    assert sender.sent == []
    clock.now = datetime(2026, 11, 25, 8, 59, tzinfo=UTC)
    await worker.run_once()
    assert sender.sent == []
    clock.now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # after 09:00 + at most 45 min spread
    await worker.run_once()
    assert len(sender.sent) == 1


async def test_not_after_stop_completion_or_on_the_web(svc: Services) -> None:
    sender = FakeSender()
    worker = ReminderWorker(svc, {"sms": sender})  # no sender for the web chat
    await start(svc, "+447700900005")
    await say(svc, "+447700900005", "STOP")
    await start(svc, "+447700900006")
    await say(svc, "+447700900006", "yes")
    await say(svc, "+447700900006", "yes")  # complete
    await start(svc, "web-cookie-1", channel="web")
    clock_of(svc).advance(days=3)
    await worker.run_once()
    assert sender.sent == []
    assert await worker.queue.size("nudge") == 0


async def test_closing_date_sends_the_final_message_only(svc: Services) -> None:
    sender = FakeSender()
    worker = ReminderWorker(svc, {"sms": sender})
    clock = clock_of(svc)
    clock.now = datetime(2026, 12, 31, 12, 0, tzinfo=UTC)
    await start(svc, "+447700900007")
    clock.now = datetime(2026, 12, 31, 19, 0, tzinfo=UTC)
    await worker.run_once()
    assert sender.sent == []
    # Closing at midnight: the final message goes just before the 20:00 quiet hours begin.
    clock.now = datetime(2026, 12, 31, 19, 59, 30, tzinfo=UTC)
    await worker.run_once()
    assert [t for _, t in sender.sent] == ["The survey has now closed. Thank you."]
    clock.now = datetime(2027, 1, 2, 12, 0, tzinfo=UTC)
    await worker.run_once()
    assert len(sender.sent) == 1


async def test_failed_sends_are_retried_with_backoff(svc: Services) -> None:
    sender = FakeSender()
    worker = ReminderWorker(svc, {"sms": sender})
    await start(svc, "+447700900008")
    sender.fail.add("+447700900008")
    clock = clock_of(svc)
    clock.advance(hours=24, minutes=1)
    stats = await worker.run_once()
    assert stats.failed == 1
    clock.advance(minutes=1)
    await worker.run_once()  # backoff: not yet
    assert (await worker.run_once()).failed == 0
    sender.fail.clear()
    clock.advance(minutes=3)
    await worker.run_once()
    assert len(sender.sent) == 1


async def _many(svc: Services, n: int) -> list[str]:
    numbers = [f"+4477009{i:05d}" for i in range(n)]
    sem = asyncio.Semaphore(50)

    async def one(number: str) -> None:
        async with sem:
            await start(svc, number)

    await asyncio.gather(*(one(x) for x in numbers))
    return numbers


async def test_two_workers_racing_over_1000_due_reminders_send_each_once(svc: Services) -> None:
    numbers = await _many(svc, 1000)
    clock_of(svc).advance(hours=25)
    sender = FakeSender()
    a = ReminderWorker(svc, {"sms": sender}, batch=50)
    b = ReminderWorker(svc, {"sms": sender}, batch=50)
    sa, sb = await asyncio.gather(a.run_once(), b.run_once())
    counts = Counter(number for number, _ in sender.sent)
    assert set(counts) == set(numbers)
    assert max(counts.values()) == 1
    assert sa.sent + sb.sent == 1000
    assert sa.sent > 0
    assert sb.sent > 0


async def test_a_worker_crash_mid_batch_loses_nothing_and_repeats_nothing(svc: Services) -> None:
    numbers = await _many(svc, 60)
    clock = clock_of(svc)
    clock.advance(hours=25)
    sender = FakeSender()
    crashing = ReminderWorker(svc, {"sms": sender}, lease=timedelta(minutes=5))
    # The crashing worker claims a whole shard's worth, sends and records some, then dies.
    claimed = []
    for shard in range(svc.store.keys.shards):
        claimed += await crashing.queue.claim("nudge", shard, clock.now, crashing.lease, 1000)
    flow = svc.registry.flows["nudge"]
    done = claimed[: len(claimed) // 2]
    for c in done:
        await crashing._process(
            flow,
            c,
            clock.now,
            stats=__import__("adapters.worker", fromlist=["WorkerStats"]).WorkerStats(),
        )
    sent_before = Counter(n for n, _ in sender.sent)
    assert len(sent_before) == len(done)
    # Within the lease another worker finds nothing to do.
    other = ReminderWorker(svc, {"sms": sender})
    clock.advance(minutes=4)
    await other.run_once()
    assert Counter(n for n, _ in sender.sent) == sent_before
    # After the lease, the rest go out, and nobody gets two.
    clock.advance(minutes=2)
    await other.run_once()
    counts = Counter(n for n, _ in sender.sent)
    assert set(counts) == set(numbers)
    assert max(counts.values()) == 1
