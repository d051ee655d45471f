"""Orders (服务工单), their events, volunteer tasks and sign-ups, visits, service records and outcomes."""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from socialforce.platform.extensions import db
from socialforce.platform.models.base import (
    created_at_column,
    enum_column,
    updated_at_column,
    updated_at_index,
)


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


# Order-state groups: the one definition (templates see them as `order_state_groups`, platform/app.py).
_S = OrderState
OPEN_STATES = (_S.proposed, _S.dispatched, _S.accepted, _S.scheduled, _S.in_service)  # not finished yet
ACTIVE_STATES = (_S.dispatched, _S.accepted, _S.scheduled, _S.in_service)  # with a provider: counts as load
LIVE_STATES = (_S.accepted, _S.scheduled, _S.in_service)  # accepted, not finished: visits can be planned
LIVE_TASK_STATES = (_S.dispatched, _S.accepted, _S.scheduled)  # a volunteer task's places may reopen
FAILED_STATES = (_S.declined, _S.expired)  # the provider did not take the order
DONE_STATES = (_S.completed, _S.evaluated)  # the provider has recorded its outcome
FINAL_STATES = (*FAILED_STATES, *DONE_STATES, _S.cancelled)  # nothing more will happen
ORDER_STATE_GROUPS = {"OPEN": OPEN_STATES, "ACTIVE": ACTIVE_STATES, "LIVE": LIVE_STATES,
                      "LIVE_TASK": LIVE_TASK_STATES, "FAILED": FAILED_STATES, "DONE": DONE_STATES,
                      "FINAL": FINAL_STATES}


class Order(db.Model):
    """A service item dispatched to one provider, or (provider_id NULL) a volunteer task with k slots."""

    __tablename__ = "orders"
    __table_args__ = (
        sa.Index("ix_orders_state_due", "state", "response_due_at"),
        sa.Index("ix_orders_provider_state", "provider_id", "state"),
        # dashboard: first dispatch per item; orders dispatched in a period, per provider and state
        sa.Index("ix_orders_item_dispatched", "item_id", "dispatched_at"),
        sa.Index("ix_orders_dispatched", "dispatched_at", "item_id", "provider_id", "state", "responded_at"),
        updated_at_index("orders"),
        # a county's newest orders and its counts per state, without walking the other counties' orders
        sa.Index("ix_orders_county_id_id", "county_id", "id"),
        sa.Index("ix_orders_county_id_state", "county_id", "state"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("service_items.id"), index=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("counties.id"))  # its household's (models/tenancy.py)
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
    updated_at: Mapped[datetime] = updated_at_column()
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
    bring: Mapped[str | None] = mapped_column(sa.String(200))  # what to bring, filled when the task is published
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
        sa.Index("ix_visits_checkin_at", "checkin_at"),  # dashboard: check-ins on the days not pre-aggregated
        updated_at_index("visits"),
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
    # Why the recorded visit looks implausible (space-separated codes, visits/checkin.plausibility_flags); NULL: fine.
    flags: Mapped[str | None] = mapped_column(sa.String(60))
    updated_at: Mapped[datetime] = updated_at_column()
    order: Mapped[Order] = relationship()


class ServiceRecord(db.Model):
    """A volunteer's service-hours record for one visit; it counts once a provider or staff confirms it."""

    __tablename__ = "service_records"
    __table_args__ = (sa.CheckConstraint("minutes >= 0", name="minutes_nonnegative"),
                      sa.Index("ix_service_records_served_on", "served_on"))  # dashboard: days not pre-aggregated
    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(sa.ForeignKey("visits.id"), unique=True)
    volunteer_id: Mapped[int] = mapped_column(sa.ForeignKey("volunteers.id"), index=True)
    served_on: Mapped[date]
    place: Mapped[str] = mapped_column(sa.String(100))
    content: Mapped[str] = mapped_column(sa.String(200))
    minutes: Mapped[int]
    confirmed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None]
    visit: Mapped[Visit] = relationship()
    volunteer = relationship("Volunteer")


class Resolution(enum.StrEnum):
    yes = "yes"
    partly = "partly"
    no = "no"


class EvaluationSource(enum.StrEnum):
    provider = "provider"
    assistant = "assistant"  # the village assistant (协理员), public evaluation
    staff = "staff"


class Outcome(db.Model):
    """An order's outcome (服务成效) as one evaluator assessed it, once per evaluation source.

    `assessment` (1-5) is the evaluator's own rating of the service (the provider's self-assessment, or staff's);
    the household's satisfaction is never recorded here but at the follow-up (HouseholdFeedback).
    """

    __tablename__ = "outcomes"
    __table_args__ = (
        sa.UniqueConstraint("order_id", "source"),
        sa.CheckConstraint("goal_attainment BETWEEN -2 AND 2", name="goal_attainment"),
        sa.CheckConstraint("assessment BETWEEN 1 AND 5", name="assessment"),
        updated_at_index("outcomes"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    source: Mapped[EvaluationSource] = enum_column(EvaluationSource)
    resolved: Mapped[Resolution] = enum_column(Resolution)
    goal_attainment: Mapped[int]
    assessment: Mapped[int]
    follow_up_item_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_items.id"))
    comment: Mapped[str | None] = mapped_column(sa.String(500))
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    order: Mapped[Order] = relationship()


class FeedbackChannel(enum.StrEnum):
    """Who contacted the household for the follow-up, and how."""

    staff_phone = "staff_phone"  # civil-affairs staff by telephone
    staff_visit = "staff_visit"  # civil-affairs staff at the household
    assistant_visit = "assistant_visit"  # the village assistant (协理员) at the household, entered by staff
    household_sms = "household_sms"  # the household itself, through the one-question SMS link


class HouseholdFeedback(db.Model):
    """The household's own satisfaction with a completed order (满意度回访), asked by staff or the village
    assistant: one per order. Only this rating is the household's; the ranker learns from it."""

    __tablename__ = "household_feedback"
    __table_args__ = (sa.CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction"),
                      sa.Index("ix_household_feedback_recorded_at", "recorded_at"),  # dashboard: raw days
                      updated_at_index("household_feedback"))
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), unique=True)
    satisfaction: Mapped[int]
    channel: Mapped[FeedbackChannel] = enum_column(FeedbackChannel)
    comment: Mapped[str | None] = mapped_column(sa.String(500))
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))  # None: seeded history
    recorded_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    order: Mapped[Order] = relationship()
    recorded_by = relationship("User")
