"""Users with roles, the append-only audit log, notifications and scheduler bookkeeping."""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from socialforce.platform.extensions import db
from socialforce.platform.models.base import created_at_column, enum_column


class Role(enum.StrEnum):
    city_staff = "city_staff"
    town_staff = "town_staff"
    agency_admin = "agency_admin"
    social_worker = "social_worker"
    unit_admin = "unit_admin"
    cadre = "cadre"
    volunteer = "volunteer"


class User(UserMixin, db.Model):
    """A login. Town staff carry a town; provider roles carry their provider (and member, for workers)."""

    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint("role <> 'town_staff' OR town_id IS NOT NULL", name="town_staff_town"),
        sa.CheckConstraint(
            "role IN ('city_staff', 'town_staff') OR provider_id IS NOT NULL", name="provider_role_provider"
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(60), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    display_name: Mapped[str] = mapped_column(sa.String(60))
    role: Mapped[Role] = enum_column(Role)
    town_id: Mapped[int | None] = mapped_column(sa.ForeignKey("towns.id"))
    provider_id: Mapped[int | None] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(sa.ForeignKey("provider_members.id"))
    active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str | None] = mapped_column(sa.String(10))
    session_version: Mapped[int] = mapped_column(default=1)  # bumped to end every session of the user
    created_at: Mapped[datetime] = created_at_column()
    town = relationship("Town")
    provider = relationship("Provider")
    member = relationship("ProviderMember")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:
        """Flask-Login identity: id and session version, so bumping the version ends old sessions."""
        return f"{self.id}:{self.session_version}"


class AuditLog(db.Model):
    """One audited action. The application only ever inserts here (never updates or deletes)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index("ix_audit_log_object", "object_type", "object_id"),
        sa.Index("ix_audit_log_action_at", "action", "at"),  # login throttling: recent failures
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = created_at_column()
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(40), index=True)
    object_type: Mapped[str | None] = mapped_column(sa.String(40))
    object_id: Mapped[int | None]
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    detail: Mapped[dict | None] = mapped_column(sa.JSON)  # never personal data
    user = relationship("User")


class Notification(db.Model):
    """An in-app inbox message for one user; `read_at` NULL means unread."""

    __tablename__ = "notifications"
    __table_args__ = (sa.Index("ix_notifications_user_read", "user_id", "read_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    link: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = created_at_column()
    read_at: Mapped[datetime | None]


class OutboxStatus(enum.StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"


class OutboxMessage(db.Model):
    """A message waiting for an external channel (log, e-mail, SMS); retried until sent."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_status_next", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(sa.ForeignKey("notifications.id"))
    channel: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[OutboxStatus] = enum_column(OutboxStatus, default=OutboxStatus.pending)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = created_at_column()
    last_error: Mapped[str | None] = mapped_column(sa.String(300))


class JobRun(db.Model):
    """One run of a scheduler job for one period; the unique key makes every job idempotent."""

    __tablename__ = "job_runs"
    __table_args__ = (sa.UniqueConstraint("job_id", "period"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(sa.String(60))
    period: Mapped[str] = mapped_column(sa.String(40))
    started_at: Mapped[datetime] = created_at_column()
    finished_at: Mapped[datetime | None]
    result: Mapped[dict | None] = mapped_column(sa.JSON)


class SchedulerLease(db.Model):
    """The lease that lets exactly one scheduler process run jobs at a time."""

    __tablename__ = "scheduler_lease"
    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(100))
    expires_at: Mapped[datetime]


class RankerModel(db.Model):
    """A trained ranking model: its version, training date and evaluation figures (weights on disk)."""

    __tablename__ = "ranker_models"
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(sa.String(40), unique=True)
    trained_at: Mapped[datetime] = created_at_column()
    trained_until: Mapped[date | None]
    n_outcomes: Mapped[int]
    path: Mapped[str] = mapped_column(sa.String(300))
    metrics: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    active: Mapped[bool] = mapped_column(default=False)
