"""The transparent cold-start scorer and the assignment objective's priority weighting."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from socialforce.matching.features import FEATURES, scaled

COLD_START_WEIGHTS: Mapping[str, float] = {
    "text": 0.30,
    "distance": 0.20,
    "pairing": 0.10,
    "continuity": 0.10,
    "track_record": 0.15,
    "priority": 0.10,
    "load": 0.05,
}
"""Cold-start weights; score = sum(weight x scaled value), so a score is in [0, 1] and each feature's
contribution is exactly weight x scaled value. Rationale: what the request says (text) and how far the
provider must travel (distance) dominate; an existing pairing or earlier service keeps continuity of care;
track record counts but is smoothed so new providers are not buried; priority matters for the volunteer's
view and the batch objective; load spreads work when all else is equal."""

PRIORITY_GAIN = 4.0
"""Assignment objective: each assigned pair earns score x priority_weight, priority_weight = 1 + 4 x p^2,
so a top-priority household's item (p near 1) is worth up to 5 ordinary ones; this is what makes the
optimum serve nearly all top-decile-priority items when capacity is scarce."""


def weight_vector(weights: Mapping[str, float] = COLD_START_WEIGHTS) -> np.ndarray:
    """The weights in FEATURES order."""
    return np.array([float(weights.get(f, 0.0)) for f in FEATURES])


def cold_start_scores(values: np.ndarray, weights: Mapping[str, float] = COLD_START_WEIGHTS) -> np.ndarray:
    """Scores of raw feature rows (n x len(FEATURES))."""
    return scaled(values) @ weight_vector(weights)


def contributions(values: np.ndarray, weights: Mapping[str, float] = COLD_START_WEIGHTS) -> np.ndarray:
    """Per-feature contributions (n x len(FEATURES)); rows sum to the scores."""
    return scaled(values) * weight_vector(weights)[None, :]


def priority_weight(priority):
    """The objective's multiplier for an item of the given priority (scalar or array)."""
    p = np.asarray(priority, dtype=np.float64)
    return 1.0 + PRIORITY_GAIN * p * p
