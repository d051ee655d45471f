"""The payments family: monthly material-assistance payments (物质救助发放) per household, month and category.

A row names its household by number or by the head's ID number. Refused: a month in the future, a household
that left assistance on or before the first day of the month, the same (household, month, category) twice in
the file, and a different amount for a payment already recorded (corrected in the system, never by import). The
same payment already recorded is skipped, so re-importing a file adds nothing (the table's unique key holds it
too). Rows are checked in batches with chunked lookups, and written in chunks, so 480,000 rows stay cheap.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import NamedTuple

import sqlalchemy as sa

from socialforce.platform import crypto
from socialforce.platform.extensions import db
from socialforce.platform.imports import cells, checked
from socialforce.platform.imports.rules import PAYMENTS
from socialforce.platform.imports.sheets import Table
from socialforce.platform.imports.validation import Plan, Progress, Validator, _Row, chunks, one_of
from socialforce.platform.imports.writing import CHUNK_ROWS, insert_rows
from socialforce.platform.models import Household, MaterialAssistance, Member, User

BATCH = 5000
HEAD = "户主"


class Payment(NamedTuple):
    household_id: int
    category_id: int
    month: date
    amount_cents: int
    in_kind: str | None


class _Lookups:
    """What the batches learn from the database, kept for the next batches (each key is asked once)."""

    def __init__(self) -> None:
        self.heads: dict[str, tuple[int, bool]] = {}  # ID hash -> (household id, is the head)
        self.households: dict[int, tuple[int, date | None]] = {}  # id -> (town id, left assistance on)
        self.paid: dict[tuple[int, date, int], int] = {}  # (household, month, category) -> cents recorded
        self.paid_loaded: set[int] = set()

    def load(self, check: Validator, batch: list[tuple[_Row, dict]]) -> None:
        """Fetch the batch's households (by number), heads (by ID hash), households' states and payments."""
        check._load_households(values["code"] for _, values in batch if values["code"])
        wanted = sorted({values["hash"] for _, values in batch if values["hash"]} - self.heads.keys())
        for chunk in chunks(wanted):
            query = sa.select(Member.id_number_hash, Member.household_id, Member.relation).where(
                one_of(Member.id_number_hash, chunk)
            )
            self.heads.update({h: (hid, relation == HEAD) for h, hid, relation in db.session.execute(query)})
        ids = {check.db_households[v["code"]][0] for _, v in batch if v["code"] in check.db_households}
        ids |= {self.heads[v["hash"]][0] for _, v in batch if v["hash"] in self.heads}
        for chunk in chunks(sorted(ids - self.households.keys())):
            query = sa.select(Household.id, Household.town_id, Household.left_on).where(one_of(Household.id, chunk))
            self.households.update({hid: (town, left) for hid, town, left in db.session.execute(query)})
        for chunk in chunks(sorted(ids - self.paid_loaded)):
            query = sa.select(
                MaterialAssistance.household_id,
                MaterialAssistance.month,
                MaterialAssistance.category_id,
                MaterialAssistance.amount_cents,
            ).where(one_of(MaterialAssistance.household_id, chunk))
            self.paid.update({(hid, month, cat): cents for hid, month, cat, cents in db.session.execute(query)})
            self.paid_loaded.update(chunk)


def validate(check: Validator, tables: dict[str, list[Table]]) -> None:
    """Check every payment row; new payments go to plan.rows["payments"]."""
    check.plan.rows.setdefault("payments", [])
    lookups = _Lookups()
    seen: set[tuple[int, date, int]] = set()
    batch: list[tuple[_Row, dict]] = []
    for sheet in tables.get("payments", []):
        for row in check._rows(sheet, PAYMENTS):
            number = row.id_number("head_id")
            category = row.text("category")
            category_id = check.assistance.get(category)
            if category and category_id is None and "category" not in row.failed:
                row.fail("category", "unknown_category", name=category[:20])
            values = {
                "month": row.parse("month", cells.a_month, check.today),
                "code": row.text("household"),
                "hash": crypto.id_number_hash(number) if number else None,
                "category_id": category_id,
                "amount": None,
                "in_kind": row.text("in_kind") or None,
            }
            if row.text("amount") and "amount" not in row.failed:
                try:
                    values["amount"] = cells.amount_cents(row.raw("amount"), row.text("amount"))
                except cells.CellError as e:
                    row.fail("amount", e.code)
            if not values["code"] and not number and not {"household", "head_id"} & row.failed:
                row.fail("household", "household_or_head_required")
            if not row.failed:
                batch.append((row, values))
            if len(batch) >= BATCH:
                _resolve(check, lookups, seen, batch)
                check.record("payments", batch, _encode)
                batch = []
    _resolve(check, lookups, seen, batch)
    check.record("payments", batch, _encode)


_FIELDS = ("month", "code", "hash", "category_id", "amount", "in_kind")


def _encode(values: dict) -> list:
    return [values[name] for name in _FIELDS]


def _decode(values: list) -> dict:
    found = dict(zip(_FIELDS, values, strict=True))
    found["month"] = date.fromisoformat(found["month"])
    return found


def recheck(check: Validator, batches: Iterable[list[checked.Encoded]]) -> None:
    """Plan the rows a preview checked again against the database only (see imports/checked.py)."""
    check.plan.rows.setdefault("payments", [])
    lookups = _Lookups()
    seen: set[tuple[int, date, int]] = set()
    done = 0
    for rows in batches:
        _resolve(check, lookups, seen, checked.rows_of(check, rows, _decode))
        done += len(rows)
        check.progress("validate_payments", done, 0)


def _household(check: Validator, lookups: _Lookups, row: _Row, values: dict) -> int | None:
    """The payment's household id from its number or its head's ID (both given: they must agree)."""
    by_code = by_head = None
    if values["code"]:
        found = check.db_households.get(values["code"])
        if found is None:
            row.fail("household", "household_not_in_db")
            return None
        by_code = found[0]
    if values["hash"]:
        head = lookups.heads.get(values["hash"])
        if head is None or not head[1]:
            row.fail("head_id", "head_not_found")
            return None
        by_head = head[0]
    if by_code is not None and by_head is not None and by_code != by_head:
        row.fail("head_id", "head_other_household")
        return None
    return by_code if by_code is not None else by_head


def _resolve(check: Validator, lookups: _Lookups, seen: set, batch: list[tuple[_Row, dict]]) -> None:
    if not batch:
        return
    lookups.load(check, batch)
    plan: Plan = check.plan
    for row, values in batch:
        household_id = _household(check, lookups, row, values)
        if household_id is None:
            continue
        town_id, left_on = lookups.households[household_id]
        if check.own_town and town_id != check.own_town:
            row.fail("household", "other_town")
            continue
        if left_on is not None and left_on <= values["month"]:
            row.fail("month", "household_left", date=left_on.isoformat())
            continue
        key = (household_id, values["month"], values["category_id"])
        if key in seen:
            row.fail("month", "duplicate_in_file")
            continue
        seen.add(key)
        recorded = lookups.paid.get(key)
        if recorded is None:
            plan.rows["payments"].append(
                Payment(household_id, values["category_id"], values["month"], values["amount"], values["in_kind"])
            )
        elif recorded == values["amount"]:
            plan.existing["payments"] += 1
        else:
            row.fail("amount", "payment_conflict", amount=f"{recorded / 100:.2f}")


def write(plan: Plan, check: Validator, user: User, now: datetime, progress: Progress) -> dict[str, int]:
    """Insert the new payments in chunks."""
    payments: list[Payment] = plan.rows.get("payments", [])
    table = MaterialAssistance.__table__
    for start in range(0, len(payments), CHUNK_ROWS):
        insert_rows(table, [p._asdict() for p in payments[start : start + CHUNK_ROWS]])
        progress("write_payments", min(start + CHUNK_ROWS, len(payments)), len(payments))
    return {"payments": len(payments)}
