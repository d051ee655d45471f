"""Villages and communities (村居) of the towns: the places households are registered in.

An empty database has the towns (reference data) but no villages, so a county starts by importing them, in the
same file as its households or before. A village is (town, name); one already registered is skipped, or its place
updated when the row gives other coordinates. Without coordinates a new village sits at its town's centre (as a
new organisation does); coordinates must lie within MAX_FROM_TOWN_KM of the town's centre (the organisations'
rule). Town staff import their own town's villages. New villages get placeholder ids (negative) in the
validator's village map, so household rows of the same file can name them; `write` replaces them by the real ids.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from socialforce.matching.geo import distance_km
from socialforce.platform.extensions import db
from socialforce.platform.imports.rules import VILLAGES
from socialforce.platform.imports.sheets import Table
from socialforce.platform.imports.validation import Plan, Progress, Validator, _Row
from socialforce.platform.models import Town, User, Village
from socialforce.platform.services.organisations.common import MAX_FROM_TOWN_KM


def _coordinate(row: _Row, key: str) -> float | None:
    raw = row.text(key)
    if not raw or key in row.failed:
        return None
    try:
        value = float(row.raw(key)) if isinstance(row.raw(key), int | float) else float(raw)
    except ValueError:
        value = float("nan")
    if value != value:  # NaN
        row.fail(key, "bad_place", km=int(MAX_FROM_TOWN_KM))
        return None
    return value


def validate(check: Validator, sheets: list[Table]) -> None:
    """Check village rows; new villages get placeholder ids in check.villages for the file's households."""
    plan = check.plan
    plan.rows.setdefault("villages", [])
    plan.changes.setdefault("villages", [])
    if not sheets:
        return
    towns = {t.id: t for t in db.session.scalars(sa.select(Town))}
    places = {(v.town_id, v.name): (v.id, v.lat, v.lon) for v in db.session.scalars(sa.select(Village))}
    seen: set[tuple[int, str]] = set()
    for sheet in sheets:
        for row in check._rows(sheet, VILLAGES):
            town_id = check.towns.get(row.text("town"))
            if town_id is None and "town" not in row.failed:
                row.fail("town", "unknown_town")
            elif check.own_town and town_id != check.own_town:
                row.fail("town", "other_town")
            name = row.text("name")
            lat, lon = _coordinate(row, "lat"), _coordinate(row, "lon")
            if town_id is not None and not {"lat", "lon"} & row.failed:
                town = towns[town_id]
                if (lat is None) != (lon is None) or (
                    lat is not None
                    and not (-90 <= lat <= 90 and -180 <= lon <= 180
                             and distance_km(lat, lon, town.lat, town.lon) <= MAX_FROM_TOWN_KM)
                ):
                    row.fail("lat", "bad_place", km=int(MAX_FROM_TOWN_KM))
            key = (town_id, name)
            if town_id is not None and name and not row.failed:
                if key in seen:
                    row.fail("name", "duplicate_in_file")
                seen.add(key)
            if row.failed:
                continue
            found = places.get(key)
            if found is None:
                placeholder = -1 - len(plan.rows["villages"])
                plan.rows["villages"].append({"town_id": town_id, "name": name, "lat": lat if lat is not None
                                              else towns[town_id].lat, "lon": lon if lon is not None
                                              else towns[town_id].lon, "placeholder": placeholder})
                check.villages[key] = placeholder
            elif lat is None or (round(lat, 6), round(lon, 6)) == (found[1], found[2]):
                plan.existing["villages"] += 1
            else:
                plan.changes["villages"].append({"id": found[0], "lat": round(lat, 6), "lon": round(lon, 6)})


def write(plan: Plan, check: Validator, user: User, now: datetime, progress: Progress) -> dict[str, int]:
    """Insert the new villages and move the changed ones; the file's households get the new villages' ids."""
    new, changes = plan.rows.get("villages", []), plan.changes.get("villages", [])
    ids: dict[int, int] = {}
    for values in new:
        village = Village(town_id=values["town_id"], name=values["name"], lat=round(values["lat"], 6),
                          lon=round(values["lon"], 6))
        db.session.add(village)
        db.session.flush()
        ids[values["placeholder"]] = village.id
    for values in changes:
        db.session.execute(sa.update(Village).where(Village.id == values["id"])
                           .values(lat=values["lat"], lon=values["lon"]))
    for household in plan.households:
        if household["village_id"] is not None and household["village_id"] < 0:
            household["village_id"] = ids[household["village_id"]]
    progress("write_villages", len(new), len(new))
    return {"villages": len(new), "villages_updated": len(changes)}
