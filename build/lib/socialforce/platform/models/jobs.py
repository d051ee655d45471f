"""Scheduler bookkeeping: each job's runs and the lease of the one active scheduler process."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from socialforce.platform.extensions import db
from socialforce.platform.models.base import created_at_column


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
