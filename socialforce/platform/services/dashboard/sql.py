"""SQL helpers of the dashboard: dialect switches (JIT, hours, median) and the WHERE clauses of the user's scope."""
from __future__ import annotations

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import Household, ServiceItem, User
from socialforce.platform.scoping import household_filter, sees_every_county
from socialforce.platform.services.dashboard.filters import Filters


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


def seconds_between(later, earlier) -> sa.ColumnElement[int]:
    """SQL for the whole seconds of `later` minus the whole seconds of `earlier` (exact on every dialect)."""
    if _dialect() == "postgresql":
        return sa.cast(sa.func.extract("epoch", sa.func.date_trunc("second", later)), sa.BigInteger) - sa.cast(
            sa.func.extract("epoch", sa.func.date_trunc("second", earlier)), sa.BigInteger)
    return (sa.cast(sa.func.strftime("%s", later), sa.BigInteger)
            - sa.cast(sa.func.strftime("%s", earlier), sa.BigInteger))


def median(values: sa.Subquery) -> tuple[float | None, int]:
    """The median of column `key` of a subquery whose rows each stand for `n` values, and the number of values.

    One query. PostgreSQL: percentile_cont(0.5) over each row repeated n times (one sort); the rows are read once
    (a materialized CTE) and only those with n > 1 go through generate_series (most times rows have n = 1: the
    per-row function call was half the query at scale 1.0). Elsewhere (SQLite): a
    running sum of n in order of key; the median is the mean of the values at the middle positions (N + 1) // 2
    and (N + 2) // 2, the smallest key whose running sum reaches each.
    """
    if _dialect() == "postgresql":
        rows = sa.select(values.c.key, values.c.n).cte("median_rows").prefix_with("MATERIALIZED")
        copies = sa.func.generate_series(1, rows.c.n).table_valued("i").lateral()
        expanded = sa.union_all(sa.select(rows.c.key).where(rows.c.n == 1),
                                sa.select(rows.c.key).select_from(rows).join(copies, sa.true()).where(rows.c.n > 1)
                                ).subquery("median_values")
        value, count = db.session.execute(
            sa.select(sa.func.percentile_cont(0.5).within_group(expanded.c.key), sa.func.count())).one()
        return (float(value) if value is not None else None), count
    running = sa.select(values.c.key, sa.func.sum(values.c.n).over(order_by=values.c.key, rows=(None, 0))
                        .label("upto"), sa.func.sum(values.c.n).over().label("total")).subquery()
    low, high, total = db.session.execute(sa.select(
        sa.func.min(running.c.key).filter(running.c.upto * 2 >= running.c.total),
        sa.func.min(running.c.key).filter(running.c.upto * 2 >= running.c.total + 1),
        sa.func.max(running.c.total))).one()
    if not total:
        return None, 0
    return (float(low) + float(high)) / 2, int(total)


def scope(user: User, f: Filters) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses on Household for the user's scope and the town filter (none for the whole city)."""
    clauses = [] if sees_every_county(user) else [household_filter(user)]
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


def items_scoped(query: sa.Select, item_id, user: User, f: Filters) -> sa.Select:
    """The query joined to ServiceItem on `item_id` and limited by item_scope, when the scope limits anything."""
    clauses = item_scope(user, f)
    if not clauses:
        return query
    return query.join(ServiceItem, item_id == ServiceItem.id).where(*clauses)


def in_period(column, f: Filters) -> sa.ColumnElement[bool]:
    """WHERE clause: `column` (naive UTC) within the period's UTC bounds."""
    return sa.and_(column >= f.start_utc, column < f.end_utc)
