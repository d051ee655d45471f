"""What a user takes away from the platform: a private calendar feed, and the hours certificates issued to
volunteers (each with a public number anyone can verify)."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from socialforce.platform.extensions import db
from socialforce.platform.models.base import created_at_column


class CalendarFeed(db.Model):
    """A user's secret iCalendar feed URL, stored only as the SHA-256 of its token; rotating replaces the hash."""

    __tablename__ = "calendar_feeds"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), unique=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = created_at_column()
    last_used_at: Mapped[datetime | None]


class HoursCertificate(db.Model):
    """One issued volunteer hours certificate: its public number and what it certified (a snapshot).

    `fingerprint` (volunteer, hours, record count, period) makes issuing idempotent: the same content gets the same
    number, also when two downloads race (unique); a revoked certificate gives its fingerprint up (NULL), so the
    volunteer's next download gets a new number."""

    __tablename__ = "hours_certificates"
    __table_args__ = (sa.CheckConstraint("total_minutes >= 0", name="certificate_minutes"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(32), unique=True)
    volunteer_id: Mapped[int] = mapped_column(sa.ForeignKey("volunteers.id"), index=True)
    fingerprint: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    name_masked: Mapped[str] = mapped_column(sa.String(40))
    total_minutes: Mapped[int]
    record_count: Mapped[int]
    period_from: Mapped[date]
    period_to: Mapped[date]
    issued_at: Mapped[datetime] = created_at_column()
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    revoke_reason: Mapped[str | None] = mapped_column(sa.String(200))
    volunteer = relationship("Volunteer")
