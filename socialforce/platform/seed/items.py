"""Households' service lists: items per category, for whom, how urgent, how often and when."""
from __future__ import annotations

from datetime import timedelta

from socialforce.platform import weekmask
from socialforce.platform.models import ServiceItem
from socialforce.platform.seed import texts
from socialforce.platform.seed.world import HouseholdRef, ItemRef, MemberRef, World

SERVICE_SHARE = 0.75  # households with at least one service item; the rest get material assistance only
EXTRA_ITEMS_MEAN = 2.4  # Poisson mean of items beyond the first, for households with services
VULNERABLE = {"tekun", "orphan", "child_difficulty", "child_unsupported", "disability_care"}
FREQUENCIES = {
    "counselling": (10, 50, 40), "emotional_comfort": (5, 40, 55), "resource_linking": (80, 0, 20),
    "capability_building": (40, 30, 30), "social_integration": (40, 0, 60), "rehabilitation": (0, 80, 20),
    "tutoring": (10, 90, 0), "daily_care": (0, 80, 20), "employment": (70, 0, 30), "legal_aid": (100, 0, 0),
    "medical_escort": (40, 10, 50),
}  # once, weekly, monthly
DAYTIME = [weekmask.bit(d, p) for d in range(5) for p in (0, 1)]
WEEKEND = [weekmask.bit(d, p) for d in (5, 6) for p in (0, 1)]
EVENINGS = [weekmask.bit(d, 2) for d in range(5)]


def needs(world: World, household: HouseholdRef) -> list[tuple[str, MemberRef | None, float]]:
    """Candidate (category, member, weight) needs that follow from the household's composition."""
    result: list[tuple[str, MemberRef | None, float]] = []
    alone = household.lives_alone_elderly
    for m in household.members:
        child_cat = any(c in m.categories for c in ("orphan", "child_difficulty", "child_unsupported"))
        if 6 <= m.age < 18:
            result.append(("tutoring", m, 0.6))
        if m.minor and child_cat:
            result += [("counselling", m, 0.4), ("emotional_comfort", m, 0.5), ("social_integration", m, 0.2)]
        if m.disability_grade:
            result += [("rehabilitation", m, 0.6), ("medical_escort", m, 0.25)]
            if m.disability_grade <= 2:
                result.append(("daily_care", m, 0.5))
            elif 18 <= m.age <= 55:
                result.append(("employment", m, 0.3))
        if m.age >= 70:
            result += [("daily_care", m, 0.6 if alone else 0.3), ("medical_escort", m, 0.3),
                       ("emotional_comfort", m, 0.7 if alone else 0.3)]
        if 18 <= m.age <= 55 and not m.disability_grade:
            result += [("employment", m, 0.3), ("capability_building", m, 0.2)]
        if m.age >= 18 and m.relation in ("户主", "配偶"):
            result.append(("counselling", m, 0.1))
    result += [("resource_linking", None, 0.35), ("legal_aid", None, 0.05), ("social_integration", None, 0.1)]
    return result


def _windows(world: World, category: str) -> int:
    """Preferred weekly windows: mostly weekday daytime; tutoring after school and at weekends."""
    rng = world.rng
    pool = EVENINGS + WEEKEND if category == "tutoring" else DAYTIME + (WEEKEND if rng.random() < 0.15 else [])
    mask = 0
    for cell in rng.sample(pool, rng.randint(2, 6)):
        mask |= cell
    return mask


def _priority(world: World, household: HouseholdRef, member: MemberRef | None) -> str:
    """Urgent and high are more likely for extreme poverty, children, severe disability, elderly alone."""
    cats = set(member.categories) if member else household.categories
    vulnerable = bool(cats & VULNERABLE) or household.lives_alone_elderly or household.kind == "tekun"
    weights = (40, 40, 20) if vulnerable else (72, 21, 7)
    return world.rng.choices(("normal", "high", "urgent"), weights)[0]


def make_item(world: World, household: HouseholdRef, category: str, member: MemberRef | None,
              reserved: str | None = None) -> ItemRef:
    """One service item (id assigned, not yet written)."""
    rng = world.rng
    slots = rng.randint(2, 3) if category in world.task_categories and rng.random() < 0.15 else 1
    item = ItemRef(
        id=world.writer.next_id(ServiceItem), household=household, member_id=member.id if member else None,
        category=category, priority=_priority(world, household, member),
        frequency=rng.choices(("once", "weekly", "monthly"), FREQUENCIES[category])[0],
        windows=_windows(world, category), slots=slots,
        created_at=world.now - timedelta(days=rng.randint(5, 420), minutes=rng.randint(0, 600)),
        description=texts.description(rng, category), reserved=reserved,
    )
    world.items.append(item)
    return item


def plan_items(world: World) -> None:
    """Service lists for ~75% of households (about 2.5 items per household overall)."""
    rng = world.rng
    for household in world.households:
        household.has_services = rng.random() < SERVICE_SHARE
        if not household.has_services:
            continue
        candidates = needs(world, household)
        count = min(len(candidates), 1 + int(world.np.poisson(EXTRA_ITEMS_MEAN)))
        chosen: list[tuple[str, MemberRef | None]] = []
        pool = list(candidates)
        while len(chosen) < count and pool:
            pick = rng.choices(range(len(pool)), [w for _, _, w in pool])[0]
            category, member, _ = pool.pop(pick)
            if (category, member.id if member else None) not in [(c, m.id if m else None) for c, m in chosen]:
                chosen.append((category, member))
        for category, member in chosen:
            make_item(world, household, category, member)


def write_items(world: World) -> None:
    """Insert every planned item with its final status."""
    rows = [{
        "id": i.id, "household_id": i.household.id, "county_id": world.county_id, "member_id": i.member_id,
        "category_id": world.service_id[i.category], "description": i.description, "priority": i.priority,
        "frequency": i.frequency, "windows": i.windows, "slots_needed": i.slots, "status": i.status,
        "created_at": i.created_at, "created_by_id": None, "closed_at": i.closed_at,
    } for i in world.items]
    world.writer.insert(ServiceItem, rows)
