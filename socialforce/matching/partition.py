"""The batch assignment split where capacity cannot cross, each part solved alone, merged with its certificate.

An item can only take slots of offers it is eligible for, so the items and offers fall into connected components
of the graph of their possibly eligible pairs: no slot, and no (item, provider) pair, is shared by two components,
and the assignment problem is the sum of independent problems, one per component. In practice a component is a
county (nothing crosses a county) and, where offers do not cross towns, a town and category.

The graph is built from a superset of eligibility that is cheap to compute: an offer joins an item when it has the
item's category and covers its town, or its radius' bounding box (in `CELL_KM` cells) touches the item's cell; the
other hard constraints (time windows, qualifications, exclusions...) only remove pairs, so a component never
splits a truly eligible pair. Components are then packed into at most `parts` parts balanced by item count
(independent problems solved together are still independent).

Certificate: each part is solved by `assign.solve_batch` (the existing engine) and gives its utility and its LP
bound. Its index is either the one shared index or `part_index`: only the offers that may serve the part, scored
with the text model of all offers; either way the scores are the unpartitioned ones. The parts share no offer, so their
offer prices put together are one dual solution of the whole: the sum of the parts' bounds is an upper bound of
the whole problem, equal to `assign.lp_bound` of the whole with the merged prices.
"""
from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

from socialforce.matching.assign import TOP_K, BatchResult, solve_batch
from socialforce.matching.geo import project
from socialforce.matching.index import MatchIndex, fit_text
from socialforce.matching.taxonomy import DEFAULT_RULES, Rules
from socialforce.matching.text import TextModel
from socialforce.matching.transport import GAP_TOLERANCE
from socialforce.matching.types import Assignment, Context, Item, Offer

CELL_KM = 5.0
"""Grid cell of the radius test: an offer reaches every cell its radius' bounding box touches (a superset)."""


@dataclass(frozen=True)
class Part:
    """Items and offers that share capacity with nothing outside (one or several packed components)."""

    item_ids: tuple[int, ...]
    offer_ids: tuple[int, ...]
    components: int


@dataclass(frozen=True)
class PartResult:
    """One part's assignment with its certificate (utility <= lp_bound) and what solving it cost."""

    pairs: tuple[tuple[int, int], ...]
    utility: float
    lp_bound: float
    pro_rata_bound: float
    repair_loss: float
    offer_prices: MappingProxyType
    items: int
    seconds: float
    cpu_seconds: float

    def as_dict(self) -> dict:
        """JSON-ready form (a background job's result): pairs as lists, prices keyed by offer id as text."""
        return {"pairs": [list(p) for p in self.pairs], "utility": self.utility, "lp_bound": self.lp_bound,
                "pro_rata_bound": self.pro_rata_bound, "repair_loss": self.repair_loss,
                "offer_prices": {str(k): v for k, v in self.offer_prices.items()}, "items": self.items,
                "seconds": self.seconds, "cpu_seconds": self.cpu_seconds}

    @classmethod
    def from_dict(cls, data: dict) -> PartResult:
        """The inverse of `as_dict`."""
        return cls(pairs=tuple(tuple(p) for p in data["pairs"]), utility=float(data["utility"]),
                   lp_bound=float(data["lp_bound"]), pro_rata_bound=float(data["pro_rata_bound"]),
                   repair_loss=float(data["repair_loss"]),
                   offer_prices=MappingProxyType({int(k): float(v) for k, v in data["offer_prices"].items()}),
                   items=int(data["items"]), seconds=float(data["seconds"]), cpu_seconds=float(data["cpu_seconds"]))


@dataclass(frozen=True)
class PartitionedResult:
    """The merged assignment and certificate: utility and bound per part and in total."""

    assignment: Assignment
    lp_bound: float
    parts: tuple[PartResult, ...]
    offer_prices: MappingProxyType

    @property
    def utility_ratio(self) -> float:
        """Utility / bound (1.0 for an empty problem)."""
        return self.assignment.utility / self.lp_bound if self.lp_bound > 0 else 1.0


class _Union:
    """Union-find over hashable keys (path halving, union by size)."""

    def __init__(self) -> None:
        self.parent: dict = {}
        self.size: dict = {}

    def find(self, key):
        parent = self.parent.setdefault(key, key)
        if parent == key:
            self.size.setdefault(key, 1)
            return key
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def union(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]


def _cell(x: float, y: float) -> tuple[int, int]:
    return math.floor(x / CELL_KM), math.floor(y / CELL_KM)


def _offer_keys(o: Offer) -> Iterator[tuple]:
    """The places an offer reaches, per category: its towns, and the cells its radius' bounding box touches."""
    for cat in o.categories:
        for town in o.towns:
            yield ("town", town, cat)
    if o.radius_km > 0:
        x, y = project(o.lat, o.lon)
        r = o.radius_km + 1e-6
        (x0, y0), (x1, y1) = _cell(float(x) - r, float(y) - r), _cell(float(x) + r, float(y) + r)
        for cx in range(x0, x1 + 1):
            for cy in range(y0, y1 + 1):
                for cat in o.categories:
                    yield ("cell", cx, cy, cat)


def _item_keys(it: Item) -> tuple[tuple, tuple]:
    """The places an item is reached at: its town and its cell, in its category."""
    x, y = project(it.lat, it.lon)
    return ("town", it.town_id, it.category), ("cell", *_cell(float(x), float(y)), it.category)


def components(items: Sequence[Item], offers: Sequence[Offer]) -> list[Part]:
    """The connected components of items and offers through their possibly eligible pairs, largest first.

    Items no offer can reach are one component each; offers no item can reach are left out (they take nothing).
    """
    uf = _Union()
    for o in offers:
        node = ("offer", o.id)
        uf.find(node)
        for key in _offer_keys(o):
            uf.union(node, key)
    reached: list[tuple] = []
    for it in items:
        keys = [k for k in _item_keys(it) if k in uf.parent]
        for key in keys[1:]:
            uf.union(keys[0], key)
        reached.append(keys[0] if keys else ("alone", it.id))
    by_root: dict = defaultdict(lambda: ([], []))
    for it, key in zip(items, reached, strict=True):  # after every union: an item may join two earlier roots
        by_root[uf.find(key)][0].append(it.id)
    for o in offers:
        root = uf.find(("offer", o.id))
        if root in by_root:
            by_root[root][1].append(o.id)
    found = [Part(tuple(sorted(i)), tuple(sorted(o)), 1) for i, o in by_root.values()]
    return sorted(found, key=lambda p: (-len(p.item_ids), p.item_ids[0]))


def pack(found: Sequence[Part], parts: int) -> list[Part]:
    """At most `parts` parts of about equal item counts (largest component first into the lightest part)."""
    if parts <= 0:
        raise ValueError("parts must be at least 1")
    bins: list[tuple[list[int], list[int], int]] = [([], [], 0) for _ in range(min(parts, len(found)))]
    for comp in sorted(found, key=lambda p: (-len(p.item_ids), p.item_ids[0])):
        lightest = min(range(len(bins)), key=lambda b: (len(bins[b][0]), b))
        its, ofs, n = bins[lightest]
        bins[lightest] = (its + list(comp.item_ids), ofs + list(comp.offer_ids), n + comp.components)
    return [Part(tuple(sorted(i)), tuple(sorted(o)), n) for i, o, n in bins if i]


def partition(items: Sequence[Item], offers: Sequence[Offer], parts: int | None = None) -> list[Part]:
    """The independent parts of a batch: its components, packed into at most `parts` when given."""
    found = components(items, offers)
    return pack(found, parts) if parts else found


def reachable(items: Sequence[Item], offers: Sequence[Offer]) -> list[Offer]:
    """The offers that may be eligible for one of the items (the superset `components` joins them by)."""
    places = {key for it in items for key in _item_keys(it)}
    return [o for o in offers if any(key in places for key in _offer_keys(o))]


def part_context(context: Context, offers: Sequence[Offer]) -> Context:
    """The slice of the context that scoring these offers reads: what concerns their providers."""
    providers = {o.provider_id for o in offers}
    return replace(
        context, pairings=frozenset(p for p in context.pairings if p[0] in providers),
        served_before=frozenset(p for p in context.served_before if p[0] in providers),
        exclusions=frozenset(p for p in context.exclusions if p[1] in providers),
        household_blocks=frozenset(p for p in context.household_blocks if p[1] in providers),
        load={p: n for p, n in context.load.items() if p in providers},
        track_records={p: r for p, r in context.track_records.items() if p in providers})


def part_index(items: Sequence[Item], offers: Sequence[Offer], context: Context, rules: Rules = DEFAULT_RULES,
               text_model: TextModel | None = None) -> MatchIndex:
    """An index of only the offers that may serve the items, scoring text with the model of all the offers
    (`text_model`, or fitted here), so a part's scores, and its solution, are those of the whole index."""
    text_model = text_model if text_model is not None else fit_text(offers, context.on_date)
    mine = reachable(items, offers)
    return MatchIndex.build(mine, part_context(context, mine), rules, text_model=text_model)


def part_result(batch: BatchResult, items: int, seconds: float = 0.0, cpu_seconds: float = 0.0) -> PartResult:
    """A part's result and certificate from the engine's batch result."""
    return PartResult(pairs=batch.assignment.pairs, utility=batch.assignment.utility, lp_bound=batch.lp_bound,
                      pro_rata_bound=batch.pro_rata_bound, repair_loss=batch.repair_loss,
                      offer_prices=batch.offer_prices, items=items, seconds=seconds, cpu_seconds=cpu_seconds)


def solve_part(items: Sequence[Item], index: MatchIndex, k: int = TOP_K, gap: float = GAP_TOLERANCE) -> PartResult:
    """Solve one part's items with the existing engine (`solve_batch`) on the shared index; timed."""
    start, start_cpu = time.perf_counter(), time.process_time()
    batch = solve_batch(items, index, k, gap=gap)
    return part_result(batch, len(items), time.perf_counter() - start, time.process_time() - start_cpu)


def merge(results: Sequence[PartResult]) -> PartitionedResult:
    """The whole assignment and certificate from the parts' (which share no offer): utilities and bounds add up."""
    pairs = tuple(sorted(p for r in results for p in r.pairs))
    if len(set(pairs)) != len(pairs):
        raise ValueError("two parts assigned the same pair")
    prices: dict[int, float] = {}
    for r in results:
        if prices.keys() & r.offer_prices.keys():
            raise ValueError("two parts priced the same offer: they were not independent")
        prices.update(r.offer_prices)
    utility = float(sum(r.utility for r in results))
    return PartitionedResult(assignment=Assignment(pairs=pairs, utility=utility, method="flow-partitioned"),
                             lp_bound=float(sum(r.lp_bound for r in results)), parts=tuple(results),
                             offer_prices=MappingProxyType(prices))


def solve_partitioned(items: Sequence[Item], index: MatchIndex, parts: int | None = None, k: int = TOP_K,
                      gap: float = GAP_TOLERANCE,
                      run: Callable[[list[list[Item]]], list[PartResult]] | None = None) -> PartitionedResult:
    """Split, solve every part (in turn, or by `run`, e.g. a pool of processes) and merge with the certificate."""
    by_id = {it.id: it for it in items}
    groups = [[by_id[i] for i in p.item_ids] for p in partition(items, index.offers, parts)]
    results = run(groups) if run is not None else [solve_part(g, index, k, gap) for g in groups]
    return merge(results)
