"""The volunteer's profile page: skills, home town, masked phone, certifications (the background check is shown,
not edited) and the weekly free-time grid; saving audits, flashes and keeps the volunteer's offer in step."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform import crypto, weekmask
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AuditLog,
    Qualification,
    Role,
    ServiceOffer,
    Volunteer,
    utcnow,
)
from socialforce.platform.services import accounts, dispatch
from tests import factories
from tests.conftest import csrf_token, login

PASSWORD = "pw-12345678"
PHONE = "13912345678"


@pytest.fixture
def vol(client):
    """A logged-in volunteer in 龙泉街道 (daily care, weekday mornings) with one offer."""
    v = factories.volunteer("longquan", skills="daily_care", availability=weekmask.from_cells([(0, 0), (1, 0)]))
    v.phone_enc, v.phone_masked = crypto.encrypt(PHONE), crypto.mask_phone(PHONE)
    factories.offer(v.provider, ("daily_care",), ("longquan", "jinghe"), windows=v.availability)
    accounts.create_user("vol-profile", PASSWORD, Role.volunteer, v.real_name, provider_id=v.provider_id)
    db.session.commit()
    login(client, "vol-profile", PASSWORD)
    return v


def fresh(volunteer_id: int) -> Volunteer:
    db.session.expire_all()
    return db.session.get(Volunteer, volunteer_id)


def offer_of(v: Volunteer) -> ServiceOffer:
    return db.session.scalar(sa.select(ServiceOffer).where(ServiceOffer.provider_id == v.provider_id))


def audit_actions() -> list[str]:
    return list(db.session.scalars(sa.select(AuditLog.action).order_by(AuditLog.id)))


def details(client, **changes) -> dict:
    data = {"csrf_token": csrf_token(client, "/volunteer/profile"), "skills": ["daily_care"],
            "town_id": str(factories.town("longquan").id), "phone": ""}
    data.update(changes)
    return data


def test_the_profile_shows_the_masked_phone_only_and_the_grid_of_my_free_time(client, vol):
    response = client.get("/volunteer/profile")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "139****5678" in html and PHONE not in html
    assert vol.id_masked in html
    checked = set(re.findall(r'name="availability" value="(\d+)" autocomplete="off" checked', html))
    assert checked == {"0", "3"}  # bit = day * 3 + period: Monday and Tuesday mornings
    assert len(re.findall(r'name="availability" value="\d+"', html)) == 21
    assert 'value="daily_care" checked' in html
    assert 'href="/volunteer/profile"' in client.get("/volunteer/").get_data(as_text=True)  # in the nav


def test_saving_skills_town_and_phone_updates_the_offer_audits_and_flashes(client, vol):
    jinghe, shannan = factories.town("jinghe"), factories.town("shannan")
    response = client.post("/volunteer/profile", data=details(
        client, skills=["daily_care", "tutoring"], town_id=str(shannan.id), phone="13700001111"))
    assert response.status_code == 303
    v = fresh(vol.id)
    assert v.skills == "daily_care tutoring"
    assert (v.provider.town_id, v.provider.lat, v.provider.lon) == (shannan.id, shannan.lat, shannan.lon)
    assert crypto.decrypt(v.phone_enc) == "13700001111" and v.phone_masked == "137****1111"
    offer = offer_of(v)
    assert {c.code for c in offer.categories} == {"daily_care", "tutoring"}
    assert {t.id for t in offer.towns} == {shannan.id, jinghe.id}  # the home town replaced, the other kept
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "volunteer_profile_updated"))
    assert entry.object_id == v.id and sorted(entry.detail["fields"]) == ["phone", "skills", "town"]
    assert "13700001111" not in str(entry.detail)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "alert-success" in page and "137****1111" in page and "13700001111" not in page


def test_an_empty_phone_keeps_the_number_and_an_unchanged_form_writes_nothing(client, vol):
    before = audit_actions()
    response = client.post("/volunteer/profile", data=details(client), follow_redirects=True)
    assert response.status_code == 200 and "alert-info" in response.get_data(as_text=True)
    assert crypto.decrypt(fresh(vol.id).phone_enc) == PHONE
    assert audit_actions() == before


@pytest.mark.parametrize("changes, field", [
    ({"skills": []}, "skills"),
    ({"skills": ["daily_care", "no_such_skill"]}, "skills"),
    ({"skills": ["counselling"]}, "skills"),  # not a volunteer-task category the volunteer listed
    ({"town_id": "9999"}, "town_id"),
    ({"phone": "12345"}, "phone"),
    ({"phone": "23800001111"}, "phone"),
])
def test_bad_details_are_shown_beside_the_field_and_change_nothing(client, vol, changes, field):
    before = (vol.skills, vol.provider.town_id, vol.phone_enc, audit_actions())
    response = client.post("/volunteer/profile", data=details(client, **changes))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'class="invalid-feedback d-block"' in html
    assert re.search(rf'name="{field}"[^>]*is-invalid|is-invalid[^>]*name="{field}"', html)
    v = fresh(vol.id)
    assert (v.skills, v.provider.town_id, v.phone_enc, audit_actions()) == before
    assert {c.code for c in offer_of(v).categories} == {"daily_care"}


def test_the_free_time_grid_saves_the_checked_cells_into_the_mask_and_the_offer(client, vol):
    cells = [(2, 0), (5, 1), (6, 2)]
    bits = [str(d * 3 + p) for d, p in cells]
    token = csrf_token(client, "/volunteer/profile")
    response = client.post("/volunteer/profile/availability", data={"csrf_token": token, "availability": bits})
    assert response.status_code == 303
    v = fresh(vol.id)
    assert v.availability == weekmask.from_cells(cells) == offer_of(v).windows
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "volunteer_availability_updated"))
    assert entry.detail == {"windows_before": 2, "windows_after": 3}
    html = client.get("/volunteer/profile").get_data(as_text=True)
    assert set(re.findall(r'name="availability" value="(\d+)" autocomplete="off" checked', html)) == set(bits)


def test_clearing_every_cell_is_allowed_with_a_warning_and_a_bad_cell_changes_nothing(client, vol):
    token = csrf_token(client, "/volunteer/profile")
    bad = client.post("/volunteer/profile/availability", data={"csrf_token": token, "availability": ["3", "99"]})
    assert bad.status_code == 400 and "text-danger" in bad.get_data(as_text=True)
    assert fresh(vol.id).availability == weekmask.from_cells([(0, 0), (1, 0)])
    cleared = client.post("/volunteer/profile/availability", data={"csrf_token": token}, follow_redirects=True)
    assert "alert-warning" in cleared.get_data(as_text=True)
    assert fresh(vol.id).availability == 0 == offer_of(fresh(vol.id)).windows


def test_saving_without_the_csrf_token_is_refused(client, vol):
    response = client.post("/volunteer/profile/availability", data={"availability": ["3"]})
    assert response.status_code == 400
    assert fresh(vol.id).availability == weekmask.from_cells([(0, 0), (1, 0)])


def test_certifications_are_added_and_removed_but_never_the_background_check(client, vol):
    factories.qualify(vol.provider, "background_check")
    db.session.commit()
    token = csrf_token(client, "/volunteer/profile")
    expires = (utcnow().date() + timedelta(days=400)).isoformat()
    added = client.post("/volunteer/profile/certifications", data={
        "csrf_token": token, "code": "teacher", "document_no": "T2020-0001", "expires_on": expires})
    assert added.status_code == 303
    row = db.session.scalar(sa.select(Qualification).where(Qualification.code == "teacher"))
    assert (row.provider_id, row.document_no, row.expires_on.isoformat()) == (vol.provider_id, "T2020-0001", expires)
    assert row.verified_at is None  # declared: it counts once staff have seen the document
    section = client.get("/volunteer/profile").get_data(as_text=True).split('id="certifications"')[1]
    assert "教师资格" in section and "待核验" in section and "已核验" not in section
    row_id = row.id
    # the background check cannot be added or removed by the volunteer
    refused = client.post("/volunteer/profile/certifications", data={
        "csrf_token": token, "code": "background_check", "document_no": "BC-0001"})
    assert refused.status_code == 400
    check = db.session.scalar(sa.select(Qualification).where(Qualification.code == "background_check"))
    client.post("/volunteer/profile/certifications/remove", data={"csrf_token": token, "qualification_id": check.id})
    assert db.session.get(Qualification, check.id) is not None
    # nor anybody else's certification
    other = factories.volunteer("jinghe")
    factories.qualify(other.provider, "medical")
    db.session.commit()
    theirs = db.session.scalar(sa.select(Qualification.id).where(Qualification.code == "medical"))
    client.post("/volunteer/profile/certifications/remove", data={"csrf_token": token, "qualification_id": theirs})
    db.session.expire_all()
    assert db.session.get(Qualification, theirs) is not None
    removed = client.post("/volunteer/profile/certifications/remove",
                          data={"csrf_token": token, "qualification_id": row_id})
    assert removed.status_code == 303
    db.session.expire_all()
    assert db.session.get(Qualification, row_id) is None
    assert [a for a in audit_actions() if a.startswith("volunteer_certification")] == [
        "volunteer_certification_added", "volunteer_certification_removed"]


@pytest.mark.parametrize("changes, field", [
    ({"code": "teacher", "document_no": ""}, "document_no"),
    ({"code": "teacher", "document_no": "T1"}, "document_no"),
    ({"code": "nonsense", "document_no": "T2020-0001"}, "code"),
    ({"code": "teacher", "document_no": "T2020-0001", "expires_on": "2001-01-01"}, "expires_on"),
    ({"code": "teacher", "document_no": "T2020-0001", "expires_on": "not-a-date"}, "expires_on"),
])
def test_bad_certifications_are_refused_beside_the_field(client, vol, changes, field):
    response = client.post("/volunteer/profile/certifications",
                           data={"csrf_token": csrf_token(client, "/volunteer/profile"), **changes})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(rf'name="{field}"[^>]*is-invalid|is-invalid[^>]*name="{field}"', html)
    assert db.session.scalar(sa.select(sa.func.count(Qualification.id))) == 0


def test_a_duplicate_certification_is_refused(client, vol):
    factories.qualify(vol.provider, "teacher")
    db.session.commit()
    response = client.post("/volunteer/profile/certifications", data={
        "csrf_token": csrf_token(client, "/volunteer/profile"), "code": "teacher", "document_no": "T2020-0002"})
    assert response.status_code == 409
    assert db.session.scalar(sa.select(sa.func.count(Qualification.id))) == 1


@pytest.mark.parametrize("expires_in, badge", [(None, "text-bg-secondary"), (30, "text-bg-success"),
                                               (-1, "text-bg-warning")])
def test_the_background_check_status_is_shown(client, vol, expires_in, badge):
    if expires_in is not None:
        db.session.add(Qualification(provider_id=vol.provider_id, code="background_check", document_no="BC1",
                                     expires_on=utcnow().date() + timedelta(days=expires_in)))
        db.session.commit()
    html = client.get("/volunteer/profile").get_data(as_text=True)
    section = html[html.index('id="background-check"'):html.index('id="certifications"')]
    assert badge in section and "<form" not in section


def test_a_new_volunteer_gets_an_offer_from_the_profile_and_then_sees_matching_tasks(client):
    registered = factories.volunteer("longquan", skills="", availability=0)
    accounts.create_user("vol-new", PASSWORD, Role.volunteer, registered.real_name,
                         provider_id=registered.provider_id)
    tutoring = factories.item(factories.household("longquan"), "tutoring",
                              description="孩子需要学业辅导")
    dispatch.dispatch(tutoring, dispatch.Choice(provider_id=None), None)
    db.session.commit()
    login(client, "vol-new", PASSWORD)
    assert "学业辅导" not in client.get("/volunteer/tasks").get_data(as_text=True)
    client.post("/volunteer/profile", data=details(client, skills=["tutoring"]))
    token = csrf_token(client, "/volunteer/profile")
    client.post("/volunteer/profile/availability", data={"csrf_token": token, "availability": ["0", "1", "2"]})
    v = fresh(registered.id)
    offer = offer_of(v)
    assert offer is not None and [c.code for c in offer.categories] == ["tutoring"]
    assert offer.windows == 0b111 and [t.code for t in offer.towns] == ["longquan"]
    assert "学业辅导" in client.get("/volunteer/tasks").get_data(as_text=True)


def test_other_roles_cannot_open_the_profile(client):
    factories.user("town-staff", Role.town_staff, town_id=factories.town().id)
    db.session.commit()
    login(client, "town-staff", "demo1234")
    assert client.get("/volunteer/profile").status_code == 403
