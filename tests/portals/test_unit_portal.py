"""Pairing-unit portal: profile, cadres, offers and paired households; recording a monthly visit through the
standing order's visit flow changes this month's quota compliance (the same figure the staff quota page shows)."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform import localtime
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AuditLog,
    MemberRole,
    Order,
    OrderState,
    Pairing,
    PairingUnit,
    ProviderKind,
    ProviderMember,
    Role,
    ServiceOffer,
    Visit,
    VisitStatus,
    utcnow,
)
from socialforce.platform.services import provider_profiles as profiles
from socialforce.platform.services import quotas
from tests import factories
from tests.conftest import csrf_token, login

PASSWORD = "demo1234"
NOW = datetime(2024, 3, 4, 0, 0)  # Monday 08:00 in Shanghai
FULL_ID = re.compile(r"(?<![\dA-Za-z*])\d{17}[\dXx](?![\dA-Za-z])")


def unit_with_admin(quota: int = 1, town: str = "longquan") -> tuple:
    """A pairing unit with its administrator, one cadre (with a login) and an offer."""
    provider = factories.provider(ProviderKind.unit, town_code=town)
    db.session.add(PairingUnit(provider_id=provider.id, unit_type="department", monthly_visit_quota=quota))
    cadre = ProviderMember(provider_id=provider.id, role=MemberRole.cadre, name=f"干部{provider.id}")
    db.session.add(cadre)
    db.session.flush()
    admin = factories.user(f"unit{provider.id}", Role.unit_admin, provider_id=provider.id)
    factories.user(f"cadre{provider.id}", Role.cadre, provider_id=provider.id, member_id=cadre.id)
    factories.offer(provider, ("emotional_comfort",), (town,))
    return provider, cadre, admin


def pair(provider, cadre, town: str = "longquan") -> Pairing:
    pairing = Pairing(provider_id=provider.id, household_id=factories.household(town, members=2).id,
                      cadre_id=cadre.id if cadre else None, since=date(2024, 1, 1))
    db.session.add(pairing)
    db.session.flush()
    return pairing


def completed_visits(pairing: Pairing) -> int:
    db.session.expire_all()
    return quotas.visits_this_month(pairing.provider_id, pairing.household_id, utcnow(), (VisitStatus.completed,))


def test_every_unit_page_renders_for_the_administrator(client):
    provider, cadre, admin = unit_with_admin()
    pairing = pair(provider, cadre)
    offer = db.session.scalar(sa.select(ServiceOffer).where(ServiceOffer.provider_id == provider.id))
    db.session.commit()
    head = pairing.household.head_name
    login(client, admin.username, PASSWORD)
    pages = {
        "/unit/profile": [provider.name],
        "/unit/profile/edit": ['name="radius_km"'],
        "/unit/cadres": [cadre.name],
        "/unit/cadres/new": ['name="username"'],
        f"/unit/cadres/{cadre.id}/edit": [cadre.name],
        "/unit/households": [head[0] + "*", pairing.household.village.name, cadre.name, "0 / 1"],
        f"/unit/households/{pairing.id}": [pairing.household.address, 'name="cadre_id"'],
        "/unit/offers": [offer.title],
        "/unit/offers/new": ['name="category_ids"'],
        f"/unit/offers/{offer.id}/edit": [offer.title],
    }
    for path, expected in pages.items():
        response = client.get(path)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, path
        for text in expected:
            assert text in html, (path, text)
        assert head not in html and not FULL_ID.search(html), path  # masked head name, no resident IDs
    nav = client.get("/unit/").get_data(as_text=True)
    for path in ("/unit/households", "/unit/offers", "/unit/cadres", "/unit/profile"):
        assert f'href="{path}"' in nav


def test_a_cadre_sees_only_their_households_and_no_admin_pages(client):
    provider, cadre, _admin = unit_with_admin()
    mine = pair(provider, cadre)
    other_cadre = ProviderMember(provider_id=provider.id, role=MemberRole.cadre, name="另一干部")
    db.session.add(other_cadre)
    db.session.flush()
    theirs = pair(provider, other_cadre)
    db.session.commit()
    login(client, f"cadre{provider.id}", PASSWORD)
    listing = client.get("/unit/households").get_data(as_text=True)
    assert f"/unit/households/{mine.id}" in listing and f"/unit/households/{theirs.id}" not in listing
    assert client.get(f"/unit/households/{mine.id}").status_code == 200
    assert client.get(f"/unit/households/{theirs.id}").status_code == 404
    token = csrf_token(client, "/unit/households")
    assert client.post(f"/unit/households/{theirs.id}/visit", data={"csrf_token": token}).status_code == 404
    assert completed_visits(theirs) == 0
    for path in ("/unit/cadres", "/unit/cadres/new", "/unit/offers/new", "/unit/profile/edit"):
        assert client.get(path).status_code == 403, path
    assert client.get("/unit/offers").status_code == 200 and client.get("/unit/profile").status_code == 200


def test_another_units_households_cadres_and_offers_are_404(client):
    mine, _my_cadre, admin = unit_with_admin()
    theirs, their_cadre, _their_admin = unit_with_admin(town="jinghe")
    their_pairing = pair(theirs, their_cadre, "jinghe")
    their_offer = db.session.scalar(sa.select(ServiceOffer).where(ServiceOffer.provider_id == theirs.id))
    db.session.commit()
    login(client, admin.username, PASSWORD)
    token = csrf_token(client, "/unit/households")
    for path in (f"/unit/households/{their_pairing.id}", f"/unit/cadres/{their_cadre.id}/edit",
                 f"/unit/offers/{their_offer.id}/edit"):
        assert client.get(path).status_code == 404, path
    for path in (f"/unit/households/{their_pairing.id}/visit", f"/unit/cadres/{their_cadre.id}/status",
                 f"/unit/offers/{their_offer.id}/pause"):
        assert client.post(path, data={"csrf_token": token, "active": "0",
                                       "cadre_id": str(their_cadre.id)}).status_code == 404, path
    db.session.expire_all()
    assert their_cadre.active and completed_visits(their_pairing) == 0
    assert db.session.get(ServiceOffer, their_offer.id).status == "active"


def test_unit_records_a_monthly_visit_and_quota_compliance_changes(client):
    provider, cadre, admin = unit_with_admin(quota=1)
    visited = pair(provider, cadre)
    waiting = pair(provider, cadre)
    city = factories.user("city-check", Role.city_staff)
    db.session.commit()
    staff_row = next(r for r in quotas.quota_compliance(city, utcnow()) if r.provider.id == provider.id)
    assert (staff_row.households, staff_row.households_met) == (2, 0)
    login(client, admin.username, PASSWORD)
    before = client.get("/unit/households").get_data(as_text=True)
    assert "0%" in before and before.count("0 / 1") == 2

    token = csrf_token(client, "/unit/households")
    response = client.post(f"/unit/households/{visited.id}/visit", data={
        "csrf_token": token, "next": "list", "page": "1"})
    assert response.status_code == 303 and "/unit/households" in response.headers["Location"]

    # the visit went through the standing pairing order: planned, checked in and out by the pairing's cadre
    assert completed_visits(visited) == 1 and completed_visits(waiting) == 0
    visit = db.session.scalar(sa.select(Visit))
    order = db.session.get(Order, visit.order_id)
    assert order.reasons == {"standing_pairing": visited.id} and order.provider_id == provider.id
    assert order.state == OrderState.in_service and order.item.household_id == visited.household_id
    assert (visit.assignee_id, visit.status) == (cadre.id, VisitStatus.completed)
    assert visit.checkin_at is not None and visit.checkout_at is not None
    assert {"visit_planned", "visit_checked_in", "visit_checked_out", "pairing_visit_recorded"} <= set(
        db.session.scalars(sa.select(AuditLog.action)))

    after = client.get("/unit/households").get_data(as_text=True)
    assert "50%" in after and "1 / 1" in after and "0 / 1" in after
    staff_row = next(r for r in quotas.quota_compliance(city, utcnow()) if r.provider.id == provider.id)
    assert (staff_row.households_met, staff_row.visits_done, staff_row.percent) == (1, 1, 50)

    # an immediate second click is a double submit: refused, nothing added
    again = client.post(f"/unit/households/{visited.id}/visit", data={"csrf_token": token},
                        follow_redirects=True).get_data(as_text=True)
    assert "记录过一次走访" in again or "was recorded at" in again
    assert db.session.scalar(sa.select(sa.func.count(Visit.id))) == 1


@pytest.mark.parametrize("now", [NOW - timedelta(hours=2), NOW])  # 06:00 and 08:00 local on a Monday
def test_recording_completes_the_months_planned_quota_visit_instead_of_adding_one(now):
    provider, cadre, admin = unit_with_admin(quota=1)
    pairing = pair(provider, cadre)
    assert quotas.generate_quota_visits(now)["created"] == 1
    planned = db.session.scalar(sa.select(Visit))
    check_in_open = planned.starts_at - timedelta(hours=1) <= now
    assert check_in_open == (now == NOW)  # 09:00 is open at 08:00; at 06:00 the 08:00 visit is moved to now
    starts_at = planned.starts_at
    visit = profiles.record_monthly_visit(pairing, None, admin, now, notes="老人身体尚好")
    assert visit.id == planned.id and db.session.scalar(sa.select(sa.func.count(Visit.id))) == 1
    assert (visit.status, visit.notes, visit.assignee_id) == (VisitStatus.completed, "老人身体尚好", cadre.id)
    if check_in_open:
        assert visit.starts_at == starts_at
    else:
        assert now < visit.starts_at <= now + timedelta(hours=1)
        assert "monthly visit recorded" == db.session.scalar(
            sa.select(AuditLog.detail["reason"].as_string()).where(AuditLog.action == "visit_rescheduled"))
    assert quotas.visits_this_month(provider.id, pairing.household_id, now, (VisitStatus.completed,)) == 1


def test_a_cadre_records_their_own_visit_with_notes_through_the_page(client):
    provider, cadre, _admin = unit_with_admin(quota=2)
    pairing = pair(provider, cadre)
    other = ProviderMember(provider_id=provider.id, role=MemberRole.cadre, name="另一干部")
    db.session.add(other)
    db.session.commit()
    login(client, f"cadre{provider.id}", PASSWORD)
    page = client.get(f"/unit/households/{pairing.id}").get_data(as_text=True)
    assert 'name="cadre_id"' not in page  # a cadre records their own visits only
    token = csrf_token(client, f"/unit/households/{pairing.id}")
    client.post(f"/unit/households/{pairing.id}/visit", data={"csrf_token": token, "notes": "送去米面油",
                                                               "cadre_id": str(other.id)})
    visit = db.session.scalar(sa.select(Visit))
    assert (visit.assignee_id, visit.notes, visit.status) == (cadre.id, "送去米面油", VisitStatus.completed)
    page = client.get(f"/unit/households/{pairing.id}").get_data(as_text=True)
    assert f"/unit/visits/{visit.id}" in page and "1 / 2" in page


def test_recording_needs_an_active_cadre_of_the_unit(client):
    provider, cadre, admin = unit_with_admin()
    no_cadre = pair(provider, None)
    stranger = unit_with_admin(town="jinghe")[1]
    db.session.commit()
    login(client, admin.username, PASSWORD)
    token = csrf_token(client, "/unit/households")
    listing = client.get("/unit/households").get_data(as_text=True)
    assert f'href="/unit/households/{no_cadre.id}"' in listing  # no cadre: the button opens the household page
    for chosen in ("", str(stranger.id)):
        page = client.post(f"/unit/households/{no_cadre.id}/visit", data={"csrf_token": token, "cadre_id": chosen},
                           follow_redirects=True).get_data(as_text=True)
        assert "作为走访人" in page or "active cadres as the visitor" in page
    cadre.active = False
    db.session.commit()
    client.post(f"/unit/households/{no_cadre.id}/visit", data={"csrf_token": token, "cadre_id": str(cadre.id)})
    assert completed_visits(no_cadre) == 0 and db.session.scalar(sa.select(sa.func.count(Order.id))) == 0
    cadre.active = True
    db.session.commit()
    client.post(f"/unit/households/{no_cadre.id}/visit", data={"csrf_token": token, "cadre_id": str(cadre.id)})
    assert completed_visits(no_cadre) == 1


def test_admin_adds_and_deactivates_a_cadre(client):
    provider, _cadre, admin = unit_with_admin()
    db.session.commit()
    login(client, admin.username, PASSWORD)
    token = csrf_token(client, "/unit/cadres/new")
    bad = client.post("/unit/cadres/new", data={"csrf_token": token, "name": "", "username": "x",
                                                 "password": "pw-12345678"})
    assert bad.status_code == 400 and 'id="name-error"' in bad.get_data(as_text=True)
    assert client.post("/unit/cadres/new", data={"csrf_token": token, "name": "孙干部", "username": "sun.cadre",
                                                  "password": "pw-12345678"}).status_code == 303
    member = db.session.scalar(sa.select(ProviderMember).where(ProviderMember.name == "孙干部"))
    assert (member.role, member.provider_id, member.certificate_level) == (MemberRole.cadre, provider.id, None)
    client.post(f"/unit/cadres/{member.id}/status", data={"csrf_token": token, "active": "0", "confirmed": "1"})
    db.session.expire_all()
    assert not member.active
    client.post(f"/unit/cadres/{member.id}/status", data={"csrf_token": token, "active": "1"})
    db.session.expire_all()
    assert member.active


def test_the_unit_page_counts_agree_with_the_staff_quota_computation():
    provider, cadre, admin = unit_with_admin(quota=2)
    pairings = [pair(provider, cadre) for _ in range(4)]
    start, _end = localtime.month_bounds(NOW)
    for k, pairing in enumerate(pairings):  # 0, 1, 2, 3 completed visits; one planned and one cancelled each
        order = quotas.standing_order(pairing, NOW)
        for n, status in enumerate([VisitStatus.completed] * k + [VisitStatus.planned, VisitStatus.cancelled]):
            at = start + timedelta(days=k, hours=n)
            db.session.add(Visit(order_id=order.id, assignee_id=cadre.id, starts_at=at,
                                 ends_at=at + timedelta(minutes=30), status=status))
    last_month = start - timedelta(days=3)
    db.session.add(Visit(order_id=order.id, assignee_id=cadre.id, starts_at=last_month,
                         ends_at=last_month + timedelta(minutes=30), status=VisitStatus.completed))
    db.session.flush()
    rows = profiles.paired_households(pairings, 2, NOW)
    for row, pairing in zip(rows, pairings, strict=True):
        assert row.done == quotas.visits_this_month(provider.id, pairing.household_id, NOW, (VisitStatus.completed,))
        assert row.done + row.planned == quotas.visits_this_month(provider.id, pairing.household_id, NOW)
    assert [(r.done, r.planned, r.met) for r in rows] == [(0, 1, False), (1, 1, False), (2, 1, True), (3, 1, True)]
    summary = profiles.quota_summary(admin, NOW)
    staff = next(r for r in quotas.quota_compliance(factories.user("c", Role.city_staff), NOW)
                 if r.provider.id == provider.id)
    assert (summary.households, summary.met, summary.percent) == (staff.households, staff.households_met,
                                                                   staff.percent) == (4, 2, 50)
