"""Read a spreadsheet into sheets of rows, keeping each row's number as Excel shows it.

pyxform's own readers do the work (openpyxl for ``.xlsx``, xlrd for ``.xls``): they are what ODK
and KoBoToolbox use, so a cell reads here exactly as it does there (numbers without ``.0``,
whitespace trimmed, sheet names in any case). Any failure to read becomes a :class:`FormError`
naming the file, never a traceback.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import FormError, FormProblem

MAX_BYTES = 10_000_000
"""Largest workbook read (a long XLSForm with media lists is well under 1 MB)."""

XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass
class Row:
    """One spreadsheet row: its number as Excel shows it, and its non-empty cells by header."""

    number: int
    cells: dict[str, str]


@dataclass
class Sheet:
    name: str
    """As written in the file (``Survey``, ``CHOICES``...)."""
    headers: list[str]
    rows: list[Row] = field(default_factory=list)


@dataclass
class Workbook:
    file: str
    sheets: dict[str, Sheet]
    """By lower-case name: ``survey``, ``choices``, ``settings`` and the other XLSForm sheets."""
    sheet_names: list[str]
    """Every sheet in the file, as written (including ones XLSForm ignores)."""

    def sheet(self, name: str) -> Sheet | None:
        return self.sheets.get(name)


def _fail(file: str, message: str, hint: str | None, code: str = "unreadable") -> FormError:
    return FormError([FormProblem(file, None, None, None, message, hint, code=code)])


def read_workbook(path: str | Path) -> Workbook:
    """Read an ``.xlsx`` or ``.xls`` file (told apart by content, not by name)."""
    p = Path(path)
    file = str(p)
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise _fail(file, f"cannot read the file: {exc.strerror}", None, "io") from None
    if len(data) > MAX_BYTES:
        raise _fail(
            file,
            f"the file is larger than {MAX_BYTES // 1_000_000} MB",
            "an XLSForm is a few hundred kilobytes; remove pictures or data sheets",
            "too_large",
        )
    return read_workbook_bytes(data, file)


def read_workbook_bytes(data: bytes, file: str) -> Workbook:
    from pyxform.errors import PyXFormError
    from pyxform.xls2json_backends import xls_to_dict, xlsx_to_dict

    if data.startswith(XLSX_MAGIC):
        reader = xlsx_to_dict
    elif data.startswith(XLS_MAGIC):
        reader = xls_to_dict
    else:
        raise _fail(
            file,
            "this is not an Excel workbook (.xlsx or .xls)",
            "save the form from Excel, LibreOffice or Google Sheets as .xlsx; a CSV or ODS "
            "file must be saved as .xlsx first",
            "not_excel",
        )
    try:
        raw: dict[str, Any] = reader(io.BytesIO(data))
    except PyXFormError as exc:
        raise _fail(file, f"the workbook cannot be read: {exc}", _hint_for(str(exc))) from None
    except Exception as exc:  # a broken or encrypted file can fail anywhere inside the readers
        raise _fail(
            file,
            f"the workbook cannot be read ({type(exc).__name__}: {exc})"[:300],
            "open it in Excel or LibreOffice and save it again as .xlsx (without a password)",
        ) from None
    names = [str(n) for n in raw.get("sheet_names", [])]
    sheets: dict[str, Sheet] = {}
    for key, value in raw.items():
        if key == "sheet_names" or key.endswith("_header") or not isinstance(value, list):
            continue
        header_rows = raw.get(f"{key}_header") or [{}]
        headers = [str(h) for h in header_rows[0]] if header_rows else []
        written = next((n for n in names if n.lower() == key), key)
        rows = [
            Row(i + 2, {str(k): str(v) for k, v in row.items() if str(v).strip()})
            for i, row in enumerate(value)
            if isinstance(row, dict)
        ]
        sheets[key] = Sheet(written, headers, rows)
    return Workbook(file, sheets, names)


def _hint_for(message: str) -> str | None:
    if "Duplicate column header" in message:
        return "two columns have the same heading in the first row; rename or delete one"
    return None
