"""Validating every row of an import against the rules and the database, before anything is written."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from socialforce.platform import crypto
from socialforce.platform.extensions import db
from socialforce.platform.imports import cells
from socialforce.platform.imports.cells import CellError
from socialforce.platform.imports.rules import HOUSEHOLDS, ITEMS, KINDS, MEMBERS, Kind
from socialforce.platform.imports.sheets import Table
from socialforce.platform.models import (
    AssistanceCategory,
    Household,
    Member,
    Role,
    ServiceCategory,
    ServiceItem,
    Town,
    User,
    Village,
)

LOOKUP_CHUNK = 900  # values of one IN lookup on SQLite
ARRAY_CHUNK = 10_000  # values of one = ANY lookup on PostgreSQL (one parameter)
MAX_ERRORS = 5000  # errors kept and shown; every error is counted
Progress = Callable[[str, int, int], None]


@dataclass
class RowError:
    sheet: str
    row: int
    column: str
    value: str
    code: str
    params: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """A JSON-ready copy (the value is already masked)."""
        return {
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "code": self.code,
            "params": self.params,
        }


def _per_kind() -> dict[str, int]:
    return dict.fromkeys(KINDS, 0)


@dataclass
class Plan:
    """What an import would write, what it would skip as already present, and every error found.

    Households, members and items keep their own lists; the other families put their new rows in `rows` and
    their changes to existing rows in `changes`, by kind (what each holds is its family module's business).
    """

    households: list[dict] = field(default_factory=list)
    members: list[dict] = field(default_factory=list)
    items: list[dict] = field(default_factory=list)
    rows: dict[str, list] = field(default_factory=dict)
    changes: dict[str, list] = field(default_factory=dict)
    read: dict[str, int] = field(default_factory=_per_kind)
    existing: dict[str, int] = field(default_factory=_per_kind)
    errors: list[RowError] = field(default_factory=list)
    error_total: int = 0
    sheets: list[dict] = field(default_factory=list)  # what happens to each sheet of the file
    kinds: list[str] = field(default_factory=lambda: ["households", "members", "items"])  # the upload's kinds

    def add_error(self, error: RowError) -> None:
        """Count an error; only the first MAX_ERRORS are kept (the report is capped, memory too)."""
        self.error_total += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(error)

    @property
    def new(self) -> dict[str, int]:
        """New rows per kind."""
        counts = {key: len(self.rows.get(key, ())) for key in KINDS}
        counts.update(households=len(self.households), members=len(self.members), items=len(self.items))
        return counts

    @property
    def updated(self) -> dict[str, int]:
        """Existing rows each kind would change (volunteers found by their ID are updated, not duplicated)."""
        return {key: len(self.changes.get(key, ())) for key in KINDS}


class _Row:
    """One data row being checked: reads its cells by column key and collects its errors."""

    def __init__(
        self, check: Validator, sheet: Table, kind: Kind, number: int, values: tuple, index: dict[str, int]
    ):
        self.check, self.sheet, self.kind, self.number = check, sheet, kind, number
        self.values, self.index = values, index
        self.failed: set[str] = set()

    def raw(self, key: str):
        position = self.index.get(key)
        return self.values[position] if position is not None and position < len(self.values) else None

    def fail(self, key: str, code: str, **params) -> None:
        """Record an error on a column (at most one per column)."""
        if key in self.failed:
            return
        self.failed.add(key)
        column = self.kind.column(key)
        shown = cells.mask_value(cells.text(self.raw(key)), column.mask or "")
        self.check.plan.add_error(RowError(self.sheet.name, self.number, column.header, shown, code, params))

    def text(self, key: str) -> str:
        """A cell's text after the formula, required and length rules ('' when it failed)."""
        column = self.kind.by_key[key]
        position = self.index.get(key)
        value = self.values[position] if position is not None and position < len(self.values) else None
        raw = value.strip() if isinstance(value, str) else cells.text(value)
        if not raw:
            if column.required:
                self.fail(key, "required")
            return ""
        if raw[0] in cells.FORMULA_TRIGGERS and not isinstance(value, int | float):  # -5 in a number cell
            self.fail(key, "formula")
            return ""
        if column.max_length and len(raw) > column.max_length:
            self.fail(key, "too_long", max=column.max_length)
            return ""
        return raw

    def parse(self, key: str, parser: Callable, *args, default=None):
        """A cell parsed by `parser(raw, *args)`; `default` when empty or failed."""
        raw = self.text(key)
        if not raw or key in self.failed:
            return default
        try:
            return parser(raw, *args)
        except CellError as e:
            self.fail(key, e.code, **e.params)
            return default

    def id_number(self, key: str) -> str | None:
        """A valid resident ID from a cell, refusing number-typed cells."""
        value = self.raw(key)
        raw = cells.text(value)
        if isinstance(value, str) or value is None:
            if self.text(key) == "" or key in self.failed:
                return None
        try:
            return cells.id_number(value, raw, self.check.from_csv, self.check.today)
        except CellError as e:
            self.fail(key, e.code, **e.params)
            return None


def _postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def chunks(values: list) -> Iterable[list]:
    """`values` in lists for `one_of` lookups: LOOKUP_CHUNK on SQLite (bound parameters), ARRAY_CHUNK on PostgreSQL."""
    size = ARRAY_CHUNK if _postgresql() else LOOKUP_CHUNK
    for start in range(0, len(values), size):
        yield values[start : start + size]


def one_of(column: sa.ColumnElement, values: list) -> sa.ColumnElement[bool]:
    """`column IN values`; on PostgreSQL `= ANY` of one array parameter, so the SQL stays short and is cached."""
    if _postgresql():
        return column == sa.any_(sa.bindparam(None, values, type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


class Validator:
    """Checks households, then members, then service items, building a Plan (nothing is written)."""

    def __init__(
        self,
        user: User,
        today: date,
        from_csv: bool,
        progress: Progress | None = None,
        options: dict | None = None,
    ):
        self.user, self.today, self.from_csv = user, today, from_csv
        self.options = options or {}  # choices made at upload, e.g. volunteer_status
        self.families: list = []  # the import families the upload holds (imports/families.py)
        self.progress = progress or (lambda stage, done, total: None)
        self.plan = Plan()
        self.own_town = user.town_id if user.role == Role.town_staff else None
        self.towns: dict[str, int] = {}  # the user's county's towns: another county's read as unknown
        for town in db.session.scalars(sa.select(Town).where(Town.county_id == (user.county_id or -1))):
            self.towns[town.name_zh] = self.towns[town.code] = town.id
        self.town_ids = frozenset(self.towns.values())
        self.villages = {(v.town_id, v.name): v.id for v in db.session.scalars(
            sa.select(Village).where(Village.town_id.in_(self.town_ids)))}
        self.assistance = self._names(AssistanceCategory)
        self.services = self._names(ServiceCategory)
        self.file_households: dict[str, int | None] = {}  # code -> town id (None when unknown)
        self.file_members: dict[str, set[str]] = {}  # household code -> member ID hashes
        self.db_households: dict[str, tuple[int, int, int]] = {}  # code -> (id, town id, village id)
        self.db_members: dict[str, int] = {}  # ID hash -> household id
        self.recorder = None  # an imports.checked.Recorder while a preview keeps its checked rows

    def record(self, family: str, batch: list[tuple[_Row, dict]], encode: Callable[[dict], list]) -> None:
        """Keep a batch of valid rows' checked values for the confirm (when a preview records them)."""
        if self.recorder is not None and batch:
            self.recorder.add(family, [[row.sheet.name, row.number, encode(values)] for row, values in batch])

    @staticmethod
    def _names(model) -> dict[str, int]:
        found: dict[str, int] = {}
        for row in db.session.scalars(sa.select(model)):
            found[row.name_zh] = found[row.code] = row.id
        return found

    def _load_households(self, codes: Iterable[str]) -> None:
        wanted = sorted({c for c in codes if c and c not in self.db_households})
        for chunk in chunks(wanted):
            query = sa.select(Household.code, Household.id, Household.town_id, Household.village_id)
            for code, hid, town_id, village_id in db.session.execute(query.where(one_of(Household.code, chunk))):
                self.db_households[code] = (hid, town_id, village_id)

    def _load_members(self, hashes: Iterable[str]) -> None:
        wanted = sorted({h for h in hashes if h not in self.db_members})
        for chunk in chunks(wanted):
            query = sa.select(Member.id_number_hash, Member.household_id).where(
                one_of(Member.id_number_hash, chunk)
            )
            self.db_members.update(dict(db.session.execute(query).all()))

    def _rows(self, sheet: Table, kind: Kind) -> Iterable[_Row]:
        """The sheet's non-empty data rows as _Row (a missing required column is an error and yields none)."""
        index = {}
        for c in kind.columns:
            found = next((h for h in (c.header, *c.aliases) if h in sheet.header), None)
            if found is not None:
                index[c.key] = sheet.header.index(found)
        missing = [c for c in kind.columns if c.required and c.key not in index]
        for column in missing:
            self.plan.add_error(RowError(sheet.name, sheet.header_row, column.header, "", "missing_column"))
        if missing:
            return
        positions = list(index.values())  # a row keeps only its kind's columns, however wide the sheet
        compact = {key: i for i, key in enumerate(index)}
        for number, values in sheet.rows:
            if not values or (
                values[0] in (None, "") and all(v is None or str(v).strip() == "" for v in values)
            ):
                continue
            self.plan.read[kind.key] += 1
            if self.plan.read[kind.key] % 5000 == 0:
                self.progress("validate_" + kind.key, self.plan.read[kind.key], 0)
            kept = tuple(values[p] if p < len(values) else None for p in positions)
            yield _Row(self, sheet, kind, number, kept, compact)

    def _household_of(self, row: _Row) -> tuple[str, int | None]:
        """The row's household code and, when it is already in the database, its id (errors recorded)."""
        code = row.text("household")
        if not code or "household" in row.failed:
            return code, None
        if code in self.file_households:
            town_id = self.file_households[code]
            if self.own_town and town_id is not None and town_id != self.own_town:
                row.fail("household", "other_town")
            existing = self.db_households.get(code)
            return code, existing[0] if existing else None
        existing = self.db_households.get(code)
        if existing is None or existing[1] not in self.town_ids:  # another county's household: as if missing
            row.fail("household", "household_missing")
            return code, None
        if self.own_town and existing[1] != self.own_town:
            row.fail("household", "other_town")
        return code, existing[0]

    def households(self, sheets: list[Table]) -> None:
        """Check household rows; existing household numbers (same town and village) are skipped."""
        pending: list[tuple[_Row, dict]] = []
        for sheet in sheets:
            for row in self._rows(sheet, HOUSEHOLDS):
                code = row.text("code")
                town_id = self.towns.get(row.text("town"))
                if town_id is None and "town" not in row.failed:
                    row.fail("town", "unknown_town")
                village_id = None
                village = row.text("village")
                if town_id is not None and village:
                    village_id = self.villages.get((town_id, village))
                    if village_id is None:
                        row.fail("village", "unknown_village")
                values = {
                    "code": code,
                    "town_id": town_id,
                    "village_id": village_id,
                    "head_name": row.text("head_name"),
                    "address": row.text("address"),
                    "phone": row.parse("phone", cells.phone),
                }
                if self.own_town and town_id is not None and town_id != self.own_town:
                    row.fail("town", "other_town")
                if code and code in self.file_households:
                    row.fail("code", "duplicate_in_file")
                elif code:
                    self.file_households[code] = town_id
                if not row.failed:
                    pending.append((row, values))
        self._load_households(self.file_households)
        for row, values in pending:
            existing = self.db_households.get(values["code"])
            if existing is None:
                self.plan.households.append(values)
            elif existing[1:] != (values["town_id"], values["village_id"]):
                row.fail("code", "household_conflict")
            else:
                self.plan.existing["households"] += 1

    def members(self, sheets: list[Table]) -> None:
        """Check member rows; a member whose ID is already in the same household is skipped."""
        rows: list[tuple[_Row, dict]] = []
        seen: set[str] = set()
        for sheet in sheets:
            for row in self._rows(sheet, MEMBERS):
                number = row.id_number("id_number")
                values = {
                    "household": row.text("household"),
                    "name": row.text("name"),
                    "relation": row.parse("relation", cells.relation),
                    "disability_grade": 0,
                    "categories": self._categories(row),
                    "since": row.parse("since", cells.a_date, self.today, default=self.today),
                    "health_notes": row.text("health") or None,
                    "number": number,
                }
                if "disability" not in row.failed:
                    try:
                        values["disability_grade"] = cells.disability_grade(
                            row.raw("disability"), row.text("disability")
                        )
                    except CellError as e:
                        row.fail("disability", e.code)
                if number:
                    values["hash"] = crypto.id_number_hash(number)
                    if values["hash"] in seen:
                        row.fail("id_number", "duplicate_in_file")
                    seen.add(values["hash"])
                    if values["household"]:
                        self.file_members.setdefault(values["household"], set()).add(values["hash"])
                rows.append((row, values))
        self._load_households(values["household"] for _, values in rows)
        self._load_members(values["hash"] for _, values in rows if values["number"])
        for row, values in rows:
            _, household_id = self._household_of(row)
            if values["number"] and "id_number" not in row.failed and values["hash"] in self.db_members:
                if household_id is None or self.db_members[values["hash"]] != household_id:
                    row.fail("id_number", "id_registered_elsewhere")
                elif not row.failed:
                    self.plan.existing["members"] += 1
                    continue
            if not row.failed:
                self.plan.members.append(values)

    def _categories(self, row: _Row) -> list[int]:
        found = []
        for name in cells.names_list(row.text("categories")):
            category_id = self.assistance.get(name)
            if category_id is None:
                row.fail("categories", "unknown_category", name=name[:20])
                return []
            if category_id not in found:
                found.append(category_id)
        return found

    def items(self, sheets: list[Table]) -> None:
        """Check service-item rows; an item identical to one the household already has is skipped."""
        rows: list[tuple[_Row, dict]] = []
        for sheet in sheets:
            for row in self._rows(sheet, ITEMS):
                number = row.id_number("member_id")
                category = row.text("category")
                category_id = self.services.get(category)
                if category_id is None and category:
                    row.fail("category", "unknown_service_category")
                values = {
                    "household": row.text("household"),
                    "number": number,
                    "hash": crypto.id_number_hash(number) if number else None,
                    "category_id": category_id,
                    "description": row.text("description"),
                    "priority": row.parse(
                        "priority", cells.choice, cells.PRIORITIES, "bad_priority", default="normal"
                    ),
                    "frequency": row.parse(
                        "frequency", cells.choice, cells.FREQUENCIES, "bad_frequency", default="once"
                    ),
                    "windows": row.parse("windows", cells.windows, default=None),
                }
                if values["windows"] is None and "windows" not in row.failed:
                    values["windows"] = cells.windows("")
                rows.append((row, values))
        self._load_households(values["household"] for _, values in rows)
        self._load_members(values["hash"] for _, values in rows if values["hash"])
        existing = self._existing_items(
            {self.db_households[v["household"]][0] for _, v in rows if v["household"] in self.db_households}
        )
        seen: set[tuple] = set()
        for row, values in rows:
            code, household_id = self._household_of(row)
            member_hash = values["hash"]
            if member_hash and "household" not in row.failed and "member_id" not in row.failed:
                in_file = member_hash in self.file_members.get(code, ())
                in_db = household_id is not None and self.db_members.get(member_hash) == household_id
                if not (in_file or in_db):
                    row.fail("member_id", "member_not_in_household")
            key = (code, member_hash, values["category_id"], values["description"])
            if not row.failed:
                if key in seen:
                    row.fail("description", "duplicate_in_file")
                    continue
                seen.add(key)
                db_key = (household_id, member_hash, values["category_id"], values["description"])
                if household_id is not None and db_key in existing:
                    self.plan.existing["items"] += 1
                else:
                    self.plan.items.append(values)

    def _existing_items(self, household_ids: set[int]) -> set[tuple]:
        found: set[tuple] = set()
        for chunk in chunks(sorted(household_ids)):
            query = (
                sa.select(
                    ServiceItem.household_id,
                    Member.id_number_hash,
                    ServiceItem.category_id,
                    ServiceItem.description,
                )
                .outerjoin(Member, Member.id == ServiceItem.member_id)
                .where(one_of(ServiceItem.household_id, chunk))
            )
            found.update(tuple(r) for r in db.session.execute(query))
        return found
