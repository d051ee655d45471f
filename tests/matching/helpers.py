"""Small random instances for property tests (plain stdlib random, seeded)."""
from __future__ import annotations

import random
from datetime import date, timedelta

from socialforce.matching.types import Context, Item, Offer, TrackRecord

DAY = date(2024, 6, 3)
CATS = ("counselling", "daily_care", "tutoring")
QUALS = ("licensed_social_worker", "certified_counsellor", "teacher")
TOWN_LL = {1: (35.08, 117.16), 2: (35.10, 117.22), 3: (35.02, 117.12)}


def random_instance(seed: int, n_items: int | None = None, n_offers: int | None = None, providers: int = 0
                    ) -> tuple[list[Item], list[Offer], Context]:
    """Items, offers and a context with every kind of hard constraint in play.

    `providers` > 0 draws each offer's provider among that many, so providers publish several offers.
    """
    r = random.Random(seed)
    n_items = n_items or r.randint(1, 14)
    n_offers = n_offers or r.randint(1, 9)

    def place(town: int) -> tuple[float, float]:
        lat, lon = TOWN_LL[town]
        return lat + r.uniform(-.03, .03), lon + r.uniform(-.03, .03)

    items = []
    for i in range(n_items):
        town = r.randint(1, 3)
        lat, lon = place(town)
        items.append(Item(id=1000 + i, household_id=r.randint(1, 6), town_id=town, lat=lat, lon=lon,
                          category=r.choice(CATS), description=r.choice(["心理疏导 陪伴", "生活照料 打扫", "作业辅导", ""]),
                          priority=round(r.random(), 2), minor=r.random() < .3, windows=r.randint(1, 63),
                          slots_needed=r.choice([1, 1, 1, 2])))
    offers = []
    for j in range(n_offers):
        town = r.randint(1, 3)
        lat, lon = place(town)
        pid = 50 + (r.randrange(providers) if providers else (j if r.random() < .8 else 0))
        start = DAY - timedelta(days=r.choice([10, 10, 10, 400]))
        offers.append(Offer(id=500 + j, provider_id=pid, provider_kind=r.choice(["agency", "unit", "volunteer"]),
                            categories=frozenset(r.sample(CATS, r.randint(1, 3))),
                            towns=frozenset(r.sample([1, 2, 3], r.randint(0, 2))), lat=lat, lon=lon,
                            radius_km=r.choice([0.0, 3.0, 8.0]), qualifications=frozenset(r.sample(QUALS, r.randint(0, 2))),
                            background_checked=r.random() < .5, windows=r.randint(1, 63), slots_left=r.randint(0, 3),
                            valid_from=start, valid_to=start + timedelta(days=365),
                            description=r.choice(["心理咨询 一对一", "打扫卫生 做饭", "学业辅导 作业", ""])))
    pids = sorted({o.provider_id for o in offers})
    hh = range(1, 7)
    context = Context(
        on_date=DAY,
        pairings=frozenset((r.choice(pids), h) for h in hh if r.random() < .3),
        served_before=frozenset((r.choice(pids), h) for h in hh if r.random() < .3),
        exclusions=frozenset((it.id, r.choice(pids)) for it in items if r.random() < .2),
        household_blocks=frozenset((h, r.choice(pids)) for h in hh if r.random() < .2),
        load={p: r.randint(0, 3) for p in pids},
        track_records={p: TrackRecord(p, accepted=r.randint(0, 9), declined=r.randint(0, 3), completed=r.randint(0, 5),
                                      satisfaction_sum=4.0 * 3, satisfaction_count=3) for p in pids if r.random() < .7})
    return items, offers, context


def pair_scores(table) -> dict[tuple[int, int], float]:
    """(item id, offer id) -> cold-start score, for every row of a candidate table."""
    return {(int(i), int(o)): float(sc) for i, o, sc in zip(table.item_ids, table.offer_ids, table.scores, strict=True)}
