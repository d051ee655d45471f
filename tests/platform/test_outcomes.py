"""Outcomes: the provider's outcome completes the order, an independent evaluation evaluates it, follow-ups open
new items, and satisfaction flows into the provider's track record (provider_stats)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import (
    EvaluationSource,
    ItemStatus,
    Order,
    OrderState,
    Role,
    ServiceItem,
    VisitStatus,
)
from socialforce.platform.services import ServiceError, accounts, orders, outcomes, visits
from socialforce.platform.services.outcomes import OutcomeInput
from socialforce.platform.services.track_record import TrackRecord, provider_stats
from socialforce.platform.services.visits import Assignee
from tests import factories
from tests.platform.test_visits import NOW, accepted_order


def served_order(extra_planned: int = 0) -> tuple[Order, object]:
    """An order with one completed visit (and `extra_planned` future ones), plus a provider-side user."""
    order = accepted_order()
    who = Assignee(member_id=order.assignee_id)
    visit = visits.plan_visit(order, who, NOW + timedelta(hours=2), 60, None, NOW)
    for n in range(extra_planned):
        visits.plan_visit(order, who, NOW + timedelta(days=n + 1), 60, None, NOW)
    visits.check_in(visit, None, NOW + timedelta(hours=2))
    visits.check_out(visit, None, NOW + timedelta(hours=3))
    user = accounts.create_user(f"admin{order.id}", "pw-12345678", Role.unit_admin, "单位",
                                provider_id=order.provider_id)
    return order, user


GOOD = OutcomeInput(resolved="yes", goal_attainment=1, satisfaction=5, comment="老人情绪好转")


def test_the_providers_outcome_completes_the_order_and_cancels_leftover_visits():
    order, user = served_order(extra_planned=2)
    outcome = outcomes.record_outcome(order, EvaluationSource.provider, GOOD, user, NOW + timedelta(hours=4))
    assert (order.state, order.item.status, outcome.satisfaction) == (OrderState.completed, ItemStatus.closed, 5)
    assert [v.status for v in visits.order_visits(order)] == [VisitStatus.completed, VisitStatus.cancelled,
                                                              VisitStatus.cancelled]
    with pytest.raises(ServiceError):
        outcomes.record_outcome(order, EvaluationSource.provider, GOOD, user, NOW)


def test_no_outcome_before_a_completed_visit_or_while_checked_in():
    order = accepted_order()
    user = accounts.create_user("u1", "pw-12345678", Role.unit_admin, "单位", provider_id=order.provider_id)
    with pytest.raises(ServiceError):  # still accepted
        outcomes.record_outcome(order, EvaluationSource.provider, GOOD, user, NOW)
    visit = visits.plan_visit(order, Assignee(member_id=order.assignee_id), NOW + timedelta(hours=2), 60, None, NOW)
    visits.check_in(visit, None, NOW + timedelta(hours=2))
    with pytest.raises(ServiceError, match="请先签退"):
        outcomes.record_outcome(order, EvaluationSource.provider, GOOD, user, NOW + timedelta(hours=2))
    assert order.state == OrderState.in_service


@pytest.mark.parametrize("bad", [
    OutcomeInput(resolved="maybe", goal_attainment=0, satisfaction=3),
    OutcomeInput(resolved="yes", goal_attainment=3, satisfaction=3),
    OutcomeInput(resolved="yes", goal_attainment=0, satisfaction=0),
    OutcomeInput(resolved="yes", goal_attainment=0, satisfaction=6),
])
def test_bad_input_changes_nothing(bad):
    order, user = served_order()
    with pytest.raises(ServiceError) as refused:
        outcomes.record_outcome(order, EvaluationSource.provider, bad, user, NOW)
    assert refused.value.status == 400
    assert order.state == OrderState.in_service and outcomes.outcomes_of(order) == []


def test_independent_evaluation_evaluates_and_a_follow_up_opens_an_item():
    order, user = served_order()
    staff = accounts.create_user("ts", "pw-12345678", Role.town_staff, "镇街", town_id=factories.town().id)
    with pytest.raises(ServiceError):  # not completed yet
        outcomes.record_outcome(order, EvaluationSource.staff, GOOD, staff, NOW)
    outcomes.record_outcome(order, EvaluationSource.provider, GOOD, user, NOW)
    follow = OutcomeInput(resolved="partly", goal_attainment=0, satisfaction=3, follow_up="需要继续心理疏导",
                          follow_up_category_id=factories.category("counselling").id)
    evaluation = outcomes.record_outcome(order, EvaluationSource.assistant, follow, staff, NOW)
    assert order.state == OrderState.evaluated
    item = db.session.get(ServiceItem, evaluation.follow_up_item_id)
    assert (item.household_id, item.status, item.category.code, item.description) == (
        order.item.household_id, ItemStatus.open, "counselling", "需要继续心理疏导")
    outcomes.record_outcome(order, EvaluationSource.staff, GOOD, staff, NOW)  # a second source is welcome
    assert order.state == OrderState.evaluated and len(outcomes.outcomes_of(order)) == 3


def test_an_outcome_with_satisfaction_changes_the_providers_track_record():
    order, user = served_order()
    pid = order.provider_id
    before = provider_stats([pid])[pid]
    assert before == TrackRecord(accepted=1)
    assert before.mean_satisfaction is None and before.acceptance_rate == 1.0
    outcomes.record_outcome(order, EvaluationSource.provider, GOOD, user, NOW)
    after = provider_stats([pid])[pid]
    assert (after.completed, after.satisfaction_sum, after.satisfaction_count) == (1, 5, 1)
    staff = accounts.create_user("ts", "pw-12345678", Role.town_staff, "镇街", town_id=factories.town().id)
    outcomes.record_outcome(order, EvaluationSource.staff,
                            OutcomeInput(resolved="partly", goal_attainment=0, satisfaction=2), staff, NOW)
    independent = provider_stats([pid])[pid]
    assert (independent.satisfaction_sum, independent.satisfaction_count) == (2, 1)  # public evaluation wins
    assert independent.mean_satisfaction == 2.0


def test_track_record_counts_declines_expiries_and_other_providers_separately():
    order, _ = served_order()
    for to in (OrderState.declined, OrderState.expired):
        other = Order(item_id=order.item_id, provider_id=order.provider_id, state=OrderState.proposed)
        db.session.add(other)
        db.session.flush()
        orders.transition(other, OrderState.dispatched, None, now=NOW)
        orders.transition(other, to, None, now=NOW)
    second = accepted_order()
    stats = provider_stats()
    assert stats[order.provider_id] == TrackRecord(accepted=1, declined=1, expired=1)
    assert stats[order.provider_id].acceptance_rate == pytest.approx(1 / 3)
    assert stats[second.provider_id] == TrackRecord(accepted=1)
    assert provider_stats([999999]) == {999999: TrackRecord()}
    assert db.session.scalar(sa.select(sa.func.count(Order.id))) == 4
