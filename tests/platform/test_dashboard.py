"""Dashboard figures: equal to straightforward Python recounts over the ORM rows, and to a hand-built scenario."""
from __future__ import annotations

import statistics
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Agency,
    Contract,
    Household,
    HouseholdFeedback,
    MaterialAssistance,
    Order,
    OrderState,
    Outcome,
    Pairing,
    PairingUnit,
    Provider,
    ProviderKind,
    Role,
    ServiceCategory,
    ServiceItem,
    ServiceRecord,
    Town,
    User,
    Visit,
    VisitStatus,
)
from socialforce.platform.services import ServiceError, dashboard
from socialforce.platform.services.dashboard import aggregates
from tests import factories

NOW = datetime(2026, 11, 1, 2, 0)
PERIODS = [(date(2025, 11, 1), date(2026, 10, 31)), (date(2026, 10, 1), date(2026, 10, 31))]
ACCEPTED = {"accepted", "scheduled", "in_service", "completed", "evaluated"}


def _user(username: str) -> User:
    return db.session.scalar(sa.select(User).where(User.username == username))


def _bounds(f: dashboard.Filters) -> tuple[datetime, datetime]:
    return (datetime.combine(f.start, datetime.min.time()) - timedelta(hours=8),
            datetime.combine(f.end + timedelta(days=1), datetime.min.time()) - timedelta(hours=8))


def _in(at: datetime | None, f: dashboard.Filters) -> bool:
    lo, hi = _bounds(f)
    return at is not None and lo <= at < hi


class Recount:
    """The dashboard's definitions recomputed with plain Python over every ORM row."""

    def __init__(self, user: User, f: dashboard.Filters):
        self.f = f
        town = user.town_id or f.town_id
        self.households = {h.id: h for h in db.session.scalars(sa.select(Household))
                           if town is None or h.town_id == town}
        self.items = {i.id: i for i in db.session.scalars(sa.select(ServiceItem))
                      if i.household_id in self.households and f.category_id in (None, i.category_id)}
        self.orders = [o for o in db.session.scalars(sa.select(Order)) if o.item_id in self.items]

    def household_groups(self) -> dict[str, int]:
        f = self.f
        material = {m.household_id for m in db.session.scalars(sa.select(MaterialAssistance))
                    if f.start.replace(day=1) <= m.month <= f.end}
        dispatched = {o.item_id for o in self.orders if _in(o.dispatched_at, f)}
        hi = _bounds(f)[1]
        service = {i.household_id for i in self.items.values()
                   if (i.status != "closed" and i.created_at < hi) or i.id in dispatched}
        groups = {"material_only": 0, "material_service": 0, "service_only": 0}
        for hid in self.households:
            m, s = hid in material, hid in service
            if m and not s:
                groups["material_only"] += 1
            elif m and s:
                groups["material_service"] += 1
            elif s:
                groups["service_only"] += 1
        return groups

    def items_by_category(self) -> dict[tuple[int, str], int]:
        lo, hi = _bounds(self.f)
        counts: dict[tuple[int, str], int] = {}
        for i in self.items.values():
            if i.created_at < hi and (i.closed_at is None or i.closed_at >= lo):
                key = (i.category_id, str(i.status))
                counts[key] = counts.get(key, 0) + 1
        return counts

    def providers(self) -> dict[int, tuple[int, int, int, int, int]]:
        kinds = dict(db.session.execute(sa.select(Provider.id, Provider.kind)).tuples().all())
        rows: dict[int, list[int]] = {}
        for o in self.orders:
            if not _in(o.dispatched_at, self.f):
                continue
            key = 0 if o.provider_id is None or kinds[o.provider_id] == "volunteer" else o.provider_id
            state = str(o.state)
            accepted = state in ACCEPTED or (state == "cancelled" and o.responded_at is not None)
            row = rows.setdefault(key, [0, 0, 0, 0, 0])
            row[0] += 1
            row[1] += accepted or state == "declined"
            row[2] += accepted
            row[3] += state == "expired"
            row[4] += state in ("completed", "evaluated")
        return {k: tuple(v) for k, v in rows.items()}

    def satisfaction(self) -> dict[int, int]:
        orders = {o.id for o in self.orders}
        counts = dict.fromkeys(range(1, 6), 0)
        for o in db.session.scalars(sa.select(HouseholdFeedback)):
            if o.order_id in orders and _in(o.recorded_at, self.f):
                counts[o.satisfaction] += 1
        return counts

    def median_dispatch_hours(self) -> tuple[float | None, int]:
        first: dict[int, datetime] = {}
        for o in self.orders:
            if o.dispatched_at and (o.item_id not in first or o.dispatched_at < first[o.item_id]):
                first[o.item_id] = o.dispatched_at
        hours = [(at - self.items[i].created_at).total_seconds() / 3600 for i, at in first.items() if _in(at, self.f)]
        return (statistics.median(hours) if hours else None), len(hours)

    def median_visit_hours(self) -> tuple[float | None, int]:
        item_of = {o.id: o.item_id for o in self.orders}
        first: dict[int, datetime] = {}
        for v in db.session.scalars(sa.select(Visit)):
            if v.order_id not in item_of or not (v.checkin_at or v.status == "completed"):
                continue
            at, item = v.checkin_at or v.starts_at, item_of[v.order_id]
            if item not in first or at < first[item]:
                first[item] = at
        hours = [(at - self.items[i].created_at).total_seconds() / 3600 for i, at in first.items() if _in(at, self.f)]
        return (statistics.median(hours) if hours else None), len(hours)

    def overdue(self) -> int:
        orders = {o.id for o in self.orders}
        return sum(1 for v in db.session.scalars(sa.select(Visit))
                   if v.order_id in orders and _in(v.starts_at, self.f)
                   and ((v.status == "planned" and v.checkin_at is None and v.starts_at < NOW - timedelta(hours=2))
                        or v.status == "missed"))

    def flagged(self) -> int:
        orders = {o.id for o in self.orders}
        return sum(1 for v in db.session.scalars(sa.select(Visit))
                   if v.order_id in orders and _in(v.checkin_at, self.f) and v.flags)

    def volunteer_minutes(self) -> int:
        orders = {o.id for o in self.orders}
        visit_order = dict(db.session.execute(sa.select(Visit.id, Visit.order_id)).tuples().all())
        return sum(r.minutes for r in db.session.scalars(sa.select(ServiceRecord))
                   if r.confirmed_at and self.f.start <= r.served_on <= self.f.end
                   and visit_order[r.visit_id] in orders)

    def quota(self) -> dict[int, tuple[int, int]]:
        first, last = dashboard.month_bounds(self.f.end)
        lo = datetime.combine(first, datetime.min.time()) - timedelta(hours=8)
        hi = datetime.combine(last + timedelta(days=1), datetime.min.time()) - timedelta(hours=8)
        all_items = {i.id: i.household_id for i in db.session.scalars(sa.select(ServiceItem))}
        order_of = {o.id: (o.provider_id, all_items[o.item_id]) for o in db.session.scalars(sa.select(Order))}
        visits: dict[tuple, int] = {}
        for v in db.session.scalars(sa.select(Visit)):
            if v.status == "completed" and lo <= v.starts_at < hi:
                visits[order_of[v.order_id]] = visits.get(order_of[v.order_id], 0) + 1
        quotas = dict(db.session.execute(sa.select(PairingUnit.provider_id, PairingUnit.monthly_visit_quota)).tuples().all())
        result: dict[int, list[int]] = {}
        for p in db.session.scalars(sa.select(Pairing)):
            if p.ended_on is None and p.household_id in self.households and p.since <= last:
                row = result.setdefault(p.provider_id, [0, 0])
                row[0] += 1
                row[1] += visits.get((p.provider_id, p.household_id), 0) >= quotas[p.provider_id]
        return {k: tuple(v) for k, v in result.items()}


def _table_rows(table: dashboard.Table, figure: str) -> dict[tuple, list]:
    """Rows keyed by the params of their first link to `figure`."""
    rows = {}
    for row, links in zip(table.rows, table.links, strict=True):
        link = next((lk for lk in links if lk and lk[0] == figure), None)
        rows[tuple(sorted(link[1].items()))] = row
    return rows


@pytest.mark.parametrize("aggregated", [False, True], ids=["raw", "aggregated"])
@pytest.mark.parametrize("username", ["city", "town1"])
@pytest.mark.parametrize("period", PERIODS)
def test_figures_equal_a_python_recount_of_the_demo(demo, app, username, period, aggregated, monkeypatch):
    user = _user(username)
    f = dashboard.Filters(*period)
    # the demo is committed: on PostgreSQL the households and quota figures run on connections of their own, as live
    monkeypatch.setitem(app.config, "DASHBOARD_PARALLEL", True)
    assert dashboard.tables.parallel() == (db.engine.dialect.name == "postgresql")
    if aggregated:  # the pre-aggregates as of NOW (up to the day before): the period is read from them
        aggregates.rebuild(NOW)
        plan = aggregates.plan(user, f)
        assert plan.uses_aggregates
    with app.test_request_context():
        data = dashboard.build(user, f, NOW)
    recount = Recount(user, f)

    groups = {links[1][1]["group"]: row[1] for row, links in zip(data.tables["households"].rows,
                                                                 data.tables["households"].links, strict=True)}
    assert groups == recount.household_groups()
    assert sum(groups.values()) > 0

    codes = dict(db.session.execute(sa.select(ServiceCategory.code, ServiceCategory.id)).tuples().all())
    shown = {}
    for row, links in zip(data.tables["items_by_category"].rows, data.tables["items_by_category"].links,
                          strict=True):
        for value, link in zip(row, links, strict=True):
            if link and "status" in link[1]:
                shown[(codes[link[1]["category"]], link[1]["status"])] = value
    assert {k: v for k, v in shown.items() if v} == recount.items_by_category()

    providers = {(0 if key[1][1] == "volunteers" else int(key[1][1])): tuple(row[1:6])
                 for key, row in _table_rows(data.tables["providers"], "orders").items()}
    assert providers == recount.providers()

    assert [row[1] for row in data.tables["satisfaction"].rows] == list(recount.satisfaction().values())
    for row, (value, count) in zip(data.tables["times"].rows,
                                   (recount.median_dispatch_hours(), recount.median_visit_hours()), strict=True):
        assert row[3] == count
        assert (row[1] is None and value is None) or row[1] == pytest.approx(value, abs=0.06)
    assert data.headline["overdue"] == recount.overdue()
    assert data.headline["flagged"] == recount.flagged()
    towns = len(data.tables["volunteer_hours"].rows)  # the headline adds per-town hours, each rounded to 0.1
    assert data.headline["volunteer_hours"] == pytest.approx(recount.volunteer_minutes() / 60,
                                                             abs=0.05 * towns + 0.06)
    quota = {int(dict(key)["unit"]): (row[2], row[3]) for key, row in _table_rows(data.tables["quota"],
                                                                                    "pairings").items()}
    assert quota == recount.quota()


def test_the_category_filter_limits_items_and_orders(demo, app):
    user = _user("city")
    category = db.session.scalar(sa.select(ServiceCategory).where(ServiceCategory.code == "counselling"))
    everything = dashboard.Filters(*PERIODS[0])
    only = dashboard.Filters(*PERIODS[0], category_id=category.id, category_code="counselling")
    with app.test_request_context():
        all_rows = dashboard.build(user, everything, NOW).tables
        some_rows = dashboard.build(user, only, NOW).tables
    assert [r[0] for r in some_rows["items_by_category"].rows] == ["心理疏导"]
    assert sum(r[-1] for r in some_rows["items_by_category"].rows) < sum(r[-1] for r in all_rows["items_by_category"].rows)
    assert _table_rows(some_rows["providers"], "orders").keys() <= _table_rows(all_rows["providers"], "orders").keys()
    recount = Recount(user, only)
    assert {k: v for k, v in recount.items_by_category().items()} == {
        (category.id, s.value): row[i + 1] for row in some_rows["items_by_category"].rows
        for i, s in enumerate(dashboard.STATUSES) if row[i + 1]}


def test_town_staff_cannot_widen_their_scope_with_the_town_filter(demo, app):
    town1 = _user("town1")
    other = db.session.scalar(sa.select(Town.id).where(Town.code == "jinghe"))
    f = dashboard.parse_filters(town1, {"town": str(other), "from": "2025-11-01", "to": "2026-10-31"}, date(2026, 11, 1))
    assert f.town_id == town1.town_id
    with app.test_request_context():
        tables = dashboard.build(town1, f, NOW).tables
    assert [r[0] for r in tables["items_by_town"].rows] == ["龙泉街道"]


def test_bad_filters_are_refused_with_a_message(app):
    city = User(username="x", password_hash="-", display_name="x", role="city_staff")
    for args in ({"from": "2026-13-01"}, {"from": "2026-10-02", "to": "2026-10-01"}, {"town": "999"},
                 {"category": "nope"}, {"from": "2020-01-01", "to": "2026-01-01"}):
        with app.test_request_context(), pytest.raises(ServiceError) as refused:
            dashboard.parse_filters(city, args, date(2026, 11, 1))
        assert refused.value.status == 400 and refused.value.message


# ---------------------------------------------------------------- a hand-built scenario with known answers


@pytest.fixture
def scenario():
    """Two towns, four households, one agency, one pairing unit; every figure has a known value."""
    hA, hB = factories.household("longquan"), factories.household("longquan")
    hC, hD = factories.household("jinghe"), factories.household("jinghe")
    for h in (hA, hB, hC):
        db.session.add(MaterialAssistance(household_id=h.id, category_id=1, month=date(2026, 10, 1), amount_cents=50000))
    db.session.add(MaterialAssistance(household_id=hD.id, category_id=1, month=date(2026, 8, 1), amount_cents=1))
    created = datetime(2026, 10, 1, 0, 0)
    open_item = factories.item(hA, "counselling")                       # open: service for hA
    open_item.created_at = created
    closed_item = factories.item(hB, "daily_care")                      # closed in September: no service for hB
    closed_item.status, closed_item.created_at, closed_item.closed_at = "closed", datetime(2026, 8, 1), datetime(2026, 9, 1)
    served = factories.item(hC, "daily_care")                           # dispatched in October, closed
    served.status, served.created_at, served.closed_at = "closed", created, datetime(2026, 10, 20)
    dmd = factories.item(hD, "daily_care")                              # open, no material: service only
    dmd.created_at = created
    agency = factories.provider(ProviderKind.agency, "测试社工机构")
    ag = Agency(provider_id=agency.id, licence_no="L-1", contact_name="联系人")
    db.session.add(ag)
    db.session.flush()
    db.session.add(Contract(agency_id=ag.id, code="C-1", title="购买服务", budget_cents=1, purchased_hours=100,
                            used_hours=40, starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31)))
    done = Order(item_id=served.id, provider_id=agency.id, state=OrderState.completed,
                 dispatched_at=created + timedelta(hours=10), responded_at=created + timedelta(hours=12))
    declined = Order(item_id=open_item.id, provider_id=agency.id, state=OrderState.declined,
                     dispatched_at=created + timedelta(hours=20), responded_at=created + timedelta(hours=21))
    expired = Order(item_id=dmd.id, provider_id=agency.id, state=OrderState.expired,
                    dispatched_at=created + timedelta(hours=30))
    db.session.add_all([done, declined, expired])
    db.session.flush()
    worker = factories.provider(ProviderKind.agency)  # a stand-in assignee owner
    from socialforce.platform.models import ProviderMember

    member = ProviderMember(provider_id=worker.id, role="social_worker", name="社工")
    db.session.add(member)
    db.session.flush()
    visit_at = created + timedelta(hours=50)
    db.session.add_all([
        Visit(order_id=done.id, assignee_id=member.id, starts_at=visit_at, ends_at=visit_at + timedelta(hours=2),
              status=VisitStatus.completed, checkin_at=visit_at + timedelta(hours=4), flags="off_schedule"),
        Visit(order_id=done.id, assignee_id=member.id, starts_at=datetime(2026, 11, 2, 2),  # flagged, in November
              ends_at=datetime(2026, 11, 2, 3), status=VisitStatus.completed, checkin_at=datetime(2026, 11, 2, 2),
              checkout_at=datetime(2026, 11, 2, 2, 1), flags="short_stay"),
        Visit(order_id=done.id, assignee_id=member.id, starts_at=datetime(2026, 10, 31, 0),
              ends_at=datetime(2026, 10, 31, 2), status=VisitStatus.planned),      # overdue at NOW
        Visit(order_id=declined.id, assignee_id=member.id, starts_at=datetime(2026, 10, 5),
              ends_at=datetime(2026, 10, 5, 2), status=VisitStatus.missed),        # missed
    ])
    db.session.add_all([Outcome(order_id=done.id, source="provider", resolved="yes", goal_attainment=1,
                                assessment=5, recorded_at=datetime(2026, 10, 21)),
                        Outcome(order_id=done.id, source="assistant", resolved="yes", goal_attainment=1,
                                assessment=3, recorded_at=datetime(2026, 10, 22)),
                        HouseholdFeedback(order_id=done.id, satisfaction=2, channel="staff_phone",
                                          recorded_at=datetime(2026, 10, 23))])
    unit = factories.provider(ProviderKind.unit, "测试结对单位")
    db.session.add(PairingUnit(provider_id=unit.id, unit_type="department", monthly_visit_quota=1))
    db.session.add_all([Pairing(provider_id=unit.id, household_id=hC.id, since=date(2026, 1, 1)),
                        Pairing(provider_id=unit.id, household_id=hD.id, since=date(2026, 1, 1)),
                        Pairing(provider_id=unit.id, household_id=hA.id, since=date(2025, 1, 1),
                                ended_on=date(2025, 12, 31))])
    unit_order = Order(item_id=served.id, provider_id=unit.id, state=OrderState.completed,
                       dispatched_at=created + timedelta(hours=40), responded_at=created + timedelta(hours=41))
    db.session.add(unit_order)
    db.session.flush()
    v = factories.volunteer("jinghe")
    unit_visit = Visit(order_id=unit_order.id, volunteer_id=v.id, starts_at=datetime(2026, 10, 10),
                       ends_at=datetime(2026, 10, 10, 2), status=VisitStatus.completed,
                       checkin_at=datetime(2026, 10, 10, 0, 5))
    db.session.add(unit_visit)
    db.session.flush()
    db.session.add(ServiceRecord(visit_id=unit_visit.id, volunteer_id=v.id, served_on=date(2026, 10, 10),
                                 place="村", content="照料", minutes=90, confirmed_at=datetime(2026, 10, 12)))
    db.session.add(User(username="cityx", password_hash="-", display_name="市", role="city_staff"))
    db.session.flush()
    return {"agency": agency, "unit": unit, "jinghe": hC.town_id}


def test_hand_built_scenario_gives_the_known_figures(app, scenario):
    user = _user("cityx")
    f = dashboard.Filters(date(2026, 10, 1), date(2026, 10, 31))
    with app.test_request_context():
        t = dashboard.build(user, f, NOW).tables
    assert [r[1] for r in t["households"].rows] == [1, 2, 1]  # hB | hA, hC | hD
    agency = next(r for r in t["providers"].rows if r[0] == "测试社工机构")
    assert agency[1:] == [3, 2, 1, 1, 1, 50.0, 33.3, 100.0]
    dispatch, visit = t["times"].rows
    assert dispatch[1] == 20.0 and dispatch[3] == 3  # first dispatches after 10, 20 and 30 hours
    assert visit[1] == 54.0 and visit[3] == 1  # checked in 54 hours after registration
    assert [r[1] for r in t["satisfaction"].rows] == [0, 1, 0, 0, 0]  # the household's 2, not the assessments
    assert sum(r[1] for r in t["overdue"].rows) == 2
    assert t["flagged"].rows == [["荆河街道", 1]]  # the visit checked in 4 h late; the November one is outside
    assert t["volunteer_hours"].rows == [["荆河街道", 1, 1.5, 1]]
    assert t["quota"].rows == [["测试结对单位", 1, 2, 1, 50.0]]  # hC visited once; hD not; hA's pairing ended
    assert t["contracts"].rows[0][1:] == [1, 100.0, 40.0, 40.0]


def test_the_town_filter_changes_the_figures(app, scenario):
    user = _user("cityx")
    f = dashboard.Filters(date(2026, 10, 1), date(2026, 10, 31), town_id=scenario["jinghe"])
    with app.test_request_context():
        t = dashboard.build(user, f, NOW).tables
    assert [r[1] for r in t["households"].rows] == [0, 1, 1]
    assert [r[0] for r in t["items_by_town"].rows] == ["荆河街道"]
    assert sum(r[1] for r in t["overdue"].rows) == 1  # the missed visit belongs to longquan's hA
    assert t["flagged"].rows == [["荆河街道", 1]]


def test_the_period_filter_changes_the_figures(app, scenario):
    user = _user("cityx")
    f = dashboard.Filters(date(2026, 8, 1), date(2026, 8, 31))
    with app.test_request_context():
        t = dashboard.build(user, f, NOW).tables
    assert [r[1] for r in t["households"].rows] == [1, 0, 0]  # hD: material in August; the items came in October
    assert t["providers"].rows == [] and t["times"].rows[0][3] == 0


def test_medians_are_computed_by_the_database_for_even_and_odd_counts(app, scenario):
    user = _user("cityx")
    f = dashboard.Filters(date(2026, 10, 1), date(2026, 10, 31))
    value, count = dashboard.median(dashboard.time_values(user, f, "dispatch"))
    assert (value / 3600, count) == (20.0, 3)
    db.session.execute(sa.delete(Order).where(Order.state == OrderState.expired))
    value, count = dashboard.median(dashboard.time_values(user, f, "dispatch"))
    assert (value / 3600, count) == (15.0, 2)


# ---------------------------------------------------------------- the page's short-lived cache


def test_the_cache_is_off_under_testing_unless_configured(app, scenario):
    user = _user("cityx")
    f = dashboard.Filters(date(2026, 10, 1), date(2026, 10, 31))
    with app.test_request_context():
        assert dashboard.cache_seconds() == 0
        assert dashboard.cached_build(user, f, NOW) is not dashboard.cached_build(user, f, NOW)


def test_the_cache_reuses_a_dashboard_until_an_audited_change_or_its_time_limit(app, scenario, monkeypatch):
    from socialforce.platform.services import audit

    user = _user("cityx")
    town_user = factories.user("townx", Role.town_staff, town_id=scenario["jinghe"])
    f = dashboard.Filters(date(2026, 10, 1), date(2026, 10, 31))
    monkeypatch.setitem(app.config, "DASHBOARD_CACHE_SECONDS", 60)
    now = [1000.0]
    monkeypatch.setattr(dashboard.cache, "clock", lambda: now[0])
    builds = []  # the shared cache hands back a copy (pickled), so reuse is counted in builds
    real_build = dashboard.build
    monkeypatch.setattr(dashboard.cache, "build", lambda *args: builds.append(args[1]) or real_build(*args))
    dashboard.clear_cache()
    try:
        with app.test_request_context():
            first = dashboard.cached_build(user, f, NOW)
            assert dashboard.cached_build(user, f, NOW) == first and len(builds) == 1
            august = dashboard.Filters(date(2026, 8, 1), date(2026, 8, 31))
            assert dashboard.cached_build(user, august, NOW).tables["providers"].rows == []  # other filters: own entry
            in_town = dashboard.cached_build(town_user, f, NOW)
            assert [r[1] for r in in_town.tables["households"].rows] == [0, 1, 1]  # other scope: own entry
            assert len(builds) == 3
            # an audited change shows at once
            db.session.execute(sa.delete(HouseholdFeedback))
            audit.record("household_feedback", user)
            changed = dashboard.cached_build(user, f, NOW)
            assert changed != first and len(builds) == 4
            assert [r[1] for r in changed.tables["satisfaction"].rows] == [0, 0, 0, 0, 0]
            # an unaudited change shows once the time limit has passed
            db.session.execute(sa.delete(ServiceRecord))
            assert dashboard.cached_build(user, f, NOW) == changed and len(builds) == 4
            now[0] += 61
            assert dashboard.cached_build(user, f, NOW).tables["volunteer_hours"].rows == []
            assert len(builds) == 5
    finally:
        dashboard.clear_cache()


def test_the_api_reuses_a_dashboard_up_to_its_max_age_whatever_changed(app, scenario, monkeypatch):
    from socialforce.platform.services import audit

    user = _user("cityx")
    f = dashboard.Filters(date(2026, 10, 1), date(2026, 10, 31))
    monkeypatch.setitem(app.config, "DASHBOARD_CACHE_SECONDS", 60)
    now = [1000.0]
    monkeypatch.setattr(dashboard.cache, "clock", lambda: now[0])
    builds = []
    real_build = dashboard.build
    monkeypatch.setattr(dashboard.cache, "build", lambda *args: builds.append(args[1]) or real_build(*args))
    dashboard.clear_cache()
    try:
        with app.test_request_context():
            first = dashboard.cached_build(user, f, NOW, max_age=30)
            db.session.execute(sa.delete(HouseholdFeedback))
            audit.record("household_feedback", user)
            assert dashboard.cached_build(user, f, NOW, max_age=30) == first and len(builds) == 1  # still 30 s
            page = dashboard.cached_build(user, f, NOW)  # the page shows the audited change at once
            assert page != first and len(builds) == 2
            now[0] += 31
            assert dashboard.cached_build(user, f, NOW, max_age=30) == page and len(builds) == 2  # the page's build
            assert [r[1] for r in page.tables["satisfaction"].rows] == [0, 0, 0, 0, 0]
    finally:
        dashboard.clear_cache()
