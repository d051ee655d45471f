"""The oversight dashboard for civil-affairs staff: figures per town, provider and service category.

Every figure is one SQL aggregate (no Python loop over records), and every figure has a records query
(`records`) that lists exactly the rows it counts, so each number on the page links to its list.

Filters: a period of local (Asia/Shanghai) dates [start, end], a town (town staff: always their own) and a
service category. Definitions (timestamps are naive UTC; the period is converted to UTC bounds):

- "material assistance": the household has a MaterialAssistance row whose month lies in the period
  (months from the first day of the start month to the end date).
- "service": the household has a ServiceItem (of the category, when filtered) that is open (not closed and
  registered before the period ends), or that has an order dispatched in the period. Households are counted as material only, material + service, or
  service only.
- Service items by status: items registered before the period ends and not closed before it starts, by
  current status, per category and per town.
- Time to dispatch: first Order.dispatched_at - ServiceItem.created_at, for items whose first dispatch falls
  in the period. Time to first visit: first visit time - ServiceItem.created_at, where a visit's time is its
  checkin_at (or starts_at for a completed visit without check-in), for items whose first visit falls in the
  period. Both are medians in hours (PostgreSQL percentile_cont; elsewhere ORDER BY + OFFSET count/2).
- Per provider, over orders dispatched in the period: acceptance rate = accepted-or-later / responded;
  expiry rate = expired / dispatched; completion rate = (completed + evaluated) / accepted-or-later.
  Accepted-or-later = accepted, scheduled, in_service, completed, evaluated, or cancelled after a response;
  responded = accepted-or-later + declined. Individual volunteers and volunteer tasks form one row.
- Satisfaction distribution: the household's own satisfaction (HouseholdFeedback.satisfaction, 1-5) from the
  follow-ups (回访) recorded in the period; providers' assessments of their own service are not counted.
- Overdue visits: visits starting in the period that are planned and not checked in 2 hours after their
  start (at `now`), or marked missed.
- Flagged visits: visits checked in during the period whose check-in or check-out looks implausible (Visit.flags:
  a very short stay, a check-in far from the planned time or from the village; services/visits.py).
- Volunteer hours: the sum of confirmed ServiceRecord.minutes served in the period (by the household's town).
- Pairing quota compliance (month of the period's end): the share of active pairings (Pairing.ended_on NULL)
  whose household had at least unit.monthly_visit_quota completed visits by that unit in the month
  (visits -> orders -> provider_id). The category filter does not apply.
- Contract hours: Contract.used_hours vs purchased_hours per agency, for contracts overlapping the period;
  with a town, the agencies with a service offer covering the town. The category filter does not apply.
"""
from __future__ import annotations

import calendar
import threading
import time as clock_module
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from socialforce.platform import localtime
from socialforce.platform.extensions import db
from socialforce.platform.i18n import select_locale
from socialforce.platform.inputs import parse_date, parse_int
from socialforce.platform.labels import ITEM_STATUS
from socialforce.platform.models import (
    Agency,
    AuditLog,
    Contract,
    Household,
    HouseholdFeedback,
    ItemStatus,
    MaterialAssistance,
    Order,
    OrderState,
    Pairing,
    PairingUnit,
    Provider,
    ProviderKind,
    Role,
    ServiceCategory,
    ServiceItem,
    ServiceOffer,
    ServiceRecord,
    Town,
    User,
    Visit,
    VisitStatus,
    offer_towns,
)
from socialforce.platform.scoping import household_filter
from socialforce.platform.services import ServiceError, quotas

LOCAL_OFFSET = timedelta(hours=8)  # Asia/Shanghai has no daylight saving time
OVERDUE_AFTER = timedelta(hours=2)
S = OrderState
ACCEPTED_STATES = (S.accepted, S.scheduled, S.in_service, S.completed, S.evaluated)
COMPLETED_STATES = (S.completed, S.evaluated)
VOLUNTEERS_KEY = "volunteers"  # the one row for individual volunteers and volunteer tasks
MAX_PERIOD_DAYS = 3 * 366


# ------------------------------------------------------------------ filters


@dataclass(frozen=True)
class Filters:
    """The dashboard's filters: local dates [start, end], optional town and service category."""

    start: date
    end: date
    town_id: int | None = None
    category_id: int | None = None
    category_code: str | None = None

    @property
    def start_utc(self) -> datetime:
        return datetime.combine(self.start, time()) - LOCAL_OFFSET

    @property
    def end_utc(self) -> datetime:
        """The exclusive upper bound: local midnight after the end date, in UTC."""
        return datetime.combine(self.end + timedelta(days=1), time()) - LOCAL_OFFSET

    @property
    def month_start(self) -> date:
        """The first day of the end date's month (the month of the monthly figures)."""
        return self.end.replace(day=1)

    @property
    def month_end(self) -> date:
        return self.end.replace(day=calendar.monthrange(self.end.year, self.end.month)[1])

    def as_args(self) -> dict[str, str]:
        """The filters as query arguments (for links and downloads)."""
        args = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        if self.town_id:
            args["town"] = str(self.town_id)
        if self.category_code:
            args["category"] = self.category_code
        return args


def month_bounds(month: date) -> tuple[date, date]:
    """The first and last day of a month."""
    first = month.replace(day=1)
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def parse_filters(user: User, args: Mapping[str, str], today: date) -> Filters:
    """Filters from query arguments (from, to, town, category); ServiceError(400) on bad input.

    Default period: the current month up to today. Town staff always get their own town.
    """
    start = parse_date(args["from"]) if args.get("from") else today.replace(day=1)
    end = parse_date(args["to"]) if args.get("to") else today
    if start is None or end is None:
        raise ServiceError(_("Enter dates as YYYY-MM-DD."), status=400, field="from")
    if end < start:
        raise ServiceError(_("The end date is before the start date."), status=400, field="to")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise ServiceError(_("Choose a period of at most three years."), status=400, field="from")
    town_id = user.town_id
    if town_id is None and args.get("town"):
        if parse_int(args["town"]) is None or db.session.get(Town, parse_int(args["town"])) is None:
            raise ServiceError(_("Unknown town."), status=400, field="town")
        town_id = int(args["town"])
    category_id, code = None, (args.get("category") or "").strip() or None
    if code:
        category_id = db.session.scalar(sa.select(ServiceCategory.id).where(ServiceCategory.code == code))
        if category_id is None:
            raise ServiceError(_("Unknown service category."), status=400, field="category")
    return Filters(start, end, town_id, category_id, code)


# ------------------------------------------------------------------ SQL helpers


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def no_jit() -> None:
    """PostgreSQL: no JIT compilation for the rest of this transaction.

    The dashboard's aggregates run in tens of milliseconds, but their estimated costs pass jit_above_cost, and
    compiling them took 0.5-0.8 s per query (EXPLAIN ANALYZE on the scale-1.0 demo).
    """
    if _dialect() == "postgresql":
        db.session.execute(sa.text("SET LOCAL jit = off"))


def hours_between(later, earlier) -> sa.ColumnElement:
    """SQL for (later - earlier) in hours, on PostgreSQL and SQLite."""
    if _dialect() == "postgresql":
        return sa.func.extract("epoch", later - earlier) / 3600.0
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 24.0


def median(values: sa.Subquery) -> tuple[float | None, int]:
    """The median of column `x` of a subquery and its row count, computed by the database in one pass.

    PostgreSQL: percentile_cont(0.5). Elsewhere (SQLite): the middle row(s) by row_number() over the ordered
    values, averaged.
    """
    if _dialect() == "postgresql":
        value, count = db.session.execute(
            sa.select(sa.func.percentile_cont(0.5).within_group(values.c.x), sa.func.count()).select_from(values)
        ).one()
        return (float(value) if value is not None else None), count
    ranked = sa.select(values.c.x, sa.func.row_number().over(order_by=values.c.x).label("rn"),
                       sa.func.count().over().label("n")).subquery()
    value, count = db.session.execute(
        sa.select(sa.func.avg(ranked.c.x), sa.func.max(ranked.c.n))
        .where(ranked.c.rn.in_([(ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2]))
    ).one()
    return (float(value) if value is not None else None), count or 0


def scope(user: User, f: Filters) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses on Household for the user's scope and the town filter (none for the whole city)."""
    clauses = [] if user.role == Role.city_staff else [household_filter(user)]
    if f.town_id:
        clauses.append(Household.town_id == f.town_id)
    return clauses


def item_scope(user: User, f: Filters) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses on ServiceItem (no join needed): the household's scope and town, and the category."""
    clauses = []
    households = scope(user, f)
    if households:
        clauses.append(ServiceItem.household_id.in_(sa.select(Household.id).where(*households)))
    if f.category_id:
        clauses.append(ServiceItem.category_id == f.category_id)
    return clauses


def _items_scoped(query: sa.Select, item_id, user: User, f: Filters) -> sa.Select:
    """The query joined to ServiceItem on `item_id` and limited by item_scope, when the scope limits anything."""
    clauses = item_scope(user, f)
    if not clauses:
        return query
    return query.join(ServiceItem, item_id == ServiceItem.id).where(*clauses)


def _in_period(column, f: Filters) -> sa.ColumnElement[bool]:
    return sa.and_(column >= f.start_utc, column < f.end_utc)


# ------------------------------------------------------------------ record sets (shared by figures and lists)


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
    dispatched = (sa.exists().where(Order.item_id == ServiceItem.id, _in_period(Order.dispatched_at, f))
                  .correlate(ServiceItem))
    open_item = (ServiceItem.status != ItemStatus.closed) & (ServiceItem.created_at < f.end_utc)
    return (sa.exists().where(ServiceItem.household_id == Household.id, *category, open_item | dispatched)
            .correlate(Household))


HOUSEHOLD_GROUPS = ("material_only", "material_service", "service_only")
_GROUP_CODES = {"material_only": 2, "material_service": 3, "service_only": 1}  # 2 * material + service


def household_code(f: Filters) -> sa.ColumnElement[int]:
    """2 * (has material) + (has service), computed once per household."""
    return sa.case((has_material(f), 2), else_=0) + sa.case((has_service(f), 1), else_=0)


def household_group_filter(group: str, f: Filters) -> sa.ColumnElement[bool]:
    """WHERE clause on Household for one of HOUSEHOLD_GROUPS."""
    return household_code(f) == _GROUP_CODES[group]


def items_in_period(f: Filters) -> sa.ColumnElement[bool]:
    """Items registered before the period ends and not closed before it starts."""
    return sa.and_(ServiceItem.created_at < f.end_utc,
                   ServiceItem.closed_at.is_(None) | (ServiceItem.closed_at >= f.start_utc))


def _scoped_items(user: User, f: Filters) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses on Order.item_id for the user's scope, the town and the category (none for the whole city)."""
    clauses = item_scope(user, f)
    return [Order.item_id.in_(sa.select(ServiceItem.id).where(*clauses))] if clauses else []


def first_dispatch(user: User, f: Filters) -> sa.Subquery:
    """Each item's first dispatch time, for the items in scope whose first dispatch falls in the period.

    One pass over the index orders(item_id, dispatched_at): GROUP BY item, keep the groups whose minimum is in the
    period (HAVING).
    """
    first = sa.func.min(Order.dispatched_at)
    return (sa.select(Order.item_id, first.label("first"))
            .where(Order.dispatched_at.is_not(None), *_scoped_items(user, f))
            .group_by(Order.item_id).having(_in_period(first, f)).subquery("first_dispatch"))


def first_visit(user: User, f: Filters) -> sa.Subquery:
    """Each item's first visit time (check-in, or start of a completed visit), for the items in scope whose first
    visit falls in the period (index visits(order_id, status, checkin_at, starts_at) covers the visits)."""
    at = sa.func.coalesce(Visit.checkin_at, Visit.starts_at)
    done = Visit.checkin_at.is_not(None) | (Visit.status == VisitStatus.completed)
    first = sa.func.min(at)
    return (sa.select(Order.item_id, first.label("first"))
            .join(Visit, Visit.order_id == Order.id).where(done, *_scoped_items(user, f))
            .group_by(Order.item_id).having(_in_period(first, f)).subquery("first_visit"))


def accepted_clause() -> sa.ColumnElement[bool]:
    """Orders that were accepted (and may have moved on)."""
    return Order.state.in_(ACCEPTED_STATES) | ((Order.state == S.cancelled) & Order.responded_at.is_not(None))


ORDER_MEASURES = ("dispatched", "responded", "accepted", "expired", "completed")


def order_measure_clause(measure: str) -> sa.ColumnElement[bool]:
    """WHERE clause on Order for one of ORDER_MEASURES (all orders are dispatched ones)."""
    return {"dispatched": sa.true(), "responded": accepted_clause() | (Order.state == S.declined),
            "accepted": accepted_clause(), "expired": Order.state == S.expired,
            "completed": Order.state.in_(COMPLETED_STATES)}[measure]


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
    return _in_period(Visit.starts_at, f) & (late | (Visit.status == VisitStatus.missed))


def flagged_clause(f: Filters) -> sa.ColumnElement[bool]:
    """Visits checked in during the period whose record is flagged as implausible."""
    return _in_period(Visit.checkin_at, f) & Visit.flags.is_not(None)


def volunteer_record_clause(f: Filters) -> sa.ColumnElement[bool]:
    """Confirmed service records served in the period."""
    return ServiceRecord.confirmed_at.is_not(None) & ServiceRecord.served_on.between(f.start, f.end)


def month_visits(f: Filters, households: list[sa.ColumnElement[bool]]) -> sa.Subquery:
    """Completed visits per (provider, household) in the month of the period's end, for households in scope."""
    first, last = month_bounds(f.end)
    scoped = [ServiceItem.household_id.in_(sa.select(Household.id).where(*households))] if households else []
    counted = quotas.visit_counts(localtime.day_start(first), localtime.day_start(last + timedelta(days=1)))
    return counted.where(*scoped).subquery("month_visits")


def pairing_query(user: User, f: Filters) -> tuple[sa.Select, sa.ColumnElement[bool], sa.ColumnElement[int]]:
    """Active pairings in scope with their unit and this month's completed visits by the unit.

    Returns the query, the 'meets the quota' clause and the visit-count column.
    """
    counted = month_visits(f, scope(user, f))
    visits = sa.func.coalesce(counted.c.n, 0)
    query = (sa.select(Pairing).join(Household, Pairing.household_id == Household.id)
             .join(PairingUnit, PairingUnit.provider_id == Pairing.provider_id)
             .join(Provider, Provider.id == Pairing.provider_id)
             .outerjoin(counted, (counted.c.provider_id == Pairing.provider_id)
                        & (counted.c.household_id == Pairing.household_id))
             .where(Pairing.ended_on.is_(None), Pairing.since <= f.month_end, *scope(user, f)))
    return query, visits >= PairingUnit.monthly_visit_quota, visits


def contract_query(f: Filters) -> sa.Select:
    """Contracts overlapping the period; with a town, those of agencies with an offer covering it."""
    query = (sa.select(Contract).join(Agency, Contract.agency_id == Agency.id)
             .join(Provider, Provider.id == Agency.provider_id)
             .where(Contract.starts_on <= f.end, Contract.ends_on >= f.start))
    if f.town_id:  # probed per agency: the agency's few offers, then (offer, town)
        serving = sa.exists().where(ServiceOffer.provider_id == Agency.provider_id,
                                    offer_towns.c.offer_id == ServiceOffer.id, offer_towns.c.town_id == f.town_id)
        query = query.where(serving)
    return query


# ------------------------------------------------------------------ the dashboard


@dataclass
class Table:
    """One dashboard table: a key (for downloads and charts), a title, a header and rows.

    `links[i][j]` is None or (figure, params): the list of records counted in cell (i, j).
    """

    key: str
    title: str
    header: list[str]
    rows: list[list] = field(default_factory=list)
    links: list[list[tuple[str, dict] | None]] = field(default_factory=list)

    def add(self, row: list, links: list[tuple[str, dict] | None]) -> None:
        self.rows.append(row)
        self.links.append(links)


@dataclass
class Dashboard:
    filters: Filters
    tables: dict[str, Table]
    headline: dict[str, object]


def rate(part: int, whole: int) -> float | None:
    """part / whole in percent (one decimal), None when whole is 0."""
    return round(100.0 * part / whole, 1) if whole else None


def households_table(user: User, f: Filters) -> Table:
    """Households with material assistance only, material + service, service only."""
    codes = sa.select(household_code(f).label("code")).select_from(Household).where(*scope(user, f)).subquery()
    counts = dict(db.session.execute(
        sa.select(codes.c.code, sa.func.count()).group_by(codes.c.code)).tuples().all())
    table = Table("households", _("Households by kind of assistance"), [_("Kind"), _("Households")])
    labels = {"material_only": _("Material assistance only"), "material_service": _("Material + service"),
              "service_only": _("Service only")}
    for group in HOUSEHOLD_GROUPS:
        table.add([labels[group], counts.get(_GROUP_CODES[group], 0)], [None, ("households", {"group": group})])
    return table


def category_names() -> dict[int, str]:
    """Service category names in the current language, by id."""
    zh = select_locale() == "zh_CN"
    return {c.id: (c.name_zh if zh else c.name_en)
            for c in db.session.scalars(sa.select(ServiceCategory).order_by(ServiceCategory.id))}


def town_names() -> dict[int, str]:
    """Town names in the current language, by id."""
    zh = select_locale() == "zh_CN"
    return {t.id: (t.name_zh if zh else t.name_en) for t in db.session.scalars(sa.select(Town).order_by(Town.id))}


STATUSES = tuple(ItemStatus)


def _items_by(user: User, f: Filters, column, names: dict[int, str], key: str, title: str, param: str) -> Table:
    query = (sa.select(column, ServiceItem.status, sa.func.count()).select_from(ServiceItem)
             .where(items_in_period(f), *item_scope(user, f)).group_by(column, ServiceItem.status))
    if param == "town":
        query = query.join(Household, Household.id == ServiceItem.household_id)
    counts = db.session.execute(query).all()
    grid: dict[int, dict[str, int]] = {}
    for group, status, count in counts:
        grid.setdefault(group, {})[str(status)] = count
    first = _("Service category") if param == "category" else _("Town")
    codes = dict(db.session.execute(sa.select(ServiceCategory.id, ServiceCategory.code)).tuples().all())
    table = Table(key, title, [first, *[str(ITEM_STATUS[s.value]) for s in STATUSES], _("Total")])
    for group_id, name in names.items():
        if group_id not in grid:
            continue
        ident = {"category": codes[group_id]} if param == "category" else {"item_town": group_id}
        values = [grid[group_id].get(s.value, 0) for s in STATUSES]
        table.add([name, *values, sum(values)],
                  [None, *[("items", {**ident, "status": s.value}) for s in STATUSES], ("items", ident)])
    return table


def dispatch_times(user: User, f: Filters) -> sa.Subquery:
    """Hours from registration to first dispatch, per item first dispatched in the period."""
    first = first_dispatch(user, f)
    return (sa.select(hours_between(first.c.first, ServiceItem.created_at).label("x"))
            .select_from(first).join(ServiceItem, ServiceItem.id == first.c.item_id).subquery())


def visit_times(user: User, f: Filters) -> sa.Subquery:
    """Hours from registration to first visit, per item first visited in the period."""
    first = first_visit(user, f)
    return (sa.select(hours_between(first.c.first, ServiceItem.created_at).label("x"))
            .select_from(first).join(ServiceItem, ServiceItem.id == first.c.item_id).subquery())


def times_table(user: User, f: Filters) -> Table:
    """Median hours from registration to dispatch and to first visit."""
    table = Table("times", _("Speed of service"), [_("Measure"), _("Median (hours)"), _("Median (days)"),
                                                    _("Items")])
    for measure, label, values in (("dispatch", _("Registration to dispatch"), dispatch_times(user, f)),
                                   ("visit", _("Registration to first visit"), visit_times(user, f))):
        value, count = median(values)
        table.add([label, round(value, 1) if value is not None else None,
                   round(value / 24, 1) if value is not None else None, count],
                  [None, None, None, ("times", {"measure": measure})])
    return table


def providers_table(user: User, f: Filters) -> Table:
    """Acceptance, expiry and completion rates per agency and pairing unit (volunteers as one row)."""
    key = provider_key().label("key")
    counts = [sa.func.count().filter(order_measure_clause(m)) for m in ORDER_MEASURES]
    query = (sa.select(key, sa.func.min(Provider.name), sa.func.min(Provider.kind), *counts).select_from(Order)
             .outerjoin(Provider, Provider.id == Order.provider_id).where(_in_period(Order.dispatched_at, f))
             .group_by(key).order_by(key))
    rows = db.session.execute(_items_scoped(query, Order.item_id, user, f)).all()
    table = Table("providers", _("Orders per provider"), [
        _("Provider"), _("Dispatched"), _("Responded"), _("Accepted"), _("Expired"), _("Completed"),
        _("Acceptance rate (%)"), _("Expiry rate (%)"), _("Completion rate (%)")])
    for ident, name, _kind, dispatched, responded, accepted, expired, completed in rows:
        provider = VOLUNTEERS_KEY if ident == 0 else str(ident)
        label = _("Volunteers (individuals and tasks)") if ident == 0 else name
        table.add([label, dispatched, responded, accepted, expired, completed, rate(accepted, responded),
                   rate(expired, dispatched), rate(completed, accepted)],
                  [None, *[("orders", {"provider": provider, "measure": m}) for m in ORDER_MEASURES],
                   None, None, None])
    return table


def satisfaction_table(user: User, f: Filters) -> Table:
    """Households' follow-ups recorded in the period by satisfaction score (1-5)."""
    query = (sa.select(HouseholdFeedback.satisfaction, sa.func.count()).select_from(HouseholdFeedback)
             .where(_in_period(HouseholdFeedback.recorded_at, f)).group_by(HouseholdFeedback.satisfaction))
    if item_scope(user, f):
        query = query.join(Order, HouseholdFeedback.order_id == Order.id)
    counts = dict(db.session.execute(_items_scoped(query, Order.item_id, user, f)).tuples().all())
    table = Table("satisfaction", _("Household satisfaction"), [_("Household satisfaction"), _("Follow-ups")])
    for score in range(1, 6):
        table.add([score, counts.get(score, 0)], [None, ("feedback", {"score": score})])
    return table


def _visits_per_town(user: User, f: Filters, towns: dict[int, str], where: sa.ColumnElement[bool], key: str,
                     title: str) -> Table:
    """Visits matching `where` per town (of the household), linked to their records list `key`."""
    counts = dict(db.session.execute(
        sa.select(Household.town_id, sa.func.count()).select_from(Visit).join(Order, Visit.order_id == Order.id)
        .join(ServiceItem, Order.item_id == ServiceItem.id).join(Household)
        .where(where, *item_scope(user, f)).group_by(Household.town_id)
    ).tuples().all())
    table = Table(key, title, [_("Town"), title])
    for town_id, name in towns.items():
        if town_id in counts:
            table.add([name, counts[town_id]], [None, (key, {"item_town": town_id})])
    return table


def overdue_table(user: User, f: Filters, now: datetime, towns: dict[int, str]) -> Table:
    """Overdue or missed visits per town."""
    return _visits_per_town(user, f, towns, overdue_clause(f, now), "overdue", _("Overdue visits"))


def flagged_table(user: User, f: Filters, towns: dict[int, str]) -> Table:
    """Visits flagged as implausible per town."""
    return _visits_per_town(user, f, towns, flagged_clause(f), "flagged", _("Flagged visits"))


def volunteer_hours_table(user: User, f: Filters, towns: dict[int, str]) -> Table:
    """Confirmed volunteer hours served in the period per town (of the household served)."""
    rows = db.session.execute(
        sa.select(Household.town_id, sa.func.count(), sa.func.sum(ServiceRecord.minutes),
                  sa.func.count(sa.distinct(ServiceRecord.volunteer_id)))
        .select_from(ServiceRecord).join(Visit, ServiceRecord.visit_id == Visit.id)
        .join(Order, Visit.order_id == Order.id).join(ServiceItem, Order.item_id == ServiceItem.id)
        .join(Household).where(volunteer_record_clause(f), *item_scope(user, f)).group_by(Household.town_id)
    ).all()
    by_town = {town_id: (count, minutes, volunteers) for town_id, count, minutes, volunteers in rows}
    table = Table("volunteer_hours", _("Volunteer hours"), [_("Town"), _("Service records"), _("Hours"),
                                                             _("Volunteers")])
    for town_id, name in towns.items():
        if town_id in by_town:
            count, minutes, volunteers = by_town[town_id]
            table.add([name, count, round((minutes or 0) / 60, 1), volunteers],
                      [None, ("records", {"item_town": town_id}), ("records", {"item_town": town_id}), None])
    return table


def quota_table(user: User, f: Filters) -> Table:
    """Per pairing unit: active pairings and those meeting the monthly visit quota."""
    query, compliant, _visits = pairing_query(user, f)
    rows = db.session.execute(
        query.with_only_columns(Pairing.provider_id, sa.func.min(Provider.name), sa.func.min(PairingUnit.monthly_visit_quota),
                                sa.func.count(), sa.func.count().filter(compliant))
        .group_by(Pairing.provider_id).order_by(Pairing.provider_id)
    ).all()
    table = Table("quota", _("Pairing visit quota (%(month)s)", month=f.month_start.strftime("%Y-%m")),
                  [_("Pairing unit"), _("Monthly quota"), _("Active pairings"), _("Meeting the quota"),
                   _("Compliance (%)")])
    for provider_id, name, quota, active, met in rows:
        table.add([name, quota, active, met, rate(met, active)],
                  [None, None, ("pairings", {"unit": provider_id}),
                   ("pairings", {"unit": provider_id, "compliant": 1}), None])
    return table


def contracts_table(f: Filters) -> Table:
    """Government-purchase contract hours used vs purchased, per agency."""
    rows = db.session.execute(
        contract_query(f).with_only_columns(Agency.id, sa.func.min(Provider.name), sa.func.count(Contract.id),
                                            sa.func.sum(Contract.purchased_hours), sa.func.sum(Contract.used_hours))
        .group_by(Agency.id).order_by(Agency.id)
    ).all()
    table = Table("contracts", _("Government-purchase contract hours"),
                  [_("Agency"), _("Contracts"), _("Purchased hours"), _("Used hours"), _("Used (%)")])
    for agency_id, name, count, purchased, used in rows:
        table.add([name, count, round(purchased or 0, 1), round(used or 0, 1), rate(used or 0, purchased or 0)],
                  [None, ("contracts", {"agency": agency_id}), None, None, None])
    return table


def _builders(user: User, f: Filters, now: datetime) -> dict[str, Callable[[], Table]]:
    towns = town_names()
    if f.town_id:
        towns = {f.town_id: towns[f.town_id]}
    categories = category_names()
    if f.category_id:
        categories = {f.category_id: categories[f.category_id]}
    return {
        "households": lambda: households_table(user, f),
        "items_by_category": lambda: _items_by(user, f, ServiceItem.category_id, categories, "items_by_category",
                                               _("Service items by category"), "category"),
        "items_by_town": lambda: _items_by(user, f, Household.town_id, towns, "items_by_town",
                                           _("Service items by town"), "town"),
        "times": lambda: times_table(user, f),
        "providers": lambda: providers_table(user, f),
        "satisfaction": lambda: satisfaction_table(user, f),
        "overdue": lambda: overdue_table(user, f, now, towns),
        "flagged": lambda: flagged_table(user, f, towns),
        "volunteer_hours": lambda: volunteer_hours_table(user, f, towns),
        "quota": lambda: quota_table(user, f),
        "contracts": lambda: contracts_table(f),
    }


TABLE_KEYS = ("households", "items_by_category", "items_by_town", "times", "providers", "satisfaction",
              "overdue", "flagged", "volunteer_hours", "quota", "contracts")


def build(user: User, f: Filters, now: datetime) -> Dashboard:
    """All dashboard tables and headline figures for the user's scope and the filters."""
    no_jit()
    tables = {key: make() for key, make in _builders(user, f, now).items()}
    quota_rows = tables["quota"].rows
    active, met = sum(r[2] for r in quota_rows), sum(r[3] for r in quota_rows)
    headline = {
        "overdue": sum(r[1] for r in tables["overdue"].rows),
        "flagged": sum(r[1] for r in tables["flagged"].rows),
        "volunteer_hours": round(sum(r[2] for r in tables["volunteer_hours"].rows), 1),
        "quota_compliance": rate(met, active),
        "median_dispatch_hours": tables["times"].rows[0][1],
    }
    return Dashboard(f, tables, headline)


# ------------------------------------------------------------------ a short-lived cache of whole dashboards
#
# The figures are SQL aggregates over the whole history (about 0.5 s of database work for the city over a year
# on the scale-1.0 demo). The page remembers each built dashboard for DASHBOARD_CACHE_SECONDS (default 60 s; 0
# turns the cache off; off under testing unless set), per process, keyed by the user's scope (role, town), the
# filters, the language and the data version: the newest audit-log id. Every audited change (dispatch, responses,
# visits, hours, evaluations, items, imports, logins) moves that id, so such a change shows at the next page
# view; the time limit bounds how stale anything else can be (scheduler jobs, `now` for overdue visits).

CACHE_ENTRIES = 64
_cache: dict[tuple, tuple[float, Dashboard]] = {}
_cache_lock = threading.Lock()


def clock() -> float:
    """Seconds on a monotonic clock (the cache's time limits)."""
    return clock_module.monotonic()


def cache_seconds() -> float:
    """How long a built dashboard is reused (config DASHBOARD_CACHE_SECONDS: 60 by default, 0 under testing)."""
    return float(current_app.config["DASHBOARD_CACHE_SECONDS"])


def data_version() -> int:
    """The newest audit-log id (one primary-key lookup): it moves with every audited change."""
    return db.session.scalar(sa.select(sa.func.max(AuditLog.id))) or 0


def cached_build(user: User, f: Filters, now: datetime) -> Dashboard:
    """build(), reused while fresh for the same scope, filters, language and data version (see above)."""
    ttl = cache_seconds()
    if ttl <= 0:
        return build(user, f, now)
    key = (user.role, user.town_id, f, select_locale(), data_version())
    hit = _cache.get(key)
    if hit is not None and hit[0] > clock():
        return hit[1]
    data = build(user, f, now)
    with _cache_lock:
        expired = [k for k, (until, _data) in _cache.items() if until <= clock()]
        for k in expired:
            del _cache[k]
        while len(_cache) >= CACHE_ENTRIES:
            del _cache[next(iter(_cache))]  # the oldest entry
        _cache[key] = (clock() + ttl, data)
    return data


def clear_cache() -> None:
    """Forget every cached dashboard."""
    with _cache_lock:
        _cache.clear()


def table(user: User, f: Filters, key: str, now: datetime) -> Table:
    """One dashboard table by key (for downloads); ServiceError(404) for an unknown key."""
    if key not in TABLE_KEYS:
        raise ServiceError(_("Unknown table."), status=404)
    no_jit()
    return _builders(user, f, now)[key]()


# ------------------------------------------------------------------ the records behind each figure


@dataclass(frozen=True)
class Column:
    """A column of a records list: the query label, its header and how to show it.

    kind: text, household (link by household_id), name (masked), category, town, item_status, order_state,
    visit_status, visit_flags, feedback_channel, datetime (local time), date, hours, number.
    """

    key: str
    label: str
    kind: str = "text"


@dataclass
class Records:
    """The rows a figure counts: a query of labelled columns (ordered) and how to show them."""

    title: str
    query: sa.Select
    columns: list[Column]


def _int_param(params: Mapping[str, str], name: str, required: bool = True) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        if required:
            raise ServiceError(_("A list parameter is missing."), status=400)
        return None
    number = parse_int(value)
    if number is None or number < 0:
        raise ServiceError(_("A list parameter is not valid."), status=400)
    return number


def _choice_param(params: Mapping[str, str], name: str, choices) -> str:
    value = params.get(name)
    if value not in choices:
        raise ServiceError(_("A list parameter is not valid."), status=400)
    return value


def _household_columns() -> tuple[list, list[Column]]:
    return ([Household.id.label("household_id"), Household.code.label("code"),
             Household.head_name.label("head"), Household.town_id.label("town")],
            [Column("code", _("Household number"), "household"), Column("head", _("Head of household"), "name"),
             Column("town", _("Town"), "town")])


def _item_town(params: Mapping[str, str]) -> list[sa.ColumnElement[bool]]:
    town = _int_param(params, "item_town", required=False)
    return [Household.town_id == town] if town else []


def records(figure: str, user: User, f: Filters, params: Mapping[str, str], now: datetime) -> Records:
    """The records counted by one figure (see the module docstring); ServiceError 404/400 on bad input."""
    makers = {"households": _household_records, "items": _item_records, "times": _time_records,
              "orders": _order_records, "feedback": _feedback_records, "overdue": _overdue_records,
              "flagged": _flagged_records,
              "records": _service_records, "pairings": _pairing_records, "contracts": _contract_records}
    if figure not in makers:
        raise ServiceError(_("Unknown list."), status=404)
    return makers[figure](user, f, params, now)


def _household_records(user, f, params, now) -> Records:
    group = _choice_param(params, "group", HOUSEHOLD_GROUPS)
    cols, columns = _household_columns()
    query = (sa.select(*cols).where(household_group_filter(group, f), *scope(user, f)).order_by(Household.id))
    titles = {"material_only": _("Households with material assistance only"),
              "material_service": _("Households with material assistance and service"),
              "service_only": _("Households with service only")}
    return Records(titles[group], query, columns)


def _item_columns() -> tuple[list, list[Column]]:
    cols, columns = _household_columns()
    return ([*cols, ServiceItem.id.label("item"), ServiceItem.category_id.label("category"),
             ServiceItem.status.label("status"), ServiceItem.created_at.label("created")],
            [*columns, Column("category", _("Service category"), "category"),
             Column("status", _("Status"), "item_status"), Column("created", _("Registered"), "datetime")])


def _item_records(user, f, params, now) -> Records:
    clauses = [items_in_period(f), *item_scope(user, f), *_item_town(params)]
    if params.get("status"):
        clauses.append(ServiceItem.status == _choice_param(params, "status", [s.value for s in ItemStatus]))
    if params.get("category"):
        clauses.append(ServiceItem.category_id.in_(
            sa.select(ServiceCategory.id).where(ServiceCategory.code == params["category"])))
    cols, columns = _item_columns()
    query = sa.select(*cols).select_from(ServiceItem).join(Household).where(*clauses).order_by(ServiceItem.id)
    return Records(_("Service items"), query, columns)


def _time_records(user, f, params, now) -> Records:
    measure = _choice_param(params, "measure", ("dispatch", "visit"))
    first = first_dispatch(user, f) if measure == "dispatch" else first_visit(user, f)
    cols, columns = _item_columns()
    query = (sa.select(*cols, first.c.first.label("first"),
                       hours_between(first.c.first, ServiceItem.created_at).label("hours"))
             .select_from(first).join(ServiceItem, ServiceItem.id == first.c.item_id).join(Household)
             .order_by(ServiceItem.id))
    label = _("First dispatch") if measure == "dispatch" else _("First visit")
    title = _("Items first dispatched in the period") if measure == "dispatch" else \
        _("Items first visited in the period")
    return Records(title, query, [*columns, Column("first", label, "datetime"), Column("hours", _("Hours"), "hours")])


def _order_records(user, f, params, now) -> Records:
    provider = params.get("provider") or ""
    if provider != VOLUNTEERS_KEY and not provider.isdigit():
        raise ServiceError(_("A list parameter is not valid."), status=400)
    measure = _choice_param(params, "measure", ORDER_MEASURES)
    cols, columns = _household_columns()
    query = (sa.select(*cols, Order.id.label("order"), ServiceItem.category_id.label("category"),
                       Order.state.label("state"), Order.dispatched_at.label("dispatched"))
             .select_from(Order).join(ServiceItem, Order.item_id == ServiceItem.id).join(Household)
             .outerjoin(Provider, Provider.id == Order.provider_id)
             .where(_in_period(Order.dispatched_at, f), *item_scope(user, f), provider_clause(provider),
                    order_measure_clause(measure))
             .order_by(Order.id))
    return Records(_("Orders"), query, [
        Column("order", _("Order"), "number"), *columns, Column("category", _("Service category"), "category"),
        Column("state", _("State"), "order_state"), Column("dispatched", _("Dispatched at"), "datetime")])


def _feedback_records(user, f, params, now) -> Records:
    score = _int_param(params, "score")
    cols, columns = _household_columns()
    query = (sa.select(*cols, HouseholdFeedback.order_id.label("order"), ServiceItem.category_id.label("category"),
                       HouseholdFeedback.channel.label("channel"), HouseholdFeedback.satisfaction.label("score"),
                       HouseholdFeedback.recorded_at.label("recorded"))
             .select_from(HouseholdFeedback).join(Order, HouseholdFeedback.order_id == Order.id)
             .join(ServiceItem, Order.item_id == ServiceItem.id).join(Household)
             .where(_in_period(HouseholdFeedback.recorded_at, f), *item_scope(user, f),
                    HouseholdFeedback.satisfaction == score)
             .order_by(HouseholdFeedback.id))
    return Records(_("Follow-ups"), query, [
        Column("order", _("Order"), "number"), *columns, Column("category", _("Service category"), "category"),
        Column("channel", _("Asked by"), "feedback_channel"), Column("score", _("Household satisfaction"), "number"),
        Column("recorded", _("Recorded at"), "datetime")])


def _overdue_records(user, f, params, now) -> Records:
    cols, columns = _household_columns()
    query = (sa.select(*cols, Visit.id.label("visit"), ServiceItem.category_id.label("category"),
                       Visit.starts_at.label("starts"), Visit.status.label("status"))
             .select_from(Visit).join(Order, Visit.order_id == Order.id)
             .join(ServiceItem, Order.item_id == ServiceItem.id).join(Household)
             .where(overdue_clause(f, now), *item_scope(user, f), *_item_town(params)).order_by(Visit.id))
    return Records(_("Overdue visits"), query, [
        Column("visit", _("Visit"), "number"), *columns, Column("category", _("Service category"), "category"),
        Column("starts", _("Starts at"), "datetime"), Column("status", _("Status"), "visit_status")])


def _flagged_records(user, f, params, now) -> Records:
    cols, columns = _household_columns()
    query = (sa.select(*cols, Visit.id.label("visit"), ServiceItem.category_id.label("category"),
                       Visit.starts_at.label("starts"), Visit.checkin_at.label("checkin"), Visit.flags.label("flags"))
             .select_from(Visit).join(Order, Visit.order_id == Order.id)
             .join(ServiceItem, Order.item_id == ServiceItem.id).join(Household)
             .where(flagged_clause(f), *item_scope(user, f), *_item_town(params)).order_by(Visit.id))
    return Records(_("Flagged visits"), query, [
        Column("visit", _("Visit"), "number"), *columns, Column("category", _("Service category"), "category"),
        Column("starts", _("Starts at"), "datetime"), Column("checkin", _("Checked in at"), "datetime"),
        Column("flags", _("Why flagged"), "visit_flags")])


def _service_records(user, f, params, now) -> Records:
    from socialforce.platform.models import Volunteer

    cols, columns = _household_columns()
    query = (sa.select(*cols, ServiceRecord.id.label("record"), Volunteer.real_name.label("volunteer"),
                       ServiceRecord.served_on.label("served"), ServiceRecord.minutes.label("minutes"))
             .select_from(ServiceRecord).join(Volunteer, Volunteer.id == ServiceRecord.volunteer_id)
             .join(Visit, ServiceRecord.visit_id == Visit.id).join(Order, Visit.order_id == Order.id)
             .join(ServiceItem, Order.item_id == ServiceItem.id).join(Household)
             .where(volunteer_record_clause(f), *item_scope(user, f), *_item_town(params))
             .order_by(ServiceRecord.id))
    return Records(_("Confirmed volunteer service records"), query, [
        Column("record", _("Record"), "number"), *columns, Column("volunteer", _("Volunteer"), "name"),
        Column("served", _("Served on"), "date"), Column("minutes", _("Minutes"), "number")])


def _pairing_records(user, f, params, now) -> Records:
    unit = _int_param(params, "unit")
    query, compliant, visits = pairing_query(user, f)
    cols, columns = _household_columns()
    query = (query.with_only_columns(*cols, Provider.name.label("unit"), Pairing.since.label("since"),
                                     PairingUnit.monthly_visit_quota.label("quota"), visits.label("visits"))
             .where(Pairing.provider_id == unit).order_by(Pairing.id))
    if params.get("compliant") == "1":
        query = query.where(compliant)
    return Records(_("Active pairings"), query, [
        *columns, Column("unit", _("Pairing unit")), Column("since", _("Paired since"), "date"),
        Column("quota", _("Monthly quota"), "number"), Column("visits", _("Completed visits this month"), "number")])


def _contract_records(user, f, params, now) -> Records:
    agency = _int_param(params, "agency")
    query = (contract_query(f).with_only_columns(
        Contract.code.label("code"), Contract.title.label("title"), Provider.name.label("agency"),
        Contract.purchased_hours.label("purchased"), Contract.used_hours.label("used"),
        Contract.starts_on.label("starts"), Contract.ends_on.label("ends"))
        .where(Agency.id == agency).order_by(Contract.id))
    return Records(_("Government-purchase contracts"), query, [
        Column("code", _("Contract")), Column("title", _("Title")), Column("agency", _("Agency")),
        Column("purchased", _("Purchased hours"), "number"), Column("used", _("Used hours"), "number"),
        Column("starts", _("Starts on"), "date"), Column("ends", _("Ends on"), "date")])


@dataclass
class RowsPage:
    """One page of a records list (the attributes the `pager` macro reads)."""

    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def paginate(query: sa.Select, page: int, per_page: int) -> RowsPage:
    """One page of a labelled-columns query and the total row count."""
    no_jit()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
    page = max(1, page)
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).mappings().all()
    return RowsPage(list(rows), page, per_page, total)
