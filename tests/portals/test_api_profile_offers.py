"""The operations of /api/v1 the profile, plan and offer pages had alone: a volunteer replaces their skills, adds and
removes certifications and plans a visit for a task they signed up for; an organisation's administrator publishes
and edits an offer. Each calls the page's service: bad input is refused (422 with the field's path for the body's
shape, the page's message with its path for what the service refuses) and changes nothing, another's ids are 404,
another role is 403, and a retried Idempotency-Key acts once."""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AuditLog,
    Qualification,
    Role,
    ServiceOffer,
    Visit,
    Volunteer,
    VolunteerTask,
)
from socialforce.platform.services import dispatch, volunteer_tasks
from tests import factories
from tests.portals.api_support import bearer, problem, token_for


def _paths(body: dict) -> list[str]:
    return [e["path"] for e in body.get("errors", [])]


def _audits(action: str) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(AuditLog.action == action))


def _volunteer(username: str) -> Volunteer:
    v = factories.volunteer("longquan", skills="daily_care")
    factories.offer(v.provider, ("daily_care",), ("longquan",))
    factories.user(username, Role.volunteer, provider_id=v.provider_id)
    db.session.commit()
    return v


# ------------------------------------------------------------------ volunteer
def test_a_volunteer_replaces_their_skills_with_codes_from_the_list_only(client):
    v = _volunteer("vol")
    headers = bearer(token_for("vol"))
    url = "/api/v1/volunteer/profile/skills"
    for bad, path in (({}, "json/skills"), ({"skills": "tutoring"}, "json/skills"), ({"skills": []}, "json/skills"),
                      ({"skills": ["tutoring"], "town_id": 1}, "json/town_id")):
        assert path in _paths(problem(client.post(url, json=bad, headers=headers), 422))
    refused = problem(client.post(url, json={"skills": ["legal_aid"]}, headers=headers), 422)  # not a task kind
    assert _paths(refused) == ["json/skills"] and refused["detail"]
    db.session.expire_all()
    assert db.session.get(Volunteer, v.id).skills == "daily_care"  # refusals changed nothing
    keyed = {**headers, "Idempotency-Key": "skills-1"}
    saved = client.post(url, json={"skills": ["tutoring", "daily_care", "tutoring"]}, headers=keyed)
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert saved.get_json()["skills"] == ["daily_care", "tutoring"]
    again = client.post(url, json={"skills": ["tutoring", "daily_care"]}, headers=keyed)
    assert again.get_json() == saved.get_json() and _audits("volunteer_profile_updated") == 1
    db.session.expire_all()
    assert db.session.get(Volunteer, v.id).skills == "daily_care tutoring"
    assert client.get("/api/v1/volunteer/profile", headers=headers).get_json()["skills"] == ["daily_care", "tutoring"]


def test_a_volunteer_adds_and_removes_own_certifications_only(client):
    me, other = _volunteer("vol"), _volunteer("vol-other")
    headers = bearer(token_for("vol"))
    url = "/api/v1/volunteer/profile/certifications"
    assert "json/document_no" in _paths(problem(client.post(url, json={"code": "teacher"}, headers=headers), 422))
    for bad, path in (({"code": "background_check", "document_no": "ABC-123"}, "json/code"),  # staff record it
                      ({"code": "teacher", "document_no": "ABC-123", "expires_on": "2001-01-01"}, "json/expires_on")):
        assert _paths(problem(client.post(url, json=bad, headers=headers), 422)) == [path]
    held = sa.select(sa.func.count()).select_from(Qualification).where(Qualification.provider_id == me.provider_id)
    assert db.session.scalar(held) == 0  # refusals changed nothing
    keyed = {**headers, "Idempotency-Key": "cert-1"}
    added = client.post(url, json={"code": "teacher", "document_no": "T-2026-001"}, headers=keyed)
    assert added.status_code == 200, added.get_data(as_text=True)
    [cert] = added.get_json()["certifications"]
    assert cert["code"] == "teacher" and cert["verified"] is False
    assert client.post(url, json={"code": "teacher", "document_no": "T-2026-001"}, headers=keyed).get_json() == \
        added.get_json()
    assert db.session.scalar(held) == 1 and _audits("volunteer_certification_added") == 1
    problem(client.post(url, json={"code": "teacher", "document_no": "T-2026-002"}, headers=headers), 409)
    theirs = client.post(url, json={"code": "medical", "document_no": "M-0001"},
                         headers=bearer(token_for("vol-other"))).get_json()["certifications"][0]["id"]
    problem(client.post(f"{url}/remove", json={"qualification_id": theirs}, headers=headers), 404)
    assert db.session.get(Qualification, theirs).provider_id == other.provider_id
    removed = client.post(f"{url}/remove", json={"qualification_id": cert["id"]}, headers=headers)
    assert removed.status_code == 200 and removed.get_json()["certifications"] == []
    assert db.session.scalar(held) == 0


def test_a_volunteer_plans_a_visit_only_for_a_task_they_signed_up_for(client):
    me = _volunteer("vol")
    headers = bearer(token_for("vol"))
    order = volunteer_tasks.publish(factories.item(factories.household(), "daily_care"), None, None)
    unsigned = volunteer_tasks.publish(factories.item(factories.household(), "daily_care"), None, None)
    agency, _worker = factories.agency("晨光社工")
    agency_order = dispatch.dispatch(factories.item(factories.household(), "counselling"),
                                     dispatch.Choice(provider_id=agency.id), None)
    db.session.commit()
    task_id = db.session.scalar(sa.select(VolunteerTask.id).where(VolunteerTask.order_id == order.id))
    assert client.post(f"/api/v1/volunteer/tasks/{task_id}/signup", headers=headers).status_code == 200
    url = f"/api/v1/volunteer/orders/{order.id}/visits"
    visits = sa.select(sa.func.count()).select_from(Visit).where(Visit.volunteer_id == me.id)
    for bad, path in (({"starts_at": "2030-01-07T09:00:00"}, "json/starts_at"), ({}, "json/starts_at"),
                      ({"starts_at": "2030-01-07T09:00:00+08:00", "duration": 0}, "json/duration")):
        assert path in _paths(problem(client.post(url, json=bad, headers=headers), 422))
    assert "json/starts_at" in _paths(problem(client.post(url, json={"starts_at": "2001-01-08T09:00:00+08:00"},
                                                           headers=headers), 422))  # the past: the service's refusal
    for other in (unsigned.id, agency_order.id, 99999999):
        problem(client.post(f"/api/v1/volunteer/orders/{other}/visits",
                             json={"starts_at": "2030-01-07T09:00:00+08:00"}, headers=headers), 404)
    assert db.session.scalar(visits) == 0  # refusals changed nothing
    keyed = {**headers, "Idempotency-Key": "plan-1"}
    planned = client.post(url, json={"starts_at": "2030-01-07T09:00:00+08:00", "duration": 90}, headers=keyed)
    assert planned.status_code == 201, planned.get_data(as_text=True)
    assert planned.get_json()["starts_at"] == "2030-01-07T09:00:00+08:00"
    again = client.post(url, json={"starts_at": "2030-01-07T09:00:00+08:00", "duration": 90}, headers=keyed)
    assert again.status_code == 201 and again.get_json() == planned.get_json()
    assert db.session.scalar(visits) == 1
    listed = client.get(f"/api/v1/volunteer/visits?order_id={order.id}", headers=headers).get_json()
    assert [row["id"] for row in listed["items"]] == [planned.get_json()["id"]]


# ------------------------------------------------------------------ offers
def _offer_body(**change) -> dict:
    start = date.today()
    return {"title": "上门生活照料", "description": "每周上门", "category_ids": [factories.category("daily_care").id],
            "town_ids": [factories.town("longquan").id], "slots_per_week": 8, "windows": 7,
            "valid_from": start.isoformat(), "valid_to": (start + timedelta(days=60)).isoformat(), **change}


def test_an_administrator_publishes_an_offer_checked_as_the_page_checks_it(client):
    agency, worker = factories.agency("启明社工")
    factories.user("boss", Role.agency_admin, provider_id=agency.id)
    factories.user("helper", Role.social_worker, provider_id=agency.id, member_id=worker.id)
    db.session.commit()
    admin = bearer(token_for("boss"))
    count = sa.select(sa.func.count()).select_from(ServiceOffer).where(ServiceOffer.provider_id == agency.id)
    before = db.session.scalar(count)
    url = "/api/v1/provider/offers"
    problem(client.post(url, json=_offer_body(), headers=bearer(token_for("helper"))), 403)
    for bad, path in (({"title": None}, "json/title"), ({"windows": "mornings"}, "json/windows"),
                      ({"category_ids": "1"}, "json/category_ids"), ({"valid_to": "soon"}, "json/valid_to"),
                      ({"extra": 1}, "json/extra")):
        assert path in _paths(problem(client.post(url, json=_offer_body(**bad), headers=admin), 422))
    refused = problem(client.post(url, json=_offer_body(
        title="x", category_ids=[factories.category("legal_aid").id], slots_per_week=0, windows=0), headers=admin),
        400)  # the offer page's messages, each with its field
    assert set(_paths(refused)) == {"json/title", "json/category_ids", "json/slots_per_week", "json/windows"}
    assert all(e["message"] for e in refused["errors"])
    assert db.session.scalar(count) == before  # refusals changed nothing
    keyed = {**admin, "Idempotency-Key": "offer-1"}
    made = client.post(url, json=_offer_body(), headers=keyed)
    assert made.status_code == 201, made.get_data(as_text=True)
    offer = made.get_json()
    assert offer["status"] == "active" and offer["slots_per_week"] == 8
    assert offer["category_ids"] == [factories.category("daily_care").id]
    again = client.post(url, json=_offer_body(), headers=keyed)
    assert again.status_code == 201 and again.get_json() == offer
    assert db.session.scalar(count) == before + 1 and _audits("offer_published") == 1
    assert offer["id"] in [o["id"] for o in client.get(url, headers=admin).get_json()["items"]]


def test_an_administrator_edits_only_their_own_offer_and_its_status_stays(client):
    agency, _worker = factories.agency("启明社工")
    other, _w = factories.agency("远方社工")
    factories.user("boss", Role.agency_admin, provider_id=agency.id)
    db.session.commit()
    admin = bearer(token_for("boss"))
    offer_id = db.session.scalar(sa.select(ServiceOffer.id).where(ServiceOffer.provider_id == agency.id))
    foreign_id = db.session.scalar(sa.select(ServiceOffer.id).where(ServiceOffer.provider_id == other.id))
    title = db.session.get(ServiceOffer, offer_id).title
    problem(client.post(f"/api/v1/provider/offers/{foreign_id}", json=_offer_body(), headers=admin), 404)
    url = f"/api/v1/provider/offers/{offer_id}"
    assert client.post(f"{url}/pause", headers=admin).status_code == 200
    past = (date.today() - timedelta(days=1)).isoformat()
    refused = problem(client.post(url, json=_offer_body(title="改后", valid_to=past), headers=admin), 400)
    assert _paths(refused) == ["json/valid_to"]
    assert "json/slots_per_week" in _paths(problem(client.post(url, json=_offer_body(slots_per_week=None),
                                                                headers=admin), 422))
    db.session.expire_all()
    assert db.session.get(ServiceOffer, offer_id).title == title  # refusals changed nothing
    keyed = {**admin, "Idempotency-Key": "edit-1"}
    saved = client.post(url, json=_offer_body(title="改后的服务", slots_per_week=3), headers=keyed)
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert saved.get_json()["title"] == "改后的服务" and saved.get_json()["status"] == "paused"
    assert client.post(url, json=_offer_body(title="改后的服务", slots_per_week=3), headers=keyed).get_json() == \
        saved.get_json()
    assert _audits("offer_updated") == 1
    db.session.expire_all()
    assert db.session.get(ServiceOffer, foreign_id).title != "改后的服务"
