"""Finding orders at county scale: the board's filters (state, town, category, provider, dates, number), the
whitelisted sort keys, and the shared pager (numbered pages, jump-to, bounded page size, filters kept)."""
from __future__ import annotations

import html
import re
from datetime import datetime

from socialforce.platform.extensions import db
from socialforce.platform.models import Order, OrderState, ProviderKind, Role
from tests import factories
from tests.conftest import login
from tests.portals.test_orders_board import orders, shown


def _city(client):
    factories.user("city-staff", Role.city_staff)
    db.session.commit()
    login(client, "city-staff")


def test_the_board_filters_by_town_category_provider_number_and_dates(client):
    longquan = orders("longquan", 2, OrderState.dispatched)
    jinghe = orders("jinghe", 2, OrderState.accepted)
    care = Order(item_id=factories.item(factories.household("jinghe"), "daily_care").id, state=OrderState.accepted)
    agency = factories.provider(ProviderKind.agency, name="阳光社工服务中心")
    longquan[0].provider_id = agency.id
    jinghe[0].created_at, jinghe[1].created_at = datetime(2026, 3, 5, 4), datetime(2026, 5, 5, 4)
    db.session.add(care)
    db.session.flush()
    _city(client)
    jinghe_id = factories.town("jinghe").id
    assert shown(client.get(f"/staff/orders?town={jinghe_id}").get_data(as_text=True)) == {
        o.id for o in [*jinghe, care]}
    assert shown(client.get("/staff/orders?category=daily_care").get_data(as_text=True)) == {care.id}
    assert shown(client.get("/staff/orders?provider=阳光").get_data(as_text=True)) == {longquan[0].id}
    assert shown(client.get(f"/staff/orders?number=%23{jinghe[1].id}").get_data(as_text=True)) == {jinghe[1].id}
    assert shown(client.get("/staff/orders?from=2026-03-01&to=2026-03-31").get_data(as_text=True)) == {jinghe[0].id}
    combined = client.get(f"/staff/orders?state=accepted&town={jinghe_id}&category=counselling")
    assert shown(combined.get_data(as_text=True)) == {o.id for o in jinghe}


def test_a_reversed_date_range_is_refused_next_to_the_field_keeping_what_was_typed(client):
    orders("longquan", 1, OrderState.dispatched)
    _city(client)
    response = client.get("/staff/orders?from=2026-05-01&to=2026-04-01")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r'id="to-error">[^<]*(结束日期|end date)', page)
    assert 'value="2026-05-01"' in page and 'value="2026-04-01"' in page
    assert client.get("/staff/orders?number=abc").status_code == 400


def test_columns_sort_by_whitelisted_keys_only(client):
    made = orders("longquan", 3, OrderState.dispatched)
    names = ["丙机构", "甲机构", "乙机构"]
    for order, name in zip(made, names, strict=True):
        order.provider_id = factories.provider(ProviderKind.agency, name=name).id
    db.session.flush()
    _city(client)

    def ids(query: str) -> list[int]:
        return [int(n) for n in re.findall(r'href="/staff/items/\d+">#(\d+)</a>', client.get(
            f"/staff/orders?{query}").get_data(as_text=True))]

    ascending = ids("sort=number")
    assert ascending == sorted(ascending) and ids("") == sorted(ascending, reverse=True)
    by_name = ids("sort=provider")
    assert [names[[o.id for o in made].index(i)] for i in by_name] == sorted(names)
    assert ids("sort=provider;drop table orders") == sorted(ascending, reverse=True)
    page = client.get("/staff/orders?sort=provider&town=1").get_data(as_text=True)
    assert "sort=-provider" in html.unescape(page) and "town=1" in html.unescape(page)


def test_the_pager_numbers_pages_jumps_and_keeps_the_filters_with_a_bounded_size(client):
    orders("longquan", 60, OrderState.dispatched)
    _city(client)
    page = html.unescape(client.get("/staff/orders?state=dispatched&per_page=10&page=3").get_data(as_text=True))
    assert len(shown(page)) == 10
    for n in (1, 2, 4, 5, 6):
        assert re.search(rf'href="/staff/orders\?(?:[^"]*&)?page={n}\b[^"]*"', page)
    links = re.findall(r'href="(/staff/orders\?(?:[^"]*&)?page=\d+[^"]*)"', page)
    assert links and all("state=dispatched" in u and "per_page=10" in u for u in links)
    assert 'aria-current="page"><span class="page-link">3<' in page
    assert 'name="page"' in page and 'name="per_page"' in page
    assert re.search(r'<input type="hidden" name="state" value="dispatched">', page)
    huge = client.get("/staff/orders?per_page=100000").get_data(as_text=True)
    assert len(shown(huge)) == 25


def test_households_are_found_by_their_number_with_labelled_filters(client):
    wanted, other = factories.household("longquan"), factories.household("longquan")
    _city(client)
    page = client.get(f"/staff/households?q={wanted.code}").get_data(as_text=True)
    assert f">{wanted.code}</a>" in page and f">{other.code}</a>" not in page
    for field in ("q", "id_suffix", "town", "category"):
        assert f'<label class="form-label small mb-0" for="{field}">' in page


def test_the_export_takes_the_boards_filters_including_the_date_range(client):
    made = orders("longquan", 2, OrderState.accepted)
    care = Order(item_id=factories.item(factories.household("longquan"), "daily_care").id, state=OrderState.accepted)
    made[0].created_at, made[1].created_at = datetime(2026, 3, 5, 4), datetime(2026, 5, 5, 4)
    db.session.add(care)
    db.session.flush()
    _city(client)
    board = html.unescape(client.get("/staff/orders?from=2026-03-01&to=2026-03-31").get_data(as_text=True))
    link = re.search(r'id="export-csv" href="([^"]+)"', board).group(1)
    assert "from=2026-03-01" in link and "to=2026-03-31" in link
    rows = client.get(link).get_data(as_text=True).strip().splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == [str(made[0].id)]
    rows = client.get("/staff/export/orders.csv?category=daily_care").get_data(as_text=True).strip().splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == [str(care.id)]
