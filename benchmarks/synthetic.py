"""A synthetic Tengzhou-scale problem and a position-biased order history, shared by the bench and tests.

Plausible, not rigged: agencies' counselling capacity is scarce, volunteers are many but most have no
free slot this week and narrow (evening/weekend) windows, rural towns have fewer volunteers. The
"true" outcome process (`true_probability`) is a nonlinear function of the same features plus latent
provider quality and noise; the cold-start scorer does not know it.

The history's hidden drivers (what a learner must discover, none of them visible to it directly): the outcome
process above; position bias (ETA_TRUE); and a time trend over the logged year: provider quality drifts
(QUALITY_TREND_SD), demand shifts towards counselling-like work (DEMAND_SHIFT) and the pairing effect grows
(PAIRING_GAIN). Their sizes were set from the domain before any evaluation was run, not tuned to its results.
"""
from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

import numpy as np

from socialforce.matching.features import FEATURES
from socialforce.matching.taxonomy import CATEGORIES, TOWNS, URBAN_TOWN_IDS
from socialforce.matching.types import Context, Item, Offer, TrackRecord

ON_DATE = date(2024, 6, 3)
ETA_TRUE = 1.0
"""Position bias simulated in the history: P(examined at 0-based position p) = (1 / (1 + p)) ** ETA_TRUE."""

PHRASES: dict[str, tuple[str, ...]] = {
    "counselling": ("心理疏导", "情绪压力大", "一对一心理咨询", "焦虑抑郁", "心理健康评估", "危机干预"),
    "emotional_comfort": ("精神慰藉", "陪伴聊天", "上门探访", "缓解孤独", "节日慰问", "读报谈心"),
    "resource_linking": ("资源链接", "政策咨询", "申请救助", "对接慈善资源", "办理补贴手续", "转介服务"),
    "capability_building": ("能力提升", "技能培训", "自我发展", "家庭教育指导", "理财能力", "自信心建设"),
    "social_integration": ("社会融入", "社区活动", "邻里互助", "兴趣小组", "重建支持网络", "文体活动"),
    "rehabilitation": ("康复训练", "肢体功能恢复", "康复指导", "辅具适配", "残疾康复", "偏瘫护理"),
    "tutoring": ("学业辅导", "作业辅导", "功课补习", "阅读陪伴", "数学英语", "升学指导"),
    "daily_care": ("生活照料", "打扫卫生", "代购买菜", "做饭助餐", "洗衣理发", "助浴助洁"),
    "employment": ("就业帮扶", "农业生产", "种植养殖技术", "求职指导", "手工就业", "电商销售"),
    "legal_aid": ("法律援助", "法律咨询", "赡养纠纷", "劳动争议", "依法维权", "遗产继承"),
    "medical_escort": ("就医陪护", "陪同看病", "取药送药", "住院陪护", "预约挂号", "慢病随访"),
}
ITEM_GENERIC = ("独居老人", "家中困难", "需要帮助", "每周一次", "行动不便", "留守儿童", "重病患者", "单亲家庭")
OFFER_GENERIC = ("志愿服务", "专业团队", "热心公益", "时间灵活", "服务社区", "经验丰富", "耐心细致")
ITEM_CATEGORY_SHARE = {
    "counselling": .08, "emotional_comfort": .16, "resource_linking": .08, "capability_building": .06,
    "social_integration": .06, "rehabilitation": .07, "tutoring": .09, "daily_care": .18, "employment": .08,
    "legal_aid": .04, "medical_escort": .10,
}
VOLUNTEER_TASKS = ("emotional_comfort", "tutoring", "daily_care", "medical_escort")
AGENCY_CATEGORIES = ("emotional_comfort", "resource_linking", "capability_building", "social_integration",
                     "rehabilitation")
UNIT_CATEGORIES = ("emotional_comfort", "resource_linking", "employment", "daily_care", "social_integration",
                   "capability_building")
SECOND_OFFER_SHARE = {"agency": .5, "unit": .4, "volunteer": .25}
"""Share of providers (volunteers: of those with a free slot) publishing a second, overlapping offer: a
weekend one, one for another category, or one in a neighbouring town (drawn from a separate stream)."""
PARTIAL_OK_CATEGORIES = ("emotional_comfort",)
"""Teams staff allow to be served by fewer people than asked (visits in company); others are all-or-nothing."""
VOLUNTEER_CATEGORY_SHARE = {"emotional_comfort": .5, "daily_care": .4, "tutoring": .3, "medical_escort": .25,
                            "social_integration": .15, "employment": .1}


@dataclass(frozen=True)
class Problem:
    """Items, offers and context of one synthetic instance, plus the hidden truth used for histories."""

    items: tuple[Item, ...]
    offers: tuple[Offer, ...]
    context: Context
    quality: dict[int, float]
    provider_noise: dict[int, float]


def _windows(rng: np.random.Generator, n: int, weights: np.ndarray, low: int, high: int) -> np.ndarray:
    """n random 21-bit masks with low..high cells drawn without replacement by `weights` (Gumbel top-k)."""
    keys = np.log(weights)[None, :] + rng.gumbel(size=(n, 21))
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    counts = rng.integers(low, high + 1, size=n)
    chosen = rank < counts[:, None]
    return (chosen * (1 << np.arange(21, dtype=np.int64))[None, :]).sum(axis=1)


def _cell_weights(weekday_day: float, weekday_evening: float, weekend: float) -> np.ndarray:
    w = np.empty(21)
    for d in range(7):
        for p in range(3):
            w[d * 3 + p] = weekend if d >= 5 else (weekday_evening if p == 2 else weekday_day)
    return w


def _text(pr: random.Random, categories: list[str], generic: tuple[str, ...], per: int) -> str:
    parts = []
    for cat in categories:
        parts.extend(pr.sample(PHRASES[cat], per))
    parts.append(pr.choice(generic))
    pr.shuffle(parts)
    return "，".join(parts)


def _village(pr: random.Random, town_index: int, villages: list[list[tuple[float, float]]]) -> tuple[float, float]:
    return pr.choice(villages[town_index])


def make_problem(scale: float = 1.0, seed: int = 0) -> Problem:
    """A Tengzhou-like instance: about scale x 100k items, 13 agencies, 60 units, 259,600 volunteers."""
    rng = np.random.default_rng(seed)
    pr = random.Random(seed)
    town_ids = np.array([t[0] for t in TOWNS])
    town_ll = np.array([(t[3], t[4]) for t in TOWNS])
    urban = np.array([t in URBAN_TOWN_IDS for t in town_ids])
    n_villages = 25
    ang = rng.uniform(0, 2 * math.pi, size=(21, n_villages))
    rad = 4.0 * np.sqrt(rng.uniform(0, 1, size=(21, n_villages)))
    villages = np.stack([town_ll[:, :1] + rad * np.sin(ang) / 110.574,
                         town_ll[:, 1:] + rad * np.cos(ang) / (111.32 * math.cos(math.radians(35)))], axis=2)
    villages = [[(float(a), float(b)) for a, b in town] for town in villages]

    # households and their vulnerability
    n_hh = max(40, round(40_000 * scale))
    hh_town = rng.choice(21, size=n_hh, p=np.where(urban, 1.3, 1.0) / np.where(urban, 1.3, 1.0).sum())
    flags = rng.uniform(size=(n_hh, 5)) < np.array([.17, .015, .25, .2, .25])  # tekun, orphan, severe, alone, child
    flags[:, 4] |= flags[:, 1]
    base = 1 - np.prod(1 - flags[:, :4] * np.array([.45, .55, .35, .3]), axis=1)
    priority = np.clip(0.05 + base + rng.uniform(0, 0.08, size=n_hh), 0, 1)

    # items
    n_items = max(30, round(100_000 * scale))
    cats = np.array(CATEGORIES)
    share = np.array([ITEM_CATEGORY_SHARE[c] for c in CATEGORIES])
    item_hh = rng.integers(n_hh, size=n_items)
    item_cat = rng.choice(len(cats), size=n_items, p=share / share.sum())
    item_w = _windows(rng, n_items, _cell_weights(3.0, 1.0, 1.5), 3, 8)
    items = []
    for i in range(n_items):
        h = int(item_hh[i])
        cat = str(cats[item_cat[i]])
        child = bool(flags[h, 4])
        if cat == "tutoring" and not child:
            cat = "daily_care"
        minor = child and (cat == "tutoring" or (cat in ("counselling", "emotional_comfort", "social_integration")
                                                 and pr.random() < .4))
        k = 1
        if cat in VOLUNTEER_TASKS:
            u = pr.random()
            k = 3 if u < .03 else 2 if u < .13 else 1
        lat, lon = _village(pr, int(hh_town[h]), villages)
        items.append(Item(id=100_000_000 + i, household_id=h + 1, town_id=int(town_ids[hh_town[h]]), lat=lat,
                          lon=lon, category=cat, description=_text(pr, [cat], ITEM_GENERIC, 2),
                          priority=round(float(priority[h]), 4), minor=minor, windows=int(item_w[i]),
                          slots_needed=k, partial_ok=k > 1 and cat in PARTIAL_OK_CATEGORIES))

    offers: list[Offer] = []
    kinds: dict[int, str] = {}
    valid = (ON_DATE - timedelta(days=180), ON_DATE + timedelta(days=180))

    def nearest_towns(t: int, count: int) -> frozenset[int]:
        d = np.hypot(town_ll[:, 0] - town_ll[t, 0], (town_ll[:, 1] - town_ll[t, 1]) * 0.82)
        return frozenset(int(town_ids[j]) for j in np.argsort(d, kind="stable")[:count])

    # agencies: every category of theirs incl. counselling; capacity is scarce
    n_ag = max(3, round(13 * scale))
    agency_slots = 9_000 * scale
    for a in range(n_ag):
        pid = 1 + a
        home = a * 21 // n_ag
        cats_a = ["counselling"] + sorted(rng.choice(AGENCY_CATEGORIES, size=3, replace=False).tolist())
        quals = {"licensed_social_worker"} | ({"certified_counsellor"} if pr.random() < .6 else set()) \
            | ({"rehab_therapist"} if pr.random() < .4 else set())
        lat, lon = town_ll[home]
        offers.append(Offer(id=pid, provider_id=pid, provider_kind="agency", categories=frozenset(cats_a),
                            towns=nearest_towns(home, math.ceil(21 * 1.6 / n_ag)), lat=float(lat), lon=float(lon),
                            radius_km=0.0, qualifications=frozenset(quals), background_checked=True,
                            windows=int(_cell_weights(1, 0, 0)[:21].astype(bool) @ (1 << np.arange(21))),
                            slots_left=max(1, round(agency_slots / n_ag * rng.uniform(.6, 1.4))),
                            valid_from=valid[0], valid_to=valid[1],
                            description=_text(pr, cats_a, OFFER_GENERIC, 2)))
        kinds[pid] = "agency"

    # pairing units
    n_units = max(5, round(60 * scale))
    unit_slots = 8_000 * scale
    for u in range(n_units):
        pid = 1_000 + u
        home = int(rng.integers(21))
        cats_u = sorted(rng.choice(UNIT_CATEGORIES, size=3, replace=False).tolist())
        quals: set[str] = set()
        if u % 12 == 0:
            cats_u.append("legal_aid")
            quals.add("lawyer")
        if u % 7 == 0:
            cats_u.append("medical_escort")
            quals.add("medical")
        lat, lon = _village(pr, home, villages)
        offers.append(Offer(id=pid, provider_id=pid, provider_kind="unit", categories=frozenset(cats_u),
                            towns=nearest_towns(home, int(rng.integers(1, 4))), lat=lat, lon=lon,
                            radius_km=float(rng.uniform(8, 15)), qualifications=frozenset(quals),
                            background_checked=True, windows=int(_windows(rng, 1, _cell_weights(3, .3, .3), 6, 10)[0]),
                            slots_left=max(1, round(unit_slots / n_units * rng.uniform(.5, 1.5))),
                            valid_from=valid[0], valid_to=valid[1],
                            description=_text(pr, cats_u, OFFER_GENERIC, 1)))
        kinds[pid] = "unit"

    # volunteers: many, few slots, narrow windows, concentrated in the urban sub-districts
    n_vol = max(50, round(259_600 * scale))
    tw = np.where(urban, 3.0, 1.0)
    vol_town = rng.choice(21, size=n_vol, p=tw / tw.sum())
    vol_w = _windows(rng, n_vol, _cell_weights(.6, 2.5, 3.0), 2, 4)
    vol_slots = rng.choice([0, 1, 2], size=n_vol, p=[.80, .15, .05])
    vc = list(VOLUNTEER_CATEGORY_SHARE)
    vshare = np.array([VOLUNTEER_CATEGORY_SHARE[c] for c in vc])
    for v in range(n_vol):
        pid = 10_000 + v
        t = int(vol_town[v])
        mine = [c for c, s in zip(vc, vshare, strict=True) if pr.random() < s] or [pr.choice(vc)]
        quals = set()
        u = pr.random()
        if u < .006:
            mine.append("counselling")
            quals.add("certified_counsellor")
        elif u < .010:
            mine.append("rehabilitation")
            quals.add("rehab_therapist")
        elif u < .013:
            mine.append("legal_aid")
            quals.add("lawyer")
        if "tutoring" in mine and pr.random() < .3:
            quals.add("teacher")
        towns = {int(town_ids[t])}
        if pr.random() < .1:
            towns |= nearest_towns(t, 2)
        r = pr.random()
        start = valid[0] if r > .05 else (ON_DATE - timedelta(days=400) if r < .03 else ON_DATE + timedelta(days=7))
        lat, lon = _village(pr, t, villages)
        offers.append(Offer(id=pid, provider_id=pid, provider_kind="volunteer", categories=frozenset(mine),
                            towns=frozenset(towns), lat=lat, lon=lon,
                            radius_km=pr.uniform(2, 5) if pr.random() < .3 else 0.0,
                            qualifications=frozenset(quals), background_checked=bool(pr.random() < .45),
                            windows=int(vol_w[v]), slots_left=int(vol_slots[v]), valid_from=start,
                            valid_to=start + timedelta(days=365), description=_text(pr, mine, OFFER_GENERIC, 1)))
        kinds[pid] = "volunteer"

    offers.extend(_second_offers(offers, seed, villages, nearest_towns))
    items, offers = _shared(items, offers)
    quality = {pid: float(q) for pid, q in zip(kinds, rng.beta(8, 2, size=len(kinds)), strict=True)}
    noise = {pid: float(z) for pid, z in zip(kinds, rng.normal(0, .3, size=len(kinds)), strict=True)}
    return Problem(items=tuple(items), offers=tuple(offers), context=_context(rng, pr, items, offers, kinds, quality),
                   quality=quality, provider_noise=noise)


def _shared(items: list[Item], offers: list[Offer]) -> tuple[list[Item], list[Offer]]:
    """The same items and offers with each distinct text, category, set and date held once.

    The synthetic texts and sets repeat a lot (at scale 1.0: 7,893 distinct texts among 100k items, 77k among
    273k offers, 327 distinct category, town and qualification sets), and a pickle keeps shared objects shared,
    so the cached problem loads into far less memory. The values are equal: results are the same.
    """
    seen: dict = {}

    def one(value):
        return seen.setdefault(value, value)

    items = [replace(it, category=one(it.category), description=one(it.description)) for it in items]
    offers = [replace(o, provider_kind=one(o.provider_kind), categories=one(o.categories), towns=one(o.towns),
                      qualifications=one(o.qualifications), valid_from=one(o.valid_from),
                      valid_to=one(o.valid_to), description=one(o.description)) for o in offers]
    return items, offers


def _second_offers(offers: list[Offer], seed: int, villages: list[list[tuple[float, float]]],
                   nearest_towns) -> list[Offer]:
    """Second offers of a SECOND_OFFER_SHARE of the providers: weekend, another category or a nearby town."""
    rng = np.random.default_rng(seed + 1_000_003)
    pr = random.Random(seed + 1_000_003)
    town_ids = [t[0] for t in TOWNS]
    pools = {"agency": AGENCY_CATEGORIES, "unit": UNIT_CATEGORIES, "volunteer": tuple(VOLUNTEER_CATEGORY_SHARE)}
    out = []
    for o in offers:
        if o.slots_left == 0 or pr.random() >= SECOND_OFFER_SHARE[o.provider_kind]:
            continue
        kind = pr.choice(("weekend", "category", "town"))
        cats, towns, (lat, lon) = o.categories, o.towns, (o.lat, o.lon)
        windows = o.windows
        if kind == "weekend":
            windows = int(_windows(rng, 1, _cell_weights(.01, .01, 3.0), 2, 4)[0])
        elif kind == "category":
            others = [c for c in pools[o.provider_kind] if c not in o.categories]
            cats = frozenset([pr.choice(others)]) if others else cats
        else:
            home = town_ids.index(min(o.towns)) if o.towns else 0
            near = [t for t in nearest_towns(home, len(o.towns) + 3) if t not in o.towns] or [town_ids[home]]
            town = pr.choice(sorted(near))
            towns, (lat, lon) = frozenset([town]), pr.choice(villages[town_ids.index(town)])
        out.append(replace(o, id=1_000_000 + len(out), categories=cats, towns=towns, lat=lat, lon=lon,
                           windows=windows, slots_left=max(1, round(o.slots_left * pr.uniform(.3, .8))),
                           description=_text(pr, sorted(cats), OFFER_GENERIC, 1)))
    return out


def _context(rng: np.random.Generator, pr: random.Random, items: list[Item], offers: list[Offer],
             kinds: dict[int, str], quality: dict[int, float]) -> Context:
    by_town: dict[int, list[int]] = {}
    for o in offers:
        for t in o.towns:
            by_town.setdefault(t, []).append(o.provider_id)
    hh_town = {it.household_id: it.town_id for it in items}
    pairings, served, blocks = set(), set(), set()
    units_by_town = {t: [p for p in ps if kinds[p] == "unit"] for t, ps in by_town.items()}
    for h, t in sorted(hh_town.items()):
        if pr.random() < .25 and units_by_town.get(t):
            pairings.add((pr.choice(units_by_town[t]), h))
        if pr.random() < .15 and by_town.get(t):
            served.add((pr.choice(by_town[t]), h))
        if pr.random() < .005 and by_town.get(t):
            blocks.add((h, pr.choice(by_town[t])))
    exclusions = {(it.id, pr.choice(by_town[it.town_id])) for it in items
                  if pr.random() < .01 and by_town.get(it.town_id)}
    pids = np.array([o.provider_id for o in offers])
    kind = np.array([kinds[p] for p in pids])
    q = np.array([quality[p] for p in pids])
    slots = np.array([o.slots_left for o in offers])
    vol = kind == "volunteer"
    n = np.where(vol, np.where(rng.uniform(size=pids.size) < .4, 0, rng.geometric(1 / 8, size=pids.size)),
                 rng.poisson(np.where(kind == "agency", 300, 100)))
    load = np.where(vol, rng.integers(0, 2, size=pids.size), (slots * rng.uniform(.2, 1.0, size=pids.size)).astype(int))
    acc = rng.binomial(n, np.minimum(.98, q + .05))
    done = rng.binomial(acc, np.minimum(.99, q + .1))
    ratings = np.clip(np.round(rng.normal(np.repeat(2.5 + 2 * q, done), .8)), 1, 5)
    sat_sum = np.add.reduceat(np.r_[ratings, 0.0], np.r_[0, np.cumsum(done)[:-1]]) * (done > 0)
    records = {int(p): TrackRecord(int(p), accepted=int(a), declined=int(k - a), completed=int(d),
                                   satisfaction_sum=float(ss), satisfaction_count=int(d))
               for p, k, a, d, ss in zip(pids, n, acc, done, sat_sum, strict=True)}
    return Context(on_date=ON_DATE, pairings=frozenset(pairings), served_before=frozenset(served),
                   exclusions=frozenset(exclusions), household_blocks=frozenset(blocks),
                   load={int(p): int(x) for p, x in zip(pids, load, strict=True)}, track_records=records)


COUNSEL_LIKE = ("counselling", "emotional_comfort", "legal_aid", "rehabilitation")
QUALITY_TREND_SD = 0.08
"""History: each provider's latent quality drifts linearly over the year, slope ~ N(0, 0.08) per year (quality is
Beta(8, 2), sd 0.12): some providers improve, some degrade. The quality in the Problem is today's (the log's end)."""
DEMAND_SHIFT = 0.7
"""History: the log-odds of a query being counselling-like rather than practical rises by 0.7 over the year (the
bureau's mental-health campaign): the early and late query mixes differ."""
PAIRING_GAIN = (0.5, 1.5)
"""History: the pairing unit's effect on success grows from 0.5 to 1.5 (logit, before the x1.6) over the year as
pairing units get to know their households."""


def true_probability(values: np.ndarray, category: np.ndarray, kind: np.ndarray, quality: np.ndarray,
                     noise: np.ndarray, when: np.ndarray | float = 1.0) -> np.ndarray:
    """The simulation's hidden P(accepted, completed, rated >= 4) if the provider looks at the order.

    Text fit matters far more for counselling-like work; latent provider quality (of which the track
    record is only a noisy estimate) saturates; distance hurts volunteers much more than agencies and
    units; pairing (more so later in the year: `when` is the share of the year elapsed, PAIRING_GAIN) and
    continuity help; overloaded providers decline; plus per-provider noise.
    """
    text, km, pairing, continuity, _track, _priority, load = values.T
    counsel = np.isin(category, [CATEGORIES.index(c) for c in COUNSEL_LIKE])
    volunteer = kind == 2
    pairing_gain = PAIRING_GAIN[0] + (PAIRING_GAIN[1] - PAIRING_GAIN[0]) * np.asarray(when, dtype=np.float64)
    logit = 1.6 * (-1.0 + np.where(counsel, 12.0, 4.0) * (text - 0.35) + 3.5 * np.tanh(5.0 * (quality - 0.75))
                   - np.where(volunteer, 0.8, 0.1) * km + pairing_gain * pairing + 1.5 * continuity
                   - 3.0 * np.maximum(0.0, 0.5 - load)) + noise
    return 1.0 / (1.0 + np.exp(-logit))


def expected_track_record(quality: np.ndarray) -> np.ndarray:
    """The track record a provider of this latent quality earns on average (the _context draws, without priors)."""
    q = np.asarray(quality, dtype=np.float64)
    return np.minimum(.98, q + .05) * np.minimum(.99, q + .1) * (1.5 + 2.0 * q) / 4.0


def _query_days_and_items(rng: np.random.Generator, items: Sequence[Item], n_queries: int,
                          days: int) -> tuple[np.ndarray, np.ndarray]:
    """(day offset, item index) per query: uniform days; items drawn month by month with the DEMAND_SHIFT mix."""
    day = np.sort(rng.integers(days, size=n_queries))
    counsel = np.array([it.category in COUNSEL_LIKE for it in items])
    picks = np.empty(n_queries, dtype=np.int64)
    months = np.minimum(day * 12 // days, 11)
    for m in range(12):
        mine = np.flatnonzero(months == m)
        if mine.size:
            w = np.exp(np.where(counsel, 0.5, -0.5) * DEMAND_SHIFT * ((m + 0.5) / 12 - 0.5))
            picks[mine] = rng.choice(len(items), size=mine.size, p=w / w.sum(),
                                     replace=mine.size > len(items))
    return day, picks


def make_history(problem: Problem, index, n_queries: int = 8_000, shown: int = 20, days: int = 365,
                 seed: int = 1):
    """A year of logged dispatch lists with position-biased outcomes and a time trend.

    The logging policy shows the top `shown` of the cold-start ranking perturbed by Gumbel noise; an
    order at position p is examined with probability (1/(1+p))**ETA_TRUE and, if examined, succeeds
    with `true_probability`. Hidden drivers that change over the year: provider quality drifts
    (QUALITY_TREND_SD; the logged track record follows it, as the record stood that day), the query mix
    shifts towards counselling-like work (DEMAND_SHIFT) and pairing counts more (PAIRING_GAIN). So a
    random split and a time split differ. Returns LoggedOutcomes with `relevant` = the outcome had it
    been examined.
    """
    from socialforce.matching.learn import LoggedOutcomes, category_code

    rng = np.random.default_rng(seed)
    items = problem.items
    offset, picks = _query_days_and_items(rng, items, n_queries, days)
    table = index.candidate_table([items[i] for i in np.unique(picks)], 2 * shown)
    starts = np.searchsorted(table.item_ids, table.all_item_ids, side="left")
    ends = np.searchsorted(table.item_ids, table.all_item_ids, side="right")
    where = {int(i): (a, b) for i, a, b in zip(table.all_item_ids, starts, ends, strict=True)}
    item_by_id = {it.id: it for it in items}
    first_day = ON_DATE.toordinal() - days
    rows, query, day, position = [], [], [], []
    for q, i in enumerate(picks):
        a, b = where[items[i].id]
        if b - a < 2:
            continue
        noisy = table.scores[a:b] + rng.gumbel(scale=0.08, size=b - a)
        order = a + np.argsort(-noisy, kind="stable")[:shown]
        rows.append(order)
        query.append(np.full(order.size, q))
        day.append(np.full(order.size, first_day + int(offset[q])))
        position.append(np.arange(order.size))
    sel = np.concatenate(rows)
    pos = np.concatenate(position)
    day_of = np.concatenate(day)
    when = (day_of - first_day) / days
    category = np.array([category_code(item_by_id[int(i)].category) for i in table.item_ids[sel]])
    kind = np.array([index.kind_codes[index.offer_pos[int(o)]] for o in table.offer_ids[sel]], dtype=np.int64)
    providers = table.provider_ids[sel]
    trend = {p: s for p, s in zip(problem.quality, rng.normal(0, QUALITY_TREND_SD, len(problem.quality)),
                                  strict=True)}
    today = np.array([problem.quality[int(p)] for p in providers])
    quality = np.clip(today + np.array([trend[int(p)] for p in providers]) * (when - 1.0), 0.01, 0.99)
    noise = np.array([problem.provider_noise[int(p)] for p in providers])
    values = table.values[sel].copy()
    track = FEATURES.index("track_record")
    values[:, track] = np.clip(values[:, track] + expected_track_record(quality) - expected_track_record(today), 0, 1)
    p = true_probability(values, category, kind, quality, noise, when)
    relevant = rng.uniform(size=p.size) < p
    examined = rng.uniform(size=p.size) < (1.0 / (1.0 + pos)) ** ETA_TRUE
    return LoggedOutcomes(query=np.concatenate(query), day=day_of, position=pos, values=values,
                          category=category, kind=kind, label=relevant & examined, relevant=relevant)
