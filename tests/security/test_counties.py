"""Counties are tenants: a second county's household, member, item, order, visit, provider (agency, contract,
offer, qualification, worker) and accounts are 404 to the first county's staff, town staff, providers, volunteers
and village assistant (and the other way round), through every page with one id parameter and through the API;
prefecture staff read both counties' figures and lists, masked, and cannot write.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Agency,
    Contract,
    Household,
    ItemStatus,
    Member,
    Order,
    OrderState,
    Qualification,
    Role,
    ServiceItem,
    ServiceOffer,
    Town,
    User,
    Visit,
    utcnow,
)
from socialforce.platform.services import api_tokens, order_search, orders, overview
from socialforce.platform.services.visits import Assignee, plan_visit
from tests import factories
from tests.conftest import csrf_token, empty_tables
from tests.security.filling import Filler, client_for, discard_uploads, hsds_ids, import_token
from tests.security.support import BEARER, allowed_roles, may_use, routes, user

DENIED = (403, 404)
FIRST_COUNTY = ("city", "town1", "agency1", "worker1", "unit1", "cadre1", "volunteer1", "volunteer2", "village1")
SECOND_COUNTY = ("city_b", "town_b", "agency_b", "worker_b", "volunteer_b")


@pytest.fixture
def two_counties(demo, app):
    """The demo (Tengzhou) plus a second county (Xuecheng) with one town and one of everything; its ids by kind."""
    county = factories.second_county()
    household = factories.household("changzhuang", members=2)
    item = factories.item(household, "counselling")
    provider, worker = factories.agency("薛城区测试社工中心", "changzhuang")
    volunteer = factories.volunteer("changzhuang")
    order = Order(item_id=item.id, provider_id=provider.id, state=OrderState.proposed)
    db.session.add(order)
    db.session.flush()
    now = utcnow()
    orders.transition(order, OrderState.dispatched, None, now=now)
    orders.transition(order, OrderState.accepted, None, now=now, assignee_id=worker.id)
    visit = plan_visit(order, Assignee(member_id=worker.id), now + timedelta(days=1), 60, None, now)
    town_id = household.town_id
    factories.user("city_b", Role.city_staff, county_id=county.id)
    factories.user("town_b", Role.town_staff, town_id=town_id)
    factories.user("agency_b", Role.agency_admin, provider_id=provider.id)
    factories.user("worker_b", Role.social_worker, provider_id=provider.id, member_id=worker.id)
    factories.user("volunteer_b", Role.volunteer, provider_id=volunteer.provider_id)
    agency = db.session.scalar(sa.select(Agency).where(Agency.provider_id == provider.id))
    ids = {
        "household_id": household.id,
        "member_id": db.session.scalar(sa.select(Member.id).where(Member.household_id == household.id).limit(1)),
        "item_id": item.id, "order_id": order.id, "visit_id": visit.id, "provider_id": provider.id,
        "agency_id": agency.id,
        "contract_id": db.session.scalar(sa.select(Contract.id).where(Contract.agency_id == agency.id)),
        "qualification_id": db.session.scalar(sa.select(Qualification.id).where(
            Qualification.provider_id == provider.id)),
        "offer_id": db.session.scalar(sa.select(ServiceOffer.id).where(ServiceOffer.provider_id == provider.id)),
        "worker_id": worker.id,
        "user_id": db.session.scalar(sa.select(User.id).where(User.username == "town_b")),
    }
    db.session.commit()
    yield ids
    db.session.rollback()
    empty_tables()  # then the second county's reference rows (kept by empty_tables)
    factories.drop_county(county.id)


def _first_county_ids(ids_b: dict[str, int]) -> dict[str, int]:
    """One id of each kind in the first county (the demo's), for the second county's users."""
    city = user("city")
    tengzhou = sa.select(Town.id).where(Town.county_id == city.county_id)
    order = db.session.scalar(sa.select(Order).join(ServiceItem, ServiceItem.id == Order.item_id)
                              .join(Household, Household.id == ServiceItem.household_id)
                              .where(Household.town_id.in_(tengzhou)).order_by(Order.id).limit(1))
    household = order.item.household
    visit = db.session.scalar(sa.select(Visit.id).where(Visit.id != ids_b["visit_id"]).order_by(Visit.id).limit(1))
    agency1 = user("agency1")
    agency = db.session.scalar(sa.select(Agency).where(Agency.provider_id == agency1.provider_id))
    return {
        "household_id": household.id,
        "member_id": db.session.scalar(sa.select(Member.id).where(Member.household_id == household.id).limit(1)),
        "item_id": order.item_id, "order_id": order.id, "visit_id": visit, "provider_id": agency1.provider_id,
        "agency_id": agency.id,
        "contract_id": db.session.scalar(sa.select(Contract.id).where(Contract.agency_id == agency.id).limit(1)),
        "qualification_id": db.session.scalar(sa.select(Qualification.id).where(
            Qualification.provider_id == agency1.provider_id).limit(1)),
        "offer_id": db.session.scalar(sa.select(ServiceOffer.id).where(
            ServiceOffer.provider_id == agency1.provider_id).limit(1)),
        "worker_id": user("worker1").member_id,
        "user_id": user("town1").id,
    }


def _walk(app, usernames, others: dict[str, int]) -> tuple[list[str], int]:
    """Every GET page with one id parameter, as each user, with the other county's id: the cells that answer."""
    anonymous = client_for(app, None)
    tokens = {name: import_token(user(name)) for name in ("city", "town1")}
    db.session.commit()
    filler = Filler(hsds_ids(anonymous), tokens)
    failures, tried = [], 0
    try:
        for username in usernames:
            u = user(username)
            client = client_for(app, username)
            for route in routes(app):
                if route.method != "GET" or allowed_roles(route.endpoint) == BEARER:
                    continue
                id_params = [p for p in route.params if p.endswith("_id") and p not in filler.hsds_ids]
                if len(id_params) != 1 or id_params[0] not in others or not may_use(u.role, route.endpoint):
                    continue
                name, portal = id_params[0], route.endpoint.split(".")[0]
                url = re.sub(r"<(?:[a-z]+:)?" + name + ">", str(others[name]), route.rule)
                url = filler.own(url, tuple(p for p in route.params if p != name), u, portal)
                if url is None:
                    continue
                tried += 1
                response = client.get(url)
                if response.status_code not in DENIED:
                    failures.append(f"{username} GET {url}: the other county's {name} gave {response.status_code}")
    finally:
        discard_uploads(tokens)
    return failures, tried


def test_the_first_countys_users_get_404_for_every_object_of_the_second(two_counties, app):
    failures, tried = _walk(app, FIRST_COUNTY, two_counties)
    assert not failures, "\n".join(failures)
    assert tried >= 40


def test_the_second_countys_users_get_404_for_every_object_of_the_first(two_counties, app):
    failures, tried = _walk(app, SECOND_COUNTY, _first_county_ids(two_counties))
    assert not failures, "\n".join(failures)
    assert tried >= 15


def test_county_staff_cannot_manage_another_countys_accounts(two_counties, app):
    client = client_for(app, "city")
    token = csrf_token(client, "/staff/accounts")
    for action, data in (("status", {"active": "0"}), ("reset", {"kind": "code"})):
        response = client.post(f"/staff/accounts/{two_counties['user_id']}/{action}",
                               data={"csrf_token": token, **data})
        assert response.status_code == 404, action
    listing = client.get("/staff/accounts").get_data(as_text=True)
    assert "town_b" not in listing and "town1" in listing
    assert db.session.scalar(sa.select(User.active).where(User.username == "town_b")) is True


def _api(app, username: str):
    u = user(username)
    _token, secret = api_tokens.create(u, "test", api_tokens.allowed_scopes(u), 30)
    db.session.commit()
    client = app.test_client()
    return lambda path: client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {secret}"})


def test_the_api_keeps_counties_apart(two_counties, app):
    ids_a = _first_county_ids(two_counties)
    for username, ids in (("city", two_counties), ("town1", two_counties), ("city_b", ids_a)):
        get = _api(app, username)
        assert get(f"/staff/households/{ids['household_id']}").status_code == 404, username
        assert get(f"/staff/items/{ids['item_id']}").status_code == 404, username
        assert get(f"/staff/items/{ids['item_id']}/ranking").status_code == 404, username
    own = _api(app, "city_b")
    assert own(f"/staff/households/{two_counties['household_id']}").status_code == 200
    listed = own("/staff/households").get_json()
    assert [row["id"] for row in listed["items"]] == [two_counties["household_id"]]
    for username, ids in (("agency1", two_counties), ("agency_b", ids_a)):
        assert _api(app, username)(f"/provider/orders/{ids['order_id']}").status_code == 404, username


def test_prefecture_staff_see_both_counties_figures_and_lists(two_counties, app):
    prefecture, city, city_b = user("prefecture"), user("city"), user("city_b")
    assert prefecture.county_id is None and city.county_id != city_b.county_id
    mine, theirs, both = (overview.staff_overview(u) for u in (city, city_b, prefecture))
    assert theirs.households == 1 and mine.households > 1
    assert both.households == mine.households + theirs.households
    assert both.open_items == mine.open_items + theirs.open_items
    client = client_for(app, "prefecture")
    ids_a = _first_county_ids(two_counties)
    for ids in (ids_a, two_counties):
        page = client.get(f"/staff/households/{ids['household_id']}")
        assert page.status_code == 200
        assert client.get(f"/staff/items/{ids['item_id']}").status_code == 200
        assert client.get(f"/staff/providers/{ids['provider_id']}").status_code == 200
    assert client.get("/staff/dashboard").status_code == 200


def test_every_order_carries_its_households_county_and_each_board_lists_its_own(two_counties, app):
    mismatched = db.session.scalar(
        sa.select(sa.func.count(Order.id)).join(ServiceItem).join(Household).join(Town, Town.id == Household.town_id)
        .where(Town.county_id != Order.county_id))
    assert mismatched == 0 and db.session.scalar(sa.select(sa.func.count(Order.id))) > 1
    staff = {name: user(name) for name in ("city", "city_b", "prefecture")}
    no_filters = order_search.OrderFilters()
    boards = {name: {o.id for o in db.session.scalars(order_search.board_query(u, no_filters))}
              for name, u in staff.items()}
    counts = {name: order_search.state_counts(u, no_filters) for name, u in staff.items()}
    assert boards["city_b"] == {two_counties["order_id"]} and counts["city_b"] == {"scheduled": 1}  # accepted, then a visit planned
    assert boards["prefecture"] == boards["city"] | boards["city_b"] and len(boards["city"]) > 1
    assert sum(counts["city"].values()) == len(boards["city"])
    assert sum(counts["prefecture"].values()) == len(boards["prefecture"])


def test_every_item_carries_its_households_county_and_each_home_lists_its_own(two_counties, app):
    household_b = db.session.get(Household, two_counties["household_id"])
    open_b = factories.item(household_b, "daily_care")  # through the ORM: the county comes from the household
    db.session.commit()
    mismatched = db.session.scalar(
        sa.select(sa.func.count(ServiceItem.id)).join(Household).join(Town, Town.id == Household.town_id)
        .where(Town.county_id != ServiceItem.county_id))
    assert mismatched == 0 and db.session.scalar(sa.select(sa.func.count(ServiceItem.id))) > 2
    homes = {name: overview.staff_overview(user(name)) for name in ("city", "city_b", "prefecture", "town1")}
    for name in ("city", "city_b"):  # the county column's answers equal those through the households' towns
        towns = sa.select(Town.id).where(Town.county_id == user(name).county_id)
        items = sa.select(ServiceItem.id).join(Household).where(Household.town_id.in_(towns))
        newest = list(db.session.scalars(items.order_by(ServiceItem.id.desc()).limit(overview.LATEST)))
        open_items = db.session.scalar(sa.select(sa.func.count()).select_from(
            items.where(ServiceItem.status == ItemStatus.open).subquery()))
        assert [i.id for i in homes[name].latest_items] == newest and homes[name].open_items == open_items > 0
    assert [i.id for i in homes["city_b"].latest_items] == [open_b.id, two_counties["item_id"]]
    assert len(homes["city"].latest_items) == overview.LATEST
    assert homes["prefecture"].open_items == homes["city"].open_items + homes["city_b"].open_items
    assert homes["prefecture"].latest_items[0].id == open_b.id
    town1 = user("town1")
    assert homes["town1"].latest_items and all(i.household.town_id == town1.town_id
                                               for i in homes["town1"].latest_items)


def test_prefecture_staff_cannot_write_and_reveal_only_through_the_audited_action(two_counties, app):
    client = client_for(app, "prefecture")
    token = csrf_token(client, "/staff/households")
    item_id, household_id = two_counties["item_id"], two_counties["household_id"]
    before = (db.session.scalar(sa.select(sa.func.count(Order.id))),
              db.session.scalar(sa.select(sa.func.count(ServiceItem.id))))
    for path in (f"/staff/items/{item_id}/dispatch", f"/staff/items/{item_id}/close",
                 f"/staff/households/{household_id}/items/new", "/staff/imports", "/staff/pairings/new",
                 f"/staff/orders/{two_counties['order_id']}/cancel", "/staff/hours/confirm-all"):
        assert client.post(path, data={"csrf_token": token}).status_code == 403, path
    for path in ("/staff/imports", "/staff/imports/template.xlsx", "/staff/matching",
                 f"/staff/households/{household_id}/items/new", "/staff/organisations/agencies/new",
                 "/staff/accounts"):
        assert client.get(path).status_code == 403, path
    assert (db.session.scalar(sa.select(sa.func.count(Order.id))),
            db.session.scalar(sa.select(sa.func.count(ServiceItem.id)))) == before
    page = client.get(f"/staff/households/{household_id}").get_data(as_text=True)
    member = db.session.get(Member, two_counties["member_id"])
    assert member.id_masked in page
    revealed = client.post(f"/staff/members/{member.id}/reveal", data={"csrf_token": token, "purpose": "核对身份"})
    assert revealed.status_code == 200
    assert api_tokens.allowed_scopes(user("prefecture")) == []  # no API: the reveal is the only way to a number


PUBLIC_BLUEPRINTS = ("public", "hsds", "static")  # the public sign-up and directory name every county on purpose


def _names_on_pages(app, usernames, names: set[str]) -> tuple[list[str], int]:
    """Every page and API answer without URL parameters, as each user (the API with a token of all the user's
    scopes): where one of `names` shows."""
    failures, tried = [], 0
    for username in usernames:
        u = user(username)
        client, role = client_for(app, username), u.role
        scopes = api_tokens.allowed_scopes(u)
        headers = {"Authorization": f"Bearer {api_tokens.create(u, 'crawl', scopes, 1)[1]}"} if scopes else None
        db.session.commit()
        for route in routes(app):
            blueprint, api = route.endpoint.split(".")[0], allowed_roles(route.endpoint) == BEARER
            if (route.method != "GET" or route.params or blueprint in PUBLIC_BLUEPRINTS
                    or (api and headers is None) or (not api and not may_use(role, route.endpoint))):
                continue
            response = (app.test_client() if api else client).get(route.rule, headers=headers if api else None)
            if response.status_code != 200 or not response.mimetype.startswith(("text/", "application/json")):
                continue
            tried += 1
            text = response.get_data(as_text=True)
            failures += [f"{username} GET {route.rule} names {name}" for name in names if name in text]
    return failures, tried


def test_no_page_names_the_other_countys_towns_or_organisations(two_counties, app):
    theirs = {"常庄街道", "Changzhuang", "薛城区测试社工中心"}
    failures, tried = _names_on_pages(app, ("city", "town1", "agency1", "unit1", "volunteer1"), theirs)
    assert not failures, "\n".join(failures)
    assert tried >= 40
    city = user("city")
    ours = {name for row in db.session.execute(sa.select(Town.name_zh, Town.name_en)
                                               .where(Town.county_id == city.county_id)) for name in row}
    failures, tried = _names_on_pages(app, ("city_b", "town_b", "agency_b"), ours)
    assert not failures, "\n".join(failures)
    assert tried >= 15


def test_county_staff_read_no_system_audit_row_about_the_other_county(two_counties, app):
    from socialforce.platform.services import audit

    rows = [audit.record("contract_hours", None, "contract", two_counties["contract_id"]),
            audit.record("item_escalated", None, "service_item", two_counties["item_id"]),
            audit.record("api_token.use", None, "api_token", 10**6)]  # no such token: no county claims it
    db.session.commit()
    shown = {row.id for row in db.session.scalars(audit.log_query(user("city")))}
    assert not shown & {r.id for r in rows}
    theirs = {row.id for row in db.session.scalars(audit.log_query(user("city_b")))}
    assert {rows[0].id, rows[1].id} <= theirs and rows[2].id not in theirs
    assert {r.id for r in rows} <= {row.id for row in db.session.scalars(audit.log_query(user("prefecture")))}
