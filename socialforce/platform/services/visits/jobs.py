"""Visit jobs for the scheduler (each `fn(now) -> dict`, idempotent): series expansion, reminders, missed visits.

send_reminders: 24 h ahead, once per visit via `reminded_at`; mark_missed: not checked in 2 h after the start.
The pairing quota's job is quotas.generate_quota_visits.

Each series or visit is worked on and committed in a transaction of its own (`one_by_one`), so a long run never
holds the rows people are editing meanwhile (a visit's notes, an assignee's bookings) until its end: the first
reminder run on a seeded county held thousands of visits for minutes, and saving a visit's notes waited past the
web timeout. A run stopped halfway leaves each unit done or not; the conditions each unit checks make the next run
finish the rest.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

import sqlalchemy as sa

from socialforce.platform import links
from socialforce.platform.extensions import db
from socialforce.platform.models import Order, Visit, VisitSeries, VisitStatus
from socialforce.platform.models.orders import LIVE_STATES
from socialforce.platform.services import audit, notices, notifications
from socialforce.platform.services.visits.assignees import Assignee, lock
from socialforce.platform.services.visits.planning import EXPAND_WEEKS, expand_series, series_assignee
from socialforce.platform.transactions import one_by_one

MISSED_AFTER = timedelta(hours=2)
REMIND_AHEAD = timedelta(hours=24)


def generate_recurring_visits(now: datetime) -> dict:
    """Expand every live series EXPAND_WEEKS ahead (idempotent: the `expanded_until` watermark)."""
    until = now + timedelta(weeks=EXPAND_WEEKS)
    series_ids = db.session.scalars(
        sa.select(VisitSeries.id).join(Order, Order.id == VisitSeries.order_id)
        .where(Order.state.in_(LIVE_STATES),
               sa.or_(VisitSeries.expanded_until.is_(None), VisitSeries.expanded_until < until))
        .order_by(VisitSeries.id)).all()
    done = one_by_one(partial(_expand, until=until), series_ids)
    return {"series": len(series_ids), "created": sum(made for made, _ in done),
            "skipped_conflicts": sum(clashed for _, clashed in done)}


def _expand(series_id: int, *, until: datetime) -> tuple[int, int]:
    series = db.session.get(VisitSeries, series_id)
    assignee = series_assignee(series)
    if assignee is None:
        return 0, 0
    lock(assignee)
    db.session.refresh(series)
    return expand_series(series, assignee, until, strict=False)


def _visit_params(visit: Visit) -> dict:
    return {"visit_id": visit.id, "order_id": visit.order_id, "category": visit.order.item.category.code,
            "when": visit.starts_at.isoformat(timespec="minutes")}


def send_reminders(now: datetime) -> dict:
    """Remind assignees of visits starting within 24 hours, once per visit (`reminded_at`)."""
    due = db.session.scalars(
        sa.select(Visit.id).where(Visit.status == VisitStatus.planned, Visit.reminded_at.is_(None),
                                  Visit.starts_at >= now, Visit.starts_at < now + REMIND_AHEAD)
        .order_by(Visit.starts_at, Visit.id)).all()
    return {"reminded": sum(one_by_one(partial(_remind, now=now), due))}


def _remind(visit_id: int, *, now: datetime) -> bool:
    claimed = db.session.execute(
        sa.update(Visit).where(Visit.id == visit_id, Visit.reminded_at.is_(None))
        .values(reminded_at=now).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        return False
    visit = db.session.get(Visit, visit_id, populate_existing=True)
    notifications.notify(Assignee.of(visit).user_ids(), "visit_reminder", _visit_params(visit),
                         links.to("assignee_visit", visit))
    return True


def mark_missed(now: datetime) -> dict:
    """Mark planned visits not checked in 2 hours after their start as missed; tell the town's staff and the
    village's assistants."""
    late = db.session.scalars(
        sa.select(Visit.id).where(Visit.status == VisitStatus.planned, Visit.starts_at <= now - MISSED_AFTER)
        .order_by(Visit.starts_at, Visit.id)).all()
    return {"missed": sum(one_by_one(_mark_missed, late))}


def _mark_missed(visit_id: int) -> bool:
    done = db.session.execute(
        sa.update(Visit).where(Visit.id == visit_id, Visit.status == VisitStatus.planned)
        .values(status=VisitStatus.missed).execution_options(synchronize_session=False))
    if done.rowcount != 1:
        return False
    visit = db.session.get(Visit, visit_id, populate_existing=True)
    audit.record("visit_missed", None, "visit", visit.id, order_id=visit.order_id)
    notices.visit_missed(visit, _visit_params(visit))
    return True
