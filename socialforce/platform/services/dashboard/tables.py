"""The dashboard's tables: one SQL aggregate per table, each cell linked to the records it counts."""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask import Flask, current_app
from flask_babel import gettext as _

from socialforce.platform import reference
from socialforce.platform.extensions import db
from socialforce.platform.i18n import select_locale
from socialforce.platform.labels import ITEM_STATUS
from socialforce.platform.models import (
    Agency,
    Contract,
    Household,
    HouseholdFeedback,
    ItemStatus,
    Order,
    Pairing,
    PairingUnit,
    Provider,
    ServiceCategory,
    ServiceItem,
    ServiceRecord,
    Town,
    User,
    Visit,
)
from socialforce.platform.services import ServiceError
from socialforce.platform.services.dashboard import aggregates
from socialforce.platform.services.dashboard.aggregates import ORDER_KEYS, Plan
from socialforce.platform.services.dashboard.filters import Filters
from socialforce.platform.services.dashboard.record_sets import (
    GROUP_CODES,
    HOUSEHOLD_GROUPS,
    ORDER_MEASURES,
    VOLUNTEERS_KEY,
    contract_query,
    first_times,
    household_code,
    items_in_period,
    order_measure_clause,
    overdue_clause,
    pairing_query,
    provider_key,
)
from socialforce.platform.services.dashboard.sql import (
    item_scope,
    items_scoped,
    median,
    no_jit,
    scope,
    seconds_between,
)


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


def households_query(user: User, f: Filters) -> sa.Select:
    """(code, households) for the households in scope: code = 2 * (has material) + (has service)."""
    codes = sa.select(household_code(f).label("code")).select_from(Household).where(*scope(user, f)).subquery()
    return sa.select(codes.c.code, sa.func.count()).group_by(codes.c.code)


def households_table(user: User, f: Filters, rows: Callable[[], list[tuple]] | None = None) -> Table:
    """Households with material assistance only, material + service, service only (`rows`: households_query's
    result, when it was run elsewhere)."""
    counts = dict(rows() if rows else db.session.execute(households_query(user, f)).tuples().all())
    table = Table("households", _("Households by kind of assistance"), [_("Kind"), _("Households")])
    labels = {"material_only": _("Material assistance only"), "material_service": _("Material + service"),
              "service_only": _("Service only")}
    for group in HOUSEHOLD_GROUPS:
        table.add([labels[group], counts.get(GROUP_CODES[group], 0)], [None, ("households", {"group": group})])
    return table


def category_names() -> dict[int, str]:
    """Service category names in the current language, by id."""
    zh = select_locale() == "zh_CN"
    return {c.id: (c.name_zh if zh else c.name_en)
            for c in reference.categories()}


def town_names() -> dict[int, str]:
    """Town names in the current language, by id."""
    zh = select_locale() == "zh_CN"
    return {t.id: (t.name_zh if zh else t.name_en) for t in db.session.scalars(sa.select(Town).order_by(Town.id))}


STATUSES = tuple(ItemStatus)


def _item_counts(user: User, f: Filters, column, param: str) -> dict[int, dict[str, int]]:
    """Items in the period by (town or category, status): aggregates where they answer, raw rows elsewhere."""
    def raw(where: sa.ColumnElement[bool]) -> list[tuple]:
        query = (sa.select(column, ServiceItem.status, sa.func.count()).select_from(ServiceItem)
                 .where(where, *item_scope(user, f)).group_by(column, ServiceItem.status))
        if param == "town":
            query = query.join(Household, Household.id == ServiceItem.household_id)
        return db.session.execute(query).all()

    grid: dict[int, dict[str, int]] = {}
    created, closed = aggregates.item_plans(user, f)
    if not created.uses_aggregates:
        for group, status, count in raw(items_in_period(f)):
            grid.setdefault(group, {})[str(status)] = count
        return grid
    by = ("town_id" if param == "town" else "category_id", "key")
    for sign, plan, measure, at in ((1, created, "items.created", ServiceItem.created_at),
                                    (-1, closed, "items.closed", ServiceItem.closed_at)):
        cells = [(group, str(status), count) for group, status, count in raw(plan.raw_clause(at))] if plan.raw else []
        cells += [(group, STATUSES[status].value, n) for (_m, group, status), (n, _t)
                  in aggregates.read(plan, (measure,), f, user, by=by).items()]
        for group, status, count in cells:
            row = grid.setdefault(group, {})
            row[status] = row.get(status, 0) + sign * count
    return {group: row for group, row in grid.items() if any(row.values())}


def _items_by(user: User, f: Filters, column, names: dict[int, str], key: str, title: str, param: str) -> Table:
    grid = _item_counts(user, f, column, param)
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


def time_values(user: User, f: Filters, measure: str, plan: Plan | None = None) -> sa.Subquery:
    """Whole seconds (x) from registration to first dispatch or visit (`measure`) with their count (n), for the items
    whose first one falls in the period: aggregates where they answer, raw rows elsewhere."""
    plan = plan or aggregates.plan(user, f)
    parts = aggregates.rows(plan, f"times.{measure}", f, user)
    if plan.raw:
        first = first_times(measure, plan.raw_clause)
        category = [ServiceItem.category_id == f.category_id] if f.category_id else []
        parts.append(sa.select(Household.town_id, seconds_between(first.c.first, ServiceItem.created_at).label("key"),
                               sa.literal(1).label("n"), sa.literal(0).label("total"))
                     .select_from(first).join(ServiceItem, ServiceItem.id == first.c.item_id)
                     .join(Household, Household.id == ServiceItem.household_id).where(*scope(user, f), *category))
    return _union(parts)


def _union(parts: list[sa.Select]) -> sa.Subquery:
    """The rows (town_id, key, n, total) of every part (none: no rows)."""
    if not parts:
        return sa.select(*[sa.literal(0).label(c) for c in ("town_id", "key", "n", "total")]).where(sa.false()).subquery()
    return sa.union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()


def times_table(user: User, f: Filters, plan: Plan | None = None) -> Table:
    """Median hours from registration to dispatch and to first visit."""
    table = Table("times", _("Speed of service"), [_("Measure"), _("Median (hours)"), _("Median (days)"),
                                                    _("Items")])
    for measure, label in (("dispatch", _("Registration to dispatch")), ("visit", _("Registration to first visit"))):
        seconds, count = median(time_values(user, f, measure, plan))
        hours = seconds / 3600 if seconds is not None else None
        table.add([label, round(hours, 1) if hours is not None else None,
                   round(hours / 24, 1) if hours is not None else None, count],
                  [None, None, None, ("times", {"measure": measure})])
    return table


def _provider_counts(user: User, f: Filters, plan: Plan) -> dict[int, list[int]]:
    """Per provider key: the ORDER_MEASURES counts, from aggregates where they answer and raw rows elsewhere."""
    counts: dict[int, list[int]] = {}
    if plan.raw:
        key = provider_key().label("key")
        query = (sa.select(key, *[sa.func.count().filter(order_measure_clause(m)) for m in ORDER_MEASURES])
                 .select_from(Order).outerjoin(Provider, Provider.id == Order.provider_id)
                 .where(plan.raw_clause(Order.dispatched_at)).group_by(key))
        for ident, *values in db.session.execute(items_scoped(query, Order.item_id, user, f)):
            counts[ident] = list(values)
    if plan.uses_aggregates:
        for (measure, ident), (n, _total) in aggregates.read(plan, ORDER_KEYS, f, user).items():
            counts.setdefault(ident, [0] * len(ORDER_KEYS))[ORDER_KEYS.index(measure)] += n
    return counts


def providers_table(user: User, f: Filters, plan: Plan | None = None) -> Table:
    """Acceptance, expiry and completion rates per agency and pairing unit (volunteers as one row)."""
    counts = _provider_counts(user, f, plan or aggregates.plan(user, f))
    names = dict(db.session.execute(sa.select(Provider.id, Provider.name).where(
        Provider.id.in_([k for k in counts if k]))).tuples().all()) if counts else {}
    rows = [(ident, names.get(ident), None, *counts[ident]) for ident in sorted(counts)]
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


def satisfaction_table(user: User, f: Filters, plan: Plan | None = None) -> Table:
    """Households' follow-ups recorded in the period by satisfaction score (1-5)."""
    plan = plan or aggregates.plan(user, f)
    counts: dict[int, int] = {}
    if plan.raw:
        query = (sa.select(HouseholdFeedback.satisfaction, sa.func.count()).select_from(HouseholdFeedback)
                 .where(plan.raw_clause(HouseholdFeedback.recorded_at)).group_by(HouseholdFeedback.satisfaction))
        if item_scope(user, f):
            query = query.join(Order, HouseholdFeedback.order_id == Order.id)
        counts = dict(db.session.execute(items_scoped(query, Order.item_id, user, f)).tuples().all())
    for (_measure, score), (n, _total) in aggregates.read(plan, ("feedback",), f, user).items():
        counts[score] = counts.get(score, 0) + n
    table = Table("satisfaction", _("Household satisfaction"), [_("Household satisfaction"), _("Follow-ups")])
    for score in range(1, 6):
        table.add([score, counts.get(score, 0)], [None, ("feedback", {"score": score})])
    return table


def _visits_per_town(user: User, f: Filters, towns: dict[int, str], where: sa.ColumnElement[bool], key: str,
                     title: str, added: dict[int, int] | None = None) -> Table:
    """Visits matching `where` per town (of the household), plus `added` (from aggregates), linked to `key`."""
    counts = dict(db.session.execute(
        sa.select(Household.town_id, sa.func.count()).select_from(Visit).join(Order, Visit.order_id == Order.id)
        .join(ServiceItem, Order.item_id == ServiceItem.id).join(Household)
        .where(where, *item_scope(user, f)).group_by(Household.town_id)
    ).tuples().all())
    for town_id, n in (added or {}).items():
        counts[town_id] = counts.get(town_id, 0) + n
    table = Table(key, title, [_("Town"), title])
    for town_id, name in towns.items():
        if town_id in counts:
            table.add([name, counts[town_id]], [None, (key, {"item_town": town_id})])
    return table


def overdue_table(user: User, f: Filters, now: datetime, towns: dict[int, str]) -> Table:
    """Overdue or missed visits per town."""
    return _visits_per_town(user, f, towns, overdue_clause(f, now), "overdue", _("Overdue visits"))


def flagged_table(user: User, f: Filters, towns: dict[int, str], plan: Plan | None = None) -> Table:
    """Visits flagged as implausible per town (aggregates where they answer, raw rows elsewhere)."""
    plan = plan or aggregates.plan(user, f)
    where = plan.raw_clause(Visit.checkin_at) & Visit.flags.is_not(None) if plan.raw else sa.false()
    added = {town: n for (_m, town), (n, _t) in aggregates.read(plan, ("flagged",), f, user, by=("town_id",)).items()}
    return _visits_per_town(user, f, towns, where, "flagged", _("Flagged visits"), added)


def volunteer_hours_table(user: User, f: Filters, towns: dict[int, str], plan: Plan | None = None) -> Table:
    """Confirmed volunteer hours served in the period per town (of the household served): records, hours and
    distinct volunteers, from aggregates keyed by volunteer where they answer and raw rows elsewhere."""
    plan = plan or aggregates.plan(user, f)
    parts = aggregates.rows(plan, "volunteer_hours", f, user)
    if plan.raw:
        parts.append(sa.select(Household.town_id, ServiceRecord.volunteer_id.label("key"), sa.literal(1).label("n"),
                               ServiceRecord.minutes.label("total"))
                     .select_from(ServiceRecord).join(Visit, ServiceRecord.visit_id == Visit.id)
                     .join(Order, Visit.order_id == Order.id).join(ServiceItem, Order.item_id == ServiceItem.id)
                     .join(Household)
                     .where(ServiceRecord.confirmed_at.is_not(None), plan.raw_clause(ServiceRecord.served_on),
                            *item_scope(user, f)))
    values = _union(parts)
    by_town = {town_id: (int(count), int(minutes or 0), volunteers) for town_id, count, minutes, volunteers
               in db.session.execute(sa.select(values.c.town_id, sa.func.sum(values.c.n), sa.func.sum(values.c.total),
                                               sa.func.count(sa.distinct(values.c.key))).group_by(values.c.town_id))}
    table = Table("volunteer_hours", _("Volunteer hours"), [_("Town"), _("Service records"), _("Hours"),
                                                             _("Volunteers")])
    for town_id, name in towns.items():
        if town_id in by_town:
            count, minutes, volunteers = by_town[town_id]
            table.add([name, count, round(minutes / 60, 1), volunteers],
                      [None, ("records", {"item_town": town_id}), ("records", {"item_town": town_id}), None])
    return table


def quota_query(user: User, f: Filters) -> sa.Select:
    """Per pairing unit: id, name, monthly quota, active pairings, pairings meeting the quota."""
    query, compliant, _visits = pairing_query(user, f)
    return (query.with_only_columns(Pairing.provider_id, sa.func.min(Provider.name),
                                    sa.func.min(PairingUnit.monthly_visit_quota), sa.func.count(),
                                    sa.func.count().filter(compliant))
            .group_by(Pairing.provider_id).order_by(Pairing.provider_id))


def quota_table(user: User, f: Filters, rows: Callable[[], list[tuple]] | None = None) -> Table:
    """Per pairing unit: active pairings and those meeting the monthly visit quota (`rows`: quota_query's result,
    when it was run elsewhere)."""
    found = rows() if rows else db.session.execute(quota_query(user, f)).tuples().all()
    table = Table("quota", _("Pairing visit quota (%(month)s)", month=f.month_start.strftime("%Y-%m")),
                  [_("Pairing unit"), _("Monthly quota"), _("Active pairings"), _("Meeting the quota"),
                   _("Compliance (%)")])
    for provider_id, name, quota, active, met in found:
        table.add([name, quota, active, met, rate(met, active)],
                  [None, None, ("pairings", {"unit": provider_id}),
                   ("pairings", {"unit": provider_id, "compliant": 1}), None])
    return table


def contracts_table(user: User, f: Filters) -> Table:
    """Government-purchase contract hours used vs purchased, per agency of the user's county."""
    rows = db.session.execute(
        contract_query(user, f).with_only_columns(Agency.id, sa.func.min(Provider.name), sa.func.count(Contract.id),
                                            sa.func.sum(Contract.purchased_hours), sa.func.sum(Contract.used_hours))
        .group_by(Agency.id).order_by(Agency.id)
    ).all()
    table = Table("contracts", _("Government-purchase contract hours"),
                  [_("Agency"), _("Contracts"), _("Purchased hours"), _("Used hours"), _("Used (%)")])
    for agency_id, name, count, purchased, used in rows:
        table.add([name, count, round(purchased or 0, 1), round(used or 0, 1), rate(used or 0, purchased or 0)],
                  [None, ("contracts", {"agency": agency_id}), None, None, None])
    return table


def _run(app: Flask, query: sa.Select) -> list[tuple]:
    """Run the query in this thread's own app context, session and connection (a read-only transaction)."""
    with app.app_context():
        try:
            no_jit()
            return db.session.execute(query).tuples().all()
        finally:
            db.session.rollback()
            db.session.remove()


PREFETCHED: dict[str, Callable[[User, Filters], sa.Select]] = {"households": households_query, "quota": quota_query}


def _prefetch(user: User, f: Filters, pool: ThreadPoolExecutor) -> dict[str, Callable[[], list[tuple]]]:
    """The households and quota queries started on connections of their own (one each, from `pool`).

    They are the slowest raw-row figures (each household probed for its payments and items; the month's visits
    per pairing); on PostgreSQL they run beside each other and the other figures instead of after them. Those
    connections see committed rows only, so this is for builds in requests that write nothing (config
    DASHBOARD_PARALLEL).
    """
    app = current_app._get_current_object()
    futures = {key: pool.submit(_run, app, query(user, f)) for key, query in PREFETCHED.items()}
    return {key: future.result for key, future in futures.items()}


def parallel() -> bool:
    """Whether build() runs its slowest figures on connections of their own: PostgreSQL, DASHBOARD_PARALLEL on."""
    return bool(current_app.config.get("DASHBOARD_PARALLEL")) and db.session.get_bind().dialect.name == "postgresql"


def _builders(user: User, f: Filters, now: datetime,
              prefetched: dict[str, Callable[[], list[tuple]]] | None = None) -> dict[str, Callable[[], Table]]:
    prefetched = prefetched or {}
    plan = aggregates.plan(user, f)
    towns = town_names()
    if f.town_id:
        towns = {f.town_id: towns[f.town_id]}
    categories = category_names()
    if f.category_id:
        categories = {f.category_id: categories[f.category_id]}
    return {
        "households": lambda: households_table(user, f, prefetched.get("households")),
        "items_by_category": lambda: _items_by(user, f, ServiceItem.category_id, categories, "items_by_category",
                                               _("Service items by category"), "category"),
        "items_by_town": lambda: _items_by(user, f, Household.town_id, towns, "items_by_town",
                                           _("Service items by town"), "town"),
        "times": lambda: times_table(user, f, plan),
        "providers": lambda: providers_table(user, f, plan),
        "satisfaction": lambda: satisfaction_table(user, f, plan),
        "overdue": lambda: overdue_table(user, f, now, towns),
        "flagged": lambda: flagged_table(user, f, towns, plan),
        "volunteer_hours": lambda: volunteer_hours_table(user, f, towns, plan),
        "quota": lambda: quota_table(user, f, prefetched.get("quota")),
        "contracts": lambda: contracts_table(user, f),
    }


TABLE_KEYS = ("households", "items_by_category", "items_by_town", "times", "providers", "satisfaction",
              "overdue", "flagged", "volunteer_hours", "quota", "contracts")


def build(user: User, f: Filters, now: datetime) -> Dashboard:
    """All dashboard tables and headline figures for the user's scope and the filters."""
    no_jit()
    if parallel():
        with ThreadPoolExecutor(max_workers=len(PREFETCHED), thread_name_prefix="dashboard") as pool:
            prefetched = _prefetch(user, f, pool)
            builders = _builders(user, f, now, prefetched)
            tables = {key: builders[key]() for key in TABLE_KEYS if key not in prefetched}
            tables.update({key: builders[key]() for key in prefetched})
        tables = {key: tables[key] for key in TABLE_KEYS}
    else:
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



def table(user: User, f: Filters, key: str, now: datetime) -> Table:
    """One dashboard table by key (for downloads); ServiceError(404) for an unknown key."""
    if key not in TABLE_KEYS:
        raise ServiceError(_("Unknown table."), status=404)
    no_jit()
    return _builders(user, f, now)[key]()
