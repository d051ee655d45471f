"""Staff follow-up pages: the list of completed orders awaiting the household's answer (scoped, paginated) and
the follow-up form on the order's page (nothing pre-selected, one per order)."""
from __future__ import annotations

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import AuditLog, HouseholdFeedback, Role
from socialforce.platform.services import accounts
from tests import factories
from tests.conftest import csrf_token, login
from tests.platform.test_feedback import completed_order

PASSWORD = "pw-12345678"


def feedback_rows() -> list[tuple]:
    db.session.expire_all()
    return db.session.execute(sa.select(HouseholdFeedback.order_id, HouseholdFeedback.satisfaction,
                                        HouseholdFeedback.channel)).all()


def test_staff_record_the_households_satisfaction_once_from_the_follow_up_list(client):
    order = completed_order()
    accounts.create_user("town1", PASSWORD, Role.town_staff, "龙泉", town_id=factories.town("longquan").id)
    db.session.commit()
    login(client, "town1", PASSWORD)
    listed = client.get("/staff/follow-ups").get_data(as_text=True)
    assert f"/staff/orders/{order.id}/evaluate#follow-up" in listed
    timeline = f"/staff/households/{order.item.household_id}/timeline"
    assert f"/staff/orders/{order.id}/evaluate#follow-up" in client.get(timeline).get_data(as_text=True)
    page = client.get(f"/staff/orders/{order.id}/evaluate").get_data(as_text=True)
    form = page.split('id="follow-up"', 1)[1]
    assert 'name="satisfaction"' in form and 'name="channel"' in form and "checked" not in form
    post = f"/staff/orders/{order.id}/follow-up"
    token = csrf_token(client, f"/staff/orders/{order.id}/evaluate")

    missing = client.post(post, data={"csrf_token": token, "channel": "staff_phone"}, follow_redirects=True)
    assert "请选择家庭的满意度" in missing.get_data(as_text=True) and feedback_rows() == []
    no_channel = client.post(post, data={"csrf_token": token, "satisfaction": "3"}, follow_redirects=True)
    assert "请说明由谁、以何种方式回访了家庭" in no_channel.get_data(as_text=True) and feedback_rows() == []

    done = client.post(post, data={"csrf_token": token, "satisfaction": "3", "channel": "assistant_visit",
                                   "comment": "希望社工多来几次"}, follow_redirects=True)
    assert "家庭满意度回访已记录" in done.get_data(as_text=True)
    assert f"/staff/orders/{order.id}/evaluate" not in done.get_data(as_text=True)  # left the list
    assert feedback_rows() == [(order.id, 3, "assistant_visit")]
    shown = client.get(f"/staff/orders/{order.id}/evaluate").get_data(as_text=True)
    assert "3/5" in shown and "协理员入户回访" in shown and "希望社工多来几次" in shown
    timeline = client.get(f"/staff/households/{order.item.household_id}/timeline").get_data(as_text=True)
    assert "家庭满意度" in timeline and "3/5" in timeline and "协理员入户回访" in timeline

    again = client.post(post, data={"csrf_token": token, "satisfaction": "5", "channel": "staff_phone"},
                        follow_redirects=True)
    assert "已记录，不能重复记录" in again.get_data(as_text=True)
    assert feedback_rows() == [(order.id, 3, "assistant_visit")]
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(AuditLog.action == "household_feedback")) == 1


def test_another_towns_staff_neither_see_nor_record_the_follow_up(client):
    order = completed_order()  # a household in longquan
    accounts.create_user("town2", PASSWORD, Role.town_staff, "荆河", town_id=factories.town("jinghe").id)
    db.session.commit()
    login(client, "town2", PASSWORD)
    assert f"/staff/orders/{order.id}/" not in client.get("/staff/follow-ups").get_data(as_text=True)
    token = csrf_token(client, "/staff/follow-ups")
    refused = client.post(f"/staff/orders/{order.id}/follow-up",
                          data={"csrf_token": token, "satisfaction": "1", "channel": "staff_phone"})
    assert refused.status_code == 404 and feedback_rows() == []


def test_the_follow_up_list_is_paginated(client, app):
    app.config["PAGE_SIZE"], size = 2, app.config["PAGE_SIZE"]
    try:
        ids = [completed_order().id for _ in range(3)]
        accounts.create_user("city1", PASSWORD, Role.city_staff, "市")
        db.session.commit()
        login(client, "city1", PASSWORD)
        first = client.get("/staff/follow-ups").get_data(as_text=True)
        second = client.get("/staff/follow-ups?page=2").get_data(as_text=True)
        assert [f"/staff/orders/{i}/evaluate" in first for i in ids] == [True, True, False]
        assert [f"/staff/orders/{i}/evaluate" in second for i in ids] == [False, False, True]
    finally:
        app.config["PAGE_SIZE"] = size
