"""Provider track records computed by SQL aggregation over orders, order events, visits and outcomes.

Nothing is copied: the matching bridge and the ranker's training data read these figures from the same rows the
work chain writes, so they cannot drift. Agencies and pairing units are counted over the orders dispatched to them
(standing pairing orders, created by the platform, do not count as accepted); a volunteer's "accepted" counts its
task sign-ups, and its completed orders are those where it completed a visit. Satisfaction is the household's own,
from the follow-up (services/feedback.py); the provider's assessment of its own service never counts.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import (
    HouseholdFeedback,
    Order,
    OrderEvent,
    OrderState,
    TaskSignup,
    Visit,
    VisitStatus,
    Volunteer,
)
from socialforce.platform.models.orders import DONE_STATES, FAILED_STATES
from socialforce.platform.services.quotas import STANDING_REASON


@dataclass(frozen=True)
class TrackRecord:
    """A provider's counts: responses to dispatch, completions, and household satisfaction (sum and count)."""

    accepted: int = 0
    declined: int = 0
    expired: int = 0
    completed: int = 0
    satisfaction_sum: int = 0
    satisfaction_count: int = 0

    @property
    def acceptance_rate(self) -> float | None:
        """Accepted over answered-or-expired orders, or None without any."""
        asked = self.accepted + self.declined + self.expired
        return self.accepted / asked if asked else None

    @property
    def completion_rate(self) -> float | None:
        """Completed over accepted orders, or None without any."""
        return min(1.0, self.completed / self.accepted) if self.accepted else None

    @property
    def mean_satisfaction(self) -> float | None:
        """Mean rating 1-5, or None without ratings."""
        return self.satisfaction_sum / self.satisfaction_count if self.satisfaction_count else None


def _restrict(column, provider_ids: list[int] | None):
    return column.in_(provider_ids) if provider_ids is not None else sa.true()


def _links(provider_ids: list[int] | None) -> sa.Subquery:
    """(provider_id, order_id): orders dispatched to agencies/units, and orders where a volunteer completed a visit."""
    direct = sa.select(Order.provider_id.label("provider_id"), Order.id.label("order_id")).where(
        Order.provider_id.is_not(None), _restrict(Order.provider_id, provider_ids))
    volunteer = (sa.select(Volunteer.provider_id.label("provider_id"), Visit.order_id.label("order_id"))
                 .join(Volunteer, Volunteer.id == Visit.volunteer_id)
                 .where(Visit.status == VisitStatus.completed, _restrict(Volunteer.provider_id, provider_ids))
                 .distinct())
    return sa.union(direct, volunteer).subquery()


def provider_stats(provider_ids: Iterable[int] | None = None) -> dict[int, TrackRecord]:
    """Track records by provider id (every requested id present; without ids, every provider with history)."""
    ids = sorted(set(provider_ids)) if provider_ids is not None else None
    counts: dict[int, dict[str, int]] = {pid: {} for pid in ids or ()}

    def put(rows, key: str) -> None:
        for pid, value in rows:
            counts.setdefault(pid, {})[key] = int(value or 0)

    links = _links(ids)
    put(db.session.execute(
        sa.select(Order.provider_id, sa.func.count(sa.distinct(Order.id))).join(OrderEvent)
        .where(Order.provider_id.is_not(None), _restrict(Order.provider_id, ids),
               OrderEvent.to_state == OrderState.accepted.value,
               sa.func.coalesce(OrderEvent.reason, "") != STANDING_REASON)
        .group_by(Order.provider_id)), "accepted")
    put(db.session.execute(
        sa.select(Volunteer.provider_id, sa.func.count(TaskSignup.id)).join(Volunteer)
        .where(_restrict(Volunteer.provider_id, ids)).group_by(Volunteer.provider_id)), "accepted_tasks")
    for state in FAILED_STATES:
        put(db.session.execute(
            sa.select(Order.provider_id, sa.func.count(Order.id))
            .where(Order.state == state, Order.provider_id.is_not(None), _restrict(Order.provider_id, ids))
            .group_by(Order.provider_id)), state.value)
    put(db.session.execute(
        sa.select(links.c.provider_id, sa.func.count(sa.distinct(links.c.order_id)))
        .join(Order, Order.id == links.c.order_id).where(Order.state.in_(DONE_STATES))
        .group_by(links.c.provider_id)), "completed")
    for pid, total, n in db.session.execute(
        sa.select(links.c.provider_id, sa.func.sum(HouseholdFeedback.satisfaction), sa.func.count(HouseholdFeedback.id))
        .join(HouseholdFeedback, HouseholdFeedback.order_id == links.c.order_id).group_by(links.c.provider_id)
    ):
        counts.setdefault(pid, {}).update(satisfaction_sum=int(total or 0), satisfaction_count=int(n))
    return {
        pid: TrackRecord(accepted=c.get("accepted", 0) + c.get("accepted_tasks", 0), declined=c.get("declined", 0),
                         expired=c.get("expired", 0), completed=c.get("completed", 0),
                         satisfaction_sum=c.get("satisfaction_sum", 0),
                         satisfaction_count=c.get("satisfaction_count", 0))
        for pid, c in sorted(counts.items())
    }
