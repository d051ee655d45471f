"""Benchmark: `python -m benchmarks.matching --scale 1.0` prints one JSON line.

Builds (or loads from a cache file) a synthetic Tengzhou-scale problem, then runs the county-wide batch (index
build, ranking, the exact assignment with its LP-bound certificate) and measures it: the greedy baselines
(`greedy_utility` is arrival order, what dispatching items one by one as they come yields; priority order and
pair order, the strongest greedy, are reported beside it), priority coverage, the independent constraint check,
single-item ranking on the warm index, and the learned ranker's offline evaluation (`evaluate_over_seeds`:
mean and sd of NDCG@10 over --seeds synthetic histories, each split by time, hyper-parameters chosen on a
validation slice of its training period).

total_s is the wall-clock time of the batch (build_s + rank_s + assign_s, problem generation excluded) and
total_cpu_s its process CPU time (all threads); bench_s and bench_cpu_s are the same for everything, measurements
included. load_avg_1m is the machine's load: on a shared machine the wall-clock figures include waiting for a core.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import resource
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.synthetic import Problem, make_history, make_problem
from socialforce.matching import check
from socialforce.matching.assign import (
    TOP_K,
    assign_greedy,
    coverage,
    high_priority_ids,
    max_coverage,
    solve_batch,
)
from socialforce.matching.evaluate import evaluate_over_seeds
from socialforce.matching.index import MatchIndex
from socialforce.matching.transport import GAP_TOLERANCE

CACHE_VERSION = 5
"""Bumped when the cached problem's classes or values change: 5, the engine types have slots (a v4 pickle does
not load into them) and equal texts, sets and dates are shared."""
LEARN_QUERIES = 2_000
"""Logged lists per seed of the learning evaluation (5 seeds, about 40k shown candidates each): enough to separate
the rankers, small enough that the evaluation adds about a minute of CPU to the bench."""


def load_problem(scale: float, seed: int, cache_dir: Path) -> tuple[Problem, bool]:
    """The synthetic problem from the cache file, or generated and cached; (problem, was_cached)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"problem-v{CACHE_VERSION}-scale{scale:g}-seed{seed}.pickle"
    if path.exists():
        return pickle.loads(path.read_bytes()), True  # noqa: S301 - our own cache file
    problem = make_problem(scale, seed)
    path.write_bytes(pickle.dumps(problem, protocol=pickle.HIGHEST_PROTOCOL))
    return problem, False


def run(scale: float, seed: int, k: int, queries: int, cache_dir: Path, seeds: int = 5, learn: bool = True) -> dict:
    """Run the whole benchmark and return its figures (`learn` False: without the learning evaluation)."""
    problem, cached = load_problem(scale, seed, cache_dir)
    items, offers, context = problem.items, problem.offers, problem.context
    per_provider = Counter(o.provider_id for o in offers)
    out: dict = {"scale": scale, "items": len(items), "providers": len(per_provider), "offers": len(offers),
                 "multi_offer_providers": sum(n > 1 for n in per_provider.values()), "top_k": k,
                 "problem_cached": cached}
    start, start_cpu = time.perf_counter(), time.process_time()

    t = time.perf_counter()
    index = MatchIndex.build(offers, context)
    out["build_s"] = time.perf_counter() - t

    t = time.perf_counter()
    table = index.candidate_table(items, k)
    out["rank_s"] = time.perf_counter() - t
    out["candidate_pairs"] = len(table)

    t = time.perf_counter()
    batch = solve_batch(items, index, k, table)
    out["assign_s"] = time.perf_counter() - t
    out["total_s"], out["total_cpu_s"] = time.perf_counter() - start, time.process_time() - start_cpu
    flow = batch.assignment
    gap = batch.lp_bound - flow.utility
    out.update(utility=flow.utility, lp_bound=batch.lp_bound, utility_ratio=flow.utility / batch.lp_bound,
               optimality_gap=gap, optimality_gap_rel=gap / batch.lp_bound,
               pro_rata_bound=batch.pro_rata_bound, tolerance=GAP_TOLERANCE,
               flow_gap_rel=1 - (flow.utility + batch.repair_loss) / batch.pro_rata_bound,
               repair_loss=batch.repair_loss, team_items=sum(it.slots_needed > 1 for it in items),
               partially_served_items=batch.partially_served_items, dropped_short_teams=batch.dropped_short_teams,
               hopeless_teams=batch.hopeless_teams, cg_rounds=batch.rounds, streamed_items=batch.streamed_items,
               assigned_pairs=len(flow.pairs))

    t = time.perf_counter()
    greedy = assign_greedy(items, index, k, table)
    out["greedy_s"] = time.perf_counter() - t
    out["greedy_utility"] = greedy.utility
    out["flow_over_greedy"] = flow.utility / greedy.utility if greedy.utility else None
    for order in ("priority", "pairs"):
        other = assign_greedy(items, index, k, table, order=order).utility
        out[f"greedy_{order}_utility"] = other
        out[f"flow_over_greedy_{order}"] = flow.utility / other if other else None

    t = time.perf_counter()
    top = high_priority_ids(items)
    achieved, proven = max_coverage(items, index, top, k, table)
    out.update(high_priority_items=len(top), high_priority_coverage=coverage(flow, top),
               max_high_priority_coverage=proven, max_high_priority_coverage_achieved=achieved,
               greedy_high_priority_coverage=coverage(greedy, top), coverage_s=time.perf_counter() - t)

    t = time.perf_counter()
    out["constraint_violations"] = check.violations(items, offers, context, flow)
    out["greedy_constraint_violations"] = check.violations(items, offers, context, greedy)
    out["check_s"] = time.perf_counter() - t

    rng = np.random.default_rng(seed)
    times = []
    for i in rng.choice(len(items), size=min(200, len(items)), replace=False):
        fresh = replace(items[i], id=900_000_000 + int(i))
        t = time.perf_counter()
        index.rank(fresh, 10)
        times.append((time.perf_counter() - t) * 1000)
    out["single_item_p95_ms"] = float(np.percentile(times, 95))
    out["single_item_p50_ms"] = float(np.percentile(times, 50))

    if learn:
        t, t_cpu = time.perf_counter(), time.process_time()
        out.update(evaluate_over_seeds(lambda s: make_history(problem, index, n_queries=queries, seed=s),
                                       range(seed + 1, seed + 1 + seeds)), learn_queries_per_seed=queries,
                   learn_s=time.perf_counter() - t, learn_cpu_s=time.process_time() - t_cpu)

    out["bench_s"], out["bench_cpu_s"] = time.perf_counter() - start, time.process_time() - start_cpu
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.update(cpu_count=os.cpu_count(), load_avg_1m=os.getloadavg()[0], python=platform.python_version())
    return {key: (_figure(v) if isinstance(v, float) else v) for key, v in out.items()}


def _figure(v: float) -> float:
    """6 decimals, or 3 significant digits for smaller figures (relative gaps)."""
    return round(v, 6) if abs(v) >= 1e-3 or v == 0 else float(f"{v:.3g}")


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=TOP_K)
    parser.add_argument("--queries", type=int, default=LEARN_QUERIES, help="logged lists per learning seed")
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the learning evaluation")
    parser.add_argument("--no-learn", action="store_true", help="skip the learning evaluation")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "socialforce-matching")
    args = parser.parse_args()
    print(json.dumps(run(args.scale, args.seed, args.k, args.queries, args.cache_dir, args.seeds,
                         learn=not args.no_learn)))


if __name__ == "__main__":
    main()
