"""The corrections family: dated changes to households and members (move town, change category, leave assistance).

A correction is never a silent overwrite: the household's current state changes and a HouseholdChange row keeps
the old and new values, the day the change took effect and who recorded it (the household timeline shows them).
One change of a kind per household (or member) and day: the same correction imported again is skipped; a
different one on that day, or one dated before a later recorded change of its kind, is refused. A change of
category replaces the member's (or, without a member, every member's) enrollments by the new categories from
the effective date.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from socialforce.platform import crypto
from socialforce.platform.extensions import db
from socialforce.platform.imports import cells
from socialforce.platform.imports.rules import CHANGE_KINDS, CORRECTIONS
from socialforce.platform.imports.sheets import Table
from socialforce.platform.imports.validation import Plan, Progress, Validator, _Row, chunks, one_of
from socialforce.platform.models import (
    AssistanceCategory,
    Enrollment,
    Household,
    HouseholdChange,
    Member,
    Town,
    User,
    Village,
)
from socialforce.platform.services.dashboard import aggregates


def validate(check: Validator, tables: dict[str, list[Table]]) -> None:
    """Check every correction row against the household's current state and its recorded changes."""
    check.plan.rows.setdefault("corrections", [])
    rows: list[tuple[_Row, dict]] = []
    seen: set[tuple] = set()
    for sheet in tables.get("corrections", []):
        for row in check._rows(sheet, CORRECTIONS):
            change = row.text("change")
            kind = CHANGE_KINDS.get(change.lower() if change.isascii() else change)
            if change and kind is None and "change" not in row.failed:
                row.fail("change", "bad_change")
            number = row.id_number("member_id")
            values = {
                "code": row.text("household"),
                "kind": kind,
                "effective_on": row.parse("effective_on", cells.a_date, check.today),
                "hash": crypto.id_number_hash(number) if number else None,
                "reason": row.text("reason") or None,
                "town_id": None,
                "village_id": None,
                "categories": [],
            }
            if number and kind in ("move", "leave"):
                row.fail("member_id", "member_required_here")
            if kind == "move":
                _place(check, row, values)
            elif kind == "category":
                values["categories"] = check._categories(row)
                if not values["categories"] and "categories" not in row.failed:
                    row.fail("categories", "categories_required")
            key = (values["code"], values["hash"], kind)
            if kind and values["code"]:
                if key in seen:
                    row.fail("change", "duplicate_in_file")
                seen.add(key)
            rows.append((row, values))
    if rows:
        _resolve(check, rows)


def _place(check: Validator, row: _Row, values: dict) -> None:
    town, village = row.text("town"), row.text("village")
    if not town or not village:
        if not {"town", "village"} & row.failed:
            row.fail("town" if not town else "village", "move_target_required")
        return
    values["town_id"] = check.towns.get(town)
    if values["town_id"] is None:
        row.fail("town", "unknown_town")
        return
    if check.own_town and values["town_id"] != check.own_town:
        row.fail("town", "other_town")
    values["village_id"] = check.villages.get((values["town_id"], village))
    if values["village_id"] is None:
        row.fail("village", "unknown_village")


class _State:
    """The current state of the households the corrections name: place, leaving date, members and their changes."""

    def __init__(self, household_ids: list[int], hashes: list[str]):
        self.left: dict[int, date | None] = {}
        self.members: dict[int, list[int]] = {}
        self.member_of_hash: dict[str, tuple[int, int]] = {}  # ID hash -> (member id, household id)
        self.enrolled: dict[int, set[int]] = {}  # member id -> category ids
        self.changes: dict[tuple[int, int, str], list[tuple[date, str]]] = {}
        for chunk in chunks(household_ids):
            for hid, left_on in db.session.execute(
                sa.select(Household.id, Household.left_on).where(one_of(Household.id, chunk))
            ):
                self.left[hid] = left_on
            for mid, hid in db.session.execute(
                sa.select(Member.id, Member.household_id).where(one_of(Member.household_id, chunk)).order_by(Member.id)
            ):
                self.members.setdefault(hid, []).append(mid)
                self.enrolled.setdefault(mid, set())
            for mid, category_id in db.session.execute(
                sa.select(Enrollment.member_id, Enrollment.category_id)
                .join(Member, Member.id == Enrollment.member_id)
                .where(one_of(Member.household_id, chunk))
            ):
                self.enrolled[mid].add(category_id)
            query = sa.select(
                HouseholdChange.household_id,
                HouseholdChange.member_key,
                HouseholdChange.kind,
                HouseholdChange.effective_on,
                HouseholdChange.new_value,
            ).where(one_of(HouseholdChange.household_id, chunk))
            for hid, member_key, kind, effective_on, new_value in db.session.execute(query):
                self.changes.setdefault((hid, member_key, kind), []).append((effective_on, new_value))
        for chunk in chunks(hashes):
            query = sa.select(Member.id_number_hash, Member.id, Member.household_id).where(
                one_of(Member.id_number_hash, chunk)
            )
            self.member_of_hash.update({h: (mid, hid) for h, mid, hid in db.session.execute(query)})


def _names(names: dict[int, str], category_ids) -> str:
    return "、".join(names[cid] for cid in sorted(category_ids))


def _resolve(check: Validator, rows: list[tuple[_Row, dict]]) -> None:
    check._load_households(values["code"] for _, values in rows)
    household_ids = sorted({check.db_households[v["code"]][0] for _, v in rows if v["code"] in check.db_households})
    state = _State(household_ids, sorted({v["hash"] for _, v in rows if v["hash"]}))
    places = _place_names()
    categories = category_names()
    plan: Plan = check.plan
    for row, values in rows:
        if row.failed:
            continue
        found = check.db_households.get(values["code"])
        if found is None:
            row.fail("household", "household_not_in_db")
            continue
        household_id, town_id, village_id = found
        if check.own_town and town_id != check.own_town:
            row.fail("household", "other_town")
            continue
        member_id = 0
        if values["hash"]:
            member = state.member_of_hash.get(values["hash"])
            if member is None or member[1] != household_id:
                row.fail("member_id", "member_not_in_household")
                continue
            member_id = member[0]
        kind, effective_on = values["kind"], values["effective_on"]
        if kind == "move":
            old, new = places.get(village_id, ""), places.get(values["village_id"], "")
        elif kind == "category":
            targets = [member_id] if member_id else state.members.get(household_id, [])
            old = _names(categories, set().union(*(state.enrolled.get(m, set()) for m in targets)))
            new = _names(categories, values["categories"])
        else:
            old, new = "", effective_on.isoformat()
        recorded = state.changes.get((household_id, member_id, kind), [])
        same_day = [value for day, value in recorded if day == effective_on]
        if same_day:
            if same_day[0] == new:
                plan.existing["corrections"] += 1
            else:
                row.fail("change", "change_conflict")
            continue
        later = max((day for day, _value in recorded if day > effective_on), default=None)
        if later is not None:
            row.fail("effective_on", "later_change", date=later.isoformat())
            continue
        if kind == "leave" and state.left.get(household_id) is not None:
            row.fail("change", "already_left", date=state.left[household_id].isoformat())
            continue
        if kind == "move" and values["village_id"] == village_id:
            row.fail("village", "same_place")
            continue
        if kind == "category" and old == new:
            plan.existing["corrections"] += 1
            continue
        plan.rows["corrections"].append(
            {
                "household_id": household_id,
                "member_id": member_id or None,
                "member_key": member_id,
                "kind": kind,
                "effective_on": effective_on,
                "old_value": old[:300],
                "new_value": new[:300],
                "reason": values["reason"],
                "town_id": values["town_id"],
                "village_id": values["village_id"],
                "categories": values["categories"],
                "targets": ([member_id] if member_id else state.members.get(household_id, []))
                if kind == "category"
                else [],
            }
        )


def _place_names() -> dict[int, str]:
    """Village id -> "town village" (what a move's old and new values say)."""
    query = sa.select(Village.id, Town.name_zh, Village.name).join(Town, Town.id == Village.town_id)
    return {vid: f"{town} {village}" for vid, town, village in db.session.execute(query)}


def write(plan: Plan, check: Validator, user: User, now: datetime, progress: Progress) -> dict[str, int]:
    """Apply each change to the current state and record it as a dated HouseholdChange."""
    changes = plan.rows.get("corrections", [])
    for done, change in enumerate(changes, start=1):
        household = sa.update(Household).where(Household.id == change["household_id"])
        if change["kind"] == "move":
            db.session.execute(household.values(town_id=change["town_id"], village_id=change["village_id"]))
            aggregates.mark_stale(aggregates.household_days([change["household_id"]]))  # figures by town
        elif change["kind"] == "leave":
            db.session.execute(household.values(left_on=change["effective_on"]))
        else:
            for member_id in change["targets"]:
                db.session.execute(
                    sa.delete(Enrollment).where(
                        Enrollment.member_id == member_id, Enrollment.category_id.not_in(change["categories"])
                    )
                )
                have = set(
                    db.session.scalars(sa.select(Enrollment.category_id).where(Enrollment.member_id == member_id))
                )
                missing = [c for c in change["categories"] if c not in have]
                if missing:
                    db.session.execute(
                        sa.insert(Enrollment),
                        [{"member_id": member_id, "category_id": c, "since": change["effective_on"]} for c in missing],
                    )
        db.session.execute(
            sa.insert(HouseholdChange),
            {
                "household_id": change["household_id"],
                "member_id": change["member_id"],
                "member_key": change["member_key"],
                "kind": change["kind"],
                "effective_on": change["effective_on"],
                "old_value": change["old_value"],
                "new_value": change["new_value"],
                "reason": change["reason"],
                "created_by_id": user.id,
                "created_at": now,
            },
        )
        progress("write_corrections", done, len(changes))
    return {"corrections": len(changes)}


def category_names() -> dict[int, str]:
    """Assistance category id -> Chinese name."""
    return dict(db.session.execute(sa.select(AssistanceCategory.id, AssistanceCategory.name_zh)).tuples().all())
