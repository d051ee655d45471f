"""The resource operations of /api/v1 beyond the first eight: what each answers, its filters and paging, ISO 8601
times with +08:00, bad input refused with 422 and the field's path changing nothing, problems in the caller's
language, and Idempotency-Key on the new writes. The access matrix is test_api_matrix.py; the chain
test_api_chain.py."""
from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from socialforce.platform import caching, weekmask
from socialforce.platform.extensions import db
from socialforce.platform.localtime import today
from socialforce.platform.models import (
    Order,
    OrderState,
    Role,
    ServiceItem,
    Visit,
    VisitStatus,
    Volunteer,
    VolunteerTask,
    utcnow,
)
from socialforce.platform.services import accounts, dashboard, dispatch, order_search, volunteer_tasks
from tests import factories
from tests.portals.api_support import bearer, problem, token_for, user
from tests.security.support import leaks, personal_secrets

OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")
PASSWORD = "pw-resources-1"


def _paths(body: dict) -> list[str]:
    return [e["path"] for e in body.get("errors", [])]


def _volunteer(username: str, town_code: str = "longquan") -> Volunteer:
    v = factories.volunteer(town_code)
    factories.offer(v.provider, ("daily_care",), (town_code,))
    factories.user(username, Role.volunteer, provider_id=v.provider_id)
    return v


def _task(slots: int = 1) -> VolunteerTask:
    order = volunteer_tasks.publish(factories.item(factories.household(), "daily_care", slots=slots), None, None)
    return db.session.scalar(sa.select(VolunteerTask).where(VolunteerTask.order_id == order.id))


def _accepted_order():
    """An agency (admin + worker logins) with an accepted counselling order in longquan."""
    agency, worker = factories.agency("晨光社工")
    accounts.create_user("admin", PASSWORD, Role.agency_admin, "管理员", provider_id=agency.id)
    accounts.create_user("worker", PASSWORD, Role.social_worker, "王社工", provider_id=agency.id, member_id=worker.id)
    item = factories.item(factories.household(), "counselling")
    order = dispatch.dispatch(item, dispatch.Choice(provider_id=agency.id), None)
    dispatch.accept(order, user("admin"), worker.id)
    db.session.commit()
    return order, worker


# ------------------------------------------------------------------ volunteer
def test_profile_and_availability_with_bad_input_refused_and_a_keyed_retry_acting_once(client):
    v = _volunteer("vol")
    db.session.commit()
    headers = bearer(token_for("vol"))
    profile = client.get("/api/v1/volunteer/profile", headers=headers).get_json()
    assert profile["volunteer_id"] == v.id and profile["availability"] == weekmask.ALL
    assert profile["phone_masked"] == "138****0000" and "13800000000" not in str(profile)
    for bad, path in (({"availability": 1 << 21}, "json/availability"), ({"availability": "x"}, "json/availability"),
                      ({}, "json/availability"), ({"availability": 7, "more": 1}, "json/more")):
        assert path in _paths(problem(client.post("/api/v1/volunteer/profile/availability", json=bad,
                                                   headers=headers), 422))
    db.session.expire_all()
    assert db.session.get(Volunteer, v.id).availability == weekmask.ALL  # nothing changed
    mask = weekmask.from_cells([(0, 0), (2, 1)])
    keyed = {**headers, "Idempotency-Key": "avail-1"}
    saved = client.post("/api/v1/volunteer/profile/availability", json={"availability": mask}, headers=keyed)
    assert saved.status_code == 200 and saved.get_json()["availability_cells"] == [[0, 0], [2, 1]]
    again = client.post("/api/v1/volunteer/profile/availability", json={"availability": mask}, headers=keyed)
    assert again.get_json() == saved.get_json()
    audit = sa.text("SELECT count(*) FROM audit_log WHERE action = 'volunteer_availability_updated'")
    assert db.session.execute(audit).scalar() == 1


def test_waitlist_join_position_leave_through_the_api(client):
    holder, me = _volunteer("vol-holder"), _volunteer("vol-me")
    t = _task(slots=1)
    dispatch.sign_up(t.id, holder)
    db.session.commit()
    headers = bearer(token_for("vol-me"))
    joined = client.post(f"/api/v1/volunteer/tasks/{t.id}/waitlist", headers=headers)
    assert joined.status_code == 200, joined.get_data(as_text=True)
    assert joined.get_json() == {"task_id": t.id, "waitlist_state": "waiting", "position": 1,
                                 "offer_expires_at": None, "signed_up": False}
    problem(client.post(f"/api/v1/volunteer/tasks/{t.id}/waitlist", headers=headers), 409)  # already on it
    left = client.post(f"/api/v1/volunteer/tasks/{t.id}/waitlist/leave", headers=headers).get_json()
    assert left["waitlist_state"] == "left" and left["position"] is None
    problem(client.post("/api/v1/volunteer/tasks/99999/waitlist", headers=headers), 404)
    assert me.id != holder.id


def test_volunteer_visits_check_in_needs_both_coordinates_and_hours_show_the_record(client):
    me = _volunteer("vol")
    t = _task(slots=1)
    dispatch.sign_up(t.id, me)
    visit = Visit(order_id=t.order_id, volunteer_id=me.id, starts_at=utcnow() + timedelta(minutes=5),
                  ends_at=utcnow() + timedelta(minutes=65))
    later = Visit(order_id=t.order_id, volunteer_id=me.id, starts_at=utcnow() + timedelta(days=3),
                  ends_at=utcnow() + timedelta(days=3, hours=1))
    db.session.add_all([visit, later])
    db.session.commit()
    headers = bearer(token_for("vol"))
    listed = client.get("/api/v1/volunteer/visits?status=planned", headers=headers).get_json()
    assert [v["id"] for v in listed["items"]] == [visit.id, later.id] and listed["total"] == 2
    assert all(OFFSET.match(v["starts_at"]) for v in listed["items"])
    half = problem(client.post(f"/api/v1/volunteer/visits/{visit.id}/checkin", json={"lat": 35.1},
                                headers=headers), 422)
    assert _paths(half) == ["json/lon"]
    problem(client.post(f"/api/v1/volunteer/visits/{visit.id}/checkin", json={"lat": 91, "lon": 1},
                         headers=headers), 422)
    too_early = problem(client.post(f"/api/v1/volunteer/visits/{later.id}/checkin", headers=headers), 409)
    assert too_early["detail"]
    db.session.expire_all()
    assert db.session.get(Visit, visit.id).status == VisitStatus.planned  # the refusals changed nothing
    checked = client.post(f"/api/v1/volunteer/visits/{visit.id}/checkin", json={"lat": 35.1, "lon": 117.2},
                          headers=headers).get_json()
    assert checked["status"] == "checked_in" and checked["checkin_located"]
    out = client.post(f"/api/v1/volunteer/visits/{visit.id}/checkout", json={"notes": "打扫完毕"}, headers=headers)
    assert out.get_json()["status"] == "completed"
    assert [v["id"] for v in client.get("/api/v1/volunteer/visits?status=completed",
                                        headers=headers).get_json()["items"]] == [visit.id]
    hours = client.get("/api/v1/volunteer/hours", headers=headers).get_json()
    assert hours["total"] == 1 and hours["items"][0]["confirmed"] is False and hours["confirmed_minutes"] == 0
    assert hours["stars"] == 0 and hours["certificates"] == []


# ------------------------------------------------------------------ provider
def test_order_detail_workers_offers_and_visit_planning_refusals(client):
    order, worker = _accepted_order()
    admin, crew = bearer(token_for("admin")), bearer(token_for("worker"))
    detail = client.get(f"/api/v1/provider/orders/{order.id}", headers=crew).get_json()
    assert detail["state"] == "accepted" and detail["visits"] == [] and detail["outcomes"] == []
    workers = client.get("/api/v1/provider/workers", headers=admin).get_json()
    assert [w["id"] for w in workers["items"]] == [worker.id] and workers["items"][0]["role"] == "social_worker"
    assert client.get("/api/v1/provider/workers?active=false", headers=admin).get_json()["total"] == 0
    assert client.get("/api/v1/provider/offers?status=active", headers=admin).get_json()["total"] == 1
    assert client.get("/api/v1/provider/offers?status=paused", headers=admin).get_json()["total"] == 0
    plan = f"/api/v1/provider/orders/{order.id}/visits"
    past = (utcnow() - timedelta(hours=2)).replace(microsecond=0).isoformat() + "+00:00"
    assert _paths(problem(client.post(plan, json={"starts_at": past}, headers=crew), 422)) == ["json/starts_at"]
    naive = problem(client.post(plan, json={"starts_at": "2030-01-07T09:00:00"}, headers=crew), 422)
    assert _paths(naive) == ["json/starts_at"]
    assert "json/duration" in _paths(problem(client.post(plan, json={"starts_at": "2030-01-07T09:00:00+08:00",
                                                                      "duration": 5}, headers=crew), 422))
    assert db.session.scalar(sa.select(sa.func.count(Visit.id))) == 0
    early = client.post(plan, json={"starts_at": "2030-01-07T09:00:00+08:00"}, headers=crew)
    assert early.status_code == 201 and early.get_json()["starts_at"] == "2030-01-07T09:00:00+08:00"
    db.session.expire_all()
    assert db.session.get(Visit, early.get_json()["id"]).starts_at.hour == 1  # stored as naive UTC
    clash = problem(client.post(plan, json={"starts_at": "2030-01-07T09:30:00+08:00"}, headers=crew), 422)
    assert _paths(clash) == ["json/starts_at"]


def test_an_outcome_before_any_visit_is_refused_and_speaks_english_to_an_english_user(client):
    order, _worker = _accepted_order()
    u = user("worker")
    u.locale = "en"
    db.session.commit()
    crew = bearer(token_for("worker"))
    outcome = f"/api/v1/provider/orders/{order.id}/outcome"
    body = {"resolved": "yes", "goal_attainment": 1, "assessment": 4}
    assert "json/assessment" in _paths(problem(client.post(outcome, json={**body, "assessment": 6},
                                                            headers=crew), 422))
    refused = problem(client.post(outcome, json=body, headers=crew), 409)
    assert refused["title"] == "This action conflicts with the current state of the record."
    assert refused["detail"].isascii()
    db.session.expire_all()
    assert db.session.get(Order, order.id).state == OrderState.accepted


# ------------------------------------------------------------------ staff
def test_household_detail_is_masked_and_town_scoped_and_an_item_with_bad_input_writes_nothing(client):
    h = factories.household("longquan", members=2)
    other = factories.household("jinghe")
    factories.user("town-lq", Role.town_staff, town_id=factories.town("longquan").id)
    db.session.commit()
    found = personal_secrets()
    headers = bearer(token_for("town-lq"))
    response = client.get(f"/api/v1/staff/households/{h.id}", headers=headers)
    body = response.get_json()
    assert len(body["member_list"]) == 2 and all("*" in m["id_masked"] for m in body["member_list"])
    assert "address" not in body and not leaks(response.get_data(as_text=True), found)
    problem(client.get(f"/api/v1/staff/households/{other.id}", headers=headers), 404)
    new = f"/api/v1/staff/households/{h.id}/items"
    good = {"category_id": factories.category("daily_care").id, "description": "每周买菜"}
    cases = [({**good, "category_id": 99999}, "json/category_id"), ({**good, "description": "短"}, "json/description"),
             ({**good, "windows": 0}, "json/windows"), ({**good, "priority": "soon"}, "json/priority"),
             ({**good, "member_id": 2**40}, "json/member_id"), ({**good, "description": "a\x00bcd"}, "json/description")]
    for payload, path in cases:
        assert path in _paths(problem(client.post(new, json=payload, headers=headers), 422)), payload
    other_member = other.members[0].id
    assert _paths(problem(client.post(new, json={**good, "member_id": other_member}, headers=headers), 422)) == [
        "json/member_id"]
    problem(client.post(f"/api/v1/staff/households/{other.id}/items", json=good, headers=headers), 404)
    assert db.session.scalar(sa.select(sa.func.count(ServiceItem.id))) == 0
    made = client.post(new, json=good, headers=headers)
    assert made.status_code == 201 and made.get_json()["windows"] == weekmask.ALL


def test_dispatch_refusals_and_the_orders_board_filters(client, monkeypatch):
    agency, _worker = factories.agency("晨光社工")
    counselling = factories.item(factories.household(), "counselling")
    care = factories.item(factories.household(), "daily_care")
    factories.user("city", Role.city_staff)
    db.session.commit()
    headers = bearer(token_for("city"))
    refused = problem(client.post(f"/api/v1/staff/items/{counselling.id}/dispatch", json={}, headers=headers), 422)
    assert _paths(refused) == ["json/provider_id"]
    problem(client.post(f"/api/v1/staff/items/{counselling.id}/dispatch", json={"provider_id": agency.id + 999},
                         headers=headers), 409)
    assert db.session.scalar(sa.select(sa.func.count(Order.id))) == 0
    sent = client.post(f"/api/v1/staff/items/{counselling.id}/dispatch", json={"provider_id": agency.id},
                       headers=headers)
    assert sent.status_code == 201, sent.get_data(as_text=True)
    task = client.post(f"/api/v1/staff/items/{care.id}/dispatch", json={"bring": "x" * 201}, headers=headers)
    assert _paths(problem(task, 422)) == ["json/bring"]
    assert client.post(f"/api/v1/staff/items/{care.id}/dispatch", json={"bring": "手套"},
                       headers=headers).status_code == 201
    board = client.get("/api/v1/staff/orders", headers=headers).get_json()
    assert board["total"] == 2 and sum(board["counts"].values()) == 2
    only = client.get("/api/v1/staff/orders?category=counselling", headers=headers).get_json()
    assert [o["id"] for o in only["items"]] == [sent.get_json()["id"]] and only["items"][0]["provider"] == "晨光社工"
    day = today().isoformat()
    assert client.get(f"/api/v1/staff/orders?from={day}&to={day}", headers=headers).get_json()["total"] == 2
    for state, n in board["counts"].items():  # a state's total is its count
        assert client.get(f"/api/v1/staff/orders?state={state}", headers=headers).get_json()["total"] == n
    counted = []  # with API_FIGURES_CACHE_SECONDS the counts of one user and filters are counted once meanwhile
    real_counts = order_search.state_counts
    monkeypatch.setattr(order_search, "state_counts", lambda *args: counted.append(1) or real_counts(*args))
    monkeypatch.setitem(client.application.config, "API_FIGURES_CACHE_SECONDS", 30)
    try:
        again = [client.get(f"/api/v1/staff/orders{query}", headers=headers).get_json()
                 for query in ("", *(f"?state={state}" for state in board["counts"]))]
    finally:
        caching.clear()
    assert [page["counts"] for page in again] == [board["counts"]] * len(again) and len(counted) == 1
    bad = problem(client.get("/api/v1/staff/orders?category=nonsense", headers=headers), 422)
    assert _paths(bad) == ["query/category"]
    backwards = problem(client.get(f"/api/v1/staff/orders?from={day}&to=2000-01-01", headers=headers), 422)
    assert _paths(backwards) == ["query/to"]
    assert _paths(problem(client.get("/api/v1/staff/orders?sort=x", headers=headers), 422)) == ["query/sort"]


def test_dashboard_figures_are_the_services_and_bad_periods_are_refused(client):
    factories.item(factories.household(), "counselling")
    factories.user("town-lq", Role.town_staff, town_id=factories.town("longquan").id)
    db.session.commit()
    headers = bearer(token_for("town-lq"))
    body = client.get("/api/v1/staff/dashboard", headers=headers).get_json()
    expected = dashboard.build(user("town-lq"), dashboard.parse_filters(user("town-lq"), {}, today()), utcnow())
    assert body["headline"] == expected.headline and body["town_id"] == user("town-lq").town_id
    assert [t["key"] for t in body["tables"]] == list(expected.tables)
    assert body["tables"][0]["rows"] == expected.tables["households"].rows
    refused = problem(client.get("/api/v1/staff/dashboard?from=2026-05-01&to=2026-04-01", headers=headers), 422)
    assert _paths(refused) == ["query/to"]
    assert _paths(problem(client.get("/api/v1/staff/dashboard?from=May", headers=headers), 422)) == ["query/from"]


def test_field_messages_speak_the_callers_language(client):
    _volunteer("vol")
    db.session.commit()
    headers = bearer(token_for("vol"))
    bad = {"availability": 1 << 21, "extra": 1}
    zh = problem(client.post("/api/v1/volunteer/profile/availability", json=bad, headers=headers), 422)
    assert {e["path"]: e["message"] for e in zh["errors"]} == {
        "json/availability": "请输入 0 至 2097151 之间的值。", "json/extra": "此处不接受该字段。"}
    u = user("vol")
    u.locale = "en"
    db.session.commit()
    en = problem(client.post("/api/v1/volunteer/profile/availability", json={}, headers=headers), 422)
    assert en["errors"] == [{"path": "json/availability", "message": "This field is required."}]
