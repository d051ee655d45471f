"""Spreadsheet writers: .xlsx and .csv bytes with formula injection neutralised (no Flask, no database)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from enum import Enum

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")

Sheet = tuple[str, Sequence[str], Iterable[Sequence]]


def neutralise(value):
    """The value made safe for a spreadsheet: text that would run as a formula gets a leading apostrophe.

    Enum members become their value; other non-string values (numbers, dates, None) are returned unchanged.
    """
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _xlsx_cell(value):
    value = neutralise(value)
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    if isinstance(value, bool | int | float | date | datetime) or value is None:
        return value
    return str(value)


def _sheet_title(name: str, used: set[str]) -> str:
    title = _SHEET_NAME_FORBIDDEN.sub("_", name).strip("'")[:31] or "Sheet"
    base, n = title, 2
    while title.lower() in used:
        suffix = f" ({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(title.lower())
    return title


def write_xlsx(sheets: Sequence[Sheet]) -> bytes:
    """An .xlsx workbook (write-only, streams large data) with one sheet per (name, header, rows)."""
    workbook = Workbook(write_only=True)
    used: set[str] = set()
    for name, header, rows in sheets:
        sheet = workbook.create_sheet(_sheet_title(name, used))
        sheet.append([_xlsx_cell(h) for h in header])
        for row in rows:
            sheet.append([_xlsx_cell(v) for v in row])
    if not sheets:
        workbook.create_sheet("Sheet")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _csv_cell(value):
    value = neutralise(value)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, bool):
        return int(value)
    return value


def write_csv(header: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    """A CSV file in UTF-8 with a byte-order mark (so Excel shows Chinese correctly), CRLF line ends."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow([_csv_cell(h) for h in header])
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return b"\xef\xbb\xbf" + text.getvalue().encode("utf-8")


def table_file(
    fmt: str, basename: str, header: Sequence[str], rows: Iterable[Sequence], sheet_name: str | None = None
) -> tuple[bytes, str]:
    """One table as the bytes and name of `basename`.xlsx or `basename`.csv (fmt is 'xlsx' or 'csv')."""
    if fmt == "xlsx":
        return write_xlsx([(sheet_name or basename, header, rows)]), basename + ".xlsx"
    if fmt == "csv":
        return write_csv(header, rows), basename + ".csv"
    raise ValueError(f"unknown export format {fmt!r}")
