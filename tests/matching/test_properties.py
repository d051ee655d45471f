"""Property tests on random small instances: hard constraints, capacity, optimality, determinism."""
import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from socialforce.matching import check
from socialforce.matching.assign import assign_greedy, lp_bound, solve_batch
from socialforce.matching.index import MatchIndex
from socialforce.matching.scoring import priority_weight
from tests.matching.helpers import random_instance

SEEDS = st.integers(min_value=0, max_value=10**9)
FAST = settings(max_examples=40, deadline=None)


def brute_force_eligible(items, offers, context):
    return {(it.id, o.id) for it in items for o in offers if not check.pair_problems(it, o, context)}


@FAST
@given(SEEDS)
def test_ranking_returns_exactly_the_eligible_best_offer_per_provider(seed):
    items, offers, context = random_instance(seed)
    index = MatchIndex.build(offers, context)
    eligible = brute_force_eligible(items, offers, context)
    by_id = {o.id: o for o in offers}
    for item, ranked in zip(items, index.rank_many(items, k=100), strict=True):
        assert all((item.id, c.offer_id) in eligible for c in ranked)
        providers = {by_id[o].provider_id for i, o in eligible if i == item.id}
        assert sorted(c.provider_id for c in ranked) == sorted(providers)
        assert [c.score for c in ranked] == sorted((c.score for c in ranked), reverse=True)
        for c in ranked:
            assert abs(sum(c.contributions.values()) - c.score) < 1e-9


@FAST
@given(SEEDS)
def test_assignments_break_no_constraint_and_flow_is_optimal(seed):
    items, offers, context = random_instance(seed)
    index = MatchIndex.build(offers, context)
    batch = solve_batch(items, index, k=2, gap=0.0)  # tiny K: column generation must recover the optimum
    assert check.violation_list(items, offers, context, batch.assignment) == []
    for order in ("arrival", "priority", "pairs"):
        greedy = assign_greedy(items, index, k=2, order=order)
        assert check.violations(items, offers, context, greedy) == 0
        assert batch.assignment.utility >= greedy.utility - 1e-9
    assert batch.lp_bound >= batch.assignment.utility - 1e-6
    assert abs(lp_bound(items, index, batch.offer_prices) - batch.lp_bound) < 1e-6
    if len({o.provider_id for o in offers}) == len(offers):  # then the LP over all pairs is our problem
        assert batch.assignment.utility >= batch.lp_bound * (1 - 2e-5) - 1e-6
        assert abs(batch.assignment.utility - lp_optimum(items, index)) < 1e-4


def lp_optimum(items, index):
    """The transportation LP over all eligible pairs, solved independently by HiGHS."""
    table = index.candidate_table(items, k=10_000)
    if len(table) == 0:
        return 0.0
    items = sorted(items, key=lambda it: it.id)
    pos = {it.id: i for i, it in enumerate(items)}
    rows = np.array([pos[i] for i in table.item_ids])
    offers = sorted(set(table.offer_ids.tolist()))
    cols = np.array([offers.index(o) for o in table.offer_ids])
    w = table.scores * priority_weight(np.array([items[r].priority for r in rows]))
    a = np.zeros((len(items) + len(offers), len(table)))
    a[rows, np.arange(len(table))] = 1
    a[len(items) + cols, np.arange(len(table))] = 1
    b = [it.slots_needed for it in items] + [index.offers[index.offer_pos[o]].slots_left for o in offers]
    res = linprog(-w, A_ub=a, b_ub=b, bounds=(0, 1), method="highs")
    return -res.fun


@FAST
@given(SEEDS)
def test_same_input_in_any_order_gives_identical_output(seed):
    items, offers, context = random_instance(seed)
    shuffled_items, shuffled_offers = items[:], offers[:]
    random.Random(seed).shuffle(shuffled_items)
    random.Random(seed + 1).shuffle(shuffled_offers)
    a = MatchIndex.build(offers, context)
    b = MatchIndex.build(shuffled_offers, context)
    ranked_a = dict(zip([it.id for it in items], a.rank_many(items, 5), strict=True))
    ranked_b = dict(zip([it.id for it in shuffled_items], b.rank_many(shuffled_items, 5), strict=True))
    assert ranked_a == ranked_b
    assert solve_batch(items, a, k=3, gap=0.0).assignment == solve_batch(shuffled_items, b, k=3, gap=0.0).assignment
    assert solve_batch(items, a, k=3).assignment == solve_batch(items, a, k=3).assignment
    for order in ("arrival", "priority", "pairs"):
        assert assign_greedy(items, a, order=order) == assign_greedy(shuffled_items, b, order=order)


@FAST
@given(SEEDS)
def test_volunteer_view_lists_only_eligible_items(seed):
    items, offers, context = random_instance(seed)
    index = MatchIndex.build(offers, context)
    eligible = brute_force_eligible(items, offers, context)
    for offer in offers:
        tasks = index.tasks_for_volunteer(offer, items, k=50)
        assert {(t.item_id, offer.id) for t in tasks} == {p for p in eligible if p[1] == offer.id}
        assert all(abs(sum(t.contributions.values()) - t.score) < 1e-9 for t in tasks)


def test_column_generation_with_cached_pairs_certifies_the_full_optimum():
    """A county-like instance with a tiny K: several rounds, later ones priced from the kept pairs."""
    from socialforce.matching.synthetic import make_problem

    problem = make_problem(0.01, seed=5)
    index = MatchIndex.build(problem.offers, problem.context)
    batch = solve_batch(problem.items, index, k=3, gap=0.0)
    assert batch.rounds >= 2 and batch.streamed_items > 0
    assert check.violations(problem.items, problem.offers, problem.context, batch.assignment) == 0
    full = lp_bound(problem.items, index, batch.offer_prices)  # streams every eligible pair, no cache
    assert abs(full - batch.lp_bound) < 1e-6
    assert batch.assignment.utility >= batch.lp_bound * (1 - 1e-6)  # integer costs: rounding only
    greedy = assign_greedy(problem.items, index, k=3)
    assert greedy.utility <= batch.assignment.utility + 1e-9
