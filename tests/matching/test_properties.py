"""Property tests on random small instances: hard constraints, capacity, optimality, determinism."""
import random
from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from socialforce.matching import check
from socialforce.matching.assign import assign_greedy, lp_bound, solve_batch
from socialforce.matching.index import MatchIndex
from socialforce.matching.scoring import priority_weight
from tests.matching.helpers import pair_scores, random_instance

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
    items = pro_rata(items)
    index = MatchIndex.build(offers, context)
    batch = solve_batch(items, index, k=2, gap=0.0)  # tiny K: column generation must recover the optimum
    assert check.violation_list(items, offers, context, batch.assignment) == []
    for order in ("arrival", "priority", "pairs"):
        greedy = assign_greedy(items, index, k=2, order=order)
        assert check.violations(items, offers, context, greedy) == 0
        assert batch.assignment.utility >= greedy.utility - 1e-9
    assert batch.lp_bound >= batch.assignment.utility - 1e-6
    assert abs(lp_bound(items, index, batch.offer_prices) - batch.lp_bound) < 1e-6
    assert abs(batch.assignment.utility - independent_optimum(items, offers, context, index)[0]) < 1e-4


def pro_rata(items):
    """The items with teams allowed to be served short: the problem is then the transportation LP."""
    return [replace(it, partial_ok=True) for it in items]


def independent_optimum(items, offers, context, index, whole_teams=False):
    """(integer optimum, LP optimum) over every eligible pair, built from the hard constraints and solved
    by HiGHS: per item at most k providers, per offer at most its slots, per item and provider one slot;
    whole_teams: a team gets all k or none (integer program only). Weights are the engine's scores."""
    pairs = sorted(brute_force_eligible(items, offers, context))
    table = index.candidate_table(items, k=10_000, per_provider=False)
    score = pair_scores(table)
    assert sorted(score) == pairs
    if not pairs:
        return 0.0, 0.0
    by_item, by_offer = {it.id: it for it in items}, {o.id: o for o in offers}
    w = np.array([score[p] * priority_weight(np.array([by_item[p[0]].priority]))[0] for p in pairs])
    rows, bounds = [], []
    for it in items:
        rows.append([1.0 if i == it.id else 0.0 for i, _ in pairs])
        bounds.append(it.slots_needed)
    for o in offers:
        rows.append([1.0 if j == o.id else 0.0 for _, j in pairs])
        bounds.append(o.slots_left)
    for i, provider in sorted({(i, by_offer[j].provider_id) for i, j in pairs}):
        rows.append([1.0 if (a == i and by_offer[b].provider_id == provider) else 0.0 for a, b in pairs])
        bounds.append(1)
    a = np.array(rows)
    lp = linprog(-w, A_ub=a, b_ub=bounds, bounds=(0, 1), method="highs")
    n = len(pairs)
    constraints = [LinearConstraint(np.hstack([a, np.zeros((a.shape[0], len(items)))]), -np.inf, bounds)]
    if whole_teams:  # x summed over the item's pairs = k_i y_i, y_i binary
        team = np.zeros((len(items), n + len(items)))
        for r, it in enumerate(items):
            team[r, :n] = [1.0 if i == it.id else 0.0 for i, _ in pairs]
            team[r, n + r] = -it.slots_needed
        constraints.append(LinearConstraint(team, 0, 0))
    ip = milp(np.r_[-w, np.zeros(len(items))], constraints=constraints, integrality=np.ones(n + len(items)),
              bounds=Bounds(0, np.r_[np.ones(n), np.ones(len(items)) if whole_teams else np.zeros(len(items))]))
    assert lp.status == 0 and ip.status == 0
    return -ip.fun, -lp.fun


MULTI = st.tuples(SEEDS, st.integers(min_value=1, max_value=4))


@FAST
@given(MULTI)
def test_multi_offer_providers_match_an_independent_lp(case):
    """Providers with several offers: the engine reaches the optimum HiGHS finds, its bound is the LP's."""
    seed, providers = case
    items, offers, context = random_instance(seed, n_offers=random.Random(seed).randint(2, 9), providers=providers)
    items = pro_rata(items)
    index = MatchIndex.build(offers, context)
    batch = solve_batch(items, index, k=1, gap=0.0)
    assert check.violation_list(items, offers, context, batch.assignment) == []
    integer, relaxed = independent_optimum(items, offers, context, index)
    assert abs(integer - relaxed) < 1e-6  # a network: the LP has an integral optimum
    assert abs(batch.assignment.utility - integer) < 1e-4
    assert batch.lp_bound >= relaxed - 1e-6
    assert batch.lp_bound <= relaxed + 1e-4


@FAST
@given(MULTI)
def test_teams_are_served_whole_or_not_at_all(case):
    """The default policy: no team served short; the repair loses at most its stated loss against the LP."""
    seed, providers = case
    items, offers, context = random_instance(seed, providers=providers)
    index = MatchIndex.build(offers, context)
    batch = solve_batch(items, index, k=2, gap=0.0)
    assert check.violation_list(items, offers, context, batch.assignment) == []
    assert batch.partially_served_items == 0
    whole, _ = independent_optimum(items, offers, context, index, whole_teams=True)
    eligible, provider = brute_force_eligible(items, offers, context), {o.id: o.provider_id for o in offers}
    hopeless = {it.id for it in items if it.slots_needed > 1
                and len({provider[j] for i, j in eligible if i == it.id}) < it.slots_needed}
    assert batch.hopeless_teams == len(hopeless)
    _, relaxed = independent_optimum(pro_rata([it for it in items if it.id not in hopeless]), offers, context, index)
    assert batch.assignment.utility <= whole + 1e-6 <= batch.lp_bound + 2e-6
    assert abs(batch.assignment.utility + batch.repair_loss - relaxed) < 1e-4
    assert batch.repair_loss >= -1e-9
    served = {i for i, _ in batch.assignment.pairs}
    short = [it for it in items if it.id in served and sum(i == it.id for i, _ in batch.assignment.pairs)
             < it.slots_needed]
    assert short == []
    pro = solve_batch(pro_rata(items), index, k=2, gap=0.0)
    counts = {}
    for i, _ in pro.assignment.pairs:
        counts[i] = counts.get(i, 0) + 1
    assert pro.partially_served_items == sum(n < next(it.slots_needed for it in items if it.id == i)
                                             for i, n in counts.items())
    assert pro.repair_loss == 0.0


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
    from benchmarks.synthetic import make_problem

    problem = make_problem(0.01, seed=5)
    index = MatchIndex.build(problem.offers, problem.context)
    batch = solve_batch(problem.items, index, k=3, gap=0.0)
    assert batch.rounds >= 2 and batch.streamed_items > 0
    assert check.violations(problem.items, problem.offers, problem.context, batch.assignment) == 0
    full = lp_bound(problem.items, index, batch.offer_prices)  # streams every eligible pair, no cache
    assert abs(full - batch.lp_bound) < 1e-6
    flow_value = batch.assignment.utility + batch.repair_loss  # before whole teams were enforced
    assert flow_value >= batch.pro_rata_bound * (1 - 1e-6)  # integer costs: rounding only
    assert batch.assignment.utility <= batch.lp_bound + 1e-6 <= batch.pro_rata_bound + 2e-6
    greedy = assign_greedy(problem.items, index, k=3)
    assert greedy.utility <= batch.assignment.utility + 1e-9
