"""Villages, households, members, enrollments and three months of material assistance."""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from socialforce.platform import idnumber
from socialforce.platform.extensions import db
from socialforce.platform.models import Enrollment, Household, MaterialAssistance, Member, Village
from socialforce.platform.seed import names
from socialforce.platform.seed.world import HouseholdRef, MemberRef, VillageRef, World, scaled

# The bureau's 2020 figures (persons unless said otherwise); every one scales linearly.
FIGURES = {
    "households": 40_000,
    "dibao_households": 13_513,
    "dibao_persons": 25_135,
    "tekun": 6_795,
    "disability_living": 9_041,
    "disability_care": 21_998,
    "orphan": 222,
    "child_difficulty": 167,
    "child_unsupported": 252,
}
MINIMUMS = {"dibao_households": 3, "dibao_persons": 5, "tekun": 3, "disability_living": 2, "disability_care": 2,
            "orphan": 1, "child_difficulty": 1, "child_unsupported": 1}
HOUSEHOLDS_PER_TOWN_MIN = 2
TEKUN_ALONE_SHARE = 0.92  # the rest live inside other households
LIVING_IN_ASSISTED_SHARE = 0.7  # living-subsidy holders inside dibao/tekun households
CARE_IN_ASSISTED_SHARE = 0.3

COMMUNITY_NAMES = ("龙泉", "杏坛", "文化", "府前", "学院", "善国", "荆河", "平安", "幸福", "和谐", "民主", "新兴",
                   "书院", "塔寺", "红荷", "振兴", "大同", "北关", "南关", "西关", "东关", "明珠", "龙庭", "玉龙",
                   "阳光", "金河", "墨子", "鲁班", "奚仲", "滨河", "嘉禾", "星光")
VILLAGE_SUFFIXES = ("庄", "楼", "屯", "营", "集", "洼", "寨", "店", "桥", "岭", "官庄", "家村", "河", "湖", "埠", "沟")
VILLAGE_PREFIXES = names.SURNAMES + "前后东西南北大小新老上下"
HEALTH_ELDERLY = ("高血压", "糖尿病", "脑梗后遗症，行动不便", "慢性支气管炎", "腰椎间盘突出", "阿尔茨海默病早期", "白内障")
HEALTH_DISABLED = ("肢体残疾", "视力残疾", "听力残疾", "言语残疾", "智力残疾", "精神残疾，需长期服药", "多重残疾")
MONTHLY_YUAN = {  # (low, high) per enrolled person and month
    "dibao": (600, 900), "tekun": (1100, 1300), "disability_living": (100, 100), "disability_care": (100, 100),
    "orphan": (1500, 1600), "child_unsupported": (1500, 1600), "child_difficulty": (500, 800),
    "elderly_poor": (100, 200), "dibao_edge": (150, 150),
}


def targets(scale: float) -> dict[str, int]:
    """The figures at `scale` (rounded half up, with small minimums so tiny demos still show every group)."""
    return {key: scaled(value, scale, MINIMUMS.get(key, 0)) for key, value in FIGURES.items()}


def build_villages(world: World) -> None:
    """10-30 villages or communities per town, centroids jittered around the town's (existing ones kept)."""
    existing: dict[int, list[VillageRef]] = {}
    for row in db.session.scalars(sa.select(Village).order_by(Village.id)):
        existing.setdefault(row.town_id, []).append(VillageRef(row.id, row.town_id, row.name, row.lat, row.lon))
    rows = []
    rng = world.rng
    for town in world.towns:
        if town.id in existing:
            world.villages[town.id] = existing[town.id]
            continue
        street = town.kind == "street"
        count = rng.randint(10, 30)
        if street:
            pool = [n + "社区" for n in COMMUNITY_NAMES]
        else:
            pool = sorted({p + s + "村" for p in VILLAGE_PREFIXES for s in VILLAGE_SUFFIXES})
        chosen = rng.sample(pool, min(count, len(pool)))
        refs = []
        for name in chosen:
            lat, lon = world.jitter(town.lat, town.lon, 1.2 if street else 3.0)
            ref = VillageRef(world.writer.next_id(Village), town.id, name, lat, lon)
            refs.append(ref)
            rows.append({"id": ref.id, "town_id": town.id, "name": name, "lat": lat, "lon": lon})
        world.villages[town.id] = refs
    world.writer.insert(Village, rows)


# ---------------------------------------------------------------- household composition

def _dibao_sizes(world: World, households: int, persons: int) -> list[int]:
    """Household sizes 1-6 summing exactly to `persons`."""
    rng = world.rng
    sizes = rng.choices((1, 2, 3, 4, 5, 6), (47, 30, 13, 6, 3, 1), k=households)
    persons = max(persons, households)
    while sum(sizes) != persons:
        i = rng.randrange(households)
        if sum(sizes) < persons and sizes[i] < 6:
            sizes[i] += 1
        elif sum(sizes) > persons and sizes[i] > 1:
            sizes[i] -= 1
    return sizes


def _family(world: World, size: int, head_age: int | None = None) -> list[MemberRef]:
    """A plausible family of `size`: head, spouse, children, parents, grandchildren (ages consistent)."""
    rng = world.rng
    relations = ["户主"]
    while len(relations) < size:
        options = [r for r, cap in (("配偶", 1), ("子女", 4), ("父母", 2), ("孙子女", 3), ("其他", 1))
                   if relations.count(r) < cap]
        weights = [{"配偶": 40, "子女": 45, "父母": 8, "孙子女": 10, "其他": 2}[r] for r in options]
        relations.append(rng.choices(options, weights)[0])
    if head_age is None:
        if "孙子女" in relations:
            head_age = rng.randint(55, 80)
        elif "父母" in relations:
            head_age = rng.randint(32, 55)
        else:
            head_age = rng.randint(25, 85)
    head_sex = "M" if rng.random() < 0.6 else "F"
    members = []
    for relation in relations:
        if relation == "户主":
            age, sex = head_age, head_sex
        elif relation == "配偶":
            age, sex = max(18, head_age + rng.randint(-5, 5)), "F" if head_sex == "M" else "M"
        elif relation == "子女":
            age, sex = max(0, head_age - rng.randint(22, 38)), rng.choice("MF")
        elif relation == "父母":
            age, sex = min(99, head_age + rng.randint(22, 35)), rng.choice("MF")
        elif relation == "孙子女":
            age, sex = max(0, head_age - rng.randint(45, 62)), rng.choice("MF")
        else:
            age, sex = rng.randint(10, 80), rng.choice("MF")
        members.append(MemberRef(0, relation, age, sex))
    return members


def compose_households(world: World) -> None:
    """Decide every household's kind, members (relation, age, sex), categories and disabilities."""
    target = targets(world.scale)
    dibao = _dibao_households(world, target)
    tekun = _tekun_households(world, target)
    _assign_disabilities_in_assisted(world, target, [m for h in tekun + dibao for m in h.members])
    disability = _disability_households(world, target)
    for _ in range(target["tekun"] - len(tekun)):  # extreme-poverty elders living with relatives
        host = world.rng.choice(disability)
        host.members.append(MemberRef(0, "父母", world.rng.randint(70, 95), world.rng.choice("MF"), 0, ["tekun"]))
    children = _child_households(world, dibao, target)
    elderly = _elderly_households(world, max(3, target["households"] - len(dibao) - len(tekun)
                                             - len(disability) - len(children)))
    households = dibao + tekun + disability + children + elderly
    for household in world.rng.sample(households, max(1, len(households) // 50)):
        household.members[0].categories.append("temporary")
    world.households = households


def _dibao_households(world: World, target: dict[str, int]) -> list[HouseholdRef]:
    """Dibao households with exactly the target number of persons, every member enrolled."""
    households = [HouseholdRef(0, "dibao", members=_family(world, size))
                  for size in _dibao_sizes(world, target["dibao_households"], target["dibao_persons"])]
    for household in households:
        for member in household.members:
            member.categories.append("dibao")
    return households


def _tekun_households(world: World, target: dict[str, int]) -> list[HouseholdRef]:
    """Single-person extreme-poverty households: mostly elderly, every fourth a younger disabled adult."""
    rng = world.rng
    households = []
    for i in range(max(1, round(target["tekun"] * TEKUN_ALONE_SHARE))):
        age = rng.randint(25, 59) if i % 4 == 0 else rng.randint(60, 95)
        households.append(HouseholdRef(0, "tekun", members=[MemberRef(0, "户主", age, rng.choice("MMF"), 0,
                                                                       ["tekun"])]))
    return households


def _assign_disabilities_in_assisted(world: World, target: dict[str, int], assisted: list[MemberRef]) -> None:
    """Disability subsidies for part of the dibao/tekun members (younger tekun adults first)."""
    rng = world.rng
    living_in = min(round(target["disability_living"] * LIVING_IN_ASSISTED_SHARE), len(assisted))
    care_in = min(round(target["disability_care"] * CARE_IN_ASSISTED_SHARE), len(assisted))
    young_tekun = [m for m in assisted if m.age < 60 and "tekun" in m.categories]
    others = [m for m in assisted if not (m.age < 60 and "tekun" in m.categories)]
    living_holders = (young_tekun + rng.sample(others, len(others)))[:living_in]
    for member in living_holders:
        member.disability_grade = rng.choices((1, 2, 3, 4), (15, 30, 30, 25))[0]
        member.categories.append("disability_living")
    severe = [m for m in living_holders if m.disability_grade <= 2]
    rest = [m for m in assisted if m.disability_grade == 0]
    for member in (severe + rng.sample(rest, len(rest)))[:care_in]:
        member.disability_grade = member.disability_grade or rng.choice((1, 2))
        member.categories.append("disability_care")


def _disability_households(world: World, target: dict[str, int]) -> list[HouseholdRef]:
    """Other (often near-dibao) households, each with one subsidy holder: the rest of the subsidy figures."""
    rng = world.rng
    living_out = target["disability_living"] - round(target["disability_living"] * LIVING_IN_ASSISTED_SHARE)
    care_out = target["disability_care"] - round(target["disability_care"] * CARE_IN_ASSISTED_SHARE)
    both_out = min(round(living_out * 0.5), care_out)
    households = []
    for i in range(living_out + care_out - both_out):
        cats = (["disability_living", "disability_care"] if i < both_out
                else ["disability_care"] if i < care_out else ["disability_living"])
        members = _family(world, rng.choices((1, 2, 3, 4), (25, 35, 25, 15))[0])
        disabled = members[0] if rng.random() < 0.55 or len(members) == 1 else members[-1]
        disabled.age = max(disabled.age, 3)
        disabled.disability_grade = rng.choice((1, 2)) if "disability_care" in cats else rng.choice((3, 4))
        disabled.categories.extend(cats)
        if rng.random() < 0.6:
            for member in members:
                member.categories.append("dibao_edge")
        households.append(HouseholdRef(0, "disability", members=members))
    return households


def _elderly_households(world: World, count: int) -> list[HouseholdRef]:
    """Elderly people in economic difficulty, alone or as a couple."""
    rng = world.rng
    households = []
    for _ in range(count):
        size = 1 if rng.random() < 0.55 else 2
        members = _family(world, size, head_age=rng.randint(65, 92))
        if size == 2:
            members[1].relation, members[1].age = "配偶", max(60, members[0].age + rng.randint(-5, 5))
        for member in members:
            member.categories.append("elderly_poor")
        households.append(HouseholdRef(0, "elderly", members=members))
    return households


def _child_households(world: World, dibao: list[HouseholdRef], target: dict[str, int]) -> list[HouseholdRef]:
    """Orphans, children in difficulty and children without de-facto guardians (minors)."""
    rng = world.rng
    minors_in_dibao = [m for h in dibao for m in h.members if m.minor and m.relation in ("子女", "孙子女")]
    rng.shuffle(minors_in_dibao)
    households = []
    for category, inside_share in (("orphan", 0.25), ("child_difficulty", 0.5), ("child_unsupported", 0.3)):
        total = target[category]
        inside = min(round(total * inside_share), len(minors_in_dibao))
        for _ in range(inside):
            minors_in_dibao.pop().categories.append(category)
        for _ in range(total - inside):
            grandparent = rng.randint(58, 80)
            members = _family(world, 1, head_age=grandparent)
            if rng.random() < 0.5:
                members.append(MemberRef(0, "配偶", max(55, grandparent + rng.randint(-4, 4)),
                                         "F" if members[0].sex == "M" else "M"))
            child = MemberRef(0, "孙子女", rng.randint(1, 17), rng.choice("MF"), 0, [category])
            members.append(child)
            if rng.random() < 0.25:
                members.append(MemberRef(0, "孙子女", rng.randint(1, 17), rng.choice("MF")))
            households.append(HouseholdRef(0, "child", members=members))
    return households


# ---------------------------------------------------------------- rows

def place_households(world: World) -> None:
    """Spread households over the towns (sub-districts get a smaller share) and their villages."""
    rng = world.rng
    weights = [0.45 if t.kind == "street" else rng.uniform(0.8, 1.4) for t in world.towns]
    households = rng.sample(world.households, len(world.households))
    for i, household in enumerate(households):
        if i < HOUSEHOLDS_PER_TOWN_MIN * len(world.towns):
            town = world.towns[i % len(world.towns)]
        else:
            town = rng.choices(world.towns, weights)[0]
        village = rng.choice(world.villages[town.id])
        household.town_id, household.village_id = town.id, village.id
        household.lat, household.lon = world.jitter(village.lat, village.lon, 0.3)
    world.households = households


def write_households(world: World) -> None:
    """Assign ids and insert households and members (IDs encrypted, hashed and masked)."""
    rng, w = world.rng, world.writer
    village_name = {v.id: v.name for vs in world.villages.values() for v in vs}
    per_town: dict[int, int] = {}
    household_rows, member_rows = [], []
    for household in world.households:
        household.id = w.next_id(Household)
        town = world.town_by_id[household.town_id]
        per_town[town.id] = per_town.get(town.id, 0) + 1
        family_name = names.surname(rng)
        head_name = ""
        for member in household.members:
            member.id = w.next_id(Member)
            inherits = member.relation in ("户主", "子女", "孙子女") or (member.relation == "父母" and member.sex == "M")
            name = names.full_name(rng, member.sex, family_name if inherits else None)
            head_name = head_name or name
            born = names.birth_date_for_age(rng, world.today, member.age)
            number = world.ids.make(born, member.sex)
            member_rows.append({
                "id": member.id, "household_id": household.id, "name": name,
                **world.protect.id_columns(number), "id_suffix": number[-4:], "relation": member.relation,
                "birth_date": idnumber.birth_date_of(number), "sex": idnumber.sex_of(number),
                "disability_grade": member.disability_grade, "health_notes": _health_note(world, member),
            })
        phone = names.mobile_number(rng) if rng.random() < 0.9 else None
        code = f"{world.county_short}-{town.code.split('-', 1)[-1]}-{per_town[town.id]:05d}"  # TZ-longquan-00001
        household_rows.append({
            "id": household.id, "code": code, "town_id": town.id,
            "village_id": household.village_id, "head_name": head_name,
            "address": _address(world, town.kind, village_name[household.village_id]),
            **world.protect.phone_columns(phone), "lives_alone_elderly": household.lives_alone_elderly,
            "created_at": world.now - timedelta(days=rng.randint(400, 2500)),
        })
    w.insert(Household, household_rows)
    w.insert(Member, member_rows)


def _address(world: World, kind: str, village: str) -> str:
    rng = world.rng
    if kind == "street":
        return f"{village}{rng.randint(1, 40)}号楼{rng.randint(1, 4)}单元{rng.randint(1, 6)}0{rng.randint(1, 4)}室"
    return f"{village}{rng.randint(1, 320)}号"


def _health_note(world: World, member: MemberRef) -> str | None:
    rng = world.rng
    if member.disability_grade:
        return rng.choice(HEALTH_DISABLED)
    if member.age >= 70 and rng.random() < 0.4:
        return rng.choice(HEALTH_ELDERLY)
    return None


def write_enrollments(world: World) -> None:
    """One enrollment per member and category; a household's members share their dibao start date."""
    rng, w = world.rng, world.writer
    rows = []
    for household in world.households:
        shared_since = world.today - timedelta(days=rng.randint(90, 3000))
        for member in household.members:
            for category in member.categories:
                since = shared_since if category in ("dibao", "dibao_edge") else \
                    world.today - timedelta(days=rng.randint(60, min(3000, 60 + member.age * 365)))
                rows.append({"id": w.next_id(Enrollment), "member_id": member.id,
                             "category_id": world.assistance_id[category], "since": since})
    w.insert(Enrollment, rows)


def recent_months(today: date, count: int = 3) -> list[date]:
    """The first days of the `count` months before today's month, oldest first."""
    months, year, month = [], today.year, today.month
    for _ in range(count):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        months.append(date(year, month, 1))
    return months[::-1]


def write_material_assistance(world: World) -> None:
    """Three recent months of payments per enrolled household and category (temporary aid: once)."""
    rng, w = world.rng, world.writer
    months = recent_months(world.today)
    rows = []
    for household in world.households:
        persons: dict[str, int] = {}
        for member in household.members:
            for category in member.categories:
                persons[category] = persons.get(category, 0) + 1
        for category in sorted(persons):
            if category == "temporary":
                rows.append(_payment(world, household.id, category, rng.choice(months),
                                     rng.randint(10, 30) * 10_000, None))
                continue
            low, high = MONTHLY_YUAN[category]
            amount = persons[category] * rng.randint(low // 10, high // 10) * 1000
            in_kind = "米面油等生活物资" if category == "dibao_edge" else None
            for month in months:
                rows.append(_payment(world, household.id, category, month, amount, in_kind))
    w.insert(MaterialAssistance, rows)


def _payment(world: World, household_id: int, category: str, month: date, cents: int,
             in_kind: str | None) -> dict:
    return {"id": world.writer.next_id(MaterialAssistance), "household_id": household_id,
            "category_id": world.assistance_id[category], "month": month, "amount_cents": cents,
            "in_kind": in_kind}

