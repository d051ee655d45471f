"""MatchIndex: offers blocked by (town, category) and (grid cell, category), scored against items.

Build once per context (fits the TF-IDF text model on the active offers' descriptions); ranking a new item
transforms only that item and scores it only against its blocks' offers (blocks are cached lazily).
Offers are kept in id order, items are processed in id order, and every tie is broken by offer id, so
the output does not depend on the order of the inputs.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

import numpy as np
import scipy.sparse as sp

from socialforce.matching.candidates import CandidateTable
from socialforce.matching.check import pair_problems
from socialforce.matching.features import FEATURES, free_share, proximity, track_record_value
from socialforce.matching.geo import distances_km, project
from socialforce.matching.scoring import COLD_START_WEIGHTS, contributions, weight_vector
from socialforce.matching.taxonomy import DEFAULT_RULES, PROVIDER_KINDS, Rules
from socialforce.matching.text import TextModel
from socialforce.matching.types import Candidate, Context, Item, Offer, Reason

CELL_KM = 5.0
"""Grid cell size for offers with a travel radius: an offer is listed in every cell its radius can reach."""
MAX_CHUNK_CELLS = 1_000_000
"""Items are scored against a block in chunks of at most this many item x offer cells (bounds memory)."""
THREADS = 2
"""Blocks are scored on this many threads (NumPy releases the GIL in the array work)."""
F_TEXT, F_DIST, F_PAIR, F_CONT, F_TRACK, F_PRIO, F_LOAD = range(len(FEATURES))


@dataclass(frozen=True)
class Part:
    """The offers of one block, as arrays; `covers` says whether they all cover the items' town."""

    cols: np.ndarray
    covers: bool
    x: np.ndarray
    y: np.ndarray
    radius: np.ndarray
    windows: np.ndarray
    needs_check: np.ndarray
    static: np.ndarray
    providers: np.ndarray
    provider_order: np.ndarray
    duplicate_providers: bool
    text_t: sp.csr_matrix


@dataclass(frozen=True)
class Batch:
    """Items prepared for scoring, permuted so each task (part, start, end) is a contiguous slice;
    `perm` maps a slice position back to the item's row; lookups are by item row."""

    tasks: list[tuple[Part, int, int]]
    perm: np.ndarray
    x: np.ndarray
    y: np.ndarray
    windows: np.ndarray
    minor: np.ndarray
    prio: np.ndarray
    vectors: sp.csr_matrix
    bans: list[np.ndarray | None]
    has_ban: np.ndarray
    pairings: list[np.ndarray | None]
    has_pairing: np.ndarray
    served: list[np.ndarray | None]
    has_served: np.ndarray


@dataclass(frozen=True)
class PartScores:
    """One chunk of items scored against one part: eligibility, raw values and cold-start scores."""

    rows: np.ndarray
    part: Part
    ok: np.ndarray
    text: np.ndarray
    km: np.ndarray
    pairing: np.ndarray
    continuity: np.ndarray
    scores: np.ndarray


def _household_map(pairs: Iterable[tuple[int, int]], first_is_provider: bool) -> dict[int, np.ndarray]:
    """household_id -> sorted provider ids, from (provider, household) or (household, provider) pairs."""
    out: dict[int, list[int]] = defaultdict(list)
    for a, b in pairs:
        provider, household = (a, b) if first_is_provider else (b, a)
        out[household].append(provider)
    return {h: np.unique(np.array(p, dtype=np.int64)) for h, p in out.items()}


def matchable(offer: Offer, on: date) -> bool:
    """Whether the offer can take an item on the date: valid then, with a slot left."""
    return offer.valid_from <= on <= offer.valid_to and offer.slots_left > 0


def fit_text(offers: Iterable[Offer], on: date) -> TextModel:
    """The text model an index over these offers fits: on the matchable offers' descriptions."""
    return TextModel([o.description for o in offers if matchable(o, on)])


class MatchIndex:
    """Offers indexed for ranking items (and items for a volunteer) under the hard constraints."""

    def __init__(self, offers: Sequence[Offer], context: Context, rules: Rules = DEFAULT_RULES,
                 weights: dict[str, float] | None = None, text_model: TextModel | None = None) -> None:
        self.offers: tuple[Offer, ...] = tuple(sorted(offers, key=lambda o: o.id))
        self.context = context
        self.rules = rules
        self.weights = dict(weights or COLD_START_WEIGHTS)
        self._w = weight_vector(self.weights)
        self.offer_pos = {o.id: i for i, o in enumerate(self.offers)}
        self.offer_ids = np.array([o.id for o in self.offers], dtype=np.int64)
        on = context.on_date
        self.active = np.array([matchable(o, on) for o in self.offers], dtype=bool)
        lat = np.array([o.lat for o in self.offers], dtype=np.float64)
        lon = np.array([o.lon for o in self.offers], dtype=np.float64)
        self.x, self.y = project(lat, lon)
        self.radius = np.array([o.radius_km for o in self.offers], dtype=np.float64)
        self.windows = np.array([o.windows for o in self.offers], dtype=np.int64)
        self.provider_ids = np.array([o.provider_id for o in self.offers], dtype=np.int64)
        self.kind_codes = np.array([PROVIDER_KINDS.index(o.provider_kind) for o in self.offers], dtype=np.int8)
        self.slots = np.array([o.slots_left for o in self.offers], dtype=np.int64)
        self.needs_check = np.array([o.provider_kind in rules.minor_check_kinds and not o.background_checked
                                     for o in self.offers], dtype=bool)
        records, load = context.track_records, context.load
        self.track = np.array([track_record_value(records.get(o.provider_id)) for o in self.offers])
        self.load = np.array([free_share(o.slots_left, load.get(o.provider_id, 0)) for o in self.offers])
        self.static = self._w[F_TRACK] * self.track + self._w[F_LOAD] * self.load
        active_docs = [o.description for o, a in zip(self.offers, self.active, strict=True) if a]
        self.text_model = text_model if text_model is not None else fit_text(self.offers, on)
        rows = np.flatnonzero(self.active)
        place = sp.csr_matrix((np.ones(rows.size), (rows, np.arange(rows.size))), shape=(len(self.offers), rows.size))
        self.offer_text_t = (place @ self.text_model.transform(active_docs)).T.tocsc()
        self.multi_offer_providers = bool(np.unique(self.provider_ids).size < self.provider_ids.size)
        self._town_cat: dict[tuple[int, str], list[int]] = defaultdict(list)
        self._cell_cat: dict[tuple[tuple[int, int], str], list[int]] = defaultdict(list)
        for i, o in enumerate(self.offers):
            if not self.active[i]:
                continue
            for cat in sorted(o.categories):
                required = rules.required(cat)
                if required and not (required & o.qualifications):
                    continue
                for town in o.towns:
                    self._town_cat[(town, cat)].append(i)
                if o.radius_km > 0:
                    r = o.radius_km + 1e-6
                    for cx in range(math.floor((self.x[i] - r) / CELL_KM), math.floor((self.x[i] + r) / CELL_KM) + 1):
                        for cy in range(math.floor((self.y[i] - r) / CELL_KM),
                                        math.floor((self.y[i] + r) / CELL_KM) + 1):
                            self._cell_cat[((cx, cy), cat)].append(i)
        self._parts: dict[tuple, Part] = {}
        self._town_arrays: dict[tuple[int, str], np.ndarray] = {}
        self._pairings = _household_map(context.pairings, first_is_provider=True)
        self._served = _household_map(context.served_before, first_is_provider=True)
        self._blocked = _household_map(context.household_blocks, first_is_provider=False)
        excluded: dict[int, list[int]] = defaultdict(list)
        for item_id, provider_id in context.exclusions:
            excluded[item_id].append(provider_id)
        self._excluded = {i: np.unique(np.array(p, dtype=np.int64)) for i, p in excluded.items()}

    @classmethod
    def build(cls, offers: Sequence[Offer], context: Context, rules: Rules = DEFAULT_RULES,
              weights: dict[str, float] | None = None, text_model: TextModel | None = None) -> MatchIndex:
        """Index the offers for the context (fits the text model once, unless given one fitted on more offers)."""
        return cls(offers, context, rules, weights, text_model)

    # ----------------------------------------------------------------- building blocks
    def item_vectors(self, items: Sequence[Item]) -> sp.csr_matrix:
        """TF-IDF rows of the items' descriptions with the already-fitted text model."""
        return self.text_model.transform([it.description for it in items])

    def _part(self, key: tuple) -> Part | None:
        part = self._parts.get(key)
        if part is not None or key in self._parts:
            return part
        if key[0] == "town":
            _, town, cat = key
            cols = self._town_cols(town, cat)
            covers = True
        else:
            _, town, cell, cat = key
            near = _ascending_unique(self._cell_cat.get((cell, cat), ()))
            local = self._town_cols(town, cat)
            at = np.minimum(np.searchsorted(local, near), max(local.size - 1, 0))
            cols = near[local[at] != near] if local.size else near  # the cell's offers not listed for the town
            covers = False
        if cols.size == 0:
            self._parts[key] = None
            return None
        providers = self.provider_ids[cols]
        order = np.argsort(providers, kind="stable")
        ordered = providers[order]
        part = Part(cols=cols, covers=covers, x=self.x[cols], y=self.y[cols], radius=self.radius[cols],
                    windows=self.windows[cols], needs_check=self.needs_check[cols], static=self.static[cols],
                    providers=providers, provider_order=order,
                    duplicate_providers=bool((ordered[1:] == ordered[:-1]).any()),
                    text_t=self.offer_text_t[:, cols].tocsr())
        self._parts[key] = part
        return part

    def _town_cols(self, town: int, cat: str) -> np.ndarray:
        """The sorted offer columns listed for (town, category), built once per key."""
        cols = self._town_arrays.get((town, cat))
        if cols is None:
            cols = _ascending_unique(self._town_cat.get((town, cat), ()))
            self._town_arrays[(town, cat)] = cols
        return cols

    @staticmethod
    def _provider_hits(part: Part, wanted: list[np.ndarray | None], m: int) -> np.ndarray | None:
        """m x n bool: True where the part's provider is in the row's provider list (None: no hit)."""
        rows = [np.full(w.size, r) for r, w in enumerate(wanted) if w is not None]
        if not rows:
            return None
        r = np.concatenate(rows)
        pids = np.concatenate([w for w in wanted if w is not None])
        ordered = part.providers[part.provider_order]
        lo = np.searchsorted(ordered, pids, side="left")
        hi = np.searchsorted(ordered, pids, side="right")
        hit = hi > lo
        if not hit.any():
            return None
        hits = np.zeros((m, part.cols.size), dtype=bool)
        r, lo, hi = r[hit], lo[hit], hi[hit]
        extra = hi - lo
        reps = np.repeat(np.arange(r.size), extra)
        offsets = np.arange(reps.size) - np.repeat(np.cumsum(extra) - extra, extra)
        hits[r[reps], part.provider_order[lo[reps] + offsets]] = True
        return hits

    def score_part(self, batch: Batch, part: Part, start: int, end: int) -> PartScores:
        """Score one contiguous slice of the batch against one part: eligibility, raw values, scores."""
        rows = batch.perm[start:end]
        m = end - start
        km = distances_km(batch.x[start:end], batch.y[start:end], part.x, part.y)
        ok = (batch.windows[start:end, None] & part.windows[None, :]) != 0
        minor = batch.minor[start:end]
        if minor.any() and part.needs_check.any():
            ok &= ~(minor[:, None] & part.needs_check[None, :])
        if not part.covers:
            ok &= km <= part.radius[None, :]
        hits = [self._provider_hits(part, [lookup[r] for r in rows], m) if flags[rows].any() else None
                for lookup, flags in ((batch.bans, batch.has_ban), (batch.pairings, batch.has_pairing),
                                      (batch.served, batch.has_served))]
        if hits[0] is not None:
            ok &= ~hits[0]
        no_hits = np.zeros((m, part.cols.size), dtype=bool)
        pairing = no_hits if hits[1] is None else hits[1]
        continuity = no_hits if hits[2] is None else hits[2]
        text = (batch.vectors[start:end] @ part.text_t).toarray()
        w = self._w
        scores = w[F_TEXT] * text  # the terms in the scorer's order, in place; a term that is all 0 adds nothing
        scores += w[F_DIST] * proximity(km)
        for weight, hit in ((w[F_PAIR], hits[1]), (w[F_CONT], hits[2])):
            if hit is not None:
                scores += weight * hit
        scores += part.static[None, :]
        scores += (w[F_PRIO] * batch.prio[start:end])[:, None]
        scores[~ok] = -np.inf
        return PartScores(rows=rows, part=part, ok=ok, text=text, km=km, pairing=pairing,
                          continuity=continuity, scores=scores)

    def _merge_bans(self, item: Item) -> np.ndarray | None:
        a, b = self._excluded.get(item.id), self._blocked.get(item.household_id)
        if a is None:
            return b
        return a if b is None else np.union1d(a, b)

    @staticmethod
    def _best_offer_per_provider(part: Part, scores: np.ndarray
                                 ) -> tuple[np.ndarray, Callable[[np.ndarray, np.ndarray], np.ndarray], np.ndarray]:
        """Per row and provider of the part, the best eligible offer (ties: lowest offer id), by columns.

        Returns (m x G scores, -inf if none; columns(rows, groups), the part columns of those offers; per row the
        best score of the eligible offers NOT chosen). Sort-free: a provider with one offer in the part is that
        column, the others a max per provider group over their provider-ordered columns.
        """
        order = part.provider_order
        ordered = part.providers[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        size = np.diff(np.r_[starts, ordered.size])
        best = scores[:, order[starts]]
        multi = np.flatnonzero(size > 1)
        cols = order[np.repeat(size > 1, size)]  # the multi-offer providers' columns, provider-ordered
        local = np.r_[0, np.cumsum(size[multi])[:-1]]
        s = scores[:, cols]
        top = np.maximum.reduceat(s, local, axis=1)
        hit = (s == np.repeat(top, size[multi], axis=1)) & np.isfinite(s)
        back = np.where(hit, cols.size - np.arange(cols.size)[None, :], 0)  # first hit: the lowest column
        first = np.minimum(cols.size - np.maximum.reduceat(back, local, axis=1), cols.size - 1)
        chosen = np.zeros(s.shape, dtype=bool)
        rows = np.broadcast_to(np.arange(s.shape[0])[:, None], first.shape)
        chosen[rows, first] = np.isfinite(top)
        rest = np.where(chosen, -np.inf, s).max(axis=1)
        best[:, multi] = top
        slot = np.full(starts.size, -1)
        slot[multi] = np.arange(multi.size)

        def columns(r: np.ndarray, g: np.ndarray) -> np.ndarray:
            out = order[starts[g]]
            m = slot[g] >= 0
            out[m] = cols[first[r[m], slot[g[m]]]]
            return out

        return best, columns, rest

    @staticmethod
    def _groups(items: Sequence[Item]) -> tuple[np.ndarray, np.ndarray, dict[tuple, list[int]]]:
        """Projected x, y of the items and their rows per block key (each item is in a town and a near block)."""
        n = len(items)
        x, y = project(np.fromiter((it.lat for it in items), float, n), np.fromiter((it.lon for it in items), float, n))
        cx = np.floor(x / CELL_KM).astype(np.int64)
        cy = np.floor(y / CELL_KM).astype(np.int64)
        groups: dict[tuple, list[int]] = defaultdict(list)
        for r, (it, a, b) in enumerate(zip(items, cx.tolist(), cy.tolist(), strict=True)):
            groups[("town", it.town_id, it.category)].append(r)
            groups[("near", it.town_id, (a, b), it.category)].append(r)
        return x, y, groups

    def block_max(self, items: Sequence[Item], values: np.ndarray) -> np.ndarray:
        """Per item, the largest of `values` (one per offer) over the offers of its blocks (0 if none): a
        bound over every offer the item could be eligible for, at the cost of one max per block."""
        out = np.zeros(len(items))
        for key, rows in self._groups(items)[2].items():
            part = self._part(key)
            if part is not None:
                idx = np.array(rows, dtype=np.int64)
                out[idx] = np.maximum(out[idx], values[part.cols].max())
        return out

    def prepare(self, items: Sequence[Item], vectors: sp.csr_matrix | None = None) -> Batch:
        """Arrays of the items laid out so that every (part, chunk) task is a contiguous slice."""
        n = len(items)
        x, y, groups = self._groups(items)
        tasks, segments, at = [], [], 0
        for key in sorted(groups, key=repr):
            part = self._part(key)
            if part is None:
                continue
            rows = np.array(groups[key], dtype=np.int64)
            step = max(1, MAX_CHUNK_CELLS // part.cols.size)
            for begin in range(0, rows.size, step):
                chunk = rows[begin:begin + step]
                tasks.append((part, at, at + chunk.size))
                segments.append(chunk)
                at += chunk.size
        perm = np.concatenate(segments) if segments else np.zeros(0, dtype=np.int64)
        if vectors is None:
            vectors = self.item_vectors(items)
        bans = [self._merge_bans(it) for it in items]
        pairings = [self._pairings.get(it.household_id) for it in items]
        served = [self._served.get(it.household_id) for it in items]
        return Batch(tasks=tasks, perm=perm, x=x[perm], y=y[perm],
                     windows=np.fromiter((it.windows for it in items), np.int64, n)[perm],
                     minor=np.fromiter((it.minor for it in items), bool, n)[perm],
                     prio=np.fromiter((it.priority for it in items), float, n)[perm], vectors=vectors[perm],
                     bans=bans, has_ban=np.array([b is not None for b in bans], dtype=bool),
                     pairings=pairings, has_pairing=np.array([b is not None for b in pairings], dtype=bool),
                     served=served, has_served=np.array([b is not None for b in served], dtype=bool))

    def _run(self, batch: Batch, fn):
        """fn(PartScores) over every task of the batch, in task order, on THREADS threads."""
        def one(task: tuple[Part, int, int]):
            return fn(self.score_part(batch, *task))
        if THREADS == 1 or len(batch.tasks) < 4:
            return [one(t) for t in batch.tasks]
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            return list(pool.map(one, batch.tasks))

    def iter_scored(self, items: Sequence[Item], fn):
        """fn(PartScores) for every (chunk of items, part): covers ALL eligible pairs, each exactly once."""
        return self._run(self.prepare(items), fn)

    # ----------------------------------------------------------------- ranking
    def candidate_table(self, items: Sequence[Item], k: int, per_provider: bool = True) -> CandidateTable:
        """The top-k eligible offers of every item (per_provider: only each provider's best), as columns.

        `pruned_max` records, per item, the best score among its eligible offers left out of the table.
        """
        items = sorted(items, key=lambda it: it.id)
        pruned = np.full(len(items), -np.inf)

        def piece(ps: PartScores) -> tuple[np.ndarray, ...]:
            if per_provider and ps.part.duplicate_providers:  # a provider's other offers count as pruned
                best, columns, dropped = self._best_offer_per_provider(ps.part, ps.scores)
                r, g, rest = top_k_per_row(best, np.isfinite(best), k)
                c, rest = columns(r, g), np.maximum(rest, dropped)
            else:
                r, c, rest = top_k_per_row(ps.scores, ps.ok, k)
            return (ps.rows[r], ps.part.cols[c], ps.scores[r, c], ps.text[r, c], ps.km[r, c],
                    ps.pairing[r, c], ps.continuity[r, c], ps.rows, rest)

        pieces = self._run(self.prepare(items), piece)
        for p in pieces:
            np.maximum.at(pruned, p[7], p[8])
        return self._table(items, [p[:7] for p in pieces], k, pruned, per_provider)

    def _table(self, items: Sequence[Item], pieces: list, k: int, pruned: np.ndarray, per_provider: bool
               ) -> CandidateTable:
        item_ids = np.array([it.id for it in items], dtype=np.int64)
        if not pieces:
            return CandidateTable.empty(item_ids)
        rows, cols, scores, text, km, pairing, continuity = (np.concatenate(p) for p in zip(*pieces, strict=True))
        sel = np.lexsort((cols, -scores, rows))
        if per_provider and self.multi_offer_providers:  # keep each provider's best offer per item
            providers = self.provider_ids[cols[sel]]
            first_seen = np.unique(rows[sel] * np.int64(self.provider_ids.max() + 1) + providers,
                                   return_index=True)[1]
            dropped = np.ones(sel.size, dtype=bool)
            dropped[first_seen] = False
            np.maximum.at(pruned, rows[sel[dropped]], scores[sel[dropped]])
            sel = sel[np.sort(first_seen)]
        position = np.arange(sel.size) - np.searchsorted(rows[sel], rows[sel], side="left")
        np.maximum.at(pruned, rows[sel[position >= k]], scores[sel[position >= k]])
        sel, position = sel[position < k], position[position < k]
        r, c = rows[sel], cols[sel]
        prio = np.array([it.priority for it in items])
        values = np.column_stack([text[sel], km[sel], pairing[sel].astype(float), continuity[sel].astype(float),
                                  self.track[c], prio[r], self.load[c]])
        return CandidateTable(item_ids=item_ids[r], offer_ids=self.offer_ids[c], provider_ids=self.provider_ids[c],
                              scores=scores[sel], values=values, positions=position.astype(np.int64),
                              all_item_ids=item_ids, pruned_max=pruned, top_k=k, per_provider=per_provider)

    def rank(self, item: Item, k: int = 10) -> list[Candidate]:
        """The item's top-k candidates with reasons (incremental: scores only this item's blocks)."""
        return self.rank_many([item], k)[0]

    def rank_many(self, items: Sequence[Item], k: int = 10) -> list[list[Candidate]]:
        """Top-k candidates of each item, in the order of `items`."""
        table = self.candidate_table(items, k)
        by_item = table.candidates(self.weights)
        return [by_item.get(it.id, []) for it in items]

    # ----------------------------------------------------------------- the volunteer's view
    def tasks_for_volunteer(self, offer: Offer, items: Sequence[Item], k: int = 10) -> list[Candidate]:
        """Items ranked for one provider's offer, reciprocally (its fit for the item and the item's for it).

        Same hard constraints as `rank`. score = 0.5 x the item's cold-start score for this offer +
        0.5 x the volunteer's fit (0.4 text + 0.3 proximity + 0.3 "window_fit", the share of the
        volunteer's windows the item can use); contributions add up to the score.
        """
        on = self.context.on_date
        if not matchable(offer, on) or not items:
            return []
        items = sorted(items, key=lambda it: it.id)
        ok = np.array([self._eligible_for_offer(it, offer) for it in items], dtype=bool)
        if not ok.any():
            return []
        items = [it for it, good in zip(items, ok, strict=True) if good]
        vec = self.text_model.transform([offer.description])
        text = (self.item_vectors(items) @ vec.T).toarray().ravel()
        ox, oy = project(offer.lat, offer.lon)
        ix, iy = project(np.array([it.lat for it in items]), np.array([it.lon for it in items]))
        km = distances_km(ix, iy, np.array([float(ox)]), np.array([float(oy)])).ravel()
        pairing = np.array([(offer.provider_id, it.household_id) in self.context.pairings for it in items], float)
        cont = np.array([(offer.provider_id, it.household_id) in self.context.served_before for it in items], float)
        track = track_record_value(self.context.track_records.get(offer.provider_id))
        load = free_share(offer.slots_left, self.context.load.get(offer.provider_id, 0))
        prio = np.array([it.priority for it in items])
        n_bits = max(1, bin(offer.windows).count("1"))
        window_fit = np.array([bin(it.windows & offer.windows).count("1") / n_bits for it in items])
        values = np.column_stack([text, km, pairing, cont, np.full(len(items), track), prio,
                                  np.full(len(items), load)])
        contrib = 0.5 * contributions(values, self.weights)
        contrib[:, F_TEXT] += 0.5 * 0.4 * text
        contrib[:, F_DIST] += 0.5 * 0.3 * proximity(km)
        window_part = 0.5 * 0.3 * window_fit
        scores = contrib.sum(axis=1) + window_part
        ids = np.array([it.id for it in items])
        order = np.lexsort((ids, -scores))[:k]
        out = []
        for i in order:
            parts = {f: float(contrib[i, j]) for j, f in enumerate(FEATURES)}
            parts["window_fit"] = float(window_part[i])
            vals = {f: float(values[i, j]) for j, f in enumerate(FEATURES)}
            vals["window_fit"] = float(window_fit[i])
            reasons = tuple(Reason(f, parts[f], vals[f]) for f in sorted(parts, key=lambda f: (-parts[f], f)))
            out.append(Candidate(item_id=items[i].id, offer_id=offer.id, provider_id=offer.provider_id,
                                 score=float(scores[i]), contributions=parts, reasons=reasons))
        return out

    def _eligible_for_offer(self, item: Item, offer: Offer) -> bool:
        """The hard constraints for one item and one offer (scalar form, used by the volunteer's view)."""
        return not pair_problems(item, offer, self.context, self.rules)


def _ascending_unique(cols: Sequence[int]) -> np.ndarray:
    """The distinct values of a non-decreasing list of offer columns (the block lists are built in column
    order, so a repeat can only follow itself): a sort-free np.unique."""
    a = np.array(cols, dtype=np.int64)
    return a[np.r_[True, a[1:] != a[:-1]]] if a.size > 1 else a


def top_k_per_row(scores: np.ndarray, ok: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols) of each row's k best eligible entries (sorted by row, score desc, col asc; ties at the k-th
    go to the lowest cols), and per row the best score of the eligible entries left out (-inf if none).
    Eligible entries are exactly the finite scores (`ok` must equal np.isfinite(scores))."""
    m, n = scores.shape
    if n > k:
        c = np.argpartition(-scores, k, axis=1)[:, :k + 1]  # the k best, then the (k+1)-th: the best left out
        top = np.take_along_axis(scores, c, axis=1)
        c, top, rest = c[:, :k], top[:, :k], top[:, k].copy()  # a copy: a view would keep all of `top` alive
        kth = top.min(axis=1)
        tied = np.isfinite(kth) & (rest == kth)
        r = np.broadcast_to(np.arange(m)[:, None], c.shape)
        keep = np.isfinite(top)
        r, c = r[keep], c[keep]
        fix = np.flatnonzero(tied)
        if fix.size:  # ties straddle the k-th place: take the lowest columns among them
            drop = np.isin(r, fix)
            r, c = r[~drop], c[~drop]
            sub = scores[fix]
            greater = sub > kth[fix, None]
            equal = sub == kth[fix, None]
            sel = greater | (equal & (np.cumsum(equal, axis=1) <= (k - greater.sum(axis=1))[:, None]))
            fr, fc = np.nonzero(sel)
            r, c = np.concatenate([r, fix[fr]]), np.concatenate([c, fc])
    else:
        r, c = np.nonzero(ok)
        rest = np.full(m, -np.inf)
    order = np.lexsort((c, -scores[r, c], r))
    return r[order], c[order], rest
