"""/account/tokens: a user creates a token (its secret shown once, only a keyed hash stored) and revokes it;
bad input gets a message beside the field and creates nothing; a token never carries another area's scope."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import ApiToken, AuditLog
from socialforce.platform.services import ServiceError, api_tokens
from tests.conftest import CSRF_RE
from tests.portals.api_support import bearer, user
from tests.security.filling import client_for

SECRET_RE = re.compile(r'value="(sf_[^"]+)"')


def _csrf(client) -> str:
    return CSRF_RE.search(client.get("/account/tokens").get_data(as_text=True)).group(1)


def test_create_shows_the_secret_once_and_it_works_until_revoked(demo, app):
    browser = client_for(app, "agency1")
    page = browser.post("/account/tokens", data={"csrf_token": _csrf(browser), "name": "dispatch app",
                                                 "scopes": ["provider:read"], "days": "30"})
    assert page.status_code == 200
    secret = SECRET_RE.search(page.get_data(as_text=True)).group(1)
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == user("agency1").id))
    assert token.scope_list == ["provider:read"] and secret not in token.token_hash
    assert secret not in browser.get("/account/tokens").get_data(as_text=True)  # shown once
    api = app.test_client()
    assert api.get("/api/v1/provider/orders", headers=bearer(secret)).status_code == 200
    revoked = browser.post(f"/account/tokens/{token.id}/revoke", data={"csrf_token": _csrf(browser)})
    assert revoked.status_code == 303
    assert api.get("/api/v1/provider/orders", headers=bearer(secret)).status_code == 401
    actions = set(db.session.scalars(sa.select(AuditLog.action).where(AuditLog.object_type == "api_token")))
    assert {"api_token.create", "api_token.revoke"} <= actions


@pytest.mark.parametrize("changes, field", [
    ({"name": ""}, "name"), ({"name": "x" * 61}, "name"), ({"scopes": []}, "scopes"),
    ({"scopes": ["staff:write"]}, "scopes"), ({"days": "0"}, "days"), ({"days": "400"}, "days"),
    ({"days": "many"}, "days"),
])
def test_bad_input_is_refused_beside_the_field_and_creates_nothing(demo, app, changes, field):
    browser = client_for(app, "volunteer1")
    data = {"csrf_token": _csrf(browser), "name": "phone", "scopes": ["volunteer:read"], "days": "30", **changes}
    page = browser.post("/account/tokens", data=data)
    assert page.status_code == 400
    assert "is-invalid" in page.get_data(as_text=True) or "text-danger" in page.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(ApiToken.id))) == 0


def test_another_users_token_cannot_be_revoked(demo, app):
    _token, _secret = api_tokens.create(user("agency1"), "mine", ["provider:read"], 10)
    db.session.commit()
    with pytest.raises(ServiceError):
        api_tokens.revoke(user("agency2"), _token.id)
    db.session.rollback()
    browser = client_for(app, "agency2")
    browser.post(f"/account/tokens/{_token.id}/revoke", data={"csrf_token": _csrf(browser)})
    db.session.expire_all()
    assert db.session.get(ApiToken, _token.id).revoked_at is None


def test_the_page_needs_a_login(client):
    assert client.get("/account/tokens").status_code == 302
