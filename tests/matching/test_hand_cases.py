"""Small cases whose right answer is known by hand."""
from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from socialforce.matching import check
from socialforce.matching.assign import assign, assign_greedy, lp_bound, max_coverage, solve_batch
from socialforce.matching.flow import solve_transportation
from socialforce.matching.index import MatchIndex
from socialforce.matching.scoring import priority_weight
from socialforce.matching.types import Assignment, Context, Item, Offer
from tests.matching.helpers import pair_scores

DAY = date(2024, 6, 3)
CTX = Context(on_date=DAY)


def item(i, priority=0.5, windows=0b1, lon=117.16, slots=1, minor=False, category="daily_care", partial_ok=False):
    return Item(id=i, household_id=i, town_id=1, lat=35.08, lon=lon, category=category, description="生活照料",
                priority=priority, minor=minor, windows=windows, slots_needed=slots, partial_ok=partial_ok)


def offer(j, windows=0b1, slots=1, lon=117.16, kind="volunteer", quals=frozenset(), checked=True,
          categories=frozenset({"daily_care"})):
    return Offer(id=j, provider_id=j, provider_kind=kind, categories=categories, towns=frozenset({1}), lat=35.08,
                 lon=lon, radius_km=0.0, qualifications=quals, background_checked=checked, windows=windows,
                 slots_left=slots, valid_from=date(2024, 1, 1), valid_to=date(2024, 12, 31), description="生活照料")


def test_one_slot_goes_to_the_higher_priority_item():
    items = [item(1, priority=0.2), item(2, priority=0.9)]
    result = assign(items, MatchIndex.build([offer(10)], CTX))
    assert result.pairs == ((2, 10),)


def test_flow_beats_greedy_where_greedy_is_myopic():
    # item 1 can use offer 10 (close) or 11 (farther); item 2 only offer 10 (window bit 0 only).
    items = [item(1, priority=0.9, windows=0b11), item(2, priority=0.5, windows=0b01)]
    offers = [offer(10, windows=0b01), offer(11, windows=0b10, lon=117.20)]
    index = MatchIndex.build(offers, CTX)
    flow, greedy = assign(items, index), assign_greedy(items, index)
    assert greedy.pairs == ((1, 10),)
    assert flow.pairs == ((1, 11), (2, 10))
    assert flow.utility > greedy.utility


def test_greedy_orders_differ_only_in_who_goes_first():
    # one slot; item 1 arrived first, item 2 is more vulnerable and so worth more
    items = [item(1, priority=0.1), item(2, priority=0.9)]
    index = MatchIndex.build([offer(10)], CTX)
    assert assign_greedy(items, index).pairs == ((1, 10),)
    assert assign_greedy(items, index, order="priority").pairs == ((2, 10),)
    assert assign_greedy(items, index, order="pairs").pairs == ((2, 10),)
    assert assign(items, index).pairs == ((2, 10),)


def test_transportation_prices_certify_the_optimum():
    # two items (weights 5 and 3) want one slot: the slot's price is the displaced item's weight
    sol = solve_transportation(np.array([0, 1]), np.array([0, 0]), np.array([5.0, 3.0]), np.array([1, 1]),
                               np.array([1]))
    assert sol.flow.tolist() == [1, 0]
    assert sol.offer_price.tolist() == pytest.approx([3.0])


def test_lp_bound_equals_optimum_when_nothing_is_pruned():
    items = [item(i, priority=p, windows=w) for i, p, w in [(1, .9, 0b11), (2, .5, 0b01), (3, .1, 0b10), (4, .7, 0b11)]]
    offers = [offer(10, windows=0b01), offer(11, windows=0b10, slots=2, lon=117.19)]
    index = MatchIndex.build(offers, CTX)
    batch = solve_batch(items, index, k=50, gap=0.0)
    assert batch.lp_bound == pytest.approx(batch.assignment.utility, abs=1e-6)
    assert lp_bound(items, index, batch.offer_prices) == pytest.approx(batch.assignment.utility, abs=1e-6)


def test_task_needing_two_volunteers_gets_two_different_ones():
    items = [item(1, slots=2)]
    offers = [offer(10), offer(11, lon=117.17), offer(12, lon=117.18)]
    result = assign(items, MatchIndex.build(offers, CTX))
    assert result.pairs == ((1, 10), (1, 11))


def test_hard_constraints_exclude_candidates():
    counselling = frozenset({"counselling"})
    items = [item(1, minor=True, category="counselling")]
    offers = [offer(10, categories=counselling),  # no qualification
              offer(11, categories=counselling, quals=frozenset({"certified_counsellor"}), checked=False),
              offer(12, categories=counselling, quals=frozenset({"certified_counsellor"})),
              offer(13, categories=counselling, quals=frozenset({"licensed_social_worker"}), kind="agency",
                    checked=False)]
    ranked = MatchIndex.build(offers, CTX).rank(items[0], 10)
    assert sorted(c.offer_id for c in ranked) == [12, 13]
    assert check.pair_problems(items[0], offers[0], CTX) == ["qualification"]
    assert check.pair_problems(items[0], offers[1], CTX) == ["background_check"]


def test_max_coverage_counts_the_servable_high_priority_items():
    items = [item(1, priority=.9), item(2, priority=.95), item(3, priority=.1)]
    index = MatchIndex.build([offer(10)], CTX)
    assert max_coverage(items, index, frozenset({1, 2})) == (1, 1)


def test_checker_reports_capacity_and_duplicates():
    items = [item(1, slots=2), item(2)]
    offers = [offer(10)]
    bad = Assignment(pairs=((1, 10), (1, 10), (2, 10)), utility=0.0)
    rules = {v.rule for v in check.violation_list(items, offers, CTX, bad)}
    assert rules == {"duplicate_provider", "offer_capacity"}


def test_a_provider_with_two_offers_serves_two_items():
    """Issue #13: one provider, two one-slot offers, two items that both prefer the first offer.

    The old engine kept only each provider's best offer per item: it served one item and reported that
    utility as its LP bound. Both items can be served, one by each offer.
    """
    items = [item(1, priority=.9), item(2, priority=.5)]
    offers = [offer(10), replace(offer(11, lon=117.18), provider_id=10)]
    index = MatchIndex.build(offers, CTX)
    batch = solve_batch(items, index, gap=0.0)
    assert batch.assignment.pairs == ((1, 10), (2, 11))
    table = index.candidate_table(items, k=5, per_provider=False)
    weight = pair_scores(table)
    both = weight[1, 10] * priority_weight(np.array([.9]))[0] + weight[2, 11] * priority_weight(np.array([.5]))[0]
    assert batch.assignment.utility == pytest.approx(both)
    assert batch.lp_bound == pytest.approx(both, abs=1e-6)
    assert check.violations(items, offers, CTX, batch.assignment) == 0


def test_one_provider_never_takes_two_slots_of_one_item():
    items = [item(1, slots=2, partial_ok=True)]
    offers = [offer(10), replace(offer(11, lon=117.17), provider_id=10), offer(12, lon=117.18)]
    batch = solve_batch(items, MatchIndex.build(offers, CTX), k=1, gap=0.0)
    assert batch.assignment.pairs == ((1, 10), (1, 12))
    twice = Assignment(pairs=((1, 10), (1, 11)), utility=0.0)
    assert [v.rule for v in check.violation_list(items, offers, CTX, twice)] == ["duplicate_provider"]


def test_a_team_short_of_people_is_not_served_unless_staff_allow_it():
    # a task needs 3 people, only 2 providers can come at all; a single-person item can use one of them
    offers = [offer(10), offer(11, lon=117.17)]
    team, single = item(1, slots=3, priority=.9), item(2, priority=.1)
    index = MatchIndex.build(offers, CTX)
    batch = solve_batch([team, single], index, gap=0.0)
    assert batch.assignment.pairs == ((2, 10),)
    assert batch.hopeless_teams == 1 and batch.partially_served_items == 0
    assert batch.lp_bound == pytest.approx(batch.assignment.utility)  # the bound knows the team cannot be whole
    allowed = solve_batch([replace(team, partial_ok=True), single], index, gap=0.0)
    assert allowed.assignment.pairs == ((1, 10), (1, 11))
    assert allowed.partially_served_items == 1 and allowed.repair_loss == 0.0
    short = Assignment(pairs=((1, 10), (1, 11)), utility=0.0)
    assert [v.rule for v in check.violation_list([team], offers, CTX, short)] == ["short_team"]
    greedy = assign_greedy([team, single], index)  # the baseline drops the short team, reuses nothing
    assert greedy.pairs == () and check.violations([team, single], offers, CTX, greedy) == 0


def test_repair_drops_a_team_left_short_by_capacity_within_its_stated_loss():
    # the pro-rata optimum gives the vulnerable single item offer 10 and the team of two only offer 11
    offers = [offer(10, windows=0b11), offer(11, windows=0b11, lon=117.17)]
    items = [item(1, slots=2, priority=.05, windows=0b11), item(2, priority=.95, windows=0b01)]
    index = MatchIndex.build(offers, CTX)
    pro = solve_batch([replace(items[0], partial_ok=True), items[1]], index, gap=0.0)
    assert pro.assignment.pairs == ((1, 11), (2, 10))
    batch = solve_batch(items, index, gap=0.0)
    assert batch.assignment.pairs == ((2, 10),)
    assert batch.dropped_short_teams == 1 and batch.hopeless_teams == 0
    assert batch.repair_loss == pytest.approx(pro.assignment.utility - batch.assignment.utility)
    assert batch.pro_rata_bound == pytest.approx(pro.lp_bound)
    # the all-or-nothing bound counts the team's two gains together, or nothing: never above pro rata
    assert batch.assignment.utility <= batch.lp_bound <= batch.pro_rata_bound


def test_repair_completes_a_short_team_when_that_beats_dropping_it():
    # the pro-rata optimum gives offer 10 to the single item and the team of two only offer 11; serving the
    # team whole (offers 10 and 11) is worth more than the single item alone, which dropping the team leaves
    offers = [offer(10, windows=0b11), offer(11, windows=0b11, lon=117.17)]
    team, single = item(1, slots=2, priority=.5, windows=0b11), item(2, priority=.7, windows=0b01)
    index = MatchIndex.build(offers, CTX)
    pro = solve_batch([replace(team, partial_ok=True), single], index, gap=0.0)
    assert pro.assignment.pairs == ((1, 11), (2, 10))
    table = index.candidate_table([team, single], k=5, per_provider=False)
    weight = pair_scores(table)
    whole = (weight[1, 10] + weight[1, 11]) * priority_weight(np.array([.5]))[0]
    alone = weight[2, 10] * priority_weight(np.array([.7]))[0]
    assert whole > alone
    batch = solve_batch([team, single], index, gap=0.0)
    assert batch.assignment.pairs == ((1, 10), (1, 11))
    assert batch.assignment.utility == pytest.approx(whole)
    assert batch.dropped_short_teams == 0 and batch.partially_served_items == 0
    assert batch.repair_loss == pytest.approx(pro.assignment.utility - whole)
    assert check.violations([team, single], offers, CTX, batch.assignment) == 0
