"""The pricing step's shortcuts are exact: the block-level bound, the top-k selection, the top providers."""
import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from socialforce.matching import check
from socialforce.matching.index import MatchIndex, Part, top_k_per_row
from socialforce.matching.transport import _kept_top, _row_top
from tests.matching.helpers import random_instance

SEEDS = st.integers(min_value=0, max_value=10**9)


@settings(max_examples=60, deadline=None)
@given(SEEDS)
def test_block_max_bounds_every_offer_an_item_could_be_eligible_for(seed):
    """The drift bound of kept pairs: a per-offer value's max over an item's blocks is >= its max over the
    item's eligible offers (so a left-out pair's gain rises by at most the block's largest price drop)."""
    items, offers, context = random_instance(seed, providers=3)
    index = MatchIndex.build(offers, context)
    values = np.random.default_rng(seed).random(len(index.offers))
    bound = index.block_max(items, values)
    for item, b in zip(items, bound, strict=True):
        eligible = [values[index.offer_pos[o.id]] for o in offers if not check.pair_problems(item, o, context)]
        assert b >= max(eligible, default=0.0)


def reference_top_k(scores, k):
    """The plain definition: each row's k best finite entries, ties to the lowest columns; best left out."""
    rows, cols, rest = [], [], []
    for r, row in enumerate(scores):
        order = sorted((c for c in range(row.size) if np.isfinite(row[c])), key=lambda c: (-row[c], c))
        rows += [r] * min(k, len(order))
        cols += order[:k]
        rest.append(row[order[k]] if len(order) > k else -np.inf)
    return np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64), np.array(rest)


@settings(max_examples=200, deadline=None)
@given(SEEDS, st.integers(1, 6), st.integers(1, 12), st.integers(1, 6))
def test_top_k_per_row_keeps_the_k_best_with_ties_to_the_lowest_columns(seed, m, n, k):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, size=(m, n)).astype(float)  # many ties
    scores[rng.random((m, n)) < 0.4] = -np.inf
    got = top_k_per_row(scores, np.isfinite(scores), k)
    want = reference_top_k(scores, k)
    for a, b in zip(got, want, strict=True):
        assert np.array_equal(a, b)


@settings(max_examples=200, deadline=None)
@given(SEEDS, st.integers(1, 6), st.integers(1, 12), st.integers(1, 4), st.integers(1, 6))
def test_top_providers_read_off_the_kept_pairs_equal_the_full_computation(seed, m, n, kmax, keep):
    """A first stream's top providers per row, from its kept pairs (falling back to the full row where they
    cannot tell), are the full computation's values: the same multiset per row."""
    rng = np.random.default_rng(seed)
    providers = rng.integers(0, max(1, n // 2), size=n)  # duplicate providers in the block
    order = np.argsort(providers, kind="stable")
    ordered = providers[order]
    z = np.zeros(n)
    part = Part(cols=np.arange(n), covers=True, x=z, y=z, radius=z, windows=z.astype(np.int64),
                needs_check=z.astype(bool), static=z, providers=providers, provider_order=order,
                duplicate_providers=bool((ordered[1:] == ordered[:-1]).any()), text_t=sp.csr_matrix((1, n)))
    raw = np.round(rng.normal(size=(m, n)), 1)  # ties
    raw[rng.random((m, n)) < 0.3] = -np.inf
    good = np.isfinite(raw) & (rng.random((m, n)) < 0.9)  # w > 0 (every raw > 0 has it)
    good |= raw > 0
    kr, kc, rest = top_k_per_row(np.where(good, raw, -np.inf), good, keep)
    got = _kept_top(raw, kr, kc, rest, part, kmax)
    want = _row_top(np.maximum(raw, 0.0), part, kmax, positive_only=True)
    for r in range(m):
        assert sorted(got[2][got[0] == r]) == sorted(want[2][want[0] == r])
