"""A deterministic synthetic Tengzhou (and up to five more counties of Zaozhuang) for demos and load tests:
`seed_demo(scale, counties=N)` and the demo logins.

Figures at scale 1.0 are the bureau's 2020 ones (about 40,000 households, 13 agencies, 60 pairing units,
259,600 volunteers). Rows are written with bulk Core inserts and ids assigned here; the caller commits.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import Household
from socialforce.platform.reference import COUNTIES, ensure_demo_county, ensure_reference_data
from socialforce.platform.seed.bulk import BulkWriter
from socialforce.platform.seed.demo import (
    DEMO_LOGINS,
    DEMO_PASSWORD,
    create_demo_users,
    reserve_demo_items,
    stage_demo_orders,
)
from socialforce.platform.seed.history import History
from socialforce.platform.seed.items import plan_items, write_items
from socialforce.platform.seed.people import (
    FIGURES,
    build_villages,
    compose_households,
    place_households,
    write_enrollments,
    write_households,
    write_material_assistance,
)
from socialforce.platform.seed.providers import OfferBook, build_agencies, build_units, build_volunteers
from socialforce.platform.seed.world import World, scaled

DEMO_TODAY = date(2026, 11, 1)

__all__ = ["DEMO_LOGINS", "DEMO_PASSWORD", "DEMO_TODAY", "FIGURES", "scaled", "seed_demo"]


def seed_demo(scale: float, *, seed: int = 2020, progress: Callable[[str, int, int], None] | None = None,
              today: date = DEMO_TODAY, counties: int = 1) -> dict[str, int]:
    """Build a synthetic Tengzhou at `scale` (and counties - 1 more counties of COUNTIES, each at `scale`) into an
    empty database; flushes, never commits.

    Same seed, scale, counties and `today`: the same rows (apart from the random nonces inside encrypted values and
    password hashes); the first county's rows do not depend on `counties`. The demo logins live in the first
    county (and `prefecture` sees all). Returns the number of rows written per table.
    """
    if not 1 <= counties <= len(COUNTIES):
        raise ValueError(f"counties must be between 1 and {len(COUNTIES)}")
    ensure_reference_data()
    if db.session.scalar(sa.select(sa.func.count()).select_from(Household)):
        raise ValueError("the database already has households: seed an empty database")
    for index in range(1, counties):
        ensure_demo_county(index)
    writer = BulkWriter(progress)
    world = World(scale, seed, today, writer)
    _build_county(world, demo=True)
    writer.counts["users"] = create_demo_users(world)
    for index in range(1, counties):
        _another_county(World(scale, seed + 7919 * index, today, writer, county_index=index), world)
    writer.advance_sequences()
    db.session.flush()
    return dict(sorted(writer.counts.items()))


def _another_county(world: World, first: World) -> None:
    """Households, providers, items and history of a further county (no demo logins or staged scenarios);
    resident IDs come from the first county's factory, so no number is used twice."""
    world.ids = first.ids
    _build_county(world, demo=False)


def _build_county(world: World, demo: bool) -> None:
    """One county's households, providers, items and history; `demo` adds the staged scenarios of the demo logins."""
    build_villages(world)
    compose_households(world)
    place_households(world)
    write_households(world)
    write_enrollments(world)
    write_material_assistance(world)

    offers = OfferBook(world)
    build_agencies(world, offers)
    build_units(world, offers)
    offers.write()
    build_volunteers(world, offers)

    plan_items(world)
    reserved = reserve_demo_items(world) if demo else None
    history = History(world)
    history.run()
    if demo:
        stage_demo_orders(world, history, reserved)
    write_items(world)
    history.write()
