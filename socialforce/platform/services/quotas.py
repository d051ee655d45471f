"""Pairing quotas (结对帮扶每月走访): each pairing unit visits each paired household monthly_visit_quota times a month
(the pairing's own quota when staff set one, else the unit's: `Pairing.quota()`).

The quota counts completed visits by the unit to the household starting in the local calendar month
(`completed_visits`; the dashboard counts the same way). `generate_quota_visits` (a scheduler job) plans the
missing visits for the pairing's cadre on a standing monthly-visit order.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import sqlalchemy as sa

from socialforce.platform import weekmask
from socialforce.platform.extensions import db
from socialforce.platform.localtime import month_bounds, to_local
from socialforce.platform.models import (
    Frequency,
    Household,
    ItemStatus,
    Order,
    OrderState,
    Pairing,
    PairingUnit,
    Provider,
    ProviderStatus,
    ServiceCategory,
    ServiceItem,
    User,
    Visit,
    VisitStatus,
)
from socialforce.platform.models.orders import LIVE_STATES
from socialforce.platform.scoping import household_filter
from socialforce.platform.services import orders
from socialforce.platform.services.visits.assignees import BUSY, Assignee, lock
from socialforce.platform.services.visits.planning import mark_scheduled, propose_slots
from socialforce.platform.transactions import one_by_one

QUOTA_CATEGORY = "emotional_comfort"
QUOTA_ITEM_TEXT = "结对帮扶每月走访"  # stored data: the standing pairing order's service item
STANDING_REASON = "standing pairing order"
QUOTA_VISIT_MINUTES = 60


def standing_order(pairing: Pairing, now: datetime) -> Order:
    """The pairing's standing monthly-visit order (emotional comfort), created (accepted) if missing."""
    candidates = db.session.scalars(
        sa.select(Order).join(ServiceItem).join(ServiceCategory)
        .where(Order.provider_id == pairing.provider_id, ServiceItem.household_id == pairing.household_id,
               ServiceCategory.code == QUOTA_CATEGORY, Order.state.in_(LIVE_STATES))
        .order_by(Order.id)).all()
    for order in candidates:
        if (order.reasons or {}).get("standing_pairing") == pairing.id:
            return order
    category = db.session.scalar(sa.select(ServiceCategory).where(ServiceCategory.code == QUOTA_CATEGORY))
    item = ServiceItem(household_id=pairing.household_id, category_id=category.id, description=QUOTA_ITEM_TEXT,
                       frequency=Frequency.monthly, windows=weekmask.ALL, status=ItemStatus.dispatched,
                       created_at=now)
    db.session.add(item)
    db.session.flush()
    order = Order(item_id=item.id, provider_id=pairing.provider_id, state=OrderState.proposed, created_at=now,
                  reasons={"standing_pairing": pairing.id})
    db.session.add(order)
    db.session.flush()
    orders.transition(order, OrderState.dispatched, None, reason=STANDING_REASON, now=now)
    orders.transition(order, OrderState.accepted, None, reason=STANDING_REASON, now=now,
                      assignee_id=pairing.cadre_id)
    return order


def visit_counts(start: datetime, end: datetime, statuses=(VisitStatus.completed,)) -> sa.Select:
    """Visits per (provider, household) starting in [start, end) (naive UTC) with one of `statuses`: the quota count.

    Columns provider_id, household_id, n; callers add WHERE clauses (one provider, households in scope).
    """
    return (sa.select(Order.provider_id, ServiceItem.household_id, sa.func.count(Visit.id).label("n"))
            .select_from(Visit).join(Order, Order.id == Visit.order_id)
            .join(ServiceItem, ServiceItem.id == Order.item_id)
            .where(Visit.status.in_(statuses), Visit.starts_at >= start, Visit.starts_at < end,
                   Order.provider_id.is_not(None))
            .group_by(Order.provider_id, ServiceItem.household_id))


def visits_this_month(provider_id: int, household_id: int, now: datetime, statuses=BUSY) -> int:
    """A provider's visits to a household in the current local month with one of `statuses`."""
    return visits_by_household(provider_id, [household_id], now, statuses).get(household_id, 0)


def visits_by_household(provider_id: int, household_ids: list[int], now: datetime,
                        statuses=(VisitStatus.completed,)) -> dict[int, int]:
    """`visits_this_month` for many households of one provider, in grouped queries of 1,000 households."""
    counts: dict[int, int] = {}
    for chunk_start in range(0, len(household_ids), 1000):
        chunk = household_ids[chunk_start:chunk_start + 1000]
        query = visit_counts(*month_bounds(now), statuses).where(Order.provider_id == provider_id,
                                                                 ServiceItem.household_id.in_(chunk))
        counts.update((household_id, n) for _, household_id, n in db.session.execute(query))
    return counts


def generate_quota_visits(now: datetime) -> dict:
    """Plan this month's missing pairing visits (`Pairing.quota()`) for each pairing's cadre, one pairing per
    transaction (`one_by_one`: the run never holds every cadre's bookings until its end)."""
    pairing_ids = db.session.scalars(
        sa.select(Pairing.id)
        .join(PairingUnit, PairingUnit.provider_id == Pairing.provider_id)
        .join(Provider, Provider.id == Pairing.provider_id)
        .where(Pairing.ended_on.is_(None), Provider.status == ProviderStatus.approved).order_by(Pairing.id)).all()
    outcomes = one_by_one(partial(_plan_quota_visits, now=now), pairing_ids)
    return {"pairings": len(pairing_ids), "created": sum(made for made, _ in outcomes),
            "no_cadre": sum(short == "no_cadre" for _, short in outcomes),
            "no_slot": sum(short == "no_slot" for _, short in outcomes)}


def _plan_quota_visits(pairing_id: int, *, now: datetime) -> tuple[int, str | None]:
    """The visits planned for one pairing, and why it stays short ("no_cadre", "no_slot") if it does."""
    pairing, quota = db.session.execute(
        sa.select(Pairing, Pairing.quota()).join(PairingUnit, PairingUnit.provider_id == Pairing.provider_id)
        .where(Pairing.id == pairing_id)).one()
    _, month_end = month_bounds(now)
    missing = quota - visits_this_month(pairing.provider_id, pairing.household_id, now)
    if missing <= 0:
        return 0, None
    if pairing.cadre_id is None or not pairing.cadre.active:
        return 0, "no_cadre"
    order = standing_order(pairing, now)
    assignee = Assignee(member_id=pairing.cadre_id)
    lock(assignee)
    days = (to_local(month_end).date() - to_local(now).date()).days
    created = 0
    for start in propose_slots(order, assignee, now, QUOTA_VISIT_MINUTES, count=missing, days=days):
        if start + timedelta(minutes=QUOTA_VISIT_MINUTES) > month_end:
            break
        visit = Visit(order_id=order.id, starts_at=start, ends_at=start + timedelta(minutes=QUOTA_VISIT_MINUTES),
                      **assignee.columns())
        db.session.add(visit)
        db.session.flush()
        created += 1
    mark_scheduled(order, None, now)
    return created, "no_slot" if created < missing else None


@dataclass(frozen=True)
class UnitCompliance:
    """A pairing unit's monthly-visit quota compliance in the current month."""

    provider: Provider
    households: int
    quota: int
    visits_done: int
    households_met: int

    @property
    def percent(self) -> int:
        """Paired households that got their quota of completed visits, in percent."""
        return round(100 * self.households_met / self.households) if self.households else 100


def quota_compliance(user: User, now: datetime) -> list[UnitCompliance]:
    """Per pairing unit with paired households in the user's scope: completed visits this month and compliance."""
    counted = visit_counts(*month_bounds(now)).subquery()
    done = sa.func.coalesce(counted.c.n, 0)
    per_pairing = (sa.select(Pairing.provider_id.label("provider_id"), Pairing.quota().label("quota"),
                             done.label("done"))
                   .join(PairingUnit, PairingUnit.provider_id == Pairing.provider_id)
                   .join(Household, Household.id == Pairing.household_id)
                   .outerjoin(counted, (counted.c.provider_id == Pairing.provider_id)
                              & (counted.c.household_id == Pairing.household_id))
                   .where(Pairing.ended_on.is_(None), household_filter(user)).subquery())
    rows = db.session.execute(
        sa.select(per_pairing.c.provider_id, sa.func.max(per_pairing.c.quota), sa.func.count(),
                  sa.func.sum(per_pairing.c.done),
                  sa.func.sum(sa.case((per_pairing.c.done >= per_pairing.c.quota, 1), else_=0)))
        .group_by(per_pairing.c.provider_id).order_by(per_pairing.c.provider_id)).all()
    providers = {p.id: p for p in db.session.scalars(
        sa.select(Provider).where(Provider.id.in_([r[0] for r in rows])))}
    return [UnitCompliance(providers[pid], count, quota, int(visits or 0), int(met or 0))
            for pid, quota, count, visits, met in rows]
