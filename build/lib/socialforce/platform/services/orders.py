"""The order state machine: the one place that decides which transitions are legal, and records them.

proposed -> dispatched -> accepted | declined | expired; accepted -> scheduled -> in_service -> completed ->
evaluated; cancelled from any open state. A transition is an atomic conditional UPDATE (the row changes only if it is
still in the state we read), so two concurrent transitions of one order cannot both win.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from socialforce.platform.extensions import db
from socialforce.platform.labels import ORDER_STATE
from socialforce.platform.models import Order, OrderEvent, OrderState, User, utcnow
from socialforce.platform.services import ServiceError, audit, notices
from socialforce.platform.services.dashboard import aggregates

S = OrderState
TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    S.proposed: frozenset({S.dispatched, S.cancelled}),
    S.dispatched: frozenset({S.accepted, S.declined, S.expired, S.cancelled}),
    S.accepted: frozenset({S.scheduled, S.cancelled}),
    S.scheduled: frozenset({S.in_service, S.cancelled}),
    S.in_service: frozenset({S.completed, S.cancelled}),
    S.completed: frozenset({S.evaluated}),
    S.declined: frozenset(),
    S.expired: frozenset(),
    S.evaluated: frozenset(),
    S.cancelled: frozenset(),
}
# The timestamp column each state fills when entered.
STAMPS = {S.dispatched: "dispatched_at", S.accepted: "responded_at", S.declined: "responded_at",
          S.completed: "completed_at"}


class IllegalTransition(ServiceError):
    """Refused: the order is not in a state from which the requested transition is allowed (HTTP 409)."""


def transition(
    order: Order,
    to: OrderState,
    actor: User | None,
    reason: str | None = None,
    now: datetime | None = None,
    **changes,
) -> OrderEvent:
    """Move `order` to state `to` (plus column `changes`), record who/when/why, audit; IllegalTransition if not allowed."""
    now = now or utcnow()
    current = OrderState(order.state)
    if to not in TRANSITIONS[current]:
        raise IllegalTransition(
            _("This order is %(state)s and cannot be moved to %(to)s.", state=state_label(current), to=state_label(to))
        )
    values = {"state": to, **changes}
    if to in STAMPS:
        values.setdefault(STAMPS[to], now)
    result = db.session.execute(
        sa.update(Order).where(Order.id == order.id, Order.state == current).values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.refresh(order)
        raise IllegalTransition(_("This order was changed by someone else just now. Please reload and try again."))
    db.session.refresh(order)
    aggregates.mark_old_stale([order.dispatched_at])  # a bulk UPDATE: the before_flush hook does not see it
    event = OrderEvent(order_id=order.id, from_state=current.value, to_state=to.value,
                       actor_id=actor.id if actor is not None else None, reason=reason, at=now)
    db.session.add(event)
    audit.record("order_" + to.value, actor, "order", order.id, from_state=current.value, reason=reason)
    notices.order_event(order, to, actor)
    return event


def advance(order: Order, to: OrderState, actor: User | None, reason: str, now: datetime | None = None,
            ) -> OrderEvent | None:
    """Move `order` to `to` once: None when a concurrent caller (a sibling check-in or sign-up) already did."""
    try:
        return transition(order, to, actor, reason=reason, now=now)
    except IllegalTransition:
        db.session.refresh(order)
        if OrderState(order.state) == to:
            return None
        raise


def state_label(state: OrderState) -> str:
    """The translated name of a state."""
    return str(ORDER_STATE[state.value])
