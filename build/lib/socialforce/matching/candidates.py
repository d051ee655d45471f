"""CandidateTable: ranked candidates of many items as columnar numpy arrays (cheap at county scale)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from socialforce.matching.features import FEATURES
from socialforce.matching.scoring import COLD_START_WEIGHTS, contributions
from socialforce.matching.types import Candidate, Reason


@dataclass(frozen=True)
class CandidateTable:
    """Rows sorted by item id, then rank; `values` holds the raw features (FEATURES order) of each row.

    `all_item_ids` are the (sorted) ids of every item asked for, `pruned_max` (aligned with them) the best
    cold-start score among each item's eligible offers NOT in the table (-inf: the table has them all).
    `top_k` is the most rows kept per item; `per_provider`: only each provider's best offer was kept.
    """

    item_ids: np.ndarray
    offer_ids: np.ndarray
    provider_ids: np.ndarray
    scores: np.ndarray
    values: np.ndarray
    positions: np.ndarray
    all_item_ids: np.ndarray
    pruned_max: np.ndarray
    top_k: int = 0
    per_provider: bool = True

    @classmethod
    def empty(cls, item_ids: np.ndarray) -> CandidateTable:
        """A table with no rows for the given (sorted) item ids."""
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, z, np.zeros(0), np.zeros((0, len(FEATURES))), z, item_ids,
                   np.full(item_ids.size, -np.inf))

    def provider_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Per item (all_item_ids order): rows in the table, and whether they hold every eligible provider
        (nothing pruned, or a per-provider table not filled up to top_k: only other offers were pruned)."""
        count = np.bincount(np.searchsorted(self.all_item_ids, self.item_ids), minlength=self.all_item_ids.size)
        return count, ~np.isfinite(self.pruned_max) | (self.per_provider & (count < self.top_k))

    def __len__(self) -> int:
        return int(self.item_ids.size)

    def candidates(self, weights: Mapping[str, float] = COLD_START_WEIGHTS) -> dict[int, list[Candidate]]:
        """Candidate objects with cold-start reasons, grouped by item id in rank order."""
        parts = contributions(self.values, weights)
        out: dict[int, list[Candidate]] = {}
        for i in range(len(self)):
            contrib = {f: float(parts[i, j]) for j, f in enumerate(FEATURES)}
            reasons = tuple(Reason(f, contrib[f], float(self.values[i, j]))
                            for j, f in sorted(enumerate(FEATURES), key=lambda jf: (-parts[i, jf[0]], jf[0])))
            out.setdefault(int(self.item_ids[i]), []).append(Candidate(
                item_id=int(self.item_ids[i]), offer_id=int(self.offer_ids[i]),
                provider_id=int(self.provider_ids[i]), score=float(self.scores[i]),
                contributions=contrib, reasons=reasons))
        return out
