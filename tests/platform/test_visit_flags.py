"""Visits that cannot have happened as recorded are accepted but flagged (a very short stay, a check-in far from
the planned time or from the village); the flag shows where staff confirm hours, and a flagged record is never
confirmed in bulk, only one at a time once staff say they checked it."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import AuditLog, Role, ServiceRecord, Visit, VisitStatus, VolunteerTask
from socialforce.platform.services import ServiceError, accounts, dispatch, hours, visits
from tests import factories
from tests.conftest import csrf_token, login

NOW = datetime(2024, 3, 4, 0, 0)  # Monday 08:00 in Shanghai
START = NOW + timedelta(hours=3)
KM_PER_DEG_LAT = 111.0


def volunteer_visit() -> Visit:
    """A planned one-hour visit at START of a volunteer signed up for a task in 龙泉街道."""
    order = dispatch.dispatch(factories.item(factories.household(), "daily_care"), dispatch.Choice(provider_id=None),
                              None, NOW)
    task = db.session.scalar(sa.select(VolunteerTask).where(VolunteerTask.order_id == order.id))
    vol = factories.volunteer()
    dispatch.sign_up(task.id, vol, NOW)
    return visits.plan_visit(order, visits.Assignee(volunteer_id=vol.id), START, 60, None, NOW)


def village_of(visit: Visit):
    return visit.order.item.household.village


def done(checkin_at: datetime, minutes: float, north_km: float = 0.0, checkout_north_km: float = 0.0) -> Visit:
    """A volunteer's visit checked in at `checkin_at`, `north_km` north of the village, and out `minutes` later."""
    visit = volunteer_visit()
    village = village_of(visit)
    visits.check_in(visit, None, checkin_at, lat=village.lat + north_km / KM_PER_DEG_LAT, lon=village.lon)
    visits.check_out(visit, None, checkin_at + timedelta(minutes=minutes),
                     lat=village.lat + checkout_north_km / KM_PER_DEG_LAT, lon=village.lon)
    return visit


def test_a_plausible_visit_is_not_flagged():
    visit = done(START + timedelta(minutes=5), 55, north_km=0.5)
    assert (visit.status, visit.flags) == (VisitStatus.completed, None)


def test_a_check_out_within_minutes_is_accepted_but_flagged():
    visit = done(START, 2)
    assert (visit.status, visit.flags) == (VisitStatus.completed, "short_stay")
    record = db.session.scalar(sa.select(ServiceRecord).where(ServiceRecord.visit_id == visit.id))
    assert record is not None and record.confirmed_at is None  # still recorded, waiting for staff
    log = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "visit_checked_out"))
    assert log.detail["flags"] == "short_stay"


def test_a_check_in_far_from_the_planned_time_is_flagged_at_check_in():
    visit = volunteer_visit()
    visits.check_in(visit, None, START + timedelta(minutes=95))
    assert (visit.status, visit.flags) == (VisitStatus.checked_in, "off_schedule")
    visits.check_out(visit, None, START + timedelta(minutes=160))
    assert visit.flags == "off_schedule"


def test_a_position_far_from_the_village_is_flagged_at_check_in_and_at_check_out():
    far_in = volunteer_visit()
    village = village_of(far_in)
    visits.check_in(far_in, None, START, lat=village.lat + 8 / KM_PER_DEG_LAT, lon=village.lon)
    assert far_in.flags == "far_away"
    assert done(START, 60, north_km=0.2, checkout_north_km=12).flags == "far_away"
    assert done(START, 3, north_km=20).flags == "short_stay far_away"
    assert done(START, 60).flags is None  # no position given: nothing to compare


def test_the_thresholds_are_settings(app, monkeypatch):
    monkeypatch.setitem(app.config, "VISIT_MIN_MINUTES", 1)
    monkeypatch.setitem(app.config, "VISIT_MAX_DISTANCE_KM", 30)
    monkeypatch.setitem(app.config, "VISIT_CHECKIN_DRIFT_HOURS", 0.25)
    assert done(START + timedelta(minutes=20), 2, north_km=20).flags == "off_schedule"


def test_a_flagged_record_is_confirmed_only_one_at_a_time_after_checking():
    staff = accounts.create_user("town-f", "pw-12345678", Role.town_staff, "镇", town_id=factories.town().id)
    flagged, fine = done(START, 2), done(START, 60)
    records = {v.id: db.session.scalar(sa.select(ServiceRecord).where(ServiceRecord.visit_id == v.id))
               for v in (flagged, fine)}
    assert hours.confirm_records(staff, [r.id for r in records.values()], NOW) == 1
    for r in records.values():
        db.session.refresh(r)
    assert records[fine.id].confirmed_at is not None and records[flagged.id].confirmed_at is None
    with pytest.raises(ServiceError) as refused:
        hours.confirm_record(records[flagged.id], staff, NOW)
    assert refused.value.status == 400 and records[flagged.id].confirmed_at is None
    hours.confirm_record(records[flagged.id], staff, NOW, checked_flags=True)
    assert records[flagged.id].confirmed_at is not None
    assert hours.confirm_records(staff, [r.id for r in records.values()], NOW) == 0


def test_the_hours_page_shows_the_flag_and_keeps_flagged_records_out_of_bulk(client):
    accounts.create_user("town-p", "pw-12345678", Role.town_staff, "镇", town_id=factories.town().id)
    flagged, fine = done(START, 2, north_km=9), done(START, 60)
    ids = {v.id: db.session.scalar(sa.select(ServiceRecord.id).where(ServiceRecord.visit_id == v.id))
           for v in (flagged, fine)}
    db.session.commit()
    login(client, "town-p", "pw-12345678")
    page = client.get("/staff/hours").get_data(as_text=True)
    assert "走访时间过短" in page and "签到或签退位置离村庄过远" in page and "我已核实该走访" in page
    assert f'name="record_id" value="{ids[fine.id]}"' in page
    assert f'name="record_id" value="{ids[flagged.id]}"' not in page
    token = csrf_token(client, "/staff/hours")
    response = client.post("/staff/records/confirm", data={"csrf_token": token,
                                                           "record_id": [str(i) for i in ids.values()]})
    assert response.status_code == 303
    single = client.post(f"/staff/records/{ids[flagged.id]}/confirm", data={"csrf_token": token})
    assert single.status_code == 303

    def confirmed(record_id: int) -> bool:
        db.session.expire_all()
        return db.session.get(ServiceRecord, record_id).confirmed_at is not None

    assert confirmed(ids[fine.id]) and not confirmed(ids[flagged.id])
    client.post(f"/staff/records/{ids[flagged.id]}/confirm", data={"csrf_token": token, "checked": "1"})
    assert confirmed(ids[flagged.id])


def test_the_dashboard_counts_flagged_visits_and_lists_them(client):
    accounts.create_user("town-d", "pw-12345678", Role.town_staff, "镇", town_id=factories.town().id)
    done(START, 2, north_km=9)
    done(START, 60)
    db.session.commit()
    login(client, "town-d", "pw-12345678")
    period = "from=2024-03-01&to=2024-03-31"
    board = client.get(f"/staff/dashboard?{period}").get_data(as_text=True)
    assert 'id="section-flagged"' in board and "存疑走访" in board
    listing = client.get(f"/staff/dashboard/list/flagged?{period}").get_data(as_text=True)
    assert "走访时间过短; 签到或签退位置离村庄过远" in listing
    assert client.get("/staff/dashboard/export/flagged.csv?" + period).data.decode("utf-8-sig").count("\n") == 2


def test_the_visit_page_shows_why_it_is_flagged(client):
    accounts.create_user("town-v", "pw-12345678", Role.town_staff, "镇", town_id=factories.town().id)
    visit = done(START + timedelta(hours=2), 5)
    db.session.commit()
    login(client, "town-v", "pw-12345678")
    page = client.get(f"/staff/visits/{visit.id}").get_data(as_text=True)
    assert "存疑原因" in page and "走访时间过短" in page and "签到时间与计划相差过大" in page
