"""The bureau's chain end to end through the web pages: town staff register an item and dispatch it, the agency
accepts with a worker and plans a visit, the worker checks in and out and records the outcome, staff see the
order completed and can evaluate it. Also: an illegal transition through a page is refused and changes nothing."""
from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.localtime import to_local
from socialforce.platform.models import (
    Impression,
    Order,
    OrderState,
    Outcome,
    Role,
    ServiceItem,
    Visit,
    VisitStatus,
    utcnow,
)
from socialforce.platform.services import accounts, dispatch, matching, ranker
from tests import factories
from tests.conftest import csrf_token, login

PASSWORD = "pw-chain-123"


def test_item_to_completed_order_through_the_pages(app, client):
    town = factories.town()
    household = factories.household()
    agency, worker = factories.agency("阳光社工服务中心", hours=50.0)
    factories.user("town-staff", Role.town_staff, town_id=town.id)
    accounts.create_user("agency-admin", PASSWORD, Role.agency_admin, "机构管理员", provider_id=agency.id)
    accounts.create_user("worker", PASSWORD, Role.social_worker, "李社工", provider_id=agency.id,
                         member_id=worker.id)
    db.session.commit()
    matching.invalidate()
    staff, admin, social_worker = client, app.test_client(), app.test_client()

    # 1. town staff register a counselling item on the household's service list
    login(staff, "town-staff")
    new_item = f"/staff/households/{household.id}/items/new"
    counselling = factories.category("counselling").id
    form = {"csrf_token": csrf_token(staff, new_item), "category_id": str(counselling), "member_id": "",
            "description": "老人独居，丧偶后情绪低落，需要心理疏导", "priority": "high", "frequency": "once",
            "slots_needed": "1", "windows": [str(bit) for bit in range(21)]}
    page = staff.post(new_item, data=form, follow_redirects=True)
    assert page.status_code == 200
    assert "已登记" in page.get_data(as_text=True)
    item = db.session.scalar(sa.select(ServiceItem).where(ServiceItem.household_id == household.id))

    # 2. the item page ranks the agency with its reasons; staff dispatch to it
    html = staff.get(f"/staff/items/{item.id}").get_data(as_text=True)
    assert "阳光社工服务中心" in html and f'value="{agency.id}"' in html
    page = staff.post(f"/staff/items/{item.id}/dispatch",
                      data={"csrf_token": csrf_token(staff, f"/staff/items/{item.id}"), "provider_id": agency.id,
                            "confirmed": "1"},
                      follow_redirects=True)
    order = db.session.scalar(sa.select(Order).where(Order.item_id == item.id))
    assert order.state == OrderState.dispatched and order.provider_id == agency.id
    assert order.response_due_at is not None
    shown = db.session.execute(sa.select(Impression.position, Impression.provider_id)
                               .where(Impression.order_id == order.id).order_by(Impression.position)).all()
    assert [s.position for s in shown] == list(range(1, len(shown) + 1)) and (order.rank, agency.id) in shown

    # 3. the agency sees the order and accepts it, naming the social worker
    login(admin, "agency-admin", PASSWORD)
    assert f"/agency/orders/{order.id}" in admin.get("/agency/orders").get_data(as_text=True)
    token = csrf_token(admin, f"/agency/orders/{order.id}")
    page = admin.post(f"/agency/orders/{order.id}/accept", data={"csrf_token": token, "assignee_id": worker.id},
                      follow_redirects=True)
    assert page.status_code == 200
    db.session.expire_all()
    assert order.state == OrderState.accepted and order.assignee_id == worker.id

    # 4. the worker plans a visit at a custom time starting in ten minutes (inside the household's windows)
    login(social_worker, "worker", PASSWORD)
    visits_page = f"/agency/orders/{order.id}/visits"
    token = csrf_token(social_worker, visits_page)
    starts = to_local(utcnow() + timedelta(minutes=10))
    social_worker.post(visits_page, data={"csrf_token": token, "action": "plan",
                                          "custom": starts.strftime("%Y-%m-%dT%H:%M"), "duration": "60"})
    db.session.expire_all()
    visit = db.session.scalar(sa.select(Visit).where(Visit.order_id == order.id))
    assert visit is not None and order.state == OrderState.scheduled

    # 5. check in and out from the phone page
    social_worker.post(f"/agency/visits/{visit.id}/checkin", data={"csrf_token": token, "lat": "35.09",
                                                                   "lon": "117.15"})
    db.session.expire_all()
    assert visit.status == VisitStatus.checked_in and order.state == OrderState.in_service
    social_worker.post(f"/agency/visits/{visit.id}/checkout", data={"csrf_token": token, "lat": "", "lon": "",
                                                                    "notes": "交谈一小时，情绪好转"})
    db.session.expire_all()
    assert visit.status == VisitStatus.completed

    # 6. the outcome closes the order
    social_worker.post(visits_page, data={"csrf_token": token, "action": "outcome", "resolved": "yes",
                                          "goal_attainment": "1", "assessment": "5", "comment": "满意",
                                          "follow_up": "", "follow_up_category_id": ""})
    db.session.expire_all()
    assert order.state in (OrderState.completed, OrderState.evaluated)
    outcome = db.session.scalar(sa.select(Outcome).where(Outcome.order_id == order.id))
    assert outcome.assessment == 5

    # 7. staff see it on the orders board as completed
    board = staff.get("/staff/orders?state=completed").get_data(as_text=True)
    assert re.search(rf"/staff/items/{item.id}\b", board)

    # 8. the provider's own 5 is no label: the list waits for the household's follow-up (回访)
    assert len(ranker.training_log()) == 0
    assert f"/staff/orders/{order.id}/evaluate" in staff.get("/staff/follow-ups").get_data(as_text=True)
    evaluate = f"/staff/orders/{order.id}/evaluate"
    page = staff.post(f"/staff/orders/{order.id}/follow-up", follow_redirects=True, data={
        "csrf_token": csrf_token(staff, evaluate), "satisfaction": "4", "channel": "staff_phone", "comment": ""})
    assert "家庭满意度回访已记录" in page.get_data(as_text=True)
    assert f"/staff/orders/{order.id}/evaluate" not in page.get_data(as_text=True)  # no longer waiting

    # 9. and the list it was dispatched from is a training query whose dispatched candidate is the positive
    log = ranker.training_log()
    assert set(log.query.tolist()) == {order.id} and log.label.tolist() == [p == order.rank - 1 for p in log.position]


def test_an_illegal_transition_through_a_page_changes_nothing(app, client):
    agency, worker = factories.agency("晨光社工")
    item = factories.item(factories.household(), "counselling")
    accounts.create_user("agency-admin", PASSWORD, Role.agency_admin, "管理员", provider_id=agency.id)
    order = Order(item_id=item.id, provider_id=agency.id, state=OrderState.completed)
    db.session.add(order)
    db.session.commit()
    login(client, "agency-admin", PASSWORD)
    token = csrf_token(client, "/agency/orders")
    answer = client.post(f"/agency/orders/{order.id}/accept", data={"csrf_token": token, "assignee_id": worker.id},
                         headers={"Accept": "application/json"})
    assert answer.status_code == 409 and answer.is_json and "error" in answer.get_json()
    page = client.post(f"/agency/orders/{order.id}/decline", data={"csrf_token": token, "reason": "没空"},
                       follow_redirects=True)
    assert page.status_code == 200 and "alert-danger" in page.get_data(as_text=True)
    db.session.expire_all()
    assert order.state == OrderState.completed and order.assignee_id is None


def test_staff_dispatch_many_items_at_once_by_the_best_assignment(client):
    a, b, near, far = factories.batch_where_best_first_serves_one()
    factories.user("city-staff", Role.city_staff)
    db.session.commit()
    matching.invalidate()
    login(client, "city-staff")
    page = client.post("/staff/matching/dispatch-page", follow_redirects=True, data={
        "csrf_token": csrf_token(client, "/staff/matching"), "item_id": [str(near.id), str(far.id)],
        "confirmed": "1"})
    assert page.status_code == 200 and "alert-success" in page.get_data(as_text=True)
    sent = dict(db.session.execute(sa.select(Order.item_id, Order.provider_id)).tuples().all())
    assert sent == {near.id: b.id, far.id: a.id}


def test_staff_cancel_an_open_order_from_the_item_page_in_their_town_only(client):
    agency, _worker = factories.agency("晨光社工")
    item = factories.item(factories.household("longquan"), "counselling", description="需要心理疏导")
    factories.user("town-lq", Role.town_staff, town_id=factories.town("longquan").id)
    factories.user("town-jh", Role.town_staff, town_id=factories.town("jinghe").id)
    db.session.commit()
    order = dispatch.dispatch(item, dispatch.Choice(provider_id=agency.id), None)
    db.session.commit()
    login(client, "town-jh")
    other = client.post(f"/staff/orders/{order.id}/cancel",
                        data={"csrf_token": csrf_token(client, "/staff/"), "reason": "家庭搬迁至外地"})
    assert other.status_code == 404
    client.post("/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    login(client, "town-lq")
    page = client.get(f"/staff/items/{item.id}").get_data(as_text=True)
    assert f"/staff/orders/{order.id}/cancel" in page and "取消工单" in page
    done = client.post(f"/staff/orders/{order.id}/cancel", follow_redirects=True,
                       data={"csrf_token": csrf_token(client, f"/staff/items/{item.id}"), "reason": "家庭搬迁至外地",
                             "confirmed": "1"})
    html = done.get_data(as_text=True)
    assert f"工单 #{order.id} 已取消" in html and f"/staff/orders/{order.id}/cancel" not in html
    db.session.expire_all()
    assert order.state == OrderState.cancelled and item.status == "open"
