"""Reading an uploaded file safely: signature checks, zip-bomb limits, then rows as plain Python values."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flask_babel import gettext as _

from socialforce.platform.imports import xlsx

XLSX_SIGNATURE = b"PK\x03\x04"
OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0"  # legacy .xls
MAX_ZIP_MEMBERS = 200
MAX_UNCOMPRESSED_BYTES = 400 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200


class UnreadableFile(ValueError):
    """The file was refused before any row was read; the message is already translated."""


@dataclass
class RawSheet:
    """One sheet (or CSV file): its name, header cells and data rows (each with its 1-based row number)."""

    name: str
    header: list[str]
    rows: Iterator[tuple[int, tuple]]


def sniff(path: Path, filename: str) -> str:
    """'xlsx' or 'csv' from the file's content (which must agree with its extension), else UnreadableFile."""
    extension = Path(filename).suffix.lower()
    if extension not in (".xlsx", ".csv"):
        raise UnreadableFile(_("Only .xlsx and .csv files can be imported."))
    with path.open("rb") as fh:
        head = fh.read(8192)
    if not head:
        raise UnreadableFile(_("The file is empty."))
    if head.startswith(OLE2_SIGNATURE):
        raise UnreadableFile(_("This is an old Excel .xls file. Open it in Excel and save it as .xlsx."))
    if extension == ".xlsx":
        if not head.startswith(XLSX_SIGNATURE):
            raise UnreadableFile(_("This file is not a real .xlsx workbook (it was probably renamed)."))
        check_zip(path)
        return "xlsx"
    if head.startswith(XLSX_SIGNATURE) or b"\x00" in head:
        raise UnreadableFile(_("This file is not a text CSV file."))
    decode_csv(path)
    return "csv"


def check_zip(path: Path) -> None:
    """Refuse a ZIP that is not a workbook or that would unpack to too much (a zip bomb)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        raise UnreadableFile(_("This file is not a real .xlsx workbook (it was probably renamed).")) from None
    if len(members) > MAX_ZIP_MEMBERS:
        raise UnreadableFile(_("The workbook has too many parts to be a normal spreadsheet; it was refused."))
    names = {m.filename for m in members}
    if "xl/workbook.xml" not in names:
        raise UnreadableFile(_("This file is not a real .xlsx workbook (it was probably renamed)."))
    total = sum(m.file_size for m in members)
    ratio = max((m.file_size / max(m.compress_size, 1) for m in members), default=0)
    if total > MAX_UNCOMPRESSED_BYTES or ratio > MAX_COMPRESSION_RATIO:
        raise UnreadableFile(
            _("The workbook unpacks to far more data than it holds (a possible zip bomb); it was refused.")
        )


def decode_csv(path: Path) -> str:
    """The text of a CSV file in UTF-8 (with or without BOM) or GB18030, else UnreadableFile."""
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text
    raise UnreadableFile(_("The CSV file is not text in UTF-8 or GB18030 encoding. Save it as 'CSV UTF-8'."))


def _clean_header(cells) -> list[str]:
    return [("" if c is None else str(c)).strip().rstrip("*").strip() for c in cells]


@contextmanager
def open_sheets(path: Path, fmt: str, name: str) -> Iterator[list[RawSheet]]:
    """The sheets of an upload: every sheet of a workbook (streamed), or the CSV file as one sheet."""
    if fmt == "csv":
        yield [read_csv(path, name)]
        return
    check_zip(path)
    try:
        workbook = xlsx.Workbook(path)
    except xlsx.XlsxError:
        raise UnreadableFile(
            _("The workbook could not be opened. Save it again in Excel as .xlsx.")
        ) from None
    try:
        sheets = []
        for title, member in workbook.sheets:
            rows = _guarded(workbook.rows(member))
            first = next(rows, None)
            if first is not None:
                sheets.append(RawSheet(title, _clean_header(first[1]), rows))
        yield sheets
    finally:
        workbook.close()


def _guarded(rows: Iterator[tuple[int, tuple]]) -> Iterator[tuple[int, tuple]]:
    try:
        yield from rows
    except xlsx.XlsxError:
        raise UnreadableFile(
            _("The workbook could not be opened. Save it again in Excel as .xlsx.")
        ) from None


def read_csv(path: Path, name: str) -> RawSheet:
    """A CSV file as one sheet; every cell is text."""
    text = decode_csv(path)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        raise UnreadableFile(_("The file is empty."))
    return RawSheet(name, _clean_header(header), ((n, tuple(row)) for n, row in enumerate(reader, start=2)))
