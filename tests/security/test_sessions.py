"""Login and sessions: lockout per account and per address (shared through the database), the same answer for
unknown users, session renewal, logout and password change ending sessions, idle/absolute timeouts, cookie
flags and security headers."""
from __future__ import annotations

import statistics
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from socialforce import create_app
from socialforce.platform import security
from socialforce.platform.extensions import db
from socialforce.platform.models import AuditLog, ProviderKind, Role, User, utcnow
from socialforce.platform.services import accounts, audit
from tests import factories
from tests.conftest import IsolatedClient, csrf_token, login

WRONG = "wrong-password"


@pytest.fixture
def people(app, production_hashing):
    """city (a real scrypt hash, for the timing test), town1 and agency1; much faster than the demo seed."""
    accounts.create_user("city", "demo1234", Role.city_staff, "City")
    factories.user("town1", Role.town_staff, town_id=factories.town("longquan").id)
    agency = factories.provider(ProviderKind.agency, "机构一")
    factories.user("agency1", Role.agency_admin, provider_id=agency.id)
    db.session.commit()


def _client(app):
    app.test_client_class = IsolatedClient
    return app.test_client()


def _attempt(client, username, password, environ=None):
    token = csrf_token(client)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                       environ_base=environ or {})


def test_account_locks_after_the_configured_failures_and_unknown_users_look_the_same(people, app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES", 3)
    client = _client(app)
    answers = {}
    for username in ("city", "no-such-user"):
        first = _attempt(client, username, WRONG)
        answers[username] = [(first.status_code, "用户名或密码错误" in first.get_data(as_text=True))]
        for _ in range(2):
            _attempt(client, username, WRONG)
        locked = _attempt(client, username, WRONG)
        answers[username].append((locked.status_code, "登录失败次数过多" in locked.get_data(as_text=True)
                                  or "Too many failed logins" in locked.get_data(as_text=True)))
    assert answers["city"] == answers["no-such-user"] == [(200, True), (429, True)]
    # the right password is refused too while locked; another account is not affected
    assert _attempt(client, "city", "demo1234").status_code == 429
    assert login(_client(app), "town1").request.path == "/staff/"


def test_the_lock_is_shared_through_the_database_and_expires(people, app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES", 3)
    long_ago = utcnow() - timedelta(minutes=app.config["LOGIN_LOCK_MINUTES"] + 1)
    for _ in range(3):  # checks another worker reserved, but in a window that has ended
        assert accounts.reserve_login("city", "127.0.0.1", long_ago) is None
    db.session.commit()
    assert accounts.reserve_login("city", "127.0.0.1", utcnow()) is None  # a new window
    for _ in range(2):  # recent checks reserved by "another worker"
        assert accounts.reserve_login("city", "127.0.0.1", utcnow()) is None
    db.session.commit()
    assert _attempt(_client(app), "city", "demo1234").status_code == 429
    assert accounts.reserve_login("city", "127.0.0.1", utcnow() + timedelta(minutes=16)) is None


def test_a_successful_login_starts_the_account_count_afresh(people, app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES", 3)
    client = _client(app)
    for _ in range(2):
        _attempt(client, "city", WRONG)
    assert login(client, "city").request.path == "/staff/"
    other = _client(app)
    for _ in range(2):
        assert _attempt(other, "city", WRONG).status_code == 200


def test_an_address_is_throttled_across_accounts(people, app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_IP", 4)
    client = _client(app)
    attacker = {"REMOTE_ADDR": "192.0.2.7"}
    for name in ("u1", "u2", "u3", "u4"):
        assert _attempt(client, name, WRONG, attacker).status_code == 200
    assert _attempt(client, "city", "demo1234", attacker).status_code == 429
    assert _attempt(client, "city", "demo1234", {"REMOTE_ADDR": "192.0.2.8"}).status_code == 302


def test_failed_logins_store_no_username_text(people, app):
    _attempt(_client(app), "someone-typed-this", WRONG)
    rows = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "login_failed")).all()
    assert len(rows) == 1 and "someone-typed-this" not in str(rows[0].detail)


def test_unknown_user_and_wrong_password_take_about_the_same_time(people, app):
    def timed(username):
        started = time.perf_counter()
        accounts.authenticate(username, WRONG)
        return time.perf_counter() - started

    known = statistics.median(timed("city") for _ in range(5))
    unknown = statistics.median(timed("nobody") for _ in range(5))
    assert 0.5 < known / unknown < 2.0


def test_login_renews_the_session_and_stamps_it(people, app):
    client = _client(app)
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "attacker"
    login(client, "city")
    with client.session_transaction() as session:
        assert "planted" not in session
        assert isinstance(session[security.LOGIN_AT], int) and isinstance(session[security.SEEN_AT], int)


def _cookie(client) -> str:
    return client.get_cookie("session").value


def test_logout_kills_a_copied_cookie(people, app):
    client = _client(app)
    login(client, "agency1")
    stolen = _cookie(client)
    token = csrf_token(client, "/agency/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    replay = _client(app)
    replay.set_cookie("session", stolen)
    assert replay.get("/agency/").status_code == 302  # back to the login page


def test_password_change_ends_every_session(people, app):
    first, second = _client(app), _client(app)
    login(first, "town1")
    login(second, "town1")
    token = csrf_token(first, "/account/password")
    bad = first.post("/account/password", data={"csrf_token": token, "current": WRONG, "new": "new-pass-123",
                                                 "confirm": "new-pass-123"})
    assert bad.status_code == 400 and first.get("/staff/").status_code == 200
    done = first.post("/account/password", data={"csrf_token": token, "current": "demo1234",
                                                  "new": "new-pass-123", "confirm": "new-pass-123"})
    assert done.status_code == 302 and done.headers["Location"].startswith("/login")
    assert first.get("/staff/").status_code == 302
    assert second.get("/staff/").status_code == 302  # the other device is logged out too
    assert login(_client(app), "town1", "new-pass-123").request.path == "/staff/"
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(AuditLog.action == "password_changed")) == 1


def test_password_change_refuses_a_short_password(people, app):
    client = _client(app)
    login(client, "city")
    token = csrf_token(client, "/account/password")
    response = client.post("/account/password", data={"csrf_token": token, "current": "demo1234", "new": "short",
                                                      "confirm": "short"})
    assert response.status_code == 400
    assert login(_client(app), "city").request.path == "/staff/"


@pytest.mark.parametrize("key, age_seconds", [(security.SEEN_AT, 31 * 60), (security.LOGIN_AT, 8 * 3600 + 60)])
def test_idle_and_absolute_timeouts_end_the_session(people, app, key, age_seconds):
    client = _client(app)
    login(client, "city")
    assert client.get("/staff/").status_code == 200
    with client.session_transaction() as session:
        session[key] = int(time.time()) - age_seconds
        if key == security.LOGIN_AT:
            session[security.SEEN_AT] = int(time.time())
    response = client.get("/staff/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert client.get("/staff/").status_code == 302
    assert login(_client(app), "city").request.path == "/staff/"  # a timeout ends this session only


def test_activity_keeps_the_session_alive(people, app):
    client = _client(app)
    login(client, "city")
    with client.session_transaction() as session:
        session[security.SEEN_AT] = int(time.time()) - 29 * 60
    assert client.get("/staff/").status_code == 200
    with client.session_transaction() as session:
        assert int(time.time()) - session[security.SEEN_AT] < 5


def test_security_headers_on_pages_json_and_errors(people, app):
    client = _client(app)
    for path in ("/login", "/hsds/services", "/no-such-page"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self' 'nonce-" in csp
        assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "camera=()" in headers["Permissions-Policy"]
        assert "Strict-Transport-Security" not in headers  # only in production (HTTPS)
    login(client, "city")
    assert client.get("/staff/").headers["Cache-Control"] == "no-store"


def test_production_cookies_and_hsts(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    monkeypatch.setenv("SOCIALFORCE_DATA_KEY", "A" * 43 + "=")
    prod = create_app("production", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'p.db'}")
    assert prod.config["SESSION_COOKIE_SECURE"] and prod.config["SESSION_COOKIE_HTTPONLY"]
    assert prod.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    with prod.test_request_context("/"):
        response = prod.make_response("x")
        response = prod.process_response(response)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    with prod.app_context():
        db.engine.dispose()


def test_the_audit_log_is_append_only_for_the_application(app):
    entry = audit.record("test_action", None)
    db.session.commit()
    entry.action = "changed"
    with pytest.raises(security.AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(AuditLog, entry.id))
    with pytest.raises(security.AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    for statement in (sa.update(AuditLog).values(action="x"), sa.delete(AuditLog)):
        with pytest.raises(security.AuditLogIsAppendOnly):
            db.session.execute(statement)
        db.session.rollback()
    assert db.session.get(AuditLog, entry.id).action == "test_action"


def test_users_can_still_be_updated(app):
    user = User(username="u", password_hash=generate_password_hash("x"), display_name="U", role="city_staff")
    db.session.add(user)
    db.session.commit()
    accounts.end_sessions(user)
    db.session.commit()
    assert user.session_version == 2
