"""Helpers of the API tests: a bearer token for a demo user, and the headers that carry it."""
from __future__ import annotations

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import User
from socialforce.platform.services import api_tokens


def user(username: str) -> User:
    return db.session.scalar(sa.select(User).where(User.username == username))


def token_for(username: str, scopes: list[str] | None = None, days: int = 30) -> str:
    """A committed token of the demo user with the given scopes (default: every scope its role may hold)."""
    u = user(username)
    _token, secret = api_tokens.create(u, f"test {username}", scopes or api_tokens.allowed_scopes(u), days)
    db.session.commit()
    return secret


def bearer(secret: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", **extra}


PROBLEM = "application/problem+json"


def problem(response, status: int) -> dict:
    """The RFC 9457 problem body of an answer that must have this status."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == PROBLEM
    return response.get_json(force=True)
