"""Pre-aggregates of the dashboard: additive figures per local day (and month) x town x category x key.

See services/dashboard/aggregates.py for what each measure counts, how the tables are refreshed and how the
dashboard combines them with raw rows.
"""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from socialforce.platform.extensions import db


class DailyAggregate(db.Model):
    """One additive figure for one local day, town (of the household), service category and key."""

    __tablename__ = "dashboard_daily"
    day: Mapped[date] = mapped_column(primary_key=True)
    measure: Mapped[str] = mapped_column(sa.String(24), primary_key=True)
    town_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    category_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    key: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(sa.BigInteger)
    total: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class MonthlyAggregate(db.Model):
    """The same figures summed over a local month (`month` is its first day)."""

    __tablename__ = "dashboard_monthly"
    month: Mapped[date] = mapped_column(primary_key=True)
    measure: Mapped[str] = mapped_column(sa.String(24), primary_key=True)
    town_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    category_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    key: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(sa.BigInteger)
    total: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class StaleDay(db.Model):
    """A local day whose aggregates no longer match the rows (old data changed); read raw until refreshed.

    `generation` grows at every new mark, so a refresh removes only the marks it has seen.
    """

    __tablename__ = "dashboard_stale_days"
    day: Mapped[date] = mapped_column(primary_key=True)
    generation: Mapped[int] = mapped_column(sa.BigInteger, default=1)


class AggregateCoverage(db.Model):
    """The days [first_day, last_day] the aggregates cover (one row, name 'dashboard'), and the last refresh."""

    __tablename__ = "dashboard_coverage"
    name: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    first_day: Mapped[date]
    last_day: Mapped[date]
    refreshed_at: Mapped[datetime]
