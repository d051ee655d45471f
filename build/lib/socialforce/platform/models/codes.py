"""One-time secrets: set-password links and codes issued by a manager, codes a user asked for to get back in, and
codes that verify a new e-mail address or mobile number. Only a keyed hash of each secret is stored."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from socialforce.platform.extensions import db
from socialforce.platform.models.base import created_at_column


class OneTimeCode(db.Model):
    """One issued secret: live until used, voided (a newer one, too many wrong tries) or expired."""

    __tablename__ = "one_time_codes"
    __table_args__ = (sa.Index("ix_one_time_codes_user_purpose", "user_id", "purpose"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    # reset_link, reset_code (a manager's), forgot (asked for by the user), email, phone (verifying a new one)
    purpose: Mapped[str] = mapped_column(sa.String(12))
    secret_hash: Mapped[str] = mapped_column(sa.String(64), index=True)  # crypto.lookup_hash, never the secret
    target_enc: Mapped[str | None] = mapped_column(sa.Text)  # the address being verified (encrypted)
    attempts: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = created_at_column()
