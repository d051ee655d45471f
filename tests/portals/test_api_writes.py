"""The staff's and providers' further writes of /api/v1: staff cancel an order (reason 2-200 characters) and close
an item; an organisation's administrator pauses and resumes its offers. Each refuses bad input with 422 and its
field's path, refuses out-of-scope ids with 404 and another role with 403, changes nothing when refused, and acts
once for a retried Idempotency-Key."""
from __future__ import annotations

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AuditLog,
    BackgroundJob,
    ItemStatus,
    OfferStatus,
    Order,
    OrderState,
    Role,
    ServiceItem,
    ServiceOffer,
    User,
    Visit,
)
from socialforce.platform.services import dispatch
from tests import factories
from tests.portals.api_support import bearer, problem, token_for


def _staff(username: str, town_code: str | None = "longquan") -> str:
    town_id = factories.town(town_code).id if town_code else None
    role = Role.town_staff if town_code else Role.city_staff
    factories.user(username, role, town_id=town_id)
    db.session.commit()
    return token_for(username)


def _dispatched_order(town_code: str = "longquan") -> Order:
    agency, _worker = factories.agency("晨光社工" + town_code, town_code=town_code)
    item = factories.item(factories.household(town_code), "counselling")
    order = dispatch.dispatch(item, dispatch.Choice(provider_id=agency.id), None)
    db.session.commit()
    return order


def _audits(action: str) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(AuditLog.action == action))


def test_staff_cancel_an_order_once_with_a_reason_and_nothing_outside_their_town(client):
    headers = bearer(_staff("town-a"))
    order = _dispatched_order()
    foreign = _dispatched_order("binhu")
    url = f"/api/v1/staff/orders/{order.id}/cancel"
    for bad, path in (({}, "json/reason"), ({"reason": "x"}, "json/reason"), ({"reason": "好" * 201}, "json/reason"),
                      ({"reason": "原因", "more": 1}, "json/more")):
        body = problem(client.post(url, json=bad, headers=headers), 422)
        assert path in [e["path"] for e in body["errors"]]
    problem(client.post(f"/api/v1/staff/orders/{foreign.id}/cancel", json={"reason": "不在本镇"}, headers=headers),
             404)
    db.session.expire_all()
    assert db.session.get(Order, order.id).state == OrderState.dispatched  # refusals changed nothing
    keyed = {**headers, "Idempotency-Key": "cancel-1"}
    done = client.post(url, json={"reason": "家属已自行安排"}, headers=keyed)
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["state"] == "cancelled"
    assert client.post(url, json={"reason": "家属已自行安排"}, headers=keyed).get_json() == done.get_json()
    db.session.expire_all()
    assert db.session.get(ServiceItem, order.item_id).status == ItemStatus.open  # the item opens again
    assert db.session.get(Order, foreign.id).state == OrderState.dispatched
    problem(client.post(url, json={"reason": "再取消一次"}, headers=headers), 409)  # no longer open


def test_staff_close_an_item_only_without_an_open_order(client):
    headers = bearer(_staff("city-a", None))
    order = _dispatched_order()
    url = f"/api/v1/staff/items/{order.item_id}/close"
    problem(client.post(url, json={"reason": "已解决"}, headers=headers), 409)  # cancel its open order first
    problem(client.post(url, json={"reason": 5}, headers=headers), 422)
    db.session.expire_all()
    assert db.session.get(ServiceItem, order.item_id).status != ItemStatus.closed
    client.post(f"/api/v1/staff/orders/{order.id}/cancel", json={"reason": "重新评估"}, headers=headers)
    closed = client.post(url, json={"reason": "已解决"}, headers=headers)
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    assert _audits("item_closed") == 1
    problem(client.post(url, headers=headers), 409)  # already closed
    problem(client.post("/api/v1/staff/items/99999999/close", headers=headers), 404)


def test_an_administrator_pauses_and_resumes_an_offer_a_worker_may_not(client):
    agency, worker = factories.agency("启明社工")
    factories.user("boss", Role.agency_admin, provider_id=agency.id)
    factories.user("helper", Role.social_worker, provider_id=agency.id, member_id=worker.id)
    other, _w = factories.agency("远方社工")
    db.session.commit()
    offer_id = db.session.scalar(sa.select(ServiceOffer.id).where(ServiceOffer.provider_id == agency.id))
    foreign_id = db.session.scalar(sa.select(ServiceOffer.id).where(ServiceOffer.provider_id == other.id))
    admin, helper = bearer(token_for("boss")), bearer(token_for("helper"))
    problem(client.post(f"/api/v1/provider/offers/{offer_id}/pause", headers=helper), 403)
    problem(client.post(f"/api/v1/provider/offers/{foreign_id}/pause", headers=admin), 404)
    problem(client.post(f"/api/v1/provider/offers/{offer_id}/resume", headers=admin), 409)  # not paused
    keyed = {**admin, "Idempotency-Key": "pause-1"}
    paused = client.post(f"/api/v1/provider/offers/{offer_id}/pause", headers=keyed)
    assert paused.status_code == 200 and paused.get_json()["status"] == "paused"
    assert client.post(f"/api/v1/provider/offers/{offer_id}/pause", headers=keyed).get_json() == paused.get_json()
    assert _audits("offer_paused") == 1
    problem(client.post(f"/api/v1/provider/offers/{offer_id}/pause", headers=admin), 409)  # already paused
    resumed = client.post(f"/api/v1/provider/offers/{offer_id}/resume", headers=admin)
    assert resumed.status_code == 200 and resumed.get_json()["status"] == "active"
    db.session.expire_all()
    assert db.session.get(ServiceOffer, foreign_id).status == OfferStatus.active


def _planned_visit():
    """An agency (admin "boss", worker "crew") with an accepted order and one visit planned on 2030-01-07 09:00."""
    agency, worker = factories.agency("晨光社工")
    factories.user("boss", Role.agency_admin, provider_id=agency.id)
    factories.user("crew", Role.social_worker, provider_id=agency.id, member_id=worker.id)
    item = factories.item(factories.household(), "counselling")
    order = dispatch.dispatch(item, dispatch.Choice(provider_id=agency.id), None)
    db.session.commit()
    dispatch.accept(order, db.session.scalar(sa.select(User).where(User.username == "boss")), worker.id)
    db.session.commit()
    crew = bearer(token_for("crew"))
    return order, crew


def test_visit_notes_reschedule_and_cancel_through_the_api(client):
    order, crew = _planned_visit()
    planned = client.post(f"/api/v1/provider/orders/{order.id}/visits",
                          json={"starts_at": "2030-01-07T09:00:00+08:00"}, headers=crew)
    assert planned.status_code == 201, planned.get_data(as_text=True)
    visit_id = planned.get_json()["id"]
    base = f"/api/v1/provider/visits/{visit_id}"
    notes = client.post(f"{base}/notes", json={"notes": "带上血压计"}, headers=crew)
    assert notes.status_code == 200
    assert db.session.get(Visit, visit_id).notes == "带上血压计"
    problem(client.post(f"{base}/notes", json={"notes": "好" * 2001}, headers=crew), 422)
    for bad, path in (({"starts_at": "2030-01-08T10:00:00", "reason": "改期"}, "json/starts_at"),
                      ({"starts_at": "2030-01-08T10:00:00+08:00"}, "json/reason"),
                      ({"starts_at": "2001-01-08T10:00:00+08:00", "reason": "改期"}, "json/starts_at")):
        body = problem(client.post(f"{base}/reschedule", json=bad, headers=crew), 422)
        assert path in [e["path"] for e in body["errors"]]
    db.session.expire_all()
    assert db.session.get(Visit, visit_id).starts_at.day == 7  # refusals changed nothing
    keyed = {**crew, "Idempotency-Key": "move-1"}
    moved = client.post(f"{base}/reschedule", json={"starts_at": "2030-01-08T10:00:00+08:00", "reason": "家属要求"},
                        headers=keyed)
    assert moved.status_code == 200 and moved.get_json()["starts_at"] == "2030-01-08T10:00:00+08:00"
    again = client.post(f"{base}/reschedule", json={"starts_at": "2030-01-08T10:00:00+08:00", "reason": "家属要求"},
                        headers=keyed)
    assert again.get_json() == moved.get_json() and _audits("visit_rescheduled") == 1
    problem(client.post(f"{base}/cancel", json={"reason": "  "}, headers=crew), 422)
    cancelled = client.post(f"{base}/cancel", json={"reason": "老人住院"}, headers=crew)
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    problem(client.post(f"{base}/cancel", json={"reason": "再次取消"}, headers=crew), 409)  # no longer planned


def test_a_batch_dispatch_is_queued_as_a_job_whose_state_staff_can_read(client):
    headers = bearer(_staff("town-b"))
    factories.agency("晨光社工")
    mine = factories.item(factories.household(), "counselling")
    foreign = factories.item(factories.household("binhu"), "counselling")
    db.session.commit()
    problem(client.post("/api/v1/staff/dispatch/batch", json={"item_ids": []}, headers=headers), 422)
    problem(client.post("/api/v1/staff/dispatch/batch", json={"item_ids": [mine.id, foreign.id]}, headers=headers),
             404)  # an item outside my towns: nothing is queued
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BackgroundJob)) == 0
    queued = client.post("/api/v1/staff/dispatch/batch", json={"item_ids": [mine.id]}, headers=headers)
    assert queued.status_code == 202, queued.get_data(as_text=True)
    job = queued.get_json()
    assert job["kind"] == "dispatch_batch" and job["state"] in ("queued", "running", "done")
    status = client.get(f"/api/v1/staff/jobs/{job['id']}", headers=headers)
    assert status.status_code == 200 and status.get_json()["id"] == job["id"]
    problem(client.get(f"/api/v1/staff/jobs/{job['id']}", headers=bearer(_staff("town-c", "binhu"))), 404)
