"""CSRF: every state-changing route of app.url_map refuses a request without a token (400), even from a role that
may use it, and nothing changes. The bearer-token API (/api/v1) is CSRF-exempt: a logged-in browser's cookie gets
401 there (the partners' token endpoint refuses a body without client credentials), so a forged cross-site request
cannot act."""
from __future__ import annotations

import re

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import AuditLog
from tests.conftest import IsolatedClient, login
from tests.security.support import BEARER, USERS, allowed_roles, owned_ids, routes, user

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
STRING_PARAMS = {"action": "notes", "code": "en", "token": "0" * 32}


def _user_for(endpoint: str) -> str | None:
    """A demo user whose role may use the endpoint (None for public routes)."""
    allowed = allowed_roles(endpoint)
    if not isinstance(allowed, frozenset):
        return None
    roles = [user(name).role for name in USERS]
    return next(name for name, role in zip(USERS, roles, strict=True) if role in allowed)


def _url(rule: str, params: tuple[str, ...], username: str | None, portal: str) -> str:
    url = rule
    for name in params:
        if name in STRING_PARAMS:
            value = STRING_PARAMS[name]
        else:
            ids = owned_ids(name, user(username), portal) if username else []
            value = ids[0] if ids else 1
        url = re.sub(r"<(?:[a-z]+:)?" + name + ">", str(value), url)
    return url


def test_every_state_changing_route_needs_a_csrf_token(demo, app):
    app.test_client_class = IsolatedClient
    checked, failures = 0, []
    audit_before = db.session.scalar(sa.select(sa.func.count(AuditLog.id)))
    for route in routes(app):
        if route.method not in STATE_CHANGING:
            continue
        if route.endpoint.startswith("api."):  # the API has no CSRF: a cookie never authenticates it
            # bearer routes answer 401; the token endpoint wants the partner's client credentials in its body
            expected = {401} if allowed_roles(route.endpoint) == BEARER else {401, 422}
            client = app.test_client()
            assert login(client, "city").status_code == 200
            url = _url(route.rule, route.params, None, "api")
            response = client.open(url, method=route.method, data={"reason": "x"})
            checked += 1
            if response.status_code not in expected:
                failures.append(f"cookie client {route.method} {url}: {response.status_code}, expected {expected}")
            continue
        username = _user_for(route.endpoint)
        client = app.test_client()
        if username:
            assert login(client, username).status_code == 200
        url = _url(route.rule, route.params, username, route.endpoint.split(".")[0])
        response = client.open(url, method=route.method, data={"purpose": "csrf check", "reason": "x"})
        checked += 1
        if response.status_code != 400:
            failures.append(f"{username or 'anonymous'} {route.method} {url}: {response.status_code}")
    assert not failures, "state-changing routes accepted a request without a CSRF token:\n" + "\n".join(failures)
    assert checked >= 20
    logins = db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(AuditLog.action == "login"))
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id))) - audit_before == logins  # nothing else
