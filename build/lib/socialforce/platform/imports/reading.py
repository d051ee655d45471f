"""Reading an uploaded file safely: signature checks, zip-bomb limits, then rows as plain Python values."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from flask_babel import gettext as _

from socialforce.platform.imports import xlsx

XLSX_SIGNATURE = b"PK\x03\x04"
OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0"  # legacy .xls, or an Office file encrypted with a password
ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")  # the stream of a password-protected workbook
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
MAX_ZIP_MEMBERS = 200
MAX_UNCOMPRESSED_BYTES = 400 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200
HEADER_SCAN_ROWS = 10  # rows of each sheet searched for the header row


class UnreadableFile(ValueError):
    """The file was refused before any row was read; the message is already translated."""


@dataclass
class RawSheet:
    """One sheet (or CSV file) as read: its first rows (to find the header in) and an iterator over the rest."""

    name: str
    head: list[tuple[int, tuple]]
    rest: Iterator[tuple[int, tuple]]
    worksheet: bool = True  # False for a chart or dialog sheet


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
        if ENCRYPTED_PACKAGE in path.read_bytes():
            raise UnreadableFile(_password_message())
        raise UnreadableFile(_("This is an old Excel .xls file. Open it in Excel and save it as .xlsx."))
    if extension == ".xlsx":
        if not head.startswith(XLSX_SIGNATURE):
            raise UnreadableFile(_("This file is not a real .xlsx workbook (it was probably renamed)."))
        check_zip(path)
        return "xlsx"
    if head.startswith(UTF16_BOMS) or head[:400].count(0) > 100:
        raise UnreadableFile(
            _(
                "This CSV file is saved as UTF-16 (Excel's “Unicode Text”). In Excel choose Save As > "
                "“CSV UTF-8 (Comma delimited)” and upload that file."
            )
        )
    if head.startswith(XLSX_SIGNATURE) or b"\x00" in head:
        raise UnreadableFile(_("This file is not a text CSV file."))
    csv_delimiter(decode_csv(path))
    return "csv"


def _password_message() -> str:
    return _(
        "The file is protected with a password (encrypted), so it cannot be read. Open it in Excel, remove the "
        "password (File > Info > Protect Workbook), save it as .xlsx and upload it again."
    )


def check_zip(path: Path) -> None:
    """Refuse a ZIP that is not a workbook, is damaged or encrypted, or would unpack to too much (a zip bomb)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise UnreadableFile(xlsx_message(xlsx.XlsxError("damaged"))) from None
    if len(members) > MAX_ZIP_MEMBERS:
        raise UnreadableFile(_("The workbook has too many parts to be a normal spreadsheet; it was refused."))
    if any(m.flag_bits & 0x1 for m in members):
        raise UnreadableFile(_password_message())
    names = {m.filename for m in members}
    if "xl/workbook.xml" not in names:
        raise UnreadableFile(_("This file is not a real .xlsx workbook (it was probably renamed)."))
    total = sum(m.file_size for m in members)
    ratio = max((m.file_size / max(m.compress_size, 1) for m in members), default=0)
    if total > MAX_UNCOMPRESSED_BYTES or ratio > MAX_COMPRESSION_RATIO:
        raise UnreadableFile(
            _("The workbook unpacks to far more data than it holds (a possible zip bomb); it was refused.")
        )


def xlsx_message(error: xlsx.XlsxError, sheet: str | None = None) -> str:
    """What is wrong with a workbook the reader refused, in the user's language (with the sheet and row)."""
    params = error.params
    save_again = _("Open it in Excel, save it again as .xlsx and upload that file.")
    reasons = {
        "damaged": lambda: _(
            "The workbook is damaged or incomplete (perhaps cut short while copying or uploading)."
        ),
        "entities": lambda: _(
            "The workbook declares XML entities, which no spreadsheet needs; it was refused."
        ),
        "bad_reference": lambda: _("The cell reference %(cell)s is malformed.", cell=params.get("cell", "")),
        "bad_row": lambda: _("The row number %(row)s is malformed.", row=params.get("row", "")),
        "bad_shared_string": lambda: _(
            "Cell %(cell)s points to a text entry that the workbook does not contain.",
            cell=params.get("cell", ""),
        ),
        "bad_date_cell": lambda: _(
            "Cell %(cell)s holds a date that cannot be read.", cell=params.get("cell", "")
        ),
        "bad_number": lambda: _(
            "Cell %(cell)s is marked as a number but holds something else.", cell=params.get("cell", "")
        ),
        "too_wide": lambda: _(
            "Cell %(cell)s holds a value beyond column %(limit)s; an import sheet needs only the template's "
            "columns. Delete the columns on the right.",
            cell=params.get("cell", ""),
            limit=params.get("limit", ""),
        ),
        "cell_too_long": lambda: _(
            "Cell %(cell)s holds more than %(limit)s characters, more than Excel allows in a cell.",
            cell=params.get("cell", ""),
            limit=params.get("limit", ""),
        ),
        "too_much_text": lambda: _(
            "The workbook holds more than %(limit)s million characters of text, far more than an import "
            "file; split it into smaller files.",
            limit=params.get("limit", ""),
        ),
        "too_many_strings": lambda: _(
            "The workbook's table of texts needs more than %(limit)s MB, far more than an import file; split "
            "it into smaller files.",
            limit=params.get("limit", ""),
        ),
    }
    reason = reasons.get(error.code, reasons["damaged"])()
    if error.code in (
        "damaged",
        "bad_reference",
        "bad_row",
        "bad_shared_string",
        "bad_date_cell",
        "bad_number",
    ):
        reason += " " + save_again
    if sheet is not None and params.get("row"):
        return _("Sheet “%(sheet)s”, row %(row)s: %(reason)s", sheet=sheet, row=params["row"], reason=reason)
    if sheet is not None:
        return _("Sheet “%(sheet)s”: %(reason)s", sheet=sheet, reason=reason)
    return reason


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


def csv_delimiter(text: str) -> str:
    """',' or a tab, from the first line with content; a ';'-separated file is refused with how to save it."""
    first_line = next((line for line in text.splitlines() if line.strip(" ,;\t")), "")
    if "\t" in first_line and "," not in first_line:
        return "\t"
    if ";" in first_line and "," not in first_line:
        raise UnreadableFile(
            _(
                "The values in this CSV file are separated by semicolons (;), not commas. In Excel choose "
                "Save As > “CSV UTF-8 (Comma delimited)”, or upload the .xlsx workbook instead."
            )
        )
    return ","


@contextmanager
def open_sheets(path: Path, fmt: str, name: str) -> Iterator[list[RawSheet]]:
    """The sheets of an upload: every sheet of a workbook (streamed), or the CSV file as one sheet."""
    if fmt == "csv":
        yield [read_csv(path, name)]
        return
    check_zip(path)
    try:
        workbook = xlsx.Workbook(path)
    except xlsx.XlsxError as e:
        raise UnreadableFile(xlsx_message(e)) from None
    try:
        sheets = []
        for title, member in workbook.sheets:
            if member is None:  # a chart or dialog sheet: no cells
                sheets.append(RawSheet(title, [], iter(()), worksheet=False))
                continue
            rows = _guarded(workbook.rows(member), title)
            sheets.append(RawSheet(title, list(islice(rows, HEADER_SCAN_ROWS)), rows))
        yield sheets
    finally:
        workbook.close()


def _guarded(rows: Iterator[tuple[int, tuple]], title: str) -> Iterator[tuple[int, tuple]]:
    try:
        yield from rows
    except xlsx.XlsxError as e:
        raise UnreadableFile(xlsx_message(e, title)) from None


def read_csv(path: Path, name: str) -> RawSheet:
    """A CSV file as one sheet; every cell is text."""
    text = decode_csv(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=csv_delimiter(text))
    rows = ((n, tuple(row)) for n, row in enumerate(reader, start=1))
    try:
        head = list(islice(rows, HEADER_SCAN_ROWS))
    except csv.Error:
        raise UnreadableFile(_("The CSV file could not be read. Save it as 'CSV UTF-8'.")) from None
    if not head:
        raise UnreadableFile(_("The file is empty."))
    return RawSheet(name, head, _csv_guarded(rows))


def _csv_guarded(rows: Iterator[tuple[int, tuple]]) -> Iterator[tuple[int, tuple]]:
    try:
        yield from rows
    except csv.Error:
        raise UnreadableFile(_("The CSV file could not be read. Save it as 'CSV UTF-8'.")) from None
