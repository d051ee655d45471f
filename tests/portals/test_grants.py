"""Cross-county grants through the county staff's page: an agency of the second county is granted the first by its
credit code, a volunteer by its national number; bad codes change nothing; a revoke asks first, then takes the
county's towns out of the provider's offers (pausing an offer left with none)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from socialforce.platform import uscc
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Agency,
    AuditLog,
    OfferStatus,
    Provider,
    Role,
    ServiceOffer,
    Town,
    offer_towns,
    provider_counties,
)
from tests import factories
from tests.conftest import csrf_token, empty_tables, login

CREDIT_CODE = uscc.make("52370402MJ0000011")
OWN_CODE = uscc.make("52370481MJ0000022")


@pytest.fixture
def second_county(app):
    """The first county's staff `c1`; a second county with one town, an agency (credit code, one offer in its town)
    and a volunteer with a national number."""
    first = db.session.scalar(sa.select(Town.county_id).where(Town.code == "longquan"))
    factories.user("c1", Role.city_staff, county_id=first)
    county = factories.second_county()
    provider, _worker = factories.agency("薛城区阳光社工", "changzhuang")
    db.session.execute(sa.update(Agency).where(Agency.provider_id == provider.id).values(credit_code=CREDIT_CODE))
    volunteer = factories.volunteer("changzhuang")
    volunteer.national_no = "V370403000123"
    db.session.commit()
    yield {"provider_id": provider.id, "volunteer_provider_id": volunteer.provider_id, "first": first,
           "county_id": county.id}
    db.session.rollback()
    empty_tables()
    factories.drop_county(county.id)


def _grants() -> set[tuple[int, int]]:
    return set(db.session.execute(sa.select(provider_counties.c.provider_id, provider_counties.c.county_id)))


def _post(client, path: str, **data):
    return client.post(path, data={"csrf_token": csrf_token(client, "/staff/grants"), **data})


def test_an_agency_is_granted_by_its_credit_code_and_then_serves_the_county(second_county, client):
    login(client, "c1")
    pid = second_county["provider_id"]
    assert "薛城区阳光社工" not in client.get("/staff/providers?q=阳光").get_data(as_text=True)
    spaced = " ".join([CREDIT_CODE[:9], CREDIT_CODE[9:].lower()])  # spaces and lower case are the same code
    answer = _post(client, "/staff/grants", code=spaced)
    assert answer.status_code == 303
    assert _grants() == {(pid, second_county["first"])}
    page = client.get("/staff/grants").get_data(as_text=True)
    assert "薛城区阳光社工" in page and "薛城区" in page
    assert "薛城区阳光社工" in client.get("/staff/providers?q=阳光").get_data(as_text=True)
    assert client.get(f"/staff/providers/{pid}").status_code == 200
    row = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "county_granted"))
    assert row.object_id == pid and row.detail == {"county_id": second_county["first"]}


def test_a_volunteer_is_granted_by_its_national_number(second_county, client):
    login(client, "c1")
    assert _post(client, "/staff/grants", code="V370403000123").status_code == 303
    assert _grants() == {(second_county["volunteer_provider_id"], second_county["first"])}


@pytest.mark.parametrize(("code", "status", "message"), [
    ("", 400, "请输入"),
    ("x" * 41, 400, "请输入"),
    (uscc.make("91370481MA3C00001"), 400, "没有机构或志愿者使用这个代码"),  # a valid shape that nobody holds
    ("V000", 400, "没有机构或志愿者使用这个代码"),
])
def test_a_bad_code_is_refused_in_chinese_and_grants_nothing(second_county, client, code, status, message):
    login(client, "c1")
    answer = _post(client, "/staff/grants", code=code)
    assert answer.status_code == status
    assert message in answer.get_data(as_text=True)
    assert _grants() == set()


def test_the_own_countys_provider_and_a_second_grant_are_refused(second_county, client):
    own, _worker = factories.agency("滕州本地社工")
    db.session.execute(sa.update(Agency).where(Agency.provider_id == own.id)
                       .values(credit_code=OWN_CODE))
    db.session.commit()
    login(client, "c1")
    answer = _post(client, "/staff/grants", code=OWN_CODE)
    assert answer.status_code == 409 and "已属于本县" in answer.get_data(as_text=True)
    assert _post(client, "/staff/grants", code=CREDIT_CODE).status_code == 303
    again = _post(client, "/staff/grants", code=CREDIT_CODE)
    assert again.status_code == 409 and "已可服务本县" in again.get_data(as_text=True)
    assert _grants() == {(second_county["provider_id"], second_county["first"])}


def test_a_revoke_asks_first_then_takes_the_countys_towns_out_of_the_offers(second_county, client):
    pid, first = second_county["provider_id"], second_county["first"]
    db.session.execute(provider_counties.insert().values(provider_id=pid, county_id=first))
    provider = db.session.get(Provider, pid)
    both = factories.offer(provider, ("counselling",), ("changzhuang", "longquan"))
    only_here = factories.offer(provider, ("counselling",), ("longquan",))
    db.session.commit()
    login(client, "c1")
    asked = _post(client, "/staff/grants/revoke", provider_id=str(pid))
    assert asked.status_code == 200 and "撤销" in asked.get_data(as_text=True)
    assert _grants() == {(pid, first)}
    done = _post(client, "/staff/grants/revoke", provider_id=str(pid), confirmed="1")
    assert done.status_code == 303
    assert _grants() == set()
    towns = {i: code for i, code in db.session.execute(sa.select(Town.id, Town.code))}
    left = {(o, towns[t]) for o, t in db.session.execute(sa.select(offer_towns.c.offer_id, offer_towns.c.town_id)
                                                        .where(offer_towns.c.offer_id.in_([both.id, only_here.id])))}
    assert left == {(both.id, "changzhuang")}
    db.session.expire_all()
    assert db.session.get(ServiceOffer, both.id).status == OfferStatus.active
    assert db.session.get(ServiceOffer, only_here.id).status == OfferStatus.paused
    row = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "county_grant_revoked"))
    assert row.detail["offers_changed"] == 2 and row.detail["offers_paused"] == 1
    again = _post(client, "/staff/grants/revoke", provider_id=str(pid), confirmed="1")
    assert again.status_code == 303 and _grants() == set()


def test_town_staff_cannot_use_the_page(second_county, client):
    factories.user("t1", Role.town_staff, town_id=factories.town("longquan").id)
    db.session.commit()
    login(client, "t1")
    assert client.get("/staff/grants").status_code == 403
