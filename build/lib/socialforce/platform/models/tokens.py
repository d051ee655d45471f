"""Personal access tokens for the /api/v1 JSON API, and the stored answers of idempotent API writes.
Only a keyed hash of a token is stored; the token itself is shown once, when it is created."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from socialforce.platform.extensions import db
from socialforce.platform.models.base import created_at_column

SCOPES = ("volunteer:read", "volunteer:write", "provider:read", "provider:write", "staff:read", "staff:write")


class ApiToken(db.Model):
    """A user's bearer token: live until revoked or expired; its scopes limit what it may do."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)  # crypto.lookup_hash, never the token
    prefix: Mapped[str] = mapped_column(sa.String(8))  # the first characters, to tell tokens apart on the page
    scopes: Mapped[str] = mapped_column(sa.String(200))  # space-separated, each one of SCOPES
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    user = relationship("User")

    @property
    def scope_list(self) -> list[str]:
        """The token's scopes as a list."""
        return self.scopes.split()


class IdempotentResponse(db.Model):
    """The answer given to one (token, Idempotency-Key) write, replayed when the client retries it."""

    __tablename__ = "api_idempotent_responses"
    __table_args__ = (sa.UniqueConstraint("token_id", "key", name="uq_api_idempotent_token_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(sa.ForeignKey("api_tokens.id"))
    key: Mapped[str] = mapped_column(sa.String(100))
    method: Mapped[str] = mapped_column(sa.String(8))
    path: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[int]
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = created_at_column()


PARTNER_SCOPES = ("households:read", "items:read", "orders:read", "visits:read", "feedback:read")


class ApiClient(db.Model):
    """A partner system registered by city staff: OAuth2 client credentials (the secret stored as a keyed hash),
    scopes, the towns whose records it may see, an expiry, and an optional signed webhook."""

    __tablename__ = "api_clients"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    client_id: Mapped[str] = mapped_column(sa.String(40), unique=True)  # public
    secret_hash: Mapped[str] = mapped_column(sa.String(64))  # crypto.lookup_hash of the secret, never the secret
    scopes: Mapped[str] = mapped_column(sa.String(200))  # space-separated, each one of PARTNER_SCOPES
    town_ids: Mapped[list] = mapped_column(sa.JSON, default=list)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    webhook_url: Mapped[str | None] = mapped_column(sa.String(300))
    webhook_secret_enc: Mapped[str | None] = mapped_column(sa.Text)  # crypto.encrypt: needed to sign, so reversible
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = created_at_column()

    @property
    def scope_list(self) -> list[str]:
        """The client's scopes as a list."""
        return self.scopes.split()


class ApiClientToken(db.Model):
    """A short-lived bearer token issued to a partner client by the client-credentials grant (hash only)."""

    __tablename__ = "api_client_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("api_clients.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime] = created_at_column()
    client: Mapped[ApiClient] = relationship()
