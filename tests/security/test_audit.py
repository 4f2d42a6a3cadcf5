"""The audit trail (issue 17): what an auditor needs, persisted from what the engine and the
officers do, pseudonymous, bounded, kept as long as the responses, exportable with
``surveybot audit FLOW``, and gone with the person when they are erased.

Through the whole app on fakeredis (SMS, a Twilio opt-out report), and the real commands
(``surveybot export``, ``report``, ``audit``) on the same server.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import fakeredis
import pytest
from typer.testing import CliRunner

import bot.cli.common as commands
from adapters.app import record_published
from adapters.services import Services, build_services
from bot.audit import AuditEntry
from bot.cli import app as cli
from store.audit import AuditLog
from tests.adapters.sms_twilio.twilio_fakes import STATUS as STATUS_PATH
from tests.conftest import REAL_REDIS_URL
from tests.security.harness import World, make_world, status_form

FLOW = "every-type"
CARER = "+447700900601"
STOPPER = "+447700900602"
TWILIO_STOP = "+447700900603"


@pytest.fixture
async def audited(tmp_path: Path, redis_client: Any, key_prefix: str) -> AsyncIterator[World]:
    w = await make_world(tmp_path, redis=redis_client, prefix=key_prefix)
    yield w
    await w.close()


async def conversations(w: World) -> None:
    # A carer answers, goes BACK and changes an answer, then carries on.
    await w.say_sms(CARER, ["TEST", "yes", "Asha", "1", "back", "2"], sid="SMc")
    # Someone says STOP; later starts again.
    await w.say_sms(STOPPER, ["TEST", "yes", "STOP", "START"], sid="SMs")
    # Someone starts, then Twilio reports their STOP (error 21610).
    await w.say_sms(TWILIO_STOP, ["TEST"], sid="SMt")
    form = status_form("failed", sid="SM" + "7" * 32, to=TWILIO_STOP, code="21610")
    assert (await w.post_form(STATUS_PATH, form)).status == 204
    # The carer restarts: their answers are withdrawn.
    await w.say_sms(CARER, ["restart"], sid="SMr")


async def test_the_engine_events_an_audit_needs_are_kept(audited: World) -> None:
    w = audited
    await conversations(w)
    store = w.services.store
    carer = await store.audit.respondent_log(store.respondent("sms", CARER))
    assert [(e.kind, e.question) for e in carer] == [
        ("answer_changed", "role"),
        ("answers_withdrawn", None),
    ]
    assert carer[1].detail == {"answers": "3"}
    stopper = await store.audit.respondent_log(store.respondent("sms", STOPPER))
    assert [(e.kind, e.detail.get("via")) for e in stopper] == [
        ("opted_out", "respondent"),
        ("rejoined", None),
    ]
    reported = await store.audit.respondent_log(store.respondent("sms", TWILIO_STOP))
    assert [(e.kind, e.detail.get("via")) for e in reported] == [("opted_out", "provider")]
    # Pseudonymous: no number and no answer anywhere in the entries.
    for key in [store.keys.audit(store.respondent("sms", n)) for n in (CARER, STOPPER)]:
        raw = str(await w.redis.xrange(key))
        for secret in (CARER, CARER[1:], "Asha", "carer", "cared_for"):
            assert secret not in raw


def _services_on(w: World, tmp_path: Path, url: str | None) -> Services:
    """Services for a command run in another thread (its own client on the same server)."""
    if url is None:
        assert isinstance(w.redis, fakeredis.FakeAsyncRedis)
        server = w.redis.connection_pool.connection_kwargs["server"]
        return build_services(w.settings, redis=fakeredis.FakeAsyncRedis(server=server))
    return build_services(w.settings.model_copy(update={"redis_url": url}))


def _invoke(args: list[str], tmp_path: Path) -> Any:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return result


async def test_officers_actions_and_publishes_are_kept_with_who(
    audited: World,
    tmp_path: Path,
    backend: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w = audited
    url = {
        "fake": None,
        "real": REAL_REDIS_URL,
        "cluster": request.getfixturevalue("redis_cluster").url if backend == "cluster" else "",
    }[backend]
    monkeypatch.setattr(commands, "make_services", lambda: _services_on(w, tmp_path, url))
    monkeypatch.chdir(tmp_path)
    await conversations(w)
    # Two processes report the versions they serve: each version is recorded once.
    for _ in range(2):
        await record_published(w.services, set())
    await asyncio.to_thread(
        _invoke, ["export", FLOW, "-o", "out.csv", "--partial", "--officer", "Jo Bloggs"], tmp_path
    )
    await asyncio.to_thread(_invoke, ["report", FLOW, "-o", "r.html"], tmp_path)
    await w.services.store.erase("sms", STOPPER, actor="Data Protection Officer")

    log = await w.services.store.audit.flow_log(FLOW)
    kinds = [(e.kind, e.actor) for e in log]
    assert kinds[0] == ("published", "flows folder")
    assert [k for k in kinds if k[0] == "published"] == [("published", "flows folder")]
    assert log[0].detail["version"] == w.services.registry.flows[FLOW].version
    assert log[0].detail["file"] == "every-type.yaml"
    exported = next(e for e in log if e.kind == "exported")
    assert exported.actor == "Jo Bloggs"
    assert exported.detail["format"] == "csv"
    assert exported.detail["partial"] == "true"
    assert exported.detail["rows"] == "3"
    report = next(e for e in log if e.kind == "report")
    assert (report.actor or "").startswith("login:")
    erased = next(e for e in log if e.kind == "erased")
    assert erased.actor == "Data Protection Officer"
    assert erased.respondent is None

    # `surveybot audit FLOW`: everything about the flow, oldest first, as CSV and JSON lines.
    text = (await asyncio.to_thread(_invoke, ["audit", FLOW], tmp_path)).stdout
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    ats = [r["at"] for r in rows]
    assert ats == sorted(ats)
    events = {r["event"] for r in rows}
    assert {"published", "answer_changed", "answers_withdrawn", "opted_out", "exported"} <= events
    assert {"report", "erased"} <= events
    carer_rid = w.services.store.respondent("sms", CARER)
    assert any(r["respondent"] == carer_rid and r["question"] == "role" for r in rows)
    stopper_rid = w.services.store.respondent("sms", STOPPER)
    assert stopper_rid not in text  # erased: their entries went with them
    for secret in (CARER, STOPPER, TWILIO_STOP, "Asha"):
        assert secret not in text
    jsonl = (await asyncio.to_thread(_invoke, ["audit", FLOW, "-f", "jsonl"], tmp_path)).stdout
    lines = [json.loads(line) for line in jsonl.splitlines()]
    assert len(lines) == len(rows)
    assert [line["event"] for line in lines] == [r["event"] for r in rows]
    assert next(line for line in lines if line["event"] == "exported")["by"] == "Jo Bloggs"


async def test_erasure_removes_the_persons_entries(audited: World) -> None:
    w = audited
    await conversations(w)
    store = w.services.store
    rid = store.respondent("sms", CARER)
    assert await store.audit.respondent_log(rid)
    await store.erase("sms", CARER, actor="officer")
    assert await store.audit.respondent_log(rid) == []
    for key, (_, value) in (await w.snapshot()).items():
        assert rid not in key
        assert rid not in str(value), key


async def test_the_trail_is_bounded_and_kept_as_long_as_the_responses(
    redis_client: Any, key_prefix: str
) -> None:
    from store.keys import KeyBuilder

    keys = KeyBuilder(prefix=key_prefix)
    log = AuditLog(redis_client, keys, retention=timedelta(days=400), per_respondent=20)
    from tests.adapters.conftest import START

    entries = [
        AuditEntry(START + timedelta(seconds=i), "answer_changed", FLOW, "r" * 26, "role")
        for i in range(300)
    ]
    await log.record_respondent("r" * 26, entries)
    assert await redis_client.xlen(keys.audit("r" * 26)) <= 120  # about 20 (MAXLEN ~)
    assert 0 < await redis_client.pttl(keys.audit("r" * 26)) <= 400 * 86400 * 1000
    # The flow's log keeps only entries within the retention (ids are the time of writing).
    await redis_client.xadd(
        keys.audit_flow(FLOW), {"k": "exported", "f": FLOW, "by": "a"}, id="1000-0"
    )
    await log.record(FLOW, "exported", actor="b", at=START)
    assert [e.actor for e in await log.flow_log(FLOW)] == ["b"]
    with pytest.raises(ValueError, match="audited action"):
        await log.record(FLOW, "anything", actor="a", at=START)
    # An actor's name is cut to a sane length.
    await log.record(FLOW, "exported", actor="x" * 10_000, at=START)
    assert len((await log.flow_log(FLOW))[-1].actor or "") == 200
