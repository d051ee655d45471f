"""Partner systems: clients registered by city staff (credentials shown once, stored hashed, audited), the
client-credentials grant, partner tokens reaching only the partner endpoints, rate limits per token (429 problem with
Retry-After), and the changes feed (towns, masking, cursor paging in (updated_at, kind, id) order, settle window)."""
from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform import crypto
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    ApiClient,
    ApiClientToken,
    AuditLog,
    Household,
    Order,
    ServiceItem,
    utcnow,
)
from socialforce.platform.models.tokens import PARTNER_SCOPES
from socialforce.platform.services import partners
from socialforce.portals.api import ratelimit
from tests.conftest import CSRF_RE
from tests.portals.api_support import bearer, token_for, user
from tests.security.filling import client_for
from tests.security.support import leaks, personal_secrets

PROBLEM = "application/problem+json"


def _csrf(browser) -> str:
    return CSRF_RE.search(browser.get("/staff/partners").get_data(as_text=True)).group(1)


def _busy_town() -> int:
    """The town holding the most households of the demo."""
    return db.session.execute(sa.select(Household.town_id, sa.func.count()).group_by(Household.town_id)
                              .order_by(sa.func.count().desc())).first()[0]


def partner(town_ids: list[int] | None = None, scopes: list[str] | None = None, days: int = 30,
            webhook_url: str = "") -> tuple[ApiClient, str, str | None]:
    """A committed partner client of the busiest town (default: every scope)."""
    client, secret, webhook_secret = partners.create(user("city"), "province", scopes or list(PARTNER_SCOPES),
                                                     town_ids or [_busy_town()], days, webhook_url)
    db.session.commit()
    return client, secret, webhook_secret


def access_token(http, client: ApiClient, secret: str) -> str:
    response = http.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                         headers={"Authorization": "Basic " + base64.b64encode(
                             f"{client.client_id}:{secret}".encode()).decode()})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["access_token"]


def pull_all(http, token: str, since: str = "2000-01-01T00:00:00+08:00", limit: int = 7) -> list[dict]:
    """Every change through the cursor, page after page."""
    items: list[dict] = []
    query = {"since": since, "limit": limit}
    for _ in range(1000):
        body = http.get("/api/v1/changes", query_string=query, headers=bearer(token)).get_json()
        items += body["items"]
        if not body["has_more"]:
            return items
        query = {"cursor": body["next_cursor"], "limit": limit}
    raise AssertionError("the cursor never ended")


# ------------------------------------------------------------------ registering partners
def test_city_staff_register_a_partner_whose_secret_is_shown_once_and_stored_hashed(demo, app):
    browser = client_for(app, "city")
    town = _busy_town()
    page = browser.post("/staff/partners", data={
        "csrf_token": _csrf(browser), "name": "省社会救助系统", "scopes": ["orders:read", "visits:read"],
        "towns": [str(town)], "days": "90", "webhook_url": "https://partner.example/hook"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    secret = re.search(r'id="new-client-secret"[^>]*value="([^"]+)"', html).group(1)
    webhook_secret = re.search(r'id="new-webhook-secret"[^>]*value="([^"]+)"', html).group(1)
    client = db.session.scalar(sa.select(ApiClient))
    assert client.scope_list == ["orders:read", "visits:read"] and client.town_ids == [town]
    assert client.secret_hash == crypto.lookup_hash(secret) and secret not in (client.client_id, client.secret_hash)
    assert webhook_secret not in client.webhook_secret_enc
    again = browser.get("/staff/partners").get_data(as_text=True)
    assert client.client_id in again and secret not in again and webhook_secret not in again  # shown once
    assert access_token(app.test_client(), client, secret).startswith(partners.TOKEN_PREFIX)
    revoked = browser.post(f"/staff/partners/{client.id}/revoke", data={"csrf_token": _csrf(browser)})
    assert revoked.status_code == 303
    actions = set(db.session.scalars(sa.select(AuditLog.action).where(AuditLog.object_type == "api_client")))
    assert {"api_client.create", "api_client.token", "api_client.revoke"} <= actions


@pytest.mark.parametrize("changes, field", [
    ({"name": ""}, "name"), ({"scopes": []}, "scopes"), ({"scopes": ["staff:write"]}, "scopes"),
    ({"towns": []}, "towns"), ({"towns": ["999999"]}, "towns"), ({"days": "0"}, "days"),
    ({"days": "many"}, "days"), ({"webhook_url": "ftp://x"}, "webhook_url"),
])
def test_bad_input_is_refused_in_the_users_language_and_registers_nothing(demo, app, changes, field):
    browser = client_for(app, "city")
    data = {"csrf_token": _csrf(browser), "name": "p", "scopes": ["orders:read"],
            "towns": [str(_busy_town())], "days": "30", **changes}
    page = browser.post("/staff/partners", data=data)
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert "invalid-feedback" in html or "text-danger" in html
    assert re.search(r"[\u4e00-\u9fff]{4,}[^<]*</div>", html)  # the message is in Chinese, the default
    assert db.session.scalar(sa.select(sa.func.count(ApiClient.id))) == 0


def test_town_staff_may_not_register_or_revoke_partners(demo, app):
    client, _secret, _ = partner()
    browser = client_for(app, "town1")
    assert browser.get("/staff/partners").status_code == 403
    token = CSRF_RE.search(browser.get("/staff/").get_data(as_text=True) or "")
    data = {"csrf_token": token.group(1)} if token else {}
    assert browser.post(f"/staff/partners/{client.id}/revoke", data=data).status_code in (400, 403)
    db.session.expire_all()
    assert db.session.get(ApiClient, client.id).revoked_at is None


# ------------------------------------------------------------------ the client-credentials grant
def test_the_grant_takes_form_credentials_and_tokens_expire(demo, app, client):
    partner_client, secret, _ = partner()
    response = client.post("/api/v1/oauth/token", data={
        "grant_type": "client_credentials", "client_id": partner_client.client_id, "client_secret": secret})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == app.config["API_CLIENT_TOKEN_SECONDS"]
    stored = db.session.scalar(sa.select(ApiClientToken))
    assert stored.token_hash == crypto.lookup_hash(body["access_token"])
    later = utcnow() + timedelta(seconds=app.config["API_CLIENT_TOKEN_SECONDS"] + 1)
    assert partners.authenticate(body["access_token"]) is not None
    assert partners.authenticate(body["access_token"], now=later) is None


@pytest.mark.parametrize("form, status", [
    ({"grant_type": "client_credentials", "client_id": "sfp_nobody", "client_secret": "x"}, 401),
    ({"grant_type": "client_credentials"}, 401),
    ({"grant_type": "password", "client_id": "sfp_nobody", "client_secret": "x"}, 422),
    ({"grant_type": "client_credentials", "client_id": "a\x00b", "client_secret": "x"}, 400),  # NUL: platform-wide
])
def test_bad_grants_get_a_problem_and_no_token(demo, client, form, status):
    response = client.post("/api/v1/oauth/token", data=form, headers={"Accept-Language": "en"})
    assert response.status_code == status and response.headers["Content-Type"] == PROBLEM
    assert "access_token" not in response.get_json()
    assert db.session.scalar(sa.select(sa.func.count(ApiClientToken.id))) == 0


def test_a_wrong_secret_or_a_revoked_client_gets_no_token_and_old_tokens_stop(demo, app, client):
    partner_client, secret, _ = partner()
    token = access_token(client, partner_client, secret)
    wrong = client.post("/api/v1/oauth/token", data={
        "grant_type": "client_credentials", "client_id": partner_client.client_id, "client_secret": secret + "x"})
    assert wrong.status_code == 401
    assert client.get("/api/v1/changes?since=2020-01-01T00:00:00Z", headers=bearer(token)).status_code == 200
    partners.revoke(user("city"), partner_client.id)
    db.session.commit()
    assert client.get("/api/v1/changes?since=2020-01-01T00:00:00Z", headers=bearer(token)).status_code == 401
    again = client.post("/api/v1/oauth/token", data={
        "grant_type": "client_credentials", "client_id": partner_client.client_id, "client_secret": secret})
    assert again.status_code == 401


def test_partner_tokens_reach_only_the_partner_endpoints_and_user_tokens_never_do(demo, client):
    partner_client, secret, _ = partner()
    token = access_token(client, partner_client, secret)
    for path in ("/api/v1/me", "/api/v1/staff/households", "/api/v1/provider/orders"):
        response = client.get(path, headers=bearer(token))
        assert response.status_code == 403 and response.headers["Content-Type"] == PROBLEM
    staff = token_for("city")
    assert client.get("/api/v1/changes?since=2020-01-01T00:00:00Z", headers=bearer(staff)).status_code == 403


# ------------------------------------------------------------------ rate limits
def test_the_limit_counts_per_token_and_answers_429_with_retry_after(demo, app, client, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "3/minute")
    ratelimit.limiter_of(app).reset()
    first, second = token_for("volunteer1"), token_for("agency1")
    answers = [client.get("/api/v1/me", headers=bearer(first)).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    refused = client.get("/api/v1/me", headers=bearer(first, **{"Accept-Language": "en"}))
    assert refused.headers["Content-Type"] == PROBLEM and 1 <= int(refused.headers["Retry-After"]) <= 61
    assert refused.get_json()["status"] == 429 and "username" not in refused.get_json()
    assert client.get("/api/v1/me", headers=bearer(second)).status_code == 200  # another token's own count


def test_requests_without_a_valid_token_share_the_addresss_anonymous_limit(demo, app, client, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT_ANONYMOUS", "2/minute")
    ratelimit.limiter_of(app).reset()
    guesses = [client.get("/api/v1/me", headers=bearer(f"sf_guess{i}")).status_code for i in range(3)]
    assert guesses == [401, 401, 429]
    assert client.get("/api/v1/me", headers=bearer(token_for("volunteer1"))).status_code == 200


def test_the_limit_is_shared_through_redis_when_configured(demo, app, monkeypatch, redis_url):
    """Two apps (two workers) on one Redis database count one token together."""
    from socialforce import create_app

    url = redis_url
    secret = token_for("volunteer1")
    settings = {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "RATELIMIT_STORAGE_URI": url,
                "API_RATE_LIMIT": "3/minute", "RATELIMIT_KEY_PREFIX": "sf-test-partner"}
    workers = [create_app("testing", **settings) for _ in range(2)]
    ratelimit.limiter_of(workers[0]).reset()
    try:
        answers = [workers[i % 2].test_client().get("/api/v1/me", headers=bearer(secret)).status_code
                   for i in range(4)]
        assert answers == [200, 200, 200, 429]
    finally:
        ratelimit.limiter_of(workers[0]).reset()
        for worker in workers:
            with worker.app_context():
                db.engine.dispose()


# ------------------------------------------------------------------ the changes feed
def test_changes_hold_only_the_partners_towns_masked_each_row_once_in_order(demo, client):
    partner_client, secret, _ = partner()
    token = access_token(client, partner_client, secret)
    items = pull_all(client, token)
    town = partner_client.town_ids[0]
    households = set(db.session.scalars(sa.select(Household.id).where(Household.town_id == town)))
    orders = set(db.session.scalars(sa.select(Order.id).join(ServiceItem).join(Household)
                                    .where(Household.town_id == town)))
    seen = {(i["kind"], i["id"]) for i in items}
    assert len(seen) == len(items)  # no row twice across the pages
    assert {i for k, i in seen if k == "household"} == households
    assert {i for k, i in seen if k == "order"} == orders
    times = [i["updated_at"] for i in items]
    assert times == sorted(times)  # (updated_at, kind, id) order; the times are to the second
    body = client.get("/api/v1/changes", query_string={"since": "2000-01-01T00:00:00Z", "limit": 500},
                      headers=bearer(token)).get_data(as_text=True)
    assert not leaks(body, personal_secrets())
    names = set(db.session.scalars(sa.select(Household.head_name).where(Household.town_id == town)))
    assert not [n for n in names if f'"{n}"' in body]  # heads' names only masked


def test_a_later_change_comes_after_the_cursor_and_scopes_limit_the_kinds(demo, client):
    partner_client, secret, _ = partner(scopes=["orders:read"])
    token = access_token(client, partner_client, secret)
    first = client.get("/api/v1/changes", query_string={"since": "2000-01-01T00:00:00Z", "limit": 500},
                       headers=bearer(token)).get_json()
    assert first["items"] and {i["kind"] for i in first["items"]} == {"order"}
    assert not first["has_more"]
    nothing = client.get("/api/v1/changes", query_string={"cursor": first["next_cursor"]}, headers=bearer(token))
    assert nothing.get_json()["items"] == []
    order_id = first["items"][0]["id"]
    db.session.execute(sa.update(Order).where(Order.id == order_id).values(expected_hours=3.5))  # Core, onupdate
    db.session.commit()
    later = client.get("/api/v1/changes", query_string={"cursor": first["next_cursor"]}, headers=bearer(token))
    assert [(i["kind"], i["id"], i["data"]["expected_hours"]) for i in later.get_json()["items"]] == [
        ("order", order_id, 3.5)]


def test_rows_inside_the_settle_window_wait_for_the_next_call(demo, app, client, monkeypatch):
    partner_client, secret, _ = partner(scopes=["households:read"])
    token = access_token(client, partner_client, secret)
    monkeypatch.setitem(app.config, "CHANGES_SETTLE_SECONDS", 3600)
    household = db.session.scalar(sa.select(Household).where(Household.town_id == partner_client.town_ids[0]))
    household.updated_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    ids = [i["id"] for i in pull_all(client, token)]
    assert household.id not in ids
    monkeypatch.setitem(app.config, "CHANGES_SETTLE_SECONDS", 0)
    assert household.id in [i["id"] for i in pull_all(client, token)]


@pytest.mark.parametrize("query", [
    {}, {"since": "2020-01-01T00:00:00"}, {"since": "yesterday"}, {"cursor": "bm9uc2Vuc2U"},
    {"since": "2020-01-01T00:00:00Z", "cursor": "x"}, {"since": "2020-01-01T00:00:00Z", "limit": 0},
    {"since": "2020-01-01T00:00:00Z", "town": 1},
])
def test_bad_feed_queries_get_422_with_the_path(demo, client, query):
    partner_client, secret, _ = partner()
    response = client.get("/api/v1/changes", query_string=query, headers=bearer(access_token(
        client, partner_client, secret)))
    assert response.status_code == 422 and response.headers["Content-Type"] == PROBLEM
    assert all(e["path"].startswith("query/") for e in response.get_json()["errors"])


def test_the_migration_fills_updated_at_from_each_rows_own_times(tmp_path):
    """One revision down (before updated_at) and up again on a seeded database: every row gets its own time."""
    from flask_migrate import downgrade, upgrade

    from tests.platform.test_migrations import seeded_demo

    with seeded_demo(tmp_path):
        db.session.remove()
        downgrade(revision="h19b0a66e001")  # to the revision before h18a0c1e0001
        upgrade()
        pairs = {table: db.session.execute(sa.text(f"SELECT updated_at, {source} FROM {table}")).all()
                 for table, source in (("households", "created_at"), ("outcomes", "recorded_at"),
                                       ("orders", "COALESCE(completed_at, responded_at, dispatched_at, created_at)"))}
        assert all(rows for rows in pairs.values())
        assert all(updated == source for rows in pairs.values() for updated, source in rows)
        epoch = db.session.scalar(sa.text("SELECT COUNT(*) FROM visits WHERE updated_at < '2000-01-01'"))
        assert epoch == 0
