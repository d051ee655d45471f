"""Pre-aggregates of the dashboard's additive figures, and how a figure combines them with raw rows.

Measures (per local day of the event, the household's town, the item's service category and a key):

- ``orders.<measure>`` for each of ORDER_MEASURES, by dispatch day, key = provider_key() (0: volunteers);
- ``feedback``: households' follow-ups by the day recorded, key = satisfaction (1-5);
- ``flagged``: flagged visits by check-in day;
- ``items.created`` / ``items.closed``: service items by the day registered / closed, key = the index of the
  item's current status in ItemStatus. Items in a period [start, end] = registered up to `end` - closed before
  `start` (read over every day since the first covered one);
- ``times.dispatch`` / ``times.visit``: items by the day of their first dispatch / first visit, key = the whole
  seconds from registration to it (the medians are taken over the keys, weighted by n: exact, not binned);
- ``volunteer_hours``: confirmed service records by the day served, key = the volunteer, total = minutes (the
  distinct volunteers are the distinct keys of the rows read).

`total` (a sum beside the count `n`) is 0 except for ``volunteer_hours``.

`dashboard_daily` holds one row per (day, measure, town, category, key); `dashboard_monthly` the same summed per
month. A figure for the period [start, end] is read from the monthly rows for whole months, from the daily rows
for the other covered days, and from raw rows (the figure's own query, limited to those days) for every day
the aggregates do not answer for: today and later, days outside the covered range, and days marked stale.

Freshness: `refresh` (the scheduler's job every 10 minutes) recomputes the recent days (the previous month's
first day to yesterday) and every stale day; `rebuild` (``flask rebuild-aggregates``) recomputes everything.
Order transitions (bulk UPDATEs: late outcomes, evaluations) and household moves in corrections call
`mark_old_stale` / `mark_stale`; `mark_changed_rows` (a before_flush hook) marks the old and new days of every
changed order, visit, follow-up and service item older than the recent window, and every day (recent ones too)
of a household that moves to another town. A change to a recent day that bypasses the ORM (a bulk UPDATE)
shows within 10 minutes. An old order, visit or item change that may move an item's first dispatch or visit
marks every day of the item. Figures that read raw rows only: households by kind (distinct households over the
period), overdue visits (depend on `now`), quota and contracts; and every figure for a scope that is not a union
of towns (village assistants).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from socialforce.platform import localtime, scoping
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AggregateCoverage,
    DailyAggregate,
    Household,
    HouseholdFeedback,
    ItemStatus,
    MonthlyAggregate,
    Order,
    Provider,
    Role,
    ServiceItem,
    ServiceRecord,
    StaleDay,
    User,
    Visit,
    VisitStatus,
)
from socialforce.platform.models.base import utcnow
from socialforce.platform.services.dashboard.filters import Filters, month_bounds
from socialforce.platform.services.dashboard.record_sets import (
    ORDER_MEASURES,
    first_times,
    order_measure_clause,
    provider_key,
)
from socialforce.platform.services.dashboard.sql import seconds_between

COVERAGE = "dashboard"
MAX_RAW_RANGES = 60  # more separate raw ranges than this: the figure reads raw rows for the whole period
ORDER_KEYS = tuple(f"orders.{m}" for m in ORDER_MEASURES)
TIME_MEASURES = ("dispatch", "visit")
Range = tuple[date, date]


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def local_day(column) -> sa.ColumnElement:
    """SQL: the Asia/Shanghai date of a naive-UTC timestamp (UTC+8, no daylight saving since 1991)."""
    if _dialect() == "postgresql":
        return sa.cast(column + sa.text("interval '8 hours'"), sa.Date)
    return sa.func.date(column, "+8 hours")


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def recent_start(today: date) -> date:
    """The first day the scheduler's refresh recomputes every time: the first day of the previous month."""
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


# --- the sources: one grouped query per family of measures ---------------------------------------------------


def _item_dims(query: sa.Select, item_id) -> sa.Select:
    return query.join(ServiceItem, ServiceItem.id == item_id).join(Household, Household.id == ServiceItem.household_id)


def _sources(lo: date, hi: date) -> list[tuple[tuple[str, ...], sa.Select]]:
    """(measures, query) pairs: each query yields day, town, category, key, one count per measure, total."""
    lo_utc, hi_utc = localtime.day_start(lo), localtime.day_start(hi + timedelta(days=1))
    dims = (Household.town_id, ServiceItem.category_id)

    def grouped(day, key, counts, total, select_from, item_id, where) -> sa.Select:
        query = sa.select(day.label("day"), *dims, key.label("key"), *counts, total).select_from(select_from)
        query = _item_dims(query, item_id)
        return query.where(*where).group_by(day, *dims, key)

    day = local_day(Order.dispatched_at)
    orders = grouped(day, provider_key(), [sa.func.count().filter(order_measure_clause(m)) for m in ORDER_MEASURES],
                     sa.literal(0), Order, Order.item_id,
                     [Order.dispatched_at >= lo_utc, Order.dispatched_at < hi_utc])
    orders = orders.outerjoin(Provider, Provider.id == Order.provider_id)
    day = local_day(HouseholdFeedback.recorded_at)
    feedback = grouped(day, HouseholdFeedback.satisfaction, [sa.func.count()], sa.literal(0),
                       sa.join(HouseholdFeedback, Order, HouseholdFeedback.order_id == Order.id), Order.item_id,
                       [HouseholdFeedback.recorded_at >= lo_utc, HouseholdFeedback.recorded_at < hi_utc])
    day = local_day(Visit.checkin_at)
    flagged = grouped(day, sa.literal(0), [sa.func.count()], sa.literal(0),
                      sa.join(Visit, Order, Visit.order_id == Order.id), Order.item_id,
                      [Visit.checkin_at >= lo_utc, Visit.checkin_at < hi_utc, Visit.flags.is_not(None)])
    items = []
    for measure, column in (("items.created", ServiceItem.created_at), ("items.closed", ServiceItem.closed_at)):
        day, key = local_day(column), status_key()  # one object each: PostgreSQL matches GROUP BY by expression
        items.append(((measure,), sa.select(day.label("day"), *dims, key.label("key"), sa.func.count(), sa.literal(0))
                      .select_from(ServiceItem).join(Household, Household.id == ServiceItem.household_id)
                      .where(column >= lo_utc, column < hi_utc).group_by(day, *dims, key)))
    hours = grouped(ServiceRecord.served_on, ServiceRecord.volunteer_id, [sa.func.count()],
                    sa.func.sum(ServiceRecord.minutes),
                    sa.join(ServiceRecord, Visit, ServiceRecord.visit_id == Visit.id).join(
                        Order, Visit.order_id == Order.id), Order.item_id,
                    [ServiceRecord.confirmed_at.is_not(None), ServiceRecord.served_on.between(lo, hi)])
    times = []
    for measure in TIME_MEASURES:
        first = first_times(measure, lambda column: (column >= lo_utc) & (column < hi_utc))
        day, key = local_day(first.c.first), seconds_between(first.c.first, ServiceItem.created_at)
        times.append(((f"times.{measure}",), sa.select(day.label("day"), *dims, key.label("key"), sa.func.count(),
                                                        sa.literal(0))
                      .select_from(first).join(ServiceItem, ServiceItem.id == first.c.item_id)
                      .join(Household, Household.id == ServiceItem.household_id).group_by(day, *dims, key)))
    return [(ORDER_KEYS, orders), (("feedback",), feedback), (("flagged",), flagged), *items, *times,
            (("volunteer_hours",), hours)]


def status_key() -> sa.ColumnElement[int]:
    """SQL: the index of a service item's status in ItemStatus (the key of the items measures)."""
    return sa.case({s.value: i for i, s in enumerate(ItemStatus)}, value=ServiceItem.status, else_=-1)


def _daily_rows(lo: date, hi: date) -> list[dict]:
    """The daily aggregate rows of [lo, hi], computed from raw rows."""
    rows = []
    for measures, query in _sources(lo, hi):
        for day, town, category, key, *values in db.session.execute(query):
            counts, total = values[:-1], values[-1]
            for measure, n in zip(measures, counts, strict=True):
                if n:
                    rows.append({"day": _as_date(day), "measure": measure, "town_id": town,
                                 "category_id": category or 0, "key": int(key or 0), "n": n,
                                 "total": int(total or 0)})
    return rows


def _months(lo: date, hi: date) -> list[date]:
    months, month = [], lo.replace(day=1)
    while month <= hi:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def _recompute(lo: date, hi: date) -> int:
    """Replace the daily rows of [lo, hi] and the monthly rows of the months touching it; returns rows written."""
    rows = _daily_rows(lo, hi)
    db.session.execute(sa.delete(DailyAggregate).where(DailyAggregate.day.between(lo, hi)))
    if rows:
        db.session.execute(sa.insert(DailyAggregate), rows)
    months = _months(lo, hi)
    first, last = months[0], month_bounds(months[-1])[1]
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for day, measure, town, category, key, n, total in db.session.execute(
            sa.select(DailyAggregate.day, DailyAggregate.measure, DailyAggregate.town_id, DailyAggregate.category_id,
                      DailyAggregate.key, DailyAggregate.n, DailyAggregate.total)
            .where(DailyAggregate.day.between(first, last))):
        cell = sums[(_as_date(day).replace(day=1), measure, town, category, key)]
        cell[0] += n
        cell[1] += total
    db.session.execute(sa.delete(MonthlyAggregate).where(MonthlyAggregate.month.in_(months)))
    monthly = [{"month": k[0], "measure": k[1], "town_id": k[2], "category_id": k[3], "key": k[4], "n": v[0],
                "total": v[1]} for k, v in sums.items()]
    if monthly:
        db.session.execute(sa.insert(MonthlyAggregate), monthly)
    return len(rows) + len(monthly)


def _set_coverage(first: date, last: date, now: datetime) -> None:
    coverage = db.session.get(AggregateCoverage, COVERAGE)
    if coverage is None:
        db.session.add(AggregateCoverage(name=COVERAGE, first_day=first, last_day=last, refreshed_at=now))
    else:
        coverage.first_day, coverage.last_day, coverage.refreshed_at = first, last, now
    db.session.flush()


def _earliest_day() -> date | None:
    """The earliest local day any measure counts (None on an empty database)."""
    candidates = [db.session.scalar(sa.select(sa.func.min(column))) for column in
                  (Order.dispatched_at, HouseholdFeedback.recorded_at, Visit.checkin_at, ServiceItem.created_at)]
    days = [localtime.to_local(c).date() for c in candidates if c is not None]
    return min(days) if days else None


def rebuild(now: datetime | None = None) -> dict:
    """Recompute every aggregate from raw rows, month by month, up to yesterday; clear the stale marks."""
    now = now or utcnow()
    yesterday = localtime.today(now) - timedelta(days=1)
    earliest = _earliest_day()
    first = (earliest or yesterday).replace(day=1)
    db.session.execute(sa.delete(DailyAggregate))
    db.session.execute(sa.delete(MonthlyAggregate))
    marks = dict(db.session.execute(sa.select(StaleDay.day, StaleDay.generation)).tuples().all())
    written = 0
    for month in _months(first, yesterday):
        written += _recompute(month, min(month_bounds(month)[1], yesterday))
    _clear_marks(marks)
    _set_coverage(first, yesterday, now)
    return {"first_day": first.isoformat(), "last_day": yesterday.isoformat(), "rows": written}


def refresh(now: datetime) -> dict:
    """The scheduler's job: recompute the recent days and the stale days (a full rebuild if never built)."""
    coverage = db.session.get(AggregateCoverage, COVERAGE)
    if coverage is None:
        return {"rebuilt": True, **rebuild(now)}
    yesterday = localtime.today(now) - timedelta(days=1)
    marks = dict(db.session.execute(sa.select(StaleDay.day, StaleDay.generation)).tuples().all())
    written = 0
    earlier = [_as_date(d) for d in marks if _as_date(d) < coverage.first_day]
    if earlier:  # back-dated rows: widen the coverage to their month
        first = min(earlier).replace(day=1)
        for month in _months(first, coverage.first_day - timedelta(days=1)):
            written += _recompute(month, min(month_bounds(month)[1], coverage.first_day - timedelta(days=1)))
        coverage.first_day = first
    start = max(recent_start(localtime.today(now)), coverage.first_day)
    written += _recompute(start, yesterday) if start <= yesterday else 0
    stale = sorted(_as_date(d) for d in marks if coverage.first_day <= _as_date(d) < start)
    for lo, hi in _ranges(stale):
        written += _recompute(lo, hi)
    _clear_marks(marks)
    _set_coverage(coverage.first_day, max(yesterday, coverage.last_day), now)
    return {"recent_from": start.isoformat(), "stale_days": len(stale), "rows": written}


def _clear_marks(marks: dict) -> None:
    """Remove the stale marks seen (a mark renewed since, with a higher generation, stays)."""
    for day, generation in marks.items():
        db.session.execute(sa.delete(StaleDay).where(StaleDay.day == day, StaleDay.generation == generation))


def _ranges(days: Iterable[date]) -> list[Range]:
    """Sorted days as runs of consecutive days."""
    ranges: list[list[date]] = []
    for day in sorted(set(days)):
        if ranges and day == ranges[-1][1] + timedelta(days=1):
            ranges[-1][1] = day
        else:
            ranges.append([day, day])
    return [(lo, hi) for lo, hi in ranges]


# --- marking stale days ------------------------------------------------------------------------------------------


def mark_stale(days: Iterable[date | datetime | None], session: Session | None = None) -> int:
    """Mark local days (dates, or naive-UTC datetimes) as stale; returns how many were marked.

    Only days before today count (today is always read raw). Each mark raises the day's generation, so a
    refresh running at the same time keeps it.
    """
    session = session or db.session
    today = localtime.today()
    wanted = set()
    for value in days:
        if value is None:
            continue
        day = localtime.to_local(value).date() if isinstance(value, datetime) else value
        if day < today:
            wanted.add(day)
    if not wanted:
        return 0
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(StaleDay).values([{"day": d, "generation": 1} for d in sorted(wanted)])
    session.execute(statement.on_conflict_do_update(index_elements=["day"],
                                                    set_={"generation": StaleDay.generation + 1}))
    return len(wanted)


def household_days(household_ids: Sequence[int]) -> list[date | datetime]:
    """Every day on which a measure counts something of these households (for a change of their town)."""
    if not household_ids:
        return []
    return item_days(sa.select(ServiceItem.id).where(ServiceItem.household_id.in_(household_ids)))


def item_days(items: Sequence[int] | sa.Select) -> list[date | datetime]:
    """Every day on which a measure counts something of these service items (ids, or a SELECT of ids)."""
    orders = sa.select(Order.id).where(Order.item_id.in_(items))
    queries = [sa.select(ServiceItem.created_at).where(ServiceItem.id.in_(items)),
               sa.select(ServiceItem.closed_at).where(ServiceItem.id.in_(items)),
               sa.select(Order.dispatched_at).where(Order.id.in_(orders)),
               sa.select(HouseholdFeedback.recorded_at).where(HouseholdFeedback.order_id.in_(orders)),
               sa.select(Visit.checkin_at).where(Visit.order_id.in_(orders)),
               sa.select(Visit.starts_at).where(Visit.order_id.in_(orders), Visit.status == VisitStatus.completed),
               sa.select(ServiceRecord.served_on).join(Visit, ServiceRecord.visit_id == Visit.id)
               .where(Visit.order_id.in_(orders))]
    return [value for query in queries for value in db.session.scalars(query.distinct()) if value is not None]


_WATCHED = {Order: ("dispatched_at", "state", "responded_at", "provider_id", "item_id"),
            ServiceRecord: ("served_on", "minutes", "confirmed_at", "visit_id", "volunteer_id"),
            HouseholdFeedback: ("recorded_at", "satisfaction", "order_id"),
            Visit: ("checkin_at", "starts_at", "status", "flags", "order_id"),
            ServiceItem: ("created_at", "closed_at", "status", "category_id", "household_id")}
_DAY_ATTRS = {Order: ("dispatched_at",), ServiceRecord: ("served_on",), HouseholdFeedback: ("recorded_at",), Visit: ("checkin_at", "starts_at"),
              ServiceItem: ("created_at", "closed_at")}
_ITEM_TIMES = {Order: ("dispatched_at", "item_id"), Visit: ("checkin_at", "starts_at", "status", "order_id"),
               ServiceItem: ("created_at", "category_id")}  # change an item's first dispatch or visit, or its key


def mark_changed_rows(session: Session, _context, _instances) -> None:
    """before_flush: mark the old and new days of changed rows that count in a measure, if older than the window.

    An item whose first dispatch or visit may have changed (an old order or visit added, removed or moved, the
    item's registration time or category changed) also has every day of its rows marked: its first dispatch and
    visit days are among them.
    """
    days: list = []
    items: set[int | None] = set()
    orders: set[int | None] = set()  # of changed visits: their items are looked up in one query
    window = recent_start(localtime.today())
    for obj in (*session.new, *session.dirty, *session.deleted):
        kind = type(obj)
        if kind is Household and obj in session.dirty and sa.inspect(obj).attrs.town_id.history.has_changes():
            with session.no_autoflush:  # a move: every figure of the household changes town, recent days too
                mark_stale(household_days([obj.id]), session)
            continue
        if kind not in _DAY_ATTRS:
            continue
        state = sa.inspect(obj)
        changed = obj in session.new or obj in session.deleted
        if changed:
            found = [getattr(obj, attr) for attr in _DAY_ATTRS[kind]]
        elif not any(state.attrs[a].history.has_changes() for a in _WATCHED[kind]):
            continue
        else:
            found = []
            for day_attr in _DAY_ATTRS[kind]:
                history = state.attrs[day_attr].history
                if history.empty():
                    with session.no_autoflush:
                        found.append(getattr(obj, day_attr))
                else:
                    found.extend([*history.deleted, *history.unchanged, *history.added])
        days.extend(found)
        if kind in _ITEM_TIMES and any(_old(d, window) for d in found) and (
                changed or any(state.attrs[a].history.has_changes() for a in _ITEM_TIMES[kind])):
            if kind is Visit:
                orders.add(obj.order_id)
            else:
                items.add(obj.item_id if kind is Order else obj.id)
    with session.no_autoflush:
        if orders - {None}:
            items.update(session.scalars(sa.select(Order.item_id).where(Order.id.in_(sorted(orders - {None})))))
        items.discard(None)
        if items:
            days.extend(item_days(sorted(items)))
    if days:
        mark_old_stale(days, session)


def _old(value: date | datetime | None, window: date) -> bool:
    return value is not None and (localtime.to_local(value).date() if isinstance(value, datetime) else value) < window


def mark_old_stale(days: Iterable[date | datetime | None], session: Session | None = None) -> int:
    """mark_stale for the days before the recent window (the refresh recomputes the recent days anyway)."""
    window = recent_start(localtime.today())
    old = [d for d in days if _old(d, window)]
    return mark_stale(old, session) if old else 0


def init_app(_app) -> None:
    """Install the before_flush hook that marks changed old days stale."""
    if not sa.event.contains(Session, "before_flush", mark_changed_rows):
        sa.event.listen(Session, "before_flush", mark_changed_rows)


# --- reading -----------------------------------------------------------------------------------------------------


@dataclass
class Plan:
    """How a period splits: months and day ranges read from aggregates, day ranges read from raw rows."""

    months: list[date] = field(default_factory=list)
    daily: list[Range] = field(default_factory=list)
    raw: list[Range] = field(default_factory=list)

    @property
    def uses_aggregates(self) -> bool:
        return bool(self.months or self.daily)

    def raw_clause(self, column) -> sa.ColumnElement[bool]:
        """WHERE clause: a naive-UTC timestamp (or, for a Date column, the date) on one of the raw days."""
        if not self.raw:
            return sa.false()
        is_date = isinstance(column.type, sa.Date)
        parts = []
        for lo, hi in self.raw:
            if is_date:
                parts.append(column.between(lo, hi))
            else:
                parts.append(sa.and_(column >= localtime.day_start(lo),
                                     column < localtime.day_start(hi + timedelta(days=1))))
        return sa.or_(*parts)


def aggregates_apply(user: User) -> bool:
    """Whether the user's scope is a union of towns (prefecture, county and town staff): then aggregates can
    answer."""
    return user.role in (Role.prefecture_staff, Role.city_staff, Role.town_staff)


def plan(user: User, f: Filters) -> Plan:
    """Split the period into aggregate months, aggregate days and raw days (all raw if nothing is covered)."""
    everything = Plan(raw=[(f.start, f.end)])
    if not aggregates_apply(user):
        return everything
    coverage = db.session.get(AggregateCoverage, COVERAGE)
    if coverage is None:
        return everything
    lo, hi = max(f.start, coverage.first_day), min(f.end, coverage.last_day)
    if lo > hi:
        return everything
    stale = {_as_date(d) for d in db.session.scalars(sa.select(StaleDay.day).where(StaleDay.day.between(lo, hi)))}
    raw_days: list[Range] = []
    if f.start < lo:
        raw_days.append((f.start, lo - timedelta(days=1)))
    if hi < f.end:
        raw_days.append((hi + timedelta(days=1), f.end))
    raw_days.extend((d, d) for d in stale)
    result = Plan(raw=_merge(raw_days))
    if len(result.raw) > MAX_RAW_RANGES:
        return everything
    for run_lo, run_hi in _ranges(_days_between(lo, hi, stale)):
        for month in _months(run_lo, run_hi):
            first, last = month_bounds(month)
            if run_lo <= first and last <= run_hi:
                result.months.append(month)
            else:
                result.daily.append((max(first, run_lo), min(last, run_hi)))
    return result


def _days_between(lo: date, hi: date, skip: set[date]) -> list[date]:
    return [lo + timedelta(days=i) for i in range((hi - lo).days + 1) if lo + timedelta(days=i) not in skip]


def _merge(ranges: list[Range]) -> list[Range]:
    merged: list[list[date]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + timedelta(days=1):
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [(lo, hi) for lo, hi in merged]


def item_plans(user: User, f: Filters) -> tuple[Plan, Plan]:
    """Plans for the items measures: registered up to the period's end, closed before its start.

    They start at the first covered day (the rebuild covers every item); a stale mark before it (a back-dated
    item) makes them start at 1970 (raw rows before the covered days) until the refresh widens the coverage.
    """
    beginning = date(1970, 1, 1)
    coverage = db.session.get(AggregateCoverage, COVERAGE)
    if coverage is not None and aggregates_apply(user) and db.session.scalar(
            sa.select(sa.func.count()).select_from(StaleDay).where(StaleDay.day < coverage.first_day)) == 0:
        beginning = coverage.first_day
    created = plan(user, Filters(beginning, f.end, f.town_id, f.category_id, f.category_code))
    if f.start <= beginning:
        return created, Plan()
    return created, plan(user, Filters(beginning, f.start - timedelta(days=1), f.town_id, f.category_id,
                                       f.category_code))


def _parts(p: Plan, measures: Sequence[str], f: Filters, user: User) -> list[tuple[type, list]]:
    """(table, WHERE clauses) for the monthly and the daily rows of the plan's aggregate days in the user's scope."""
    parts = []
    town = user.town_id if user.role == Role.town_staff else f.town_id
    for table, wanted in ((MonthlyAggregate, p.months), (DailyAggregate, p.daily)):
        if not wanted:
            continue
        when = (MonthlyAggregate.month.in_(wanted) if table is MonthlyAggregate
                else sa.or_(*[DailyAggregate.day.between(lo, hi) for lo, hi in wanted]))
        clauses = [table.measure.in_(measures), when]
        if town:
            clauses.append(table.town_id == town)
        if user.role != Role.town_staff:
            clauses.append(scoping.town_filter(user, table.town_id))
        if f.category_id:
            clauses.append(table.category_id == f.category_id)
        parts.append((table, clauses))
    return parts


def read(p: Plan, measures: Sequence[str], f: Filters, user: User,
         by: Sequence[str] = ("key",)) -> dict[tuple, tuple[int, int]]:
    """Sums (n, total) of the measures over the plan's aggregate days, by (measure, *by): key, town_id, category_id."""
    result: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for table, clauses in _parts(p, measures, f, user):
        group = [getattr(table, column) for column in by]
        for measure, *ident, n, total in db.session.execute(
                sa.select(table.measure, *group, sa.func.sum(table.n), sa.func.sum(table.total))
                .where(*clauses).group_by(table.measure, *group)):
            cell = result[(measure, *ident)]
            cell[0] += int(n or 0)
            cell[1] += int(total or 0)
    return {k: (v[0], v[1]) for k, v in result.items()}


def rows(p: Plan, measure: str, f: Filters, user: User) -> list[sa.Select]:
    """SELECTs of the (town_id, key, n, total) rows of one measure over the plan's aggregate days (for figures
    that are not sums: medians of the keys, distinct keys)."""
    return [sa.select(table.town_id, table.key, table.n, table.total).where(*clauses)
            for table, clauses in _parts(p, (measure,), f, user)]
