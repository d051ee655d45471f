"""The batch assignment as a transportation LP: exact flow on candidate arcs, priced against ALL pairs.

Primal (over every eligible item-offer pair, i.e. every pair passing the hard constraints):
    max sum w_ij x_ij  s.t.  sum_j x_ij <= k_i,  sum_i x_ij <= c_j,  0 <= x_ij <= 1.
Dual:
    min sum_i k_i u_i + sum_j c_j v_j + sum_ij z_ij  s.t.  u_i + v_j + z_ij >= w_ij,  u, v, z >= 0.

Upper bound (weak duality). Fix any offer prices v >= 0. For item i the cheapest feasible (u_i, z_i.)
costs   min_{u >= 0} [ k_i u + sum_j max(0, w_ij - v_j - u) ]   (z_ij = max(0, w_ij - v_j - u) is optimal
for fixed u). Write g_ij = max(0, w_ij - v_j) sorted descending g_(1) >= g_(2) >= ... The function
phi(u) = k_i u + sum_j max(0, g_ij - u) is convex, piecewise linear, with slope k_i - #{j: g_ij > u}; the
slope turns non-negative at u = g_(k_i) (0 if fewer than k_i positive terms), where
phi = k_i g_(k_i) + sum_{l < k_i} (g_(l) - g_(k_i)) = sum of the k_i largest g_ij.
So   LP* <= sum_j c_j v_j + sum_i (sum of the k_i largest max(0, w_ij - v_j) over ALL eligible j),
for every v >= 0; equality holds for optimal v (LP duality).

We take v from the exact min-cost-flow solution on the top-K candidate arcs (residual-graph potentials,
which are optimal duals of the pruned LP). Items need not all be streamed: if an item's best pruned
score, weighted, is <= the k_i-th largest g over its candidate arcs, no pruned pair can enter its top
k_i (pruned g <= pruned w since v >= 0) and its term is already exact; the others are re-scored over all
their eligible pairs, chunked per block. Any pruned pair with w_ij - v_j above that threshold has positive
reduced cost: it is added as a column and the flow re-solved (column generation). When no such pair is
left the bound equals the flow's value: the assignment is optimal over ALL eligible pairs.

Streaming re-scores an item against its blocks; to do that once, not every round, the first stream of
an item keeps ALL its eligible pairs of positive weight (item, column, weight: a few hundred per item).
Later rounds read them back: pairs with w - v <= tau_i cannot change item i's top-k_i sum (its arcs
already hold k_i values >= tau_i), so the exact term is the top-k_i of the pairs above tau_i, topped up
with tau_i, and those same pairs are the improving columns.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from socialforce.matching.candidates import CandidateTable
from socialforce.matching.flow import solve_transportation
from socialforce.matching.index import MatchIndex, PartScores
from socialforce.matching.types import Item

Weigh = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""weigh(scores, item_positions) -> objective weights; must be non-decreasing in the score."""

NEW_COLUMNS_PER_ITEM = 25
DROP_MARGIN = 0.2
"""Between rounds, arcs of cached items with zero flow and reduced cost below -DROP_MARGIN leave the flow
(smaller re-solves); they stay in the cache, so pricing brings any of them back when it could improve."""
EPS = 1e-9
GAP_TOLERANCE = 1e-4
"""Column generation stops once (bound - value) <= GAP_TOLERANCE x bound: value/LP* >= 0.9999."""


@dataclass(frozen=True)
class TransportResult:
    """Arcs (item position, global offer column, weight, 0/1 flow), offer prices, value and LP bound."""

    arc_item: np.ndarray
    arc_col: np.ndarray
    weight: np.ndarray
    flow: np.ndarray
    offer_price: np.ndarray
    value: float
    bound: float
    rounds: int
    streamed_items: int


def _top_sums(item_pos: np.ndarray, g: np.ndarray, demand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per item: the sum of its demand-many largest g, and the demand-th largest g (0 if absent)."""
    n = demand.size
    order = np.lexsort((-g, item_pos))
    ip, gs = item_pos[order], g[order]
    pos = np.arange(ip.size) - np.searchsorted(ip, ip, side="left")
    take = pos < demand[ip]
    sums = np.bincount(ip[take], weights=gs[take], minlength=n)
    tau = np.zeros(n)
    last = pos == demand[ip] - 1
    tau[ip[last]] = gs[last]
    return sums, tau


def _stream(index: MatchIndex, items: Sequence[Item], positions: np.ndarray, weigh: Weigh, v: np.ndarray,
            demand: np.ndarray, tau: np.ndarray, keep: list | None = None
            ) -> tuple[np.ndarray, list[tuple[np.ndarray, ...]]]:
    """Exact top-k sums over ALL eligible pairs of the given items, and the pairs with w - v > tau.

    If `keep` is a list, every eligible pair of positive weight is appended to it as (item, col, w).
    """
    kmax = max(1, int(demand[positions].max()))
    best = np.zeros((positions.size, kmax))
    columns = []
    sub = [items[p] for p in positions]

    def one(ps: PartScores):
        gpos = positions[ps.rows]
        w = np.where(ps.ok, weigh(np.where(ps.ok, ps.scores, 0.0), gpos[:, None]), 0.0)
        raw = np.where(ps.ok, w - v[ps.part.cols][None, :], -np.inf)
        g = np.maximum(raw, 0.0)
        n = g.shape[1]
        top = -np.sort(-g, axis=1)[:, :kmax] if n <= kmax else -np.sort(-np.partition(g, n - kmax, axis=1)[:, n - kmax:], axis=1)
        if top.shape[1] < kmax:
            top = np.pad(top, ((0, 0), (0, kmax - top.shape[1])))
        r, c = np.nonzero(raw > tau[gpos][:, None] + EPS)
        pairs = None
        if keep is not None:
            kr, kc = np.nonzero(ps.ok & (w > 0))
            pairs = (gpos[kr].astype(np.int32), ps.part.cols[kc].astype(np.int32), w[kr, kc])
        return ps.rows, top, (gpos[r], ps.part.cols[c], w[r, c], raw[r, c] - tau[gpos[r]]), pairs

    for rows, top, cols, pairs in index.iter_scored(sub, one):
        best[rows] = -np.sort(-np.concatenate([best[rows], top], axis=1), axis=1)[:, :kmax]
        if cols[0].size:
            columns.append(cols)
        if pairs is not None and pairs[0].size:
            keep.append(pairs)
    take = np.arange(kmax)[None, :] < demand[positions][:, None]
    return (best * take).sum(axis=1), columns


def _from_cache(cache: tuple[np.ndarray, ...], v: np.ndarray, demand: np.ndarray, tau: np.ndarray
                ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """`_stream`'s sums (for every cached item; other entries 0) and columns, from the kept pairs."""
    item, col, w = cache
    raw = w - v[col]
    above = raw > tau[item]
    it, c, wa, ra = item[above].astype(np.int64), col[above].astype(np.int64), w[above], raw[above]
    top, _ = _top_sums(it, ra, demand)
    count = np.bincount(it, minlength=demand.size)
    sums = top + np.maximum(0, demand - count) * tau
    strict = ra > tau[it] + EPS
    return sums, (it[strict], c[strict], wa[strict], ra[strict] - tau[it[strict]])


def solve_exact(index: MatchIndex, items: Sequence[Item], table: CandidateTable, weigh: Weigh,
                demand: np.ndarray, max_rounds: int = 8, gap: float = GAP_TOLERANCE) -> TransportResult:
    """Max-weight assignment over all eligible pairs: flow on the table's arcs plus priced-in columns.

    `items` must be sorted by id and match `table.all_item_ids`; `demand[i]` is item i's k (0 = skip);
    stops when the certified relative gap is <= `gap` (gap=0: until no improving column is left).
    `streamed_items` in the result is the most items priced over all their pairs in one round (re-scored
    or read back from the kept pairs).
    """
    offer_ids = index.offer_ids
    arc_item = np.searchsorted(table.all_item_ids, table.item_ids)
    arc_col = np.searchsorted(offer_ids, table.offer_ids)
    weight = weigh(table.scores, arc_item)
    keep = (weight > 0) & (demand[arc_item] > 0)
    arc_item, arc_col, weight = arc_item[keep], arc_col[keep], weight[keep]
    pruned = np.where(np.isfinite(table.pruned_max), weigh(np.where(np.isfinite(table.pruned_max),
                                                                     table.pruned_max, 0.0),
                                                            np.arange(demand.size)), 0.0)
    pruned = np.where(np.isfinite(table.pruned_max) & (demand > 0), pruned, -np.inf)
    streamed = 0
    kept: list[tuple[np.ndarray, ...]] = []
    cached = np.zeros(demand.size, dtype=bool)
    cache: tuple[np.ndarray, ...] | None = None
    for rounds in range(1, max_rounds + 1):
        order = np.lexsort((arc_col, arc_item))
        arc_item, arc_col, weight = arc_item[order], arc_col[order], weight[order]
        cols, local = _unique_inverse(arc_col)
        sol = solve_transportation(arc_item, local, weight, demand, index.slots[cols])
        v = np.zeros(offer_ids.size)
        v[cols] = sol.offer_price
        value = float(weight @ sol.flow)
        sums, tau = _top_sums(arc_item, np.maximum(0.0, weight - v[arc_col]), demand)
        need = np.flatnonzero((pruned > tau + EPS) | cached)
        streamed = max(streamed, need.size)
        columns = []
        if cache is not None:  # every cached item is in `need`: its exact term comes from its kept pairs
            exact, more = _from_cache(cache, v, demand, tau)
            sums[cached] = exact[cached]
            columns.append(more)
        fresh = need[~cached[need]]
        if fresh.size:
            exact, streamed_columns = _stream(index, items, fresh, weigh, v, demand, tau, kept)
            sums[fresh] = exact
            columns.extend(streamed_columns)
            cached[fresh] = True
            cache = tuple(np.concatenate(x) for x in zip(*kept, strict=True)) if kept else None
            kept = [cache] if cache is not None else []
        bound = float(index.slots[cols] @ sol.offer_price + sums.sum())
        new = _new_columns(columns, arc_item, arc_col, index.provider_ids)
        if bound - value <= max(gap * bound, EPS) or new is None or rounds == max_rounds:
            return TransportResult(arc_item, arc_col, weight, sol.flow, v, value, bound, rounds, streamed)
        if cache is not None:  # a cached item's arcs far below its price come back as columns if needed
            red = weight - v[arc_col] - sol.item_price[arc_item]
            stay = ~cached[arc_item] | (sol.flow > 0) | (red >= -DROP_MARGIN)
            arc_item, arc_col, weight = arc_item[stay], arc_col[stay], weight[stay]
        arc_item = np.concatenate([arc_item, new[0]])
        arc_col = np.concatenate([arc_col, new[1]])
        weight = np.concatenate([weight, new[2]])
    raise AssertionError("unreachable")


def _unique_inverse(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique values of `a` and each element's index among them (sort-based, fast for int64)."""
    order = np.argsort(a, kind="stable")
    starts = np.r_[True, a[order][1:] != a[order][:-1]] if a.size else np.zeros(0, dtype=bool)
    inverse = np.empty(a.size, dtype=np.int64)
    inverse[order] = np.cumsum(starts) - 1
    return a[order][starts], inverse


def _new_columns(columns: list[tuple[np.ndarray, ...]], arc_item: np.ndarray, arc_col: np.ndarray,
                 provider_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Columns with positive reduced cost, at most NEW_COLUMNS_PER_ITEM per item and one per provider."""
    if not columns:
        return None
    it, col, w, gain = (np.concatenate(x) for x in zip(*columns, strict=True))
    if it.size == 0:
        return None
    span = np.int64(provider_ids.max() + 1)
    have = np.sort(arc_item * span + provider_ids[arc_col])
    keys = it * span + provider_ids[col]
    fresh = have[np.minimum(np.searchsorted(have, keys), have.size - 1)] != keys if have.size else \
        np.ones(keys.size, dtype=bool)
    it, col, w, gain = it[fresh], col[fresh], w[fresh], gain[fresh]
    order = np.lexsort((col, -gain, provider_ids[col], it))
    it, col, w, gain = it[order], col[order], w[order], gain[order]
    first = np.ones(it.size, dtype=bool)
    first[1:] = (it[1:] != it[:-1]) | (provider_ids[col[1:]] != provider_ids[col[:-1]])
    it, col, w, gain = it[first], col[first], w[first], gain[first]
    order = np.lexsort((col, -gain, it))
    it, col, w = it[order], col[order], w[order]
    pos = np.arange(it.size) - np.searchsorted(it, it, side="left")
    keep = pos < NEW_COLUMNS_PER_ITEM
    return (it[keep], col[keep], w[keep]) if keep.any() else None


def full_bound(index: MatchIndex, items: Sequence[Item], weigh: Weigh, demand: np.ndarray,
               offer_price: np.ndarray) -> float:
    """The dual bound for given offer prices, streaming EVERY eligible pair of every item (no shortcut)."""
    positions = np.flatnonzero(demand > 0)
    if positions.size == 0:
        return float(index.slots @ offer_price)
    sums, _ = _stream(index, items, positions, weigh, offer_price, demand, np.full(demand.size, np.inf))
    return float(index.slots @ offer_price + sums.sum())
