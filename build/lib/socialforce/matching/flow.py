"""Exact transportation problem by min-cost flow (OR-Tools), with LP dual prices from the residual graph.

Network: source -> item i (capacity k_i), item -> offer (capacity 1, cost -round(w_ij x COST_SCALE)),
offer j -> sink (capacity c_j), and a source -> sink bypass (cost 0) so items may stay unassigned.
When an item has arcs to several offers of one provider, those arcs leave a node (item, provider) fed by
one arc of capacity 1 from the item: an item takes at most one slot of each provider, whichever offer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

COST_SCALE = 1_000_000
MAX_BF_ROUNDS = 100_000


@dataclass(frozen=True)
class FlowSolution:
    """Flow on the item->offer arcs (0/1, in input order) and dual prices u (items) and v (offers) >= 0."""

    flow: np.ndarray
    item_price: np.ndarray
    offer_price: np.ndarray


def _provider_nodes(arc_item: np.ndarray, arc_provider: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per arc, the index of its (item, provider) node (-1: the provider has no other arc for the item),
    and per node its item."""
    if arc_item.size == 0:
        return np.full(0, -1, np.int64), np.zeros(0, np.int64)
    key = arc_item.astype(np.int64) * np.int64(arc_provider.max() + 1) + arc_provider
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    shared = counts >= 2
    node = np.where(shared, np.cumsum(shared) - 1, -1)[inverse]
    node_item = np.zeros(int(shared.sum()), np.int64)
    node_item[node[node >= 0]] = arc_item[node >= 0]
    return node, node_item


def solve_transportation(arc_item: np.ndarray, arc_offer: np.ndarray, weight: np.ndarray,
                         demand: np.ndarray, capacity: np.ndarray, arc_provider: np.ndarray | None = None
                         ) -> FlowSolution:
    """Maximise sum(weight x flow) with item demands and offer capacities, at most one offer of each
    provider per item (`arc_provider`; None: every arc is its own provider); arcs in a fixed order."""
    n_items, n_offers = demand.size, capacity.size
    source, sink = 0, n_items + n_offers + 1
    cost = -np.rint(weight * COST_SCALE).astype(np.int64)
    if arc_provider is None:
        node, node_item = np.full(arc_item.size, -1, np.int64), np.zeros(0, np.int64)
    else:
        node, node_item = _provider_nodes(arc_item, arc_provider)
    groups = sink + 1 + np.arange(node_item.size)
    arc_tail = np.where(node >= 0, sink + 1 + node, arc_item + 1)
    tails = np.concatenate([arc_tail, np.zeros(n_items, np.int64), n_items + 1 + np.arange(n_offers),
                            [source], node_item + 1]).astype(np.int32)
    heads = np.concatenate([n_items + 1 + arc_offer, 1 + np.arange(n_items), np.full(n_offers, sink),
                            [sink], groups]).astype(np.int32)
    total = int(demand.sum())
    caps = np.concatenate([np.ones(arc_item.size, np.int64), demand, capacity, [total],
                           np.ones(node_item.size, np.int64)]).astype(np.int64)
    costs = np.concatenate([cost, np.zeros(n_items + n_offers + 1 + node_item.size, np.int64)])
    solver = min_cost_flow.SimpleMinCostFlow()
    arcs = solver.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    n_nodes = sink + 1 + node_item.size
    supplies = np.zeros(n_nodes, np.int64)
    supplies[source], supplies[sink] = total, -total
    solver.set_nodes_supplies(np.arange(n_nodes, dtype=np.int32), supplies)
    status = solver.solve()
    if status != solver.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    flows = np.asarray(solver.flows(arcs), dtype=np.int64)
    potential = _potentials(tails.astype(np.int64), heads.astype(np.int64), caps, costs, flows, n_nodes)
    item_price = np.maximum(0, potential[1:n_items + 1] - potential[source]) / COST_SCALE
    offer_price = np.maximum(0, potential[sink] - potential[n_items + 1:sink]) / COST_SCALE
    return FlowSolution(flow=flows[:arc_item.size], item_price=item_price, offer_price=offer_price)


def _potentials(tails: np.ndarray, heads: np.ndarray, caps: np.ndarray, costs: np.ndarray, flows: np.ndarray,
                n_nodes: int) -> np.ndarray:
    """Shortest distances from a virtual root (0-cost arcs to every node) in the residual graph.

    An optimal flow leaves no negative cycle, so Bellman-Ford converges; the distances d are node
    potentials with non-negative reduced costs c(a,b) + d(a) - d(b) >= 0 on every residual arc, which
    is LP complementary slackness: they yield optimal dual prices. Each round relaxes only the arcs
    leaving nodes whose distance changed in the previous round (the rest cannot improve anything).
    """
    fwd = flows < caps
    bwd = flows > 0
    t = np.concatenate([tails[fwd], heads[bwd]])
    h = np.concatenate([heads[fwd], tails[bwd]])
    c = np.concatenate([costs[fwd], -costs[bwd]])
    neg = c < 0  # from d = 0 everywhere, only negative arcs can improve in the first round
    d = np.zeros(n_nodes, np.int64)
    np.minimum.at(d, h[neg], c[neg])
    order = np.argsort(t, kind="stable")
    t, h, c = t[order], h[order], c[order]
    start = np.searchsorted(t, np.arange(n_nodes + 1))
    frontier = np.flatnonzero(d < 0)
    for _ in range(MAX_BF_ROUNDS):
        if frontier.size == 0:
            return d
        lo, hi = start[frontier], start[frontier + 1]
        count = hi - lo
        total = int(count.sum())
        if total == 0:
            return d
        arcs = np.repeat(lo - np.cumsum(count) + count, count) + np.arange(total)
        cand = d[t[arcs]] + c[arcs]
        better = cand < d[h[arcs]]
        if not better.any():
            return d
        heads_, cand = h[arcs][better], cand[better]
        np.minimum.at(d, heads_, cand)
        changed = np.zeros(n_nodes, dtype=bool)
        changed[heads_] = True
        frontier = np.flatnonzero(changed)
    raise RuntimeError("residual graph has a negative cycle: the flow is not optimal")
