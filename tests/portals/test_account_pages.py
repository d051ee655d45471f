"""City staff manage accounts through pages: list with filters and pages, create with a set-password link or code
shown once, deactivate (sessions end) and reactivate, reset; town staff may not; admins reset their own workers."""
import re

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AuditLog,
    MemberRole,
    OneTimeCode,
    ProviderKind,
    ProviderMember,
    Role,
    User,
)
from tests import factories
from tests.conftest import csrf_token, login

SECRET_RE = re.compile(r'id="reset-secret">([^<]+)<')


def staff():
    factories.user("city", Role.city_staff)
    factories.user("town", Role.town_staff, town_id=factories.town().id)
    db.session.commit()


def account(username: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(User).where(User.username == username))


def post(client, path: str, data: dict):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/staff/accounts")})


def test_town_staff_may_not_manage_accounts(app, client):
    staff()
    target = account("city")
    login(client, "town")
    assert client.get("/staff/accounts").status_code == 403
    form = client.get("/staff/accounts/new")  # town staff create village assistants only (tests/portals/
    assert form.status_code == 200 and 'value="town_staff"' not in form.get_data(as_text=True)  # test_village_portal)
    token = csrf_token(client, "/staff/")
    for path in (f"/staff/accounts/{target.id}/status", f"/staff/accounts/{target.id}/reset"):
        assert client.post(path, data={"csrf_token": token, "active": "0", "kind": "code"}).status_code == 403
    refused = client.post("/staff/accounts/new", data={"csrf_token": token, "role": "town_staff", "username": "t9",
                                                      "display_name": "镇街", "reset": "code"})
    assert refused.status_code == 400 and account("t9") is None
    assert account("city").active
    assert 'href="/staff/accounts"' not in client.get("/staff/").get_data(as_text=True)


def test_create_town_staff_with_a_code_then_the_person_sets_their_password(app, client):
    staff()
    login(client, "city")
    answer = post(client, "/staff/accounts/new", {"role": "town_staff", "username": "jinghe1", "display_name": "荆河",
                                                  "town_id": factories.town("jinghe").id, "reset": "code"})
    assert answer.status_code == 200
    code = SECRET_RE.search(answer.get_data(as_text=True)).group(1)
    user = account("jinghe1")
    assert user.role == Role.town_staff and user.town_id == factories.town("jinghe").id
    assert db.session.scalar(sa.select(AuditLog.action).where(AuditLog.object_id == user.id,
                                                             AuditLog.action == "account_created"))
    person = app.test_client()
    done = person.post("/reset-code", data={"identifier": "jinghe1", "code": code,
                                            "csrf_token": csrf_token(person, "/reset-code")})
    assert done.status_code == 303
    person.post("/account/password", data={"new": "jinghe-pass-1", "confirm": "jinghe-pass-1",
                                           "csrf_token": csrf_token(person, "/account/password")})
    assert "/staff/" in login(app.test_client(), "jinghe1", "jinghe-pass-1").request.path


def test_create_an_agency_admin_with_a_link_and_refusals_next_to_the_field(app, client):
    staff()
    agency = factories.provider(ProviderKind.agency, "阳光社工")
    unit = factories.provider(ProviderKind.unit, "结对单位")
    db.session.commit()
    login(client, "city")
    wrong = post(client, "/staff/accounts/new", {"role": "agency_admin", "username": "x", "display_name": "A",
                                                 "agency_id": unit.id, "reset": "link"})
    assert wrong.status_code == 400
    html = wrong.get_data(as_text=True)
    assert "username-error" in html and "display_name-error" in html and "provider_id-error" in html
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 2  # nothing created
    taken = post(client, "/staff/accounts/new", {"role": "town_staff", "username": "town", "display_name": "某某",
                                                 "town_id": factories.town().id})
    assert taken.status_code == 400 and "username-error" in taken.get_data(as_text=True)
    created = post(client, "/staff/accounts/new", {"role": "agency_admin", "username": "sun-admin",
                                                   "display_name": "阳光管理员", "agency_id": agency.id,
                                                   "unit_id": unit.id, "reset": "link"})
    link = SECRET_RE.search(created.get_data(as_text=True)).group(1)
    assert "/reset/" in link
    user = account("sun-admin")
    assert user.provider_id == agency.id and user.role == Role.agency_admin
    token = link.rsplit("/", 1)[1]
    assert db.session.scalar(sa.select(OneTimeCode.secret_hash)) != token


def test_list_filters_and_pages(app, client):
    staff()
    for n in range(30):
        factories.user(f"t{n:02d}", Role.town_staff, town_id=factories.town("jinghe").id, active=n % 3 != 0)
    db.session.commit()
    login(client, "city")
    jinghe = factories.town("jinghe").id
    html = client.get(f"/staff/accounts?role=town_staff&town={jinghe}&active=0").get_data(as_text=True)
    assert "t00" in html and "t03" in html and "t01" not in html and ">town<" not in html
    first = client.get("/staff/accounts?role=town_staff").get_data(as_text=True)
    second = client.get("/staff/accounts?role=town_staff&page=2").get_data(as_text=True)
    assert "t00" in first and "t29" not in first and "t29" in second
    assert client.get("/staff/accounts?page=99999999999999&town=abc&active=x").status_code == 200


def test_deactivating_ends_sessions_and_reactivating_lets_them_back(app, client):
    staff()
    town = app.test_client()
    login(town, "town")
    assert town.get("/staff/").status_code == 200
    login(client, "city")
    target = account("town")
    assert post(client, f"/staff/accounts/{target.id}/status", {"active": "0"}).status_code == 303
    assert town.get("/staff/").status_code == 302  # the open session ended
    assert "/login" in login(app.test_client(), "town").request.path
    assert post(client, f"/staff/accounts/{target.id}/status", {"active": "0"}).status_code == 303  # already: flash
    post(client, f"/staff/accounts/{target.id}/status", {"active": "1"})
    assert "/staff/" in login(app.test_client(), "town").request.path
    actions = db.session.scalars(sa.select(AuditLog.action).where(AuditLog.object_id == target.id)).all()
    assert "account_deactivated" in actions and "account_reactivated" in actions
    assert account("town") is not None  # never deleted


def test_reset_is_shown_once_and_a_new_one_voids_the_old(app, client):
    staff()
    login(client, "city")
    target = account("town")
    first = SECRET_RE.search(post(client, f"/staff/accounts/{target.id}/reset", {"kind": "code"})
                             .get_data(as_text=True)).group(1)
    second = SECRET_RE.search(post(client, f"/staff/accounts/{target.id}/reset", {"kind": "code"})
                              .get_data(as_text=True)).group(1)
    assert first not in client.get("/staff/accounts").get_data(as_text=True)
    person = app.test_client()
    token = csrf_token(person, "/reset-code")
    assert person.post("/reset-code", data={"identifier": "town", "code": first, "csrf_token": token}
                       ).status_code == 400
    assert person.post("/reset-code", data={"identifier": "town", "code": second, "csrf_token": token}
                       ).status_code == 303
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(
        AuditLog.action == "password_reset_issued")) == 2


def test_an_admin_resets_their_own_worker_only(app, client):
    agency = factories.provider(ProviderKind.agency)
    factories.user("boss", Role.agency_admin, provider_id=agency.id)
    member = ProviderMember(provider_id=agency.id, role=MemberRole.social_worker, name="社工甲",
                            certificate_level="social_worker")
    other = factories.provider(ProviderKind.agency)
    stranger = ProviderMember(provider_id=other.id, role=MemberRole.social_worker, name="社工乙",
                              certificate_level="social_worker")
    db.session.add_all([member, stranger])
    db.session.flush()
    factories.user("w1", Role.social_worker, provider_id=agency.id, member_id=member.id)
    factories.user("w2", Role.social_worker, provider_id=other.id, member_id=stranger.id)
    db.session.commit()
    login(client, "boss")
    token = csrf_token(client, "/agency/workers")
    answer = client.post(f"/agency/workers/{member.id}/reset", data={"kind": "code", "csrf_token": token})
    assert answer.status_code == 200 and SECRET_RE.search(answer.get_data(as_text=True))
    assert client.post(f"/agency/workers/{stranger.id}/reset", data={"kind": "code", "csrf_token": token}
                       ).status_code == 404
    worker = app.test_client()
    login(worker, "w1")
    assert worker.post(f"/agency/workers/{member.id}/reset", data={"kind": "code",
                                                                   "csrf_token": csrf_token(worker, "/agency/")}
                       ).status_code == 403
