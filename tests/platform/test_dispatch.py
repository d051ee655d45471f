"""Dispatch under a response clock: expiry, re-dispatch, escalation, contract hours, illegal transitions."""
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AuditLog,
    Contract,
    ItemStatus,
    Notification,
    Order,
    OrderEvent,
    OrderState,
    Provider,
    ProviderMember,
    ProviderStatus,
    Role,
    Visit,
    VisitStatus,
)
from socialforce.platform.services import ServiceError, dispatch, matching, orders
from tests import factories

NOW = datetime(2026, 11, 2, 2, 0)


@pytest.fixture
def world():
    """Three counselling agencies in 龙泉街道, a household with a counselling item, town staff."""
    agencies = [factories.agency(name, hours=hours) for name, hours in
                (("甲社工机构", 100.0), ("乙社工机构", 100.0), ("丙社工机构", 100.0))]
    household = factories.household()
    item = factories.item(household, "counselling", description="丧偶后情绪低落，需要心理疏导")
    town = factories.town()
    staff = factories.user("town-staff", Role.town_staff, town_id=town.id)
    db.session.commit()
    matching.invalidate()
    return {"agencies": agencies, "item": item, "staff": staff}


def first_dispatch(world) -> Order:
    choice = matching.rank_item(world["item"], now=NOW)[0]
    return dispatch.dispatch(world["item"], choice, world["staff"], NOW)


def test_dispatch_sets_the_response_clock_and_records_the_event(world):
    order = first_dispatch(world)
    assert order.state == OrderState.dispatched
    assert order.response_due_at == NOW + timedelta(hours=48)
    assert order.rank == 1 and order.reasons["reasons"]
    assert world["item"].status == ItemStatus.dispatched
    events = db.session.scalars(sa.select(OrderEvent).where(OrderEvent.order_id == order.id)).all()
    assert [(e.from_state, e.to_state, e.actor_id) for e in events] == [("proposed", "dispatched", world["staff"].id)]
    provider_users = db.session.scalar(sa.select(sa.func.count(Notification.id)))
    assert provider_users == 0  # the agencies in this world have no logins; nobody else is told


def test_unanswered_orders_expire_and_go_to_the_next_candidate(world):
    first = first_dispatch(world)
    result = dispatch.sweep_overdue(NOW + timedelta(hours=47))
    assert result == {"expired": 0, "redispatched": 0, "escalated": 0}
    later = NOW + timedelta(hours=49)
    assert dispatch.sweep_overdue(later) == {"expired": 1, "redispatched": 1, "escalated": 0}
    db.session.refresh(first)
    assert first.state == OrderState.expired
    second = db.session.scalar(sa.select(Order).where(Order.item_id == world["item"].id, Order.id != first.id))
    assert second.state == OrderState.dispatched and second.attempt == 2
    assert second.provider_id != first.provider_id
    assert second.response_due_at == later + timedelta(hours=48)


def test_after_three_failures_the_item_escalates_to_town_staff(world):
    first_dispatch(world)
    clock = NOW
    for _ in range(2):
        clock += timedelta(hours=49)
        dispatch.sweep_overdue(clock)
    third = db.session.scalar(sa.select(Order).where(Order.state == OrderState.dispatched))
    providers_tried = set(db.session.scalars(sa.select(Order.provider_id)))
    assert len(providers_tried) == 3
    new = dispatch.decline(third, world["staff"], "人手不足", clock)
    assert new is None
    assert world["item"].status == ItemStatus.open
    notes = db.session.scalars(sa.select(Notification).where(Notification.user_id == world["staff"].id)
                               .order_by(Notification.id)).all()
    # the town's staff (no item author) learn of each expiry and re-dispatch (not of their own decline), then this
    assert [n.kind for n in notes] == ["order_expired", "order_redispatched"] * 2 + ["order_escalated"]
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(AuditLog.action == "item_escalated")) == 1
    assert matching.rank_item(world["item"], now=clock) == []  # all three declined or expired: excluded


def test_an_illegal_transition_changes_nothing(world):
    order = first_dispatch(world)
    dispatch.sweep_overdue(NOW + timedelta(hours=49))
    db.session.commit()
    db.session.refresh(order)
    events_before = db.session.scalar(sa.select(sa.func.count(OrderEvent.id)))
    audit_before = db.session.scalar(sa.select(sa.func.count(AuditLog.id)))
    worker = world["agencies"][0][1]
    with pytest.raises(orders.IllegalTransition):
        dispatch.accept(order, world["staff"], worker.id, NOW + timedelta(hours=50))
    db.session.rollback()
    db.session.refresh(order)
    assert order.state == OrderState.expired and order.assignee_id is None
    assert db.session.scalar(sa.select(sa.func.count(OrderEvent.id))) == events_before
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id))) == audit_before
    assert db.session.scalar(sa.select(sa.func.sum(Contract.used_hours))) == 0


def test_accepting_charges_contract_hours_and_an_agency_without_hours_is_not_dispatched_to(world):
    poor, worker = factories.agency("丁社工机构", hours=2.0)
    other_item = factories.item(factories.household(), "counselling", description="需要心理疏导")
    db.session.commit()
    matching.invalidate()
    order = dispatch.dispatch(other_item, dispatch.Choice(provider_id=poor.id), world["staff"], NOW)
    dispatch.accept(order, world["staff"], worker.id, NOW)
    contract = db.session.scalar(sa.select(Contract).where(Contract.agency.has(provider_id=poor.id)))
    assert contract.used_hours == pytest.approx(2.0)
    assert order.contract_id == contract.id
    assert dispatch.contract_hours_left(poor.id, NOW) == 0
    assert poor.id not in {c.provider_id for c in matching.rank_item(world["item"], now=NOW, k=10)}
    with pytest.raises(ServiceError, match="没有剩余"):
        dispatch.dispatch(world["item"], dispatch.Choice(provider_id=poor.id), world["staff"], NOW)


def test_volunteers_offering_the_category_never_crowd_out_an_eligible_agency(app):
    for _ in range(25):  # created first: on equal scores, lower ids rank first
        factories.offer(factories.volunteer(skills="capability_building").provider, ("capability_building",),
                        description="能力提升 就业技能培训")
    agency, _worker = factories.agency("启航社工", categories=("capability_building",))
    item = factories.item(factories.household(), "capability_building", description="就业技能培训")
    db.session.commit()
    matching.invalidate()
    assert [c.provider_id for c in matching.rank_item(item, now=NOW, k=3)] == [agency.id]


def test_a_provider_suspended_elsewhere_is_not_proposed_from_a_stale_index(world):
    newcomer = factories.volunteer().provider
    newcomer.status = ProviderStatus.pending
    db.session.commit()
    first = matching.rank_item(world["item"], now=NOW)[0].provider_id
    # another process suspends one provider and approves another: the index's version key does not change
    db.session.execute(sa.update(Provider).where(Provider.id == first).values(status=ProviderStatus.suspended))
    db.session.execute(sa.update(Provider).where(Provider.id == newcomer.id).values(status=ProviderStatus.approved))
    db.session.commit()
    assert first not in {c.provider_id for c in matching.rank_item(world["item"], now=NOW)}


def test_batch_assignment_serves_both_items_where_taking_the_best_first_serves_one(app):
    a, b, near, far = factories.batch_where_best_first_serves_one()
    db.session.commit()
    matching.invalidate()
    assert matching.rank_item(near, now=NOW)[0].provider_id == a.id
    assert [c.provider_id for c in matching.rank_item(far, now=NOW)] == [a.id]
    choices = matching.assign_items([near, far], now=NOW)
    assert {item_id: c.provider_id for item_id, c in choices.items()} == {near.id: b.id, far.id: a.id}
    assert choices[near.id].rank == 2 and choices[near.id].reasons["reasons"]


def accepted_with_a_planned_visit(world) -> Order:
    order = first_dispatch(world)
    worker = db.session.scalar(sa.select(ProviderMember).where(ProviderMember.provider_id == order.provider_id))
    dispatch.accept(order, world["staff"], worker.id, NOW)
    db.session.add(Visit(order_id=order.id, assignee_id=worker.id, starts_at=NOW + timedelta(days=2),
                         ends_at=NOW + timedelta(days=2, hours=1), status=VisitStatus.planned))
    db.session.flush()
    return order


def test_cancelling_an_order_cancels_its_visits_returns_unused_hours_and_reopens_the_item(world):
    order = accepted_with_a_planned_visit(world)
    contract = db.session.get(Contract, order.contract_id)
    assert contract.used_hours == pytest.approx(order.expected_hours)
    dispatch.cancel(order, world["staff"], "服务对象已入住养老机构", NOW)
    db.session.expire_all()
    assert order.state == OrderState.cancelled and order.events[-1].reason == "服务对象已入住养老机构"
    assert [(v.status, v.cancel_reason) for v in db.session.scalars(sa.select(Visit))] == [
        (VisitStatus.cancelled, "服务对象已入住养老机构")]
    assert contract.used_hours == pytest.approx(0.0)
    assert world["item"].status == ItemStatus.open
    again = dispatch.dispatch(world["item"], matching.rank_item(world["item"], now=NOW)[0], world["staff"], NOW)
    assert again.attempt == 1 and again.provider_id == order.provider_id  # a cancellation is not a failure


def test_cancelling_work_already_started_keeps_the_hours_charged(world):
    order = accepted_with_a_planned_visit(world)
    orders.transition(order, OrderState.scheduled, world["staff"], now=NOW)
    orders.transition(order, OrderState.in_service, world["staff"], now=NOW)
    dispatch.cancel(order, world["staff"], "服务对象住院治疗", NOW)
    assert db.session.get(Contract, order.contract_id).used_hours == pytest.approx(order.expected_hours)


@pytest.mark.parametrize(("reason", "match"), [("", "原因"), ("x" * 201, "原因")])
def test_a_cancellation_without_a_proper_reason_changes_nothing(world, reason, match):
    order = first_dispatch(world)
    with pytest.raises(ServiceError, match=match):
        dispatch.cancel(order, world["staff"], reason, NOW)
    assert order.state == OrderState.dispatched and world["item"].status == ItemStatus.dispatched


def test_a_finished_order_cannot_be_cancelled(world):
    order = first_dispatch(world)
    orders.transition(order, OrderState.declined, world["staff"], now=NOW)
    with pytest.raises(orders.IllegalTransition):
        dispatch.cancel(order, world["staff"], "重复派单", NOW)
    db.session.refresh(order)
    assert order.state == OrderState.declined
