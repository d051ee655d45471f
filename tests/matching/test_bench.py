"""The benchmark script prints one JSON line with every key the issue asks for, and its figures hang together."""
import json
import subprocess
import sys

import pytest

REQUIRED = ("items providers candidate_pairs build_s rank_s assign_s total_s peak_rss_mb single_item_p95_ms utility "
            "lp_bound utility_ratio greedy_utility high_priority_coverage max_high_priority_coverage "
            "greedy_high_priority_coverage constraint_violations ndcg10_learned_mean ndcg10_learned_sd "
            "ndcg10_cold_start_mean ndcg10_random_mean ipw_gain seeds optimality_gap optimality_gap_rel tolerance "
            "multi_offer_providers partially_served_items").split()


def test_bench_prints_one_json_line_with_consistent_figures(tmp_path):
    out = subprocess.run([sys.executable, "-m", "benchmarks.matching", "--scale", "0.003", "--queries", "300",
                          "--seeds", "2", "--cache-dir", str(tmp_path)], capture_output=True, text=True, check=True, timeout=300)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    figures = json.loads(lines[0])
    assert set(REQUIRED) <= set(figures)
    assert figures["constraint_violations"] == figures["greedy_constraint_violations"] == 0
    assert figures["utility"] <= figures["lp_bound"] + 1e-6
    assert abs(figures["optimality_gap"] - (figures["lp_bound"] - figures["utility"])) < 1e-5
    assert figures["flow_gap_rel"] <= figures["tolerance"]  # the flow is certified; the repair's loss is stated
    assert figures["lp_bound"] <= figures["pro_rata_bound"] + 1e-6
    assert 0 < figures["multi_offer_providers"] < figures["providers"] < figures["offers"]
    assert 0 <= figures["partially_served_items"] <= figures["team_items"]
    assert max(figures["greedy_utility"], figures["greedy_priority_utility"], figures["greedy_pairs_utility"]) \
        <= figures["utility"] + 1e-6
    assert figures["high_priority_coverage"] <= figures["max_high_priority_coverage"]
    assert figures["total_s"] <= figures["bench_s"]
    assert figures["total_s"] >= figures["build_s"] + figures["rank_s"] + figures["assign_s"] - 1e-6
    assert figures["seeds"] == 2
    assert figures["ipw_gain"] == pytest.approx(figures["ndcg10_learned_mean"] - figures["ndcg10_learned_no_ipw_mean"],
                                                abs=2e-6)  # each figure rounded to 6 places
    assert figures["ndcg10_learned_mean"] > figures["ndcg10_random_mean"]
