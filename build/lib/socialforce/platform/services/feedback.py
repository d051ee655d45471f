"""The household's satisfaction (满意度回访): asked after the service by staff or the village assistant.

The provider rates its own service in its outcome; that is not the household's view. After an order is completed,
town or city staff (or the village assistant, whose answer staff enter) contact the household and record its
satisfaction 1-5 with the channel used: one follow-up per order (a unique key makes a second one, even at the same
moment, fail cleanly). Only these ratings count as the household's: provider track records, the dashboard's
satisfaction figures and the learned ranker's success label read them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from socialforce.platform.extensions import db
from socialforce.platform.models import FeedbackChannel, HouseholdFeedback, Order, ServiceItem, User
from socialforce.platform.models.orders import DONE_STATES
from socialforce.platform.scoping import order_scope
from socialforce.platform.services import ServiceError, audit

COMMENT_LENGTH = HouseholdFeedback.__table__.c.comment.type.length
# What staff record; household_sms is only ever written by the household's own link (services/feedback_links.py).
STAFF_CHANNELS = frozenset(c.value for c in FeedbackChannel if c != FeedbackChannel.household_sms)


@dataclass(frozen=True)
class FeedbackInput:
    """What the follow-up form collects."""

    satisfaction: int | None
    channel: str
    comment: str | None = None


def _validate(data: FeedbackInput) -> FeedbackChannel:
    if data.satisfaction is None or not 1 <= data.satisfaction <= 5:
        raise ServiceError(_("Choose the household's satisfaction, from 1 to 5."), status=400, field="satisfaction")
    if data.channel not in STAFF_CHANNELS:
        raise ServiceError(_("Say who contacted the household, and how."), status=400, field="channel")
    if data.comment and len(data.comment.strip()) > COMMENT_LENGTH:
        raise ServiceError(_("The comment is limited to 500 characters."), status=400, field="comment")
    return FeedbackChannel(data.channel)


def record_feedback(order: Order, data: FeedbackInput, actor: User, now: datetime) -> HouseholdFeedback:
    """Record the household's satisfaction with a completed order, once per order; audited."""
    channel = _validate(data)
    db.session.refresh(order)
    if order.state not in DONE_STATES:
        raise ServiceError(_("The household is asked after the provider has completed the order."))
    refused = ServiceError(_("The household's satisfaction with this order has already been recorded."))
    if db.session.scalar(sa.select(HouseholdFeedback.id).where(HouseholdFeedback.order_id == order.id)):
        raise refused
    feedback = HouseholdFeedback(order_id=order.id, satisfaction=data.satisfaction, channel=channel,
                                 comment=(data.comment or "").strip() or None, recorded_by_id=actor.id,
                                 recorded_at=now)
    db.session.add(feedback)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:  # another follow-up of this order won the race
        raise refused from None
    audit.record("household_feedback", actor, "order", order.id, satisfaction=data.satisfaction,
                 channel=channel.value)
    return feedback


def feedback_of(order: Order) -> HouseholdFeedback | None:
    """The order's follow-up, or None."""
    return db.session.scalar(sa.select(HouseholdFeedback).where(HouseholdFeedback.order_id == order.id))


def awaiting_feedback(user: User) -> sa.Select:
    """Completed orders in the user's scope whose household has not been asked yet, longest-waiting first."""
    asked = sa.exists().where(HouseholdFeedback.order_id == Order.id)
    item = selectinload(Order.item)
    return (order_scope(sa.select(Order), user).where(Order.state.in_(DONE_STATES), ~asked)
            .options(item.selectinload(ServiceItem.household), item.selectinload(ServiceItem.category),
                     selectinload(Order.provider))
            .order_by(Order.completed_at, Order.id))
