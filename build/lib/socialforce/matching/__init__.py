"""The matching engine: pure Python/NumPy/SciPy/scikit-learn/OR-Tools, no Flask or SQLAlchemy.

The platform maps its rows to `types` (Item, Offer, Context), builds a `MatchIndex`, ranks with
`MatchIndex.rank` / `tasks_for_volunteer` (or `LearnedRanker.rank` once `choose_ranker` allows), and
assigns batches with `assign` / `solve_batch`; `check.violations` re-checks any assignment.
"""
from socialforce.matching.assign import (
                                         TOP_K,
                                         BatchResult,
                                         assign,
                                         assign_greedy,
                                         coverage,
                                         high_priority_ids,
                                         lp_bound,
                                         max_coverage,
                                         solve_batch,
)
from socialforce.matching.candidates import CandidateTable
from socialforce.matching.features import FEATURES, MEANINGS
from socialforce.matching.index import MatchIndex
from socialforce.matching.learn import MIN_OUTCOMES, LearnedRanker, LoggedOutcomes, LoggedRow, choose_ranker
from socialforce.matching.scoring import COLD_START_WEIGHTS
from socialforce.matching.taxonomy import DEFAULT_REQUIRED_QUALIFICATIONS, DEFAULT_RULES, Rules
from socialforce.matching.types import Assignment, Candidate, Context, Item, Offer, Reason, TrackRecord

__all__ = [
    "COLD_START_WEIGHTS", "DEFAULT_REQUIRED_QUALIFICATIONS", "DEFAULT_RULES", "FEATURES", "MEANINGS", "MIN_OUTCOMES",
    "TOP_K", "Assignment", "BatchResult", "Candidate", "CandidateTable", "Context", "Item", "LearnedRanker",
    "LoggedOutcomes", "LoggedRow", "MatchIndex", "Offer", "Reason", "Rules", "TrackRecord", "assign",
    "assign_greedy", "choose_ranker", "coverage", "high_priority_ids", "lp_bound", "max_coverage", "solve_batch",
]
