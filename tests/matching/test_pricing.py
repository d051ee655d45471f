"""The pricing step's shortcuts are exact: the block-level bound, the top-k selection."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from socialforce.matching import check
from socialforce.matching.index import MatchIndex, top_k_per_row
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
