"""Dispatch (派单): orders to providers under a response clock, re-dispatch, escalation, volunteer tasks.

The chain is query -> import -> register -> dispatch -> feedback. Staff dispatch a service item to a ranked
candidate; the provider accepts (naming a social worker or cadre) or declines before `response_due_at`; an order not
answered in time expires; declined and expired orders go to the next-ranked candidate, leaving out everyone who
declined or let the item expire; after MAX_DISPATCH_FAILURES failures the item escalates to the town's staff.
Items in a volunteer category become tasks with k slots that volunteers sign up for.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from socialforce.platform import links
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Agency,
    Contract,
    Household,
    ItemStatus,
    MemberRole,
    Order,
    OrderEvent,
    OrderState,
    Provider,
    ProviderKind,
    ProviderMember,
    ProviderStatus,
    ServiceItem,
    TaskSignup,
    Town,
    User,
    Visit,
    VisitStatus,
    Volunteer,
    VolunteerTask,
    utcnow,
)
from socialforce.platform.models.orders import FAILED_STATES, OPEN_STATES
from socialforce.platform.services import (
    ServiceError,
    audit,
    matching,
    notifications,
    orders,
    ranker,
    visits,
    waitlist,
)
from socialforce.platform.services.candidates import Choice, contract_hours_left, excluded_providers
from socialforce.platform.transactions import one_by_one


def dispatch(item: ServiceItem, choice: Choice, actor: User | None, now: datetime | None = None,
             shown: Sequence[Choice] = ()) -> Order:
    """Create an order for `item` and dispatch it to the chosen provider (or publish it as a volunteer task).

    `shown` is the ranked list the choice was made from; it is kept (with the choice) for the learned ranker.
    """
    now = now or utcnow()
    if item.status not in (ItemStatus.open,):
        raise ServiceError(_("This service item is not open for dispatch."))
    if db.session.scalar(sa.select(Order.id).where(Order.item_id == item.id, Order.state.in_(OPEN_STATES))):
        raise ServiceError(_("This service item already has an open order."))
    attempt = 1 + db.session.scalar(
        sa.select(sa.func.count(Order.id)).where(Order.item_id == item.id, Order.state.in_(FAILED_STATES)))
    is_task = item.category.volunteer_task and choice.provider_id is None
    if not is_task:
        _check_provider(item, choice.provider_id, now)
    due = now + timedelta(hours=current_app.config["RESPONSE_DEADLINE_HOURS"])
    order = Order(item_id=item.id, provider_id=choice.provider_id, state=OrderState.proposed, score=choice.score,
                  rank=choice.rank, reasons=choice.reasons, model_version=choice.model_version, attempt=attempt,
                  created_at=now)
    db.session.add(order)
    db.session.flush()
    if not is_task:
        ranker.record_shown(order, [*shown, *([] if choice in shown else [choice])])
    if is_task:
        db.session.add(VolunteerTask(order_id=order.id, slots=item.slots_needed))
        db.session.flush()
    orders.transition(order, OrderState.dispatched, actor, now=now, response_due_at=None if is_task else due)
    item.status = ItemStatus.dispatched
    db.session.flush()
    return order


def _check_provider(item: ServiceItem, provider_id: int | None, now: datetime) -> None:
    """Refuse dispatch to an unknown, unapproved, excluded or (agency) out-of-hours provider."""
    provider = db.session.get(Provider, provider_id) if provider_id else None
    if provider is None or provider.kind == ProviderKind.volunteer:
        raise ServiceError(_("Choose an agency or pairing unit for this order."), status=400)
    if provider.status != ProviderStatus.approved:
        raise ServiceError(_("This provider is not approved or is suspended."))
    if provider.id in excluded_providers(item.id):
        raise ServiceError(_("This provider declined this item or let it expire before."))
    if provider.kind == ProviderKind.agency and contract_hours_left(provider.id, now) <= 0:
        raise ServiceError(_("This agency has no purchased service hours left."))


def accept(order: Order, actor: User, assignee_id: int, now: datetime | None = None) -> Order:
    """The provider accepts, naming its social worker or cadre; an agency's hours are charged to its contract."""
    now = now or utcnow()
    member = db.session.get(ProviderMember, assignee_id)
    if member is None or member.provider_id != order.provider_id or not member.active:
        raise ServiceError(_("Choose one of your own social workers or cadres."), status=400, field="assignee_id")
    if order.provider.kind == ProviderKind.agency and member.role != MemberRole.social_worker:
        raise ServiceError(_("Choose a social worker."), status=400, field="assignee_id")
    contract_id = _charge_contract(order, now) if order.provider.kind == ProviderKind.agency else None
    orders.transition(order, OrderState.accepted, actor, now=now, assignee_id=member.id, contract_id=contract_id)
    return order


def _charge_contract(order: Order, now: datetime) -> int:
    """Atomically charge the order's expected hours to a contract in force with enough hours left that buys the
    item's service category (a contract with no categories recorded buys any)."""
    buys = sa.or_(~Contract.categories.any(), Contract.categories.any(id=order.item.category_id))
    contract_ids = db.session.scalars(
        sa.select(Contract.id).join(Agency).where(
            Agency.provider_id == order.provider_id, Contract.starts_on <= now.date(), Contract.ends_on >= now.date(),
            buys)
        .order_by(Contract.ends_on, Contract.id)
    ).all()
    for contract_id in contract_ids:
        charged = db.session.execute(
            sa.update(Contract)
            .where(Contract.id == contract_id, Contract.used_hours + order.expected_hours <= Contract.purchased_hours)
            .values(used_hours=Contract.used_hours + order.expected_hours)
            .execution_options(synchronize_session=False)
        )
        if charged.rowcount == 1:
            return contract_id
    raise ServiceError(_("Your government-purchase contract has no hours left for this order."))


def decline(order: Order, actor: User, reason: str, now: datetime | None = None) -> Order | None:
    """The provider declines with a reason; the item goes to the next candidate. Returns the new order, if any."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("Please give a reason for declining."), status=400, field="reason")
    orders.transition(order, OrderState.declined, actor, reason=reason, now=now, decline_reason=reason[:200])
    return redispatch(order.item, now)


def cancel(order: Order, actor: User, reason: str, now: datetime | None = None) -> Order:
    """Staff cancel an open order with a reason: its planned visits are cancelled, contract hours not yet used go
    back, the item opens again (to dispatch anew or close) and the provider is told (notices.py). Flushes."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not 2 <= len(reason) <= 200:
        raise ServiceError(_("Give a reason of 2 to 200 characters."), status=400, field="reason")
    started = order.state == OrderState.in_service
    orders.transition(order, OrderState.cancelled, actor, reason=reason, now=now)
    db.session.execute(sa.update(Visit).where(Visit.order_id == order.id, Visit.status == VisitStatus.planned)
                       .values(status=VisitStatus.cancelled, cancel_reason=reason[:200])
                       .execution_options(synchronize_session=False))
    if order.contract_id is not None and not started:
        db.session.execute(sa.update(Contract).where(Contract.id == order.contract_id)
                           .values(used_hours=Contract.used_hours - order.expected_hours)
                           .execution_options(synchronize_session=False))
    order.item.status = ItemStatus.open
    db.session.flush()
    return order


def sweep_overdue(now: datetime) -> dict:
    """Expire every order not answered by its deadline and re-dispatch its item (the per-minute job)."""
    overdue = db.session.scalars(
        sa.select(Order.id).where(Order.state == OrderState.dispatched, Order.response_due_at < now)
        .order_by(Order.id)
    ).all()
    outcomes = one_by_one(partial(_expire, now=now), overdue)
    return {"expired": sum(o is not None for o in outcomes), "redispatched": outcomes.count("redispatched"),
            "escalated": outcomes.count("escalated")}


def _expire(order_id: int, *, now: datetime) -> str | None:
    """Expire one overdue order and re-dispatch its item, in its own transaction: None if it was answered a
    moment ago, else "redispatched", "escalated" or "expired"."""
    order = db.session.get(Order, order_id)
    try:
        orders.transition(order, OrderState.expired, None, reason="response deadline passed", now=now)
    except orders.IllegalTransition:
        return None
    if redispatch(order.item, now) is not None:
        return "redispatched"
    return "escalated" if order.item.status == ItemStatus.open else "expired"


def redispatch(item: ServiceItem, now: datetime) -> Order | None:
    """Dispatch the item to its best remaining candidate, or escalate to town staff after too many failures."""
    item.status = ItemStatus.open
    db.session.flush()
    failures = db.session.scalar(
        sa.select(sa.func.count(Order.id)).where(Order.item_id == item.id, Order.state.in_(FAILED_STATES)))
    if failures < current_app.config["MAX_DISPATCH_FAILURES"]:
        ranked = matching.rank_item(item, now=now, k=10)
        for candidate in ranked:
            try:
                return dispatch(item, candidate, None, now, shown=ranked)
            except ServiceError:
                continue
    audit.record("item_escalated", None, "service_item", item.id, failures=failures)
    notifications.notify_town_staff(item.household.town_id, "order_escalated",
                 {"item_id": item.id, "failures": failures, "category": item.category.code},
                 links.to("staff_item", item))
    return None


def auto_dispatch_town(town: Town, now: datetime) -> int:
    """Dispatch the town's open items whose best candidate scores above the town's threshold."""
    items = db.session.scalars(
        sa.select(ServiceItem).join(Household)
        .where(Household.town_id == town.id, ServiceItem.status == ItemStatus.open).order_by(ServiceItem.id)
    ).all()
    dispatched = 0
    for item in items:
        best = next(iter(matching.rank_item(item, now=now, k=1)), None)
        if best is not None and (best.score or 0) >= town.auto_dispatch_threshold:
            try:
                dispatch(item, best, None, now)
                dispatched += 1
            except ServiceError:
                continue
    return dispatched


def rematch_open_items(now: datetime) -> dict:
    """Nightly: auto-dispatch open items in towns that switched auto-dispatch on."""
    towns = db.session.scalars(sa.select(Town).where(Town.auto_dispatch).order_by(Town.id)).all()
    return {"dispatched": sum(auto_dispatch_town(town, now) for town in towns), "towns": len(towns)}


def sign_up(task_id: int, volunteer: Volunteer, now: datetime | None = None) -> TaskSignup:
    """Take one slot of a task: an atomic conditional UPDATE plus a UNIQUE (task, volunteer) row."""
    now = now or utcnow()
    taken = db.session.execute(
        sa.update(VolunteerTask).where(VolunteerTask.id == task_id, VolunteerTask.taken < VolunteerTask.slots)
        .values(taken=VolunteerTask.taken + 1).execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        raise ServiceError(_("All places of this task are taken."))
    signup = TaskSignup(task_id=task_id, volunteer_id=volunteer.id, created_at=now)
    db.session.add(signup)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        raise ServiceError(_("You have already signed up for this task.")) from None
    task = db.session.get(VolunteerTask, task_id)
    db.session.refresh(task)
    if task.order.state == OrderState.dispatched:
        orders.advance(task.order, OrderState.accepted, None, reason="first volunteer signed up", now=now)
    return signup


WITHDRAW_FREELY = (OrderState.dispatched,)
WITHDRAW_WITH_REASON = (OrderState.accepted, OrderState.scheduled)


@dataclass(frozen=True)
class WithdrawalTerms:
    """Whether a volunteer may withdraw from a task now and, if so, whether a reason is needed."""

    refusal: str | None  # None: allowed
    reason_needed: bool = False


def _own_visit_started(order_id: int, volunteer_id: int, now: datetime) -> bool:
    """Whether the volunteer checked in to, completed or reached the start time of a visit of this order."""
    return bool(db.session.scalar(sa.select(sa.func.count(Visit.id)).where(
        Visit.order_id == order_id, Visit.volunteer_id == volunteer_id,
        sa.or_(Visit.status.in_((VisitStatus.checked_in, VisitStatus.completed)),
               sa.and_(Visit.status == VisitStatus.planned, Visit.starts_at <= now)))))


def signed_up_task(task_id: int, volunteer: Volunteer) -> VolunteerTask | None:
    """The task if the volunteer holds a place on it, else None."""
    return db.session.scalar(sa.select(VolunteerTask).join(TaskSignup, TaskSignup.task_id == VolunteerTask.id)
                             .where(VolunteerTask.id == task_id, TaskSignup.volunteer_id == volunteer.id))


def withdrawal_terms(task: VolunteerTask, volunteer: Volunteer, now: datetime) -> WithdrawalTerms:
    """The rule: freely before the order is accepted; after, with a reason and only before the volunteer's visit
    starts; never once service started (the order is in service or finished) or the task was cancelled."""
    state = OrderState(task.order.state)
    if state in WITHDRAW_FREELY:
        return WithdrawalTerms(None)
    if state not in WITHDRAW_WITH_REASON:
        return WithdrawalTerms(_("Service on this task has started or the task is closed; you can no longer "
                                 "withdraw. Please contact town staff."))
    if _own_visit_started(task.order_id, volunteer.id, now):
        return WithdrawalTerms(_("Your visit for this task has started; you can no longer withdraw. "
                                 "Please contact town staff."))
    return WithdrawalTerms(None, reason_needed=True)


def withdraw(task_id: int, volunteer: Volunteer, actor: User | None, reason: str = "",
             now: datetime | None = None) -> None:
    """Give a place back under `withdrawal_terms`; after acceptance the volunteer's planned visits are cancelled,
    and an order event, an audit row and a notice to town staff record the reason. Flushes."""
    now = now or utcnow()
    task = signed_up_task(task_id, volunteer)
    if task is None:
        raise ServiceError(_("You are not signed up for this task."), status=404)
    order = task.order
    db.session.refresh(order)
    state = OrderState(order.state)
    terms = withdrawal_terms(task, volunteer, now)
    if terms.refusal:
        raise ServiceError(terms.refusal, status=409)
    reason = visits.check_reason(reason) if terms.reason_needed else reason.strip()[:200]
    # Lock order: sign-up row, task, the volunteer's visits, then the order (as sign-up and check-in do).
    deleted = db.session.execute(
        sa.delete(TaskSignup).where(TaskSignup.task_id == task_id, TaskSignup.volunteer_id == volunteer.id))
    if deleted.rowcount != 1:
        raise ServiceError(_("You are not signed up for this task."), status=404)
    db.session.execute(
        sa.update(VolunteerTask).where(VolunteerTask.id == task_id, VolunteerTask.taken > 0)
        .values(taken=VolunteerTask.taken - 1).execution_options(synchronize_session=False))
    cancelled = db.session.execute(
        sa.update(Visit).where(Visit.order_id == order.id, Visit.volunteer_id == volunteer.id,
                               Visit.status == VisitStatus.planned)
        .values(status=VisitStatus.cancelled, cancel_reason=reason or None)
        .execution_options(synchronize_session=False)).rowcount
    unchanged = db.session.execute(
        sa.update(Order).where(Order.id == order.id, Order.state == state).values(state=Order.state)
        .execution_options(synchronize_session=False)).rowcount
    if unchanged != 1 or _own_visit_started(order.id, volunteer.id, now):
        raise ServiceError(_("This order was changed by someone else just now. Please reload and try again."))
    db.session.refresh(task)
    audit.record("task_withdrawn", actor, "volunteer_task", task.id, order_id=order.id, volunteer_id=volunteer.id,
                 order_state=state.value, visits_cancelled=cancelled, reason=reason or None)
    if terms.reason_needed:
        db.session.add(OrderEvent(order_id=order.id, from_state=state.value, to_state=state.value,
                                  actor_id=actor.id if actor is not None else None,
                                  reason=f"volunteer withdrew: {reason}"[:200], at=now))
        item = order.item
        notifications.notify_town_staff(item.household.town_id, "task_withdrawn",
                     {"task_id": task.id, "order_id": order.id, "category": item.category.code,
                      "open": task.slots - task.taken, "slots": task.slots}, links.to("staff_item", item))
    db.session.flush()
    waitlist.place_freed(task_id, now)  # the first on the waitlist who fits is offered the place
