"""Who is calling the API: a personal access token, or a partner client's token from the client-credentials
grant, in `Authorization: Bearer <token>` and nothing else (no cookies, hence no CSRF); each view names the scope it
needs. A partner's token reaches only the partner endpoints (PARTNER_ENDPOINTS); a user's token never reaches them."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from flask import Response, abort, g, request

from socialforce.platform.extensions import db
from socialforce.platform.models import ApiClient, ApiToken, Role, User, utcnow
from socialforce.platform.services import api_tokens, audit, partners
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.api import ratelimit

PUBLIC_ENDPOINTS = frozenset({"api.oauth_token"})  # authenticates with the client's id and secret instead
PARTNER_ENDPOINTS = frozenset({"api.changes"})

ROLES_OF_AREA = {
    "volunteer": frozenset({Role.volunteer}),
    "provider": frozenset({Role.agency_admin, Role.social_worker, Role.unit_admin, Role.cadre}),
    "staff": frozenset({Role.city_staff, Role.town_staff}),
}


def authenticate() -> None:
    """Before every API request: find the live token, count the request (429 when over the limit), or answer 401
    (the OpenAPI document is public); a partner's token outside the partner endpoints gets 403."""
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    secret = secret.strip() if scheme.lower() == "bearer" else ""
    token = client_token = None
    if request.endpoint not in PUBLIC_ENDPOINTS and secret.startswith(partners.TOKEN_PREFIX):
        client_token = partners.authenticate(secret)
    elif request.endpoint not in PUBLIC_ENDPOINTS and secret:
        token = api_tokens.authenticate(secret)
    g.api_token, g.api_client_token = token, client_token
    ratelimit.check()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    if token is None and client_token is None:
        abort(401)
    if client_token is not None:
        if request.endpoint not in PARTNER_ENDPOINTS:
            abort(403)
        g.api_user = None
        return
    if request.endpoint in PARTNER_ENDPOINTS:
        abort(403)
    if token.last_used_at is None or token.last_used_at < utcnow() - timedelta(minutes=1):
        run_in_transaction(lambda: api_tokens.touch(token))
    g.api_user = token.user


def current_token() -> ApiToken:
    """The request's token (set by `authenticate`)."""
    return g.api_token


def require_partner(scope: str | None = None) -> ApiClient:
    """The calling partner client, if its token's client holds `scope` (when given); else 403."""
    client_token = g.get("api_client_token")
    if client_token is None or (scope is not None and scope not in client_token.client.scope_list):
        abort(403)
    return client_token.client


def current_api_user() -> User:
    """The user the request's token belongs to."""
    return g.api_user


def require(scope: str, roles: Iterable[Role] | None = None) -> User:
    """The caller, if its token holds `scope` and its role belongs to the scope's area; else 403."""
    area = scope.split(":")[0]
    user = current_api_user()
    if scope not in current_token().scope_list or user.role not in (roles or ROLES_OF_AREA[area]):
        abort(403)
    return user


def audit_write(response: Response) -> Response:
    """After every API write by a valid token: one audit row (the token, the operation, the answer's status)."""
    token = g.get("api_token")
    if request.method == "POST" and token is not None:
        db.session.rollback()  # whatever the view left unfinished is not part of the record
        audit.record("api.write", token.user, "api_token", token.id, ip=request.remote_addr,
                     endpoint=request.endpoint, status=response.status_code)
        db.session.commit()
    return response
