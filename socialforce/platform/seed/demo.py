"""The demo logins and the scenarios that give every portal something to show."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

from socialforce.platform.models import Role
from socialforce.platform.seed.history import Candidate, History
from socialforce.platform.seed.items import make_item
from socialforce.platform.seed.providers import AGENCY_CORE
from socialforce.platform.seed.world import HouseholdRef, ItemRef, MemberRef, ProviderRef, VillageRef, World
from socialforce.platform.services.accounts import create_user

DEMO_PASSWORD = "demo1234"
DEMO_LOGINS: list[tuple[str, str, str]] = [
    ("city", Role.city_staff.value, "County civil-affairs staff (Tengzhou): all 21 towns of the county"),
    ("prefecture", Role.prefecture_staff.value, "Prefecture staff (Zaozhuang): every county's figures, read-only"),
    ("town1", Role.town_staff.value, "Town staff of 龙泉街道 (longquan)"),
    ("town2", Role.town_staff.value, "Town staff of 荆河街道 (jinghe)"),
    ("agency1", Role.agency_admin.value, "Admin of the first social-work agency (covers longquan)"),
    ("agency2", Role.agency_admin.value, "Admin of the second social-work agency (covers jinghe)"),
    ("worker1", Role.social_worker.value, "Social worker of agency1, with visits this week"),
    ("unit1", Role.unit_admin.value, "Admin of the first pairing unit (paired households in longquan)"),
    ("unit2", Role.unit_admin.value, "Admin of the second pairing unit (paired households in jinghe)"),
    ("cadre1", Role.cadre.value, "Cadre of unit1, with paired households and visits"),
    ("volunteer1", Role.volunteer.value, "Volunteer in longquan: comfort, tutoring, daily care"),
    ("volunteer2", Role.volunteer.value, "Volunteer in jinghe: medical escort, daily care"),
    ("village1", Role.village_assistant.value, "Village assistant of the longquan village with most households"),
]


def _member_for(household: HouseholdRef, category: str) -> MemberRef | None:
    """The member a person-specific need points to (a child for tutoring, the disabled for rehabilitation)."""
    members = household.members
    if category == "tutoring":
        minors = [m for m in members if 6 <= m.age < 18]
        return minors[0] if minors else None
    if category in ("rehabilitation", "medical_escort", "daily_care"):
        disabled = [m for m in members if m.disability_grade]
        return disabled[0] if disabled else max(members, key=lambda m: (m.age, -m.id))
    if category == "emotional_comfort":
        return max(members, key=lambda m: (m.age, -m.id))
    return None


def _reserve(world: World, households: list[HouseholdRef], categories: tuple[str, ...], count: int,
             tag: str) -> list[ItemRef]:
    """`count` open items of these households and categories kept out of the history (made if missing)."""
    ids = {h.id for h in households}
    found = [i for i in world.items if not i.reserved and i.household.id in ids and i.category in categories
             and not (i.category == "tutoring" and i.member_id is None)][:count]
    for item in found:
        item.reserved = tag
    for k in range(count - len(found)):
        household = households[k % len(households)]
        category = categories[k % len(categories)]
        if category == "tutoring" and _member_for(household, category) is None:
            category = next((c for c in categories if c != "tutoring"), category)
        household.has_services = True
        found.append(make_item(world, household, category, _member_for(household, category), reserved=tag))
    return found


def reserve_demo_items(world: World) -> dict[str, list[ItemRef]]:
    """Items in the demo users' towns set aside for the scenarios staged after the history."""
    town = {code: [h for h in world.households if h.town_id == world.town_by_code[code].id]
            for code in ("longquan", "jinghe")}
    unit1 = world.units[0]
    unit1_households = [h for h in world.households if world.pairings.get(h.id, (None,))[0] is unit1]
    unit1_households.sort(key=lambda h: (h.town_id != world.town_by_code["longquan"].id, h.id))
    volunteer1, volunteer2 = world.volunteers[0].categories, world.volunteers[1].categories
    return {
        "agency1_dispatched": _reserve(world, town["longquan"], AGENCY_CORE, 3, "agency1_dispatched"),
        "agency1_in_service": _reserve(world, town["longquan"], AGENCY_CORE, 2, "agency1_in_service"),
        "agency2_dispatched": _reserve(world, town["jinghe"], AGENCY_CORE, 2, "agency2_dispatched"),
        "unit1_in_service": _reserve(world, unit1_households, unit1.categories, 2, "unit1_in_service"),
        "volunteer1_open": _reserve(world, town["longquan"], volunteer1, 3, "volunteer1_open"),
        "volunteer1_signed": _reserve(world, town["longquan"], volunteer1, 1, "volunteer1_signed"),
        "volunteer1_done": _reserve(world, town["longquan"], volunteer1, 1, "volunteer1_done"),
        "volunteer2_open": _reserve(world, town["jinghe"], volunteer2, 2, "volunteer2_open"),
    }


def _candidate(history: History, item: ItemRef, provider: ProviderRef) -> Candidate:
    paired = history.world.pairings.get(item.household.id, (None,))[0] is provider
    return history.candidate(item, provider, paired)


def _ongoing(history: History, item: ItemRef, provider: ProviderRef, assignee: int) -> None:
    """An order accepted last week and in service: one visit done, the next one planned."""
    now = history.world.now
    order = history.order(item, _candidate(history, item, provider), 1, 1, now - timedelta(days=12))
    order["responded_at"], order["assignee_id"] = now - timedelta(days=11), assignee
    history.move(order, "accepted", order["responded_at"])
    begin = history.visit_time(item, now - timedelta(days=10))
    history.move(order, "in_service", begin)
    history.visit(order, item, begin, done=True, assignee=assignee)
    history.visit(order, item, history.visit_time(item, now), done=False, assignee=assignee)
    item.status = "in_service"


def stage_demo_orders(world: World, history: History, reserved: dict[str, list[ItemRef]]) -> None:
    """Orders awaiting the demo agencies, ongoing work for worker1 and cadre1, open tasks for volunteers."""
    now = world.now
    agency1, agency2, unit1 = world.agencies[0], world.agencies[1], world.units[0]
    volunteer1 = world.volunteers[0]
    for agency, key in ((agency1, "agency1_dispatched"), (agency2, "agency2_dispatched")):
        for rank, item in enumerate(reserved[key], start=1):
            history.order(item, _candidate(history, item, agency), 1, rank, now - timedelta(hours=3 + 5 * rank))
            item.status = "dispatched"
    for item in reserved["agency1_in_service"]:
        _ongoing(history, item, agency1, agency1.staff[0])
    for item in reserved["unit1_in_service"]:
        _ongoing(history, item, unit1, unit1.staff[0])
    for item in reserved["volunteer1_open"] + reserved["volunteer2_open"]:
        item.slots = max(item.slots, 2)
        history.task_history(item, now - timedelta(days=1), signed=[],
                             begin=history.visit_time(item, now + timedelta(days=1)))
    for item in reserved["volunteer1_signed"]:
        item.slots = 1
        history.task_history(item, now - timedelta(days=2), signed=[volunteer1],
                             begin=history.visit_time(item, now + timedelta(days=1)))
    for item in reserved["volunteer1_done"]:
        item.slots = 1
        history.task_history(item, now - timedelta(days=40), signed=[volunteer1],
                             begin=history.visit_time(item, now - timedelta(days=35)))


def _busiest_village(world: World, town_id: int) -> VillageRef:
    """The town's village with the most households (the first on a tie)."""
    counts = Counter(h.village_id for h in world.households if h.town_id == town_id)
    return max(world.villages[town_id], key=lambda v: (counts[v.id], -v.id))


def create_demo_users(world: World) -> int:
    """The demo logins (scrypt-hashed through the accounts service); returns how many were made."""
    longquan, jinghe = world.town_by_code["longquan"], world.town_by_code["jinghe"]
    agency1, agency2 = world.agencies[0], world.agencies[1]
    unit1, unit2 = world.units[0], world.units[1]
    volunteer1, volunteer2 = world.volunteers[0], world.volunteers[1]
    village1 = _busiest_village(world, longquan.id)
    specs = {
        "village1": (f"{village1.name}协理员", {"village_id": village1.id, "town_id": longquan.id}),
        "city": ("滕州市民政局社会救助科", {"county_id": longquan.county_id}),
        "prefecture": ("枣庄市民政局社会救助科", {}),
        "town1": (f"{longquan.name_zh}民政办", {"town_id": longquan.id}),
        "town2": (f"{jinghe.name_zh}民政办", {"town_id": jinghe.id}),
        "agency1": (agency1.name, {"provider_id": agency1.id}),
        "agency2": (agency2.name, {"provider_id": agency2.id}),
        "worker1": ("社工（" + agency1.name + "）", {"provider_id": agency1.id, "member_id": agency1.staff[0]}),
        "unit1": (unit1.name, {"provider_id": unit1.id}),
        "unit2": (unit2.name, {"provider_id": unit2.id}),
        "cadre1": ("帮扶干部（" + unit1.name + "）", {"provider_id": unit1.id, "member_id": unit1.staff[0]}),
        "volunteer1": (volunteer1.name, {"provider_id": volunteer1.id}),
        "volunteer2": (volunteer2.name, {"provider_id": volunteer2.id}),
    }
    for username, role, _note in DEMO_LOGINS:
        display_name, links = specs[username]
        user = create_user(username, DEMO_PASSWORD, Role(role), display_name[:60], **links)
        world.users[username] = user.id
    return len(DEMO_LOGINS)
