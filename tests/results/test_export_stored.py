"""Exports of responses straight from the store take a fast path (``Table`` reads the decoded
hash); it must write exactly what the general path (through ``answers``) writes, for any data."""

from __future__ import annotations

import csv
import io
import json
import random
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fakeredis
import openpyxl
import pytest
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

import bot.results.export as export_module
from bot.loader import require_flow
from bot.models import Answer, Status, StoredAnswer
from bot.results.export import StoredResponseLike, Table, export, ms_text, utc_text
from bot.schema import Flow
from store import KeyBuilder, RedisStore
from store.redis_store import ResponseMeta
from store.stored import StoredResponse
from tests.results.world import EVERY_TYPE, World, every_type_world, flows_folder
from tests.store.legacy import answer_json

AT = datetime(2026, 11, 23, 10, tzinfo=UTC)


@dataclass
class Plain:
    """The same response without its stored hash, so ``Table`` takes the general path."""

    respondent: str
    version: str
    channel: str
    source: str | None
    lang: str
    status: Status
    started_at: datetime
    last_at: datetime
    finished_at: datetime | None
    answers: dict[str, StoredAnswer]

    @classmethod
    def of(cls, r: StoredResponse) -> Plain:
        return cls(
            r.respondent,
            r.version,
            r.channel,
            r.source,
            r.lang,
            r.status,
            r.started_at,
            r.last_at,
            r.finished_at,
            r.answers,
        )


def meta(**changes: Any) -> str:
    m = ResponseMeta(
        flow="every-type",
        version="v1",
        channel="sms",
        status=Status.COMPLETE,
        started_at=AT,
        last_at=AT,
        finished_at=AT,
    )
    data: dict[str, Any] = json.loads(m.model_dump_json(exclude_none=True))
    data.update(changes)
    return json.dumps(data)


def a(value: Any, other: str | None = None, minute: int = 0) -> str:
    at = AT.replace(minute=minute)
    return answer_json(
        Answer.model_construct(question="x", value=value, other=other, at=at)
    ).decode()


# Stored hashes, as a live bot (or an older version of the flow, or damage) could leave them.
HASHES: dict[str, dict[FieldT, EncodableT]] = {
    "r01-everything": {
        "meta": meta(source="harborough-carers", lang="pl"),
        "a:consent": a(True),
        "a:name": a("=HYPERLINK(1)", minute=1),
        "a:role": a("other", other="-a neighbour", minute=2),
        "a:often": a("sometimes", minute=3),
        "a:support": a(["respite", "info", "gone_choice"], minute=4),
        "a:agree": a(4),
        "a:rating": a(5),
        "a:know": a(False),
        "a:hours": a(42),
        "a:born": a("1960"),
        "a:postcode": a("LE16"),
        "a:comments": a("  spaced <b>&</b>\n"),
    },
    "r02-flow-edits-and-odd-values": {
        # Times written with an offset and with fractions; an unknown source id.
        "meta": meta(
            source="@elsewhere",
            started_at="2026-11-23T11:00:00.999+01:00",
            last_at="2026-11-23T10:00:00.5Z",
            finished_at="2026-11-23T10:30:00Z",
        ),
        "a:role": a("retired_choice"),
        "a:often": a(["never", "often"]),
        "a:support": a("money"),  # a lone value where a list is expected
        "a:agree": a("n"),  # a scale that held ids
        "a:rating": a(True),
        "a:know": a("+maybe"),
        "a:hours": a("=2+2"),  # text stored when "hours" was a text question
        "a:comments": a(7.5),
        "a:gone": a(["a", "b"], other="@x"),  # a question since removed
        "a:flag": a(True),
        "a:n": a(2.5),
    },
    "r03-skipped-and-partial": {
        "meta": meta(status="active", finished_at=None),
        "a:consent": a(True),
        "a:name": a(None),
        "a:support": a(None),
        "a:role": a("organisation", minute=2),
    },
    "r04-damaged-answer": {
        "meta": meta(channel="telegram"),
        "a:name": "5",  # JSON, but not an answer object: left out, the rest kept
        "a:hours": a(3),
    },
    "r05-not-json-field": {
        "meta": meta(channel="web", status="opted_out"),
        "a:name": "{not json",  # parsed field by field: this one is left out
        "a:comments": a("still here"),
    },
    "r06-no-meta": {"a:name": a("ghost")},
    "r07-unknown-status": {"meta": meta(status="lost"), "a:name": a("x")},
}


async def stored_responses(
    redis: Redis, hashes: dict[str, dict[FieldT, EncodableT]] = HASHES
) -> list[StoredResponse]:
    store = RedisStore(redis, secret=b"s", keys=KeyBuilder(prefix="t", shards=2))
    pipe = redis.pipeline(transaction=False)
    for i, (rid, fields) in enumerate(hashes.items()):
        pipe.hset(store.keys.response(rid, "every-type"), mapping=fields)
        pipe.zadd(store.keys.index_for("every-type", rid), {rid: i})
    await pipe.execute()
    return [r async for r in store.iter_responses("every-type", batch=3)]


def outputs(flow: Flow, responses: list[Any], fmt: str, **options: Any) -> str | dict[str, bytes]:
    out: io.StringIO | io.BytesIO = io.BytesIO() if fmt == "xlsx" else io.StringIO(newline="")
    export(flow, responses, out, fmt, partial=True, removed=["gone", "flag", "n"], **options)
    if isinstance(out, io.StringIO):
        return out.getvalue()
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as z:
        return {name: z.read(name) for name in z.namelist()}


@pytest.mark.parametrize(
    ("fmt", "codes"), [("csv", False), ("csv", True), ("xlsx", False), ("jsonl", False)]
)
async def test_stored_path_writes_what_the_general_path_writes(fmt: str, codes: bool) -> None:
    flow = require_flow(EVERY_TYPE)
    stored = await stored_responses(fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer()))
    # In index order; no meta, or an unknown status: skipped.
    assert [r.respondent[:3] for r in stored] == ["r01", "r02", "r03", "r04", "r05"]
    assert outputs(flow, stored, fmt, codes=codes) == outputs(
        flow, [Plain.of(r) for r in stored], fmt, codes=codes
    )


async def test_stored_values_in_csv() -> None:
    flow = require_flow(EVERY_TYPE)
    stored = await stored_responses(fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer()))
    text = outputs(flow, stored, "csv")
    assert isinstance(text, str)
    rows = {r["Respondent"]: r for r in csv.DictReader(io.StringIO(text[1:], newline=""))}
    assert set(rows) == {
        "r01-everything",
        "r02-flow-edits-and-odd-values",
        "r03-skipped-and-partial",
        "r04-damaged-answer",
        "r05-not-json-field",
    }  # no meta, or an unknown status: skipped
    one = rows["r01-everything"]
    assert one["name"] == "'=HYPERLINK(1)"
    assert one["role - other text"] == "'-a neighbour"
    assert one["support: Short breaks"] == "1"
    assert one["support: Money advice"] == "0"
    assert one["Source group"] == "Harborough Carers"
    two = rows["r02-flow-edits-and-odd-values"]
    assert two["Started (UTC)"] == "2026-11-23T10:00:00Z"  # from +01:00
    assert two["Last message (UTC)"] == "2026-11-23T10:00:00Z"
    assert two["Source group"] == "'@elsewhere"
    assert two["hours"] == "'=2+2"
    assert two["gone (removed)"] == "a; b: @x"
    assert two["support: Money advice"] == "1"
    assert rows["r04-damaged-answer"]["name"] == ""
    assert rows["r04-damaged-answer"]["hours"] == "3"
    assert rows["r05-not-json-field"]["comments"] == "still here"
    assert rows["r05-not-json-field"]["Status"] == "opted out"


async def test_every_type_world_alike_on_both_paths(tmp_path: Path) -> None:
    world: World = await every_type_world(flows_folder(tmp_path))
    stored = [r async for r in world.svc.store.iter_responses(world.flow.id)]
    assert len(stored) == 7
    assert all(isinstance(r, StoredResponse) for r in stored)
    for fmt in ("csv", "xlsx", "jsonl"):
        assert outputs(world.flow, stored, fmt) == outputs(
            world.flow, [Plain.of(r) for r in stored], fmt
        )


def test_xlsx_text_cache_emptied_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_module, "TAIL_CACHE", 3)
    flow = require_flow(EVERY_TYPE)
    at = AT
    responses = [
        Plain(f"r{i}", "v1", "sms", None, "en", Status.COMPLETE, at, at, at,
              {"name": StoredAnswer("name", f"name {i % 5}", None, 0),
               "comments": StoredAnswer("comments", f"unique & {i}", None, 0)})
        for i in range(40)
    ]  # fmt: skip
    out = io.BytesIO()
    export(flow, responses, out, "xlsx")
    ws = openpyxl.load_workbook(io.BytesIO(out.getvalue()))["Responses"]
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in ws.iter_rows(2)]
    assert [r["name"] for r in rows] == [f"name {i % 5}" for i in range(40)]
    assert [r["comments"] for r in rows] == [f"unique & {i}" for i in range(40)]


def test_ms_text_is_utc_text() -> None:
    rng = random.Random(3)
    values = [0, -1, 999, 1000, 86_399_999, 86_400_000, 1_767_604_110_999]
    values += [rng.randint(-(10**12), 4 * 10**12) for _ in range(2000)]
    for ms in values:
        assert ms_text(ms) == utc_text(datetime.fromtimestamp(ms / 1000, UTC)), ms


def test_table_row_keeps_its_meaning() -> None:
    # row() leaves text as it is (XLSX); csv_row() neutralises it.
    flow = require_flow(EVERY_TYPE)
    r = Plain("=r", "v1", "sms", None, "en", Status.COMPLETE, AT, AT, AT,
              {"name": StoredAnswer("name", "@me", None, 0)})  # fmt: skip
    table = Table(flow)
    plain = dict(zip(table.headers, table.row(r), strict=True))
    safe = dict(zip(table.headers, table.csv_row(r), strict=True))
    assert (plain["Respondent"], plain["name"]) == ("=r", "@me")
    assert (safe["Respondent"], safe["name"]) == ("'=r", "'@me")


async def test_an_answer_without_its_time_is_left_out_of_every_format(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Stored answers are read one way (StoredResponse.answer_values, which ``answers`` is made
    # of): an answer object without "t" is left out of CSV, XLSX and JSON lines alike.
    flow = require_flow(EVERY_TYPE)
    hashes: dict[str, dict[FieldT, EncodableT]] = {
        "r01": {"meta": meta(), "a:name": '{"v": "hello"}', "a:hours": a(3)},
    }
    stored = await stored_responses(fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer()), hashes)
    assert len(stored) == 1
    text = outputs(flow, stored, "csv")
    assert isinstance(text, str)
    (row,) = csv.DictReader(io.StringIO(text[1:], newline=""))
    assert (row["name"], row["hours"]) == ("", "3")
    sheets = outputs(flow, stored, "xlsx")
    assert isinstance(sheets, dict)
    assert b"hello" not in sheets["xl/worksheets/sheet1.xml"]
    lines = outputs(flow, stored, "jsonl")
    assert isinstance(lines, str)
    record = json.loads(lines)
    assert set(record["answers"]) == {"hours"}
    for fmt in ("csv", "xlsx", "jsonl"):
        assert outputs(flow, stored, fmt) == outputs(flow, [Plain.of(r) for r in stored], fmt)
    assert any("unreadable answer" in m.getMessage() for m in caplog.records)


def test_stored_response_is_what_exports_read_fast() -> None:
    # Checked by mypy: StoredResponse satisfies the export's protocol for stored responses.
    r: StoredResponseLike = StoredResponse("rid", json.loads(meta()), {})
    assert r.utc_texts() == ("2026-11-23T10:00:00Z",) * 3
    assert list(r.answer_values()) == []
