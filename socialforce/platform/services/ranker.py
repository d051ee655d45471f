"""The learned ranker in the platform: training data from orders and outcomes, weekly retraining, loading.

Every dispatch keeps the ranked list it was chosen from (impressions: each shown candidate's position and
features). Training rows are those impressions whose order reached a final state; one list is one query, and a
row's label is: this candidate was the one dispatched, and the order was completed and rated >= 4 on average.
The candidates passed over are the negatives that the chosen one alone cannot teach.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import sqlalchemy as sa
from flask import current_app

from socialforce.matching.evaluate import evaluate, time_split
from socialforce.matching.features import FEATURES
from socialforce.matching.learn import MIN_OUTCOMES, LearnedRanker, LoggedOutcomes, LoggedRow
from socialforce.matching.scoring import COLD_START_WEIGHTS, cold_start_scores
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Impression,
    Order,
    OrderState,
    Outcome,
    Provider,
    RankerModel,
    ServiceCategory,
    ServiceItem,
)
from socialforce.platform.services import audit

if TYPE_CHECKING:
    from socialforce.platform.services.dispatch import Choice

FINAL_STATES = (OrderState.declined, OrderState.expired, OrderState.completed, OrderState.evaluated,
                OrderState.cancelled)
MIN_TRAINING_ROWS = 200
_loaded: dict[str, LearnedRanker] = {}


def logged_values(reasons: dict | None) -> tuple[float, ...] | None:
    """The raw feature values (FEATURES order) logged with an order's ranking, or None if not logged."""
    if not reasons or "reasons" not in reasons:
        return None
    values = {r["feature"]: float(r["value"]) for r in reasons["reasons"]}
    if not all(f in values for f in FEATURES):
        return None
    return tuple(values[f] for f in FEATURES)


def record_shown(order: Order, shown: Sequence[Choice]) -> None:
    """Keep every ranked candidate of the list the order was dispatched from (those with logged features)."""
    db.session.add_all(Impression(order_id=order.id, provider_id=c.provider_id, position=c.rank, score=c.score or 0.0,
                                  features=list(values))
                       for c in shown if c.rank is not None and (values := logged_values(c.reasons)) is not None)


def training_log(until: datetime | None = None) -> LoggedOutcomes:
    """Shown candidates with their outcomes, from lists whose order reached a final state (dispatched before
    `until`); a row is positive when it was the candidate dispatched and the order ended well."""
    satisfaction = (sa.select(Outcome.order_id, sa.func.avg(Outcome.satisfaction).label("sat"))
                    .group_by(Outcome.order_id).subquery())
    query = (sa.select(Impression.order_id, Impression.provider_id, Impression.position, Impression.features,
                       Order.provider_id.label("chosen"), Order.dispatched_at, Order.state, ServiceCategory.code,
                       Provider.kind, satisfaction.c.sat)
             .join(Order, Order.id == Impression.order_id)
             .join(ServiceItem, ServiceItem.id == Order.item_id)
             .join(ServiceCategory, ServiceCategory.id == ServiceItem.category_id)
             .join(Provider, Provider.id == Impression.provider_id)
             .outerjoin(satisfaction, satisfaction.c.order_id == Order.id)
             .where(Order.state.in_(FINAL_STATES), Order.dispatched_at.is_not(None))
             .order_by(Order.dispatched_at, Impression.order_id, Impression.position))
    if until is not None:
        query = query.where(Order.dispatched_at < until)
    rows = []
    for r in db.session.execute(query).yield_per(5000):
        if len(r.features) != len(FEATURES):
            continue
        good = r.state in (OrderState.completed, OrderState.evaluated) and (r.sat or 0) >= 4
        rows.append(LoggedRow(query_id=r.order_id, day=r.dispatched_at.date(), position=r.position - 1,
                              values=tuple(float(v) for v in r.features), category=r.code,
                              provider_kind=r.kind.value, label=good and r.provider_id == r.chosen))
    return LoggedOutcomes.from_rows(rows)


def model_dir() -> Path:
    """Where model files live (the instance folder)."""
    path = Path(current_app.instance_path) / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def retrain(now: datetime) -> dict:
    """Fit on all but the latest 20% of days, evaluate on those (with and without the position-bias correction,
    against the cold-start scorer and a random order), refit on everything, save and register."""
    log = training_log(now)
    if len(log) < MIN_TRAINING_ROWS:
        return {"trained": False, "rows": len(log)}
    train, test = time_split(log)
    held_out = log.subset(test)
    metrics = {"rows": len(log), "test_rows": int(test.sum())}
    if train.any() and test.any():
        learned, naive = (LearnedRanker.fit(log.subset(train), ipw=ipw) for ipw in (True, False))
        rng = np.random.default_rng(0)
        for name, scores in (("learned", learned.score(held_out.values, held_out.category, held_out.kind)),
                             ("learned_no_ipw", naive.score(held_out.values, held_out.category, held_out.kind)),
                             ("cold_start", cold_start_scores(held_out.values)), ("random", rng.random(len(held_out)))):
            ndcg, recall = evaluate(held_out, scores)
            metrics[f"ndcg10_{name}"], metrics[f"recall10_{name}"] = round(ndcg, 4), round(recall, 4)
            metrics[f"recall3_{name}"] = round(evaluate(held_out, scores, 3)[1], 4)  # lists hold <= 10
    ranker = LearnedRanker.fit(log, version=f"hgb-{now:%Y%m%d%H%M}")
    path = model_dir() / f"{ranker.version}.pkl"
    ranker.save(path)
    active = len(log) >= MIN_OUTCOMES
    if active:
        db.session.execute(sa.update(RankerModel).values(active=False))
    db.session.add(RankerModel(version=ranker.version, trained_at=now, trained_until=now.date(),
                               n_outcomes=len(log), path=str(path), metrics=metrics, active=active))
    audit.record("ranker_trained", None, "ranker_model", None, version=ranker.version, **metrics)
    return {"trained": True, "version": ranker.version, "active": active, **metrics}


@dataclass(frozen=True)
class RankingBasis:
    """What ranks candidates now: the active learned model, or (model None) the cold-start scorer's weights."""

    model: RankerModel | None
    cold_start_weights: Mapping[str, float]
    min_outcomes: int


def ranking_basis() -> RankingBasis:
    """What ranks candidates now, for staff to see beside every ranking."""
    return RankingBasis(active_model(), COLD_START_WEIGHTS, MIN_OUTCOMES)


def active_model() -> RankerModel | None:
    """The registered model that ranks now, or None while cold-starting (none active, or its file is gone)."""
    row = db.session.scalar(sa.select(RankerModel).where(RankerModel.active).order_by(RankerModel.id.desc()))
    return row if row is not None and Path(row.path).exists() else None


def active_ranker() -> LearnedRanker | None:
    """The active learned ranker (cached per process by version), or None while cold-starting."""
    row = active_model()
    if row is None:
        return None
    if row.version not in _loaded:
        _loaded.clear()
        _loaded[row.version] = LearnedRanker.load(row.path)
    return _loaded[row.version]
