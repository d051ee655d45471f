"""Batch assignment (exact min-cost flow, and a greedy baseline), its LP bound and priority coverage.

Capacity model: SLOTS PER WEEK. Each offer has `slots_left` free slots; an item with `slots_needed` = k
takes one slot of each of k different providers, from any of their offers (a provider may publish several).
Partial policy: an item needing a team gets all k or none, unless `partial_ok` (then 1..k, pro rata); the
flow solves the pro-rata LP and a repair step (`transport.whole_teams`) completes or drops teams served short.
The objective is the sum over assigned pairs of cold-start score x priority_weight(item priority) (see
scoring.PRIORITY_GAIN).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import numpy as np

from socialforce.matching.candidates import CandidateTable
from socialforce.matching.index import MatchIndex
from socialforce.matching.scoring import priority_weight
from socialforce.matching.transport import (
    GAP_TOLERANCE,
    TransportResult,
    Weigh,
    full_bound,
    solve_exact,
    team_terms,
    whole_teams,
)
from socialforce.matching.types import Assignment, Item

TOP_K = 20
"""Candidate arcs per item fed to the flow; column generation then adds any pruned pair that could
improve the optimum, so K trades speed only, never optimality (chosen by measurement in the bench)."""
HIGH_PRIORITY_QUANTILE = 0.9


@dataclass(frozen=True)
class BatchResult:
    """An optimal assignment with its certificate: LP bound, offer prices, rounds of column generation."""

    assignment: Assignment
    lp_bound: float
    offer_prices: MappingProxyType
    rounds: int
    streamed_items: int
    table: CandidateTable
    pro_rata_bound: float
    partially_served_items: int
    hopeless_teams: int
    dropped_short_teams: int
    repair_loss: float


def _prepare(items: Sequence[Item], index: MatchIndex, k: int, table: CandidateTable | None
             ) -> tuple[list[Item], CandidateTable]:
    items = sorted(items, key=lambda it: it.id)
    if table is None:
        table = index.candidate_table(items, k)
    return items, table


def team_demand(items: Sequence[Item], table: CandidateTable) -> np.ndarray:
    """Each item's k, or 0 for a team that cannot be whole: fewer eligible providers than it needs (known
    when the table holds all its eligible providers). The LP bound then also holds for the partial policy."""
    k = np.array([it.slots_needed for it in items], dtype=np.int64)
    count, complete = table.provider_counts()
    hopeless = np.array([it.needs_whole_team for it in items], dtype=bool) & (count < k) & complete
    return np.where(hopeless, 0, k)


def objective_weigh(items: Sequence[Item]) -> Weigh:
    """score x priority_weight(priority) for items given in id order."""
    pw = priority_weight(np.array([it.priority for it in items]))
    return lambda scores, pos: scores * pw[pos]


def _pairs(items: Sequence[Item], index: MatchIndex, arc_item: np.ndarray, arc_col: np.ndarray
           ) -> tuple[tuple[int, int], ...]:
    return tuple(sorted((items[i].id, index.offers[c].id) for i, c in zip(arc_item, arc_col, strict=True)))


def solve_batch(items: Sequence[Item], index: MatchIndex, k: int = TOP_K,
                table: CandidateTable | None = None, gap: float = GAP_TOLERANCE) -> BatchResult:
    """The assignment over ALL eligible pairs under the partial policy, with its certificate.

    The flow is certified within `gap` of the pro-rata LP optimum (`pro_rata_bound`; 0: exact); the repair
    for whole teams then loses `repair_loss`. `lp_bound` is the same dual bound with each whole team's term
    all-or-nothing (`transport.team_terms`): an upper bound of every assignment the policy allows.
    """
    items, table = _prepare(items, index, k, table)
    demand = team_demand(items, table)
    res = solve_exact(index, items, table, objective_weigh(items), demand, gap=gap)
    whole = np.array([it.needs_whole_team for it in items], dtype=bool)
    flow, dropped = whole_teams(index, res, demand, whole)
    teams = np.flatnonzero(whole & (demand > 0))
    pro_rata, all_or_nothing = team_terms(index, items, teams, objective_weigh(items), demand, res.offer_price)
    used = flow > 0
    assignment = Assignment(pairs=_pairs(items, index, res.arc_item[used], res.arc_col[used]),
                            utility=float(res.weight @ flow), method="flow")
    served = np.bincount(res.arc_item[used], minlength=len(items))
    prices = MappingProxyType({index.offers[c].id: float(res.offer_price[c])
                               for c in np.flatnonzero(res.offer_price > 0)})
    return BatchResult(assignment, res.bound - float((pro_rata - all_or_nothing).sum()), prices, res.rounds,
                       res.streamed_items, table, pro_rata_bound=res.bound,
                       partially_served_items=int(((served > 0) & (served < demand)).sum()),
                       hopeless_teams=int((whole & (demand == 0)).sum()),
                       dropped_short_teams=dropped, repair_loss=float(res.weight @ (res.flow - flow)))


def assign(items: Sequence[Item], index: MatchIndex, k: int = TOP_K, table: CandidateTable | None = None,
           gap: float = GAP_TOLERANCE) -> Assignment:
    """Each item at most k_i providers, no offer beyond its slots, max total priority-weighted score."""
    return solve_batch(items, index, k, table, gap).assignment


GreedyOrder = Literal["arrival", "priority", "pairs"]


def assign_greedy(items: Sequence[Item], index: MatchIndex, k: int = TOP_K,
                  table: CandidateTable | None = None, order: GreedyOrder = "arrival") -> Assignment:
    """Baseline without look-ahead: each item, in turn, takes its best candidates that still have a slot.

    "arrival": items in id (arrival) order, which is what dispatching each item to its best free candidate
    as it comes in (auto-dispatch) yields; "priority": the most vulnerable first (ties: id); "pairs": all
    candidate pairs by weight desc (ties: item id, offer id), the strongest of the three.
    """
    items, table = _prepare(items, index, k, table)
    pos = np.searchsorted(table.all_item_ids, table.item_ids)
    weight = objective_weigh(items)(table.scores, pos)
    if order == "pairs":
        rows = np.lexsort((table.offer_ids, table.item_ids, -weight))
    else:
        turn = np.arange(len(items))
        if order == "priority":
            turn[np.lexsort((turn, -np.array([it.priority for it in items])))] = np.arange(len(items))
        rows = np.lexsort((table.offer_ids, -weight, turn[pos]))
    cols = np.searchsorted(index.offer_ids, table.offer_ids)
    need = [it.slots_needed for it in items]
    left = index.slots.tolist()
    taken = []
    for r, i, c in zip(rows.tolist(), pos[rows].tolist(), cols[rows].tolist(), strict=True):
        if need[i] > 0 and left[c] > 0:
            need[i] -= 1
            left[c] -= 1
            taken.append(r)
    taken = np.array(taken, dtype=np.int64)
    short = np.array([it.needs_whole_team and 0 < left_over < it.slots_needed for it, left_over in
                      zip(items, need, strict=True)], dtype=bool)
    taken = taken[~short[pos[taken]]]  # the partial policy: a team served short is not served
    pairs = list(zip(table.item_ids[taken].tolist(), table.offer_ids[taken].tolist(), strict=True))
    utility = float(sum(weight[taken].tolist(), 0.0))
    return Assignment(pairs=tuple(sorted(pairs)), utility=utility, method=f"greedy-{order}")


def lp_bound(items: Sequence[Item], index: MatchIndex, offer_prices: dict[int, float] | MappingProxyType
             ) -> float:
    """Upper bound on the LP optimum over ALL eligible pairs for given offer prices (weak duality).

    Streams every eligible pair of every item (teams that cannot be whole left out, as in `solve_batch`):
    sum_j c_j v_j + sum_i (top-k_i of max(0, w_ij - v_j)), a whole team's term all-or-nothing;
    see `transport` for the proof. With the prices of `solve_batch` it equals its `lp_bound`.
    """
    items = sorted(items, key=lambda it: it.id)
    v = np.array([offer_prices.get(o.id, 0.0) for o in index.offers])
    demand = team_demand(items, index.candidate_table(items, max((it.slots_needed for it in items), default=1)))
    whole = np.array([it.needs_whole_team for it in items], dtype=bool)
    return full_bound(index, items, objective_weigh(items), demand, v, whole)


def high_priority_ids(items: Sequence[Item], quantile: float = HIGH_PRIORITY_QUANTILE) -> frozenset[int]:
    """Ids of the top-decile-priority items (priority >= the batch's 90th percentile)."""
    if not items:
        return frozenset()
    threshold = float(np.quantile([it.priority for it in items], quantile))
    return frozenset(it.id for it in items if it.priority >= threshold)


def coverage(assignment: Assignment, ids: frozenset[int]) -> int:
    """How many of the given items get at least one provider."""
    return len({i for i, _ in assignment.pairs if i in ids})


def max_coverage(items: Sequence[Item], index: MatchIndex, ids: frozenset[int], k: int = TOP_K,
                 table: CandidateTable | None = None) -> tuple[int, int]:
    """(achieved, proven upper bound) of the most items of `ids` any feasible assignment can serve.

    A max-flow (weights 1, demand 1) restricted to those items over ALL their eligible pairs, by the same
    column generation and dual certificate as the assignment; the two numbers are equal when proven.
    """
    items, table = _prepare(items, index, k, table)
    chosen = np.array([it.id in ids for it in items])
    res: TransportResult = solve_exact(index, items, table, lambda s, pos: np.where(chosen[pos], 1.0, 0.0) + 0 * s,
                                       chosen.astype(np.int64), gap=0.0)
    return int(round(res.value)), int(np.floor(res.bound + 1e-6))
