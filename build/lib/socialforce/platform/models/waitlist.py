"""The waitlist of a full volunteer task: volunteers in the order they joined, one offer at a time per freed place."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from socialforce.platform.extensions import db
from socialforce.platform.models.base import created_at_column, enum_column


class WaitlistState(enum.StrEnum):
    waiting = "waiting"  # in the queue
    offered = "offered"  # a freed place is held for them until offer_expires_at
    confirmed = "confirmed"  # took the place (a TaskSignup exists)
    expired = "expired"  # let the offer lapse; the place passed on
    left = "left"  # left the waitlist (or turned the offer down)


OPEN_WAITLIST_STATES = (WaitlistState.waiting, WaitlistState.offered)


class WaitlistEntry(db.Model):
    """One volunteer waiting for a place on one task; queue order is the id (the order of joining).

    A place held for an offer is counted in the task's `taken`, so nobody else can sign up for it meanwhile.
    """

    __tablename__ = "task_waitlist"
    __table_args__ = (
        sa.UniqueConstraint("task_id", "volunteer_id"),
        sa.Index("ix_task_waitlist_task_state", "task_id", "state", "id"),
        sa.Index("ix_task_waitlist_state_expires", "state", "offer_expires_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(sa.ForeignKey("volunteer_tasks.id"))
    volunteer_id: Mapped[int] = mapped_column(sa.ForeignKey("volunteers.id"), index=True)
    state: Mapped[WaitlistState] = enum_column(WaitlistState, default=WaitlistState.waiting)
    created_at: Mapped[datetime] = created_at_column()
    offered_at: Mapped[datetime | None]
    offer_expires_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    task = relationship("VolunteerTask")
