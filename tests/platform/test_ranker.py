"""The learned ranker's data: every dispatch keeps the list it was chosen from; training rows and labels."""
from dataclasses import asdict
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from socialforce.matching import FEATURES
from socialforce.matching.learn import GRID, Params
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    HouseholdFeedback,
    Impression,
    Order,
    OrderState,
    Outcome,
    Role,
    ServiceItem,
)
from socialforce.platform.services import dispatch, matching, ranker
from tests import factories

NOW = datetime(2026, 11, 2, 2, 0)


@pytest.fixture
def world():
    """Three counselling agencies, a household with a counselling item, town staff."""
    agencies = [factories.agency(name, hours=100.0) for name in ("甲社工机构", "乙社工机构", "丙社工机构")]
    item = factories.item(factories.household(), "counselling", description="丧偶后情绪低落，需要心理疏导")
    staff = factories.user("town-staff", Role.town_staff, town_id=factories.town().id)
    db.session.commit()
    matching.invalidate()
    return {"agencies": agencies, "item": item, "staff": staff}


def impressions(order: Order) -> list[Impression]:
    return db.session.scalars(sa.select(Impression).where(Impression.order_id == order.id)
                              .order_by(Impression.position)).all()


def finish(order: Order, state: OrderState, satisfaction: int | None = None, assessment: int = 5) -> None:
    """End the order; a completed one gets the provider's own assessment and (if given) the household's rating."""
    order.state = state
    if state == OrderState.completed:
        db.session.add(Outcome(order_id=order.id, source="provider", resolved="yes", goal_attainment=1,
                               assessment=assessment, recorded_at=NOW))
    if satisfaction is not None:
        db.session.add(HouseholdFeedback(order_id=order.id, satisfaction=satisfaction, channel="staff_phone",
                                         recorded_at=NOW))
    db.session.flush()


def test_a_dispatch_keeps_every_shown_candidate_with_its_position_and_features(world):
    shown = matching.rank_item(world["item"], now=NOW, k=3)
    assert len(shown) == 3
    order = dispatch.dispatch(world["item"], shown[1], world["staff"], NOW, shown=shown)
    kept = impressions(order)
    assert [(i.provider_id, i.position, i.score) for i in kept] == [(c.provider_id, c.rank, c.score) for c in shown]
    assert all(len(i.features) == len(FEATURES) for i in kept)
    assert kept[1].features == [r["value"] for f in FEATURES for r in shown[1].reasons["reasons"] if r["feature"] == f]


def test_the_chosen_candidate_is_kept_even_when_it_was_not_in_the_list(world):
    ranked = matching.rank_item(world["item"], now=NOW, k=3)
    order = dispatch.dispatch(world["item"], ranked[2], world["staff"], NOW, shown=ranked[:2])
    assert [i.position for i in impressions(order)] == [1, 2, 3]


def test_a_volunteer_task_keeps_no_list(world):
    item = factories.item(factories.household(), "daily_care", description="打扫卫生")
    db.session.commit()
    order = dispatch.dispatch(item, dispatch.Choice(provider_id=None), world["staff"], NOW)
    assert impressions(order) == []


def test_only_the_dispatched_candidate_of_a_well_rated_order_is_positive(world):
    shown = matching.rank_item(world["item"], now=NOW, k=3)
    order = dispatch.dispatch(world["item"], shown[1], world["staff"], NOW, shown=shown)
    assert len(ranker.training_log()) == 0  # still open: not a training row yet
    finish(order, OrderState.completed, satisfaction=5)
    log = ranker.training_log()
    assert log.query.tolist() == [order.id] * 3
    assert log.position.tolist() == [0, 1, 2]
    assert log.label.tolist() == [False, True, False]
    assert len(ranker.training_log(until=NOW)) == 0  # dispatched at NOW, not before


@pytest.mark.parametrize(("state", "satisfaction"), [(OrderState.completed, 3), (OrderState.declined, None),
                                                      (OrderState.cancelled, None)])
def test_a_declined_cancelled_or_poorly_rated_order_gives_only_negatives(world, state, satisfaction):
    shown = matching.rank_item(world["item"], now=NOW, k=3)
    order = dispatch.dispatch(world["item"], shown[0], world["staff"], NOW, shown=shown)
    finish(order, state, satisfaction)
    log = ranker.training_log()
    assert len(log) == 3 and not log.label.any()


def test_only_the_households_rating_labels_a_completed_order(world):
    shown = matching.rank_item(world["item"], now=NOW, k=3)
    order = dispatch.dispatch(world["item"], shown[0], world["staff"], NOW, shown=shown)
    finish(order, OrderState.completed, assessment=5)  # the provider is pleased; the household was not asked yet
    assert len(ranker.training_log()) == 0  # no label yet: the list waits for the follow-up
    db.session.add(HouseholdFeedback(order_id=order.id, satisfaction=2, channel="assistant_visit", recorded_at=NOW))
    db.session.flush()
    log = ranker.training_log()
    assert len(log) == 3 and not log.label.any()  # the household's 2 decides, not the provider's 5


def test_a_redispatch_keeps_the_list_it_chose_from(world):
    shown = matching.rank_item(world["item"], now=NOW, k=3)
    first = dispatch.dispatch(world["item"], shown[0], world["staff"], NOW, shown=shown)
    dispatch.sweep_overdue(NOW + timedelta(hours=49))
    second = db.session.scalar(sa.select(Order).where(Order.item_id == world["item"].id, Order.id != first.id))
    kept = impressions(second)
    assert [i.position for i in kept] == [1, 2]  # the provider that let it expire is out of the new list
    assert second.provider_id == kept[0].provider_id != first.provider_id


def test_weekly_retraining_on_the_demo_history_takes_over_and_ranks(app):
    from socialforce.platform.seed import DEMO_TODAY, seed_demo

    seed_demo(0.05)
    db.session.commit()
    now = datetime.combine(DEMO_TODAY, datetime.min.time())
    result = ranker.retrain(now)
    assert result["trained"] and result["active"] and result["rows"] >= 5000
    assert result["ndcg10_learned"] > result["ndcg10_random"] and result["ndcg10_cold_start"] > result["ndcg10_random"]
    assert ranker.active_ranker().params == Params(**result["params"])  # chosen on the training period's last slice
    assert result["params"] in [asdict(p) for p in GRID]
    basis = ranker.ranking_basis()
    assert basis.model.version == result["version"] and basis.model.metrics["ndcg10_learned"] == result["ndcg10_learned"]
    open_items = db.session.scalars(sa.select(ServiceItem).where(ServiceItem.status == "open")
                                    .order_by(ServiceItem.id).limit(100))
    ranked = next(r for r in (matching.rank_item(it, now=now, k=5) for it in open_items) if r)
    assert {c.model_version for c in ranked} == {result["version"]}
