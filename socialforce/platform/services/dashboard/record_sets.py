"""The record sets the figures count and the lists show (the definitions are in the package docstring)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa

from socialforce.platform import localtime
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Agency,
    Contract,
    Household,
    ItemStatus,
    MaterialAssistance,
    Order,
    OrderState,
    Pairing,
    PairingUnit,
    Provider,
    ProviderKind,
    ServiceItem,
    ServiceOffer,
    ServiceRecord,
    User,
    Visit,
    VisitStatus,
    offer_towns,
)
from socialforce.platform.models.orders import DONE_STATES, LIVE_STATES
from socialforce.platform.scoping import contract_filter
from socialforce.platform.services import quotas
from socialforce.platform.services.dashboard.filters import Filters, month_bounds
from socialforce.platform.services.dashboard.sql import in_period, item_scope, scope

OVERDUE_AFTER = timedelta(hours=2)
S = OrderState
ACCEPTED_STATES = (*LIVE_STATES, *DONE_STATES)  # accepted or later, not cancelled
VOLUNTEERS_KEY = "volunteers"  # the one row for individual volunteers and volunteer tasks


def has_material(f: Filters) -> sa.ColumnElement[bool]:
    """Correlated EXISTS on Household: material assistance in the period."""
    return (sa.exists().where(MaterialAssistance.household_id == Household.id,
                              MaterialAssistance.month >= f.start.replace(day=1), MaterialAssistance.month <= f.end)
            .correlate(Household))


def has_service(f: Filters) -> sa.ColumnElement[bool]:
    """Correlated EXISTS on Household: a (category's) open item, or one with an order dispatched in the period.

    One probe of the household's items (index service_items(household_id, status, created_at, ...)); the orders
    are probed (index orders(item_id, dispatched_at)) only for items that are not open.
    """
    category = [ServiceItem.category_id == f.category_id] if f.category_id else []
    dispatched = (sa.exists().where(Order.item_id == ServiceItem.id, in_period(Order.dispatched_at, f))
                  .correlate(ServiceItem))
    open_item = (ServiceItem.status != ItemStatus.closed) & (ServiceItem.created_at < f.end_utc)
    return (sa.exists().where(ServiceItem.household_id == Household.id, *category, open_item | dispatched)
            .correlate(Household))


HOUSEHOLD_GROUPS = ("material_only", "material_service", "service_only")
GROUP_CODES = {"material_only": 2, "material_service": 3, "service_only": 1}  # 2 * material + service


def household_code(f: Filters) -> sa.ColumnElement[int]:
    """2 * (has material) + (has service), computed once per household."""
    return sa.case((has_material(f), 2), else_=0) + sa.case((has_service(f), 1), else_=0)


def household_group_filter(group: str, f: Filters) -> sa.ColumnElement[bool]:
    """WHERE clause on Household for one of HOUSEHOLD_GROUPS."""
    return household_code(f) == GROUP_CODES[group]


def items_in_period(f: Filters) -> sa.ColumnElement[bool]:
    """Items registered before the period ends and not closed before it starts."""
    return sa.and_(ServiceItem.created_at < f.end_utc,
                   ServiceItem.closed_at.is_(None) | (ServiceItem.closed_at >= f.start_utc))


def _scoped_items(user: User, f: Filters) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses on Order.item_id for the user's scope, the town and the category (none for the whole city)."""
    clauses = item_scope(user, f)
    return [Order.item_id.in_(sa.select(ServiceItem.id).where(*clauses))] if clauses else []


def first_dispatch(user: User, f: Filters) -> sa.Subquery:
    """Each item's first dispatch time, for the items in scope whose first dispatch falls in the period."""
    return first_times("dispatch", lambda column: in_period(column, f), _scoped_items(user, f))


def first_visit(user: User, f: Filters) -> sa.Subquery:
    """Each item's first visit time (check-in, or start of a completed visit), for the items in scope whose first
    visit falls in the period."""
    return first_times("visit", lambda column: in_period(column, f), _scoped_items(user, f))


def first_times(measure: str, within: Callable[[sa.ColumnElement], sa.ColumnElement[bool]],
                clauses: Sequence[sa.ColumnElement[bool]] = ()) -> sa.Subquery:
    """(item_id, first): each item's first dispatch ("dispatch") or first visit ("visit") time, for the items whose
    first one is `within` (a WHERE clause on a naive-UTC timestamp) and that match `clauses` (on Order).

    Only items with a dispatch (visit) within are grouped (index orders(dispatched_at, item_id, ...) finds them);
    their orders (visits) are then read by item (indexes orders(item_id, dispatched_at), visits(order_id, ...)).
    """
    if measure == "dispatch":
        first = sa.func.min(Order.dispatched_at)
        candidates = sa.select(Order.item_id).where(within(Order.dispatched_at))
        query = sa.select(Order.item_id, first.label("first")).where(Order.dispatched_at.is_not(None))
    else:
        first = sa.func.min(sa.func.coalesce(Visit.checkin_at, Visit.starts_at))
        done_within = ((Visit.checkin_at.is_not(None) & within(Visit.checkin_at))
                       | (Visit.checkin_at.is_(None) & (Visit.status == VisitStatus.completed)
                          & within(Visit.starts_at)))
        candidates = sa.select(Order.item_id).join(Visit, Visit.order_id == Order.id).where(done_within)
        done = Visit.checkin_at.is_not(None) | (Visit.status == VisitStatus.completed)
        query = sa.select(Order.item_id, first.label("first")).join(Visit, Visit.order_id == Order.id).where(done)
    return (query.where(Order.item_id.in_(candidates), *clauses).group_by(Order.item_id)
            .having(within(first)).subquery(f"first_{measure}"))


def accepted_clause() -> sa.ColumnElement[bool]:
    """Orders that were accepted (and may have moved on)."""
    return Order.state.in_(ACCEPTED_STATES) | ((Order.state == S.cancelled) & Order.responded_at.is_not(None))


ORDER_MEASURES = ("dispatched", "responded", "accepted", "expired", "completed")


def order_measure_clause(measure: str) -> sa.ColumnElement[bool]:
    """WHERE clause on Order for one of ORDER_MEASURES (all orders are dispatched ones)."""
    return {"dispatched": sa.true(), "responded": accepted_clause() | (Order.state == S.declined),
            "accepted": accepted_clause(), "expired": Order.state == S.expired,
            "completed": Order.state.in_(DONE_STATES)}[measure]


def provider_key():
    """Group key for the provider table: the provider id, or 0 for volunteers and volunteer tasks."""
    return sa.case((Provider.kind.is_(None) | (Provider.kind == ProviderKind.volunteer), 0), else_=Provider.id)


def provider_clause(provider: str) -> sa.ColumnElement[bool]:
    """WHERE clause on Order/Provider for a provider id or the volunteers row."""
    if provider == VOLUNTEERS_KEY:
        return Order.provider_id.is_(None) | (Provider.kind == ProviderKind.volunteer)
    return Order.provider_id == int(provider)


def overdue_clause(f: Filters, now: datetime) -> sa.ColumnElement[bool]:
    """Visits starting in the period that are overdue (planned, not checked in 2 h after start) or missed."""
    late = (Visit.status == VisitStatus.planned) & Visit.checkin_at.is_(None) & (Visit.starts_at < now - OVERDUE_AFTER)
    return in_period(Visit.starts_at, f) & (late | (Visit.status == VisitStatus.missed))


def flagged_clause(f: Filters) -> sa.ColumnElement[bool]:
    """Visits checked in during the period whose record is flagged as implausible."""
    return in_period(Visit.checkin_at, f) & Visit.flags.is_not(None)


def volunteer_record_clause(f: Filters) -> sa.ColumnElement[bool]:
    """Confirmed service records served in the period."""
    return ServiceRecord.confirmed_at.is_not(None) & ServiceRecord.served_on.between(f.start, f.end)


def month_visits(f: Filters) -> sa.Subquery:
    """Completed visits per (provider, household) in the month of the period's end.

    PostgreSQL: each of the month's completed visits looks up its order and item by primary key (a LATERAL
    subquery fenced by OFFSET 0). Joined plainly, the planner overestimated the month's visits and hashed every
    order with a provider (a parallel scan of all orders, 25-30 ms at scale 1.0, for ~1,400 visits).
    """
    first, last = month_bounds(f.end)
    start, end = localtime.day_start(first), localtime.day_start(last + timedelta(days=1))
    if db.session.get_bind().dialect.name != "postgresql":
        return quotas.visit_counts(start, end).subquery("month_visits")
    order = (sa.select(Order.provider_id, ServiceItem.household_id)
             .join(ServiceItem, ServiceItem.id == Order.item_id)
             .where(Order.id == Visit.order_id, Order.provider_id.is_not(None)).offset(0).lateral("visit_order"))
    return (sa.select(order.c.provider_id, order.c.household_id, sa.func.count(Visit.id).label("n"))
            .select_from(Visit).join(order, sa.true())
            .where(Visit.status == VisitStatus.completed, Visit.starts_at >= start, Visit.starts_at < end)
            .group_by(order.c.provider_id, order.c.household_id).subquery("month_visits"))


def pairing_query(user: User, f: Filters) -> tuple[sa.Select, sa.ColumnElement[bool], sa.ColumnElement[int]]:
    """Active pairings in scope with their unit and this month's completed visits by the unit.

    Returns the query, the 'meets the quota' clause and the visit-count column.
    """
    counted = month_visits(f)  # joined to the pairings in scope only: no scope of its own needed
    visits = sa.func.coalesce(counted.c.n, 0)
    query = (sa.select(Pairing).join(Household, Pairing.household_id == Household.id)
             .join(PairingUnit, PairingUnit.provider_id == Pairing.provider_id)
             .join(Provider, Provider.id == Pairing.provider_id)
             .outerjoin(counted, (counted.c.provider_id == Pairing.provider_id)
                        & (counted.c.household_id == Pairing.household_id))
             .where(Pairing.ended_on.is_(None), Pairing.since <= f.month_end, *scope(user, f)))
    return query, visits >= Pairing.quota(), visits


def contract_query(user: User, f: Filters) -> sa.Select:
    """The user's county's contracts overlapping the period; with a town, those of agencies with an offer
    covering it."""
    query = (sa.select(Contract).join(Agency, Contract.agency_id == Agency.id)
             .join(Provider, Provider.id == Agency.provider_id)
             .where(Contract.starts_on <= f.end, Contract.ends_on >= f.start, contract_filter(user)))
    if f.town_id:  # probed per agency: the agency's few offers, then (offer, town)
        serving = sa.exists().where(ServiceOffer.provider_id == Agency.provider_id,
                                    offer_towns.c.offer_id == ServiceOffer.id, offer_towns.c.town_id == f.town_id)
        query = query.where(serving)
    return query
