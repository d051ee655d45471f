"""Benchmark: `python -m benchmarks.partitioned --counties 6 --scale 1.0` prints one JSON line.

Builds N counties, each a copy of the matching bench's synthetic problem (`benchmarks.synthetic`, seed 0, cached
like `benchmarks.matching`) moved to its own ids, towns, households and providers and 1 degree of latitude per
county (about 110 km, beyond every radius), so nothing crosses a county. The parent fits the text model once on
every county's offers (as the unpartitioned index does), splits the items (`partition.partition`, one part per
component packed into `--parts` parts, default the number of counties) and writes each part's problem to a file:
its items, the offers that may serve them (`partition.reachable`) with their context, and the text model. Then,
in fresh worker processes (spawn: a worker holds only what it loads, like a queue worker that loads its part):

- `whole`: the unpartitioned batch: one worker loads every item and offer, indexes them all and runs `solve_batch`;
- `workers_1`: the partitioned batch, one worker process loading, indexing (`partition.part_index`) and solving
  the parts in turn;
- `workers_2`: the same with two worker processes taking parts as they free up.

Each worker scores blocks on cores // workers threads (`threads_per_worker`; the platform's MATCH_THREADS), so
one worker on 2 cores uses 2 threads and two workers 1 each.

Per run: wall (`wall_s`, from handing the first part out to having the last result: loading and indexing
included), the workers' CPU time (`cpu_s`, summed over parts) and index time (`index_s`), peak RSS per worker
(`peak_rss_mb`, the largest VmHWM of any worker), utility, bound and utility / bound; the partitioned runs
add each part's figures and the utility against the unpartitioned one. `load_avg_1m` before and after: on a
shared machine wall times include waiting for a core.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import pickle
import platform
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.matching import load_problem
from benchmarks.synthetic import Problem
from socialforce.matching import index
from socialforce.matching.assign import TOP_K
from socialforce.matching.index import MatchIndex, fit_text
from socialforce.matching.partition import (
    PartResult,
    merge,
    part_context,
    part_index,
    partition,
    reachable,
    solve_part,
)
from socialforce.matching.types import Context, Item, Offer

ID_SHIFT = 10**9
"""Added once per county to item, offer, provider and household ids (the synthetic ids stay below it)."""
TOWN_SHIFT = 1000


def shifted(items: list[Item], offers: list[Offer], context: Context, *, ids: int, households: int,
            providers: int, towns: int, lat: float) -> tuple[list[Item], list[Offer], Context]:
    """A problem moved elsewhere: item, household, provider and town ids shifted, places `lat` degrees north."""
    items = [replace(it, id=it.id + ids, household_id=it.household_id + households, town_id=it.town_id + towns,
                     lat=it.lat + lat) for it in items]
    offers = [replace(o, id=o.id + ids, provider_id=o.provider_id + providers,
                      towns=frozenset(t + towns for t in o.towns), lat=o.lat + lat) for o in offers]
    pv, hh = providers, households
    context = replace(
        context, pairings=frozenset((p + pv, h + hh) for p, h in context.pairings),
        served_before=frozenset((p + pv, h + hh) for p, h in context.served_before),
        exclusions=frozenset((i + ids, p + pv) for i, p in context.exclusions),
        household_blocks=frozenset((h + hh, p + pv) for h, p in context.household_blocks),
        load={p + pv: n for p, n in context.load.items()},
        track_records={p + pv: replace(r, provider_id=p + pv) for p, r in context.track_records.items()})
    return items, offers, context


def joined(parts: list[tuple[list[Item], list[Offer], Context]]) -> tuple[list[Item], list[Offer], Context]:
    """Problems that share no ids as one problem."""
    contexts = [c for _i, _o, c in parts]
    context = Context(
        on_date=contexts[0].on_date,
        pairings=frozenset().union(*(c.pairings for c in contexts)),
        served_before=frozenset().union(*(c.served_before for c in contexts)),
        exclusions=frozenset().union(*(c.exclusions for c in contexts)),
        household_blocks=frozenset().union(*(c.household_blocks for c in contexts)),
        load={p: v for c in contexts for p, v in c.load.items()},
        track_records={p: v for c in contexts for p, v in c.track_records.items()})
    return [it for its, _o, _c in parts for it in its], [o for _i, ofs, _c in parts for o in ofs], context


def county_copy(problem: Problem, county: int) -> tuple[list[Item], list[Offer], Context]:
    """The problem moved to county number `county`: disjoint ids, towns and places."""
    if county == 0:
        return list(problem.items), list(problem.offers), problem.context
    s = county * ID_SHIFT
    return shifted(list(problem.items), list(problem.offers), problem.context, ids=s, households=s, providers=s,
                   towns=county * TOWN_SHIFT, lat=float(county))


def counties(problem: Problem, n: int) -> tuple[list[Item], list[Offer], Context]:
    """N county copies as one problem."""
    return joined([county_copy(problem, county) for county in range(n)])


def _peak_rss_mb() -> float:
    """This process's peak RSS since it started its program (VmHWM: unlike `ru_maxrss`, which Linux carries across
    exec, it does not count the parent's memory a spawned worker was forked with)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024


def _solve(path: str) -> dict:
    """A worker's job: load one problem file, index it and solve it; its result with what it cost."""
    start, cpu = time.perf_counter(), time.process_time()
    items, offers, context, text_model, k, whole = pickle.loads(Path(path).read_bytes())  # noqa: S301 - ours
    loaded = time.perf_counter()
    index = (MatchIndex.build(offers, context, text_model=text_model) if whole
             else part_index(items, offers, context, text_model=text_model))
    indexed = time.perf_counter()
    del offers, context
    result = solve_part(items, index, k)
    return {**result.as_dict(), "seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
            "load_s": loaded - start, "index_s": indexed - loaded, "offers_indexed": len(index.offers),
            "peak_rss_mb": _peak_rss_mb(), "pid": os.getpid()}


def threads_per_worker(workers: int) -> int:
    """Threads each of `workers` worker processes scores blocks on: the cores shared out (as MATCH_THREADS is set
    for a machine's queue workers), so two workers do not run four threads on two cores."""
    return max(1, (os.cpu_count() or 1) // workers)


def _threads(threads: int) -> None:
    index.THREADS = threads


def _pool_run(paths: list[str], workers: int) -> tuple[list[dict], float]:
    threads = threads_per_worker(workers)
    with mp.get_context("spawn").Pool(processes=workers, initializer=_threads, initargs=(threads,)) as pool:
        start = time.perf_counter()
        out = pool.map(_solve, paths, chunksize=1)
        wall = time.perf_counter() - start
    return out, wall


def _write(folder: Path, name: str, problem: tuple) -> str:
    path = folder / f"{name}.pickle"
    path.write_bytes(pickle.dumps(problem, protocol=pickle.HIGHEST_PROTOCOL))
    return str(path)


def _figures(done: list[dict], wall: float) -> dict:
    """One run's figures from its workers' results."""
    results = [PartResult.from_dict(r) for r in done]
    merged = merge(results)
    return {"wall_s": wall, "cpu_s": sum(r.cpu_seconds for r in results),
            "index_s": sum(r["index_s"] for r in done), "load_s": sum(r["load_s"] for r in done),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in done), "worker_processes": len({r["pid"] for r in done}),
            "utility": merged.assignment.utility, "lp_bound": merged.lp_bound,
            "utility_over_bound": merged.utility_ratio, "pairs": len(merged.assignment.pairs),
            "per_part": [{"items": r["items"], "offers_indexed": r["offers_indexed"], "utility": r["utility"],
                          "lp_bound": r["lp_bound"], "seconds": r["seconds"], "cpu_s": r["cpu_seconds"],
                          "peak_rss_mb": r["peak_rss_mb"]} for r in done],
            "load_avg_1m": os.getloadavg()[0]}


def run(counties_n: int, scale: float, parts: int | None, k: int, cache_dir: Path,
        worker_counts: tuple[int, ...] = (1, 2), whole: bool = True) -> dict:
    """Build the counties, run the unpartitioned and partitioned batches; the figures."""
    out: dict = {"counties": counties_n, "scale_per_county": scale, "top_k": k, "load_avg_1m_start": os.getloadavg()[0],
                 "cpu_count": os.cpu_count(), "python": platform.python_version()}
    t = time.perf_counter()
    problem, cached = load_problem(scale, 0, cache_dir)
    items, offers, context = counties(problem, counties_n)
    del problem
    out.update(problem_cached=cached, items=len(items), offers=len(offers), problem_s=time.perf_counter() - t)
    t = time.perf_counter()
    text_model = fit_text(offers, context.on_date)
    out["text_model_s"] = time.perf_counter() - t
    t, cpu = time.perf_counter(), time.process_time()
    found = partition(items, offers, parts or counties_n)
    out.update(partition_s=time.perf_counter() - t, partition_cpu_s=time.process_time() - cpu, parts=len(found),
               components=sum(p.components for p in found), part_items=[len(p.item_ids) for p in found])
    with tempfile.TemporaryDirectory(prefix="socialforce-parts-") as folder:
        t = time.perf_counter()
        by_id = {it.id: it for it in items}
        part_files = []
        for n, part in enumerate(found):
            mine = [by_id[i] for i in part.item_ids]
            reach = reachable(mine, offers)
            part_files.append(_write(Path(folder), f"part{n}",
                                     (mine, reach, part_context(context, reach), text_model, k, False)))
        whole_file = _write(Path(folder), "whole", (items, offers, context, text_model, k, True)) if whole else None
        del items, offers, context, by_id
        out.update(files_s=time.perf_counter() - t, parent_rss_mb=_peak_rss_mb())
        if whole_file:
            done, wall = _pool_run([whole_file], 1)
            out["whole"] = _figures(done, wall)
        for workers in worker_counts:
            done, wall = _pool_run(part_files, workers)
            out[f"workers_{workers}"] = run_out = _figures(done, wall)
            run_out["threads_per_worker"] = threads_per_worker(workers)
            if whole_file:
                run_out["utility_over_whole"] = run_out["utility"] / out["whole"]["utility"]
    if "workers_1" in out and "workers_2" in out:
        out["wall_2_over_1"] = out["workers_2"]["wall_s"] / out["workers_1"]["wall_s"]
    out["load_avg_1m_end"] = os.getloadavg()[0]
    return _rounded(out)


def _rounded(value):
    if isinstance(value, float):
        return round(value, 6) if abs(value) >= 1e-3 or value == 0 else float(f"{value:.3g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counties", type=int, default=6)
    parser.add_argument("--scale", type=float, default=1.0, help="scale of each county (1.0: Tengzhou)")
    parser.add_argument("--parts", type=int, default=None, help="pack the components into this many parts "
                        "(default: the number of counties)")
    parser.add_argument("--k", type=int, default=TOP_K)
    parser.add_argument("--no-whole", action="store_true", help="skip the unpartitioned batch")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "socialforce-matching")
    args = parser.parse_args()
    print(json.dumps(run(args.counties, args.scale, args.parts, args.k, args.cache_dir, whole=not args.no_whole)))


if __name__ == "__main__":
    main()
