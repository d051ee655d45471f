"""The staff orders board: scoped to the user's towns, counts per state, state filter and pagination."""
from __future__ import annotations

import re

from socialforce.platform.extensions import db
from socialforce.platform.models import Order, OrderState, Role
from tests import factories
from tests.conftest import login


def orders(town_code: str, n: int, state: OrderState) -> list[Order]:
    made = []
    for _ in range(n):
        item = factories.item(factories.household(town_code), "counselling")
        made.append(Order(item_id=item.id, state=state))
    db.session.add_all(made)
    db.session.flush()
    return made


def shown(html: str) -> set[int]:
    return {int(n) for n in re.findall(r'href="/staff/items/\d+">#(\d+)</a>', html)}


def test_town_staff_see_their_towns_orders_with_counts_and_pages(client):
    mine = orders("longquan", 27, OrderState.dispatched) + orders("longquan", 2, OrderState.completed)
    theirs = orders("jinghe", 3, OrderState.dispatched)
    factories.user("town-staff", Role.town_staff, town_id=factories.town("longquan").id)
    db.session.commit()
    login(client, "town-staff")
    first = client.get("/staff/orders").get_data(as_text=True)
    second = client.get("/staff/orders?page=2").get_data(as_text=True)
    assert shown(first) | shown(second) == {o.id for o in mine} and len(shown(first)) == 25
    assert not (shown(first) | shown(second)) & {o.id for o in theirs}
    dispatched = client.get("/staff/orders?state=dispatched").get_data(as_text=True)
    assert re.search(r"已派单\s*<span[^>]*>27</span>", dispatched)
    done = client.get("/staff/orders?state=completed").get_data(as_text=True)
    assert shown(done) == {o.id for o in mine[27:]} and "page=2" not in done


def test_city_staff_see_every_town(client):
    everyone = orders("longquan", 2, OrderState.dispatched) + orders("jinghe", 2, OrderState.accepted)
    factories.user("city-staff", Role.city_staff)
    db.session.commit()
    login(client, "city-staff")
    assert shown(client.get("/staff/orders").get_data(as_text=True)) == {o.id for o in everyone}
