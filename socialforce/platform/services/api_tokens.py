"""Personal access tokens for /api/v1: create (shown once), list, revoke, and authenticate a bearer token."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload

from socialforce.platform import crypto
from socialforce.platform.extensions import db
from socialforce.platform.models import ApiToken, Role, User, utcnow
from socialforce.platform.models.tokens import SCOPES
from socialforce.platform.services import ServiceError, audit

MAX_DAYS = 366
TOKEN_PREFIX = "sf_"

# Which scopes each role may hold: a token never carries more than its user's portal allows.
ROLE_AREA = {
    Role.volunteer: "volunteer",
    Role.agency_admin: "provider", Role.social_worker: "provider",
    Role.unit_admin: "provider", Role.cadre: "provider",
    Role.city_staff: "staff", Role.town_staff: "staff",
}


def allowed_scopes(user: User) -> list[str]:
    """The scopes a token of this user may carry (those of the user's own area)."""
    area = ROLE_AREA.get(user.role)
    return [s for s in SCOPES if s.split(":")[0] == area]


def create(user: User, name: str, scopes: list[str], days: int, now: datetime | None = None) -> tuple[ApiToken, str]:
    """Create a token for the user; return it and the secret, which is never stored and shown only once."""
    now = now or utcnow()
    name = (name or "").strip()
    if not name or len(name) > 60:
        raise ServiceError(_("Give the token a name of at most 60 characters."), 422, field="name")
    chosen = sorted(set(scopes))
    if not chosen or any(s not in allowed_scopes(user) for s in chosen):
        raise ServiceError(_("Choose at least one of the scopes offered."), 422, field="scopes")
    if not 1 <= days <= MAX_DAYS:
        raise ServiceError(_("The validity must be between 1 and 366 days."), 422, field="days")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=crypto.lookup_hash(secret), prefix=secret[:8],
                     scopes=" ".join(chosen), expires_at=now + timedelta(days=days))
    db.session.add(token)
    db.session.flush()
    audit.record("api_token.create", user, "api_token", token.id, scopes=token.scopes, days=days)
    return token, secret


def tokens_of(user: User) -> list[ApiToken]:
    """The user's tokens, newest first."""
    return list(db.session.scalars(sa.select(ApiToken).where(ApiToken.user_id == user.id)
                                   .order_by(ApiToken.id.desc())))


def revoke(user: User, token_id: int, now: datetime | None = None) -> None:
    """Revoke one of the user's own live tokens (atomically: a second revoke changes nothing)."""
    now = now or utcnow()
    done = db.session.execute(sa.update(ApiToken).where(
        ApiToken.id == token_id, ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)).rowcount
    if not done:
        raise ServiceError(_("This token does not exist or is already revoked."), 404)
    audit.record("api_token.revoke", user, "api_token", token_id)


def authenticate(secret: str, now: datetime | None = None) -> ApiToken | None:
    """The live token (of an active user) with this secret; None for anything else."""
    now = now or utcnow()
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == crypto.lookup_hash(secret))
                              .options(joinedload(ApiToken.user)))
    if token is None or token.revoked_at is not None or token.expires_at <= now or not token.user.is_active:
        return None
    return token


def touch(token: ApiToken, now: datetime | None = None) -> bool:
    """Note the token's use, at most once a minute (a read must not write on every call); whether it wrote."""
    now = now or utcnow()
    return bool(db.session.execute(sa.update(ApiToken).where(
        ApiToken.id == token.id,
        sa.or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - timedelta(minutes=1)))
        .values(last_used_at=now).execution_options(synchronize_session=False)).rowcount)
