"""Orders (服务工单), their events, volunteer tasks and sign-ups, visits, service records and outcomes."""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from socialforce.platform.extensions import db
from socialforce.platform.models.base import created_at_column, enum_column


class OrderState(enum.StrEnum):
    proposed = "proposed"
    dispatched = "dispatched"
    accepted = "accepted"
    declined = "declined"
    expired = "expired"
    scheduled = "scheduled"
    in_service = "in_service"
    completed = "completed"
    evaluated = "evaluated"
    cancelled = "cancelled"


class Order(db.Model):
    """A service item dispatched to one provider, or (provider_id NULL) a volunteer task with k slots."""

    __tablename__ = "orders"
    __table_args__ = (
        sa.Index("ix_orders_state_due", "state", "response_due_at"),
        sa.Index("ix_orders_provider_state", "provider_id", "state"),
        # dashboard: first dispatch per item; orders dispatched in a period, per provider and state
        sa.Index("ix_orders_item_dispatched", "item_id", "dispatched_at"),
        sa.Index("ix_orders_dispatched", "dispatched_at", "item_id", "provider_id", "state", "responded_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("service_items.id"), index=True)
    provider_id: Mapped[int | None] = mapped_column(sa.ForeignKey("providers.id"))
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("provider_members.id"))
    contract_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contracts.id"))
    state: Mapped[OrderState] = enum_column(OrderState, default=OrderState.proposed)
    score: Mapped[float | None]
    rank: Mapped[int | None]  # position in the ranked list when dispatched (for position-bias correction)
    model_version: Mapped[str | None] = mapped_column(sa.String(40))
    reasons: Mapped[dict | None] = mapped_column(sa.JSON)
    attempt: Mapped[int] = mapped_column(default=1)  # 1 for the first provider tried, 2 after a re-dispatch
    expected_hours: Mapped[float] = mapped_column(default=2.0)
    created_at: Mapped[datetime] = created_at_column()
    dispatched_at: Mapped[datetime | None]
    response_due_at: Mapped[datetime | None]
    responded_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    decline_reason: Mapped[str | None] = mapped_column(sa.String(200))
    item = relationship("ServiceItem")
    provider = relationship("Provider")
    assignee = relationship("ProviderMember")
    events: Mapped[list[OrderEvent]] = relationship(back_populates="order", order_by="OrderEvent.id")


class Impression(db.Model):
    """One candidate in the ranked list an order was dispatched from: where it was shown and its logged features.

    Every shown candidate is kept, not only the chosen one, so the learned ranker sees what was passed over
    (query = the order; label = this provider was the order's and the outcome was good).
    """

    __tablename__ = "impressions"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id"))
    position: Mapped[int]  # 1-based
    score: Mapped[float]
    features: Mapped[list] = mapped_column(sa.JSON)  # raw values in socialforce.matching.FEATURES order


class OrderEvent(db.Model):
    """One state transition of an order: who, when, from, to and why."""

    __tablename__ = "order_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(sa.String(20))
    to_state: Mapped[str] = mapped_column(sa.String(20))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(sa.String(200))
    at: Mapped[datetime] = created_at_column()
    order: Mapped[Order] = relationship(back_populates="events")


class VolunteerTask(db.Model):
    """The volunteer side of an order: `slots` places, `taken` counted atomically."""

    __tablename__ = "volunteer_tasks"
    __table_args__ = (sa.CheckConstraint("taken >= 0 AND taken <= slots", name="taken_within_slots"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), unique=True)
    slots: Mapped[int]
    taken: Mapped[int] = mapped_column(default=0)
    starts_at: Mapped[datetime | None]
    order: Mapped[Order] = relationship()


class TaskSignup(db.Model):
    __tablename__ = "task_signups"
    __table_args__ = (sa.UniqueConstraint("task_id", "volunteer_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(sa.ForeignKey("volunteer_tasks.id"), index=True)
    volunteer_id: Mapped[int] = mapped_column(sa.ForeignKey("volunteers.id"), index=True)
    created_at: Mapped[datetime] = created_at_column()


class VisitStatus(enum.StrEnum):
    planned = "planned"
    checked_in = "checked_in"
    completed = "completed"
    missed = "missed"
    cancelled = "cancelled"


class VisitSeries(db.Model):
    """A recurrence rule (iCal RRULE) from which the platform expands an order's visits."""

    __tablename__ = "visit_series"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    rrule: Mapped[str] = mapped_column(sa.String(200))
    starts_at: Mapped[datetime]
    duration_minutes: Mapped[int]
    expanded_until: Mapped[datetime | None]


class Visit(db.Model):
    """A planned or done visit (走访/上门服务) by one assignee: a provider member or a volunteer."""

    __tablename__ = "visits"
    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="period"),
        sa.CheckConstraint(
            "(assignee_id IS NULL) <> (volunteer_id IS NULL)", name="one_assignee"
        ),
        sa.Index("ix_visits_assignee_start", "assignee_id", "starts_at"),
        sa.Index("ix_visits_volunteer_start", "volunteer_id", "starts_at"),
        sa.Index("ix_visits_status_start", "status", "starts_at"),
        sa.Index("ix_visits_order_status", "order_id", "status", "checkin_at", "starts_at"),  # dashboard: first visit
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    series_id: Mapped[int | None] = mapped_column(sa.ForeignKey("visit_series.id"))
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("provider_members.id"))
    volunteer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("volunteers.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[VisitStatus] = enum_column(VisitStatus, default=VisitStatus.planned)
    checkin_at: Mapped[datetime | None]
    checkout_at: Mapped[datetime | None]
    checkin_lat: Mapped[float | None]
    checkin_lon: Mapped[float | None]
    checkout_lat: Mapped[float | None]
    checkout_lon: Mapped[float | None]
    notes: Mapped[str | None] = mapped_column(sa.Text)
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(200))
    reminded_at: Mapped[datetime | None]
    order: Mapped[Order] = relationship()


class ServiceRecord(db.Model):
    """A volunteer's service-hours record for one visit; it counts once a provider or staff confirms it."""

    __tablename__ = "service_records"
    __table_args__ = (sa.CheckConstraint("minutes >= 0", name="minutes_nonnegative"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(sa.ForeignKey("visits.id"), unique=True)
    volunteer_id: Mapped[int] = mapped_column(sa.ForeignKey("volunteers.id"), index=True)
    served_on: Mapped[date]
    place: Mapped[str] = mapped_column(sa.String(100))
    content: Mapped[str] = mapped_column(sa.String(200))
    minutes: Mapped[int]
    confirmed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None]


class Resolution(enum.StrEnum):
    yes = "yes"
    partly = "partly"
    no = "no"


class EvaluationSource(enum.StrEnum):
    provider = "provider"
    assistant = "assistant"  # the village assistant (协理员), public evaluation
    staff = "staff"


class Outcome(db.Model):
    """An order's outcome (服务成效) and satisfaction (满意度评价), once per evaluation source."""

    __tablename__ = "outcomes"
    __table_args__ = (
        sa.UniqueConstraint("order_id", "source"),
        sa.CheckConstraint("goal_attainment BETWEEN -2 AND 2", name="goal_attainment"),
        sa.CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    source: Mapped[EvaluationSource] = enum_column(EvaluationSource)
    resolved: Mapped[Resolution] = enum_column(Resolution)
    goal_attainment: Mapped[int]
    satisfaction: Mapped[int]
    follow_up_item_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_items.id"))
    comment: Mapped[str | None] = mapped_column(sa.String(500))
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = created_at_column()
    order: Mapped[Order] = relationship()
