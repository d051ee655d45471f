"""The engine's plain input and output types (frozen dataclasses); the platform maps ORM rows to these.

They have slots (no per-instance __dict__): a county's problem is some 600k of these objects at scale 1.0, and
slots save about 100 bytes each. Pickles of the older, dict-based classes do not load into them."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

EMPTY: Mapping = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Item:
    """One line of a household's service list, waiting for a provider.

    `windows` is a 21-bit week mask (bit day*3 + period; periods morning/afternoon/evening), `priority`
    is the household's vulnerability in [0, 1], `slots_needed` is k for a volunteer task needing k people.
    Partial policy: a task needing a team (k > 1) is served all-or-nothing (k providers or none) unless
    staff allow fewer (`partial_ok`: then it may be served pro rata, by 1..k providers).
    """

    id: int
    household_id: int
    town_id: int
    lat: float
    lon: float
    category: str
    description: str
    priority: float
    minor: bool
    windows: int
    slots_needed: int = 1
    partial_ok: bool = False

    @property
    def needs_whole_team(self) -> bool:
        """True when serving the item by fewer than `slots_needed` providers is not allowed."""
        return self.slots_needed > 1 and not self.partial_ok


@dataclass(frozen=True, slots=True)
class Offer:
    """Capacity a provider publishes: categories, towns (plus a travel radius), week windows, slots left.

    `slots_left` is the number of slots per week still free; an item consumes one slot of each provider
    assigned to it. `qualifications` are codes the provider holds (e.g. "licensed_social_worker").
    """

    id: int
    provider_id: int
    provider_kind: str
    categories: frozenset[str]
    towns: frozenset[int]
    lat: float
    lon: float
    radius_km: float
    qualifications: frozenset[str]
    background_checked: bool
    windows: int
    slots_left: int
    valid_from: date
    valid_to: date
    description: str = ""


@dataclass(frozen=True, slots=True)
class TrackRecord:
    """A provider's past orders: accepted, declined (incl. expired), completed, satisfaction ratings 1-5."""

    provider_id: int
    accepted: int = 0
    declined: int = 0
    completed: int = 0
    satisfaction_sum: float = 0.0
    satisfaction_count: int = 0


@dataclass(frozen=True, slots=True)
class Context:
    """Everything besides items and offers that matching depends on, as of `on_date`.

    pairings / served_before: (provider_id, household_id); exclusions: (item_id, provider_id) for a
    provider that declined or let the item expire; household_blocks: (household_id, provider_id);
    load: orders a provider currently holds this week; track_records: by provider_id.
    """

    on_date: date
    pairings: frozenset[tuple[int, int]] = frozenset()
    served_before: frozenset[tuple[int, int]] = frozenset()
    exclusions: frozenset[tuple[int, int]] = frozenset()
    household_blocks: frozenset[tuple[int, int]] = frozenset()
    load: Mapping[int, int] = field(default_factory=lambda: EMPTY)
    track_records: Mapping[int, TrackRecord] = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True, slots=True)
class Reason:
    """One soft feature's part in a score: its stable code, its contribution to the score, its raw value."""

    feature: str
    contribution: float
    value: float


@dataclass(frozen=True, slots=True)
class Candidate:
    """A provider (through one of its offers) proposed for an item, with the score explained."""

    item_id: int
    offer_id: int
    provider_id: int
    score: float
    contributions: Mapping[str, float]
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class Assignment:
    """Who serves what: (item_id, offer_id) pairs sorted by ids, and the priority-weighted utility."""

    pairs: tuple[tuple[int, int], ...]
    utility: float
    method: str = "flow"
