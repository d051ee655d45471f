"""Who may get an item: the ranked choice kept on an order, agencies' contract hours, providers already failed.

Shared by dispatch (which sends orders) and matching (which ranks candidates), so neither imports the other
for these.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import Agency, Contract, Order
from socialforce.platform.models.orders import FAILED_STATES


@dataclass(frozen=True)
class Choice:
    """A provider chosen for an item, with the ranking that chose it (kept on the order for learning)."""

    provider_id: int | None  # None: a volunteer task
    score: float | None = None
    rank: int | None = None
    reasons: dict | None = field(default=None)
    model_version: str | None = None


def contract_hours_left(agency_provider_id: int, on: datetime) -> float:
    """Purchased minus used hours over the agency's contracts in force on a date."""
    return contract_hours_left_of([agency_provider_id], on)[agency_provider_id]


def contract_hours_left_of(agency_provider_ids: list[int], on: datetime) -> dict[int, float]:
    """`contract_hours_left` of each agency, in one query (0 for an agency without a contract in force)."""
    left = dict(db.session.execute(
        sa.select(Agency.provider_id, sa.func.sum(Contract.purchased_hours - Contract.used_hours))
        .join(Agency).where(Agency.provider_id.in_(agency_provider_ids), Contract.starts_on <= on.date(),
                            Contract.ends_on >= on.date())
        .group_by(Agency.provider_id)
    ).all())
    return {pid: float(left.get(pid) or 0.0) for pid in agency_provider_ids}


def excluded_providers(item_id: int) -> set[int]:
    """Providers that declined or let this item expire before (never dispatched to again)."""
    return excluded_providers_of([item_id])[item_id]


def excluded_providers_of(item_ids: list[int]) -> dict[int, set[int]]:
    """`excluded_providers` of each item, in one query."""
    excluded: dict[int, set[int]] = {item_id: set() for item_id in item_ids}
    for item_id, provider_id in db.session.execute(
            sa.select(Order.item_id, Order.provider_id).where(Order.item_id.in_(item_ids),
                                                              Order.state.in_(FAILED_STATES),
                                                              Order.provider_id.is_not(None))):
        excluded[item_id].add(provider_id)
    return excluded
