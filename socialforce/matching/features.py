"""The soft features of an item-offer pair: stable codes, plain-English meanings, raw values -> [0, 1].

Every pair has one raw value per feature, in the order of `FEATURES`; `scaled` maps raw values to
[0, 1] where larger is better (only distance needs it).
"""
from __future__ import annotations

import numpy as np

from socialforce.matching.types import TrackRecord

FEATURES: tuple[str, ...] = ("text", "distance", "pairing", "continuity", "track_record", "priority", "load")
MEANINGS: dict[str, str] = {
    "text": "How closely the offer's description matches the item's (cosine of character n-gram TF-IDF, 0-1).",
    "distance": "Distance in km between the household's village and the provider (nearer scores higher).",
    "pairing": "The provider is the household's pairing unit (1) or not (0).",
    "continuity": "The provider has served this household before (1) or not (0).",
    "track_record": "The provider's smoothed chance of an accepted, completed, well-rated order (0-1); "
                    "new providers start at the prior, not at zero.",
    "priority": "The household's vulnerability (extreme poverty, orphan or unsupported child, severe "
                "disability, elderly living alone), 0-1.",
    "load": "Share of the provider's weekly capacity still free (1 = no current orders).",
}
PROXIMITY_KM = 5.0
# Beta/Gaussian priors: (prior mean, prior strength in pseudo-orders)
ACCEPT_PRIOR = (0.8, 5.0)
COMPLETE_PRIOR = (0.85, 5.0)
SATISFACTION_PRIOR = (4.0, 5.0)


def proximity(km: np.ndarray) -> np.ndarray:
    """Distance mapped to (0, 1]: 1 at the door, 0.5 at PROXIMITY_KM."""
    return 1.0 / (1.0 + np.asarray(km) / PROXIMITY_KM)


def scaled(values: np.ndarray) -> np.ndarray:
    """Raw feature values (n x len(FEATURES)) mapped to [0, 1], larger is better."""
    out = np.array(values, dtype=np.float64, copy=True)
    out[:, 1] = proximity(out[:, 1])
    return out


def track_record_value(record: TrackRecord | None) -> float:
    """Smoothed P(accept) x P(complete | accept) x normalised mean satisfaction, shrunk to the priors."""
    r = record or TrackRecord(provider_id=0)
    (ma, sa), (mc, sc), (ms, ss) = ACCEPT_PRIOR, COMPLETE_PRIOR, SATISFACTION_PRIOR
    accept = (r.accepted + ma * sa) / (r.accepted + r.declined + sa)
    complete = (r.completed + mc * sc) / (r.accepted + sc)
    satisfaction = (r.satisfaction_sum + ms * ss) / (r.satisfaction_count + ss)
    return float(accept * min(complete, 1.0) * (satisfaction - 1.0) / 4.0)


def free_share(slots_left: int, load: int) -> float:
    """Share of weekly capacity still free: slots_left / (slots_left + current load)."""
    total = slots_left + load
    return float(slots_left / total) if total > 0 else 0.0
