"""Role guards: each demo role reaches its own portal and gets 403 on the others; bad requests fail cleanly."""
import pytest

from socialforce.platform.seed import DEMO_LOGINS
from tests.conftest import csrf_token, login

PORTALS = {"staff": "/staff/", "agency": "/agency/", "unit": "/unit/", "volunteer": "/volunteer/",
           "village": "/village/"}
PORTAL_OF_ROLE = {
    "city_staff": "staff", "prefecture_staff": "staff", "town_staff": "staff", "agency_admin": "agency",
    "social_worker": "agency", "unit_admin": "unit", "cadre": "unit", "volunteer": "volunteer",
    "village_assistant": "village",
}
CASES = [(username, role, portal) for username, role, _ in DEMO_LOGINS for portal in PORTALS]


@pytest.mark.parametrize("username, role, portal", CASES)
def test_role_by_portal_matrix(demo, client, username, role, portal):
    response = login(client, username)
    assert response.status_code == 200
    got = client.get(PORTALS[portal])
    if PORTAL_OF_ROLE[role] == portal:
        assert got.status_code == 200
    else:
        assert got.status_code == 403
        assert "没有权限" in got.get_data(as_text=True)


def test_login_lands_on_the_users_own_portal(demo, client):
    response = login(client, "agency1")
    assert response.request.path == "/agency/"


@pytest.mark.parametrize("path", list(PORTALS.values()))
def test_anonymous_users_are_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_unknown_url_gives_a_404_page_in_chinese(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "不存在" in response.get_data(as_text=True)


def test_a_form_without_csrf_token_is_refused_with_400(demo, client):
    response = client.post("/login", data={"username": "city", "password": "demo1234"})
    assert response.status_code == 400
    assert client.get("/staff/").status_code == 302  # not logged in


def test_wrong_password_and_unknown_user_get_the_same_answer(demo, client):
    wrong = login(client, "city", "not-the-password").get_data(as_text=True)
    unknown = login(client, "nobody-here", "not-the-password").get_data(as_text=True)
    assert "用户名或密码错误" in wrong and "用户名或密码错误" in unknown
    assert client.get("/staff/").status_code == 302


def test_login_renews_the_session(demo, client):
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by-an-attacker"
    login(client, "city")
    with client.session_transaction() as session:
        assert "planted" not in session


def test_logout_ends_the_session(demo, client):
    login(client, "town1")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    assert client.get("/staff/").status_code == 302


def test_english_switch(demo, client):
    login(client, "city")
    client.post("/lang/en", data={"csrf_token": csrf_token(client, "/staff/")})
    assert "Households" in client.get("/staff/").get_data(as_text=True)
