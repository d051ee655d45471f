"""Who is calling the API: a personal access token in `Authorization: Bearer <token>` and nothing else (no
cookies, hence no CSRF); each view names the scope it needs."""
from __future__ import annotations

from collections.abc import Iterable

from flask import abort, g, request

from socialforce.platform.models import ApiToken, Role, User
from socialforce.platform.services import api_tokens

ROLES_OF_AREA = {
    "volunteer": frozenset({Role.volunteer}),
    "provider": frozenset({Role.agency_admin, Role.social_worker, Role.unit_admin, Role.cadre}),
    "staff": frozenset({Role.city_staff, Role.town_staff}),
}


def authenticate() -> None:
    """Before every API request: find the live token or answer 401 (the OpenAPI document is public)."""
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    token = api_tokens.authenticate(secret.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        abort(401)
    g.api_token = token
    g.api_user = token.user


def current_token() -> ApiToken:
    """The request's token (set by `authenticate`)."""
    return g.api_token


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
