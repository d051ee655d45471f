"""Visits: proposals inside windows, no double-booking (property-based and under real concurrency), recurrence,
check-in/out moving the order, and the reminder / missed / recurring / quota jobs with an injected clock."""
from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialforce.platform import weekmask
from socialforce.platform.extensions import db
from socialforce.platform.localtime import to_local, to_utc
from socialforce.platform.models import (
    MemberRole,
    Notification,
    Order,
    OrderState,
    Pairing,
    PairingUnit,
    ProviderKind,
    ProviderMember,
    Role,
    ServiceRecord,
    User,
    Visit,
    VisitStatus,
)
from socialforce.platform.services import ServiceError, accounts, orders, quotas, visits
from socialforce.platform.services.visits import Assignee
from socialforce.platform.transactions import run_in_transaction
from tests import factories

NOW = datetime(2024, 3, 4, 0, 0)  # Monday 08:00 in Shanghai


def member(provider_id: int, role: MemberRole = MemberRole.cadre, name: str = "王干部",
           login: bool = False) -> ProviderMember:
    """An active provider member, with a login if asked (password hashing is slow)."""
    m = ProviderMember(provider_id=provider_id, role=role, name=name)
    db.session.add(m)
    db.session.flush()
    if login:
            accounts.create_user(f"m{m.id}", "pw-12345678",
                             Role.cadre if role == MemberRole.cadre else Role.social_worker, name,
                             provider_id=provider_id, member_id=m.id)
    return m


def accepted_order(windows: int = weekmask.ALL, assignee: ProviderMember | None = None,
                   category: str = "emotional_comfort", login: bool = False) -> Order:
    """An order for a fresh household's item, accepted by a pairing unit's cadre."""
    if assignee is None:
        unit = factories.provider(ProviderKind.unit)
        db.session.add(PairingUnit(provider_id=unit.id, unit_type="department"))
        assignee = member(unit.id, login=login)
    it = factories.item(factories.household(), category, windows=windows)
    order = Order(item_id=it.id, provider_id=assignee.provider_id, state=OrderState.proposed)
    db.session.add(order)
    db.session.flush()
    orders.transition(order, OrderState.dispatched, None, now=NOW)
    orders.transition(order, OrderState.accepted, None, now=NOW, assignee_id=assignee.id)
    return order


def local(y, mo, d, h, mi=0) -> datetime:
    """A Shanghai wall-clock time as naive UTC."""
    return to_utc(datetime(y, mo, d, h, mi))


# ---- proposals ----------------------------------------------------------------------------------------------

def test_proposals_lie_inside_both_windows_and_avoid_busy_times():
    # household: Tuesday afternoon and Thursday morning; cadre's office hours (default): weekday day-time
    mask = weekmask.from_cells([(1, 1), (3, 0), (5, 0)])
    order = accepted_order(windows=mask)
    who = Assignee(member_id=order.assignee_id)
    visits.plan_visit(order, who, local(2024, 3, 5, 13), 60, None, NOW)  # Tuesday 13:00 taken
    slots = visits.propose_slots(order, who, NOW, 60, count=3)
    assert [to_local(s) for s in slots] == [datetime(2024, 3, 5, 14), datetime(2024, 3, 7, 8),
                                            datetime(2024, 3, 12, 13)]  # Saturday (5) is outside office hours


def test_planning_moves_accepted_to_scheduled_and_refuses_the_past():
    order = accepted_order()
    who = Assignee(member_id=order.assignee_id)
    with pytest.raises(ServiceError):
        visits.plan_visit(order, who, NOW - timedelta(hours=1), 60, None, NOW)
    with pytest.raises(ServiceError):
        visits.plan_visit(order, who, NOW + timedelta(days=1), 5, None, NOW)
    visits.plan_visit(order, who, NOW + timedelta(days=1), 60, None, NOW)
    assert order.state == OrderState.scheduled
    assert [e.to_state for e in order.events][-1] == "scheduled"


def test_volunteer_must_be_signed_up_to_be_scheduled():
    it = factories.item(factories.household(), "daily_care")
    order = Order(item_id=it.id, provider_id=None, state=OrderState.proposed)
    db.session.add(order)
    db.session.flush()
    with pytest.raises(ServiceError):
        visits.order_assignee(order, factories.volunteer())


# ---- no double booking --------------------------------------------------------------------------------------

def assert_no_overlap(member_id: int) -> None:
    rows = db.session.execute(sa.select(Visit.starts_at, Visit.ends_at).where(
        Visit.assignee_id == member_id, Visit.status.in_(visits.BUSY)).order_by(Visit.starts_at)).all()
    for (_, end), (start, _) in zip(rows, rows[1:], strict=False):
        assert end <= start


operations = st.lists(
    st.tuples(st.sampled_from(["plan", "reschedule", "cancel"]), st.integers(0, 14 * 24 * 4 - 1),
              st.sampled_from([15, 30, 45, 60, 90, 120, 240]), st.integers(0, 50)),
    min_size=1, max_size=30)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_random_plans_and_reschedules_never_double_book(ops):
    order = accepted_order()
    who = Assignee(member_id=order.assignee_id)
    planned: list[Visit] = []
    try:
        for op, quarter, minutes, pick in ops:
            start = NOW + timedelta(hours=2, minutes=15 * quarter)
            try:
                if op == "plan" or not planned:
                    planned.append(visits.plan_visit(order, who, start, minutes, None, NOW))
                elif op == "reschedule":
                    visits.reschedule(planned[pick % len(planned)], start, minutes, "家属要求改期", None, NOW)
                else:
                    visits.cancel(planned[pick % len(planned)], "临时取消", None, NOW)
            except ServiceError:
                pass
            assert_no_overlap(order.assignee_id)
    finally:
        db.session.rollback()


def test_touching_visits_do_not_overlap_but_intersecting_ones_do():
    order = accepted_order()
    who = Assignee(member_id=order.assignee_id)
    start = NOW + timedelta(days=1)
    visits.plan_visit(order, who, start, 60, None, NOW)
    visits.plan_visit(order, who, start + timedelta(minutes=60), 60, None, NOW)  # [10:00, 11:00) after [9, 10)
    with pytest.raises(ServiceError, match="已有走访安排"):
        visits.plan_visit(order, who, start + timedelta(minutes=30), 15, None, NOW)
    other = accepted_order()  # another cadre is free at the same time
    visits.plan_visit(other, Assignee(member_id=other.assignee_id), start, 60, None, NOW)


def test_a_cancelled_or_missed_visit_frees_the_time():
    order = accepted_order()
    who = Assignee(member_id=order.assignee_id)
    start = NOW + timedelta(days=1)
    first = visits.plan_visit(order, who, start, 60, None, NOW)
    visits.cancel(first, "户主住院", None, NOW)
    assert first.cancel_reason == "户主住院"
    visits.plan_visit(order, who, start, 60, None, NOW)
    with pytest.raises(ServiceError):
        visits.cancel(first, "again", None, NOW)


def race(app, attempts: list) -> tuple[int, int, list[BaseException]]:
    """Run each (order_id, starts_at) booking in its own thread and app context, released by one barrier."""
    barrier = threading.Barrier(len(attempts))
    won, refused, errors = [], [], []

    def book(order_id: int, starts_at: datetime) -> None:
        with app.app_context():
            try:
                order = db.session.get(Order, order_id)
                who = Assignee(member_id=order.assignee_id)
                db.session.commit()
                barrier.wait()
                run_in_transaction(lambda: visits.plan_visit(order, who, starts_at, 60, None, NOW))
                won.append(order_id)
            except ServiceError:
                refused.append(order_id)
            except BaseException as e:  # noqa: BLE001 - collected and asserted below
                errors.append(e)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=book, args=a) for a in attempts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return len(won), len(refused), errors


@pytest.mark.parametrize("run", range(5))
def test_concurrent_overlapping_bookings_of_one_assignee_exactly_one_wins(app, run):
    first = accepted_order()
    cadre = db.session.get(ProviderMember, first.assignee_id)
    second = accepted_order(assignee=cadre)
    db.session.commit()
    start = NOW + timedelta(days=2)
    won, refused, errors = race(app, [(first.id, start), (second.id, start + timedelta(minutes=30))])
    assert errors == []
    assert (won, refused) == (1, 1)
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Visit.id)).where(Visit.assignee_id == cadre.id)) == 1


def test_eight_concurrent_bookings_of_one_slot(app):
    order = accepted_order()
    cadre = db.session.get(ProviderMember, order.assignee_id)
    others = [accepted_order(assignee=cadre) for _ in range(7)]
    db.session.commit()
    start = NOW + timedelta(days=3)
    won, refused, errors = race(app, [(o.id, start) for o in [order, *others]])
    assert errors == []
    assert (won, refused) == (1, 7)


# ---- recurrence ---------------------------------------------------------------------------------------------

def starts(rule: str, first: datetime, until: datetime) -> list[datetime]:
    return [to_local(s) for s in visits.occurrences(rule, to_utc(first), None, to_utc(until))]


def test_monthly_on_the_31st_keeps_month_ends():
    rule = visits.build_rrule("monthly", datetime(2024, 1, 31, 9))
    assert [d.date() for d in starts(rule, datetime(2024, 1, 31, 9), datetime(2024, 7, 1))] == [
        date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30), date(2024, 5, 31),
        date(2024, 6, 30)]
    assert all(d.hour == 9 for d in starts(rule, datetime(2024, 1, 31, 9), datetime(2024, 7, 1)))


def test_monthly_on_the_29th_meets_leap_and_common_februaries():
    rule = visits.build_rrule("monthly", datetime(2023, 12, 29, 14))
    got = [d.date() for d in starts(rule, datetime(2023, 12, 29, 14), datetime(2025, 3, 30))]
    assert date(2024, 2, 29) in got and date(2025, 2, 28) in got
    assert len(got) == 16  # one visit every month from December 2023 to March 2025


def test_monthly_on_an_ordinary_day_and_fortnightly_and_count():
    assert [d.date() for d in starts(visits.build_rrule("monthly", datetime(2024, 1, 15, 9)),
                                     datetime(2024, 1, 15, 9), datetime(2024, 4, 1))] == [
        date(2024, 1, 15), date(2024, 2, 15), date(2024, 3, 15)]
    fortnightly = visits.build_rrule("fortnightly", datetime(2024, 2, 27, 9), count=3)
    assert [d.date() for d in starts(fortnightly, datetime(2024, 2, 27, 9), datetime(2025, 1, 1))] == [
        date(2024, 2, 27), date(2024, 3, 12), date(2024, 3, 26)]


@settings(max_examples=60, deadline=None)
@given(first=st.datetimes(datetime(2023, 1, 1), datetime(2028, 12, 31)).map(lambda d: d.replace(second=0,
                                                                                                  microsecond=0)),
       months=st.integers(2, 30))
def test_monthly_series_visits_every_month_on_its_day_or_the_months_last(first, months):
    rule = visits.build_rrule("monthly", first, count=months)
    got = starts(rule, first, first + timedelta(days=40 * months))
    assert len(got) == months
    for n, when in enumerate(got):
        year, month = first.year + (first.month - 1 + n) // 12, (first.month - 1 + n) % 12 + 1
        last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
        assert (when.year, when.month, when.day) == (year, month, min(first.day, last))
        assert when.time() == first.time()


def test_a_series_expands_ahead_idempotently_and_the_job_extends_it():
    order = accepted_order()
    who = Assignee(member_id=order.assignee_id)
    visits.plan_visit(order, who, local(2024, 3, 5, 9), 60, None, NOW, repeat="weekly")
    count = lambda: db.session.scalar(sa.select(sa.func.count(Visit.id)).where(Visit.order_id == order.id))  # noqa: E731
    assert count() == 4  # 5, 12, 19, 26 March: four weeks ahead
    assert visits.generate_recurring_visits(NOW) == {"series": 0, "created": 0, "skipped_conflicts": 0}
    later = NOW + timedelta(weeks=2)
    assert visits.generate_recurring_visits(later)["created"] == 2
    assert visits.generate_recurring_visits(later)["created"] == 0
    assert count() == 6


def test_series_expansion_skips_clashes_and_the_first_must_be_free():
    order = accepted_order()
    who = Assignee(member_id=order.assignee_id)
    visits.plan_visit(order, who, local(2024, 3, 26, 9), 60, None, NOW)
    with pytest.raises(ServiceError, match="2024-03-26 09:00"):
        visits.plan_visit(order, who, local(2024, 3, 12, 9), 60, None, NOW, repeat="weekly")
    db.session.rollback()
    order = accepted_order()
    who = Assignee(member_id=order.assignee_id)
    visits.plan_visit(order, who, local(2024, 4, 9, 9), 60, None, NOW)
    visits.plan_visit(order, who, local(2024, 3, 5, 9), 60, None, NOW, repeat="weekly")  # until 1 April
    result = visits.generate_recurring_visits(NOW + timedelta(weeks=2))
    assert result["skipped_conflicts"] == 1 and result["created"] == 1  # 9 April taken, 16 April planned
    assert_no_overlap(order.assignee_id)


def test_cancelling_this_and_following_ends_the_series():
    order = accepted_order()
    who = Assignee(member_id=order.assignee_id)
    first = visits.plan_visit(order, who, local(2024, 3, 5, 9), 60, None, NOW, repeat="weekly")
    series_visits = visits.order_visits(order)
    assert visits.cancel(series_visits[2], "结束服务", None, NOW, following=True) == 2
    assert visits.generate_recurring_visits(NOW + timedelta(weeks=8))["created"] == 0
    assert first.status == VisitStatus.planned


# ---- check-in / check-out -----------------------------------------------------------------------------------

def test_check_in_and_out_move_the_order_and_store_coordinates():
    order = accepted_order()
    who = Assignee(member_id=order.assignee_id)
    visit = visits.plan_visit(order, who, NOW + timedelta(hours=3), 60, None, NOW)
    with pytest.raises(ServiceError, match="一小时"):
        visits.check_in(visit, None, NOW)
    with pytest.raises(ServiceError):
        visits.check_out(visit, None, NOW + timedelta(hours=3))
    with pytest.raises(ServiceError):
        visits.check_in(visit, None, NOW + timedelta(hours=3), lat=95.0, lon=117.0)
    visits.check_in(visit, None, NOW + timedelta(hours=2, minutes=50), lat=35.0861234567, lon=117.1634)
    assert (visit.status, visit.checkin_lat, order.state) == (VisitStatus.checked_in, 35.086123, OrderState.in_service)
    visits.check_out(visit, None, NOW + timedelta(hours=4), notes="  聊天、了解近况  ")
    assert (visit.status, visit.checkout_lat, visit.notes) == (VisitStatus.completed, None, "聊天、了解近况")
    assert db.session.scalar(sa.select(sa.func.count(ServiceRecord.id))) == 0  # a cadre's visit: no record


def test_a_volunteers_checkout_writes_an_unconfirmed_record():
    from socialforce.platform.models import TaskSignup, VolunteerTask

    it = factories.item(factories.household(), "daily_care")
    order = Order(item_id=it.id, provider_id=None, state=OrderState.proposed)
    db.session.add(order)
    db.session.flush()
    orders.transition(order, OrderState.dispatched, None, now=NOW)
    task = VolunteerTask(order_id=order.id, slots=1, taken=1)
    db.session.add(task)
    db.session.flush()
    vol = factories.volunteer()
    db.session.add(TaskSignup(task_id=task.id, volunteer_id=vol.id))
    orders.transition(order, OrderState.accepted, None, now=NOW)
    visit = visits.plan_visit(order, visits.order_assignee(order, vol), NOW + timedelta(hours=2), 60, None, NOW)
    visits.check_in(visit, None, NOW + timedelta(hours=2))
    visits.check_out(visit, None, NOW + timedelta(hours=3, minutes=8))
    record = db.session.scalar(sa.select(ServiceRecord))
    assert (record.minutes, record.place, record.confirmed_at) == (75, it.household.village.name, None)
    assert record.served_on == date(2024, 3, 4)


# ---- jobs with an injected clock ----------------------------------------------------------------------------

def notifications(kind: str) -> list[Notification]:
    return list(db.session.scalars(sa.select(Notification).where(Notification.kind == kind)))


def test_reminders_go_once_24_hours_ahead():
    order = accepted_order(login=True)
    who = Assignee(member_id=order.assignee_id)
    soon = visits.plan_visit(order, who, NOW + timedelta(hours=20), 60, None, NOW)
    visits.plan_visit(order, who, NOW + timedelta(hours=30), 60, None, NOW)  # not yet
    assert visits.send_reminders(NOW) == {"reminded": 1}
    assert visits.send_reminders(NOW) == {"reminded": 0}
    sent = notifications("visit_reminder")
    cadre_user = db.session.scalar(sa.select(User).where(User.member_id == order.assignee_id))
    assert [n.user_id for n in sent] == [cadre_user.id]
    assert "name" not in sent[0].params and sent[0].params["visit_id"] == soon.id
    assert soon.reminded_at == NOW
    from socialforce.platform.services.notifications import render

    assert render(sent[0], "en") == f"Reminder: visit #{soon.id} is due at 2024-03-05 04:00"
    assert visits.send_reminders(NOW + timedelta(hours=10)) == {"reminded": 1}
    assert len(notifications("visit_reminder")) == 2


def test_rescheduling_re_arms_the_reminder():
    order = accepted_order()
    visit = visits.plan_visit(order, Assignee(member_id=order.assignee_id), NOW + timedelta(hours=5), 60, None, NOW)
    visits.send_reminders(NOW)
    visits.reschedule(visit, NOW + timedelta(hours=10), None, "户主要求", None, NOW)
    assert visit.reminded_at is None and visit.ends_at - visit.starts_at == timedelta(hours=1)
    assert visits.send_reminders(NOW) == {"reminded": 1}


def test_a_visit_not_checked_in_two_hours_after_its_start_is_missed_once():
    town_staff = accounts.create_user("ts", "pw-12345678", Role.town_staff, "镇街",
                                      town_id=factories.town("longquan").id)
    order = accepted_order()
    who = Assignee(member_id=order.assignee_id)
    late = visits.plan_visit(order, who, NOW + timedelta(hours=1), 60, None, NOW)
    done = visits.plan_visit(order, who, NOW + timedelta(hours=2), 30, None, NOW)
    visits.check_in(done, None, NOW + timedelta(hours=2))
    at = NOW + timedelta(hours=3)
    assert visits.mark_missed(at - timedelta(minutes=1)) == {"missed": 0}
    assert visits.mark_missed(at) == {"missed": 1}
    assert visits.mark_missed(at) == {"missed": 0}
    assert late.status == VisitStatus.missed
    assert [n.user_id for n in notifications("visit_missed")] == [town_staff.id]
    assert done.status == VisitStatus.checked_in


@pytest.mark.parametrize("job", ["send_reminders", "mark_missed"])
def test_a_visit_job_commits_each_visit_before_the_next(monkeypatch, job):
    """A long run must not hold every visit it changed until its end (a visit's notes saved meanwhile waited)."""
    from socialforce.platform.services.visits import jobs

    order = accepted_order()
    who = Assignee(member_id=order.assignee_id)
    first, second = (visits.plan_visit(order, who, NOW + timedelta(hours=h), 60, None, NOW) for h in (5, 8))
    db.session.commit()
    at = NOW if job == "send_reminders" else NOW + timedelta(hours=11)
    column = "reminded_at" if job == "send_reminders" else "status"
    seen, params = {}, jobs._visit_params

    def look_from_another_connection(visit):
        if visit.id == second.id:
            with db.engine.connect() as other:
                seen["first"] = other.execute(sa.text(f"SELECT {column} FROM visits WHERE id = :id"),
                                              {"id": first.id}).scalar_one()
        return params(visit)

    monkeypatch.setattr(jobs, "_visit_params", look_from_another_connection)
    key = "reminded" if job == "send_reminders" else "missed"
    assert getattr(visits, job)(at) == {key: 2}
    assert seen["first"] not in (None, "planned")  # committed while the second visit was being worked on


def pairing(quota: int = 1, cadre: bool = True) -> Pairing:
    unit = factories.provider(ProviderKind.unit)
    db.session.add(PairingUnit(provider_id=unit.id, unit_type="enterprise", monthly_visit_quota=quota))
    m = member(unit.id) if cadre else None
    p = Pairing(provider_id=unit.id, household_id=factories.household().id, cadre_id=m.id if m else None,
                since=date(2023, 1, 1))
    db.session.add(p)
    db.session.flush()
    return p


def test_quota_visits_fill_the_month_once_and_replace_missed_ones():
    p = pairing(quota=2)
    pairing(cadre=False)
    assert quotas.generate_quota_visits(NOW) == {"pairings": 2, "created": 2, "no_cadre": 1, "no_slot": 0}
    assert quotas.generate_quota_visits(NOW) == {"pairings": 2, "created": 0, "no_cadre": 1, "no_slot": 0}
    planned = list(db.session.scalars(sa.select(Visit).order_by(Visit.starts_at)))
    assert {v.order_id for v in planned} == {planned[0].order_id}
    order = db.session.get(Order, planned[0].order_id)
    assert (order.state, order.assignee_id, order.item.category.code) == (OrderState.scheduled, p.cadre_id,
                                                                          "emotional_comfort")
    assert all(to_local(v.starts_at).month == 3 for v in planned)
    visits.mark_missed(planned[0].starts_at + timedelta(hours=2))
    assert quotas.generate_quota_visits(planned[0].starts_at + timedelta(hours=2))["created"] == 1
    from socialforce.platform.services.track_record import provider_stats

    assert provider_stats([p.provider_id])[p.provider_id].accepted == 0  # standing orders are not "accepted"


def test_quota_compliance_counts_completed_visits_this_month():
    p = pairing(quota=1)
    pairing(quota=1)
    staff = accounts.create_user("city", "pw-12345678", Role.city_staff, "市")
    quotas.generate_quota_visits(NOW)
    visit = db.session.scalar(sa.select(Visit).join(Order).where(Order.provider_id == p.provider_id))
    visits.check_in(visit, None, visit.starts_at)
    visits.check_out(visit, None, visit.starts_at + timedelta(minutes=40))
    rows = {r.provider.id: r for r in quotas.quota_compliance(staff, visit.starts_at)}
    assert (rows[p.provider_id].visits_done, rows[p.provider_id].percent) == (1, 100)
    assert len(rows) == 2 and sorted(r.percent for r in rows.values()) == [0, 100]
