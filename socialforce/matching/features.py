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


HISTORY_FEATURES: tuple[str, ...] = ("recent_success", "recent_outcomes")
"""The provider's recent track record, from its orders' outcomes strictly before the list's time (features the
learned ranker adds to FEATURES; the cold-start scorer does not use them)."""
HISTORY_MEANINGS: dict[str, str] = {
    "recent_success": "The provider's time-decayed share of recent orders it looked at that succeeded (accepted, "
                      "completed, rated >= 4), shrunk to the prior; only outcomes known before the list's time.",
    "recent_outcomes": "How many such outcomes the share rests on (time-decayed count; 0 = no recent history).",
}
HALF_LIFE_DAYS = 60.0
"""An outcome counts half as much after 60 days: providers' quality drifts, recent outcomes say more."""
RECENT_PRIOR = (0.3, 3.0)
"""The recent success share's prior: mean 0.3 (about the share of looked-at orders that succeed), strength 3."""


def recent_record(event_provider: np.ndarray, event_time: np.ndarray, event_success: np.ndarray,
                  provider: np.ndarray, at: np.ndarray, half_life: float = HALF_LIFE_DAYS) -> np.ndarray:
    """HISTORY_FEATURES (n x 2) of each (provider, time `at`) from outcome events strictly before `at`.

    Events are outcomes of orders a provider looked at (success or not) with the time they became known, in
    days (ordinals, fractions allowed). An event at or after `at` never counts, so a list's features never use
    its own or later outcomes. Each event weighs 2 ** (-(at - time) / half_life).
    """
    ep = np.asarray(event_provider, dtype=np.int64)
    et = np.asarray(event_time, dtype=np.float64)
    es = np.asarray(event_success, dtype=np.float64)
    qp = np.asarray(provider, dtype=np.int64)
    qt = np.broadcast_to(np.asarray(at, dtype=np.float64), qp.shape)
    out = np.zeros((qp.size, 2))
    if ep.size and qp.size:
        order = np.lexsort((et, ep))
        ep, et, es = ep[order], et[order], es[order]
        rate = np.log(2.0) / half_life
        origin = float(et.min())
        grow = np.exp(rate * (et - origin))  # each event's weight, up to the common factor exp(-rate (at - origin))
        cum_n = np.r_[0.0, np.cumsum(grow)]
        cum_s = np.r_[0.0, np.cumsum(grow * es)]
        first = np.searchsorted(ep, qp, side="left")
        # events of this provider strictly before `at`: from `first` up to the first one at or after `at`
        last = first + _count_before(ep, et, qp, qt, first)
        scale = np.exp(-rate * (qt - origin))
        out[:, 1] = (cum_n[last] - cum_n[first]) * scale
        out[:, 0] = (cum_s[last] - cum_s[first]) * scale
    mean, strength = RECENT_PRIOR
    out[:, 0] = (out[:, 0] + mean * strength) / (out[:, 1] + strength)
    return out


def _count_before(ep: np.ndarray, et: np.ndarray, qp: np.ndarray, qt: np.ndarray, first: np.ndarray) -> np.ndarray:
    """For each query, how many events of its provider (ep sorted, then et) happen strictly before its time."""
    # rank the query among its provider's events: lexicographic search on (provider, time)
    key_events = np.rec.fromarrays([ep, et])
    key_queries = np.rec.fromarrays([qp, qt])
    return np.searchsorted(key_events, key_queries, side="left") - first
