"""The whole chain through /api/v1 alone (no page, no service call after the setup): town staff register an item,
read its ranking with reasons and dispatch it; the agency administrator's token accepts it naming the worker; the
worker's token plans a visit, checks in and out and records the outcome; staff see it completed on the orders
board; a volunteer category item becomes a task that a volunteer's token finds ranked and signs up for; a partner
system of the town (registered by city staff at the start) takes a token with its client credentials, pulls the
changes through the cursor and receives the chain's order and visit events as signed webhooks on a real local HTTP
server (sent by the outbox's per-minute delivery job, as the scheduler runs it)."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.localtime import LOCAL_TZ, to_local
from socialforce.platform.models import AuditLog, Order, OrderState, Outcome, Role, Visit, VisitStatus, utcnow
from socialforce.platform.services import accounts, matching, partners, webhooks
from tests import factories
from tests.portals.api_support import bearer, token_for
from tests.portals.test_api_partner import PARTNER_SCOPES, access_token, pull_all
from tests.portals.test_api_partner_webhooks import Receiver, _verify

OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")
PASSWORD = "pw-chain-123"


@pytest.fixture
def receiver():
    """The partner's webhook endpoint: a real HTTP server on 127.0.0.1."""
    r = Receiver()
    yield r
    r.close()


def _ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/json"
    return response.get_json()


def test_item_to_outcome_a_volunteer_sign_up_and_the_partner_feed_through_the_api_alone(app, client, receiver,
                                                                                      monkeypatch):
    town = factories.town()
    household = factories.household()
    agency, worker = factories.agency("阳光社工服务中心", hours=50.0)
    factories.user("town-staff", Role.town_staff, town_id=town.id)
    accounts.create_user("agency-admin", PASSWORD, Role.agency_admin, "机构管理员", provider_id=agency.id)
    accounts.create_user("worker", PASSWORD, Role.social_worker, "李社工", provider_id=agency.id, member_id=worker.id)
    volunteer = factories.volunteer()
    factories.offer(volunteer.provider, ("daily_care",))
    factories.user("vol", Role.volunteer, provider_id=volunteer.provider_id)
    city = factories.user("city-staff", Role.city_staff)
    province, partner_secret, webhook_secret = partners.create(city, "省社会救助系统", list(PARTNER_SCOPES),
                                                                [town.id], 30, receiver.url)
    db.session.commit()
    matching.invalidate()
    staff = bearer(token_for("town-staff"))
    admin, crew, vol = (bearer(token_for(name)) for name in ("agency-admin", "worker", "vol"))
    counselling = factories.category("counselling").id

    # 1. staff register an item on the household's service list (a retry with the same key registers it once)
    body = {"category_id": counselling, "description": "老人独居，丧偶后情绪低落，需要心理疏导", "priority": "high"}
    keyed = {**staff, "Idempotency-Key": "item-1"}
    item = _ok(client.post(f"/api/v1/staff/households/{household.id}/items", json=body, headers=keyed), 201)
    again = _ok(client.post(f"/api/v1/staff/households/{household.id}/items", json=body, headers=keyed), 201)
    assert again == item and item["status"] == "open" and OFFSET.match(item["created_at"])
    assert _ok(client.get(f"/api/v1/staff/households/{household.id}", headers=staff))["item_ids"] == [item["id"]]

    # 2. the ranking names the agency with its reasons; staff dispatch to it
    ranking = _ok(client.get(f"/api/v1/staff/items/{item['id']}/ranking", headers=staff))
    first = ranking["candidates"][0]
    assert first["provider_id"] == agency.id and first["rank"] == 1 and first["reasons"]
    order = _ok(client.post(f"/api/v1/staff/items/{item['id']}/dispatch", json={"provider_id": agency.id},
                            headers={**staff, "Idempotency-Key": "dispatch-1"}), 201)
    assert order["state"] == "dispatched" and OFFSET.match(order["response_due_at"])

    # 3. the agency's token sees it among its dispatched orders and accepts it, naming the social worker
    listed = _ok(client.get("/api/v1/provider/orders?state=dispatched", headers=admin))
    assert [o["id"] for o in listed["items"]] == [order["id"]] and listed["total"] == 1
    accepted = _ok(client.post(f"/api/v1/provider/orders/{order['id']}/accept", json={"assignee_id": worker.id},
                               headers=admin))
    assert accepted["state"] == "accepted" and accepted["assignee_id"] == worker.id

    # 4. the worker plans a visit starting in ten minutes (ISO 8601 with the +08:00 offset)
    starts = to_local(utcnow() + timedelta(minutes=10)).replace(second=0, microsecond=0, tzinfo=LOCAL_TZ)
    visit = _ok(client.post(f"/api/v1/provider/orders/{order['id']}/visits",
                            json={"starts_at": starts.isoformat(), "duration": 60}, headers=crew), 201)
    assert visit["status"] == "planned" and visit["starts_at"] == starts.isoformat()
    assert _ok(client.get(f"/api/v1/provider/orders/{order['id']}", headers=crew))["state"] == "scheduled"

    # 5. check in (with a position) and out (with notes)
    checked = _ok(client.post(f"/api/v1/provider/visits/{visit['id']}/checkin", json={"lat": 35.09, "lon": 117.15},
                              headers=crew))
    assert checked["status"] == "checked_in" and checked["checkin_located"] and OFFSET.match(checked["checkin_at"])
    out = _ok(client.post(f"/api/v1/provider/visits/{visit['id']}/checkout", json={"notes": "交谈一小时，情绪好转"},
                          headers=crew))
    assert out["status"] == "completed" and not out["checkout_located"]

    # 6. the outcome completes the order
    done = _ok(client.post(f"/api/v1/provider/orders/{order['id']}/outcome",
                           json={"resolved": "yes", "goal_attainment": 1, "assessment": 5, "comment": "满意"},
                           headers=crew))
    assert done["state"] == "completed" and done["outcomes"][0]["assessment"] == 5
    assert [v["status"] for v in done["visits"]] == ["completed"]

    # 7. staff find it on the orders board as completed
    board = _ok(client.get("/api/v1/staff/orders?state=completed", headers=staff))
    assert [o["id"] for o in board["items"]] == [order["id"]] and board["counts"]["completed"] == 1

    # 8. a daily-care item becomes a volunteer task; the volunteer's token finds it ranked and signs up
    care = _ok(client.post(f"/api/v1/staff/households/{household.id}/items", headers=staff, json={
        "category_id": factories.category("daily_care").id, "description": "每周帮忙打扫卫生、买菜"}), 201)
    task_order = _ok(client.post(f"/api/v1/staff/items/{care['id']}/dispatch", json={"bring": "手套"},
                                 headers=staff), 201)
    assert task_order["provider"] is None
    matching.invalidate()
    tasks = _ok(client.get("/api/v1/volunteer/tasks", headers=vol))
    task = next(t for t in tasks["items"] if t["order_id"] == task_order["id"])
    signed = _ok(client.post(f"/api/v1/volunteer/tasks/{task['task_id']}/signup", headers=vol))
    assert signed == {"task_id": task["task_id"], "signed_up": True, "places_left": task["places_left"] - 1}

    # the records behind the answers: one item registered (not two), the order completed with one outcome
    db.session.expire_all()
    assert db.session.get(Order, order["id"]).state == OrderState.completed
    assert db.session.scalar(sa.select(sa.func.count(Outcome.id)).where(Outcome.order_id == order["id"])) == 1
    assert db.session.get(Visit, visit["id"]).status == VisitStatus.completed
    registered = sa.select(sa.func.count(AuditLog.id)).where(AuditLog.action == "item_registered")
    assert db.session.scalar(registered) == 2  # the counselling item once despite the retry, and the care item

    # 9. the partner: a token from its client credentials, every change through the cursor, the signed webhooks
    monkeypatch.setitem(app.config, "CHANGES_SETTLE_SECONDS", 0)  # nothing is still committing: read it all now
    partner_token = access_token(client, province, partner_secret)
    changes = pull_all(client, partner_token, limit=5)
    seen = {(c["kind"], c["id"]) for c in changes}
    assert {("item", item["id"]), ("order", order["id"]), ("visit", visit["id"]), ("household", household.id),
            ("item", care["id"]), ("order", task_order["id"])} <= seen
    outcome_id = db.session.scalar(sa.select(Outcome.id).where(Outcome.order_id == order["id"]))
    assert ("outcome", outcome_id) in seen
    assert next(c for c in changes if c["kind"] == "order" and c["id"] == order["id"])["data"]["state"] == "completed"
    assert all(OFFSET.match(c["updated_at"]) for c in changes)
    assert client.get("/api/v1/changes", headers=staff).status_code == 403  # a user's token never reads the feed
    webhooks.deliver_pending(utcnow())
    assert receiver.got and all(_verify(webhook_secret, headers, body) for headers, body in receiver.got)
    events = [json.loads(body) for _headers, body in receiver.got]
    ours = [(e["event"], e["visit_id"]) for e in events if e["order_id"] == order["id"]]
    assert [name for name, _v in ours if name.startswith("order.")][:2] == ["order.dispatched", "order.accepted"]
    assert ("order.completed", None) in ours
    assert [(name, v) for name, v in ours if name.startswith("visit.")] == [
        ("visit.planned", visit["id"]), ("visit.checked_in", visit["id"]), ("visit.checked_out", visit["id"])]
    assert {e["order_id"] for e in events} <= {order["id"], task_order["id"]}  # only the chain's own orders
    assert len({h["socialforce-delivery"] for h, _b in receiver.got}) == len(receiver.got)
