"""Exports: columns and values for every question type, golden files, Excel safety, privacy.

Set UPDATE_GOLDEN=1 to rewrite the golden files after an intended change (then read the diff).
"""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from redis.asyncio import Redis

from bot.loader import FlowRegistry, require_flow
from bot.models import Answer, AnswerValue, Status
from bot.results.export import (
    Cell,
    Table,
    _SheetWriter,
    column_letter,
    csv_cells,
    export,
    export_flow,
    neutralise,
)
from store import KeyBuilder, RedisStore, Response
from tests.results.world import (
    ADDRESSES,
    EVERY_TYPE,
    START,
    World,
    every_type_world,
    flows_folder,
    make_world,
)

GOLDEN = Path(__file__).parent / "golden"
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    return flows_folder(tmp_path)


@pytest.fixture
async def world(flows_dir: Path) -> World:
    return await every_type_world(flows_dir)


async def run(world: World, fmt: str, **options: Any) -> str | bytes:
    out: io.StringIO | io.BytesIO = io.BytesIO() if fmt == "xlsx" else io.StringIO(newline="")
    await export_flow(world.svc.store, world.flow, out, fmt, now=NOW, **options)
    return out.getvalue()


def rows_of(text: str | bytes) -> list[dict[str, str]]:
    assert isinstance(text, str)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def check_golden(name: str, text: str, version: str) -> None:
    text = text.replace(version, "<version>")
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(text.encode("utf-8"))
    expected = path.read_bytes().decode("utf-8")
    assert text == expected, f"{name} differs from the golden file (UPDATE_GOLDEN=1 rewrites it)"


# -- golden files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt", "codes"),
    [
        ("every-type.csv", "csv", False),
        ("every-type-codes.csv", "csv", True),
        ("every-type.jsonl", "jsonl", False),
    ],
)
async def test_golden_files(world: World, name: str, fmt: str, codes: bool) -> None:
    text = await run(world, fmt, partial=True, codes=codes)
    assert isinstance(text, str)
    check_golden(name, text, world.flow.version)


# -- columns and values ---------------------------------------------------------------------------


async def test_columns_follow_the_flow_and_info_questions_have_none(world: World) -> None:
    header = rows_of(await run(world, "csv"))[0].keys()
    assert list(header) == [
        "Respondent", "Channel", "Source group", "Language", "Status", "Started (UTC)",
        "Finished (UTC)", "Last message (UTC)", "Flow version",
        "consent", "name", "role", "role - other text", "often",
        "support: Short breaks", "support: Money advice", "support: Information",
        "support: None of these", "agree", "rating", "know", "hours", "born", "postcode",
        "comments",
    ]  # fmt: skip
    assert not any("respite_info" in h for h in header)


async def test_values_of_every_type_with_labels(world: World) -> None:
    asha, ben, cara, ewa = rows_of(await run(world, "csv"))
    assert asha["Status"] == "complete"
    assert asha["Source group"] == "Harborough Carers"
    assert asha["Channel"] == "sms"
    assert asha["Started (UTC)"] == "2026-11-23T09:32:00Z"
    assert asha["consent"] == "Yes"  # consent
    assert asha["name"] == "Asha"  # text
    assert asha["role"] == "I am a carer"  # choice label
    assert asha["often"] == "Sometimes"
    # multi: one 0/1 column per choice
    assert [asha[f"support: {c}"] for c in ("Short breaks", "Money advice", "Information")] == [
        "1",
        "0",
        "1",
    ]
    assert asha["agree"] == "Strongly agree"  # labelled scale
    assert asha["rating"] == "4"  # numeric scale
    assert asha["know"] == "No"  # yesno
    assert asha["hours"] == "42"  # number
    assert asha["born"] == "1960-04"  # date, ISO text
    assert asha["postcode"] == "LE16"  # district only
    # Other text beside its choice; "none of these" is a column; skipped answers are empty.
    assert ben["role"] == "Something else"
    assert ben["role - other text"] == "a neighbour"
    assert ben["support: None of these"] == "1"
    assert ben["support: Money advice"] == "0"
    assert ben["born"] == ben["postcode"] == ben["hours"] == ""
    # A branch: the organisation jumped to comments; nothing between is filled, not even 0s.
    assert cara["role"] == "An organisation"
    assert cara["support: Short breaks"] == ""
    assert cara["comments"] == "We run a carers cafe.\nTuesdays, 10-12."
    # Labels are in the flow's first language whatever language the respondent used.
    assert ewa["Language"] == "pl"
    assert ewa["role"] == "I am a carer"
    assert ewa["born"] == "1975-05-06"


async def test_codes_give_ids_and_short_headers(world: World) -> None:
    asha = rows_of(await run(world, "csv", codes=True))[0]
    assert asha["source"] == "harborough-carers"
    assert asha["status"] == "complete"
    assert asha["role"] == "carer"
    assert asha["agree"] == "5"
    assert asha["know"] == "no"
    assert asha["support/respite"] == "1"
    assert asha["support/none"] == "0"
    assert "role_other" in asha
    assert "started_utc" in asha


async def test_only_complete_responses_without_partial(world: World) -> None:
    out = io.StringIO(newline="")
    counts = await export_flow(world.svc.store, world.flow, out, "csv", now=NOW)
    rows = rows_of(out.getvalue())
    assert {r["Status"] for r in rows} == {"complete"}
    assert (counts.written, counts.left_out) == (4, 3)


async def test_partial_and_opted_out_rows(world: World) -> None:
    rows = rows_of(await run(world, "csv", partial=True))
    by_status = {r["Status"]: r for r in rows}
    assert set(by_status) == {"complete", "partial", "opted out", "declined"}
    partial = by_status["partial"]
    assert partial["Finished (UTC)"] == ""
    assert (partial["consent"], partial["name"], partial["role"]) == ("Yes", "Dev", "")
    opted = by_status["opted out"]
    assert opted["consent"] == "Yes"
    assert opted["name"] == ""
    assert opted["Finished (UTC)"] != ""
    assert by_status["declined"]["consent"] == "No"


async def test_since_keeps_later_starts(world: World) -> None:
    out = io.StringIO(newline="")
    since = START + timedelta(days=1)
    await export_flow(world.svc.store, world.flow, out, "csv", partial=True, since=since, now=NOW)
    rows = rows_of(out.getvalue())
    assert rows
    assert all(r["Started (UTC)"] >= "2026-11-24T09:30:00Z" for r in rows)
    assert len(rows) == 2


async def test_jsonl_has_codes_labels_and_tells_skipped_from_not_asked(world: World) -> None:
    text = await run(world, "jsonl", partial=True)
    assert isinstance(text, str)
    records = [json.loads(line) for line in text.splitlines()]
    ben = records[1]
    assert ben["answers"]["role"] == {
        "value": "other",
        "label": "Something else",
        "other": "a neighbour",
        "at": "2026-11-23T14:40:00Z",
    }
    assert ben["answers"]["born"]["value"] is None  # skipped
    assert "hours" not in ben["answers"]  # not asked (carers only)
    assert records[0]["answers"]["support"]["label"] == ["Short breaks", "Information"]
    assert records[0]["answers"]["hours"] == {"value": 42, "at": "2026-11-23T09:50:00Z"}


# -- a flow edited mid-consultation ---------------------------------------------------------------


async def test_removed_question_keeps_its_column(
    redis_client: Redis, key_prefix: str, flows_dir: Path
) -> None:
    world = make_world(redis_client, flows_dir, SURVEYBOT_REDIS_PREFIX=key_prefix)
    await world.say("sms", "+447700900001", ["TEST", "yes", "Asha", "1", "often", "1", "2"])
    old_version = world.flow.version
    # The officer removes "often" (and the jump to it) and adds a question.
    text = EVERY_TYPE.read_text(encoding="utf-8")
    start = text.index("  - id: often")
    end = text.index("  - id: support")
    edited = (text[:start] + text[end:]).replace("default: often", "default: support")
    edited = edited.replace(
        "  - id: comments",
        "  - id: travel\n    type: yesno\n    optional: true\n    text: Do you drive?\n"
        "  - id: comments",
    )
    (flows_dir / "every-type.yaml").write_text(edited, encoding="utf-8")
    flow = FlowRegistry(flows_dir).get("every-type")
    assert flow is not None
    assert flow.version != old_version
    assert flow.question("often") is None

    assert "often" in await world.svc.store.answer_fields(flow.id)
    out = io.StringIO(newline="")
    await export_flow(world.svc.store, flow, out, "csv", partial=True, now=NOW)
    (row,) = rows_of(out.getvalue())
    headers = list(row)
    assert headers[-1] == "often (removed)"
    assert headers.index("travel") < headers.index("often (removed)")
    assert row["often (removed)"] == "often"
    assert row["travel"] == ""
    assert row["Flow version"] == old_version
    assert row["support: Short breaks"] == "1"

    jout = io.StringIO()
    await export_flow(world.svc.store, flow, jout, "jsonl", partial=True, now=NOW)
    record = json.loads(jout.getvalue())
    assert record["answers"]["often"]["removed"] is True


def response(answers: dict[str, AnswerValue | None], **meta: Any) -> Response:
    at = datetime(2026, 11, 23, 10, tzinfo=UTC)
    fields: dict[str, Any] = {
        "respondent": "r1",
        "flow": "every-type",
        "version": "v1",
        "channel": "sms",
        "status": Status.COMPLETE,
        "started_at": at,
        "last_at": at,
        "finished_at": at,
        **meta,
    }
    return Response(
        answers={q: Answer(question=q, value=v, at=at) for q, v in answers.items()}, **fields
    )


def test_removed_values_as_stored_and_unknown_choices_kept() -> None:
    flow = require_flow(EVERY_TYPE)
    r = response({"role": "retired_choice", "gone": ["a", "b"], "flag": True, "n": 2.5})
    table = Table(flow, removed=["gone", "flag", "n", "role"])
    row = dict(zip(table.headers, table.row(r), strict=True))
    assert row["role"] == "retired_choice"  # a choice since removed: its id
    assert row["gone (removed)"] == "a; b"
    assert row["flag (removed)"] == "yes"
    assert row["n (removed)"] == 2.5
    assert "role (removed)" not in row


# -- Excel ----------------------------------------------------------------------------------------

DANGEROUS = ["=1+1", "+44 1", "-5 is low", "@SUM(A1)", "\tTAB", "\rCR", '=HYPERLINK("x")']


def hostile() -> list[Response]:
    out = []
    for i, text in enumerate(DANGEROUS):
        out.append(
            response(
                {"name": text, "comments": f"ok {i}", "hours": -3 if i == 0 else i, "rating": 2},
                respondent=f"r{i}",
            )
        )
    return out


def test_formula_injection_neutralised_in_csv() -> None:
    flow = require_flow(EVERY_TYPE)
    out = io.StringIO(newline="")
    export(flow, hostile(), out, "csv")
    rows = rows_of(out.getvalue())
    assert [r["name"] for r in rows] == ["'" + t for t in DANGEROUS]
    assert rows[0]["hours"] == "-3"  # a negative number stays a number
    assert rows[1]["comments"] == "ok 1"
    assert neutralise("fine = ok") == "fine = ok"
    # Text stored for a question that has since become a number question: still neutralised.
    out = io.StringIO(newline="")
    export(flow, [response({"hours": "=2+2"})], out, "csv")
    assert rows_of(out.getvalue())[0]["hours"] == "'=2+2"


def test_csv_cells_neutralise_every_text_and_nothing_else() -> None:
    # CSV's one safety pass, over a finished row: text from any column (stored values, labels,
    # meta), never numbers; a str subclass is text too.
    class Label(str):
        pass

    row: list[Cell] = ["=a", "-1", -1, 1.5, None, "", "ok", "@x", "\tz", "\rz", "+", Label("-l")]
    assert csv_cells(row) == [
        "'=a", "'-1", -1, 1.5, None, "", "ok", "'@x", "'\tz", "'\rz", "'+", "'-l",
    ]  # fmt: skip
    assert csv_cells(row) == [neutralise(c) if isinstance(c, str) else c for c in row]


def test_formula_injection_neutralised_in_xlsx() -> None:
    flow = require_flow(EVERY_TYPE)
    out = io.BytesIO()
    export(flow, hostile(), out, "xlsx")
    ws = openpyxl.load_workbook(io.BytesIO(out.getvalue()))["Responses"]
    header = [c.value for c in ws[1]]
    name_col = header.index("name") + 1
    hours_col = header.index("hours") + 1
    for i, text in enumerate(DANGEROUS, start=2):
        cell = ws.cell(row=i, column=name_col)
        assert cell.data_type == "s"  # text, never a formula
        assert cell.value == text.replace("\r", "\n")  # XML normalises a lone CR on reading
    hours = ws.cell(row=2, column=hours_col)
    assert hours.value == -3
    assert hours.data_type == "n"


async def test_xlsx_reads_back_in_excel_form(world: World) -> None:
    data = await run(world, "xlsx", partial=True)
    assert isinstance(data, bytes)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Responses", "About"]
    ws = wb["Responses"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    header, asha = rows[0], dict(zip(rows[0], rows[1], strict=True))
    csv_rows = rows_of(await run(world, "csv", partial=True))
    assert header == list(csv_rows[0])
    assert len(rows) == 1 + 7
    assert asha["hours"] == 42
    assert asha["support: Short breaks"] == 1
    assert asha["rating"] == 4
    assert asha["comments"] == "=SUM(A1:A9) more breaks please"  # text, no apostrophe
    assert asha["role - other text"] is None
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:{column_letter(len(header) - 1)}8"
    about = {r[0].value: r[1].value for r in wb["About"].iter_rows()}
    assert about["Times"].startswith("UTC")
    # Same cells as the CSV, apart from types.
    for xrow, crow in zip(rows[1:], csv_rows, strict=True):
        assert ["" if v is None else str(v) for v in xrow] == [
            v.removeprefix("'") for v in crow.values()
        ]


def test_xlsx_header_row_is_bold_and_the_rest_is_not() -> None:
    flow = require_flow(EVERY_TYPE)
    out = io.BytesIO()
    export(flow, [response({"name": "Asha", "hours": 3, "know": True})], out, "xlsx")
    wb = openpyxl.load_workbook(io.BytesIO(out.getvalue()))
    ws = wb["Responses"]
    assert all(c.font.b for c in ws[1])
    assert [c.value for c in ws[1]] == Table(flow).headers
    data = [c for c in ws[2] if c.value is not None]
    assert {type(c.value) for c in data} == {str, int}
    assert not any(c.font.b for c in data)
    assert not any(c.font.b for row in wb["About"].iter_rows() for c in row)


def test_sheet_rows_with_and_without_a_style() -> None:
    # One writer for both: a styled row (the header) carries s="1" on every cell, and a text
    # remembered from a plain row is not reused without it (nor the other way round).
    buf = io.BytesIO()
    sheet = _SheetWriter(buf, 8, freeze=False, widths=[])
    cells: list[Cell] = [" a & b", "x\x07y", 3, 1.5, True, None, "", "Zażółć\t"]
    for style in (0, 1, 0):
        sheet.row(cells, style=style)
    sheet.close(autofilter=False)
    xml = buf.getvalue().decode()

    def row(n: int, s: str) -> str:
        return (
            f'<row r="{n}"><c r="A{n}" t="inlineStr"{s}><is><t xml:space="preserve"> a &amp; b'
            f'</t></is></c><c r="B{n}" t="inlineStr"{s}><is><t>xy</t></is></c>'
            f'<c r="C{n}"{s}><v>3</v></c><c r="D{n}"{s}><v>1.5</v></c>'
            f'<c r="E{n}" t="b"{s}><v>1</v></c><c r="H{n}" t="inlineStr"{s}><is>'
            f'<t xml:space="preserve">Zażółć\t</t></is></c></row>'
        )

    bold = ' s="1"'
    assert f"<sheetData>{row(1, '')}{row(2, bold)}{row(3, '')}</sheetData>" in xml


def test_xlsx_to_a_pipe_and_with_unreadable_characters() -> None:
    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def write(self, b: Any) -> int:
            self.data += bytes(b)
            return len(b)

    flow = require_flow(EVERY_TYPE)
    pipe = Pipe()
    r = response({"name": "bell\x07 and null\x00 <tag> & \ufffe", "comments": "  spaced  "})
    export(flow, [r], pipe, "xlsx")  # type: ignore[arg-type]
    assert zipfile.ZipFile(io.BytesIO(bytes(pipe.data))).testzip() is None
    ws = openpyxl.load_workbook(io.BytesIO(bytes(pipe.data)))["Responses"]
    header = [c.value for c in ws[1]]
    row = {h: c.value for h, c in zip(header, ws[2], strict=True)}
    assert row["name"] == "bell and null <tag> & "
    assert row["comments"] == "  spaced  "


async def test_csv_reads_back_with_the_csv_module(world: World) -> None:
    text = await run(world, "csv", partial=True)
    assert isinstance(text, str)
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert len(rows) == 1 + 7
    assert len({len(r) for r in rows}) == 1
    assert "\r\n" in text  # Excel's line ends


# -- privacy --------------------------------------------------------------------------------------


async def test_no_phone_number_or_chat_id_in_any_export(world: World) -> None:
    outputs = [
        await run(world, "csv", partial=True),
        await run(world, "csv", partial=True, codes=True),
        await run(world, "jsonl", partial=True),
    ]
    data = await run(world, "xlsx", partial=True)
    assert isinstance(data, bytes)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        outputs += [z.read(n).decode("utf-8") for n in z.namelist()]
    for text in outputs:
        assert isinstance(text, str)
        for address in ADDRESSES:
            assert address not in text
        assert "7700900" not in text


# -- the store's first pass -----------------------------------------------------------------------


async def test_answer_fields_lists_every_answered_question(
    redis_client: Redis, key_prefix: str
) -> None:
    store = RedisStore(redis_client, secret=b"s", keys=KeyBuilder(prefix=key_prefix, shards=4))
    assert await store.answer_fields("f") == set()
    pipe = redis_client.pipeline(transaction=False)
    for i in range(30):
        rid = f"r{i:03d}"
        pipe.hset(store.keys.response(rid, "f"), mapping={"meta": "{}", f"a:q{i % 7}": "{}"})
        pipe.zadd(store.keys.index_for("f", rid), {rid: i})
    await pipe.execute()
    assert await store.answer_fields("f", batch=4) == {f"q{i}" for i in range(7)}
