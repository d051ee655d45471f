"""Benchmark: `python -m benchmarks.learning --scale 1.0` prints one JSON line: the learning evaluation alone.

The same evaluation as `benchmarks.matching`'s learning part (`evaluate_over_seeds` on --seeds synthetic histories
of --queries lists, split by time, hyper-parameters chosen on a validation slice), on the same cached problem, with
and without the providers' recent track record (HISTORY_FEATURES), so the two can be compared on one machine
state. Reports CPU time beside wall time and the load average (a shared machine inflates wall time).
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.matching import LEARN_QUERIES, _figure, load_problem
from benchmarks.synthetic import make_history
from socialforce.matching.evaluate import evaluate_over_seeds
from socialforce.matching.index import MatchIndex


def run(scale: float, seed: int, queries: int, seeds: int, cache_dir: Path, compare: bool = True) -> dict:
    """The learning evaluation with the history features and (compare) without them, plus timings."""
    problem, _ = load_problem(scale, seed, cache_dir)
    index = MatchIndex.build(problem.offers, problem.context)
    logs = {s: make_history(problem, index, n_queries=queries, seed=s) for s in range(seed + 1, seed + 1 + seeds)}
    out: dict = {"scale": scale, "learn_queries_per_seed": queries, "load_avg_start": os.getloadavg()[0]}
    variants = {"": lambda s: logs[s]}
    if compare:
        variants["without_history_"] = lambda s: replace(logs[s], history=None)
    for prefix, make in variants.items():
        t, t_cpu = time.perf_counter(), time.process_time()
        found = evaluate_over_seeds(make, sorted(logs))
        out.update({f"{prefix}{k}": v for k, v in found.items()})
        out[f"{prefix}learn_s"], out[f"{prefix}learn_cpu_s"] = time.perf_counter() - t, time.process_time() - t_cpu
    out.update(load_avg_1m=os.getloadavg()[0], cpu_count=os.cpu_count())
    return {k: (_figure(v) if isinstance(v, float) else v) for k, v in out.items()}


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--queries", type=int, default=LEARN_QUERIES)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--no-compare", action="store_true", help="skip the run without the history features")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "socialforce-matching")
    args = parser.parse_args()
    print(json.dumps(run(args.scale, args.seed, args.queries, args.seeds, args.cache_dir, not args.no_compare)))


if __name__ == "__main__":
    main()
