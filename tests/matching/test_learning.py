"""The learned ranker, its persistence, the evaluation metrics and incremental ranking."""
from dataclasses import replace

import numpy as np
import pytest

from socialforce.matching.evaluate import evaluate, ndcg_at_k, recall_at_k, time_split
from socialforce.matching.index import MatchIndex
from socialforce.matching.learn import MIN_OUTCOMES, LearnedRanker, LoggedOutcomes, choose_ranker
from socialforce.matching.synthetic import make_history, make_problem


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
    ranker = LearnedRanker.fit(history, version="test-1")
    path = tmp_path / "ranker.pickle"
    ranker.save(path)
    loaded = LearnedRanker.load(path)
    assert (loaded.version, loaded.trained_at, loaded.n_outcomes) == ("test-1", ranker.trained_at, len(history))
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
