"""A deterministic synthetic Tengzhou for demos and load tests: `seed_demo(scale)` and the demo logins.

Figures at scale 1.0 are the bureau's 2020 ones (about 40,000 households, 13 agencies, 60 pairing units,
259,600 volunteers). Rows are written with bulk Core inserts and ids assigned here; the caller commits.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import Household
from socialforce.platform.reference import ensure_reference_data
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
              today: date = DEMO_TODAY) -> dict[str, int]:
    """Build a synthetic Tengzhou at `scale` into an empty database; flushes, never commits.

    Same seed, scale and `today`: the same rows (apart from the random nonces inside encrypted values and
    password hashes). Returns the number of rows written per table.
    """
    ensure_reference_data()
    if db.session.scalar(sa.select(sa.func.count()).select_from(Household)):
        raise ValueError("the database already has households: seed an empty database")
    writer = BulkWriter(progress)
    world = World(scale, seed, today, writer)

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
    reserved = reserve_demo_items(world)
    history = History(world)
    history.run()
    stage_demo_orders(world, history, reserved)
    write_items(world)
    history.write()

    writer.counts["users"] = create_demo_users(world)
    writer.advance_sequences()
    db.session.flush()
    return dict(sorted(writer.counts.items()))
