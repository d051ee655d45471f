"""The learned ranker in the platform: training data from orders and outcomes, weekly retraining, loading.

Every dispatch keeps the ranked list it was chosen from (impressions: each shown candidate's position and
features). Training rows are those impressions whose order reached a final state; one list is one query, and a
row's label is: this candidate was the one dispatched, the order was completed and the household rated it >= 4
at the follow-up (回访, services/feedback.py). The provider's assessment of its own service is never a label, and a
completed order whose household has not been asked yet is left out until it has. The candidates passed over are
the negatives that the chosen one alone cannot teach.

Each row also carries its provider's recent track record (HISTORY_FEATURES) as it stood when the list was ranked:
from the outcomes of the provider's orders known strictly before that time (`provider_outcomes`), so training and
ranking compute it the same way and a row never sees its own or later outcomes.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from flask import current_app

from socialforce.matching.evaluate import evaluate, held_out_scores
from socialforce.matching.features import FEATURES, recent_record
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
from socialforce.platform.models.orders import DONE_STATES, FINAL_STATES, OrderState
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


def days(when: datetime) -> float:
    """A time as fractional day ordinals (the unit of `features.recent_record`)."""
    midnight = datetime.combine(when.date(), datetime.min.time())
    return when.toordinal() + (when - midnight).total_seconds() / 86_400


def provider_outcomes(provider_ids: Collection[int] | None = None,
                      before: datetime | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(provider, time in days, success) of every outcome of an order a provider looked at, known before `before`.

    A declined order failed when the provider answered; a completed order's outcome is known when the household
    rated it (success: >= 4). Expired orders (never looked at), cancelled ones and completed ones not yet rated
    are no outcome of the provider's.
    """
    declined = (sa.select(Order.provider_id, sa.func.coalesce(Order.responded_at, Order.updated_at).label("at"),
                          sa.literal(False).label("good"))
                .where(Order.state == OrderState.declined, Order.provider_id.is_not(None)))
    rated = (sa.select(Order.provider_id, HouseholdFeedback.recorded_at.label("at"),
                       (HouseholdFeedback.satisfaction >= 4).label("good"))
             .join(HouseholdFeedback, HouseholdFeedback.order_id == Order.id)
             .where(Order.state.in_(DONE_STATES), Order.provider_id.is_not(None)))
    if provider_ids is not None:
        declined = declined.where(Order.provider_id.in_(list(provider_ids)))
        rated = rated.where(Order.provider_id.in_(list(provider_ids)))
    rows = [r for q in (declined, rated) for r in db.session.execute(q)
            if r.at is not None and (before is None or r.at < before)]
    return (np.array([r.provider_id for r in rows], dtype=np.int64), np.array([days(r.at) for r in rows]),
            np.array([bool(r.good) for r in rows], dtype=bool))


def recent_history(now: datetime) -> Callable[[np.ndarray], np.ndarray]:
    """Provider ids -> their HISTORY_FEATURES now (what `LearnedRanker.rank` takes)."""
    def history(provider_ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(provider_ids, dtype=np.int64)
        events = provider_outcomes({int(p) for p in ids}, before=now)
        return recent_record(*events, ids, np.full(ids.size, days(now)))
    return history


def training_log(until: datetime | None = None) -> LoggedOutcomes:
    """Shown candidates with their outcomes, from lists whose order reached a final state (dispatched before
    `until`); a row is positive when it was the candidate dispatched and the household was satisfied (>= 4).
    Completed orders without the household's follow-up are skipped: their label is not known yet. Each row's
    history is its provider's recent track record from outcomes known strictly before the list's dispatch."""
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
    rows, providers, at = [], [], []
    for r in db.session.execute(query).yield_per(5000):
        if len(r.features) != len(FEATURES):
            continue
        providers.append(r.provider_id)
        at.append(days(r.dispatched_at))
        good = r.sat is not None and r.sat >= 4
        rows.append(LoggedRow(query_id=r.order_id, day=r.dispatched_at.date(), position=r.position - 1,
                              values=tuple(float(v) for v in r.features), category=r.code,
                              provider_kind=r.kind.value, label=good and r.provider_id == r.chosen))
    provider = np.array(providers, dtype=np.int64)
    history = recent_record(*provider_outcomes(set(providers), before=until), provider, np.array(at))
    return replace(LoggedOutcomes.from_rows(rows), provider=provider, history=history)


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
