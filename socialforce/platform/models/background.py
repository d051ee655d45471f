"""Background jobs: long work (imports, batch dispatch, retraining, big exports) run by the queue's worker."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from socialforce.platform.extensions import db
from socialforce.platform.models.base import created_at_column, enum_column


class JobState(enum.StrEnum):
    """queued -> running -> done | failed; a running job whose worker died goes back to queued (or failed).

    waiting: a job split into part jobs (a partitioned batch dispatch) waits for them: queued again when the last
    part is done (to merge), failed when a part failed.
    """

    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    waiting = "waiting"


class BackgroundJob(db.Model):
    """One piece of long work: its kind, owner, parameters (ids only), state, progress, result or error.

    Live progress and the worker's heartbeat are kept in the queue's store while the job runs (cheap writes that
    never wait for the database's write lock); `phase`, `done` and `total` hold the last progress once it ends.
    """

    __tablename__ = "background_jobs"
    __table_args__ = (sa.Index("ix_background_jobs_owner_id_id", "owner_id", "id"),
                      sa.Index("ix_background_jobs_state", "state"),
                      sa.Index("ix_background_jobs_subject", "subject"))
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    subject: Mapped[str | None] = mapped_column(sa.String(64))
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    state: Mapped[JobState] = enum_column(JobState, default=JobState.queued)
    phase: Mapped[str] = mapped_column(sa.String(40), default="")
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    result: Mapped[dict | None] = mapped_column(sa.JSON)
    error: Mapped[str | None] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(default=0)
    worker: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = created_at_column()
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
