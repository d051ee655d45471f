"""Outcomes (服务成效): the evaluators' end of the work chain.

The provider records its outcome once the order's visits are done (no visit checked in, at least one completed;
still-planned visits are cancelled): the order moves in_service -> completed and its service item closes. The village
assistant (协理员, entered by staff) or staff record an independent evaluation (public evaluation, 群众评议): the first
one moves the order completed -> evaluated. A needed follow-up opens a new item on the household's service list.
Each evaluator rates the service with its own assessment (1-5); the household's satisfaction is asked separately at
the follow-up (services/feedback.py), and only that rating feeds track records and the ranker.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from socialforce.platform.extensions import db
from socialforce.platform.models import (
    EvaluationSource,
    ItemStatus,
    Order,
    OrderState,
    Outcome,
    Resolution,
    ServiceCategory,
    ServiceItem,
    User,
    Visit,
    VisitStatus,
)
from socialforce.platform.models.orders import DONE_STATES
from socialforce.platform.services import ServiceError, audit, feedback_links, orders


@dataclass(frozen=True)
class OutcomeInput:
    """What the outcome form collects."""

    resolved: str
    goal_attainment: int
    assessment: int | None  # the evaluator's own rating 1-5; None: not chosen (refused)
    comment: str | None = None
    follow_up: str | None = None  # a description: opens a new service item
    follow_up_category_id: int | None = None  # default: the order's category


def _validate(data: OutcomeInput) -> Resolution:
    if data.resolved not in {r.value for r in Resolution}:
        raise ServiceError(_("Say whether the need was resolved."), status=400, field="resolved")
    if not -2 <= data.goal_attainment <= 2:
        raise ServiceError(_("Goal attainment is between -2 and +2."), status=400, field="goal_attainment")
    if data.assessment is None or not 1 <= data.assessment <= 5:
        raise ServiceError(_("Choose your assessment of the service, from 1 to 5."), status=400, field="assessment")
    if data.comment and len(data.comment) > 500:
        raise ServiceError(_("The comment is limited to 500 characters."), status=400, field="comment")
    if data.follow_up and len(data.follow_up.strip()) > 500:
        raise ServiceError(_("The follow-up description is limited to 500 characters."), status=400,
                           field="follow_up")
    return Resolution(data.resolved)


def _follow_up_item(order: Order, data: OutcomeInput, actor: User, now: datetime) -> ServiceItem | None:
    text = (data.follow_up or "").strip()
    if not text:
        return None
    category_id = data.follow_up_category_id or order.item.category_id
    if db.session.get(ServiceCategory, category_id) is None:
        raise ServiceError(_("Unknown service category."), status=400, field="follow_up_category_id")
    source = order.item
    item = ServiceItem(household_id=source.household_id, member_id=source.member_id, category_id=category_id,
                       description=text, priority=source.priority, frequency=source.frequency,
                       windows=source.windows, created_at=now, created_by_id=actor.id)
    db.session.add(item)
    db.session.flush()
    audit.record("follow_up_item", actor, "service_item", item.id, order_id=order.id)
    return item


def _finish_visits(order: Order) -> None:
    """Refuse while a visit is checked in or none is completed; cancel the visits still planned."""
    counts = dict(db.session.execute(
        sa.select(Visit.status, sa.func.count()).where(Visit.order_id == order.id).group_by(Visit.status)).all())
    if counts.get(VisitStatus.checked_in):
        raise ServiceError(_("A visit of this order is still checked in; check out first."))
    if not counts.get(VisitStatus.completed):
        raise ServiceError(_("No visit of this order has been completed yet."))
    db.session.execute(
        sa.update(Visit).where(Visit.order_id == order.id, Visit.status == VisitStatus.planned)
        .values(status=VisitStatus.cancelled, cancel_reason="order completed")
        .execution_options(synchronize_session=False))


def record_outcome(order: Order, source: EvaluationSource, data: OutcomeInput, actor: User,
                   now: datetime) -> Outcome:
    """Record an order's outcome from one source, moving the order to completed (provider) or evaluated."""
    resolved = _validate(data)
    db.session.refresh(order)
    state = OrderState(order.state)
    if source == EvaluationSource.provider:
        if state != OrderState.in_service:
            raise ServiceError(_("The provider records the outcome while the order is in service."))
        _finish_visits(order)
    elif state not in DONE_STATES:
        raise ServiceError(_("An order is evaluated after the provider has completed it."))
    if db.session.scalar(sa.select(Outcome.id).where(Outcome.order_id == order.id, Outcome.source == source)):
        raise ServiceError(_("This outcome has already been recorded."))
    follow_up = _follow_up_item(order, data, actor, now)
    outcome = Outcome(order_id=order.id, source=source, resolved=resolved, goal_attainment=data.goal_attainment,
                      assessment=data.assessment, comment=(data.comment or "").strip() or None,
                      follow_up_item_id=follow_up.id if follow_up else None, recorded_by_id=actor.id, recorded_at=now)
    db.session.add(outcome)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        raise ServiceError(_("This outcome has already been recorded.")) from None
    if source == EvaluationSource.provider:
        orders.transition(order, OrderState.completed, actor, reason="outcome recorded", now=now)
        order.item.status, order.item.closed_at = ItemStatus.closed, now
        feedback_links.create_for(order, now)  # the household is asked for itself by SMS
    elif state == OrderState.completed:
        orders.transition(order, OrderState.evaluated, actor, reason=f"{source.value} evaluation", now=now)
    audit.record("outcome_recorded", actor, "order", order.id, source=source.value, assessment=data.assessment,
                 resolved=resolved.value)
    return outcome


def outcomes_of(order: Order) -> list[Outcome]:
    """An order's outcomes, provider first."""
    return list(db.session.scalars(sa.select(Outcome).where(Outcome.order_id == order.id).order_by(Outcome.id)))
