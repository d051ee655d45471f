"""Irreversible or wide actions ask first: a POST without the confirmation changes nothing and answers with a page
that names what the action will do (how many orders, to whom); posting that page's form does it."""
from __future__ import annotations

import re

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import BackgroundJob, Order, OrderState, ProviderStatus, Role
from socialforce.platform.services import dispatch, matching
from tests import factories
from tests.conftest import csrf_token, login


def confirm_form(html: str) -> tuple[str, dict]:
    """The confirmation page's form: its action and its fields."""
    form = re.search(r'<form method="post" action="([^"]+)"[^>]*id="confirm-form">(.*?)</form>', html, re.S)
    assert form, "no confirmation form"
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(2)):
        fields.setdefault(name, []).append(value)
    return form.group(1).replace("&amp;", "&"), fields


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def town_staff(username: str = "town-lq"):
    return factories.user(username, Role.town_staff, town_id=factories.town("longquan").id)


def test_dispatch_asks_first_naming_the_item_and_the_provider(client):
    agency, _worker = factories.agency("晨光社工")
    item = factories.item(factories.household("longquan"), "counselling", description="需要心理疏导")
    town_staff()
    db.session.commit()
    matching.invalidate()
    login(client, "town-lq")
    token = csrf_token(client, f"/staff/items/{item.id}")
    asked = client.post(f"/staff/items/{item.id}/dispatch", data={"csrf_token": token, "provider_id": agency.id})
    assert asked.status_code == 200
    assert db.session.scalar(sa.select(sa.func.count(Order.id))) == 0
    words = text_of(asked)
    assert f"#{item.id}" in words and "晨光社工" in words and "1 个工单" in words
    action, fields = confirm_form(asked.get_data(as_text=True))
    assert action == f"/staff/items/{item.id}/dispatch" and fields["provider_id"] == [str(agency.id)]
    assert fields["confirmed"] == ["1"]
    client.post(action, data={k: v for k, v in fields.items()})
    order = db.session.scalar(sa.select(Order).where(Order.item_id == item.id))
    assert order.state == OrderState.dispatched and order.provider_id == agency.id


def test_dispatching_a_whole_page_names_how_many_orders_go_to_whom(client):
    a, b, near, far = factories.batch_where_best_first_serves_one()
    factories.user("city-staff", Role.city_staff)
    db.session.commit()
    matching.invalidate()
    login(client, "city-staff")
    asked = client.post("/staff/matching/dispatch-page", data={
        "csrf_token": csrf_token(client, "/staff/matching"), "item_id": [str(near.id), str(far.id)]})
    assert asked.status_code == 200
    assert db.session.scalar(sa.select(sa.func.count(Order.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(BackgroundJob.id))) == 0
    words = text_of(asked)
    assert "派出 2 个工单" in words and "甲社工 × 1" in words and "乙社工 × 1" in words
    action, fields = confirm_form(asked.get_data(as_text=True))
    assert fields["item_id"] == [str(near.id), str(far.id)]
    client.post(action, data=fields, follow_redirects=True)
    sent = dict(db.session.execute(sa.select(Order.item_id, Order.provider_id)).tuples().all())
    assert sent == {near.id: b.id, far.id: a.id}


def test_cancelling_an_order_asks_first_naming_the_order_and_its_provider(client):
    agency, _worker = factories.agency("晨光社工")
    item = factories.item(factories.household("longquan"), "counselling")
    town_staff()
    db.session.commit()
    order = dispatch.dispatch(item, dispatch.Choice(provider_id=agency.id), None)
    db.session.commit()
    login(client, "town-lq")
    asked = client.post(f"/staff/orders/{order.id}/cancel",
                        data={"csrf_token": csrf_token(client, f"/staff/items/{item.id}"), "reason": "家庭搬迁"})
    assert asked.status_code == 200 and f"#{order.id}" in text_of(asked) and "晨光社工" in text_of(asked)
    db.session.expire_all()
    assert order.state == OrderState.dispatched
    action, fields = confirm_form(asked.get_data(as_text=True))
    assert fields["reason"] == ["家庭搬迁"]
    client.post(action, data=fields)
    db.session.expire_all()
    assert order.state == OrderState.cancelled


def test_suspending_a_provider_asks_first(client):
    factories.user("city", Role.city_staff)
    agency, _worker = factories.agency("龙泉社工中心")
    db.session.commit()
    login(client, "city")
    asked = client.post(f"/staff/providers/{agency.id}/suspend", data={
        "csrf_token": csrf_token(client, f"/staff/providers/{agency.id}"), "reason": "服务投诉核查中"})
    assert asked.status_code == 200 and "暂停 龙泉社工中心" in text_of(asked)
    db.session.expire_all()
    assert db.session.get(type(agency), agency.id).status == ProviderStatus.approved


def test_deactivating_a_worker_asks_first_naming_the_work_they_hold(client):
    agency, worker = factories.agency("同心社工")
    factories.user("admin-tx", Role.agency_admin, provider_id=agency.id)
    db.session.commit()
    login(client, "admin-tx")
    token = csrf_token(client, "/agency/workers")
    asked = client.post(f"/agency/workers/{worker.id}/status", data={"csrf_token": token, "active": "0"})
    words = text_of(asked)
    assert asked.status_code == 200 and "停用 同心社工社工" in words and "0 个未完成工单" in words
    db.session.expire_all()
    assert db.session.get(type(worker), worker.id).active
