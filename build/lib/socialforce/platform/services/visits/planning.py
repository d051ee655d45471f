"""Visit planning (走访/上门服务): proposals inside time windows, recurrence, rescheduling, cancelling, reading.

An accepted order's visits are planned for its assignee: the order's social worker or cadre, or a volunteer signed
up for the task. The planner proposes the earliest free slots inside the household's preferred windows (the item's
WeekMask) and the assignee's own windows (a volunteer's availability; for social workers and cadres the office
hours published in their provider's active offers). Windows are local (Asia/Shanghai) time; every timestamp is
stored as naive UTC. Planning the first visit moves the order accepted -> scheduled. Nobody is double-booked
(visits/assignees.py).

Recurrence. A repeating plan is stored as an iCal RRULE (VisitSeries.rrule) expanded in local time by dateutil:
weekly, fortnightly (INTERVAL=2) and monthly. A monthly series started on the 29th-31st keeps that day and falls
back to the month's last day in shorter months (BYMONTHDAY=28..d;BYSETPOS=-1), so nobody goes a month unvisited.
The job `generate_recurring_visits` (visits/jobs.py) expands every live series EXPAND_WEEKS ahead; the
`expanded_until` watermark makes it idempotent.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from dateutil import rrule as du_rrule
from flask_babel import gettext as _

from socialforce.platform import weekmask
from socialforce.platform.extensions import db
from socialforce.platform.localtime import day_start, to_local, to_utc
from socialforce.platform.models import (
    Household,
    Order,
    OrderState,
    ServiceItem,
    User,
    Visit,
    VisitSeries,
    VisitStatus,
)
from socialforce.platform.models.orders import LIVE_STATES
from socialforce.platform.scoping import visit_filter
from socialforce.platform.services import ServiceError, audit, notices, orders
from socialforce.platform.services.visits.assignees import Assignee, assignee_windows, conflicts, lock

MIN_DURATION, MAX_DURATION = 15, 480
SLOT_STEP = timedelta(minutes=30)
PLANNING_LEAD = timedelta(hours=1)  # proposals start at least this long from now
EXPAND_WEEKS = 4
MAX_SERIES_COUNT = 104


def week_start(day: date) -> date:
    """The Monday of the week containing `day`."""
    return day - timedelta(days=day.weekday())


def _busy(assignee: Assignee, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    return [(v.starts_at, v.ends_at) for v in conflicts(assignee, start, end)]


def _check_duration(duration_minutes: int) -> timedelta:
    if not MIN_DURATION <= duration_minutes <= MAX_DURATION:
        raise ServiceError(_("A visit lasts between %(low)s and %(high)s minutes.", low=MIN_DURATION,
                             high=MAX_DURATION), status=400, field="duration")
    return timedelta(minutes=duration_minutes)


def window_starts(mask: int, start: datetime, days: int, duration: timedelta) -> Iterator[tuple[datetime, int]]:
    """(UTC start, window number) of every SLOT_STEP start inside the mask's local windows, from `start` on."""
    first_day = to_local(start).date()
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        for period, name in enumerate(weekmask.PERIODS):
            if not mask & weekmask.bit(day.weekday(), period):
                continue
            begin_hour, end_hour = weekmask.PERIOD_HOURS[name]
            slot, window_end = datetime.combine(day, time(begin_hour)), datetime.combine(day, time(end_hour))
            while slot + duration <= window_end:
                if to_utc(slot) >= start:
                    yield to_utc(slot), offset * len(weekmask.PERIODS) + period
                slot += SLOT_STEP


def propose_slots(order: Order, assignee: Assignee, now: datetime, duration_minutes: int = 60, count: int = 5,
                  days: int = 28) -> list[datetime]:
    """The earliest free starts (UTC), one per window, inside the household's and the assignee's windows."""
    duration = _check_duration(duration_minutes)
    mask = order.item.windows & assignee_windows(assignee)
    start = now + PLANNING_LEAD
    busy = _busy(assignee, start, start + timedelta(days=days + 1))
    found: list[datetime] = []
    used_windows: set[int] = set()
    for slot, window in window_starts(mask, start, days, duration):
        if window in used_windows:
            continue
        if not any(b_start < slot + duration and b_end > slot for b_start, b_end in busy):
            found.append(slot)
            used_windows.add(window)
            if len(found) == count:
                break
    return found


def build_rrule(repeat: str, first_local: datetime, count: int | None = None) -> str:
    """An RRULE for weekly, fortnightly or monthly repetition from a local start (monthly keeps month ends)."""
    if repeat == "weekly":
        rule = "FREQ=WEEKLY;INTERVAL=1"
    elif repeat == "fortnightly":
        rule = "FREQ=WEEKLY;INTERVAL=2"
    elif repeat == "monthly":
        day = first_local.day
        rule = ("FREQ=MONTHLY;BYMONTHDAY=" + ",".join(str(d) for d in range(28, day + 1)) + ";BYSETPOS=-1"
                if day > 28 else f"FREQ=MONTHLY;BYMONTHDAY={day}")
    else:
        raise ServiceError(_("Choose weekly, fortnightly or monthly."), status=400, field="repeat")
    if count is not None:
        if not 2 <= count <= MAX_SERIES_COUNT:
            raise ServiceError(_("A series has between 2 and %(n)s visits.", n=MAX_SERIES_COUNT), status=400,
                               field="count")
        rule += f";COUNT={count}"
    return rule


def occurrences(rule: str, first_utc: datetime, after: datetime | None, until: datetime) -> list[datetime]:
    """The series' starts (UTC) in (after, until], expanded in local time from the first start."""
    first = to_local(first_utc)
    low = to_local(after) if after is not None else first - timedelta(seconds=1)
    starts = du_rrule.rrulestr(rule, dtstart=first).between(low, to_local(until), inc=True)
    return [to_utc(s) for s in starts if s > low]


def series_assignee(series: VisitSeries) -> Assignee | None:
    latest = db.session.scalar(sa.select(Visit).where(Visit.series_id == series.id).order_by(Visit.starts_at.desc())
                               .limit(1))
    return Assignee.of(latest) if latest is not None else None


def expand_series(series: VisitSeries, assignee: Assignee, until: datetime, strict: bool) -> tuple[int, int]:
    """Create the series' visits up to `until` (assignee locked by the caller); returns (created, skipped)."""
    duration = timedelta(minutes=series.duration_minutes)
    created = skipped = 0
    for start in occurrences(series.rrule, series.starts_at, series.expanded_until, until):
        if conflicts(assignee, start, start + duration):
            if strict:
                raise ServiceError(_("%(name)s already has a visit at %(when)s.", name=assignee.name(),
                                     when=to_local(start).strftime("%Y-%m-%d %H:%M")), field="starts_at")
            skipped += 1
            continue
        db.session.add(Visit(order_id=series.order_id, series_id=series.id, starts_at=start,
                             ends_at=start + duration, **assignee.columns()))
        db.session.flush()
        created += 1
    moved = db.session.execute(
        sa.update(VisitSeries).where(VisitSeries.id == series.id,
                                     VisitSeries.expanded_until.is_(None) if series.expanded_until is None
                                     else VisitSeries.expanded_until == series.expanded_until)
        .values(expanded_until=until).execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        raise ServiceError(_("This series was changed by someone else just now. Please reload and try again."))
    db.session.refresh(series)
    return created, skipped


def _check_plannable(order: Order) -> None:
    if OrderState(order.state) not in LIVE_STATES:
        raise ServiceError(_("Visits can be planned only for accepted orders that are not finished."))


def mark_scheduled(order: Order, actor: User | None, now: datetime) -> None:
    db.session.refresh(order)
    if order.state == OrderState.accepted:
        orders.transition(order, OrderState.scheduled, actor, reason="first visit planned", now=now)


def plan_visit(order: Order, assignee: Assignee, starts_at: datetime, duration_minutes: int, actor: User | None,
               now: datetime, repeat: str | None = None, count: int | None = None) -> Visit:
    """Plan a visit (or a repeating series) for the assignee; refuses past times and double-booking."""
    _check_plannable(order)
    duration = _check_duration(duration_minutes)
    if starts_at <= now:
        raise ServiceError(_("Choose a time in the future."), status=400, field="starts_at")
    lock(assignee)
    db.session.refresh(order)
    _check_plannable(order)
    if repeat:
        rule = build_rrule(repeat, to_local(starts_at), count)
        series = VisitSeries(order_id=order.id, rrule=rule, starts_at=starts_at, duration_minutes=duration_minutes)
        db.session.add(series)
        db.session.flush()
        expand_series(series, assignee, max(starts_at, now + timedelta(weeks=EXPAND_WEEKS)), strict=True)
        visit = db.session.scalar(sa.select(Visit).where(Visit.series_id == series.id).order_by(Visit.starts_at)
                                  .limit(1))
        audit.record("visit_series_planned", actor, "visit_series", series.id, order_id=order.id, rrule=rule)
    else:
        clash = conflicts(assignee, starts_at, starts_at + duration)
        if clash:
            raise ServiceError(_("%(name)s already has a visit at %(when)s.", name=assignee.name(),
                                 when=to_local(clash[0].starts_at).strftime("%Y-%m-%d %H:%M")), field="starts_at")
        visit = Visit(order_id=order.id, starts_at=starts_at, ends_at=starts_at + duration, **assignee.columns())
        db.session.add(visit)
        db.session.flush()
    audit.record("visit_planned", actor, "visit", visit.id, order_id=order.id)
    mark_scheduled(order, actor, now)
    notices.visit_event(visit, "visit_scheduled", actor)
    return visit


def check_reason(reason: str | None) -> str:
    """A stated reason, stripped: at least 2 characters, cut to the 200 a reason column holds."""
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise ServiceError(_("Please give a reason."), status=400, field="reason")
    return reason[:200]


def _check_status(visit: Visit, *allowed: VisitStatus) -> None:
    db.session.refresh(visit)
    if VisitStatus(visit.status) not in allowed:
        raise ServiceError(_("This visit can no longer be changed."))


def reschedule(visit: Visit, starts_at: datetime, duration_minutes: int | None, reason: str, actor: User,
               now: datetime) -> Visit:
    """Move a planned visit to another time, with a reason; refuses past times and double-booking."""
    reason = check_reason(reason)
    duration = _check_duration(duration_minutes) if duration_minutes else visit.ends_at - visit.starts_at
    if starts_at <= now:
        raise ServiceError(_("Choose a time in the future."), status=400, field="starts_at")
    assignee = Assignee.of(visit)
    lock(assignee)
    _check_status(visit, VisitStatus.planned)
    clash = conflicts(assignee, starts_at, starts_at + duration, exclude_id=visit.id)
    if clash:
        raise ServiceError(_("%(name)s already has a visit at %(when)s.", name=assignee.name(),
                             when=to_local(clash[0].starts_at).strftime("%Y-%m-%d %H:%M")), field="starts_at")
    old = visit.starts_at
    visit.starts_at, visit.ends_at, visit.reminded_at = starts_at, starts_at + duration, None
    db.session.flush()
    audit.record("visit_rescheduled", actor, "visit", visit.id, reason=reason, old=old.isoformat(),
                 new=starts_at.isoformat())
    notices.visit_event(visit, "visit_rescheduled", actor)
    return visit


def cancel(visit: Visit, reason: str, actor: User, now: datetime, following: bool = False) -> int:
    """Cancel a planned visit with a reason (`following`: also the rest of its series); returns visits cancelled."""
    reason = check_reason(reason)
    _check_status(visit, VisitStatus.planned)
    targets = [visit.id]
    if following and visit.series_id is not None:
        series = db.session.get(VisitSeries, visit.series_id)
        end_rule = ";".join(p for p in series.rrule.split(";") if not p.startswith(("COUNT=", "UNTIL=")))
        series.rrule = end_rule + ";UNTIL=" + (to_local(visit.starts_at) - timedelta(seconds=1)).strftime(
            "%Y%m%dT%H%M%S")
        targets = list(db.session.scalars(sa.select(Visit.id).where(
            Visit.series_id == series.id, Visit.status == VisitStatus.planned, Visit.starts_at >= visit.starts_at)))
    done = db.session.execute(
        sa.update(Visit).where(Visit.id.in_(targets), Visit.status == VisitStatus.planned)
        .values(status=VisitStatus.cancelled, cancel_reason=reason).execution_options(synchronize_session=False))
    db.session.refresh(visit)
    audit.record("visit_cancelled", actor, "visit", visit.id, reason=reason, count=done.rowcount)
    if done.rowcount:
        notices.visit_event(visit, "visit_cancelled", actor)
    return done.rowcount


def scoped_visits(user: User) -> sa.Select:
    """Visits in the user's scope (joined to their order, item and household)."""
    return (sa.select(Visit).join(Order, Order.id == Visit.order_id).join(ServiceItem)
            .join(Household, Household.id == ServiceItem.household_id).where(visit_filter(user)))


def get_visit(visit_id: int, user: User) -> Visit | None:
    """One visit in the user's scope, or None."""
    return db.session.scalar(scoped_visits(user).where(Visit.id == visit_id))


def week(assignee: Assignee, monday: date) -> list[Visit]:
    """The assignee's visits (not cancelled) in the local week starting `monday`."""
    start = day_start(monday)
    return list(db.session.scalars(
        sa.select(Visit).where(assignee.visit_filter(), Visit.status != VisitStatus.cancelled,
                               Visit.starts_at >= start, Visit.starts_at < start + timedelta(days=7))
        .order_by(Visit.starts_at)))


def order_visits(order: Order) -> list[Visit]:
    """An order's visits in time order."""
    return list(db.session.scalars(sa.select(Visit).where(Visit.order_id == order.id).order_by(Visit.starts_at)))
