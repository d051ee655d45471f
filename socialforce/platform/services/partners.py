"""Partner systems (the national volunteer system, the province's social-assistance system): clients that city
staff register with a name, scopes, towns and an expiry, and the OAuth2 client-credentials grant (RFC 6749 4.4)
that exchanges the client's id and secret for a short-lived bearer token.

The client secret, the issued tokens and nothing else are random; only keyed hashes (`crypto.lookup_hash`) are
stored, and the secret is shown once, when the client is registered. The webhook's signing secret must be read
back to sign each delivery, so it is stored encrypted (`crypto.encrypt`) instead and also shown once."""
from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from socialforce.platform import crypto, scoping
from socialforce.platform.extensions import db
from socialforce.platform.models import ApiClient, ApiClientToken, Town, User, utcnow
from socialforce.platform.models.tokens import PARTNER_SCOPES
from socialforce.platform.services import ServiceError, audit

MAX_DAYS = 366
CLIENT_PREFIX = "sfp_"  # the public client id
TOKEN_PREFIX = "sfc_"  # an issued bearer token (a personal token starts with sf_)


def create(actor: User, name: str, scopes: list[str], town_ids: list[int], days: int,
           webhook_url: str = "", now: datetime | None = None) -> tuple[ApiClient, str, str | None]:
    """Register a partner client; return it, its secret and its webhook secret (both shown only once)."""
    now = now or utcnow()
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ServiceError(_("Give the partner a name of at most 80 characters."), 422, field="name")
    chosen = sorted(set(scopes))
    if not chosen or any(s not in PARTNER_SCOPES for s in chosen):
        raise ServiceError(_("Choose at least one of the scopes offered."), 422, field="scopes")
    towns = sorted(set(town_ids))
    known = set(db.session.scalars(sa.select(Town.id).where(Town.id.in_(towns), scoping.town_filter(actor, Town.id))))
    if not towns or known != set(towns):
        raise ServiceError(_("Choose at least one town."), 422, field="towns")
    if not 1 <= days <= MAX_DAYS:
        raise ServiceError(_("The validity must be between 1 and 366 days."), 422, field="days")
    webhook_url = (webhook_url or "").strip()
    if webhook_url and (len(webhook_url) > 300 or urlsplit(webhook_url).scheme not in ("https", "http")
                        or not urlsplit(webhook_url).netloc):
        raise ServiceError(_("The webhook address must be an http(s) URL of at most 300 characters."), 422,
                           field="webhook_url")
    secret = secrets.token_urlsafe(32)
    webhook_secret = "whsec_" + secrets.token_urlsafe(24) if webhook_url else None
    client = ApiClient(name=name, client_id=CLIENT_PREFIX + secrets.token_hex(12),
                       secret_hash=crypto.lookup_hash(secret), scopes=" ".join(chosen), town_ids=towns,
                       expires_at=now + timedelta(days=days), webhook_url=webhook_url or None,
                       webhook_secret_enc=crypto.encrypt(webhook_secret) if webhook_secret else None,
                       created_by_id=actor.id)
    db.session.add(client)
    db.session.flush()
    audit.record("api_client.create", actor, "api_client", client.id, scopes=client.scopes, towns=towns,
                 days=days, webhook=bool(webhook_url))
    return client, secret, webhook_secret


def _registered_by(actor: User) -> sa.ColumnElement[bool]:
    """Partner clients registered by accounts in the actor's scope (county staff: their county's)."""
    return ApiClient.created_by_id.in_(sa.select(User.id).where(scoping.user_filter(actor)))


def clients(actor: User) -> list[ApiClient]:
    """The partner clients registered in the actor's county, newest first."""
    return list(db.session.scalars(sa.select(ApiClient).where(_registered_by(actor)).order_by(ApiClient.id.desc())))


def is_live(client: ApiClient, now: datetime | None = None) -> bool:
    """Whether the client is neither revoked nor expired."""
    return client.revoked_at is None and client.expires_at > (now or utcnow())


def revoke(actor: User, client_pk: int, now: datetime | None = None) -> None:
    """Revoke a live client and every token issued to it (atomically: a second revoke changes nothing)."""
    now = now or utcnow()
    done = db.session.execute(sa.update(ApiClient).where(ApiClient.id == client_pk, ApiClient.revoked_at.is_(None),
                                                         _registered_by(actor))
                              .values(revoked_at=now).execution_options(synchronize_session=False)).rowcount
    if not done:
        raise ServiceError(_("This partner does not exist or is already revoked."), 404)
    db.session.execute(sa.update(ApiClientToken).where(ApiClientToken.client_id == client_pk,
                                                       ApiClientToken.expires_at > now)
                       .values(expires_at=now).execution_options(synchronize_session=False))
    audit.record("api_client.revoke", actor, "api_client", client_pk)


def issue_token(client_id: str, secret: str, ip: str | None = None,
                now: datetime | None = None) -> tuple[str, ApiClient, int]:
    """The client-credentials grant: a new bearer token, its client and its lifetime in seconds; 401 otherwise."""
    now = now or utcnow()
    client = None
    if client_id and len(client_id) <= 40 and secret and len(secret) <= 100:
        client = db.session.scalar(sa.select(ApiClient).where(ApiClient.client_id == client_id))
    if client is None or not hmac.compare_digest(client.secret_hash, crypto.lookup_hash(secret)) \
            or not is_live(client, now):
        raise ServiceError(_("The client id or secret is wrong, or the client is revoked or expired."), 401)
    seconds = int(current_app.config["API_CLIENT_TOKEN_SECONDS"])
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiClientToken(client_id=client.id, token_hash=crypto.lookup_hash(token),
                                  expires_at=min(now + timedelta(seconds=seconds), client.expires_at)))
    client.last_used_at = now
    db.session.flush()
    audit.record("api_client.token", None, "api_client", client.id, ip=ip)
    return token, client, seconds


def authenticate(token: str, now: datetime | None = None) -> ApiClientToken | None:
    """The live issued token (of a live client) with this value; None for anything else."""
    now = now or utcnow()
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    found = db.session.scalar(sa.select(ApiClientToken).where(
        ApiClientToken.token_hash == crypto.lookup_hash(token)))
    if found is None or found.expires_at <= now or not is_live(found.client, now):
        return None
    return found


def webhook_secret(client: ApiClient) -> str | None:
    """The client's webhook signing secret, decrypted (None without a webhook)."""
    return crypto.decrypt(client.webhook_secret_enc) if client.webhook_secret_enc else None
