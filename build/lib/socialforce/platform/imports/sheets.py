"""Understanding each sheet of an upload: where its header row is, which kind it holds, or why it is ignored.

A government workbook often has a title row above the header, two header rows (a group title over the column
names) and merged header cells, whose value sits only in the first cell of the merge. The header row is the
first of a sheet's first HEADER_SCAN_ROWS rows that names a kind's identifying column (after HEADER_SYNONYMS); a
known column name in the row just below or above, where the header row is empty or holds a group title, joins
it (a two-row header or a header cell merged down). A sheet whose table is not recognised is an error, never
skipped in silence: only an empty sheet, a sheet without a table (notes) and the template's own sheets are
ignored, and the preview lists every sheet with what happens to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain

from socialforce.platform.imports.reading import HEADER_SCAN_ROWS, RawSheet
from socialforce.platform.imports.rules import (
    DETECTION_ORDER,
    HELP_SHEET,
    KNOWN_HEADERS,
    REFERENCE_SHEET,
    Kind,
    canonical_header,
)

TABLE_MIN_CELLS = 3  # a row with this many filled cells makes a sheet look like data


@dataclass
class Table:
    """A sheet to import: its kind, canonical header per column, last header row and the data rows after it."""

    name: str
    kind: Kind
    header: list[str]
    header_row: int
    rows: Iterator[tuple[int, tuple]]


@dataclass(frozen=True)
class SheetReport:
    """What happens to one sheet: outcome 'imported', 'ignored' or 'error', with a reason code and its params."""

    name: str
    outcome: str
    reason: str
    params: dict

    def as_dict(self) -> dict:
        """A JSON-ready copy for the upload's status."""
        return {"name": self.name, "outcome": self.outcome, "reason": self.reason, "params": self.params}


def _filled(values: tuple) -> int:
    return sum(1 for v in values if v is not None and str(v).strip() != "")


def _known(values: tuple) -> list[str]:
    return [h if h in KNOWN_HEADERS else "" for h in map(canonical_header, values)]


def _header(head: list[tuple[int, tuple]], at: int) -> tuple[list[str], int]:
    """The header found on head[at], joined with a two-row header's other row; and the last header row."""
    header = [canonical_header(v) for v in head[at][1]]
    last = head[at][0]
    for other in (at + 1, at - 1):
        if not 0 <= other < len(head):
            continue
        names = _known(head[other][1])
        fills = {
            i: n for i, n in enumerate(names) if n and (i >= len(header) or header[i] not in KNOWN_HEADERS)
        }
        if not fills:
            continue
        header += [""] * (max(fills) + 1 - len(header))
        for i, name in fills.items():
            header[i] = name
        last = max(last, head[other][0])
    return header, last


def locate(sheet: RawSheet, chosen: Kind | None = None) -> tuple[SheetReport, Table | None]:
    """Find the sheet's header row and kind (`chosen` for a CSV file whose kind was picked), or say why not."""
    head = sheet.head
    if chosen is None and sheet.name in (REFERENCE_SHEET, HELP_SHEET):
        return SheetReport(sheet.name, "ignored", "template_sheet", {}), None
    if not sheet.worksheet:
        return SheetReport(sheet.name, "ignored", "not_a_worksheet", {}), None
    if not any(_filled(values) for _n, values in head):
        return SheetReport(sheet.name, "ignored", "empty", {}), None
    candidates = (chosen,) if chosen else DETECTION_ORDER
    for at, (_number, values) in enumerate(head):
        names = {canonical_header(v) for v in values}
        kind = next((k for k in candidates if k.signature in names), None)
        if kind is not None:
            header, last = _header(head, at)
            rows = chain((row for row in head if row[0] > last), sheet.rest)
            report = SheetReport(sheet.name, "imported", "imported", {"kind": kind.key, "row": last})
            return report, Table(sheet.name, kind, header, last, rows)
    if (
        chosen is not None
    ):  # a CSV file of the chosen kind without its key column: its first row is the header
        number, values = next((row for row in head if _filled(row[1])), head[0])
        rows = chain((row for row in head if row[0] > number), sheet.rest)
        report = SheetReport(sheet.name, "imported", "imported", {"kind": chosen.key, "row": number})
        return report, Table(sheet.name, chosen, [canonical_header(v) for v in values], number, rows)
    if any(_filled(values) >= TABLE_MIN_CELLS or any(_known(values)) for _n, values in head):
        return SheetReport(sheet.name, "error", "not_recognised", {"rows": HEADER_SCAN_ROWS}), None
    return SheetReport(sheet.name, "ignored", "no_table", {}), None
