"""Pages that connect (issue 17): the item page shows which member it is for, its orders' visits and outcome and
links to the household's timeline and the follow-up evaluation; the household page links to its timeline;
overview figures link to the list they count; the top bar names the signed-in person and their organisation."""
from __future__ import annotations

import re

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import Member, Order, OrderState, Outcome, ServiceItem, User, Visit
from tests.conftest import login


def served_item() -> tuple[ServiceItem, Order, Visit]:
    """A demo item for one member whose completed order has a visit and an outcome."""
    row = db.session.execute(
        sa.select(ServiceItem, Order, Visit).join(Order, Order.item_id == ServiceItem.id)
        .join(Visit, Visit.order_id == Order.id).join(Outcome, Outcome.order_id == Order.id)
        .where(Order.state.in_((OrderState.completed, OrderState.evaluated)), ServiceItem.member_id.is_not(None))
        .order_by(ServiceItem.id).limit(1)).first()
    assert row is not None, "the demo seed has served items"
    return row[0], row[1], row[2]


def test_the_item_page_shows_member_visits_outcome_and_links(client, demo):
    item, order, visit = served_item()
    member = db.session.get(Member, item.member_id)
    login(client, "city")
    html = client.get(f"/staff/items/{item.id}").get_data(as_text=True)
    assert member.name in re.search(r'id="item-member">([^<]*)<', html).group(1)
    assert f'href="/staff/visits/{visit.id}"' in html
    assert "服务主体" in html  # the provider's outcome, by its source
    assert f'href="/staff/households/{item.household_id}/timeline"' in html
    assert f'href="/staff/orders/{order.id}/evaluate"' in html
    assert re.search(r'id="item-state">已服务完成<', html)


def test_the_household_page_links_its_timeline(client, demo):
    household_id = db.session.scalar(sa.select(ServiceItem.household_id).limit(1))
    login(client, "city")
    html = client.get(f"/staff/households/{household_id}").get_data(as_text=True)
    assert f'href="/staff/households/{household_id}/timeline"' in html


def test_overview_figures_link_to_the_lists_they_count(client, demo):
    login(client, "city")
    html = client.get("/staff/").get_data(as_text=True)
    links = re.findall(r'class="[^"]*stat-link[^"]*" href="([^"]+)"', html)
    assert "/staff/orders?state=dispatched" in links and "/staff/providers?status=pending" in links
    login(client, "agency1")
    html = client.get("/agency/").get_data(as_text=True)
    assert "/agency/orders?state=dispatched" in re.findall(r'stat-link[^"]*" href="([^"]+)"', html)


def test_the_top_bar_names_the_person_and_their_organisation(client, demo):
    worker = db.session.scalar(sa.select(User).where(User.username == "worker1"))
    member_name, agency_name = worker.member.name, worker.provider.name
    login(client, "worker1")
    html = client.get("/agency/calendar").get_data(as_text=True)
    identity = re.sub(r"<[^>]+>", "", re.search(r'id="user-identity">(.*?)</a>', html, re.S).group(1))
    assert member_name in identity and agency_name in identity
