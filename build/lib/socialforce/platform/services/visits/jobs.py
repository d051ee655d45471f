"""Visit jobs for the scheduler (each `fn(now) -> dict`, idempotent): series expansion, reminders, missed visits.

send_reminders: 24 h ahead, once per visit via `reminded_at`; mark_missed: not checked in 2 h after the start.
The pairing quota's job is quotas.generate_quota_visits.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from socialforce.platform import links
from socialforce.platform.extensions import db
from socialforce.platform.models import Order, Visit, VisitSeries, VisitStatus
from socialforce.platform.models.orders import LIVE_STATES
from socialforce.platform.services import audit, notices, notifications
from socialforce.platform.services.visits.assignees import Assignee, lock
from socialforce.platform.services.visits.planning import EXPAND_WEEKS, expand_series, series_assignee

MISSED_AFTER = timedelta(hours=2)
REMIND_AHEAD = timedelta(hours=24)


def generate_recurring_visits(now: datetime) -> dict:
    """Expand every live series EXPAND_WEEKS ahead (idempotent: the `expanded_until` watermark)."""
    until = now + timedelta(weeks=EXPAND_WEEKS)
    series_list = db.session.scalars(
        sa.select(VisitSeries).join(Order, Order.id == VisitSeries.order_id)
        .where(Order.state.in_(LIVE_STATES),
               sa.or_(VisitSeries.expanded_until.is_(None), VisitSeries.expanded_until < until))
        .order_by(VisitSeries.id)).all()
    created = skipped = 0
    for series in series_list:
        assignee = series_assignee(series)
        if assignee is None:
            continue
        lock(assignee)
        db.session.refresh(series)
        made, clashed = expand_series(series, assignee, until, strict=False)
        created, skipped = created + made, skipped + clashed
    return {"series": len(series_list), "created": created, "skipped_conflicts": skipped}


def _visit_params(visit: Visit) -> dict:
    return {"visit_id": visit.id, "order_id": visit.order_id, "category": visit.order.item.category.code,
            "when": visit.starts_at.isoformat(timespec="minutes")}


def send_reminders(now: datetime) -> dict:
    """Remind assignees of visits starting within 24 hours, once per visit (`reminded_at`)."""
    due = db.session.scalars(
        sa.select(Visit).where(Visit.status == VisitStatus.planned, Visit.reminded_at.is_(None),
                               Visit.starts_at >= now, Visit.starts_at < now + REMIND_AHEAD)
        .order_by(Visit.starts_at, Visit.id)).all()
    sent = 0
    for visit in due:
        claimed = db.session.execute(
            sa.update(Visit).where(Visit.id == visit.id, Visit.reminded_at.is_(None))
            .values(reminded_at=now).execution_options(synchronize_session=False))
        if claimed.rowcount != 1:
            continue
        db.session.refresh(visit)
        notifications.notify(Assignee.of(visit).user_ids(), "visit_reminder", _visit_params(visit),
                                links.to("assignee_visit", visit))
        sent += 1
    return {"reminded": sent}


def mark_missed(now: datetime) -> dict:
    """Mark planned visits not checked in 2 hours after their start as missed; tell the town's staff and the
    village's assistants."""
    late = db.session.scalars(
        sa.select(Visit).where(Visit.status == VisitStatus.planned, Visit.starts_at <= now - MISSED_AFTER)
        .order_by(Visit.starts_at, Visit.id)).all()
    missed = 0
    for visit in late:
        done = db.session.execute(
            sa.update(Visit).where(Visit.id == visit.id, Visit.status == VisitStatus.planned)
            .values(status=VisitStatus.missed).execution_options(synchronize_session=False))
        if done.rowcount != 1:
            continue
        db.session.refresh(visit)
        audit.record("visit_missed", None, "visit", visit.id, order_id=visit.order_id)
        notices.visit_missed(visit, _visit_params(visit))
        missed += 1
    return {"missed": missed}
