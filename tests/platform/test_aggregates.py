"""Dashboard pre-aggregates: every figure read from them equals the figure computed from raw rows."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform import localtime
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AggregateCoverage,
    DailyAggregate,
    MonthlyAggregate,
    Order,
    OrderState,
    ServiceCategory,
    StaleDay,
    Town,
    User,
    Visit,
)
from socialforce.platform.services import dashboard
from socialforce.platform.services.dashboard import aggregates

AGGREGATED = ("providers", "satisfaction", "flagged", "items_by_category", "items_by_town", "times",
              "volunteer_hours")


def _user(username: str) -> User:
    return db.session.scalar(sa.select(User).where(User.username == username))


def _now() -> datetime:
    """Today at 10:00 in Tengzhou (naive UTC): the demo's history ends today."""
    return localtime.day_start(localtime.today()) + timedelta(hours=10)


def _raw(user: User, f: dashboard.Filters, now: datetime) -> dict[str, dashboard.Table]:
    """The dashboard built from raw rows only (every plan reads raw rows for the whole period)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aggregates, "plan", lambda _user, flt: aggregates.Plan(raw=[(flt.start, flt.end)]))
        return dashboard.build(user, f, now).tables


def _periods(today: date) -> list[tuple[date, date]]:
    yesterday = today - timedelta(days=1)
    last_month = dashboard.default_period(today)
    return [
        (yesterday - timedelta(days=364), yesterday),  # a year: whole months and edge days
        last_month,  # one whole month
        (last_month[0] - timedelta(days=75), last_month[0] + timedelta(days=9)),  # crosses month ends
        (yesterday - timedelta(days=40), today),  # ends today: today is read raw
    ]


def _filters(period: tuple[date, date], town: int | None = None, category: ServiceCategory | None = None):
    return dashboard.Filters(*period, town_id=town, category_id=category.id if category else None,
                             category_code=category.code if category else None)


def _assert_equal(user: User, f: dashboard.Filters, now: datetime) -> None:
    plan = aggregates.plan(user, f)
    assert plan.uses_aggregates, f  # the comparison below really reads aggregates
    with_aggregates = dashboard.build(user, f, now).tables
    raw = _raw(user, f, now)
    for key in AGGREGATED:
        assert with_aggregates[key].rows == raw[key].rows, (key, f)
        assert with_aggregates[key].links == raw[key].links, (key, f)


@pytest.fixture
def built(demo, app):
    """The demo with its aggregates rebuilt as of today 10:00."""
    now = _now()
    result = aggregates.rebuild(now)
    db.session.commit()
    assert result["rows"] > 0
    return now


def test_every_aggregated_figure_equals_raw_rows_for_periods_towns_and_categories(app, built):
    now = built
    city, town1 = _user("city"), _user("town1")
    towns = db.session.scalars(sa.select(Town.id).order_by(Town.id).limit(3)).all()
    categories = db.session.scalars(sa.select(ServiceCategory).order_by(ServiceCategory.id).limit(2)).all()
    checked = 0
    with app.test_request_context():
        for period in _periods(localtime.today(now)):
            _assert_equal(city, _filters(period), now)
            _assert_equal(town1, _filters(period, town1.town_id), now)
            for town in towns:
                _assert_equal(city, _filters(period, town), now)
            for category in categories:
                _assert_equal(city, _filters(period, category=category), now)
                _assert_equal(city, _filters(period, towns[0], category), now)
            checked += 1
        year = _filters(_periods(localtime.today(now))[0])
        shown = dashboard.build(city, year, now).tables
    assert checked == 4
    assert sum(row[1] for row in shown["providers"].rows) > 0  # the demo has orders: the comparison is not empty
    assert sum(row[1] for row in shown["satisfaction"].rows) > 0
    assert sum(row[-1] for row in shown["items_by_town"].rows) > 0


def test_the_figures_really_come_from_the_aggregates(app, built):
    city = _user("city")
    f = _filters(dashboard.default_period(localtime.today(built)))
    with app.test_request_context():
        before = dashboard.build(city, f, built).tables["satisfaction"].rows
        db.session.execute(sa.update(MonthlyAggregate).where(MonthlyAggregate.measure == "feedback",
                                                             MonthlyAggregate.month == f.start)
                           .values(n=MonthlyAggregate.n + 1000))
        after = dashboard.build(city, f, built).tables["satisfaction"].rows
    assert sum(r[1] for r in after) == sum(r[1] for r in before) + 1000 * db.session.scalar(
        sa.select(sa.func.count()).select_from(MonthlyAggregate)
        .where(MonthlyAggregate.measure == "feedback", MonthlyAggregate.month == f.start))


def test_the_plan_reads_whole_months_monthly_edge_days_daily_and_today_raw(app, built):
    city = _user("city")
    today = localtime.today(built)
    coverage = db.session.get(AggregateCoverage, aggregates.COVERAGE)
    assert coverage.last_day == today - timedelta(days=1)
    first, last = dashboard.default_period(today)
    plan = aggregates.plan(city, dashboard.Filters(first - timedelta(days=3), today))
    assert plan.months == [first]
    assert (first - timedelta(days=3), first - timedelta(days=1)) in plan.daily
    assert plan.raw == [(today, today)]
    village = User(username="v", password_hash="-", display_name="v", role="village_assistant")
    assert not aggregates.plan(village, dashboard.Filters(first, last)).uses_aggregates  # scope is not a town


def test_changing_an_old_order_marks_its_day_stale_and_the_figure_stays_exact(app, built):
    city = _user("city")
    window = aggregates.recent_start(localtime.today(built))
    order = db.session.scalar(sa.select(Order).where(Order.dispatched_at < localtime.day_start(window),
                                                     Order.state == OrderState.completed).order_by(Order.id))
    assert order is not None
    day = localtime.to_local(order.dispatched_at).date()
    f = _filters((day.replace(day=1), dashboard.month_bounds(day)[1]))
    order.state = OrderState.evaluated  # a late change through the ORM
    db.session.flush()
    assert db.session.get(StaleDay, day) is not None
    with app.test_request_context():
        assert (day, day) in aggregates.plan(city, f).raw
        _assert_equal(city, f, built)
        result = aggregates.refresh(built)
        assert result["stale_days"] == 1
        assert db.session.get(StaleDay, day) is None
        _assert_equal(city, f, built)


def test_a_back_dated_order_moves_its_items_first_dispatch_and_the_medians_stay_exact(app, built):
    city = _user("city")
    window = localtime.day_start(aggregates.recent_start(localtime.today(built)))
    order = db.session.scalar(sa.select(Order).where(Order.dispatched_at < window - timedelta(days=20))
                              .order_by(Order.id))
    first_day = localtime.to_local(order.dispatched_at).date()
    earlier = order.dispatched_at - timedelta(days=10)
    db.session.add(Order(item_id=order.item_id, provider_id=order.provider_id, state=OrderState.expired,
                         dispatched_at=earlier))
    db.session.flush()
    assert db.session.get(StaleDay, first_day) is not None  # the item's old first-dispatch day, not only the new one
    assert db.session.get(StaleDay, localtime.to_local(earlier).date()) is not None
    f = _filters((localtime.to_local(earlier).date() - timedelta(days=40), first_day + timedelta(days=40)))
    with app.test_request_context():
        _assert_equal(city, f, built)
        aggregates.refresh(built)
        assert not aggregates.plan(city, f).raw
        _assert_equal(city, f, built)


def test_a_bulk_order_transition_marks_the_old_day_stale(app, built):
    from socialforce.platform.services import orders

    order = db.session.scalar(sa.select(Order).where(
        Order.dispatched_at < localtime.day_start(aggregates.recent_start(localtime.today(built))),
        Order.state == OrderState.completed).order_by(Order.id.desc()))
    with app.test_request_context():
        orders.transition(order, OrderState.evaluated, None, now=built)
    assert db.session.get(StaleDay, localtime.to_local(order.dispatched_at).date()) is not None


def test_a_mark_renewed_during_a_refresh_survives_it(app, built):
    day = localtime.today(built) - timedelta(days=200)
    aggregates.mark_stale([day])
    seen = {day: db.session.get(StaleDay, day).generation}
    aggregates.mark_stale([day])  # marked again after the refresh read the marks
    db.session.expire_all()
    aggregates._clear_marks(seen)
    assert db.session.get(StaleDay, day) is not None
    assert aggregates.mark_stale([localtime.today(built)]) == 0  # today is always read raw


def test_refresh_recomputes_recent_days_that_changed_without_a_mark(app, built):
    city = _user("city")
    yesterday = localtime.today(built) - timedelta(days=1)
    visit = db.session.scalar(sa.select(Visit).where(Visit.checkin_at.is_not(None), Visit.flags.is_(None))
                              .order_by(Visit.id))
    assert visit is not None
    day = yesterday - timedelta(days=2)
    assert day >= aggregates.recent_start(localtime.today(built))
    db.session.execute(sa.update(Visit).where(Visit.id == visit.id).values(  # a bulk UPDATE: no ORM event
        checkin_at=localtime.day_start(day) + timedelta(hours=3), flags="short_stay"))
    f = _filters((day, day))
    with app.test_request_context():
        stale = dashboard.build(city, f, built).tables["flagged"].rows
        aggregates.refresh(built)
        fresh = dashboard.build(city, f, built).tables["flagged"].rows
        _assert_equal(city, f, built)
    assert sum(r[1] for r in fresh) == sum(r[1] for r in stale) + 1


def test_refresh_builds_everything_the_first_time_and_the_job_is_scheduled(app, demo):
    from socialforce.platform.scheduler.jobs import JOBS, resolve

    spec = next(s for s in JOBS if s.id == "refresh_dashboard_aggregates")
    assert resolve(spec.func) is aggregates.refresh and spec.cadence == "10min"
    assert spec.cron["minute"] == "*/10"
    result = aggregates.refresh(_now())
    assert result["rebuilt"] is True
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DailyAggregate)) > 0


def test_the_cli_rebuilds_the_aggregates(app, demo):
    result = app.test_cli_runner().invoke(args=["rebuild-aggregates"])
    assert result.exit_code == 0, result.output
    assert "rebuilt dashboard aggregates" in result.output
    db.session.expire_all()
    coverage = db.session.get(AggregateCoverage, aggregates.COVERAGE)
    assert coverage.last_day == localtime.today() - timedelta(days=1)
    monthly = db.session.scalar(sa.select(sa.func.sum(MonthlyAggregate.n)))
    daily = db.session.scalar(sa.select(sa.func.sum(DailyAggregate.n)))
    assert monthly == daily > 0  # the months add up the days


def test_a_back_dated_item_before_the_covered_days_is_counted_and_widens_the_coverage(app, built):
    from socialforce.platform.models import Household, ServiceItem
    from tests import factories

    city = _user("city")
    coverage = db.session.get(AggregateCoverage, aggregates.COVERAGE)
    first = coverage.first_day
    household = db.session.scalar(sa.select(Household).order_by(Household.id))
    item = factories.item(household)
    item.created_at = localtime.day_start(first) - timedelta(days=40)  # e.g. an import of old records
    db.session.flush()
    f = _filters(dashboard.default_period(localtime.today(built)))
    with app.test_request_context():
        assert aggregates.item_plans(city, f)[0].raw[0][0] == date(1970, 1, 1)
        _assert_equal(city, f, built)
        aggregates.refresh(built)
        assert db.session.get(AggregateCoverage, aggregates.COVERAGE).first_day < first
        assert aggregates.item_plans(city, f)[0].raw == []
        _assert_equal(city, f, built)
    assert db.session.get(ServiceItem, item.id) is not None


def test_a_household_moving_town_marks_its_old_days_stale_and_figures_follow(app, built):
    from socialforce.platform.models import Household, ServiceItem

    city = _user("city")
    window = localtime.day_start(aggregates.recent_start(localtime.today(built)))
    household = db.session.scalar(sa.select(Household).join(ServiceItem).join(Order)
                                  .where(Order.dispatched_at < window).order_by(Household.id))
    other = db.session.scalar(sa.select(Town.id).where(Town.id != household.town_id).order_by(Town.id))
    household.town_id = other
    db.session.flush()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StaleDay)) > 0
    f = _filters(_periods(localtime.today(built))[0], other)
    with app.test_request_context():
        _assert_equal(city, f, built)
        aggregates.refresh(built)
        _assert_equal(city, f, built)
