"""Agency portal: profile, social workers, contracts and capacity offers; every page for its role, other agencies'
rows answered 404, and refused input changing nothing."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AuditLog,
    OfferStatus,
    ProviderMember,
    Role,
    ServiceOffer,
    User,
)
from socialforce.platform.services import matching
from tests import factories
from tests.conftest import csrf_token, login

PASSWORD = "demo1234"


def agency_with_admin(name: str = "同心社工", town: str = "longquan") -> tuple:
    """An agency (contract, licensed worker, offer) and its administrator's login."""
    provider, worker = factories.agency(name, town)
    admin = factories.user(f"admin{provider.id}", Role.agency_admin, provider_id=provider.id)
    return provider, worker, admin


def offer_of(provider) -> ServiceOffer:
    return db.session.scalar(sa.select(ServiceOffer).where(ServiceOffer.provider_id == provider.id))


def offer_form(token: str, **overrides) -> dict:
    """A valid offer form (counselling in longquan, weekday mornings) with some fields replaced."""
    form = {"csrf_token": token, "title": "心理疏导进社区", "description": "持证社工上门",
            "category_ids": [str(factories.category("counselling").id)],
            "town_ids": [str(factories.town("longquan").id)], "slots_per_week": "8",
            "windows": ["0", "3", "6"], "valid_from": date.today().isoformat(),
            "valid_to": (date.today() + timedelta(days=90)).isoformat()}
    form.update(overrides)
    return form


def offer_row(offer_id: int) -> tuple:
    """What an offer holds, read fresh from the database."""
    db.session.expire_all()
    o = db.session.get(ServiceOffer, offer_id)
    return (o.title, o.slots_per_week, o.windows, o.valid_from, o.valid_to, o.status,
            tuple(c.code for c in o.categories), tuple(t.code for t in o.towns))


def test_every_agency_page_renders_for_the_administrator(client):
    provider, worker, admin = agency_with_admin()
    offer = offer_of(provider)
    db.session.commit()
    login(client, admin.username, PASSWORD)
    pages = {
        "/agency/profile": [provider.name, f"L{provider.id:05d}", "持证社工"],
        "/agency/profile/edit": [provider.name, 'name="radius_km"'],
        "/agency/workers": [worker.name],
        "/agency/workers/new": ['name="username"', 'name="certificate_level"'],
        f"/agency/workers/{worker.id}/edit": [worker.name],
        "/agency/contracts": [f"C{provider.id:05d}", "0.0 / 100.0", "¥10,000.00"],
        "/agency/offers": [offer.title, f"/agency/offers/{offer.id}/edit"],
        "/agency/offers/new": ['name="category_ids"', 'name="windows"'],
        f"/agency/offers/{offer.id}/edit": [offer.title],
    }
    for path, expected in pages.items():
        response = client.get(path)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, path
        for text in expected:
            assert text in html, (path, text)
    nav = client.get("/agency/").get_data(as_text=True)
    for path in ("/agency/offers", "/agency/workers", "/agency/contracts", "/agency/profile"):
        assert f'href="{path}"' in nav


def test_a_social_worker_sees_the_offers_and_contracts_but_not_the_admin_pages(client):
    provider, worker, _admin = agency_with_admin()
    factories.user("sw1", Role.social_worker, provider_id=provider.id, member_id=worker.id)
    offer = offer_of(provider)
    db.session.commit()
    login(client, "sw1", PASSWORD)
    for path in ("/agency/offers", "/agency/contracts", "/agency/profile"):
        assert client.get(path).status_code == 200, path
    offers_page = client.get("/agency/offers").get_data(as_text=True)
    assert offer.title in offers_page and "/edit" not in offers_page
    for path in ("/agency/workers", "/agency/workers/new", f"/agency/workers/{worker.id}/edit",
                 "/agency/offers/new", f"/agency/offers/{offer.id}/edit", "/agency/profile/edit"):
        assert client.get(path).status_code == 403, path
    token = csrf_token(client, "/agency/offers")
    assert client.post(f"/agency/offers/{offer.id}/pause", data={"csrf_token": token}).status_code == 403
    assert offer_row(offer.id)[5] == OfferStatus.active
    assert 'href="/agency/workers"' not in client.get("/agency/").get_data(as_text=True)


def test_another_agencys_offers_and_workers_are_404_and_unchanged(client):
    _mine, _my_worker, admin = agency_with_admin("同心社工")
    theirs, their_worker, _their_admin = agency_with_admin("善德社工", "jinghe")
    their_offer = offer_of(theirs)
    db.session.commit()
    before = offer_row(their_offer.id)
    login(client, admin.username, PASSWORD)
    token = csrf_token(client, "/agency/offers")
    for path in (f"/agency/offers/{their_offer.id}/edit", f"/agency/workers/{their_worker.id}/edit"):
        assert client.get(path).status_code == 404, path
    for path, data in [(f"/agency/offers/{their_offer.id}/edit", offer_form(token, title="改掉别人的")),
                       (f"/agency/offers/{their_offer.id}/pause", {"csrf_token": token}),
                       (f"/agency/offers/{their_offer.id}/resume", {"csrf_token": token}),
                       (f"/agency/workers/{their_worker.id}/edit", {"csrf_token": token, "name": "改名",
                                                                     "certificate_level": "senior"}),
                       (f"/agency/workers/{their_worker.id}/status", {"csrf_token": token, "active": "0"})]:
        assert client.post(path, data=data).status_code == 404, path
    assert offer_row(their_offer.id) == before
    db.session.expire_all()
    worker = db.session.get(ProviderMember, their_worker.id)
    assert (worker.name, worker.certificate_level, worker.active) == ("善德社工社工", "social_worker", True)
    listing = client.get("/agency/offers").get_data(as_text=True)
    assert their_offer.title not in listing
    assert their_worker.name not in client.get("/agency/workers").get_data(as_text=True)


def test_publish_edit_pause_and_resume_an_offer(client):
    provider, _worker, admin = agency_with_admin()
    db.session.commit()
    login(client, admin.username, PASSWORD)
    token = csrf_token(client, "/agency/offers/new")
    matching._warm["index"] = "stale"
    response = client.post("/agency/offers/new", data=offer_form(token))
    assert response.status_code == 303 and response.headers["Location"].endswith("/agency/offers")
    assert "index" not in matching._warm  # the matching index is rebuilt with the new offer
    offer = db.session.scalar(sa.select(ServiceOffer).where(ServiceOffer.title == "心理疏导进社区"))
    assert offer.provider_id == provider.id
    assert offer_row(offer.id)[1:] == (8, 0b1001001, date.today(), date.today() + timedelta(days=90),
                                       OfferStatus.active, ("counselling",), ("longquan",))
    assert "心理疏导进社区" in client.get("/agency/offers").get_data(as_text=True)

    jinghe = str(factories.town("jinghe").id)
    edited = client.post(f"/agency/offers/{offer.id}/edit", data=offer_form(
        token, slots_per_week="3", town_ids=[str(factories.town("longquan").id), jinghe],
        category_ids=[str(factories.category("counselling").id), str(factories.category("resource_linking").id)]))
    assert edited.status_code == 303
    assert offer_row(offer.id)[1] == 3 and offer_row(offer.id)[6:] == (
        ("counselling", "resource_linking"), ("longquan", "jinghe"))

    matching._warm["index"] = "stale"
    paused = client.post(f"/agency/offers/{offer.id}/pause", data={"csrf_token": token}, follow_redirects=True)
    assert offer_row(offer.id)[5] == OfferStatus.paused and "index" not in matching._warm
    assert "不会再匹配新的工作" in paused.get_data(as_text=True) or "No new work will be matched" in paused.get_data(
        as_text=True)
    again = client.post(f"/agency/offers/{offer.id}/pause", data={"csrf_token": token}, follow_redirects=True)
    assert "该服务供给已经暂停" in again.get_data(as_text=True) or "already paused" in again.get_data(as_text=True)
    assert "心理疏导进社区" in client.get("/agency/offers?status=paused").get_data(as_text=True)
    assert "心理疏导进社区" not in client.get("/agency/offers?status=active").get_data(as_text=True)
    client.post(f"/agency/offers/{offer.id}/resume", data={"csrf_token": token})
    assert offer_row(offer.id)[5] == OfferStatus.active
    actions = list(db.session.scalars(sa.select(AuditLog.action).where(
        AuditLog.object_type == "service_offer", AuditLog.object_id == offer.id).order_by(AuditLog.id)))
    assert actions == ["offer_published", "offer_updated", "offer_paused", "offer_resumed"]


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"category_ids": ["legal_aid"]}, "category_ids", "qualified"),  # needs a lawyer's qualification
    ({"category_ids": []}, "category_ids", "at least one service category"),
    ({"town_ids": []}, "town_ids", "at least one town"),
    ({"town_ids": ["999999"]}, "town_ids", "from the list"),
    ({"slots_per_week": "0"}, "slots_per_week", "1 to 1000"),
    ({"slots_per_week": "many"}, "slots_per_week", "1 to 1000"),
    ({"windows": []}, "windows", "at least one time window"),
    ({"valid_from": "2030-05-01", "valid_to": "2030-04-01"}, "valid_to", "before the first day"),
    ({"valid_to": "not a date"}, "valid_to", "last day"),
    ({"title": "x"}, "title", "title"),
])
def test_invalid_offer_input_is_refused_beside_its_field_and_changes_nothing(client, overrides, field, message):
    provider, _worker, admin = agency_with_admin()
    existing = offer_of(provider)
    db.session.commit()
    before = offer_row(existing.id)
    count = db.session.scalar(sa.select(sa.func.count(ServiceOffer.id)))
    login(client, admin.username, PASSWORD)
    client.post("/lang/en", data={"csrf_token": csrf_token(client, "/agency/"), "next": "/agency/"})
    token = csrf_token(client, "/agency/offers/new")
    if overrides.get("category_ids") == ["legal_aid"]:
        overrides = {"category_ids": [str(factories.category("legal_aid").id)]}
    for path in ("/agency/offers/new", f"/agency/offers/{existing.id}/edit"):
        response = client.post(path, data=offer_form(token, **overrides))
        html = response.get_data(as_text=True)
        assert response.status_code == 400, path
        assert "Nothing was saved" in html and message in html, (path, html[:3000])
        if field in ("title", "slots_per_week", "valid_to"):
            assert f'id="{field}-error"' in html  # the message sits beside its field
    assert db.session.scalar(sa.select(sa.func.count(ServiceOffer.id))) == count
    assert offer_row(existing.id) == before
    assert not db.session.scalar(sa.select(AuditLog.id).where(AuditLog.action.in_(
        ("offer_published", "offer_updated"))))


def test_an_ended_offer_cannot_be_resumed_until_its_dates_are_edited(client):
    provider, _worker, admin = agency_with_admin()
    offer = offer_of(provider)
    offer.status, offer.valid_to = OfferStatus.paused, date.today() - timedelta(days=1)
    db.session.commit()
    login(client, admin.username, PASSWORD)
    token = csrf_token(client, "/agency/offers")
    page = client.post(f"/agency/offers/{offer.id}/resume", data={"csrf_token": token}, follow_redirects=True)
    assert offer_row(offer.id)[5] == OfferStatus.paused
    assert "请先修改日期再恢复" in page.get_data(as_text=True) or "Edit its dates before resuming" in page.get_data(
        as_text=True)


def test_admin_adds_edits_and_deactivates_a_social_worker(app, client):
    provider, _worker, admin = agency_with_admin()
    db.session.commit()
    login(client, admin.username, PASSWORD)
    token = csrf_token(client, "/agency/workers/new")
    form = {"csrf_token": token, "name": "李社工", "phone": "13912345678", "certificate_level": "assistant",
            "username": "li.sw", "password": "pw-12345678"}
    for bad, field in [({"password": "short"}, "password"), ({"phone": "12345"}, "phone"),
                       ({"username": admin.username}, "username"), ({"certificate_level": "guru"},
                                                                   "certificate_level")]:
        response = client.post("/agency/workers/new", data={**form, **bad})
        assert response.status_code == 400 and f'id="{field}-error"' in response.get_data(as_text=True), field
    assert not db.session.scalar(sa.select(ProviderMember.id).where(ProviderMember.name == "李社工"))
    assert client.post("/agency/workers/new", data=form).status_code == 303
    member = db.session.scalar(sa.select(ProviderMember).where(ProviderMember.name == "李社工"))
    account = db.session.scalar(sa.select(User).where(User.username == "li.sw"))
    assert (member.provider_id, member.certificate_level, member.phone_masked) == (provider.id, "assistant",
                                                                                   "139****5678")
    assert (account.role, account.member_id, account.provider_id) == (Role.social_worker, member.id, provider.id)
    listing = client.get("/agency/workers").get_data(as_text=True)
    assert "139****5678" in listing and "13912345678" not in listing

    # the new worker can log in; the admin raises their certificate level (an empty phone keeps the number)
    worker_client = app.test_client()
    assert "/agency" in login(worker_client, "li.sw", "pw-12345678").request.path
    client.post(f"/agency/workers/{member.id}/edit", data={"csrf_token": token, "name": "李社工",
                                                            "certificate_level": "senior", "phone": ""})
    db.session.expire_all()
    assert (member.certificate_level, member.phone_masked) == ("senior", "139****5678")

    # deactivation ends the worker's session at once and is audited
    client.post(f"/agency/workers/{member.id}/status", data={"csrf_token": token, "active": "0", "confirmed": "1"})
    db.session.expire_all()
    assert not member.active and not db.session.get(User, account.id).active
    assert worker_client.get("/agency/calendar").status_code == 302  # back to the login page
    assert db.session.scalar(sa.select(AuditLog.action).where(
        AuditLog.object_type == "provider_member", AuditLog.object_id == member.id).order_by(AuditLog.id.desc())
        .limit(1)) == "member_deactivated"
    again = client.post(f"/agency/workers/{member.id}/status", data={"csrf_token": token, "active": "0", "confirmed": "1"},
                        follow_redirects=True).get_data(as_text=True)
    assert "此人已停用" in again or "already deactivated" in again


def test_profile_edit_refuses_bad_input_and_saves_good_input(client):
    provider, _worker, admin = agency_with_admin()
    db.session.commit()
    login(client, admin.username, PASSWORD)
    token = csrf_token(client, "/agency/profile/edit")
    longquan = factories.town("longquan")
    good = {"csrf_token": token, "name": "同心社会工作服务中心", "contact_name": "赵主任", "town_id": str(longquan.id),
            "lat": f"{longquan.lat:.4f}", "lon": f"{longquan.lon:.4f}", "radius_km": "8"}
    for bad, field in [({"radius_km": "80"}, "radius_km"), ({"lat": "45.0"}, "lat"), ({"lat": "north"}, "lat"),
                       ({"contact_name": ""}, "contact_name"), ({"town_id": "999999"}, "town_id")]:
        response = client.post("/agency/profile/edit", data={**good, **bad})
        assert response.status_code == 400 and f'id="{field}-error"' in response.get_data(as_text=True), field
        db.session.expire_all()
        assert (provider.name, provider.radius_km) == ("同心社工", 5.0)
    matching._warm["index"] = "stale"
    assert client.post("/agency/profile/edit", data=good).status_code == 303
    db.session.expire_all()
    assert (provider.name, provider.agency.contact_name, provider.radius_km) == ("同心社会工作服务中心", "赵主任", 8.0)
    assert "index" not in matching._warm
    assert "同心社会工作服务中心" in client.get("/agency/profile").get_data(as_text=True)
