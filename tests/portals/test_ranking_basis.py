"""Staff see what ranks the candidates: the cold-start scorer's weights, or the learned model and its figures."""
from datetime import datetime

from benchmarks.synthetic import make_history, make_problem
from socialforce.matching.index import MatchIndex
from socialforce.matching.learn import MIN_OUTCOMES, LearnedRanker
from socialforce.platform.extensions import db
from socialforce.platform.models import RankerModel, Role
from socialforce.platform.services import matching
from tests import factories
from tests.conftest import login


def staff_with_an_item():
    factories.agency("晨光社工")
    item = factories.item(factories.household(), "counselling", description="需要心理疏导")
    factories.user("city-staff", Role.city_staff)
    db.session.commit()
    matching.invalidate()
    return item


def test_cold_start_shows_its_weights_in_words(client):
    item = staff_with_an_item()
    login(client, "city-staff")
    for page in ("/staff/matching", f"/staff/items/{item.id}"):
        html = client.get(page).get_data(as_text=True)
        assert "冷启动评分" in html and "描述匹配 30% · 距离 20%" in html and str(MIN_OUTCOMES) in html


def test_an_active_learned_model_ranks_and_shows_its_version_and_held_out_figures(client, tmp_path):
    item = staff_with_an_item()
    problem = make_problem(0.002, seed=1)
    log = make_history(problem, MatchIndex.build(problem.offers, problem.context), n_queries=300, seed=2)
    path = tmp_path / "hgb-test.pkl"
    LearnedRanker.fit(log, version="hgb-test").save(path)
    db.session.add(RankerModel(version="hgb-test", trained_at=datetime(2026, 11, 22, 3), n_outcomes=len(log),
                               path=str(path), metrics={"ndcg10_learned": 0.6658, "ndcg10_cold_start": 0.5877},
                               active=True))
    db.session.commit()
    login(client, "city-staff")
    html = client.get(f"/staff/items/{item.id}").get_data(as_text=True)
    assert "学习模型 hgb-test" in html and "2026-11-22" in html and "0.6658" in html and "0.5877" in html
    assert "晨光社工" in html  # ranked by the learned model
    assert "冷启动评分，固定权重" not in html
