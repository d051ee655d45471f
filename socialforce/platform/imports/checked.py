"""Rows a preview checked, kept beside the upload so that the confirm of the same file reads and checks it once.

A preview reads every cell and applies every rule that depends only on the file (formats, resident IDs, in-file
duplicates, towns, categories); that is most of a large import's time. For the families that support it
(volunteers and payments: `Family.recheck`), a preview that finds no error writes each valid row's checked
values to `<token>.checked` (JSON lines, mode 0600 like the upload, deleted with it). The confirm, under the
import lock, uses them only when the key matches: the file's SHA-256, the user, their town, the day, the upload's
options and a digest of the reference data the row rules read (towns, assistance and service categories). It then
redoes every rule that depends on the database (`_resolve`: IDs already registered, households and their state,
payments recorded), so a change made since the preview is still seen. If that finds any error, the import falls
back to the full check of the file, whose report names the cells. Nothing is trusted that the database can have
changed, and JSON (not pickle) keeps the file data only.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.imports.uploads import private_file
from socialforce.platform.imports.validation import RowError, Validator
from socialforce.platform.models import AssistanceCategory, ServiceCategory, Town

VERSION = 1  # bump when a family's checked values change shape or meaning
Encoded = list  # one row: [sheet name, row number, [values...]]


def file_digest(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def _reference_digest() -> str:
    """A digest of the reference rows the row rules read (a renamed town or category changes it)."""
    digest = hashlib.sha256()
    for model, columns in (
        (Town, (Town.id, Town.code, Town.name_zh)),
        (AssistanceCategory, (AssistanceCategory.id, AssistanceCategory.code, AssistanceCategory.name_zh)),
        (
            ServiceCategory,
            (ServiceCategory.id, ServiceCategory.code, ServiceCategory.name_zh, ServiceCategory.volunteer_task),
        ),
    ):
        for row in db.session.execute(sa.select(*columns).order_by(columns[0])):
            digest.update(repr((model.__tablename__, tuple(row))).encode())
    return digest.hexdigest()


def key(check: Validator, data_path: Path, status: dict) -> str:
    """What the checked rows depend on besides the database: file, user, town, day, options, reference data."""
    parts = [
        VERSION,
        file_digest(data_path),
        check.user.id,
        check.own_town,
        check.today.isoformat(),
        status.get("format"),
        status.get("kind"),
        sorted((status.get("options") or {}).items()),
        _reference_digest(),
    ]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def path_of(data_path: Path) -> Path:
    """The checked-rows file beside an upload."""
    return data_path.with_suffix(".checked")


class Recorder:
    """Writes the checked rows while a preview runs (to a temporary file, kept only by `keep`)."""

    def __init__(self, data_path: Path, key: str):
        self.final = path_of(data_path)
        self.temporary = self.final.with_suffix(".checking")
        self.out = private_file(self.temporary)
        self._line({"key": key})

    def _line(self, value) -> None:
        self.out.write(json.dumps(value, ensure_ascii=False, default=_encode_date).encode("utf-8") + b"\n")

    def add(self, family: str, rows: list[Encoded]) -> None:
        """One batch of a family's checked rows."""
        if rows:
            self._line({"family": family, "rows": rows})

    def keep(self, read: dict[str, int], families: list[str]) -> None:
        """Close the file with the row counts and families, and make it the upload's checked rows."""
        self._line({"read": read, "families": families})
        self.out.close()
        os.replace(self.temporary, self.final)

    def drop(self) -> None:
        """Close and delete the file (the preview found errors or failed)."""
        self.out.close()
        self.temporary.unlink(missing_ok=True)


def _encode_date(value):
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def load(data_path: Path, expected: str) -> tuple[dict, Iterator[tuple[str, list[Encoded]]]] | None:
    """(footer, batches) of the upload's checked rows when their key matches, else None."""
    path = path_of(data_path)
    try:
        with path.open("rb") as stream:
            first = json.loads(stream.readline())
            stream.seek(0, os.SEEK_END)
            end = stream.tell()
            stream.seek(max(0, end - 64 * 1024))
            footer = json.loads(stream.read().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return None
    if first.get("key") != expected or "read" not in footer:
        return None

    def batches() -> Iterator[tuple[str, list[Encoded]]]:
        with path.open("rb") as stream:
            stream.readline()
            for line in stream:
                record = json.loads(line)
                if "family" in record:
                    yield record["family"], record["rows"]

    return footer, batches()


class CheckedRow:
    """A row back from the checked file: a failure marks the plan (the import then checks the file in full)."""

    __slots__ = ("check", "sheet", "number", "failed")

    def __init__(self, check: Validator, sheet: str, number: int):
        self.check, self.sheet, self.number = check, sheet, number
        self.failed: set[str] = set()

    def fail(self, key: str, code: str, **params) -> None:
        """Record an error on a column (its value is not kept here)."""
        if key not in self.failed:
            self.failed.add(key)
            self.check.plan.add_error(RowError(self.sheet, self.number, key, "", code, params))


Decode = Callable[[list], dict]


def rows_of(check: Validator, rows: list[Encoded], decode: Decode) -> list[tuple[CheckedRow, dict]]:
    """A batch of checked rows as (row, values) for a family's `_resolve`."""
    return [(CheckedRow(check, sheet, number), decode(values)) for sheet, number, values in rows]
