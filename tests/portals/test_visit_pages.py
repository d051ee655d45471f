"""Visit pages: plan from a proposal, check in/out from the phone page, calendars, scoping, confirming hours,
the printable certificate, quota compliance, the household timeline and the staff evaluation."""
from __future__ import annotations

import re
from datetime import date, timedelta

import sqlalchemy as sa

from socialforce.platform import localtime
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    MaterialAssistance,
    OrderState,
    Outcome,
    Role,
    ServiceRecord,
    Visit,
    VisitStatus,
    utcnow,
)
from socialforce.platform.services import accounts, quotas, visits
from socialforce.platform.services.visits import Assignee
from tests import factories
from tests.conftest import csrf_token, login
from tests.platform.test_visits import accepted_order, pairing

PASSWORD = "pw-12345678"


def cadre_login(order) -> str:
    username = f"cadre{order.assignee_id}"
    accounts.create_user(username, PASSWORD, Role.cadre, "王干部", provider_id=order.provider_id,
                         member_id=order.assignee_id)
    return username


def test_cadre_plans_from_a_proposal_then_checks_in_and_out(client):
    order = accepted_order()
    username = cadre_login(order)
    db.session.commit()
    login(client, username, PASSWORD)
    page = client.get(f"/unit/orders/{order.id}/visits")
    assert page.status_code == 200
    first_slot = re.search(r'name="slot" id="slot1" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    token = csrf_token(client, f"/unit/orders/{order.id}/visits")
    planned = client.post(f"/unit/orders/{order.id}/visits", data={
        "csrf_token": token, "action": "plan", "slot": first_slot, "duration": "60", "repeat": ""},
        follow_redirects=True)
    assert planned.status_code == 200
    db.session.expire_all()
    visit = db.session.scalar(sa.select(Visit).where(Visit.order_id == order.id))
    assert visit.starts_at.isoformat() == first_slot and order.state == OrderState.scheduled
    # the same time again is refused with a message, nothing added
    again = client.post(f"/unit/orders/{order.id}/visits", data={
        "csrf_token": token, "action": "plan", "slot": first_slot, "duration": "60"}, follow_redirects=True)
    assert "已有" in again.get_data(as_text=True) or "already has a visit" in again.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Visit.id))) == 1
    # the phone page: the check-in form carries hidden coordinates filled by checkin.js
    visit.starts_at, visit.ends_at = utcnow() + timedelta(minutes=10), utcnow() + timedelta(minutes=70)
    db.session.commit()
    phone = client.get(f"/unit/visits/{visit.id}").get_data(as_text=True)
    assert "data-geolocate" in phone and 'name="lat"' in phone and "checkin.js" in phone and "<script>" not in phone
    client.post(f"/unit/visits/{visit.id}/checkin", data={"csrf_token": token, "lat": "35.08", "lon": "117.16"})
    db.session.expire_all()
    assert (visit.status, visit.checkin_lat, visit.order.state) == (VisitStatus.checked_in, 35.08,
                                                                    OrderState.in_service)
    client.post(f"/unit/visits/{visit.id}/checkout", data={"csrf_token": token, "lat": "", "lon": "",
                                                           "notes": "情况稳定"})
    db.session.expire_all()
    assert (visit.status, visit.checkout_lat, visit.notes) == (VisitStatus.completed, None, "情况稳定")
    week = client.get("/unit/calendar").get_data(as_text=True)
    assert f"/unit/visits/{visit.id}" in week


def test_reschedule_needs_a_reason_and_cancel_records_it(client):
    order = accepted_order()
    username = cadre_login(order)
    visit = visits.plan_visit(order, Assignee(member_id=order.assignee_id), utcnow() + timedelta(days=2), 60, None,
                              utcnow())
    db.session.commit()
    login(client, username, PASSWORD)
    token = csrf_token(client, f"/unit/visits/{visit.id}")
    new_local = localtime.to_local(utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    client.post(f"/unit/visits/{visit.id}/reschedule", data={"csrf_token": token, "starts_at": new_local,
                                                             "reason": ""})
    db.session.expire_all()
    old_start = visit.starts_at
    assert localtime.to_local(old_start).strftime("%Y-%m-%dT%H:%M") != new_local
    client.post(f"/unit/visits/{visit.id}/reschedule", data={"csrf_token": token, "starts_at": new_local,
                                                             "reason": "户主外出"})
    db.session.expire_all()
    assert localtime.to_local(visit.starts_at).strftime("%Y-%m-%dT%H:%M") == new_local
    client.post(f"/unit/visits/{visit.id}/cancel", data={"csrf_token": token, "reason": "户主住院"})
    db.session.expire_all()
    assert (visit.status, visit.cancel_reason) == (VisitStatus.cancelled, "户主住院")


def test_a_refused_visit_form_shows_its_errors_beside_the_fields_and_keeps_what_was_typed(client):
    order = accepted_order()
    username = cadre_login(order)
    visit = visits.plan_visit(order, Assignee(member_id=order.assignee_id), utcnow() + timedelta(days=2), 60, None,
                              utcnow())
    db.session.commit()
    before = visit.starts_at
    login(client, username, PASSWORD)
    token = csrf_token(client, f"/unit/visits/{visit.id}")
    # a time that is not one and no reason: both errors at once, each beside its field, the typed text kept
    page = client.post(f"/unit/visits/{visit.id}/reschedule", data={"csrf_token": token, "starts_at": "下周三",
                                                                    "reason": ""})
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    reschedule = html[html.index('action="/unit/visits/'):html.index("/cancel")]
    assert reschedule.count('invalid-feedback') == 2 and 'value="下周三"' in reschedule
    assert "请按示例格式输入日期和时间。" in reschedule  # in the user's language (Chinese, the default)
    assert "<details class=\"mb-2\" open>" in html  # the form with the errors is open
    # a service refusal names its field: a past time is refused beside the time, the reason kept
    past = localtime.to_local(utcnow() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    page = client.post(f"/unit/visits/{visit.id}/reschedule", data={"csrf_token": token, "starts_at": past,
                                                                    "reason": "户主外出"})
    reschedule = page.get_data(as_text=True)
    reschedule = reschedule[reschedule.index('action="/unit/visits/'):reschedule.index("/cancel")]
    assert page.status_code == 400 and 'invalid-feedback' in reschedule and "户主外出" in reschedule
    db.session.expire_all()
    assert visit.starts_at == before and visit.status == VisitStatus.planned


def test_another_units_cadre_cannot_open_the_visit(client):
    order = accepted_order()
    visit = visits.plan_visit(order, Assignee(member_id=order.assignee_id), utcnow() + timedelta(days=1), 60, None,
                              utcnow())
    stranger = accepted_order()
    username = cadre_login(stranger)
    db.session.commit()
    login(client, username, PASSWORD)
    assert client.get(f"/unit/visits/{visit.id}").status_code == 404
    assert client.get(f"/unit/orders/{order.id}/visits").status_code == 404


def volunteer_with_hours():
    """A volunteer (with login) who served one visit; returns (volunteer, record)."""
    from tests.platform.test_hours import record

    vol = factories.volunteer()
    accounts.create_user("vol1", PASSWORD, Role.volunteer, vol.real_name, provider_id=vol.provider_id)
    return vol, record(vol.id, 135, date(2024, 3, 2))


def test_staff_confirm_a_record_and_the_volunteer_prints_a_certificate(client, app):
    vol, rec = volunteer_with_hours()
    accounts.create_user("town1", PASSWORD, Role.town_staff, "镇街", town_id=factories.town().id)
    db.session.commit()
    login(client, "vol1", PASSWORD)
    assert client.get("/volunteer/hours/certificate").status_code == 302  # nothing confirmed yet
    client.post("/logout", data={"csrf_token": csrf_token(client, "/volunteer/hours")})
    login(client, "town1", PASSWORD)
    pending = client.get("/staff/hours").get_data(as_text=True)
    assert f"/staff/records/{rec.id}/confirm" in pending
    client.post(f"/staff/records/{rec.id}/confirm", data={"csrf_token": csrf_token(client, "/staff/hours")})
    db.session.expire_all()
    assert db.session.get(ServiceRecord, rec.id).confirmed_at is not None
    client.post("/logout", data={"csrf_token": csrf_token(client, "/staff/hours")})
    login(client, "vol1", PASSWORD)
    response = client.get("/volunteer/hours/certificate")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert vol.id_masked in html and "2.25" in html and "测试村" in html and "@media print" in html
    assert re.search(r"TZ\d{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", html)
    assert "<script" not in html


def test_volunteer_pages_never_show_the_exact_address(client):
    from socialforce.platform.models import Order, TaskSignup, VolunteerTask
    from socialforce.platform.services import orders

    vol = factories.volunteer()
    accounts.create_user("vol2", PASSWORD, Role.volunteer, vol.real_name, provider_id=vol.provider_id)
    it = factories.item(factories.household(), "daily_care")
    order = Order(item_id=it.id, provider_id=None, state=OrderState.proposed)
    db.session.add(order)
    db.session.flush()
    orders.transition(order, OrderState.dispatched, None)
    task = VolunteerTask(order_id=order.id, slots=1, taken=1)
    db.session.add(task)
    db.session.flush()
    db.session.add(TaskSignup(task_id=task.id, volunteer_id=vol.id))
    orders.transition(order, OrderState.accepted, None)
    db.session.commit()
    login(client, "vol2", PASSWORD)
    assert f"/volunteer/tasks/{order.id}/plan" in client.get("/volunteer/calendar").get_data(as_text=True)
    token = csrf_token(client, f"/volunteer/tasks/{order.id}/plan")
    when = localtime.to_local(utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    client.post(f"/volunteer/tasks/{order.id}/plan", data={"csrf_token": token, "custom": when, "duration": "60"})
    visit = db.session.scalar(sa.select(Visit).where(Visit.volunteer_id == vol.id))
    html = client.get(f"/volunteer/visits/{visit.id}").get_data(as_text=True)
    assert it.household.village.name in html and it.household.address not in html


def test_staff_quota_timeline_and_evaluation(client):
    p = pairing(quota=1)
    accounts.create_user("city1", PASSWORD, Role.city_staff, "市")
    now = utcnow()
    order = quotas.standing_order(p, now)  # a direct plan: generated slots may not exist late on a month's last day
    visit = visits.plan_visit(order, Assignee(member_id=p.cadre_id), now + timedelta(seconds=1), 60, None, now)
    visits.check_in(visit, None, now)
    visits.check_out(visit, None, now + timedelta(minutes=1))
    db.session.add(MaterialAssistance(household_id=p.household_id, category_id=1, month=date(2024, 3, 1),
                                      amount_cents=68000))
    db.session.commit()
    login(client, "city1", PASSWORD)
    quota = client.get("/staff/quota").get_data(as_text=True)
    assert "100%" in quota
    timeline = client.get(f"/staff/households/{p.household_id}/timeline").get_data(as_text=True)
    assert "680.00" in timeline and f"/staff/visits/{visit.id}" in timeline
    assert client.get(f"/staff/calendar?member={p.cadre_id}").status_code == 200
    assert "王干部" in client.get("/staff/calendar?q=王").get_data(as_text=True)
    # evaluation is refused until the provider completed the order (the standing order is still in service)
    token = csrf_token(client, f"/staff/orders/{visit.order_id}/evaluate")
    refused = client.post(f"/staff/orders/{visit.order_id}/evaluate", data={
        "csrf_token": token, "source": "assistant", "resolved": "yes", "goal_attainment": "1", "assessment": "4",
        "follow_up_category_id": "0"})
    assert refused.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(Outcome.id))) == 0


def test_town_staff_cannot_open_another_towns_calendar_or_timeline(client):
    order = accepted_order()
    accounts.create_user("town2", PASSWORD, Role.town_staff, "荆河", town_id=factories.town("jinghe").id)
    db.session.commit()
    login(client, "town2", PASSWORD)
    assert client.get(f"/staff/calendar?member={order.assignee_id}").status_code == 404
    assert client.get(f"/staff/households/{order.item.household_id}/timeline").status_code == 404
    assert client.get(f"/staff/orders/{order.id}/evaluate").status_code == 404


def test_unit_admin_sees_member_calendars_and_records_the_outcome(client):
    order = accepted_order()
    accounts.create_user("unitadmin", PASSWORD, Role.unit_admin, "单位", provider_id=order.provider_id)
    now = utcnow()
    visit = visits.plan_visit(order, Assignee(member_id=order.assignee_id), now + timedelta(minutes=5), 60, None,
                              now)
    visits.check_in(visit, None, now)
    visits.check_out(visit, None, now + timedelta(minutes=1))
    db.session.commit()
    login(client, "unitadmin", PASSWORD)
    week = client.get(f"/unit/calendar?member={order.assignee_id}").get_data(as_text=True)
    assert f"/unit/visits/{visit.id}" in week
    page = f"/unit/orders/{order.id}/visits"
    form = client.get(page).get_data(as_text=True)
    assert 'name="assessment"' in form and "checked" not in form.split('name="assessment"', 1)[1][:80]
    outcome = {"csrf_token": csrf_token(client, page), "action": "outcome", "resolved": "partly",
               "goal_attainment": "1", "follow_up_category_id": "0", "comment": "", "follow_up": ""}
    missing = client.post(page, data=outcome, follow_redirects=True).get_data(as_text=True)
    assert "请选择您对本次服务的自评" in missing  # no rating chosen: refused, nothing written
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Outcome.id))) == 0 and order.state == OrderState.in_service
    client.post(page, data={**outcome, "assessment": "4"})
    db.session.expire_all()
    outcome = db.session.scalar(sa.select(Outcome))
    assert (outcome.assessment, outcome.source, order.state) == (4, "provider", OrderState.completed)


def test_refused_plan_and_outcome_forms_show_their_errors_beside_the_fields(client):
    order = accepted_order()
    username = cadre_login(order)
    db.session.commit()
    login(client, username, PASSWORD)
    url = f"/unit/orders/{order.id}/visits"
    token = csrf_token(client, url)
    # no time at all, and a series count out of range: both beside their fields, the choices kept
    page = client.post(url, data={"csrf_token": token, "action": "plan", "custom": "", "duration": "90",
                                  "repeat": "weekly", "count": "1"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and html.count("invalid-feedback") == 2
    assert re.search(r'<option selected value="90">|<option value="90" selected>', html)
    # a time that is not one is kept as typed
    page = client.post(url, data={"csrf_token": token, "action": "plan", "custom": "明天上午", "duration": "60"})
    assert page.status_code == 400 and 'value="明天上午"' in page.get_data(as_text=True)
    # an outcome without its choices (the service under way): every missing field flagged at once, the comment kept
    order.state = OrderState.in_service
    db.session.commit()
    page = client.post(url, data={"csrf_token": token, "action": "outcome", "comment": "已上门两次"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and html.count("invalid-feedback") >= 2 and "已上门两次" in html
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Visit.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Outcome.id))) == 0
