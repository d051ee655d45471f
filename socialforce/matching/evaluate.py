"""Offline evaluation of rankers on logged lists: NDCG@k, recall@k and a time-based split."""
from __future__ import annotations

import numpy as np

from socialforce.matching.learn import MIN_PROPENSITY, LoggedOutcomes, propensity


def ndcg_at_k(relevance: np.ndarray, k: int = 10) -> float:
    """NDCG@k of one list, `relevance` given in the ranked order (gains 2^rel - 1, log2 discounts)."""
    rel = np.asarray(relevance, dtype=np.float64)
    discounts = 1.0 / np.log2(np.arange(2, min(k, rel.size) + 2))
    ideal = float(((2 ** np.sort(rel)[::-1][:k] - 1) * discounts).sum())
    return float(((2 ** rel[:k] - 1) * discounts).sum()) / ideal if ideal > 0 else 0.0


def recall_at_k(relevance: np.ndarray, k: int = 10) -> float:
    """Share of the list's relevant entries ranked in the top k (relevance in ranked order)."""
    rel = np.asarray(relevance, dtype=np.float64)
    total = rel.sum()
    return float(rel[:k].sum() / total) if total > 0 else 0.0


def time_split(log: LoggedOutcomes, test_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) masks: the test set is the most recent days, holding about test_fraction of queries."""
    query_days = np.unique(np.column_stack([log.query, log.day]), axis=0)[:, 1]
    cut = np.quantile(query_days, 1.0 - test_fraction)
    test = log.day > cut
    return ~test, test


def evaluate(log: LoggedOutcomes, scores: np.ndarray, k: int = 10) -> tuple[float, float]:
    """Mean NDCG@k and recall@k over the log's lists that hold at least one relevant entry.

    Each list is re-ranked by `scores` (ties: original position). In a simulation relevance is `log.relevant`
    (the outcome had the provider looked) and lists count equally. On a real log only the labels exist, and a
    positive is more likely near the top only because the top is looked at more: each list then counts with the
    inverse propensity of its positives' logged positions (clipped like training), which removes that bias.
    """
    simulated = log.relevant is not None
    rel = (log.relevant if simulated else log.label).astype(np.float64)
    inverse = 1.0 / np.maximum(propensity(log.position), MIN_PROPENSITY)
    order = np.lexsort((log.position, -scores, log.query))
    q, r, w = log.query[order], rel[order], inverse[order]
    starts = np.flatnonzero(np.r_[True, q[1:] != q[:-1]])
    ends = np.r_[starts[1:], q.size]
    ndcg, recall, weight = [], [], []
    for a, b in zip(starts, ends, strict=True):
        if r[a:b].sum() > 0:
            ndcg.append(ndcg_at_k(r[a:b], k))
            recall.append(recall_at_k(r[a:b], k))
            weight.append(1.0 if simulated else float(w[a:b][r[a:b] > 0].mean()))
    if not ndcg:
        return 0.0, 0.0
    return float(np.average(ndcg, weights=weight)), float(np.average(recall, weights=weight))
