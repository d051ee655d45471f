"""A fast, streaming, read-only .xlsx reader (expat, no DTDs or entities) yielding plain cell values.

openpyxl's read-only mode costs about 100 µs a cell here, too slow for 40,000 households; this reader keeps
what the import needs: sheet names, cell types (a number stays a number), shared strings, date styles
(Chinese Excel's built-in formats 27-36 and 50-58 included), and formulas (returned as text starting with "=",
which the import refuses).

Whatever the file holds, what it can make the server hold is bounded: at most MAX_COLUMNS columns, cells of at
most MAX_CELL_CHARS characters, MAX_TEXT_CHARS characters of text in all, and shared strings of at most
MAX_SHARED_BYTES in memory. A structure that breaks a rule raises XlsxError with a code saying what is wrong.
"""

from __future__ import annotations

import posixpath
import re
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from xml.parsers import expat

READ_CHUNK = 64 * 1024
BUILTIN_DATE_FORMATS = frozenset(
    {14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 46, 47, *range(27, 37), *range(50, 59)}
)  # 27-36 and 50-58: the built-in date formats of Chinese Excel (yyyy年m月d日 ...), written without a format code
MAX_COLUMNS = 256  # an import sheet has fewer than 10; cells further right must be empty
MAX_CELL_CHARS = 32_767  # Excel's own limit for one cell
MAX_TEXT_CHARS = (
    40_000_000  # all cell and shared-string text of one upload (a 40,000-household file has ~12M)
)
MAX_SHARED_BYTES = 48 * 1024 * 1024  # the shared-string table as Python strings
MAX_DATE_SERIAL = 2_958_465  # 9999-12-31
MAX_ROW = 1_048_576
_REFERENCE = re.compile(r"^([A-Za-z]{1,3})([0-9]{1,7})$")
_DATE_CODE = re.compile(r"[dmyhs]", re.IGNORECASE)
_QUOTED = re.compile(r'"[^"]*"|\[[^\]]*\]')
EPOCH_1900 = datetime(1899, 12, 30)
EPOCH_1904 = datetime(1904, 1, 1)
NAMESPACES = (
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "http://purl.oclc.org/ooxml/spreadsheetml/main",
)
SHEET_TAGS = {f"{ns}\x01{tag}": tag for ns in NAMESPACES for tag in ("c", "v", "t", "f", "row")}


class XlsxError(ValueError):
    """The workbook's structure could not be read; `code` says why, `params` where."""

    def __init__(self, code: str = "damaged", **params):
        super().__init__(code)
        self.code = code
        self.params = params


READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    KeyError,
    IndexError,
    ValueError,
    OverflowError,
    RuntimeError,  # zipfile: "File is encrypted, password required for extraction"
    NotImplementedError,  # zipfile: an unsupported compression method
    expat.ExpatError,
)


class _Budget:
    """Characters of text read so far from one workbook, refused beyond MAX_TEXT_CHARS."""

    def __init__(self) -> None:
        self.chars = 0

    def take(self, count: int) -> None:
        """Count `count` more characters (XlsxError when over the limit)."""
        self.chars += count
        if self.chars > MAX_TEXT_CHARS:
            raise XlsxError("too_much_text", limit=MAX_TEXT_CHARS // 1_000_000)


def _local(name: str) -> str:
    return name.rsplit(":", 1)[-1]


def _forbid(*_args) -> None:
    raise XlsxError("entities")


def _parser(
    start: Callable | None = None,
    end: Callable | None = None,
    text: Callable | None = None,
    namespaces: bool = False,
) -> expat.XMLParserType:
    parser = expat.ParserCreate(namespace_separator="\x01") if namespaces else expat.ParserCreate()
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _forbid
    parser.EntityDeclHandler = _forbid
    parser.ExternalEntityRefHandler = _forbid
    if start:
        parser.StartElementHandler = start
    if end:
        parser.EndElementHandler = end
    if text:
        parser.CharacterDataHandler = text
    return parser


def _parse_member(archive: zipfile.ZipFile, name: str, parser: expat.XMLParserType) -> None:
    with archive.open(name) as stream:
        while chunk := stream.read(READ_CHUNK):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)


_LETTERS: dict[str, int] = {}


def column_index(reference: str) -> int:
    """0-based column index of a cell reference such as 'C12' (XlsxError for a malformed reference)."""
    letters = reference.rstrip("0123456789")
    index = _LETTERS.get(letters)
    if index is None:
        if not _REFERENCE.match(reference):
            raise XlsxError("bad_reference", cell=reference[:20])
        index = 0
        for char in letters.upper():
            index = index * 26 + ord(char) - 64
        index -= 1
        if len(_LETTERS) < 20_000:
            _LETTERS[letters] = index
    return index


class Workbook:
    """An open workbook: `sheets` lists (title, member path or None for a chart or dialog sheet); `rows(path)`
    streams one sheet."""

    def __init__(self, file):
        self.budget = _Budget()
        try:
            self.archive = zipfile.ZipFile(file)
            self.sheets, self.date1904 = self._sheets()
            self.shared = self._shared_strings()
            self.date_styles = self._date_styles()
        except XlsxError:
            raise
        except READ_ERRORS:
            raise XlsxError("damaged") from None

    def close(self) -> None:
        """Close the archive."""
        self.archive.close()

    def _sheets(self) -> tuple[list[tuple[str, str | None]], bool]:
        found: list[tuple[str, str]] = []
        flags = {"date1904": False}

        def start(name, attrs):
            tag = _local(name)
            if tag == "sheet":
                rel = next((v for k, v in attrs.items() if _local(k) == "id" and k != "sheetId"), None)
                found.append((attrs.get("name", ""), rel))
            elif tag == "workbookPr":
                flags["date1904"] = attrs.get("date1904") in ("1", "true")

        _parse_member(self.archive, "xl/workbook.xml", _parser(start))
        targets: dict[str, str] = {}

        def rel_start(name, attrs):
            if _local(name) == "Relationship" and attrs.get("Type", "").endswith("/worksheet"):
                target = attrs.get("Target", "")
                path = target.lstrip("/") if target.startswith("/") else posixpath.normpath("xl/" + target)
                targets[attrs.get("Id", "")] = path

        _parse_member(self.archive, "xl/_rels/workbook.xml.rels", _parser(rel_start))
        return [(title, targets.get(rel)) for title, rel in found], flags["date1904"]

    def _shared_strings(self) -> list[str]:
        if "xl/sharedStrings.xml" not in self.archive.namelist():
            return []
        strings: list[str] = []
        parts: list[str] = []
        state = {"t": False, "phonetic": 0, "bytes": 0, "chars": 0}
        budget = self.budget

        def start(name, _attrs):
            tag = _local(name)
            if tag == "si":
                parts.clear()
            elif tag == "t" and not state["phonetic"]:
                state["t"] = True
            elif tag == "rPh":
                state["phonetic"] += 1

        def end(name):
            tag = _local(name)
            if tag == "si":
                value = "".join(parts)
                state["bytes"] += sys.getsizeof(value) + 8
                if state["bytes"] > MAX_SHARED_BYTES:
                    raise XlsxError("too_many_strings", limit=MAX_SHARED_BYTES // (1024 * 1024))
                strings.append(value)
                state["chars"] = 0
            elif tag == "t":
                state["t"] = False
            elif tag == "rPh":
                state["phonetic"] -= 1

        def text(data):
            if state["t"]:
                state["chars"] += len(data)
                if state["chars"] > MAX_CELL_CHARS:
                    raise XlsxError("cell_too_long", cell="sharedStrings.xml", limit=MAX_CELL_CHARS)
                budget.take(len(data))
                parts.append(data)

        _parse_member(self.archive, "xl/sharedStrings.xml", _parser(start, end, text))
        return strings

    def _date_styles(self) -> frozenset[int]:
        if "xl/styles.xml" not in self.archive.namelist():
            return frozenset()
        custom: dict[int, str] = {}
        formats: list[int] = []
        state = {"xfs": False}

        def start(name, attrs):
            tag = _local(name)
            if tag == "numFmt":
                custom[int(attrs.get("numFmtId", "0"))] = attrs.get("formatCode", "")
            elif tag == "cellXfs":
                state["xfs"] = True
            elif tag == "xf" and state["xfs"]:
                formats.append(int(attrs.get("numFmtId", "0")))

        def end(name):
            if _local(name) == "cellXfs":
                state["xfs"] = False

        _parse_member(self.archive, "xl/styles.xml", _parser(start, end))

        def is_date(fmt_id: int) -> bool:
            if fmt_id in BUILTIN_DATE_FORMATS:
                return True
            code = _QUOTED.sub("", custom.get(fmt_id, ""))
            return bool(code) and bool(_DATE_CODE.search(code)) and "General" not in code

        return frozenset(i for i, fmt_id in enumerate(formats) if is_date(fmt_id))

    def rows(self, path: str) -> Iterator[tuple[int, tuple]]:
        """(row number, cell values) for every row of a sheet, empty rows included as ()."""
        done: list[tuple[int, tuple]] = []
        row: dict[int, object] = {}
        text: list[str] = []
        shared, date_styles, budget, value_of = self.shared, self.date_styles, self.budget, self._value
        epoch = EPOCH_1904 if self.date1904 else EPOCH_1900
        tags = SHEET_TAGS
        # the parser's state, as closure variables (the handlers run several times per cell)
        row_number = next_col = column = chars_read = 0
        capture = False
        kind = style = reference = value = formula = None

        def start(name, attrs):
            nonlocal row_number, next_col, column, chars_read, capture, kind, style, reference, value, formula
            tag = tags.get(name)
            if tag == "c":
                kind, style, reference = attrs.get("t", "n"), attrs.get("s"), attrs.get("r")
                column = column_index(reference) if reference else next_col
                value = formula = None
            elif tag in ("v", "t", "f"):
                capture = True
                chars_read = 0
                text.clear()
            elif tag == "row":
                row.clear()
                number = attrs.get("r")
                if number is not None and not (number.isdigit() and 0 < int(number) <= MAX_ROW):
                    raise XlsxError("bad_row", row=number[:20])
                row_number = int(number) if number else row_number + 1
                next_col = 0

        def end(name):
            nonlocal next_col, capture, value, formula
            tag = tags.get(name)
            if tag in ("v", "t"):
                value = (value or "") + "".join(text)
                capture = False
            elif tag == "c":
                found = value_of(kind, value, formula, style, reference, shared, date_styles, epoch)
                if found is not None and found != "":
                    if column >= MAX_COLUMNS:
                        raise XlsxError("too_wide", cell=(reference or "")[:20], limit=MAX_COLUMNS)
                    row[column] = found
                next_col = column + 1
            elif tag == "f":
                formula = "".join(text)
                capture = False
            elif tag == "row":
                done.append((row_number, tuple(map(row.get, range(max(row) + 1))) if row else ()))

        def chars(data):
            nonlocal chars_read
            if capture:
                chars_read += len(data)
                if chars_read > MAX_CELL_CHARS:
                    raise XlsxError("cell_too_long", cell=(reference or "")[:20], limit=MAX_CELL_CHARS)
                budget.take(len(data))
                text.append(data)

        parser = _parser(start, end, chars, namespaces=True)
        try:
            with self.archive.open(path) as stream:
                while chunk := stream.read(READ_CHUNK):
                    parser.Parse(chunk, False)
                    yield from done
                    done.clear()
                parser.Parse(b"", True)
        except XlsxError as e:
            e.params.setdefault("row", row_number)
            raise
        except READ_ERRORS:
            raise XlsxError("damaged", row=row_number) from None
        yield from done

    @staticmethod
    def _value(kind, raw, formula, style, reference, shared: list[str], date_styles: frozenset[int], epoch: datetime):
        if formula is not None:
            return "=" + formula
        if raw is None or raw == "":
            return None
        if kind == "s":
            if not raw.isdigit() or int(raw) >= len(shared):
                raise XlsxError("bad_shared_string", cell=(reference or "")[:20])
            return shared[int(raw)]
        if kind in ("inlineStr", "str", "e"):
            return raw
        if kind == "b":
            return raw == "1"
        if kind == "d":
            try:
                return datetime.fromisoformat(raw.strip().removesuffix("Z"))
            except ValueError:
                raise XlsxError("bad_date_cell", cell=(reference or "")[:20]) from None
        try:
            number = float(raw)
        except ValueError:
            raise XlsxError("bad_number", cell=(reference or "")[:20]) from None
        if (
            style is not None
            and style.isdigit()
            and int(style) in date_styles
            and 0 <= number <= MAX_DATE_SERIAL
        ):
            return epoch + timedelta(days=number)
        if number.is_integer() and "." not in raw and "E" not in raw.upper():
            return int(number)
        return number
