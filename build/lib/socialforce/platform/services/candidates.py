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
    left = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Contract.purchased_hours - Contract.used_hours), 0.0))
        .join(Agency).where(Agency.provider_id == agency_provider_id, Contract.starts_on <= on.date(),
                            Contract.ends_on >= on.date())
    )
    return float(left or 0.0)


def excluded_providers(item_id: int) -> set[int]:
    """Providers that declined or let this item expire before (never dispatched to again)."""
    return set(db.session.scalars(
        sa.select(Order.provider_id).where(Order.item_id == item_id, Order.state.in_(FAILED_STATES),
                                           Order.provider_id.is_not(None))
    ))
