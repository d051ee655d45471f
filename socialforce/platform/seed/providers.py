"""Social forces: agencies with contracts and social workers, pairing units with cadres and pairings,
volunteers with qualifications; every provider publishes service offers."""
from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from itertools import accumulate

from socialforce.platform import uscc, weekmask
from socialforce.platform.models import (
    Agency,
    Contract,
    Pairing,
    PairingUnit,
    Provider,
    ProviderMember,
    Qualification,
    ServiceOffer,
    Volunteer,
    contract_categories,
    offer_categories,
    offer_towns,
    provider_towns,
)
from socialforce.platform.reference import BACKGROUND_CHECK, SERVICE_CATEGORIES
from socialforce.platform.seed import names
from socialforce.platform.seed.world import ProviderRef, TownRef, World, scaled

AGENCIES_AT_SCALE_1, UNITS_AT_SCALE_1, VOLUNTEERS_AT_SCALE_1 = 13, 60, 259_600
AGENCY_NAMES = ("同心", "善德", "阳光", "益众", "和美", "春晖", "仁爱", "启航", "暖阳", "众合", "德润", "惠民", "明德",
                "心苑", "恒爱", "乐群", "齐鲁", "墨香", "北辛", "荆泉")
AGENCY_CORE = ("counselling", "emotional_comfort", "resource_linking")
AGENCY_DEVELOPMENT = ("capability_building", "social_integration")
UNIT_CATEGORIES = ("emotional_comfort", "resource_linking", "employment", "daily_care")
UNIT_NAMES = {
    "department": ("滕州市民政局", "滕州市财政局", "滕州市人力资源和社会保障局", "滕州市教育局", "滕州市卫生健康局",
                   "滕州市住房和城乡建设局", "滕州市农业农村局", "滕州市自然资源局", "滕州市交通运输局", "滕州市水利局",
                   "滕州市商务局", "滕州市文化和旅游局", "滕州市审计局", "滕州市统计局", "滕州市市场监督管理局",
                   "滕州市医疗保障局", "滕州市退役军人事务局", "滕州市应急管理局", "滕州市司法局", "滕州市税务局"),
    "enterprise": ("国网滕州市供电公司", "滕州农村商业银行", "中国邮政集团滕州分公司", "滕州市自来水有限公司",
                   "滕州市城市建设投资集团", "中国移动滕州分公司", "中国联通滕州分公司", "滕州市公共交通有限公司",
                   "滕州市粮食购销有限公司", "滕州市燃气有限公司", "滕州鲁南物流有限公司", "滕州市汇金建设有限公司"),
    "institution": ("滕州市中心人民医院", "滕州市中医医院", "滕州市妇幼保健院", "滕州市第一中学", "滕州市第二中学",
                    "滕州市实验小学", "滕州市职业教育中心学校", "滕州市图书馆", "滕州市疾病预防控制中心",
                    "滕州市融媒体中心"),
    "group": ("滕州市妇女联合会", "共青团滕州市委员会", "滕州市残疾人联合会", "滕州市总工会", "滕州市红十字会",
              "滕州市工商业联合会", "滕州市慈善总会", "滕州市科学技术协会"),
    "party": (),  # one grassroots party branch per town, named from the town
}
UNIT_SUPERIORS = {"department": "滕州市人民政府", "enterprise": "滕州市人民政府国有资产监督管理局",
                  "institution": "滕州市人民政府", "group": "中共滕州市委员会", "party": "中共滕州市委员会组织部"}
INSTITUTION_SUPERIORS = (("医院", "滕州市卫生健康局"), ("保健", "滕州市卫生健康局"), ("疾病", "滕州市卫生健康局"),
                         ("学", "滕州市教育局"), ("图书馆", "滕州市文化和旅游局"), ("融媒体", "中共滕州市委宣传部"))
VOLUNTEER_SKILLS = {"emotional_comfort": 25, "daily_care": 20, "tutoring": 15, "medical_escort": 12,
                    "employment": 8, "social_integration": 10, "capability_building": 8}
CATEGORY_ZH = {code: zh for code, zh, *_ in SERVICE_CATEGORIES}
DAYTIME = [weekmask.bit(d, p) for d in range(5) for p in (0, 1)]
EVENINGS_WEEKENDS = [weekmask.bit(d, 2) for d in range(5)] + [weekmask.bit(d, p) for d in (5, 6) for p in range(3)]


def _year_bounds(world: World) -> tuple[date, date]:
    return date(world.today.year, 1, 1), date(world.today.year, 12, 31)


def _provider_row(world: World, ref: ProviderRef, status: str, radius_km: float) -> dict:
    return {"id": ref.id, "kind": ref.kind, "name": ref.name, "status": status, "town_id": ref.town_id,
            "county_id": world.town_by_id[ref.town_id].county_id,
            "lat": ref.lat, "lon": ref.lon, "radius_km": radius_km,
            "created_at": world.now - timedelta(days=world.rng.randint(300, 1500))}


class OfferBook:
    """Collects offers with their category and town links, written in one go."""

    def __init__(self, world: World):
        self.world = world
        self.offers: list[dict] = []
        self.categories: list[dict] = []
        self.towns: list[dict] = []

    def add(self, provider: ProviderRef, title: str, description: str, categories: tuple[str, ...],
            towns: tuple[int, ...], slots: int, windows: int) -> None:
        """One active offer valid for the current year."""
        w = self.world
        offer_id = w.writer.next_id(ServiceOffer)
        start, end = _year_bounds(w)
        self.offers.append({"id": offer_id, "provider_id": provider.id, "title": title[:100],
                            "description": description[:500], "slots_per_week": slots, "windows": windows,
                            "valid_from": start, "valid_to": end, "status": "active",
                            "created_at": w.now - timedelta(days=w.rng.randint(30, 300))})
        self.categories += [{"offer_id": offer_id, "category_id": w.service_id[c]} for c in categories]
        self.towns += [{"offer_id": offer_id, "town_id": t} for t in sorted(set(towns))]

    def write(self) -> None:
        """Insert the offers and their links."""
        self.world.writer.insert(ServiceOffer, self.offers)
        self.world.writer.insert(offer_categories, self.categories)
        self.world.writer.insert(offer_towns, self.towns)
        self.offers, self.categories, self.towns = [], [], []


VERIFIED_SHARE = 0.9
"""Volunteers' own certificates that staff have already checked; the rest wait. Chosen by a hash of the provider
id, not the shared random stream, so adding the flag left the rest of the demo world unchanged."""


def _qualification(world: World, provider_id: int, code: str, number: str, declared: bool = False) -> dict:
    """A qualification; `declared` ones (a volunteer's own) are verified with VERIFIED_SHARE, the others always."""
    issued = world.today - timedelta(days=world.rng.randint(60, 2000))
    verified = not declared or code == BACKGROUND_CHECK or (provider_id * 2654435761) % 1000 < VERIFIED_SHARE * 1000
    return {"id": world.writer.next_id(Qualification), "provider_id": provider_id, "code": code,
            "document_no": number, "issued_on": issued,
            "expires_on": None if code != BACKGROUND_CHECK else issued + timedelta(days=3 * 365),
            "verified_at": datetime.combine(issued, time(2, 0)) if verified else None,
            "verified_by_id": None}


def _unit_superior(name: str, unit_type: str) -> str:
    """The department or superior body (主管部门) of a demo pairing unit."""
    if unit_type == "institution":
        return next((body for word, body in INSTITUTION_SUPERIORS if word in name), UNIT_SUPERIORS[unit_type])
    return UNIT_SUPERIORS[unit_type]


def _agency_registration(index: int, serial: int, provider_id: int) -> dict:
    """A demo agency's registration: a valid unified social credit code of a Tengzhou social-service organisation
    (5 = civil affairs, 2 = social-service organisation, 370481 = Tengzhou), a licence number and a contact phone.
    Derived from numbers already drawn, not the shared random stream, so the rest of the demo world is unchanged."""
    phone = f"139{(provider_id * 2654435761) % 10**8:08d}"
    return {"credit_code": uscc.make(f"52370481MJ{index + 1:04d}{serial % 1000:03d}"),
            "licence_no": f"滕民社证字第{index + 1:04d}号", "contact_phone": phone}


def _staff_rows(world: World, provider: ProviderRef, role: str, count: int) -> list[dict]:
    rng, rows = world.rng, []
    for _ in range(count):
        member_id = world.writer.next_id(ProviderMember)
        active = not rows or rng.random() > 0.03  # the first (a demo login) is always active
        if active:
            provider.staff.append(member_id)
        level = rng.choices(("assistant", "social_worker", "senior"), (45, 45, 10))[0] if role == "social_worker" \
            else None
        rows.append({"id": member_id, "provider_id": provider.id, "role": role,
                     "name": names.full_name(rng, rng.choice("MF")), "certificate_level": level,
                     **world.protect.phone_columns(names.mobile_number(rng)), "active": active})
    return rows


# ---------------------------------------------------------------- agencies

def build_agencies(world: World, offers: OfferBook) -> None:
    """Agencies (the first in 龙泉街道, the second in 荆河街道), their contracts, social workers and offers."""
    rng, w, s = world.rng, world.writer, world.scale
    count = scaled(AGENCIES_AT_SCALE_1, s, 2)
    homes = [world.town_by_code["longquan"], world.town_by_code["jinghe"]]
    homes += rng.sample([t for t in world.towns if t not in homes], len(world.towns) - 2)
    providers, agencies, contracts, members, quals, covered, bought = [], [], [], [], [], [], []
    start, end = _year_bounds(world)
    for i in range(count):
        home = homes[i % len(homes)]
        lat, lon = world.jitter(home.lat, home.lon, 1.0)
        base = AGENCY_NAMES[i % len(AGENCY_NAMES)] + ("" if i < len(AGENCY_NAMES) else str(i // len(AGENCY_NAMES) + 1))
        towns = (home,) + tuple(world.neighbours(home, rng.randint(1, 5)))
        ref = ProviderRef(w.next_id(Provider), "agency", f"滕州市{base}社会工作服务中心", home.id, lat, lon,
                          float(world.np.normal()), towns=tuple(t.id for t in towns))
        held = ["licensed_social_worker"]
        held += [code for code, p in (("certified_counsellor", 0.5), ("rehab_therapist", 0.3), ("lawyer", 0.25))
                 if rng.random() < p or (i == 0 and code == "certified_counsellor")]
        ref.qualifications = tuple(held)
        development = AGENCY_DEVELOPMENT + (("rehabilitation",) if "rehab_therapist" in held else ()) \
            + (("legal_aid",) if "lawyer" in held else ())
        ref.categories = AGENCY_CORE + development
        ref.strengths = tuple(rng.sample(ref.categories, 2))
        providers.append(_provider_row(world, ref, "approved", 10.0))
        quals += [_qualification(world, ref.id, code, f"ZG{370481}{rng.randrange(10**6):06d}") for code in held]
        agency_id = w.next_id(Agency)
        registration = _agency_registration(i, rng.randrange(10**4), ref.id)
        phone = world.protect.phone_columns(registration["contact_phone"])
        agencies.append({"id": agency_id, "provider_id": ref.id, "licence_no": registration["licence_no"],
                         "credit_code": registration["credit_code"],
                         "contact_name": names.full_name(rng, rng.choice("MF")),
                         "contact_phone_enc": phone["phone_enc"], "contact_phone_masked": phone["phone_masked"]})
        covered += [{"provider_id": ref.id, "town_id": t} for t in sorted(set(ref.towns))]
        hours = rng.randrange(2000, 8001, 100)
        ref.contract_id = w.next_id(Contract)
        contracts.append({"id": ref.contract_id, "agency_id": agency_id,
                          "code": f"TZMZ-GM-{world.today.year}-{i + 1:03d}",
                          "title": f"滕州市{world.today.year}年困难家庭服务类社会救助政府购买服务项目（{base}）",
                          "budget_cents": hours * rng.randint(80, 120) * 100, "purchased_hours": float(hours),
                          "used_hours": float(round(hours * rng.uniform(0.55, 0.8))), "starts_on": start,
                          "ends_on": end})
        bought += [{"contract_id": ref.contract_id, "category_id": world.service_id[c]} for c in ref.categories]
        members += _staff_rows(world, ref, "social_worker", rng.randint(8, 30))
        # at least 8 a week, so a small demo's agencies still have room after their staged orders
        slots = max(8, round(len(ref.staff) * 2 * math.sqrt(min(s, 1.0))))
        daytime = weekmask.WEEKDAYS & ~sum(weekmask.bit(d, 2) for d in range(7))
        offers.add(ref, "心理疏导与精神慰藉、资源链接", f"{ref.name}为困难家庭提供专业社会工作服务。", AGENCY_CORE,
                   ref.towns, slots, daytime)
        offers.add(ref, "能力提升与社会融入", f"{ref.name}开展能力提升、社会融入等发展性服务。", development,
                   ref.towns, slots // 2, daytime | weekmask.bit(5, 0))
        world.agencies.append(ref)
    w.insert(Provider, providers, "providers (agencies)")
    w.insert(Qualification, quals, "qualifications (agencies)")
    w.insert(Agency, agencies)
    w.insert(provider_towns, covered)
    w.insert(Contract, contracts)
    w.insert(contract_categories, bought)
    w.insert(ProviderMember, members, "provider_members (social workers)")


# ---------------------------------------------------------------- pairing units

def _unit_names(world: World, count: int) -> list[tuple[str, str]]:
    """(name, type) pairs, types interleaved so that even a few units show several types."""
    pools = {k: list(v) for k, v in UNIT_NAMES.items()}
    pools["party"] = [f"中共滕州市{t.name_zh}机关支部委员会" for t in world.towns[5:15]]
    result, round_no = [], 0
    while len(result) < count:
        for kind in ("department", "enterprise", "institution", "group", "party"):
            pool = pools[kind]
            if round_no < len(pool):
                result.append((pool[round_no], kind))
        round_no += 1
        if round_no > max(len(p) for p in pools.values()):
            pools = {k: [n + "（二）" for n in v] for k, v in pools.items()}
            round_no = 0
    return result[:count]


def build_units(world: World, offers: OfferBook) -> None:
    """Pairing units (the first in 龙泉街道, the second in 荆河街道) with cadres, pairings and offers."""
    rng, w, s = world.rng, world.writer, world.scale
    count = scaled(UNITS_AT_SCALE_1, s, 2)
    unpaired: dict[int, list] = {t.id: [] for t in world.towns}
    for household in world.households:
        unpaired[household.town_id].append(household)
    for town_id in unpaired:
        rng.shuffle(unpaired[town_id])
    weights = [len(unpaired[t.id]) for t in world.towns]
    providers, units, members, pairings, covered = [], [], [], [], []
    for i, (name, unit_type) in enumerate(_unit_names(world, count)):
        home = [world.town_by_code["longquan"], world.town_by_code["jinghe"]][i] if i < 2 \
            else rng.choices(world.towns, weights)[0]
        lat, lon = world.jitter(home.lat, home.lon, 1.5)
        ref = ProviderRef(w.next_id(Provider), "unit", name, home.id, lat, lon, float(world.np.normal()))
        providers.append(_provider_row(world, ref, "approved", 5.0))
        units.append({"id": w.next_id(PairingUnit), "provider_id": ref.id, "unit_type": unit_type,
                      "monthly_visit_quota": 1, "department": _unit_superior(name, unit_type)})
        members += _staff_rows(world, ref, "cadre", rng.randint(3, 15))
        towns = _pair_households(world, ref, home, unpaired, pairings, max(3, round(rng.randint(50, 300) * s)))
        ref.towns = tuple(sorted(towns))
        covered += [{"provider_id": ref.id, "town_id": t} for t in ref.towns]
        ref.categories = tuple(sorted(rng.sample(UNIT_CATEGORIES, rng.randint(2, 4)), key=UNIT_CATEGORIES.index))
        if i == 0:
            ref.categories = UNIT_CATEGORIES
        ref.strengths = ref.categories[:1]
        offers.add(ref, "结对帮扶走访慰问", f"{name}干部定期走访结对困难家庭，提供个性化帮扶。", ref.categories,
                   ref.towns, max(1, len(ref.staff)), weekmask.WEEKDAYS & ~sum(weekmask.bit(d, 2) for d in range(7)))
        world.units.append(ref)
    w.insert(Provider, providers, "providers (units)")
    w.insert(PairingUnit, units)
    w.insert(provider_towns, covered)
    w.insert(ProviderMember, members, "provider_members (cadres)")
    w.insert(Pairing, pairings)


def _pair_households(world: World, unit: ProviderRef, home: TownRef, unpaired: dict[int, list],
                     rows: list[dict], count: int) -> set[int]:
    """Pair `count` households: 80% in the unit's home town, the rest (and any shortfall) nearby."""
    rng = world.rng
    used: set[int] = set()
    paired = 0
    for j, town in enumerate([home] + world.neighbours(home, 3)):
        target = round(count * 0.8) if j == 0 else count
        while paired < target and unpaired[town.id]:
            household = unpaired[town.id].pop()
            cadre = unit.staff[paired % len(unit.staff)]
            since = world.today - timedelta(days=rng.randint(120, 1800))
            ended = since + timedelta(days=rng.randint(60, 100)) if rng.random() < 0.05 else None
            rows.append({"id": world.writer.next_id(Pairing), "provider_id": unit.id, "household_id": household.id,
                         "cadre_id": cadre, "since": since, "ended_on": ended})
            if ended is None:
                world.pairings[household.id] = (unit, cadre)
            used.add(town.id)
            paired += 1
    return used or {home.id}


# ---------------------------------------------------------------- volunteers

def build_volunteers(world: World, offers: OfferBook) -> None:
    """Real-name volunteers (the first in 龙泉街道, the second in 荆河街道): skills, availability, one offer each."""
    rng, w = world.rng, world.writer
    count = scaled(VOLUNTEERS_AT_SCALE_1, world.scale, 20)
    town_weights = list(accumulate(1.8 if t.kind == "street" else 1.0 for t in world.towns))
    skill_codes, skill_weights = list(VOLUNTEER_SKILLS), list(accumulate(VOLUNTEER_SKILLS.values()))
    neighbour = {t.id: world.neighbours(t, 1)[0].id for t in world.towns}
    providers, volunteers, quals = [], [], []
    for i in range(count):
        home = [world.town_by_code["longquan"], world.town_by_code["jinghe"]][i] if i < 2 \
            else rng.choices(world.towns, cum_weights=town_weights)[0]
        sex = rng.choice("MF")
        age = rng.randint(20, 70)
        real_name = names.full_name(rng, sex)
        skills = sorted(set(rng.choices(skill_codes, cum_weights=skill_weights, k=rng.choices((1, 2, 3), (40, 40, 20))[0])),
                        key=skill_codes.index)
        if i < 2:
            skills = ["emotional_comfort", "tutoring", "daily_care"] if i == 0 else ["medical_escort", "daily_care"]
        held = _volunteer_qualifications(world, skills, demo=i < 2)
        if "rehab_therapist" in held and "rehabilitation" not in skills:
            skills = skills[:2] + ["rehabilitation"]
        status = "approved" if i < 2 or rng.random() < 0.93 else "pending"
        lat, lon = world.jitter(home.lat, home.lon, 2.0)
        ref = ProviderRef(w.next_id(Provider), "volunteer", real_name, home.id, lat, lon, float(world.np.normal()),
                          categories=tuple(skills), strengths=tuple(skills[:1]), approved=status == "approved",
                          qualifications=tuple(held))
        ref.towns = (home.id, neighbour[home.id]) if rng.random() < 0.25 else (home.id,)
        ref.volunteer_id = w.next_id(Volunteer)
        radius = float(rng.randint(3, 10))
        providers.append(_provider_row(world, ref, status, radius))
        number = world.ids.make(names.birth_date_for_age(rng, world.today, age), sex)
        availability = _availability(world, age)
        volunteers.append({"id": ref.volunteer_id, "provider_id": ref.id, "real_name": real_name,
                           **world.protect.id_columns(number),
                           "id_verified": status == "approved" or rng.random() < 0.5,
                           **world.protect.phone_columns(names.mobile_number(rng)), "skills": " ".join(skills),
                           "availability": availability})
        quals += [_qualification(world, ref.id, code, f"{code[:2].upper()}{rng.randrange(10**8):08d}", declared=True)
                  for code in held]
        offers.add(ref, "志愿服务：" + "、".join(CATEGORY_ZH[c] for c in skills),
                   f"志愿者{real_name[0]}**利用业余时间提供{'、'.join(CATEGORY_ZH[c] for c in skills)}服务。",
                   tuple(skills), ref.towns, rng.randint(1, 2), availability)
        world.volunteers.append(ref)
        if len(providers) >= 20_000:
            _write_volunteers(world, offers, providers, volunteers, quals, count)
    _write_volunteers(world, offers, providers, volunteers, quals, count)


def _write_volunteers(world: World, offers: OfferBook, providers: list, volunteers: list, quals: list,
                      total: int) -> None:
    """Insert one batch of volunteers (keeps memory flat at scale 1)."""
    w = world.writer
    w.insert(Provider, providers, "providers (volunteers)")
    w.insert(Volunteer, volunteers)
    w.insert(Qualification, quals, "qualifications (volunteers)")
    offers.write()
    world.writer.progress("volunteers", len(world.volunteers), total)
    providers.clear()
    volunteers.clear()
    quals.clear()


def _volunteer_qualifications(world: World, skills: list[str], demo: bool) -> list[str]:
    """Background checks for about 40% (most tutors), a few professional qualifications."""
    rng = world.rng
    if demo:
        return [BACKGROUND_CHECK, "teacher"]
    held = []
    if rng.random() < (0.75 if "tutoring" in skills else 0.3):
        held.append(BACKGROUND_CHECK)
    for code, base, boosted_by in (("teacher", 0.02, "tutoring"), ("medical", 0.015, "medical_escort"),
                                   ("rehab_therapist", 0.015, None), ("certified_counsellor", 0.015, None)):
        if rng.random() < (0.15 if boosted_by in skills else base):
            held.append(code)
    return held


def _availability(world: World, age: int) -> int:
    """A few weekly windows: retirees in the daytime, working-age people evenings and weekends."""
    rng = world.rng
    pool = DAYTIME if age >= 58 else EVENINGS_WEEKENDS
    mask = 0
    for cell in rng.sample(pool, rng.randint(2, 5)):
        mask |= cell
    if rng.random() < 0.2:
        mask |= rng.choice(DAYTIME + EVENINGS_WEEKENDS)
    return mask
