"""The only bridge between the database and the pure `socialforce.matching` engine.

It maps ORM rows to the engine's frozen dataclasses (items, offers, context), keeps a warm index per process
(rebuilt when offers change, when any process calls `invalidate()` (a version token in the shared cache,
platform/caching.py) or after INDEX_TTL), and maps ranked candidates back to dispatch choices.
Kept as one module (about 520 lines, in sections): it is the single seam the purity test guards, and its
sections share the per-process warm state (index, text model) that splitting would spread over several modules.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import date, datetime

import sqlalchemy as sa

from socialforce.matching import types as mt
from socialforce.matching.assign import solve_batch
from socialforce.matching.check import pair_problems
from socialforce.matching.geo import KM_PER_DEG_LAT, KM_PER_DEG_LON
from socialforce.matching.index import MatchIndex
from socialforce.matching.partition import PartResult, part_index, partition, solve_part
from socialforce.matching.taxonomy import Rules
from socialforce.matching.text import TextModel
from socialforce.platform import caching, scoping
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AssistanceCategory,
    Enrollment,
    Household,
    HouseholdBlock,
    ItemStatus,
    Member,
    OfferStatus,
    Order,
    Pairing,
    Provider,
    ProviderKind,
    ProviderStatus,
    Qualification,
    ServiceCategory,
    ServiceItem,
    ServiceOffer,
    TaskSignup,
    User,
    Village,
    Volunteer,
    VolunteerTask,
    offer_categories,
    offer_towns,
    utcnow,
)
from socialforce.platform.models.orders import ACTIVE_STATES, DONE_STATES, FAILED_STATES, LIVE_TASK_STATES
from socialforce.platform.reference import BACKGROUND_CHECK
from socialforce.platform.services import background
from socialforce.platform.services.candidates import Choice, contract_hours_left_of, excluded_providers_of
from socialforce.platform.services.ranker import active_ranker
from socialforce.platform.services.track_record import provider_stats

INDEX_TTL_SECONDS = 600
INDEX_VERSION = "matching-index"  # the shared cache's version token of every process's warm index and text model
BASE_PRIORITY = {"normal": 0.2, "high": 0.5, "urgent": 0.8}
VULNERABILITY_BONUS = 0.2
SEVERE_DISABILITY_GRADES = (1, 2)


def rules() -> Rules:
    """The hard-constraint rules from the service taxonomy in the database."""
    rows = db.session.execute(sa.select(ServiceCategory.code, ServiceCategory.qualifications)).all()
    return Rules(required_qualifications={code: frozenset(q.split()) for code, q in rows if q.strip()})


# ------------------------------------------------------------------ offers and capacity
def provider_load(provider_ids: list[int] | None = None) -> dict[int, int]:
    """Live orders held by each agency/unit plus live task sign-ups held by each volunteer."""
    orders_q = sa.select(Order.provider_id, sa.func.count()).where(
        Order.state.in_(ACTIVE_STATES), Order.provider_id.is_not(None)).group_by(Order.provider_id)
    signups_q = (sa.select(Volunteer.provider_id, sa.func.count()).select_from(TaskSignup)
                 .join(Volunteer, Volunteer.id == TaskSignup.volunteer_id)
                 .join(VolunteerTask, VolunteerTask.id == TaskSignup.task_id)
                 .join(Order, Order.id == VolunteerTask.order_id)
                 .where(Order.state.in_(ACTIVE_STATES)).group_by(Volunteer.provider_id))
    if provider_ids is not None:
        orders_q = orders_q.where(Order.provider_id.in_(provider_ids))
        signups_q = signups_q.where(Volunteer.provider_id.in_(provider_ids))
    load: dict[int, int] = {}
    for provider_id, n in [*db.session.execute(orders_q), *db.session.execute(signups_q)]:
        load[provider_id] = load.get(provider_id, 0) + n
    return load


def capacity_left(provider_ids: list[int], on: date) -> dict[int, int]:
    """Weekly slots of each provider's active offers minus the work it holds now."""
    slots = dict(db.session.execute(
        sa.select(ServiceOffer.provider_id, sa.func.sum(ServiceOffer.slots_per_week))
        .where(ServiceOffer.provider_id.in_(provider_ids), ServiceOffer.status == OfferStatus.active,
               ServiceOffer.valid_from <= on, ServiceOffer.valid_to >= on)
        .group_by(ServiceOffer.provider_id)
    ).all())
    load = provider_load(provider_ids)
    return {p: int(slots.get(p, 0) or 0) - load.get(p, 0) for p in provider_ids}


ORGANISATIONS = (ProviderKind.agency, ProviderKind.unit)


def load_offers(on: date, provider_ids: list[int] | None = None,
                kinds: tuple[ProviderKind, ...] | None = None) -> list[mt.Offer]:
    """Active, valid offers of approved providers (of `kinds`, default all) as engine offers, with slots left."""
    query = (sa.select(ServiceOffer.id, ServiceOffer.provider_id, Provider.kind, Provider.lat, Provider.lon,
                       Provider.radius_km, ServiceOffer.windows, ServiceOffer.slots_per_week,
                       ServiceOffer.valid_from, ServiceOffer.valid_to, ServiceOffer.title, ServiceOffer.description)
             .join(Provider, Provider.id == ServiceOffer.provider_id)
             .where(Provider.status == ProviderStatus.approved, ServiceOffer.status == OfferStatus.active,
                    ServiceOffer.valid_from <= on, ServiceOffer.valid_to >= on))
    if provider_ids is not None:
        query = query.where(ServiceOffer.provider_id.in_(provider_ids))
    if kinds is not None:
        query = query.where(Provider.kind.in_(kinds))
    rows = db.session.execute(query.order_by(ServiceOffer.id)).all()
    offer_ids = [r.id for r in rows]
    categories = _grouped(sa.select(offer_categories.c.offer_id, ServiceCategory.code)
                          .join(ServiceCategory, ServiceCategory.id == offer_categories.c.category_id), offer_ids,
                          offer_categories.c.offer_id)
    towns = _grouped(sa.select(offer_towns.c.offer_id, offer_towns.c.town_id), offer_ids, offer_towns.c.offer_id)
    provider_set = sorted({r.provider_id for r in rows})
    quals = _grouped(sa.select(Qualification.provider_id, Qualification.code).where(Qualification.in_force(on)),
                     provider_set, Qualification.provider_id)
    unplaced_load = provider_load(provider_set if provider_ids is not None else None)
    offers = []
    for r in rows:  # a provider's current load fills its offers in id order
        held = min(r.slots_per_week, unplaced_load.get(r.provider_id, 0))
        unplaced_load[r.provider_id] = unplaced_load.get(r.provider_id, 0) - held
        provider_quals = quals.get(r.provider_id, frozenset())
        offers.append(mt.Offer(
            id=r.id, provider_id=r.provider_id, provider_kind=r.kind.value, categories=categories.get(r.id, frozenset()),
            towns=towns.get(r.id, frozenset()), lat=r.lat, lon=r.lon, radius_km=r.radius_km,
            qualifications=provider_quals, background_checked=BACKGROUND_CHECK in provider_quals,
            windows=r.windows, slots_left=r.slots_per_week - held, valid_from=r.valid_from, valid_to=r.valid_to,
            description=f"{r.title} {r.description}"))
    return offers


def _grouped(query: sa.Select, keys: list[int], key_column) -> dict[int, frozenset]:
    """Run a two-column query for `keys` (in chunks) and group the second column by the first."""
    out: dict[int, set] = {}
    for start in range(0, len(keys), 20_000):
        chunk = keys[start:start + 20_000]
        for key, value in db.session.execute(query.where(key_column.in_(chunk))):
            out.setdefault(key, set()).add(value)
    return {k: frozenset(v) for k, v in out.items()}


# ------------------------------------------------------------------ items and context
def vulnerable_households(household_ids: list[int]) -> set[int]:
    """Households with extreme poverty, an orphan or unsupported child, severe disability or an elderly person alone."""
    out: set[int] = set()
    for start in range(0, len(household_ids), 20_000):
        chunk = household_ids[start:start + 20_000]
        out |= set(db.session.scalars(
            sa.select(Member.household_id).join(Enrollment).join(AssistanceCategory)
            .where(Member.household_id.in_(chunk), AssistanceCategory.vulnerable)))
        out |= set(db.session.scalars(sa.select(Member.household_id).where(
            Member.household_id.in_(chunk), Member.disability_grade.in_(SEVERE_DISABILITY_GRADES))))
        out |= set(db.session.scalars(sa.select(Household.id).where(
            Household.id.in_(chunk), Household.lives_alone_elderly)))
    return out


def priority_of(item_priority: str, vulnerable: bool) -> float:
    """Vulnerability in [0, 1]: the item's urgency plus a bonus for a vulnerable household."""
    return min(1.0, BASE_PRIORITY[item_priority] + (VULNERABILITY_BONUS if vulnerable else 0.0))


def load_items(item_ids: list[int], on: date) -> list[mt.Item]:
    """Service items as engine items (place from the village, priority, minor flag)."""
    rows = []
    for start in range(0, len(item_ids), 20_000):
        chunk = item_ids[start:start + 20_000]
        rows += db.session.execute(
            sa.select(ServiceItem.id, ServiceItem.household_id, Household.town_id, Village.lat, Village.lon,
                      ServiceCategory.code, ServiceItem.description, ServiceItem.priority, Member.birth_date,
                      ServiceItem.windows, ServiceItem.slots_needed)
            .join(Household, Household.id == ServiceItem.household_id)
            .join(Village, Village.id == Household.village_id)
            .join(ServiceCategory, ServiceCategory.id == ServiceItem.category_id)
            .outerjoin(Member, Member.id == ServiceItem.member_id)
            .where(ServiceItem.id.in_(chunk))
        ).all()
    vulnerable = vulnerable_households(sorted({r.household_id for r in rows}))
    adult_born_before = date(on.year - 18, on.month, min(on.day, 28))
    return sorted((mt.Item(
        id=r.id, household_id=r.household_id, town_id=r.town_id, lat=r.lat, lon=r.lon, category=r.code,
        description=r.description, priority=priority_of(r.priority.value, r.household_id in vulnerable),
        minor=r.birth_date is not None and r.birth_date > adult_born_before, windows=r.windows,
        slots_needed=r.slots_needed) for r in rows), key=lambda it: it.id)


def load_context(on: date) -> mt.Context:
    """Pairings, continuity, exclusions, household blocks, load and track records as of `on`."""
    pairings = frozenset(db.session.execute(
        sa.select(Pairing.provider_id, Pairing.household_id).where(Pairing.ended_on.is_(None))).tuples())
    served = frozenset(db.session.execute(
        sa.select(Order.provider_id, ServiceItem.household_id).join(ServiceItem)
        .where(Order.state.in_(DONE_STATES), Order.provider_id.is_not(None))
        .distinct()).tuples())
    exclusions = frozenset(db.session.execute(
        sa.select(Order.item_id, Order.provider_id)
        .where(Order.state.in_(FAILED_STATES), Order.provider_id.is_not(None))).tuples())
    blocks = frozenset(db.session.execute(sa.select(HouseholdBlock.household_id, HouseholdBlock.provider_id)).tuples())
    records = {pid: mt.TrackRecord(provider_id=pid, accepted=s.accepted, declined=s.declined + s.expired,
                                   completed=s.completed, satisfaction_sum=float(s.satisfaction_sum),
                                   satisfaction_count=s.satisfaction_count)
               for pid, s in provider_stats().items()}
    return mt.Context(on_date=on, pairings=pairings, served_before=served, exclusions=exclusions,
                      household_blocks=blocks, load=provider_load(), track_records=records)


# ------------------------------------------------------------------ the warm index
@dataclass
class _Warm:
    key: tuple
    built_at: float
    index: MatchIndex


_warm: dict[str, _Warm] = {}


def _offers_version() -> tuple:
    """Changes when offers are added or paused or providers approved or suspended (load is checked fresh)."""
    return tuple(db.session.execute(sa.select(
        sa.select(sa.func.max(ServiceOffer.id)).scalar_subquery(),
        sa.select(sa.func.count(ServiceOffer.id)).where(ServiceOffer.status == OfferStatus.active).scalar_subquery(),
        sa.select(sa.func.count(Provider.id)).where(Provider.status == ProviderStatus.approved).scalar_subquery(),
    )).one())


def warm_index(on: date) -> MatchIndex:
    """The process's index of agencies' and pairing units' offers for `on` (the ones `rank_item` proposes),
    rebuilt when offers or providers changed, when any process invalidated it or after INDEX_TTL_SECONDS."""
    key = (str(db.engine.url), on, caching.token(INDEX_VERSION), _offers_version())  # read before building
    warm = _warm.get("index")
    if warm is None or warm.key != key or time.monotonic() - warm.built_at > INDEX_TTL_SECONDS:
        index = MatchIndex.build(load_offers(on, kinds=ORGANISATIONS), load_context(on), rules())
        warm = _Warm(key, time.monotonic(), index)
        _warm["index"] = warm
    return warm.index


def invalidate() -> None:
    """Drop the warm index and the offer text model (after publishing, editing or pausing an offer), in this
    process now and in every other at its next use: a new version token in the shared cache, now and again once
    the current transaction commits (another process may rebuild in between from data read before the commit)."""
    _warm.clear()
    _warm_text.clear()
    caching.bump(INDEX_VERSION)
    caching.bump_after_commit(INDEX_VERSION)


def offers_changed(provider: Provider) -> None:
    """Forget what a change to a provider's offers makes stale, in this process and (version token) in every other.

    A volunteer's task list is computed fresh from the database on every request, and `rank_item` proposes only
    agencies and pairing units, so a volunteer's edit leaves the warm index and the offer text model valid (their
    corpus statistics follow within their TTLs); an agency's or unit's edit drops both.
    """
    if provider.kind != ProviderKind.volunteer:
        invalidate()


# ------------------------------------------------------------------ ranking for the platform
def to_choice(candidate: mt.Candidate, rank: int, model_version: str = "cold-start") -> Choice:
    """A dispatch choice carrying the candidate's score, position and reasons."""
    reasons = [{"feature": r.feature, "contribution": round(r.contribution, 4), "value": round(r.value, 4)}
               for r in candidate.reasons]
    return Choice(provider_id=candidate.provider_id, score=round(candidate.score, 4), rank=rank,
                  reasons={"offer_id": candidate.offer_id, "reasons": reasons}, model_version=model_version)


def dispatchable(provider_ids: set[int], now: datetime) -> set[int]:
    """Those of the providers that may take an order now: approved agencies with contract hours left and approved
    pairing units (re-checked here: another process may have suspended one since the index was built)."""
    kinds = dict(db.session.execute(sa.select(Provider.id, Provider.kind).where(
        Provider.id.in_(provider_ids), Provider.kind.in_(ORGANISATIONS), Provider.status == ProviderStatus.approved)).all())
    hours = contract_hours_left_of([pid for pid, kind in kinds.items() if kind == ProviderKind.agency], now)
    return {pid for pid, kind in kinds.items() if kind != ProviderKind.agency or hours[pid] > 0}


def rank_item(item: ServiceItem, now: datetime | None = None, k: int = 10) -> list[Choice]:
    """The item's top-k eligible agencies and pairing units with reasons, leaving out any now at full capacity.

    Volunteers are not dispatched to one by one: items in a volunteer category become tasks they sign up for.
    """
    return rank_items([item], now, k)[item.id]


def rank_items(items: list[ServiceItem], now: datetime | None = None, k: int = 10) -> dict[int, list[Choice]]:
    """`rank_item` of each item, in a fixed number of queries for any number of items."""
    now = now or utcnow()
    engine_items = load_items([item.id for item in items], now.date())
    learned = active_ranker()
    index = warm_index(now.date())
    ranked = {it.id: learned.rank(index, it, k=k * 2) if learned else index.rank(it, k=k * 2) for it in engine_items}
    version = learned.version if learned else "cold-start"
    organisations = dispatchable({c.provider_id for cs in ranked.values() for c in cs}, now)
    left = capacity_left(sorted(organisations), now.date())
    excluded = excluded_providers_of(list(ranked))
    fresh = {item_id: [c for c in candidates if c.provider_id in organisations and left[c.provider_id] > 0
                       and c.provider_id not in excluded[item_id]][:k] for item_id, candidates in ranked.items()}
    return {item.id: [to_choice(c, rank, version) for rank, c in enumerate(fresh.get(item.id, []), start=1)]
            for item in items}


def _batch_offers(now: datetime) -> list[mt.Offer]:
    """The offers of agencies and pairing units that may take an order now (the batch assignment's offers)."""
    offers = load_offers(now.date(), kinds=ORGANISATIONS)
    open_to_work = dispatchable({o.provider_id for o in offers}, now)
    return [o for o in offers if o.provider_id in open_to_work]


def _batch_items(item_ids: list[int], on: date) -> list[mt.Item]:
    # one organisation per item: it serves with its own staff, and an item has one open order at a time
    # (dispatch.dispatch); slots_needed counts the volunteers a task needs, filled by sign-ups, not organisations
    return [replace(it, slots_needed=1) for it in load_items(item_ids, on)]


def _choices(engine_items: list[mt.Item], index: MatchIndex, chosen: dict[int, int]) -> dict[int, Choice]:
    """The dispatch choice (rank and reasons among all the item's candidates) of each assigned item."""
    choices = {}
    for engine_item in engine_items:
        if engine_item.id not in chosen:
            continue
        ranked = index.rank(engine_item, k=len(index.offers))
        rank, candidate = next((r, c) for r, c in enumerate(ranked, start=1) if c.offer_id == chosen[engine_item.id])
        choices[engine_item.id] = to_choice(candidate, rank)
    return choices


def assign_items(items: list[ServiceItem], now: datetime | None = None) -> dict[int, Choice]:
    """The best capacity-aware assignment of open items to agencies and pairing units (item id -> choice).

    One provider per item; no offer beyond the slots it has free now; every hard constraint holds (agencies with
    no contract hours left, suspended providers and excluded pairs are out); the total priority-weighted score
    is maximal (exact min-cost flow, `socialforce.matching.assign`). Items nobody can serve are left out.
    """
    now = now or utcnow()
    if not items:
        return {}
    offers = _batch_offers(now)
    index = MatchIndex.build(offers, load_context(now.date()), rules())
    engine_items = _batch_items([it.id for it in items], now.date())
    return _choices(engine_items, index, dict(solve_batch(engine_items, index).assignment.pairs))


def split_items(item_ids: list[int], now: datetime, parts: int) -> list[list[int]]:
    """The items' independent parts (no offer can serve items of two parts; `partition`), at most `parts`."""
    engine_items = _batch_items(item_ids, now.date())
    return [list(p.item_ids) for p in partition(engine_items, _batch_offers(now), parts)]


def assign_part(item_ids: list[int], now: datetime) -> tuple[dict[int, Choice], PartResult]:
    """One part of a partitioned batch: its assignment (item id -> choice) and its certificate (utility, bound).

    The index holds only the offers that may serve the part, scored with the text model of every organisation's
    offers (`partition.part_index`), so the scores, and the merged parts' result, are those of the unpartitioned
    batch while a worker holds only its part.
    """
    engine_items = _batch_items(item_ids, now.date())
    index = part_index(engine_items, _batch_offers(now), load_context(now.date()), rules())
    result = solve_part(engine_items, index)
    return _choices(engine_items, index, dict(result.pairs)), result


def open_items_query(user: User, town_id: int | None = None, category_id: int | None = None) -> sa.Select:
    """The open service items in the staff user's scope, optionally for one town and/or category."""
    query = (sa.select(ServiceItem.id).join(Household)
             .where(ServiceItem.status == ItemStatus.open, scoping.household_filter(user)))
    if town_id:
        query = query.where(Household.town_id == town_id)
    if category_id:
        query = query.where(ServiceItem.category_id == category_id)
    return query.order_by(ServiceItem.id)


def eligibility_problems(volunteer: Volunteer, item: ServiceItem, now: datetime | None = None) -> list[str]:
    """The hard constraints a volunteer breaks for an item (empty: may sign up)."""
    on = (now or utcnow()).date()
    offers = load_offers(on, [volunteer.provider_id])
    engine_item = load_items([item.id], on)[0]
    if not offers:
        return ["no_active_offer"]
    if not db.session.scalar(sa.select(sa.exists().where(
            Household.id == item.household_id, scoping.households_served_by(volunteer.provider)))):
        return ["county_not_served"]
    context = mt.Context(on_date=on)
    problems = [pair_problems(engine_item, o, context, rules()) for o in offers]
    return min(problems, key=len)


# ------------------------------------------------------------------ the volunteer's task list
CANDIDATE_LIMIT = 500
"""At most this many open tasks per offer, nearest first, are ranked for a volunteer: the ranking is exact when
fewer tasks pass the hard filters (at scale 1.0 a whole town has well under a hundred), and proximity, the
largest weight of the reciprocal score, keeps the best ones among the nearest otherwise."""
TEXT_MODEL_TTL_SECONDS = 3600
_DEG_MARGIN = 1e-6


@dataclass
class _WarmText:
    key: tuple
    built_at: float
    model: TextModel


_warm_text: dict[str, _WarmText] = {}


def _offer_doc_counts(on: date) -> dict[str, int]:
    """How many matchable offers (as `MatchIndex` counts them: valid, active, approved, slots left) share each text."""
    valid = (Provider.status == ProviderStatus.approved, ServiceOffer.status == OfferStatus.active,
             ServiceOffer.valid_from <= on, ServiceOffer.valid_to >= on, ServiceOffer.slots_per_week > 0)
    counts: dict[str, int] = {}
    for title, description, n in db.session.execute(
            sa.select(ServiceOffer.title, ServiceOffer.description, sa.func.count())
            .join(Provider, Provider.id == ServiceOffer.provider_id).where(*valid)
            .group_by(ServiceOffer.title, ServiceOffer.description)):
        counts[f"{title} {description}"] = counts.get(f"{title} {description}", 0) + n
    load = provider_load()
    loaded = sorted(load)
    for start in range(0, len(loaded), 20_000):  # offers whose slots current work fills (as in load_offers)
        rows = db.session.execute(
            sa.select(ServiceOffer.provider_id, ServiceOffer.slots_per_week, ServiceOffer.title,
                      ServiceOffer.description)
            .join(Provider, Provider.id == ServiceOffer.provider_id)
            .where(*valid, ServiceOffer.provider_id.in_(loaded[start:start + 20_000])).order_by(ServiceOffer.id))
        for provider_id, slots, title, description in rows:
            held = min(slots, load[provider_id])
            load[provider_id] -= held
            if slots - held <= 0:
                counts[f"{title} {description}"] -= 1
    return {doc: n for doc, n in counts.items() if n > 0}


def offer_text_model(on: date) -> TextModel:
    """The TF-IDF model fitted on every matchable offer's text, as the full index fits it.

    Fitting reads all offers (seconds at scale 1.0), so each process keeps the model for TEXT_MODEL_TTL_SECONDS
    (or until `invalidate()`): a few offers more or less barely move corpus-wide IDF statistics.
    """
    key = (str(db.engine.url), on, caching.token(INDEX_VERSION))
    warm = _warm_text.get("text")
    if warm is None or warm.key != key or time.monotonic() - warm.built_at > TEXT_MODEL_TTL_SECONDS:
        docs = [doc for doc, n in sorted(_offer_doc_counts(on).items()) for _ in range(n)]
        warm = _WarmText(key, time.monotonic(), TextModel(docs))
        _warm_text["text"] = warm
    return warm.model


def _offer_place_filter(offer: mt.Offer):
    """SQL: the household's town is one of the offer's towns, or its village lies within the travel radius."""
    place = Household.town_id.in_(sorted(offer.towns))
    if offer.radius_km > 0:
        dlat, dlon = offer.radius_km / KM_PER_DEG_LAT + _DEG_MARGIN, offer.radius_km / KM_PER_DEG_LON + _DEG_MARGIN
        place = sa.or_(place, sa.and_(Village.lat.between(offer.lat - dlat, offer.lat + dlat),
                                      Village.lon.between(offer.lon - dlon, offer.lon + dlon)))
    return place


def candidate_task_items(volunteer: Volunteer, offer: mt.Offer, on: date, rule_set: Rules,
                         limit: int = CANDIDATE_LIMIT) -> list[int]:
    """Ids of items with a live task that has a free place and that the offer may take, nearest first (SQL, LIMIT).

    The filters only drop pairs the engine would refuse (category and its qualification, towns or radius, time
    windows, a minor without a background check, places left, tasks already signed up for) and households outside
    the counties the provider serves (`scoping.households_served_by`, which the engine does not know); the engine
    re-checks every hard constraint on what is returned.
    """
    if not (offer.valid_from <= on <= offer.valid_to and offer.slots_left > 0) or not offer.windows:
        return []
    codes = sorted(c for c in offer.categories
                   if not rule_set.required(c) or rule_set.required(c) & offer.qualifications)
    if not codes:
        return []
    dy = (Village.lat - offer.lat) * KM_PER_DEG_LAT
    dx = (Village.lon - offer.lon) * KM_PER_DEG_LON
    query = (sa.select(ServiceItem.id, (dx * dx + dy * dy).label("d2"))
             .join(Order, Order.item_id == ServiceItem.id)
             .join(VolunteerTask, VolunteerTask.order_id == Order.id)
             .join(Household, Household.id == ServiceItem.household_id)
             .join(Village, Village.id == Household.village_id)
             .where(Order.state.in_(LIVE_TASK_STATES), VolunteerTask.taken < VolunteerTask.slots,
                    ServiceItem.category_id.in_(sa.select(ServiceCategory.id).where(ServiceCategory.code.in_(codes))),
                    ServiceItem.windows.op("&")(offer.windows) != 0, _offer_place_filter(offer),
                    scoping.households_served_by(volunteer.provider),
                    ~sa.exists().where(TaskSignup.task_id == VolunteerTask.id,
                                       TaskSignup.volunteer_id == volunteer.id)))
    if offer.provider_kind in rule_set.minor_check_kinds and not offer.background_checked:
        adult_born_before = date(on.year - 18, on.month, min(on.day, 28))
        query = query.outerjoin(Member, Member.id == ServiceItem.member_id).where(
            sa.or_(Member.birth_date.is_(None), Member.birth_date <= adult_born_before))
    ids = db.session.scalars(query.order_by(sa.literal_column("d2"), ServiceItem.id).limit(limit)).all()
    return list(dict.fromkeys(ids))


def provider_context(provider_id: int, items: list[mt.Item], on: date) -> mt.Context:
    """The slice of `load_context` that ranking items for one provider reads: its pairings, services, exclusions,
    household blocks, load and track record."""
    households = sorted({it.household_id for it in items})
    item_ids = [it.id for it in items]
    pairings = frozenset(db.session.execute(
        sa.select(Pairing.provider_id, Pairing.household_id).where(
            Pairing.ended_on.is_(None), Pairing.provider_id == provider_id,
            Pairing.household_id.in_(households))).tuples())
    served = frozenset(db.session.execute(
        sa.select(Order.provider_id, ServiceItem.household_id).join(ServiceItem)
        .where(Order.state.in_(DONE_STATES), Order.provider_id == provider_id,
               ServiceItem.household_id.in_(households)).distinct()).tuples())
    exclusions = frozenset(db.session.execute(
        sa.select(Order.item_id, Order.provider_id).where(
            Order.state.in_(FAILED_STATES), Order.provider_id == provider_id, Order.item_id.in_(item_ids))).tuples())
    blocks = frozenset(db.session.execute(
        sa.select(HouseholdBlock.household_id, HouseholdBlock.provider_id).where(
            HouseholdBlock.provider_id == provider_id, HouseholdBlock.household_id.in_(households))).tuples())
    records = {pid: mt.TrackRecord(provider_id=pid, accepted=s.accepted, declined=s.declined + s.expired,
                                   completed=s.completed, satisfaction_sum=float(s.satisfaction_sum),
                                   satisfaction_count=s.satisfaction_count)
               for pid, s in provider_stats([provider_id]).items()}
    return mt.Context(on_date=on, pairings=pairings, served_before=served, exclusions=exclusions,
                      household_blocks=blocks, load=provider_load([provider_id]), track_records=records)


def tasks_for_volunteer(volunteer: Volunteer, now: datetime | None = None, k: int = 20,
                        limit: int = CANDIDATE_LIMIT) -> list[mt.Candidate]:
    """Open volunteer tasks ranked for this volunteer (reciprocal fit), only those it may take.

    Candidates come from SQL restricted by the volunteer's offers (towns or radius, categories, windows, free
    places; at most `limit` per offer); only they are ranked, by the engine, against the provider's own context.
    """
    on = (now or utcnow()).date()
    offers = load_offers(on, [volunteer.provider_id])
    if not offers or volunteer.provider.status != ProviderStatus.approved:
        return []
    rule_set = rules()
    wanted = {offer.id: candidate_task_items(volunteer, offer, on, rule_set, limit) for offer in offers}
    all_ids = sorted({i for ids in wanted.values() for i in ids})
    if not all_ids:
        return []
    items = load_items(all_ids, on)
    by_id = {it.id: it for it in items}
    # an index of the provider's own offers scoring text with the model of all matchable offers: as
    # `tasks_for_volunteer` reads only the context, rules, weights and text model, it ranks as the full one does
    view = MatchIndex.build(offers, provider_context(volunteer.provider_id, items, on), rule_set,
                            text_model=offer_text_model(on))
    ranked: dict[int, mt.Candidate] = {}
    for offer in offers:
        for c in view.tasks_for_volunteer(offer, [by_id[i] for i in wanted[offer.id]], k=k):
            if c.item_id not in ranked or c.score > ranked[c.item_id].score:
                ranked[c.item_id] = c
    return sorted(ranked.values(), key=lambda c: (-c.score, c.item_id))[:k]


def retrain(now: datetime) -> dict:
    """Weekly job: queue the retraining of the learned ranker (a background job running services.ranker.retrain)."""
    return {"job": background.submit("retrain_ranker", None, subject="retrain_ranker").id}

