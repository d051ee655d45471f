"""Writing a validated import plan with bulk inserts (flushes in the caller's transaction, never commits).

Rows that need no id back go through `insert_rows`: PostgreSQL's COPY (one statement per chunk, no SQL text to
build or parse for thousands of parameters), elsewhere one executemany. Rows that others refer to get their ids
first from `new_ids`, so they can be written the same way.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

import sqlalchemy as sa

from socialforce.platform import crypto, idnumber
from socialforce.platform.extensions import db
from socialforce.platform.imports.validation import Plan, Progress, Validator, chunks, one_of
from socialforce.platform.models import Enrollment, Household, ItemStatus, Member, ServiceItem, Town, User

CHUNK_ROWS = 5000
ELDERLY_AGE = 60


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def insert_rows(table: sa.Table, rows: list[dict]) -> None:
    """Insert rows (dicts with the same keys) in the session's transaction: COPY on PostgreSQL, else executemany."""
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(sa.insert(table), rows)
        return
    columns = list(rows[0])
    defaults = [  # the Python-side defaults an INSERT would fill in (e.g. updated_at), per row as it would
        (c.key, c.default)
        for c in table.c
        if c.key not in rows[0] and c.default is not None and not c.default.is_sequence
    ]
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns + [name for name, _ in defaults])
    with connection.connection.driver_connection.cursor() as cursor, cursor.copy(
        f"COPY {quote(table.name)} ({names}) FROM STDIN"
    ) as copy:
        for row in rows:
            values = [row[column] for column in columns]
            values += [default.arg(None) if default.is_callable else default.arg for _, default in defaults]
            copy.write_row(values)


def new_ids(table: sa.Table, count: int) -> list[int]:
    """`count` unused primary keys of `table`, for rows inserted with their id by this import.

    PostgreSQL: taken from the table's sequence. SQLite: the ids it would assign itself (max + 1 onwards; no
    AUTOINCREMENT table here), which stay free because the import holds the database's write lock until it ends.
    """
    if count <= 0:
        return []
    if db.session.get_bind().dialect.name == "postgresql":
        query = sa.select(sa.func.nextval(sa.func.pg_get_serial_sequence(table.name, "id"))).select_from(
            sa.func.generate_series(1, count)
        )
        return list(db.session.scalars(query))
    top = db.session.scalar(sa.select(sa.func.max(table.c.id))) or 0
    return list(range(top + 1, top + 1 + count))


def _insert(table: sa.Table, rows: list[dict], stage: str, progress: Progress, returning=None) -> dict:
    """Insert rows in chunks; with `returning` (key column), a map key -> new id."""
    ids: dict = {}
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = rows[start : start + CHUNK_ROWS]
        if returning is None:
            insert_rows(table, chunk)
        else:
            statement = sa.insert(table).returning(returning, table.c.id)
            ids.update(db.session.execute(statement, chunk).tuples().all())
        progress(stage, start + len(chunk), len(rows))
    return ids


def write_plan(plan: Plan, check: Validator, user: User, now: datetime, progress: Progress) -> dict[str, int]:
    """Insert the plan's new households, members (with enrollments) and service items; returns row counts."""
    today = now.date()
    sizes = Counter(m["household"] for m in plan.members)
    elderly_alone = {
        m["household"]
        for m in plan.members
        if sizes[m["household"]] == 1 and _age(idnumber.birth_date_of(m["number"]), today) >= ELDERLY_AGE
    }
    encrypt = crypto.encrypter()
    household_rows = []
    for h in plan.households:
        household_rows.append(
            {
                "code": h["code"],
                "town_id": h["town_id"],
                "village_id": h["village_id"],
                "head_name": h["head_name"],
                "address": h["address"],
                "phone_enc": encrypt(h["phone"]) if h["phone"] else None,
                "phone_masked": crypto.mask_phone(h["phone"]) if h["phone"] else None,
                "lives_alone_elderly": h["code"] in elderly_alone,
                "created_at": now,
            }
        )
    households = Household.__table__
    household_ids = _insert(households, household_rows, "write_households", progress, households.c.code)
    household_ids.update(
        {code: found[0] for code, found in check.db_households.items() if code not in household_ids}
    )

    member_rows = []
    for m in plan.members:
        number = m["number"]
        member_rows.append(
            {
                "household_id": household_ids[m["household"]],
                "name": m["name"],
                "id_number_enc": encrypt(number),
                "id_number_hash": m["hash"],
                "id_masked": idnumber.mask(number),
                "id_suffix": number[-4:],
                "relation": m["relation"],
                "birth_date": idnumber.birth_date_of(number),
                "sex": idnumber.sex_of(number),
                "disability_grade": m["disability_grade"],
                "health_notes": m["health_notes"],
            }
        )
    members = Member.__table__
    member_ids = _insert(members, member_rows, "write_members", progress, members.c.id_number_hash)
    enrollments = [
        {"member_id": member_ids[m["hash"]], "category_id": category_id, "since": m["since"]}
        for m in plan.members
        for category_id in m["categories"]
    ]
    _insert(Enrollment.__table__, enrollments, "write_enrollments", progress)

    wanted = sorted({i["hash"] for i in plan.items if i["hash"] and i["hash"] not in member_ids})
    for chunk in chunks(wanted):
        query = sa.select(Member.id_number_hash, Member.id).where(one_of(Member.id_number_hash, chunk))
        member_ids.update(db.session.execute(query).tuples().all())
    household_towns = {code: found[1] for code, found in check.db_households.items()}
    household_towns.update({h["code"]: h["town_id"] for h in plan.households})
    town_counties = dict(db.session.execute(sa.select(Town.id, Town.county_id)).tuples().all())
    item_rows = [
        {
            "household_id": household_ids[i["household"]],
            "county_id": town_counties[household_towns[i["household"]]],
            "member_id": member_ids[i["hash"]] if i["hash"] else None,
            "category_id": i["category_id"],
            "description": i["description"],
            "priority": i["priority"],
            "frequency": i["frequency"],
            "windows": i["windows"],
            "slots_needed": 1,
            "status": ItemStatus.open.value,
            "created_at": now,
            "created_by_id": user.id,
        }
        for i in plan.items
    ]
    _insert(ServiceItem.__table__, item_rows, "write_items", progress)
    return {
        "households": len(household_rows),
        "members": len(member_rows),
        "enrollments": len(enrollments),
        "items": len(item_rows),
    }
