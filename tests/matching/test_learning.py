"""The learned ranker, its persistence, the evaluation metrics and incremental ranking."""
from dataclasses import replace

import numpy as np
import pytest

from benchmarks.synthetic import COUNSEL_LIKE, make_history, make_problem
from socialforce.matching.evaluate import (
    choose_params,
    evaluate,
    evaluate_over_seeds,
    held_out_scores,
    ndcg_at_k,
    random_split,
    recall_at_k,
    time_split,
)
from socialforce.matching.features import FEATURES
from socialforce.matching.index import MatchIndex
from socialforce.matching.learn import (
    GRID,
    MIN_OUTCOMES,
    LearnedRanker,
    LoggedOutcomes,
    Params,
    choose_ranker,
)
from socialforce.matching.taxonomy import CATEGORIES, PROVIDER_KINDS


@pytest.fixture(scope="module")
def world():
    problem = make_problem(0.004, seed=3)
    index = MatchIndex.build(problem.offers, problem.context)
    return problem, index


@pytest.fixture(scope="module")
def history(world):
    problem, index = world
    return make_history(problem, index, n_queries=600, seed=4)


def test_metrics_on_known_lists():
    assert ndcg_at_k(np.array([1, 0, 0])) == 1.0
    assert ndcg_at_k(np.array([0, 0, 1])) == pytest.approx(0.5)
    assert recall_at_k(np.array([0, 1, 1]), k=2) == 0.5
    assert ndcg_at_k(np.zeros(4)) == 0.0


def test_on_a_real_log_lists_count_by_the_inverse_propensity_of_their_positive():
    # two lists of two; the ranker puts list 1's positive (logged at position 0) first and list 2's (logged at
    # position 1, looked at half as often) second: per-list NDCG 1 and 1/log2(3); list 2 counts twice
    log = LoggedOutcomes(query=np.array([1, 1, 2, 2]), day=np.zeros(4, dtype=np.int64),
                         position=np.array([0, 1, 0, 1]), values=np.zeros((4, 7)), category=np.zeros(4, dtype=np.int64),
                         kind=np.zeros(4, dtype=np.int64), label=np.array([True, False, False, True]))
    ndcg, _ = evaluate(log, np.array([2.0, 1.0, 2.0, 1.0]))
    assert ndcg == pytest.approx((1.0 + 2 * (1 / np.log2(3))) / 3)
    simulated, _ = evaluate(replace(log, relevant=log.label), np.array([2.0, 1.0, 2.0, 1.0]))
    assert simulated == pytest.approx((1.0 + 1 / np.log2(3)) / 2)


def test_time_split_holds_out_the_latest_days(history):
    train, test = time_split(history)
    assert train.any() and test.any()
    assert history.day[train].max() < history.day[test].min()


def test_model_round_trips_with_version_and_date(history, tmp_path):
    ranker = LearnedRanker.fit(history, version="test-1", params=GRID[-1])
    path = tmp_path / "ranker.pickle"
    ranker.save(path)
    loaded = LearnedRanker.load(path)
    assert (loaded.version, loaded.trained_at, loaded.n_outcomes) == ("test-1", ranker.trained_at, len(history))
    assert loaded.params == GRID[-1]
    a = ranker.score(history.values, history.category, history.kind)
    b = loaded.score(history.values, history.category, history.kind)
    assert np.array_equal(a, b)
    assert evaluate(history, a)[0] > 0


def test_learned_ranker_takes_over_only_with_enough_outcomes(history, world):
    ranker = LearnedRanker.fit(history)
    assert choose_ranker(ranker) is (ranker if len(history) >= MIN_OUTCOMES else None)
    assert choose_ranker(None) is None
    problem, index = world
    ranked = ranker.rank(index, problem.items[0], 5)
    assert [c.score for c in ranked] == sorted((c.score for c in ranked), reverse=True)


def test_incremental_ranking_equals_a_rebuild(world):
    problem, index = world
    index.candidate_table(problem.items, 10)  # warm every block
    new = replace(problem.items[7], id=999_999_999, description="需要上门陪伴聊天，缓解孤独")
    rebuilt = MatchIndex.build(problem.offers, problem.context)
    assert index.rank(new, 10) == rebuilt.rank(new, 10)
    assert len(index.rank(new, 10)) > 0


def test_learned_scores_never_fall_with_a_better_text_match(history):
    ranker = LearnedRanker.fit(history)
    rows = np.repeat(history.values[:50], 5, axis=0)
    rows[:, 0] = np.tile(np.linspace(0.0, 1.0, 5), 50)
    scores = ranker.score(rows, np.repeat(history.category[:50], 5), np.repeat(history.kind[:50], 5)).reshape(50, 5)
    assert (np.diff(scores, axis=1) >= -1e-12).all()


def test_random_split_holds_out_whole_lists(history):
    train, test = random_split(history, 0.25, seed=1)
    assert not set(history.query[train]) & set(history.query[test])
    assert len(set(history.query[test])) == round(0.25 * len(set(history.query)))


def test_the_history_drifts_over_the_year(world):
    problem, index = world
    log = make_history(problem, index, n_queries=3000, seed=5)
    early, late = log.day < np.quantile(log.day, 0.3), log.day > np.quantile(log.day, 0.7)
    counsel = np.isin(log.category, [CATEGORIES.index(c) for c in COUNSEL_LIKE])
    queries = [np.unique(log.query[m & counsel]).size / np.unique(log.query[m]).size for m in (early, late)]
    assert queries[1] > queries[0] + 0.03  # demand shifts towards counselling-like work
    volunteer = PROVIDER_KINDS.index("volunteer")
    organisations = sum(1 for o in problem.offers if o.provider_kind != "volunteer")
    records = np.unique(log.values[log.kind != volunteer, FEATURES.index("track_record")])
    assert records.size > organisations  # each organisation's track record moves as its quality drifts
    paired = log.values[:, FEATURES.index("pairing")] == 1
    assert log.relevant[late & paired].mean() > log.relevant[early & paired].mean()  # pairing counts more later


def test_the_position_bias_correction_recovers_relevance_where_weighting_positives_did_not():
    # kind A (priority 0.2) is relevant 30% of the time and always shown first (always looked at); kind B (priority
    # 0.8) is relevant 50% of the time but always shown fourth, looked at 1 time in 4: its labels say 12.5%
    rng = np.random.default_rng(0)
    n = 20_000
    b = np.arange(n) % 2 == 1
    values = np.zeros((n, len(FEATURES)))
    values[:, FEATURES.index("priority")] = np.where(b, 0.8, 0.2)
    position = np.where(b, 3, 0)
    relevant = rng.uniform(size=n) < np.where(b, 0.5, 0.3)
    label = relevant & (rng.uniform(size=n) < 1.0 / (1.0 + position))
    log = LoggedOutcomes(query=np.arange(n) // 2, day=np.zeros(n, dtype=np.int64), position=position, values=values,
                         category=np.zeros(n, dtype=np.int64), kind=np.zeros(n, dtype=np.int64), label=label)
    probe = values[:2]  # A, B
    corrected = LearnedRanker.fit(log).score(probe, np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.int64))
    naive = LearnedRanker.fit(log, ipw=False).score(probe, np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.int64))
    assert naive[0] > naive[1]  # the naive model ranks the always-seen kind first
    assert corrected == pytest.approx([0.3, 0.5], abs=0.03)  # positives x 4 alone would give B 0.36


def test_hyper_parameters_are_chosen_on_the_training_period_only(history):
    held, scores, params = held_out_scores(history)
    assert params in GRID and set(scores) >= {"learned", "learned_no_ipw", "cold_start", "random", "full_information"}
    train, test = time_split(history)
    assert len(held) == test.sum()
    scrambled = replace(history, label=np.where(test, ~history.label, history.label),
                        relevant=np.where(test, ~history.relevant, history.relevant))
    assert held_out_scores(scrambled)[2] == params  # the held-out slice has no say in the choice
    chosen, found = choose_params(history.subset(train))
    assert chosen == params and set(found) == set(GRID) and found[chosen] == max(found.values())


def test_a_log_too_short_to_validate_keeps_the_default_params(history):
    one_day = history.subset(history.day == history.day.min())
    assert choose_params(one_day) == (Params(), {})


def test_evaluation_over_seeds_reports_mean_sd_and_the_ipw_gain(world):
    problem, index = world
    out = evaluate_over_seeds(lambda s: make_history(problem, index, n_queries=300, seed=s), [1, 2])
    assert out["seeds"] == 2
    for name in ("learned", "learned_no_ipw", "cold_start", "random", "full_information", "learned_random_split"):
        assert 0 < out[f"ndcg10_{name}_mean"] <= 1 and out[f"ndcg10_{name}_sd"] >= 0
    assert out["ipw_gain"] == pytest.approx(out["ndcg10_learned_mean"] - out["ndcg10_learned_no_ipw_mean"])
    assert out["position_bias_cost"] == pytest.approx(out["ndcg10_full_information_mean"]
                                                      - out["ndcg10_learned_no_ipw_mean"])
    assert out["ndcg10_learned_mean"] > out["ndcg10_random_mean"]
