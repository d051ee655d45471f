"""The learned ranker in the platform: training data from orders and outcomes, weekly retraining, loading.

Every dispatch keeps the ranked list it was chosen from (impressions: each shown candidate's position and
features). Training rows are those impressions whose order reached a final state; one list is one query, and a
row's label is: this candidate was the one dispatched, the order was completed and the household rated it >= 4
at the follow-up (回访, services/feedback.py). The provider's assessment of its own service is never a label, and a
completed order whose household has not been asked yet is left out until it has. The candidates passed over are
the negatives that the chosen one alone cannot teach.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from socialforce.matching.evaluate import evaluate, held_out_scores
from socialforce.matching.features import FEATURES
from socialforce.matching.learn import MIN_OUTCOMES, LearnedRanker, LoggedOutcomes, LoggedRow
from socialforce.matching.scoring import COLD_START_WEIGHTS
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    HouseholdFeedback,
    Impression,
    Order,
    Provider,
    RankerModel,
    ServiceCategory,
    ServiceItem,
)
from socialforce.platform.models.orders import DONE_STATES, FINAL_STATES
from socialforce.platform.services import audit
from socialforce.platform.services.candidates import Choice

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
    `until`); a row is positive when it was the candidate dispatched and the household was satisfied (>= 4).
    Completed orders without the household's follow-up are skipped: their label is not known yet."""
    query = (sa.select(Impression.order_id, Impression.provider_id, Impression.position, Impression.features,
                       Order.provider_id.label("chosen"), Order.dispatched_at, Order.state, ServiceCategory.code,
                       Provider.kind, HouseholdFeedback.satisfaction.label("sat"))
             .join(Order, Order.id == Impression.order_id)
             .join(ServiceItem, ServiceItem.id == Order.item_id)
             .join(ServiceCategory, ServiceCategory.id == ServiceItem.category_id)
             .join(Provider, Provider.id == Impression.provider_id)
             .outerjoin(HouseholdFeedback, HouseholdFeedback.order_id == Order.id)
             .where(Order.state.in_(FINAL_STATES), Order.dispatched_at.is_not(None),
                    sa.or_(Order.state.not_in(DONE_STATES), HouseholdFeedback.id.is_not(None)))
             .order_by(Order.dispatched_at, Impression.order_id, Impression.position))
    if until is not None:
        query = query.where(Order.dispatched_at < until)
    rows = []
    for r in db.session.execute(query).yield_per(5000):
        if len(r.features) != len(FEATURES):
            continue
        good = r.sat is not None and r.sat >= 4
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
    """Fit on all but the latest 20% of days with hyper-parameters chosen on the latest 20% of those, evaluate on
    the held-out days (with and without the position-bias correction, against the cold-start scorer and a random
    order), refit on everything with those hyper-parameters, save and register."""
    log = training_log(now)
    if len(log) < MIN_TRAINING_ROWS:
        return {"trained": False, "rows": len(log)}
    held_out, scores, params = held_out_scores(log)
    metrics = {"rows": len(log), "test_rows": len(held_out), "params": asdict(params)}
    if len(held_out) and len(held_out) < len(log):
        for name, s in scores.items():
            ndcg, recall = evaluate(held_out, s)
            metrics[f"ndcg10_{name}"], metrics[f"recall10_{name}"] = round(ndcg, 4), round(recall, 4)
            metrics[f"recall3_{name}"] = round(evaluate(held_out, s, 3)[1], 4)  # lists hold <= 10
    ranker = LearnedRanker.fit(log, version=f"hgb-{now:%Y%m%d%H%M}", params=params)
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
