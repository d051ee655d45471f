"""The volunteers family: volunteers as exported by the national volunteer service information system.

Rows are checked in batches (BATCH rows, then one chunked lookup of the batch's IDs and volunteer numbers), so
memory holds the plan, not every row of a 259,600-row file. A volunteer whose ID (keyed hash of the canonical
form) is already registered is updated (volunteer number, registration date, imported hours, organisation; skills
only when they had none), never duplicated; new volunteers get the status staff chose at upload and no login
(they claim their record through the public sign-up, whose same-ID referral reaches their town staff).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import NamedTuple

import sqlalchemy as sa

from socialforce.platform import crypto, idnumber
from socialforce.platform.extensions import db
from socialforce.platform.imports import cells, checked
from socialforce.platform.imports.rules import ID_TYPES, INTENTION_SYNONYMS, VOLUNTEERS
from socialforce.platform.imports.sheets import Table
from socialforce.platform.imports.validation import Plan, Progress, Validator, _Row, chunks, one_of
from socialforce.platform.imports.writing import CHUNK_ROWS, insert_rows, new_ids
from socialforce.platform.models import Provider, ServiceCategory, Town, User, Volunteer

BATCH = 5000
RADIUS_KM = 5.0  # as the public sign-up
_OTHER_ID = re.compile(r"^[A-Z0-9()\-]{4,30}$")


class NewVolunteer(NamedTuple):
    name: str
    number: str
    id_type: str | None
    hash: str
    phone: str
    national_no: str
    registered_on: object
    hours: float
    organisation: str | None
    skills: str
    town_id: int


def _skill_words() -> dict[str, str]:
    """Words that name a volunteer-task category: its Chinese name, its code and the national system's synonyms."""
    tasks = dict(
        db.session.execute(
            sa.select(ServiceCategory.code, ServiceCategory.name_zh).where(ServiceCategory.volunteer_task)
        ).tuples().all()
    )
    words = {word: code for word, code in INTENTION_SYNONYMS.items() if code in tasks}
    for code, name in tasks.items():
        words[name] = words[code] = code
    return words


def _town(check: Validator, row: _Row, names: list[tuple[str, int]]) -> int | None:
    """The row's town: a name or code, or a region text that contains one town's name; town staff's own if empty."""
    raw = row.text("town")
    if "town" in row.failed:
        return None
    if not raw:
        if check.own_town:
            return check.own_town
        row.fail("town", "town_required")
        return None
    town_id = check.towns.get(raw)
    if town_id is None:
        found = {tid for name, tid in names if name in raw}
        town_id = found.pop() if len(found) == 1 else None
    if town_id is None:
        row.fail("town", "unknown_town")
    elif check.own_town and town_id != check.own_town:
        row.fail("town", "other_town")
    return town_id


def _id(row: _Row, hash_of: Callable[[str], str]) -> tuple[str | None, str | None, str | None]:
    """(number, id_type, lookup hash): a resident ID checked as every resident ID, another document kept as given."""
    word = row.text("id_type")
    if "id_type" in row.failed:
        return None, None, None
    if word not in ID_TYPES:
        row.fail("id_type", "bad_id_type")
        return None, None, None
    id_type = ID_TYPES[word]
    if id_type is None:
        number = row.id_number("id_number")
        return (number, None, hash_of(number)) if number else (None, None, None)  # already canonical
    raw = row.text("id_number")
    if not raw or "id_number" in row.failed:
        return None, None, None
    number = idnumber.canonical(raw)
    if not _OTHER_ID.match(number):
        row.fail("id_number", "bad_id_other")
        return None, None, None
    return number, id_type, hash_of(f"{id_type}:{number}")


def validate(check: Validator, tables: dict[str, list[Table]]) -> None:
    """Check every volunteer row; new ones go to plan.rows, changed existing ones to plan.changes."""
    plan = check.plan
    plan.rows.setdefault("volunteers", [])
    plan.changes.setdefault("volunteers", [])
    skill_words = _skill_words()
    names = [(t.name_zh, t.id) for t in db.session.scalars(sa.select(Town))]
    hash_of = crypto.lookup_hasher()
    seen_hashes: set[str] = set()
    seen_numbers: set[str] = set()
    batch: list[tuple[_Row, dict]] = []
    for sheet in tables.get("volunteers", []):
        for row in check._rows(sheet, VOLUNTEERS):
            number, id_type, id_hash = _id(row, hash_of)
            values = {
                "name": row.text("name"),
                "number": number,
                "id_type": id_type,
                "hash": id_hash,
                "phone": row.parse("phone", cells.phone),
                "national_no": row.text("national_no"),
                "registered_on": row.parse(
                    "registered_on", lambda raw: cells.a_date(cells.date_part(raw), check.today)
                ),
                "hours": 0.0,
                "organisation": row.text("organisation") or None,
                "skills": " ".join(
                    sorted({skill_words[w] for w in cells.names_list(row.text("intentions")) if w in skill_words})
                ),
                "town_id": _town(check, row, names),
            }
            if row.text("hours") and "hours" not in row.failed:
                try:
                    values["hours"] = cells.hours(row.raw("hours"), row.text("hours"))
                except cells.CellError as e:
                    row.fail("hours", e.code)
            if id_hash:
                if id_hash in seen_hashes:
                    row.fail("id_number", "duplicate_in_file")
                seen_hashes.add(id_hash)
            if values["national_no"]:
                if values["national_no"] in seen_numbers:
                    row.fail("national_no", "duplicate_in_file")
                seen_numbers.add(values["national_no"])
            if not row.failed:
                batch.append((row, values))
            if len(batch) >= BATCH:
                _resolve(check, batch)
                check.record("volunteers", batch, _encode)
                batch = []
    _resolve(check, batch)
    check.record("volunteers", batch, _encode)


def _encode(values: dict) -> list:
    return [values[name] for name in NewVolunteer._fields]


def _decode(values: list) -> dict:
    found = dict(zip(NewVolunteer._fields, values, strict=True))
    if found["registered_on"] is not None:
        found["registered_on"] = date.fromisoformat(found["registered_on"])
    return found


def recheck(check: Validator, batches: Iterable[list[checked.Encoded]]) -> None:
    """Plan the rows a preview checked again against the database only (see imports/checked.py)."""
    check.plan.rows.setdefault("volunteers", [])
    check.plan.changes.setdefault("volunteers", [])
    done = 0
    for rows in batches:
        _resolve(check, checked.rows_of(check, rows, _decode))
        done += len(rows)
        check.progress("validate_volunteers", done, 0)


def _resolve(check: Validator, batch: list[tuple[_Row, dict]]) -> None:
    """Look the batch's IDs and volunteer numbers up in the database, then plan each row as new or an update."""
    if not batch:
        return
    existing: dict[str, tuple] = {}
    for chunk in chunks([values["hash"] for _, values in batch]):
        query = (
            sa.select(
                Volunteer.id_number_hash,
                Volunteer.id,
                Provider.town_id,
                Volunteer.national_no,
                Volunteer.registered_on,
                Volunteer.imported_hours,
                Volunteer.organisation,
                Volunteer.skills,
            )
            .join(Provider, Provider.id == Volunteer.provider_id)
            .where(one_of(Volunteer.id_number_hash, chunk))
        )
        existing.update({r[0]: r[1:] for r in db.session.execute(query)})
    numbers: dict[str, str] = {}
    for chunk in chunks([values["national_no"] for _, values in batch]):
        query = sa.select(Volunteer.national_no, Volunteer.id_number_hash).where(one_of(Volunteer.national_no, chunk))
        numbers.update(dict(db.session.execute(query).tuples().all()))
    plan: Plan = check.plan
    for row, values in batch:
        owner = numbers.get(values["national_no"])
        if owner is not None and owner != values["hash"]:
            row.fail("national_no", "national_no_taken")
            continue
        found = existing.get(values["hash"])
        if found is None:
            plan.rows["volunteers"].append(NewVolunteer(**values))
            continue
        volunteer_id, town_id, national_no, registered_on, hours, organisation, skills = found
        if check.own_town and town_id != check.own_town:
            row.fail("id_number", "other_town")
            continue
        change = {
            "b_id": volunteer_id,
            "national_no": values["national_no"],
            "registered_on": values["registered_on"] or registered_on,
            "imported_hours": values["hours"],
            "organisation": values["organisation"] or organisation,
            "skills": skills or values["skills"],
        }
        if (national_no, registered_on, hours, organisation, skills) == (
            change["national_no"],
            change["registered_on"],
            change["imported_hours"],
            change["organisation"],
            change["skills"],
        ):
            plan.existing["volunteers"] += 1
        else:
            plan.changes["volunteers"].append(change)


def mask_document(number: str, id_type: str | None) -> str:
    """A resident ID masked as everywhere; another document shows at most its first and last two characters."""
    if id_type is None:
        return idnumber.mask(number)
    if len(number) >= 8:
        return (number[:2] + "*" * (len(number) - 4) + number[-2:])[:18]
    return number[:1] + "*" * (len(number) - 1)


def write(plan: Plan, check: Validator, user: User, now: datetime, progress: Progress) -> dict[str, int]:
    """Insert the new volunteers (a provider row each, in chunks) and update the changed ones."""
    places = {t.id: (t.lat, t.lon, t.county_id) for t in db.session.scalars(sa.select(Town))}
    status = check.options.get("volunteer_status", "pending")
    new: list[NewVolunteer] = plan.rows.get("volunteers", [])
    providers, volunteers = Provider.__table__, Volunteer.__table__
    encrypt = crypto.encrypter()
    for start in range(0, len(new), CHUNK_ROWS):
        chunk = new[start : start + CHUNK_ROWS]
        ids = new_ids(providers, len(chunk))
        insert_rows(
            providers,
            [
                {
                    "id": provider_id,
                    "kind": "volunteer",
                    "name": v.name,
                    "status": status,
                    "town_id": v.town_id,
                    "county_id": places[v.town_id][2],  # the home county written here, not by tenancy.py
                    "lat": places[v.town_id][0],
                    "lon": places[v.town_id][1],
                    "radius_km": RADIUS_KM,
                    "created_at": now,
                }
                for provider_id, v in zip(ids, chunk, strict=True)
            ],
        )
        insert_rows(
            volunteers,
            [
                {
                    "provider_id": provider_id,
                    "real_name": v.name,
                    "id_number_enc": encrypt(v.number),
                    "id_number_hash": v.hash,
                    "id_masked": mask_document(v.number, v.id_type),
                    "id_verified": False,
                    "phone_enc": encrypt(v.phone),
                    "phone_masked": crypto.mask_phone(v.phone),
                    "skills": v.skills,
                    "availability": 0,
                    "id_type": v.id_type,
                    "national_no": v.national_no,
                    "registered_on": v.registered_on,
                    "imported_hours": v.hours,
                    "organisation": v.organisation,
                }
                for provider_id, v in zip(ids, chunk, strict=True)
            ],
        )
        progress("write_volunteers", start + len(chunk), len(new))
    changes = plan.changes.get("volunteers", [])
    update = (
        sa.update(volunteers)
        .where(volunteers.c.id == sa.bindparam("b_id"))
        .values(
            national_no=sa.bindparam("national_no"),
            registered_on=sa.bindparam("registered_on"),
            imported_hours=sa.bindparam("imported_hours"),
            organisation=sa.bindparam("organisation"),
            skills=sa.bindparam("skills"),
        )
    )
    for start in range(0, len(changes), CHUNK_ROWS):
        db.session.connection().execute(update, changes[start : start + CHUNK_ROWS])
        progress("update_volunteers", start + CHUNK_ROWS, len(changes))
    return {"volunteers": len(new), "volunteers_updated": len(changes)}
