"""Households' service lists: register, edit and close service items."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Frequency,
    Household,
    ItemStatus,
    Member,
    Order,
    OrderState,
    Priority,
    ServiceCategory,
    ServiceItem,
    User,
    utcnow,
)
from socialforce.platform.models.orders import OPEN_STATES
from socialforce.platform.services import ServiceError, audit


@dataclass(frozen=True)
class ItemInput:
    category_id: int
    description: str
    member_id: int | None
    priority: Priority
    frequency: Frequency
    windows: int
    slots_needed: int = 1


def _validate(household: Household, data: ItemInput) -> ServiceCategory:
    category = db.session.get(ServiceCategory, data.category_id)
    if category is None:
        raise ServiceError(_("Unknown service category."), status=400, field="category_id")
    if data.member_id is not None and db.session.scalar(
            sa.select(Member.household_id).where(Member.id == data.member_id)) != household.id:
        raise ServiceError(_("Choose a member of this household."), status=400, field="member_id")
    if not data.windows:
        raise ServiceError(_("Choose at least one preferred time window."), status=400, field="windows")
    return category


def register(household: Household, data: ItemInput, actor: User) -> ServiceItem:
    """Add an item to the household's service list (status open); flushes and audits."""
    _validate(household, data)
    item = ServiceItem(household_id=household.id, member_id=data.member_id, category_id=data.category_id,
                       description=data.description.strip(), priority=data.priority, frequency=data.frequency,
                       windows=data.windows, slots_needed=data.slots_needed, created_by_id=actor.id)
    db.session.add(item)
    db.session.flush()
    audit.record("item_registered", actor, "service_item", item.id, household_id=household.id)
    return item


def update(item: ServiceItem, data: ItemInput, actor: User) -> ServiceItem:
    """Edit an open item."""
    if item.status != ItemStatus.open:
        raise ServiceError(_("Only open items can be edited."))
    _validate(item.household, data)
    for name in ("category_id", "member_id", "priority", "frequency", "windows", "slots_needed"):
        setattr(item, name, getattr(data, name))
    item.description = data.description.strip()
    db.session.flush()
    audit.record("item_updated", actor, "service_item", item.id)
    return item


def close(item: ServiceItem, actor: User, reason: str) -> ServiceItem:
    """Close an item that has no open order."""
    if item.status == ItemStatus.closed:
        raise ServiceError(_("This item is already closed."))
    if db.session.scalar(sa.select(Order.id).where(Order.item_id == item.id, Order.state.in_(OPEN_STATES))):
        raise ServiceError(_("Cancel or finish the item's open order first."))
    item.status = ItemStatus.closed
    item.closed_at = utcnow()
    db.session.flush()
    audit.record("item_closed", actor, "service_item", item.id, reason=(reason or "")[:200])
    return item


def was_served(item: ServiceItem) -> bool:
    """Whether a closed item was served (an order of it completed), rather than closed by staff."""
    return db.session.scalar(sa.select(Order.id).where(
        Order.item_id == item.id, Order.state.in_((OrderState.completed, OrderState.evaluated))).limit(1)) is not None
