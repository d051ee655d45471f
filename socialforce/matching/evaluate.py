"""Offline evaluation of rankers on logged lists: NDCG@k, recall@k, time and random splits, hyper-parameters
chosen on a validation slice of the training period, and the evaluation repeated over seeds."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from socialforce.matching.learn import (
    ETA,
    GRID,
    MIN_PROPENSITY,
    LearnedRanker,
    LoggedOutcomes,
    Params,
    propensity,
)
from socialforce.matching.scoring import cold_start_scores

VALIDATION_FRACTION = 0.2
"""Share of the training period's queries (its latest days) held back to choose hyper-parameters."""


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


def random_split(log: LoggedOutcomes, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) masks: whole lists drawn at random, about test_fraction of them in the test set."""
    queries = np.unique(log.query)
    chosen = np.random.default_rng(seed).choice(queries, size=round(test_fraction * queries.size), replace=False)
    test = np.isin(log.query, chosen)
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


def choose_params(log: LoggedOutcomes, eta: float = ETA, seed: int = 0,
                  grid: Sequence[Params] = GRID) -> tuple[Params, dict[Params, float]]:
    """The grid's best Params by NDCG@10 on the log's latest VALIDATION_FRACTION of days, fitted on the rest.

    Validation sees only what a real log holds (labels, inverse-propensity weighted), never simulated relevance.
    """
    fit, validation = time_split(log, VALIDATION_FRACTION)
    if not fit.any() or not validation.any():
        return grid[0], {}
    train, held = log.subset(fit), replace(log.subset(validation), relevant=None)
    found = {}
    for params in grid:
        model = LearnedRanker.fit(train, eta=eta, seed=seed, params=params)
        found[params] = evaluate(held, model.score(held.values, held.category, held.kind))[0]
    return max(grid, key=lambda p: (found[p], -grid.index(p))), found


def held_out_scores(log: LoggedOutcomes, seed: int = 0) -> tuple[LoggedOutcomes, dict[str, np.ndarray], Params]:
    """The log's latest 20% of days, its scores by the tuned learned ranker fitted on the earlier days, the same
    without the position-bias correction (same Params), the cold-start scorer and a random order (in a simulation
    also `full_information`, trained on the relevance of every shown row), and the Params."""
    train, test = time_split(log)
    earlier, held = log.subset(train), log.subset(test)
    params = choose_params(earlier, seed=seed)[0]
    models = {name: LearnedRanker.fit(earlier, seed=seed, ipw=ipw, params=params)
              for name, ipw in (("learned", True), ("learned_no_ipw", False))}
    if earlier.relevant is not None:  # a simulation: the ceiling, trained as if every shown order had been looked at
        models["full_information"] = LearnedRanker.fit(replace(earlier, label=earlier.relevant), seed=seed, ipw=False,
                                                       params=params)
    scores = {name: m.score(held.values, held.category, held.kind) for name, m in models.items()}
    scores.update(cold_start=cold_start_scores(held.values),
                  random=np.random.default_rng(seed).uniform(size=len(held)))
    return held, scores, params


def evaluate_over_seeds(make_log: Callable[[int], LoggedOutcomes], seeds: Sequence[int], k: int = 10) -> dict:
    """NDCG@k on the held-out latest days (held_out_scores) for each seed's log, as mean and sd over seeds.

    Also: ipw_gain (learned minus learned without the correction, mean over seeds), position_bias_cost (full
    information minus learned without the correction: what ignoring the bias costs), the learned ranker's NDCG@k
    when the test lists are drawn at random instead (`_random_split`, same Params: what a random split would
    have claimed) and the share of seeds where the validation slice chose the monotonic constraints.
    """
    per: dict[str, list[float]] = {}
    for seed in seeds:
        log = make_log(seed)
        held, scores, params = held_out_scores(log, seed)
        for name, s in scores.items():
            per.setdefault(name, []).append(evaluate(held, s, k)[0])
        train, test = random_split(log, seed=seed)
        shuffled = log.subset(test)
        model = LearnedRanker.fit(log.subset(train), seed=seed, params=params)
        per.setdefault("learned_random_split", []).append(
            evaluate(shuffled, model.score(shuffled.values, shuffled.category, shuffled.kind), k)[0])
        per.setdefault("monotone", []).append(float(params.monotone))
    gain = np.subtract(per["learned"], per["learned_no_ipw"])
    out: dict = {"seeds": len(seeds), "monotone_chosen_share": float(np.mean(per.pop("monotone")))}
    for name, values in per.items():
        out[f"ndcg{k}_{name}_mean"] = float(np.mean(values))
        out[f"ndcg{k}_{name}_sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    out.update(ipw_gain=float(gain.mean()), ipw_gain_sd=float(gain.std(ddof=1)) if gain.size > 1 else 0.0,
               ipw_gain_positive_seeds=int((gain > 0).sum()),
               position_bias_cost=float(np.mean(np.subtract(per.get("full_information", per["learned_no_ipw"]),
                                                            per["learned_no_ipw"]))),
               learned_over_cold_start=out[f"ndcg{k}_learned_mean"] / out[f"ndcg{k}_cold_start_mean"])
    return out
