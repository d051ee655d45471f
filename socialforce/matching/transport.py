"""The batch assignment as a transportation LP: exact flow on candidate arcs, priced against ALL pairs.

Primal (over every eligible item-offer pair, i.e. every pair passing the hard constraints; p(j) is offer
j's provider, and a provider may publish several offers):
    max sum w_ij x_ij  s.t.  sum_j x_ij <= k_i,  sum_i x_ij <= c_j,  sum_{j: p(j)=p} x_ij <= 1,  x >= 0.
Dual:
    min sum_i k_i u_i + sum_j c_j v_j + sum_ip y_ip  s.t.  u_i + v_j + y_i,p(j) >= w_ij,  u, v, y >= 0.

Upper bound (weak duality). Fix any offer prices v >= 0 and write g_ip = max(0, max_{j: p(j)=p} w_ij - v_j),
item i's best gain from provider p. For item i the cheapest feasible (u_i, y_i.) costs
min_{u >= 0} [ k_i u + sum_p max(0, g_ip - u) ]   (y_ip = max(0, g_ip - u) is optimal for fixed u). Sorted
descending g_(1) >= g_(2) >= ..., phi(u) = k_i u + sum_p max(0, g_ip - u) is convex, piecewise linear, with
slope k_i - #{p: g_ip > u}; the slope turns non-negative at u = g_(k_i) (0 if fewer than k_i positive
terms), where phi = k_i g_(k_i) + sum_{l < k_i} (g_(l) - g_(k_i)) = sum of the k_i largest g_ip.
So   LP* <= sum_j c_j v_j + sum_i (sum of the k_i largest g_ip over ALL providers with an eligible offer),
for every v >= 0; equality holds for optimal v (LP duality). The flow models the provider rows with an
(item, provider) node, so its potentials are optimal duals of the same LP restricted to its arcs.

We take v from the exact min-cost-flow solution on the top-K candidate arcs (residual-graph potentials,
which are optimal duals of the pruned LP). Items need not all be streamed: if an item's best pruned
score, weighted, is <= the k_i-th largest g over its candidate arcs, no pruned pair can enter its top
k_i (pruned g <= pruned w since v >= 0) and its term is already exact; the others are re-scored over all
their eligible pairs, chunked per block. Any pruned pair with w_ij - v_j above that threshold has positive
reduced cost: it is added as a column and the flow re-solved (column generation). When no such pair is
left the bound equals the flow's value: the assignment is optimal over ALL eligible pairs.

Streaming re-scores an item against its blocks; to do that once, not every round, the first stream of
an item keeps its KEEP_PER_ITEM pairs per block with the largest w - v (item, column, weight), so memory grows
linearly with the items priced, and a bound r_i on w - v of the pairs it left out. When prices change, a
left-out pair's w - v rises at most by its offer's price drop, so r_i rises by the largest drop among the
offers of the item's blocks (block-level bound: one max per block, no pair re-scored). Later rounds read the
kept pairs back unless the item's threshold tau_i fell below r_i (then it is streamed again): pairs with
w - v <= tau_i cannot change item i's top-k_i sum (its arcs
already hold k_i providers with values >= tau_i, and raising a provider's g_ip to at most tau_i changes no
top-k_i value), so the exact term is the top-k_i over the providers above tau_i, topped up with tau_i, and
those same pairs are the improving columns.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from socialforce.matching.candidates import CandidateTable
from socialforce.matching.flow import COST_SCALE, FlowSolution, solve_transportation
from socialforce.matching.index import MatchIndex, Part, PartScores, top_k_per_row
from socialforce.matching.types import Item

Weigh = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""weigh(scores, item_positions) -> objective weights; must be non-decreasing in the score."""

NEW_COLUMNS_PER_ITEM = 25
DROP_MARGIN = 0.05
"""Zero-flow arcs with reduced cost below -DROP_MARGIN leave the flow between rounds (to the kept pairs or the
reserve, both priced every round); 0.05 (of weights 0.3-5) measured at scale 0.5: flows of 755k -> 285k -> 227k
arcs instead of 755k -> 685k -> 663k, one more round, less CPU in total."""
KEEP_PER_ITEM = 40
"""Pairs kept per item and block after its first stream, those with the largest w - v (memory linear in items);
the best w - v left out is recorded and raised each round by the largest price drop in the item's blocks (a
block-level bound); an item whose threshold falls below it is streamed again."""
EPS = 1e-9
GAP_TOLERANCE = 1e-4
"""Column generation stops once (bound - value) <= GAP_TOLERANCE x bound: value/LP* >= 0.9999."""


@dataclass(frozen=True)
class TransportResult:
    """Arcs (item position, global offer column, weight, 0/1 flow), offer prices, value and LP bound; the first
    `flow_arcs` arcs are the last flow's, the rest the reserve (known pairs priced out of it)."""

    arc_item: np.ndarray
    arc_col: np.ndarray
    weight: np.ndarray
    flow: np.ndarray
    offer_price: np.ndarray
    value: float
    bound: float
    rounds: int
    streamed_items: int
    flow_arcs: int


def _per_provider(item_pos: np.ndarray, g: np.ndarray, provider: np.ndarray | None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(item, g) reduced to each (item, provider)'s largest g (provider None: pairs already distinct)."""
    if provider is None or item_pos.size == 0:
        return item_pos, g
    key = item_pos.astype(np.int64) * np.int64(provider.max() + 1) + provider
    order = np.argsort(key)
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    return item_pos[order[starts]], np.maximum.reduceat(g[order], starts)


def _top_sums(item_pos: np.ndarray, g: np.ndarray, demand: np.ndarray, provider: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """Per item: the sum of its demand-many largest g_ip over distinct providers, and the demand-th (0 if
    absent). An item of demand 1 takes its largest g (no sort; providers need not be told apart)."""
    n = demand.size
    tau = np.full(n, -np.inf)
    single = demand[item_pos] == 1
    np.maximum.at(tau, item_pos[single], g[single])
    tau[~np.isfinite(tau)] = 0.0
    sums = tau.copy()
    several = demand[item_pos] > 1
    if several.any():
        item_pos, g = _per_provider(item_pos[several], g[several], None if provider is None else provider[several])
        order = np.lexsort((-g, item_pos))
        ip, gs = item_pos[order], g[order]
        pos = np.arange(ip.size) - np.searchsorted(ip, ip, side="left")
        take = pos < demand[ip]
        sums += np.bincount(ip[take], weights=gs[take], minlength=n)
        last = pos == demand[ip] - 1
        tau[ip[last]] = gs[last]
    return sums, tau


def _stream(index: MatchIndex, items: Sequence[Item], positions: np.ndarray, weigh: Weigh, v: np.ndarray,
            demand: np.ndarray, tau: np.ndarray, keep: list | None = None, kept_rest: np.ndarray | None = None,
            teams: bool = False) -> tuple[np.ndarray, list[tuple[np.ndarray, ...]]]:
    """Exact top-k sums over ALL eligible pairs of the given items, and their best pairs with w - v > tau
    (NEW_COLUMNS_PER_ITEM per block, as (item, col, w, w - v - tau)).

    The sums are of max(0, w - v) per provider; with `teams`, all-or-nothing terms instead: max(0, the sum of
    the k largest w - v, negative ones included), 0 for an item with fewer than k eligible providers.
    If `keep` is a list, each item's KEEP_PER_ITEM eligible pairs of positive weight with the largest w - v per
    block are appended to it as (item, col, w), and `kept_rest[item]` is raised to the best w - v left out.
    """
    kmax = max(1, int(demand[positions].max()))
    columns, tops = [], []
    sub = [items[p] for p in positions]

    def one(ps: PartScores):
        gpos = positions[ps.rows]
        w = np.where(ps.ok, weigh(np.where(ps.ok, ps.scores, 0.0), gpos[:, None]), 0.0)
        raw = np.where(ps.ok, w - v[ps.part.cols][None, :], -np.inf)
        pairs = None
        if keep is None:
            gain = np.where(raw > tau[gpos][:, None] + EPS, raw - tau[gpos][:, None], -np.inf)
            r, c, _ = top_k_per_row(gain, np.isfinite(gain), NEW_COLUMNS_PER_ITEM)  # all `_new_columns` can take
        else:
            good = ps.ok & (w > 0)
            kr, kc, rest = top_k_per_row(np.where(good, raw, -np.inf), good, KEEP_PER_ITEM)
            pairs = (gpos[kr].astype(np.int32), ps.part.cols[kc].astype(np.int32), w[kr, kc], gpos, rest)
            r, c = _leading(kr, kc, raw[kr, kc] > tau[gpos[kr]] + EPS)  # tau >= 0: w - v > tau implies w > 0
        gain = raw[r, c] - tau[gpos[r]]
        if keep is None or teams:
            top = _row_top(raw if teams else np.maximum(raw, 0.0), ps.part, kmax, positive_only=not teams)
        else:
            top = _kept_top(raw, kr, kc, rest, ps.part, kmax)
        return (ps.rows[top[0]], top[1], top[2]), (gpos[r], ps.part.cols[c], w[r, c], gain), pairs

    for top, cols, pairs in index.iter_scored(sub, one):
        tops.append(top)
        if cols[0].size:
            columns.append(cols)
        if pairs is not None:
            keep.append(pairs[:3])
            np.maximum.at(kept_rest, pairs[3], pairs[4])
    if not tops:
        return np.zeros(positions.size), columns
    rows, provider, g = (np.concatenate(x) for x in zip(*tops, strict=True))
    sums, _ = _top_sums(rows, g, demand[positions], provider)  # a provider may reach an item from two blocks
    if teams:
        distinct, _ = _per_provider(rows, g, provider)
        whole = np.bincount(distinct, minlength=positions.size) >= demand[positions]
        sums = np.where(whole, np.maximum(sums, 0.0), 0.0)
    return sums, columns


def _leading(r: np.ndarray, c: np.ndarray, above: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first NEW_COLUMNS_PER_ITEM (r, c) of each row with `above`, from pairs in row, best-first order."""
    r, c = r[above], c[above]
    take = np.arange(r.size) - np.searchsorted(r, r, side="left") < NEW_COLUMNS_PER_ITEM
    return r[take], c[take]


def _kept_top(raw: np.ndarray, kr: np.ndarray, kc: np.ndarray, rest: np.ndarray, part: Part, kmax: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_row_top` of max(raw, 0) read off each row's kept pairs (best first, every pair with raw > 0 but
    those below `rest`); rows whose kept pairs hold fewer than kmax providers while a pair left out is
    positive are computed in full."""
    g = raw[kr, kc]
    positive = g > 0
    r, provider, g = kr[positive], part.providers[kc[positive]], g[positive]
    if part.duplicate_providers:  # each provider's first (best) pair
        first = np.unique(r * np.int64(part.providers.max() + 1) + provider, return_index=True)[1]
        first.sort()
        r, provider, g = r[first], provider[first], g[first]
    take = np.arange(r.size) - np.searchsorted(r, r, side="left") < kmax
    r, provider, g = r[take], provider[take], g[take]
    short = np.flatnonzero((np.bincount(r, minlength=raw.shape[0]) < kmax) & (rest > 0))
    if short.size == 0:
        return r, provider, g
    again = ~np.isin(r, short)
    sr, sp, sg = _row_top(np.maximum(raw[short], 0.0), part, kmax, positive_only=True)
    return np.r_[r[again], short[sr]], np.r_[provider[again], sp], np.r_[g[again], sg]


def _row_top(g: np.ndarray, part: Part, kmax: int, positive_only: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, provider, g) of each row's kmax largest g over distinct providers of the part (only g > 0, or
    every finite g)."""
    providers = part.providers
    if part.duplicate_providers:
        ordered = providers[part.provider_order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        g = np.maximum.reduceat(g[:, part.provider_order], starts, axis=1)
        providers = ordered[starts]
    n = g.shape[1]
    c = np.argpartition(-g, kmax - 1, axis=1)[:, :kmax] if n > kmax else np.broadcast_to(np.arange(n), g.shape)
    r = np.broadcast_to(np.arange(g.shape[0])[:, None], c.shape)
    top = g[r, c]
    positive = (top > 0) if positive_only else np.isfinite(top)
    return r[positive], providers[c[positive]], top[positive]


def _from_cache(cache: tuple[np.ndarray, ...], v: np.ndarray, demand: np.ndarray, tau: np.ndarray,
                provider_ids: np.ndarray | None, tau_flow: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """`_stream`'s sums (for every cached item; other entries 0) and columns (w - v > tau_flow <= tau), from
    the kept pairs."""
    item, col, w = cache
    raw = w - v[col]
    above = raw > tau_flow[item]
    it, c, wa, ra = item[above].astype(np.int64), col[above].astype(np.int64), w[above], raw[above]
    over = ra > tau[it]
    distinct, g = _per_provider(it[over], ra[over], None if provider_ids is None else provider_ids[c[over]])
    top, _ = _top_sums(distinct, g, demand)
    count = np.bincount(distinct, minlength=demand.size)
    sums = top + np.maximum(0, demand - count) * tau
    strict = ra > tau_flow[it] + EPS
    return sums, (it[strict], c[strict], wa[strict], ra[strict] - tau_flow[it[strict]])


def solve_exact(index: MatchIndex, items: Sequence[Item], table: CandidateTable, weigh: Weigh,
                demand: np.ndarray, max_rounds: int = 8, gap: float = GAP_TOLERANCE) -> TransportResult:
    """Max-weight assignment over all eligible pairs: flow on the table's arcs plus priced-in columns.

    `items` must be sorted by id and match `table.all_item_ids`; `demand[i]` is item i's k (0 = skip);
    stops when the certified relative gap is <= `gap` (gap=0: until no improving column is left).
    `streamed_items` in the result is the most items priced over all their pairs in one round (re-scored
    or read back from the kept pairs).
    """
    offer_ids = index.offer_ids
    providers = index.provider_ids if index.multi_offer_providers else None
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
    kept_rest = np.full(demand.size, -np.inf)
    cached = np.zeros(demand.size, dtype=bool)
    cache: tuple[np.ndarray, ...] | None = None
    v_prev: np.ndarray | None = None
    reserve = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))  # known pairs out of the flow
    for rounds in range(1, max_rounds + 1):
        order = np.lexsort((arc_col, arc_item))
        arc_item, arc_col, weight = arc_item[order], arc_col[order], weight[order]
        cols, sol = _flow(index, arc_item, arc_col, weight, demand)
        v = np.zeros(offer_ids.size)
        v[cols] = sol.offer_price
        if v_prev is not None and cached.any():  # a left-out pair gains at most what its offer's price fell
            drop = np.maximum(v_prev - v, 0.0)
            if drop.any():
                at = np.flatnonzero(cached)
                kept_rest[at] += index.block_max([items[p] for p in at], drop)
        v_prev = v
        value = float(weight @ sol.flow)
        known_item, known_col, known_w = (np.concatenate([a, b]) for a, b in zip((arc_item, arc_col, weight), reserve,
                                                                                  strict=True))
        sums, tau = _top_sums(known_item, np.maximum(0.0, known_w - v[known_col]), demand,
                              None if providers is None else providers[known_col])
        if reserve[0].size:  # columns: against the flow's own arcs (tau, over all known pairs, serves the bound)
            _, tau_flow = _top_sums(arc_item, np.maximum(0.0, weight - v[arc_col]), demand,
                                    None if providers is None else providers[arc_col])
        else:
            tau_flow = tau
        need = np.flatnonzero((pruned > tau + EPS) | cached)
        stale = cached & (kept_rest > tau)  # a pair beyond the kept ones could count: score it again
        if stale.any():
            cache = tuple(x[~stale[cache[0]]] for x in cache)
            kept, cached, kept_rest[stale] = [cache], cached & ~stale, -np.inf
        streamed = max(streamed, need.size)
        back = reserve[2] - v[reserve[1]] - tau_flow[reserve[0]]
        back = back > EPS  # a reserved pair that could improve returns to the flow
        columns = [(reserve[0][back], reserve[1][back], reserve[2][back], reserve[2][back] - v[reserve[1][back]])]
        if cache is not None:  # every cached item is in `need`: its exact term comes from its kept pairs
            exact, more = _from_cache(cache, v, demand, tau, providers, tau_flow)
            sums[cached] = exact[cached]
            columns.append(more)
        fresh = need[~cached[need]]
        if fresh.size:
            exact, streamed_columns = _stream(index, items, fresh, weigh, v, demand, tau_flow, kept, kept_rest)
            sums[fresh] = exact
            columns.extend(streamed_columns)
            cached[fresh] = True
            cache = tuple(np.concatenate(x) for x in zip(*kept, strict=True)) if kept else None
            kept = [cache] if cache is not None else []
        bound = float(index.slots[cols] @ sol.offer_price + sums.sum())
        new = _new_columns(columns, arc_item, arc_col, offer_ids.size)
        if bound - value <= max(gap * bound, EPS) or new is None or rounds == max_rounds:
            out = [np.concatenate([a, b]) for a, b in zip((arc_item, arc_col, weight), reserve, strict=True)]
            return TransportResult(*out, np.r_[sol.flow, np.zeros(reserve[0].size, sol.flow.dtype)], v, value, bound,
                                   rounds, streamed, arc_item.size)
        # arcs far below their item's price leave the flow (smaller re-solves): a cached item's kept pairs, any
        # other item's in the reserve, priced every round; either comes back as a column when it could improve
        red = weight - v[arc_col] - sol.item_price[arc_item]
        stay = (sol.flow > 0) | (red >= -DROP_MARGIN)
        out = ~stay & ~cached[arc_item]
        reserve = tuple(np.concatenate([a[~cached[reserve[0]]], b[out]]) for a, b in
                        zip(reserve, (arc_item, arc_col, weight), strict=True))
        span = np.int64(offer_ids.size)
        returning = np.isin(reserve[0] * span + reserve[1], new[0] * span + new[1])
        reserve = tuple(x[~returning] for x in reserve)
        arc_item, arc_col, weight = arc_item[stay], arc_col[stay], weight[stay]
        arc_item = np.concatenate([arc_item, new[0]])
        arc_col = np.concatenate([arc_col, new[1]])
        weight = np.concatenate([weight, new[2]])
    raise AssertionError("unreachable")


def _flow(index: MatchIndex, arc_item: np.ndarray, arc_col: np.ndarray, weight: np.ndarray, demand: np.ndarray,
          slots: np.ndarray | None = None) -> tuple[np.ndarray, FlowSolution]:
    """The exact flow on the given arcs: the offer columns used and the solution (one slot per provider);
    `slots` per offer column, default the index's."""
    cols, local = _unique_inverse(arc_col)
    arc_provider = index.provider_ids[arc_col] if index.multi_offer_providers else None
    return cols, solve_transportation(arc_item, local, weight, demand, (index.slots if slots is None else slots)[cols],
                                      arc_provider)


def whole_teams(index: MatchIndex, res: TransportResult, demand: np.ndarray, whole: np.ndarray
                ) -> tuple[np.ndarray, int]:
    """Repair step of the partial policy: a flow on `res`'s arcs with no `whole` item served short.

    1. Teams served short take free slots of providers they lack (a flow on those arcs serving as many as
    it can, TEAM_BONUS per slot). 2. For teams still short, re-solves on the last flow's arcs (plus those
    teams' reserve arcs; no column generation) of the items within REPAIR_HOPS steps of them (`_region`; the
    others keep their flow), teams served whole kept whole (TEAM_BONUS on their arcs): they complete each
    short team whose k best gains w - v over distinct providers sum to >= 0 (at the flow's prices, serving it
    whole costs no more than the slots are worth; TEAM_BONUS on its arcs) and drop the rest, then again without
    the completed teams whose gains at the re-solve's own prices sum to < 0 (they displaced more than they
    brought), at most REPAIR_ROUNDS times. In each, a team left short is dropped and freed slots go to items
    that may take any number; the best is kept, or the fallback (the flow with every short team dropped, no
    re-solve) when it is better. Returns (flow, teams the flow served that end unserved).
    """
    flow = res.flow.copy()
    short = _short(res, flow, demand, whole)
    if not short.any():
        return flow, 0
    flow += _fill(index, res, flow, demand, short, TEAM_BONUS)
    short = _short(res, flow, demand, whole)
    if short.any():
        served = np.bincount(res.arc_item, weights=flow, minlength=demand.size)
        kept = whole & (served > 0) & ~short
        arcs = np.flatnonzero((np.arange(res.arc_item.size) < res.flow_arcs) | short[res.arc_item])
        arcs = arcs[_region(res, arcs, short, REPAIR_HOPS)[res.arc_item[arcs]]]
        flow[short[res.arc_item]] = 0  # the fallback: every short team dropped, its slots to whoever can use them
        flow += _fill(index, res, flow, demand, ~whole, 0.0)
        complete = short & (_team_gains(index, res, short, demand) >= -demand / COST_SCALE)
        for _ in range(REPAIR_ROUNDS):
            if not complete.any():
                break
            other, price = _resolve(index, res, arcs, np.where(short & ~complete, 0, demand), kept | complete, whole)
            if res.weight @ other > res.weight @ flow:
                flow = other
            on = complete[res.arc_item] & (other > 0)
            profit = np.bincount(res.arc_item[on], weights=res.weight[on] - price[res.arc_col[on]],
                                 minlength=demand.size)
            losing = complete & (profit < 0)
            if not losing.any():
                break
            complete &= ~losing
    before = np.bincount(res.arc_item, weights=res.flow, minlength=demand.size) > 0
    after = np.bincount(res.arc_item, weights=flow, minlength=demand.size) > 0
    return flow, int((whole & before & ~after).sum())


def _team_gains(index: MatchIndex, res: TransportResult, teams: np.ndarray, demand: np.ndarray) -> np.ndarray:
    """Per item: the sum of its demand-many largest w - v over distinct providers among `res`'s arcs, for the
    given teams (-inf for any other item, or one with fewer providers than it needs)."""
    on = teams[res.arc_item]
    col = res.arc_col[on]
    distinct, g = _per_provider(res.arc_item[on], res.weight[on] - res.offer_price[col], index.provider_ids[col])
    sums, _ = _top_sums(distinct, g, demand)
    whole = teams & (np.bincount(distinct, minlength=demand.size) >= demand)
    return np.where(whole, sums, -np.inf)


def _region(res: TransportResult, arcs: np.ndarray, seeds: np.ndarray, hops: int) -> np.ndarray:
    """The items within `hops` steps of the seeds: a step adds the items whose flow uses an offer the region's
    items have an arc to (among `arcs`)."""
    item, col = res.arc_item[arcs], res.arc_col[arcs]
    on = res.flow[arcs] > 0
    region = seeds.copy()
    for _ in range(hops):
        reached = np.zeros(res.offer_price.size, dtype=bool)
        reached[col[region[item]]] = True
        grown = region.copy()
        grown[item[on & reached[col]]] = True
        if (grown == region).all():
            break
        region = grown
    return region


def _resolve(index: MatchIndex, res: TransportResult, arcs: np.ndarray, demand: np.ndarray, bonus: np.ndarray,
             whole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The flow re-solved on the given arcs of `res` (TEAM_BONUS per slot on the `bonus` items' arcs), whole
    teams it leaves short dropped, then free slots filled by items that may take any number; and the
    re-solve's offer prices (a bonus on all of an item's arcs moves only that item's price)."""
    item = res.arc_item[arcs]
    inside, local = _unique_inverse(item)
    flow = np.where(np.isin(res.arc_item, inside), 0, res.flow)  # the rest keep their flow and its slots
    left = index.slots - np.bincount(res.arc_col[flow > 0], minlength=index.slots.size)
    cols, sol = _flow(index, local, res.arc_col[arcs], res.weight[arcs] + np.where(bonus[item], TEAM_BONUS, 0.0),
                      demand[inside], left)
    flow[arcs] = sol.flow
    flow[_short(res, flow, demand, whole)[res.arc_item]] = 0
    flow += _fill(index, res, flow, demand, ~whole, 0.0)
    price = np.zeros(res.offer_price.size)
    price[cols] = sol.offer_price
    return flow, price


TEAM_BONUS = 100.0
"""Added per slot when completing short teams (above any weight): the flow completes as many as it can."""
REPAIR_HOPS = 5
"""The repair's re-solves change only the items within this many steps of the short teams (the rest keep the
column generation's flow and its slots). Measured on the cached problems against re-solving every item: at 0.5
repair_loss 2.50 against 2.61 (the rest keeps its optimal flow instead of yielding to the teams' bonus), re-solves
on 117k of 221k arcs; at 1.0 3.92 against 3.10, on 282k of 528k arcs (the three re-solves there were then: 5.5 s, not
12.2 s)."""
REPAIR_ROUNDS = 3
"""Re-solves that complete short teams, each without the teams the previous one found losing; at scale 0.5 the
second brought the relative gap from 8.1 x 10^-5 to 6.3 x 10^-5 and left no team losing (no third)."""


def _short(res: TransportResult, flow: np.ndarray, demand: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """Whole teams served by some but fewer providers than they need."""
    served = np.bincount(res.arc_item, weights=flow, minlength=demand.size)
    return whole & (served > 0) & (served < demand)


def _fill(index: MatchIndex, res: TransportResult, flow: np.ndarray, demand: np.ndarray, allowed: np.ndarray,
          bonus: float) -> np.ndarray:
    """Extra flow of the allowed items over `res`'s unused arcs, into free slots of providers they lack."""
    used = flow > 0
    served = np.bincount(res.arc_item[used], minlength=demand.size)
    free = index.slots - np.bincount(res.arc_col[used], minlength=index.slots.size)
    span = np.int64(index.provider_ids.max() + 1)
    keys = res.arc_item * span + index.provider_ids[res.arc_col]
    cand = ~used & allowed[res.arc_item] & (served < demand)[res.arc_item] & (free[res.arc_col] > 0) \
        & ~np.isin(keys, keys[used])
    extra = np.zeros(flow.size, dtype=flow.dtype)
    sub = np.flatnonzero(cand)
    if sub.size:
        cols, local = _unique_inverse(res.arc_col[sub])
        extra[sub] = solve_transportation(res.arc_item[sub], local, res.weight[sub] + bonus,
                                          np.where(allowed, demand - served, 0), free[cols],
                                          index.provider_ids[res.arc_col[sub]]).flow
    return extra


def _unique_inverse(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique values of `a` and each element's index among them (sort-based, fast for int64)."""
    order = np.argsort(a, kind="stable")
    starts = np.r_[True, a[order][1:] != a[order][:-1]] if a.size else np.zeros(0, dtype=bool)
    inverse = np.empty(a.size, dtype=np.int64)
    inverse[order] = np.cumsum(starts) - 1
    return a[order][starts], inverse


def _new_columns(columns: list[tuple[np.ndarray, ...]], arc_item: np.ndarray, arc_col: np.ndarray,
                 n_cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Columns with positive reduced cost not yet among the arcs, at most NEW_COLUMNS_PER_ITEM per item."""
    if not columns:
        return None
    it, col, w, gain = (np.concatenate(x) for x in zip(*columns, strict=True))
    if it.size == 0:
        return None
    span = np.int64(n_cols)
    have = np.sort(arc_item * span + arc_col)
    keys = it * span + col
    fresh = have[np.minimum(np.searchsorted(have, keys), have.size - 1)] != keys if have.size else \
        np.ones(keys.size, dtype=bool)
    it, col, w, gain = it[fresh], col[fresh], w[fresh], gain[fresh]
    order = np.lexsort((col, -gain, it))
    it, col, w = it[order], col[order], w[order]
    pos = np.arange(it.size) - np.searchsorted(it, it, side="left")
    keep = pos < NEW_COLUMNS_PER_ITEM
    return (it[keep], col[keep], w[keep]) if keep.any() else None


def team_terms(index: MatchIndex, items: Sequence[Item], positions: np.ndarray, weigh: Weigh, demand: np.ndarray,
               offer_price: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The bound's terms of the given items over ALL their pairs: pro rata, and all-or-nothing.

    All-or-nothing is the Lagrangian bound of the policy (offer capacities priced by v): an item served
    whole gains the sum of its k best w - v over distinct providers, or nothing. It never exceeds the
    pro-rata term, so replacing a whole team's term keeps a bound, tighter, on every assignment the
    policy allows.
    """
    if positions.size == 0:
        return np.zeros(0), np.zeros(0)
    never = np.full(demand.size, np.inf)
    return (_stream(index, items, positions, weigh, offer_price, demand, never)[0],
            _stream(index, items, positions, weigh, offer_price, demand, never, teams=True)[0])


def full_bound(index: MatchIndex, items: Sequence[Item], weigh: Weigh, demand: np.ndarray,
               offer_price: np.ndarray, whole: np.ndarray) -> float:
    """The dual bound for given offer prices, streaming EVERY eligible pair of every item (no shortcut);
    `whole` items (teams served all-or-nothing) count with their all-or-nothing term."""
    positions = np.flatnonzero(demand > 0)
    if positions.size == 0:
        return float(index.slots @ offer_price)
    sums, aon = team_terms(index, items, positions, weigh, demand, offer_price)
    return float(index.slots @ offer_price + np.where(whole[positions], aon, sums).sum())
