"""The learned ranker: gradient-boosted trees on past orders' outcomes, corrected for position bias.

Positive outcome = accepted, completed and rated >= 4. Lists were shown ranked, and a provider shown at
0-based position p looks at the order with propensity e = (1 / (1 + p)) ** ETA. The naive model learns
P(relevant) x e, i.e. partly the old ranking; the correction (`LearnedRanker.fit`) is regression EM with these
known propensities, so the model learns relevance. It replaces weighting positives by 1 / e with negatives at 1,
which is biased (it learns the odds r / (1 - r e), not r / (1 - r)) and noisy: on the synthetic history it did
worse than no correction (NDCG@10 -0.002 to -0.007 on three seeds), one EM step did better (+0.001 to +0.004).
ETA = 1.0 is documented, not estimated (it matches the simulated history; re-estimate it from a small
randomised-order experiment once the platform has one).
"""
from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits  # a scikit-learn dependency

from socialforce.matching.features import FEATURES
from socialforce.matching.index import MatchIndex
from socialforce.matching.taxonomy import CATEGORIES, PROVIDER_KINDS
from socialforce.matching.types import Candidate, Item, Reason

MIN_OUTCOMES = 5_000
"""The learned ranker takes over from the cold-start scorer once it was trained on at least this many
logged outcomes (shown candidates whose order reached a final state)."""
ETA = 1.0
RERANK_POOL = 50
MIN_PROPENSITY = 0.1
"""When a real log's held-out lists are weighted by inverse propensity (evaluate.evaluate), propensities are clipped
at 0.1 (weights <= 10) to bound the variance of the estimate."""
EM_STEPS = 1
"""EM steps of the position-bias correction (each one more fit on twice the rows)."""
MAX_RELEVANCE = 0.999
"""Relevance estimates are capped below 1 so the E-step's posterior stays defined at position 0 (e = 1)."""
MONOTONE: dict[str, int] = {"text": 1, "distance": -1, "pairing": 1, "continuity": 1, "track_record": 1,
                             "priority": 0, "load": 1}
"""Monotonic constraints (+1 rising, -1 falling, 0 free) per feature: domain knowledge that a closer, better
matching, better-rated, less loaded provider, or the household's pairing unit or earlier provider, is never
less likely to succeed, all else equal. It keeps the trees from fitting noise in sparse regions (offline on
the synthetic history: NDCG@10 0.774 -> 0.777, with the same data and hyperparameters). Whether they are used
is a hyper-parameter (`Params.monotone`) chosen on a validation slice of the training period."""
OPENMP_THREADS = 1
"""OpenMP threads for the trees: on a small shared server, spinning OpenMP workers oversubscribe the
cores (a 2-core machine under load took 76 s instead of 4.7 s to fit 30k rows)."""


@dataclass(frozen=True)
class Params:
    """Hyper-parameters of the trees (the defaults are the ones used before validation-slice tuning)."""

    learning_rate: float = 0.08
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 40
    monotone: bool = True


GRID: tuple[Params, ...] = (Params(), Params(monotone=False), Params(0.05, 15, 200))
"""The candidates `evaluate.choose_params` tries: the historical setting, the same without the monotonic
constraints, and a smoother one (each candidate costs a corrected fit, so the grid stays small)."""


@dataclass(frozen=True)
class LoggedRow:
    """One candidate shown in a ranked list: its raw features (FEATURES order) and what happened."""

    query_id: int
    day: date
    position: int
    values: tuple[float, ...]
    category: str
    provider_kind: str
    label: bool


@dataclass(frozen=True)
class LoggedOutcomes:
    """The log as columns; `relevant` (the outcome had it been examined) exists only in simulations."""

    query: np.ndarray
    day: np.ndarray
    position: np.ndarray
    values: np.ndarray
    category: np.ndarray
    kind: np.ndarray
    label: np.ndarray
    relevant: np.ndarray | None = None

    @classmethod
    def from_rows(cls, rows: Sequence[LoggedRow]) -> LoggedOutcomes:
        """Columns from row objects (what the platform builds from its orders table)."""
        return cls(query=np.array([r.query_id for r in rows], dtype=np.int64),
                   day=np.array([r.day.toordinal() for r in rows], dtype=np.int64),
                   position=np.array([r.position for r in rows], dtype=np.int64),
                   values=np.array([r.values for r in rows], dtype=np.float64).reshape(len(rows), len(FEATURES)),
                   category=np.array([category_code(r.category) for r in rows], dtype=np.int64),
                   kind=np.array([PROVIDER_KINDS.index(r.provider_kind) for r in rows], dtype=np.int64),
                   label=np.array([r.label for r in rows], dtype=bool))

    def __len__(self) -> int:
        return int(self.query.size)

    def subset(self, mask: np.ndarray) -> LoggedOutcomes:
        """The rows where mask is true."""
        return replace(self, **{f: getattr(self, f)[mask] for f in
                                ("query", "day", "position", "values", "category", "kind", "label")},
                       relevant=None if self.relevant is None else self.relevant[mask])


def category_code(category: str) -> int:
    """Index of a category in CATEGORIES (unknown categories share one extra code)."""
    return CATEGORIES.index(category) if category in CATEGORIES else len(CATEGORIES)


def propensity(position: np.ndarray, eta: float = ETA) -> np.ndarray:
    """P(the provider examines an order shown at 0-based position p) = (1 / (1 + p)) ** eta."""
    return (1.0 / (1.0 + np.asarray(position, dtype=np.float64))) ** eta


def _trees(params: Params, seed: int) -> HistGradientBoostingClassifier:
    """An unfitted model with these hyper-parameters (categorical category and kind codes last)."""
    return HistGradientBoostingClassifier(max_iter=200, learning_rate=params.learning_rate,
                                          max_leaf_nodes=params.max_leaf_nodes,
                                          min_samples_leaf=params.min_samples_leaf, l2_regularization=1.0,
                                          categorical_features=[len(FEATURES), len(FEATURES) + 1],
                                          monotonic_cst=[MONOTONE[f] if params.monotone else 0 for f in FEATURES]
                                          + [0, 0], early_stopping=False, random_state=seed)


def design(values: np.ndarray, category: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """Model inputs: the raw features, then category and provider kind codes (categorical)."""
    return np.column_stack([values, category.astype(np.float64), kind.astype(np.float64)])


class LearnedRanker:
    """P(positive outcome | features, the provider looked), corrected for position bias; versioned and dated."""

    def __init__(self, model: HistGradientBoostingClassifier, version: str, trained_at: datetime, eta: float,
                 n_outcomes: int, baseline: np.ndarray, params: Params = Params()) -> None:
        self.model, self.version, self.trained_at = model, version, trained_at
        self.eta, self.n_outcomes, self.baseline, self.params = eta, n_outcomes, baseline, params

    @classmethod
    def fit(cls, log: LoggedOutcomes, eta: float = ETA, seed: int = 0, version: str | None = None,
            ipw: bool = True, params: Params = Params()) -> LearnedRanker:
        """Train on logged outcomes; ipw=False gives the naive (position-biased) model for comparison.

        The correction (regression EM with the known propensities e): start from the naive P(label | x) / e, then
        EM_STEPS times: a shown row without a positive outcome was relevant with posterior r (1 - e) / (1 - r e),
        and the trees are refitted on these soft labels (each row once as positive, once as negative, weighted).
        """
        x = design(log.values, log.category, log.kind)
        with threadpool_limits(OPENMP_THREADS):
            model = _trees(params, seed).fit(x, log.label.astype(int))
            if ipw:
                examined = propensity(log.position, eta)
                relevant = np.minimum(model.predict_proba(x)[:, 1] / examined, MAX_RELEVANCE)
                both = np.r_[np.ones(len(log)), np.zeros(len(log))].astype(int)
                for step in range(EM_STEPS):
                    if step:
                        relevant = np.minimum(model.predict_proba(x)[:, 1], MAX_RELEVANCE)
                    soft = np.where(log.label, 1.0, relevant * (1 - examined) / (1 - relevant * examined))
                    model = _trees(params, seed).fit(np.vstack([x, x]), both, sample_weight=np.r_[soft, 1 - soft])
        now = datetime.now(UTC)
        return cls(model, version or f"hgb-{now:%Y%m%d%H%M%S}", now, eta, len(log),
                   np.median(log.values, axis=0), params)

    def score(self, values: np.ndarray, category: np.ndarray, kind: np.ndarray) -> np.ndarray:
        """Predicted probability of a positive outcome for each row (had the provider looked at the order)."""
        if len(values) == 0:
            return np.zeros(0)
        with threadpool_limits(OPENMP_THREADS):
            return self.model.predict_proba(design(values, category, kind))[:, 1]

    def rank(self, index: MatchIndex, item: Item, k: int = 10) -> list[Candidate]:
        """Re-rank the item's top RERANK_POOL cold-start candidates; reasons are one-at-a-time ablations.

        A feature's contribution is score - score with that feature set to the training median.
        """
        table = index.candidate_table([item], max(k, RERANK_POOL))
        if len(table) == 0:
            return []
        n, f = table.values.shape
        cat = np.full(n, category_code(item.category))
        kind = np.array([index.kind_codes[index.offer_pos[int(o)]] for o in table.offer_ids], dtype=np.int64)
        scores = self.score(table.values, cat, kind)
        order = np.lexsort((table.offer_ids, -scores))[:k]
        probe = np.repeat(table.values[order], f, axis=0)
        for j in range(f):
            probe[j::f, j] = self.baseline[j]
        ablated = self.score(probe, np.repeat(cat[order], f), np.repeat(kind[order], f)).reshape(order.size, f)
        out = []
        for row, i in enumerate(order):
            contrib = {name: float(scores[i] - ablated[row, j]) for j, name in enumerate(FEATURES)}
            reasons = tuple(Reason(name, contrib[name], float(table.values[i, j]))
                            for j, name in sorted(enumerate(FEATURES), key=lambda jf: (-contrib[jf[1]], jf[0])))
            out.append(Candidate(item_id=item.id, offer_id=int(table.offer_ids[i]),
                                 provider_id=int(table.provider_ids[i]), score=float(scores[i]),
                                 contributions=contrib, reasons=reasons))
        return out

    def save(self, path: str | Path) -> None:
        """Write the model with its version, training time, eta and outcome count (pickle)."""
        payload = {"version": self.version, "trained_at": self.trained_at.isoformat(), "eta": self.eta,
                   "n_outcomes": self.n_outcomes, "baseline": self.baseline, "model": self.model,
                   "params": asdict(self.params)}
        Path(path).write_bytes(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))

    @classmethod
    def load(cls, path: str | Path) -> LearnedRanker:
        """Read a model written by `save` (trusted files only: pickle; files from before tuning: default params)."""
        payload = pickle.loads(Path(path).read_bytes())  # noqa: S301 - our own model files
        return cls(payload["model"], payload["version"], datetime.fromisoformat(payload["trained_at"]),
                   payload["eta"], payload["n_outcomes"], payload["baseline"], Params(**payload.get("params", {})))


def choose_ranker(ranker: LearnedRanker | None) -> LearnedRanker | None:
    """The learned ranker if it was trained on at least MIN_OUTCOMES outcomes, else None (cold start)."""
    return ranker if ranker is not None and ranker.n_outcomes >= MIN_OUTCOMES else None
