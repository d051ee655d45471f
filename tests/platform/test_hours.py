"""Service hours: the documented rounding rule (table-driven), confirmation, and the certificate data."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from socialforce.platform.extensions import db
from socialforce.platform.models import Role, ServiceRecord, Visit
from socialforce.platform.services import ServiceError, accounts, certificates, hours
from tests import factories
from tests.platform.test_visits import NOW, accepted_order

T0 = datetime(2024, 3, 4, 1, 0)


@pytest.mark.parametrize(("elapsed", "minutes"), [
    (timedelta(0), 15),                             # minimum: a completed visit counts a quarter hour
    (timedelta(minutes=1), 15),
    (timedelta(minutes=15), 15),
    (timedelta(minutes=22, seconds=29), 15),        # below half-way rounds down
    (timedelta(minutes=22, seconds=30), 30),        # half-way rounds up
    (timedelta(minutes=37, seconds=29), 30),
    (timedelta(minutes=52), 45),
    (timedelta(minutes=53), 60),
    (timedelta(hours=2, minutes=7), 120),
    (timedelta(hours=2, minutes=8), 135),
    (timedelta(hours=7, minutes=52), 465),
    (timedelta(hours=7, minutes=53), 480),
    (timedelta(hours=8), 480),
    (timedelta(hours=9, minutes=30), 480),          # capped at 8 hours per visit
    (timedelta(days=2), 480),
])
def test_rounding_rule(elapsed, minutes):
    assert hours.rounded_minutes(T0, T0 + elapsed) == minutes


def test_checkout_before_checkin_is_an_error():
    with pytest.raises(ValueError):
        hours.rounded_minutes(T0, T0 - timedelta(minutes=1))


def record(volunteer_id: int, minutes: int, day: date) -> ServiceRecord:
    order = accepted_order()
    visit = Visit(order_id=order.id, volunteer_id=volunteer_id, starts_at=T0, ends_at=T0 + timedelta(hours=1))
    db.session.add(visit)
    db.session.flush()
    r = ServiceRecord(visit_id=visit.id, volunteer_id=volunteer_id, served_on=day, place="测试村", content="生活照料",
                      minutes=minutes)
    db.session.add(r)
    db.session.flush()
    return r


def test_a_confirmed_record_counts_and_an_unconfirmed_one_does_not():
    staff = accounts.create_user("ts", "pw-12345678", Role.town_staff, "镇街", town_id=factories.town().id)
    vol = factories.volunteer()
    first, second = record(vol.id, 90, date(2024, 3, 1)), record(vol.id, 45, date(2024, 3, 2))
    assert hours.confirmed_minutes(vol.id) == 0
    hours.confirm_record(first, staff, NOW)
    assert (first.confirmed_by_id, first.confirmed_at) == (staff.id, NOW)
    assert hours.confirmed_minutes(vol.id) == 90
    with pytest.raises(ServiceError):
        hours.confirm_record(first, staff, NOW)
    assert hours.confirmed_minutes(vol.id) == 90
    cert = certificates.issue(vol, None, NOW)
    assert (cert.total_minutes, cert.total_hours, [r.id for r in cert.records]) == (90, 1.5, [first.id])
    assert cert.id_masked == vol.id_masked and cert.issued_on == date(2024, 3, 4)
    assert certificates.issue(vol, None, NOW + timedelta(days=1)).number == cert.number  # same content, same number
    hours.confirm_record(second, staff, NOW)
    again = certificates.issue(vol, None, NOW)
    assert again.total_minutes == 135 and again.number != cert.number
    assert (again.period_from, again.period_to) == (date(2024, 3, 1), date(2024, 3, 2))


@pytest.mark.parametrize(("hours_done", "stars", "next_stars", "to_next"), [
    (0, 0, 1, 100), (99.75, 0, 1, 0.25), (100, 1, 2, 200), (299.5, 1, 2, 0.5), (300, 2, 3, 300),
    (600, 3, 4, 400), (999.75, 3, 4, 0.25), (1000, 4, 5, 500), (1499.75, 4, 5, 0.25), (1500, 5, None, 0),
    (2000, 5, None, 0),
])
def test_star_levels_follow_the_national_thresholds(hours_done, stars, next_stars, to_next):
    level = hours.star_level(round(hours_done * 60))
    assert (level.stars, level.next_stars, level.hours_to_next) == (stars, next_stars, to_next)
    assert 0 <= level.progress <= 1


def test_progress_runs_from_this_levels_threshold_to_the_next():
    assert hours.star_level(200 * 60).progress == 0.5  # 1 star at 100 h, 2 at 300 h
    assert hours.star_level(0).progress == 0
    assert hours.star_level(1500 * 60).progress == 1
